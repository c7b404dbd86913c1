//! From a [`ClientConfig`] and an [`Endpoint`] to a small persistent mysql_async pool, behind a
//! [`Guard`] when the password could otherwise reach the server readable (see [`guarded`]).
//!
//! Upstream opens a new connection (two with 0.20) for every scrape, which shows in the server's
//! `Connections` counter and costs an authentication each time (mysqld_exporter#142). Here each
//! target keeps a pool of at most `--exporter.max_open_connections` connections, opened lazily,
//! kept while scrapes keep coming, and closed after a few idle minutes.

use std::io;
use std::time::Duration;

use mysql_async::{ClientIdentity, OptsBuilder, Pool, PoolConstraints, PoolOpts, SslOpts};

use crate::config::client::{ClientConfig, Endpoint, Tls};
use crate::guard::Guard;

/// Idle connections are closed after this long without use.
const IDLE_CONNECTION_TTL: Duration = Duration::from_secs(300);
/// Busy connections are replaced after this long (plus up to a minute of jitter), so that the
/// credentials are exercised again now and then: a revoked account shows as `mysql_up 0` within
/// minutes, not never.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(600);

/// Exporter-wide connection settings from the flags.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `--exporter.lock_wait_timeout` when `--exporter.enable_lock_wait_timeout`.
    pub lock_wait_timeout: Option<u64>,
    /// `--exporter.log_slow_filter`.
    pub log_slow_filter: bool,
    /// `--exporter.max_open_connections`.
    pub max_open_connections: usize,
}

/// The statement run once on every new connection: the DSN's session variables first, then the
/// exporter's own (which win, as upstream appends them last).
pub fn session_setup(config: &ClientConfig, options: &ConnectOptions) -> Option<String> {
    let mut assignments: Vec<String> = config
        .session_variables
        .iter()
        .map(|(name, value)| format!("SESSION {name}={value}"))
        .collect();
    if let Some(seconds) = options.lock_wait_timeout {
        assignments.push(format!("SESSION lock_wait_timeout={seconds}"));
    }
    if options.log_slow_filter {
        assignments.push("SESSION log_slow_filter='tmp_table_on_disk,filesort_on_disk'".into());
    }
    (!assignments.is_empty()).then(|| format!("SET {}", assignments.join(", ")))
}

/// A pool, and the guard its connections go through when there is one. Dropping it closes the
/// pool's connections and ends its background tasks.
#[derive(Debug)]
pub struct Connector {
    pub pool: Pool,
    guard: Option<Guard>,
}

impl Drop for Connector {
    fn drop(&mut self) {
        // mysql_async's pool keeps two tasks running until it is disconnected, even when every
        // handle is gone.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let pool = self.pool.clone();
            runtime.spawn(async move {
                let _ = pool.disconnect().await;
            });
        }
    }
}

impl Connector {
    /// Whether connections go through a [`Guard`].
    pub fn is_guarded(&self) -> bool {
        self.guard.is_some()
    }
}

/// Whether the password could reach `endpoint` readable by whoever answers there, so that the
/// connection must go through a [`Guard`]: a TCP server without TLS, or a unix socket other than
/// the one this auth module names (mysql_async sends the password in clear over any socket, and
/// skips TLS there). libmysqlclient trusts the same two: TLS, and the socket of the
/// configuration.
pub fn guarded(config: &ClientConfig, endpoint: &Endpoint) -> bool {
    match endpoint {
        Endpoint::Unix(_) => config.endpoint.as_ref() != Some(endpoint),
        Endpoint::Tcp { .. } => config.tls == Tls::Off,
    }
}

/// The connector for one server with one set of credentials. Nothing connects until first use;
/// a guard starts listening at once. Must run inside the tokio runtime.
pub fn connector(
    config: &ClientConfig,
    endpoint: &Endpoint,
    options: &ConnectOptions,
) -> io::Result<Connector> {
    let guard = if guarded(config, endpoint) {
        Some(Guard::start(
            endpoint.clone(),
            config.server_public_key.clone(),
        )?)
    } else {
        None
    };
    let pool = pool(config, endpoint, guard.as_ref().map(Guard::port), options);
    Ok(Connector { pool, guard })
}

