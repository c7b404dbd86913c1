//! What one connection needs: the server's address, the account, TLS; and the named
//! configurations (auth modules) in force. Passwords are [`Secret`]s, which never print.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use octo_exporter_kit::probe_targets::ProbeTarget;

use super::error::ConfigError;

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

impl Endpoint {
    /// The endpoint as `--probe.allowed-targets` reads it.
    pub fn as_probe_target(&self) -> ProbeTarget<'_> {
        match self {
            Endpoint::Tcp { host, port } => ProbeTarget::Tcp { host, port: *port },
            Endpoint::Unix(path) => ProbeTarget::Unix(path),
        }
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

/// What to do when a server reached without TLS, or over a unix socket the operator did not
/// name, asks for the password itself (caching_sha2_password's "perform full authentication"):
/// libmysqlclient's `get-server-public-key` and `server-public-key-path`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ServerPublicKey {
    /// Refuse, as libmysqlclient does by default: the password stays here.
    #[default]
    Refuse,
    /// Ask the server for its RSA key and send the password encrypted with it: only as safe as
    /// the network path, since whoever answers hands out the key.
    Request,
    /// Encrypt the password with this key (PEM, from `server-public-key-path`).
    Known(Arc<str>),
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
    /// mysql_clear_password may be used, over TLS or the unix socket this module names only.
    pub cleartext_passwords: bool,
    pub old_passwords: bool,
    pub server_public_key: ServerPublicKey,
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
