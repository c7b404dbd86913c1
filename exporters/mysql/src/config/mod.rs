//! Where the credentials come from, in both of upstream's models:
//!
//! - 0.14 (what Debian ships): `DATA_SOURCE_NAME` in Go's DSN form ([`dsn`]), else the `[client]`
//!   section of `--config.my-cnf`;
//! - 0.15+: `--config.my-cnf` with `[client]` and `[client.<auth_module>]` sections ([`mycnf`]),
//!   `--mysqld.address`, `--mysqld.username` and `MYSQLD_EXPORTER_PASSWORD` filling what `[client]`
//!   leaves empty, `${VAR}` expanded in values.
//!
//! Both end in [`Credentials`]: named [`ClientConfig`]s, `client` being the one `/metrics` uses.
//! Passwords are [`Secret`]s, which never print.

pub mod dsn;
pub mod mycnf;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The auth module `/metrics` uses, and `/probe` when none is named.
pub const DEFAULT_MODULE: &str = "client";

/// A password: compared and used, never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "<redacted>"
        })
    }
}

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

impl Endpoint {
    /// Reads a probe target or `--mysqld.address`: `host:port`, `[v6]:port` or `unix:///path`.
    pub fn parse(text: &str) -> Result<Endpoint, ConfigError> {
        if let Some(path) = text.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(ConfigError::Address {
                    address: text.to_owned(),
                    reason: "empty socket path".into(),
                });
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let (host, port) = split_host_port(text).map_err(|reason| ConfigError::Address {
            address: text.to_owned(),
            reason,
        })?;
        Ok(Endpoint::Tcp { host, port })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// Go's `net.SplitHostPort` followed by a port number check.
pub fn split_host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "missing ']' in address".to_owned())?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| "missing port in address".to_owned())?;
        (host, port)
    } else {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| "missing port in address".to_owned())?;
        if host.contains(':') {
            return Err("too many colons in address".into());
        }
        (host, port)
    };
    let port: u16 = port.parse().map_err(|_| format!("invalid port {port:?}"))?;
    Ok((host.to_owned(), port))
}

/// TLS towards the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Tls {
    #[default]
    Off,
    On(TlsSettings),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// Check the certificate chain and the server name.
    pub verify: bool,
    /// Trust only this CA bundle (`ssl-ca`) instead of the built-in roots.
    pub ca: Option<PathBuf>,
    /// A client certificate and its key (`ssl-cert`, `ssl-key`).
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// The name to verify instead of the host (`tls-server-name`).
    pub server_name: Option<String>,
}

/// Everything needed to connect to one server, except the server when it comes from a probe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientConfig {
    pub user: String,
    pub password: Secret,
    /// Where `/metrics` connects (and `/probe` when it names no target).
    pub endpoint: Option<Endpoint>,
    pub database: Option<String>,
    pub tls: Tls,
    pub cleartext_passwords: bool,
    pub old_passwords: bool,
    /// `SET` statements from DSN parameters (`?sql_mode=...`), applied on connect.
    pub session_variables: Vec<(String, String)>,
    /// The DSN's `timeout` parameter: how long connecting may take.
    pub connect_timeout: Option<Duration>,
}

impl ClientConfig {
    /// The server to connect to for `target` (`host:port` or `unix:///path`), or the configured
    /// one (default `127.0.0.1:3306`, as upstream's DSN builder).
    pub fn endpoint_for(&self, target: Option<&str>) -> Result<Endpoint, ConfigError> {
        match target.filter(|t| !t.is_empty()) {
            Some(target) => Endpoint::parse(target),
            None => Ok(self.endpoint.clone().unwrap_or(Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 3306,
            })),
        }
    }
}

/// The named configurations in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub modules: BTreeMap<String, ClientConfig>,
    /// Where they were read from, for messages.
    pub origin: String,
}

impl Credentials {
    pub fn module(&self, name: &str) -> Option<&ClientConfig> {
        self.modules.get(name)
    }
}

/// What the command line and environment say about credentials.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config.my-cnf` when given.
    pub my_cnf: Option<PathBuf>,
    /// `--mysqld.address`.
    pub mysqld_address: String,
    /// `--mysqld.username`.
    pub mysqld_username: String,
    /// `--tls.insecure-skip-verify`.
    pub insecure_skip_verify: bool,
    /// `DATA_SOURCE_NAME` (0.14).
    pub data_source_name: Option<Secret>,
    /// The process environment, for `${VAR}` (a snapshot so tests can supply their own).
    pub environment: BTreeMap<String, String>,
}