/// A pool for one server with one set of credentials, through the guard on `guard_port` if any.
fn pool(
    config: &ClientConfig,
    endpoint: &Endpoint,
    guard_port: Option<u16>,
    options: &ConnectOptions,
) -> Pool {
    let constraints =
        PoolConstraints::new(0, options.max_open_connections.max(1)).unwrap_or_default();
    let pool_opts = PoolOpts::default()
        .with_constraints(constraints)
        // Nothing session-specific is kept, and COM_RESET_CONNECTION would undo the setup.
        .with_reset_connection(false)
        .with_inactive_connection_ttl(IDLE_CONNECTION_TTL)
        .with_abs_conn_ttl(Some(CONNECTION_LIFETIME))
        .with_abs_conn_ttl_jitter(Some(Duration::from_secs(60)))
        .with_ttl_check_interval(Duration::from_secs(60));
    let mut builder = OptsBuilder::default()
        .user(Some(config.user.clone()))
        .pass((!config.password.is_empty()).then(|| config.password.expose().to_owned()))
        .db_name(config.database.clone())
        // Connect where configured: mysql_async would otherwise switch a loopback TCP
        // connection to the server's socket, where the account may not be allowed.
        .prefer_socket(false)
        .secure_auth(!config.old_passwords)
        .enable_cleartext_plugin(config.cleartext_passwords)
        .tcp_nodelay(true)
        .stmt_cache_size(0)
        .pool_opts(pool_opts)
        .setup(
            session_setup(config, options)
                .into_iter()
                .collect::<Vec<_>>(),
        );
    builder = match (guard_port, endpoint) {
        (Some(port), _) => builder.ip_or_hostname("127.0.0.1").tcp_port(port),
        (None, Endpoint::Tcp { host, port }) => {
            builder.ip_or_hostname(host.clone()).tcp_port(*port)
        }
        (None, Endpoint::Unix(path)) => builder.socket(Some(path.display().to_string())),
    };
    if let Tls::On(settings) = &config.tls {
        let mut ssl = SslOpts::default()
            .with_danger_accept_invalid_certs(!settings.verify)
            .with_danger_skip_domain_validation(!settings.verify);
        if let Some(ca) = &settings.ca {
            ssl = ssl
                .with_root_certs(vec![ca.clone().into()])
                .with_disable_built_in_roots(true);
        }
        if let Some((cert, key)) = &settings.client_identity {
            ssl = ssl.with_client_identity(Some(ClientIdentity::new(
                cert.clone().into(),
                key.clone().into(),
            )));
        }
        if let Some(name) = &settings.server_name {
            ssl = ssl.with_danger_tls_hostname_override(Some(name.clone()));
        }
        builder = builder.ssl_opts(Some(ssl));
    }
    Pool::new(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::client::TlsSettings;

    #[test]
    fn only_tls_and_the_named_socket_go_without_a_guard() {
        let socket = Endpoint::Unix("/run/mysqld/mysqld.sock".into());
        let tcp = Endpoint::Tcp {
            host: "db".into(),
            port: 3306,
        };
        let plain = ClientConfig {
            endpoint: Some(socket.clone()),
            ..ClientConfig::default()
        };
        assert!(!guarded(&plain, &socket));
        assert!(guarded(&plain, &Endpoint::Unix("/tmp/other.sock".into())));
        assert!(guarded(&plain, &tcp));
        let tls = ClientConfig {
            tls: Tls::On(TlsSettings::default()),
            ..plain
        };
        assert!(!guarded(&tls, &tcp));
        // mysql_async does not use TLS over a socket.
        assert!(guarded(&tls, &Endpoint::Unix("/tmp/other.sock".into())));
    }

    #[test]
    fn setup_combines_dsn_and_exporter_variables() {
        let config = ClientConfig {
            session_variables: vec![("sql_mode".into(), "'ANSI'".into())],
            ..ClientConfig::default()
        };
        let options = ConnectOptions {
            lock_wait_timeout: Some(2),
            log_slow_filter: true,
            max_open_connections: 2,
        };
        assert_eq!(
            session_setup(&config, &options).unwrap(),
            "SET SESSION sql_mode='ANSI', SESSION lock_wait_timeout=2, \
             SESSION log_slow_filter='tmp_table_on_disk,filesort_on_disk'"
        );
        let none = ConnectOptions {
            lock_wait_timeout: None,
            log_slow_filter: false,
            max_open_connections: 1,
        };
        assert_eq!(session_setup(&ClientConfig::default(), &none), None);
    }
}
