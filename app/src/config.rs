//! Configuration: the seed's environment variables, each also a flag (a flag beats its variable).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use mysql_async::{Opts, UrlError};

use crate::credential::AdminCredential;
use crate::csrf::CsrfKey;

/// Where the database is and how to reach it, resolved from `DATABASE_URL` or the `MYSQL_*`
/// variables. Never printed with its password (see [`DbTarget::describe`]).
#[derive(Clone)]
pub enum DbTarget {
    Url(String),
    Parts {
        host: String,
        port: u16,
        user: String,
        password: Option<String>,
        database: String,
    },
}

impl std::fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl DbTarget {
    /// `user@host:port/database`, without the password, for logs and error messages.
    pub fn describe(&self) -> String {
        match self {
            DbTarget::Url(url) => redact_url(url),
            DbTarget::Parts {
                host,
                port,
                user,
                database,
                ..
            } => format!("mysql://{user}@{host}:{port}/{database}"),
        }
    }
}

/// `mysql://user:secret@host/db` becomes `mysql://user@host/db`; anything unparsable becomes a
/// fixed text. A password may hold `/`, `?`, `#` or `@` unencoded, so the user information ends
/// at the last `@` (host and database names have none), and only the user name before it is kept.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsable DATABASE_URL>".into();
    };
    let (user, location) = match rest.rsplit_once('@') {
        Some((userinfo, location)) => (userinfo.split(':').next(), location),
        None => (None, rest),
    };
    let location = location.split(['?', '#']).next().unwrap_or("");
    match user {
        Some(user) => format!("{scheme}://{user}@{location}"),
        None => format!("{scheme}://{location}"),
    }
}

/// Parses `DATABASE_URL`, with an error that names what is wrong but never repeats the URL's
/// text: mysql_async's own messages quote parameters, and a password holding an unencoded `?`
/// turns its tail into "parameters".
pub fn parse_database_url(url: &str) -> Result<Opts, String> {
    Opts::from_url(url).map_err(|err| {
        let reason = match err {
            UrlError::Invalid => "it is invalid or incomplete".to_owned(),
            UrlError::Parse(parse) => format!("it does not parse ({parse})"),
            UrlError::UnsupportedScheme { .. } => "its scheme is not mysql://".to_owned(),
            UrlError::InvalidPoolConstraints { min, max } => {
                format!("pool_min ({min}) is over pool_max ({max})")
            }
            UrlError::UnknownParameter { .. }
            | UrlError::InvalidParamValue { .. }
            | UrlError::FeatureRequired { .. } => "a parameter after `?` is unknown or invalid \
                 (a password with special characters must be percent-encoded)"
                .to_owned(),
        };
        format!(
            "DATABASE_URL ({}) is not a valid mysql:// URL: {reason}",
            redact_url(url)
        )
    })
}

/// Everything the app needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen_addr: SocketAddr,
    /// Shown on the home page so load balancing is visible; also the `app` label of `app_info`.
    pub app_name: String,
    pub db: DbTarget,
    pub pool_size: usize,
    /// Bound on every database call (connect, query), so a blackholed server cannot hang a request.
    pub db_timeout: Duration,
    /// After SIGTERM, how long `/readyz` says 503 while requests are still served, so a load
    /// balancer stops sending new ones before the listener closes.
    pub drain_delay: Duration,
    /// How long in-flight requests may take to finish after the listener closes.
    pub shutdown_timeout: Duration,
    /// The key that signs CSRF tokens, shared by the instances behind one load balancer;
    /// `None` draws one for this process at start.
    pub csrf_key: Option<CsrfKey>,
    /// What adding and deleting users need; `None` leaves them open to anyone.
    pub admin: Option<AdminCredential>,
}

impl Config {
    /// Defaults for everything but where to listen and which database (tests, embedding).
    pub fn new(listen_addr: SocketAddr, database_url: impl Into<String>) -> Config {
        Config {
            listen_addr,
            app_name: default_app_name(),
            db: DbTarget::Url(database_url.into()),
            pool_size: DEFAULT_POOL_SIZE,
            db_timeout: Duration::from_secs(5),
            drain_delay: Duration::ZERO,
            shutdown_timeout: Duration::from_secs(20),
            csrf_key: None,
            admin: None,
        }
    }
}

pub const DEFAULT_POOL_SIZE: usize = 10;

fn default_app_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "octo-app".into())
}