impl Sources {
    /// The my.cnf to read: the flag, else `.my.cnf` in the working directory (0.15+) when it
    /// exists, else `$HOME/.my.cnf` (0.14, and what Debian's package documents).
    pub fn my_cnf_path(&self) -> PathBuf {
        if let Some(path) = &self.my_cnf {
            return path.clone();
        }
        let local = PathBuf::from(".my.cnf");
        if local.is_file() {
            return local;
        }
        match self.environment.get("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Path::new(home).join(".my.cnf"),
            None => local,
        }
    }
}

/// Why no usable configuration could be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {reason}")]
    Syntax {
        path: String,
        line: usize,
        reason: String,
    },
    #[error(
        "DATA_SOURCE_NAME: {0} (expected user:password@tcp(host:port)/ or user@unix(/path.sock)/)"
    )]
    Dsn(String),
    #[error("invalid address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("no configuration found in {origin}: {details}")]
    Empty { origin: String, details: String },
}

/// Builds the credentials from the sources: the DSN when `DATA_SOURCE_NAME` is set (auth modules
/// for `/probe` may still come from my.cnf), else my.cnf.
pub fn load(sources: &Sources) -> Result<Credentials, ConfigError> {
    let path = sources.my_cnf_path();
    let path_text = path.display().to_string();
    if let Some(dsn) = sources.data_source_name.as_ref().filter(|d| !d.is_empty()) {
        let client = dsn::parse(dsn.expose())?;
        let mut modules = BTreeMap::new();
        if path.is_file() {
            match read_my_cnf(&path)
                .and_then(|text| mycnf::modules(&text, &path_text, sources, false).map(|(m, _)| m))
            {
                Ok(extra) => modules.extend(extra),
                Err(err) => tracing::warn!(
                    error = %err,
                    "ignoring my.cnf auth modules; DATA_SOURCE_NAME is used for /metrics"
                ),
            }
        }
        modules.insert(DEFAULT_MODULE.to_owned(), client);
        return Ok(Credentials {
            modules,
            origin: "DATA_SOURCE_NAME".into(),
        });
    }
    let text = if path.is_file() {
        read_my_cnf(&path)?
    } else {
        // Like upstream (0.15+), a missing file is no error by itself: the flags and
        // MYSQLD_EXPORTER_PASSWORD may be all there is.
        String::new()
    };
    let (modules, rejected) = mycnf::modules(&text, &path_text, sources, true)?;
    if modules.is_empty() {
        let details = if !path.is_file() {
            format!(
                "{path_text} does not exist, and --mysqld.username is empty (set DATA_SOURCE_NAME, \
                 --config.my-cnf, or --mysqld.username with MYSQLD_EXPORTER_PASSWORD)"
            )
        } else if rejected.is_empty() {
            "the file has no sections".to_owned()
        } else {
            rejected.join("; ")
        };
        return Err(ConfigError::Empty {
            origin: path_text,
            details,
        });
    }
    Ok(Credentials {
        modules,
        origin: path_text,
    })
}

fn read_my_cnf(path: &Path) -> Result<String, ConfigError> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_like_go() {
        assert_eq!(
            Endpoint::parse("db:3307").unwrap(),
            Endpoint::Tcp {
                host: "db".into(),
                port: 3307
            }
        );
        assert_eq!(
            Endpoint::parse("[::1]:3306").unwrap(),
            Endpoint::Tcp {
                host: "::1".into(),
                port: 3306
            }
        );
        assert_eq!(
            Endpoint::parse("unix:///run/mysqld/mysqld.sock").unwrap(),
            Endpoint::Unix("/run/mysqld/mysqld.sock".into())
        );
        for bad in [
            "db", "db:", "db:port", "::1:3306", "[::1]", "unix://", "db:70000",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Endpoint::parse("[::1]:3306").unwrap().to_string(),
            "[::1]:3306"
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let config = ClientConfig {
            user: "exporter".into(),
            password: Secret::new("hunter2"),
            ..ClientConfig::default()
        };
        let text = format!("{config:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("redacted"));
    }
}