/// The command line; every flag can also come from the environment variable named beside it.
#[derive(Debug, Parser)]
#[command(
    name = "octo-app",
    version,
    about = "The user-management web app: users in MySQL/MariaDB, pages, a JSON API, Prometheus metrics"
)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:5000")]
    pub listen_addr: SocketAddr,

    /// Instance name shown on the home page (default: the host name).
    #[arg(long, env = "APP_NAME")]
    pub app_name: Option<String>,

    /// mysql://user:password@host:port/database; when set, the MYSQL_* settings are ignored.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Database host.
    #[arg(long, env = "MYSQL_HOST", default_value = "localhost")]
    pub mysql_host: String,

    /// Database port.
    #[arg(long, env = "MYSQL_PORT", default_value_t = 3306)]
    pub mysql_port: u16,

    /// Database user.
    #[arg(long, env = "MYSQL_USER", default_value = "root")]
    pub mysql_user: String,

    /// Database password (prefer the variable or --mysql-password-file: flags show in `ps`).
    #[arg(long, env = "MYSQL_PASSWORD", hide_env_values = true)]
    pub mysql_password: Option<String>,

    /// File holding the database password (Docker and Kubernetes secrets); trailing newline ignored.
    #[arg(long, env = "MYSQL_PASSWORD_FILE", conflicts_with = "mysql_password")]
    pub mysql_password_file: Option<PathBuf>,

    /// Database name.
    #[arg(long, env = "MYSQL_DATABASE", default_value = "octo")]
    pub mysql_database: String,

    /// Maximum database connections this instance opens.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = DEFAULT_POOL_SIZE as u16,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub db_pool_size: u16,

    /// Time limit on each database call (e.g. 5s, 500ms).
    #[arg(long, env = "DB_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub db_timeout: Duration,

    /// After SIGTERM, keep serving this long with /readyz answering 503 (e.g. 5s in Kubernetes).
    #[arg(long, env = "DRAIN_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub drain_delay: Duration,

    /// After the listener closes, how long in-flight requests may take before the process exits.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// File with the key that signs CSRF tokens (at least 32 bytes; Docker and Kubernetes
    /// secrets). Every instance behind one load balancer needs the same file; without one,
    /// each process draws its own key and refuses the others' forms.
    #[arg(long, env = "CSRF_KEY_FILE")]
    pub csrf_key_file: Option<PathBuf>,

    /// User name that adding and deleting users need (HTTP Basic), with --admin-password-file.
    #[arg(long, env = "ADMIN_USER", default_value = "admin")]
    pub admin_user: String,

    /// File with the admin password; trailing newline ignored. Without it, anyone who reaches
    /// the app can add and delete users.
    #[arg(long, env = "ADMIN_PASSWORD_FILE")]
    pub admin_password_file: Option<PathBuf>,

    /// Log level: error, warn, info, debug or trace.
    #[arg(long, env = "LOG_LEVEL", default_value = "info",
          value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: String,

    /// Log format: text or json.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

impl Cli {
    /// Resolves the command line into a [`Config`]; reads the password file if one is given.
    pub fn into_config(self) -> Result<Config, String> {
        let db = match self.database_url {
            Some(url) if !url.trim().is_empty() => DbTarget::Url(url),
            _ => {
                let password = match (&self.mysql_password, &self.mysql_password_file) {
                    (_, Some(path)) => Some(
                        std::fs::read_to_string(path)
                            .map_err(|err| {
                                format!("reading MYSQL_PASSWORD_FILE {}: {err}", path.display())
                            })?
                            .trim_end_matches(['\r', '\n'])
                            .to_owned(),
                    ),
                    (Some(password), None) => Some(password.clone()),
                    (None, None) => None,
                };
                DbTarget::Parts {
                    host: self.mysql_host,
                    port: self.mysql_port,
                    user: self.mysql_user,
                    password,
                    database: self.mysql_database,
                }
            }
        };
        let app_name = self
            .app_name
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(default_app_name);
        let csrf_key = self
            .csrf_key_file
            .as_deref()
            .map(CsrfKey::from_file)
            .transpose()
            .map_err(|err| format!("--csrf-key-file (CSRF_KEY_FILE): {err}"))?;
        let admin = self
            .admin_password_file
            .as_deref()
            .map(|path| AdminCredential::from_file(&self.admin_user, path))
            .transpose()
            .map_err(|err| format!("--admin-password-file (ADMIN_PASSWORD_FILE): {err}"))?;
        Ok(Config {
            listen_addr: self.listen_addr,
            app_name,
            db,
            pool_size: usize::from(self.db_pool_size),
            db_timeout: self.db_timeout,
            drain_delay: self.drain_delay,
            shutdown_timeout: self.shutdown_timeout,
            csrf_key,
            admin,
        })
    }
}

/// `500ms`, `5s`, `2m`, `1h`, or a plain number of seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (examples: 500ms, 5s, 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}` (use ms, s, m or h)"
            ));
        }
    };
    if !seconds.is_finite() || !(0.0..=86_400.0).contains(&seconds) {
        return Err(format!("`{text}` is out of range (0 to 24h)"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999h").is_err());
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("mysql://app:s3cr3t@db:3306/octo?pool_max=3"),
            "mysql://app@db:3306/octo"
        );
        assert_eq!(
            redact_url("mysql://app:p@ss@word@db/octo"),
            "mysql://app@db/octo"
        );
        assert_eq!(redact_url("mysql://db/octo"), "mysql://db/octo");
        assert_eq!(redact_url("garbage"), "<unparsable DATABASE_URL>");
        assert_eq!(
            redact_url("mysql://app:pa/ss?w#rd@db:3306/octo?pool_max=3"),
            "mysql://app@db:3306/octo"
        );
    }

    proptest::proptest! {
        /// Passwords of characters the URL template has no run of (upper case and specials), so
        /// any five-character piece of one found in a message came from the password.
        #[test]
        fn no_piece_of_a_password_reaches_a_message(
            password in "[A-Z!#$%&()*+,/:;=?@\\[\\]^_{|}~-]{5,24}",
            tail in proptest::sample::select(vec!["", "?pool_max=3", "?nope=1", "?pool_min=5&pool_max=1"]),
        ) {
            let url = format!("mysql://app:{password}@db:3306/octo{tail}");
            let mut messages = vec![redact_url(&url)];
            if let Err(message) = parse_database_url(&url) {
                messages.push(message);
            }
            let config = Cli::try_parse_from(["octo-app", &format!("--database-url={url}")])
                .map_err(|err| err.to_string())
                .and_then(|cli| cli.into_config().map_err(|err| err.to_string()));
            match config {
                Ok(config) => messages.push(format!("{:?}", config.db)),
                Err(message) => messages.push(message),
            }
            for message in &messages {
                for piece in password.as_bytes().windows(5) {
                    let piece = std::str::from_utf8(piece).unwrap();
                    proptest::prop_assert!(
                        !message.contains(piece),
                        "{piece:?} of the password is in {message:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn flags_and_defaults() {
        let cli = Cli::try_parse_from([
            "octo-app",
            "--listen-addr=127.0.0.1:8000",
            "--mysql-host=db",
            "--mysql-password=x",
            "--app-name=app1",
            "--db-pool-size=4",
        ])
        .unwrap();
        let config = cli.into_config().unwrap();
        assert_eq!(config.listen_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(config.app_name, "app1");
        assert_eq!(config.pool_size, 4);
        assert_eq!(config.db.describe(), "mysql://root@db:3306/octo");
        assert_eq!(format!("{:?}", config.db), "mysql://root@db:3306/octo");
        assert!(Cli::try_parse_from(["octo-app", "--db-pool-size=0"]).is_err());
        assert!(Cli::try_parse_from(["octo-app", "--listen-addr=nowhere"]).is_err());
        assert!(config.csrf_key.is_none() && config.admin.is_none());
    }

    #[test]
    fn key_and_password_files_that_cannot_be_read_name_their_flag() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let missing = missing.to_str().unwrap();
        for flag in ["--csrf-key-file", "--admin-password-file"] {
            let cli = Cli::try_parse_from(["octo-app", &format!("{flag}={missing}")]).unwrap();
            let err = cli.into_config().unwrap_err();
            assert!(err.starts_with(flag) && err.contains(missing), "{err}");
        }
        let key = dir.path().join("key");
        std::fs::write(&key, "k".repeat(40)).unwrap();
        let password = dir.path().join("password");
        std::fs::write(&password, "pw\n").unwrap();
        let cli = Cli::try_parse_from([
            "octo-app",
            &format!("--csrf-key-file={}", key.display()),
            &format!("--admin-password-file={}", password.display()),
            "--admin-user=boss",
        ])
        .unwrap();
        let config = cli.into_config().unwrap();
        assert!(config.csrf_key.is_some());
        assert_eq!(config.admin.unwrap().user(), "boss");
    }
}
