//! Go-MySQL-Driver's DSN, as mysqld_exporter 0.14 reads `DATA_SOURCE_NAME`:
//! `[user[:password]@][net[(addr)]]/dbname[?param1=value1&...]`, for example
//! `exporter:secret@(db:3306)/`, `exporter:secret@tcp(127.0.0.1:3306)/?tls=skip-verify` or
//! `exporter@unix(/run/mysqld/mysqld.sock)/`.
//!
//! Hand-written: the grammar is the Go driver's own (last `/`, last `@` before it, first `:` for
//! the password, which is not URL-escaped), which no URL parser reproduces.
//!
//! Errors repeat nothing of the DSN: the password may hold `/`, `@`, `:` and `?`, and a DSN
//! that does not parse may be split inside it, so any piece (a "network", a host, a parameter
//! name or value) may be part of the password. Messages name parameters by position, or by
//! their well-known name only.

use std::path::PathBuf;

use octo_exporter_kit::flags::parse_go_duration;

use super::client::{
    ClientConfig, Endpoint, Secret, ServerPublicKey, Tls, TlsSettings, split_host_port,
};
use super::error::ConfigError;

/// Parses a DSN into a client configuration.
pub fn parse(dsn: &str) -> Result<ClientConfig, ConfigError> {
    let dsn = dsn.trim();
    let slash = dsn
        .rfind('/')
        .ok_or_else(|| ConfigError::Dsn("no '/' before the database name".into()))?;
    let (head, tail) = (&dsn[..slash], &dsn[slash + 1..]);
    let mut config = ClientConfig::default();
    let (credentials, address_part) = match head.rfind('@') {
        Some(at) => (Some(&head[..at]), &head[at + 1..]),
        None => (None, head),
    };
    if let Some(credentials) = credentials {
        match credentials.split_once(':') {
            Some((user, password)) => {
                config.user = user.to_owned();
                config.password = Secret::new(password);
            }
            None => config.user = credentials.to_owned(),
        }
    }
    let (net, address) = match address_part.find('(') {
        Some(open) => {
            let Some(inner) = address_part[open + 1..].strip_suffix(')') else {
                return Err(ConfigError::Dsn(
                    "the address must be enclosed in parentheses, as in tcp(host:port)".into(),
                ));
            };
            (&address_part[..open], Some(inner))
        }
        None => (address_part, None),
    };
    config.endpoint = Some(endpoint(net, address)?);
    let (database, params) = match tail.split_once('?') {
        Some((database, params)) => (database, Some(params)),
        None => (tail, None),
    };
    if !database.is_empty() {
        config.database = Some(unescape(database)?);
    }
    if let Some(params) = params {
        apply_params(&mut config, params)?;
    }
    if config.user.is_empty() {
        return Err(ConfigError::Dsn("no user name before '@'".into()));
    }
    Ok(config)
}

fn endpoint(net: &str, address: Option<&str>) -> Result<Endpoint, ConfigError> {
    match net {
        "" | "tcp" | "tcp4" | "tcp6" => {
            let address = address
                .filter(|a| !a.is_empty())
                .unwrap_or("127.0.0.1:3306");
            // The driver adds the default port when none is given.
            let with_port = if address.starts_with('[') {
                if address.contains("]:") {
                    address.to_owned()
                } else {
                    format!("{address}:3306")
                }
            } else {
                match address.matches(':').count() {
                    0 => format!("{address}:3306"),
                    1 => address.to_owned(),
                    _ => format!("[{address}]:3306"),
                }
            };
            let (host, port) = split_host_port(&with_port).map_err(|_| {
                ConfigError::Dsn("the address in parentheses is not host:port".into())
            })?;
            Ok(Endpoint::Tcp { host, port })
        }
        "unix" => Ok(Endpoint::Unix(PathBuf::from(
            address
                .filter(|a| !a.is_empty())
                .unwrap_or("/tmp/mysql.sock"),
        ))),
        _ => Err(ConfigError::Dsn(
            "unknown network before the address (tcp or unix)".into(),
        )),
    }
}

fn apply_params(config: &mut ClientConfig, params: &str) -> Result<(), ConfigError> {
    for (index, pair) in params.split('&').filter(|p| !p.is_empty()).enumerate() {
        let position = index + 1;
        let (key, raw) = pair.split_once('=').ok_or_else(|| {
            ConfigError::Dsn(format!("parameter {position} has no value (name=value)"))
        })?;
        let value = unescape(raw)?;
        // Only reached for the names matched below, so naming `key` repeats no input.
        let boolean = || -> Result<bool, ConfigError> {
            match value.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
                _ => Err(ConfigError::Dsn(format!(
                    "parameter {key} is not a boolean (true or false)"
                ))),
            }
        };
        match key {
            "tls" => {
                config.tls = match value.as_str() {
                    "true" | "1" => Tls::On(TlsSettings {
                        verify: true,
                        ..TlsSettings::default()
                    }),
                    "false" | "0" | "" => Tls::Off,
                    // `preferred` falls back to plain text in Go; here it needs a server with TLS.
                    "skip-verify" | "preferred" => Tls::On(TlsSettings::default()),
                    _ => {
                        return Err(ConfigError::Dsn(
                            "parameter tls: only true, false, skip-verify and preferred exist \
                             without a my.cnf (use ssl-ca in --config.my-cnf for a custom CA)"
                                .into(),
                        ));
                    }
                }
            }
            "timeout" => {
                config.connect_timeout = Some(parse_go_duration(&value).map_err(|_| {
                    ConfigError::Dsn(
                        "parameter timeout is not a duration such as 5s or 1m30s".into(),
                    )
                })?)
            }
            "allowCleartextPasswords" => config.cleartext_passwords = boolean()?,
            "allowOldPasswords" => config.old_passwords = boolean()?,
            // The Go driver's get-server-public-key.
            "allowPublicKeyRetrieval" => {
                config.server_public_key = if boolean()? {
                    ServerPublicKey::Request
                } else {
                    ServerPublicKey::Refuse
                }
            }
            "serverPubKey" => {
                return Err(ConfigError::Dsn(
                    "parameter serverPubKey names a key registered in Go code, which this \
                     exporter has none of: use server-public-key-path in --config.my-cnf"
                        .into(),
                ));
            }
            // Driver-side settings with no effect on what the exporter reads.
            "allowNativePasswords"
            | "allowAllFiles"
            | "allowFallbackToPlaintext"
            | "charset"
            | "checkConnLiveness"
            | "clientFoundRows"
            | "collation"
            | "columnsWithAlias"
            | "connectionAttributes"
            | "interpolateParams"
            | "loc"
            | "maxAllowedPacket"
            | "multiStatements"
            | "parseTime"
            | "readTimeout"
            | "rejectReadOnly"
            | "timeTruncate"
            | "writeTimeout"
            | "compress" => {
                tracing::debug!(parameter = key, "DSN parameter accepted and ignored");
            }
            // Anything else is a session variable, set on connect (`?sql_mode=...`).
            variable => {
                if variable.is_empty()
                    || !variable
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(ConfigError::Dsn(format!(
                        "parameter {position} is not a system variable name"
                    )));
                }
                config
                    .session_variables
                    .push((variable.to_owned(), value.clone()));
            }
        }
    }
    Ok(())
}

/// URL query unescaping (`%27` and `+`), as Go's `url.QueryUnescape`.
fn unescape(text: &str) -> Result<String, ConfigError> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ConfigError::Dsn("invalid %-escape in parameters".into()))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ConfigError::Dsn("parameters are not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Option<Endpoint> {
        Some(Endpoint::Tcp {
            host: host.into(),
            port,
        })
    }

    #[test]
    fn debian_examples() {
        let c = parse("prometheus:nopassword@unix(/run/mysqld/mysqld.sock)/").unwrap();
        assert_eq!(c.user, "prometheus");
        assert_eq!(c.password.expose(), "nopassword");
        assert_eq!(
            c.endpoint,
            Some(Endpoint::Unix("/run/mysqld/mysqld.sock".into()))
        );
        let c = parse("prometheus@unix(/run/mysqld/mysqld.sock)/").unwrap();
        assert!(c.password.is_empty());
        let c = parse("prometheus:password@(hostname:3307)/dbname").unwrap();
        assert_eq!(c.endpoint, tcp("hostname", 3307));
        assert_eq!(c.database.as_deref(), Some("dbname"));
    }

    #[test]
    fn passwords_keep_colons_ats_and_slashes() {
        let c = parse("u:p@ss:w/rd@tcp(db:3306)/").unwrap();
        assert_eq!(c.user, "u");
        assert_eq!(c.password.expose(), "p@ss:w/rd");
        assert_eq!(c.endpoint, tcp("db", 3306));
    }

    #[test]
    fn defaults_and_params() {
        let c = parse("u:p@/").unwrap();
        assert_eq!(c.endpoint, tcp("127.0.0.1", 3306));
        let c = parse("u:p@tcp(db)/?tls=skip-verify&timeout=5s&sql_mode=%27ANSI%27").unwrap();
        assert_eq!(c.endpoint, tcp("db", 3306));
        assert!(matches!(c.tls, Tls::On(TlsSettings { verify: false, .. })));
        assert_eq!(c.connect_timeout, Some(std::time::Duration::from_secs(5)));
        assert_eq!(
            c.session_variables,
            vec![("sql_mode".to_owned(), "'ANSI'".to_owned())]
        );
        let c = parse("u@tcp([::1])/").unwrap();
        assert_eq!(c.endpoint, tcp("::1", 3306));
    }

    #[test]
    fn public_key_retrieval_is_opt_in() {
        use crate::config::client::ServerPublicKey;
        let c = parse("u:p@tcp(db)/").unwrap();
        assert_eq!(c.server_public_key, ServerPublicKey::Refuse);
        let c = parse("u:p@tcp(db)/?allowPublicKeyRetrieval=true").unwrap();
        assert_eq!(c.server_public_key, ServerPublicKey::Request);
        let err = parse("u:p@tcp(db)/?serverPubKey=k")
            .unwrap_err()
            .to_string();
        assert!(err.contains("server-public-key-path"), "{err}");
    }

    #[test]
    fn malformed_dsns_are_clear_errors_without_the_password() {
        for bad in [
            "",
            "u:secretpw@tcp(db:3306)",
            "u:secretpw@tcp(db:3306/",
            "u:secretpw@udp(db:3306)/",
            "u:secretpw@tcp(db:port)/",
            ":secretpw@tcp(db:3306)/",
            "u:secretpw@tcp(db:3306)/?tls=custom",
            "u:secretpw@tcp(db:3306)/?timeout=soon",
            "u:secretpw@tcp(db:3306)/?x=%zz",
            "u:secretpw@tcp(db:3306)/?bad;name=1",
            "u:secretpw@tcp(db:3306)/?novalue",
        ] {
            let err = parse(bad).expect_err(bad).to_string();
            assert!(!err.contains("secretpw"), "{err}");
        }
    }

    /// DSNs built around `password` and broken in every way the parser can refuse.
    fn broken_dsns(password: &str) -> Vec<String> {
        [
            "u:{pw}@tcp(db:port)/",
            "u:{pw}@tcp(db:70000)/",
            "u:{pw}@tcp([::1:3306)/",
            "u:{pw}@tcp(db:3306/",
            "u:{pw}@tcp(db:3306)",
            "u:{pw}@udp(db:3306)/",
            ":{pw}@tcp(db:3306)/",
            "u:{pw}@tcp(db:3306)/?tls=custom",
            "u:{pw}@tcp(db:3306)/?timeout=soon",
            "u:{pw}@tcp(db:3306)/?timeout=-5x",
            "u:{pw}@tcp(db:3306)/?novalue",
            "u:{pw}@tcp(db:3306)/?bad;name=1",
            "u:{pw}@tcp(db:3306)/?x=%zz",
            "u:{pw}@tcp(db:3306)/?allowCleartextPasswords=maybe",
            "u:{pw}@tcp(db:3306)/?serverPubKey=mykey",
            "u:{pw}@tcp(db:3306)/db%zz",
        ]
        .iter()
        .map(|template| template.replace("{pw}", password))
        .collect()
    }

    /// The password with every character that the DSN grammar does not give a meaning replaced:
    /// the parser splits both alike, so an error that repeats none of the password is the same.
    fn same_shape(password: &str) -> String {
        password
            .chars()
            .map(|c| if "/@:?()[]&=%+;".contains(c) { c } else { 'Z' })
            .collect()
    }

    /// No run of four characters of the password in the error, and the error does not change
    /// when the password's plain characters do (which also covers passwords under four).
    fn assert_no_leak(password: &str, dsn: &str, error: &str) {
        let chars: Vec<char> = password.chars().collect();
        for window in chars.windows(4) {
            let piece: String = window.iter().collect();
            assert!(
                !error.contains(&piece),
                "error for a DSN shows {piece:?} of the password: {error}"
            );
        }
        let shaped = dsn.replacen(password, &same_shape(password), 1);
        if let Err(other) = parse(&shaped) {
            assert_eq!(
                error,
                other.to_string(),
                "the error depends on the password's characters"
            );
        }
    }

    #[test]
    fn dsn_password_with_slash_is_not_echoed_in_errors() {
        for password in [
            "Wq9/zK7e",
            "p@ss/w:rd?tls=x",
            "se:cr/et@h0st",
            "a/b",
            "?/@:",
        ] {
            for dsn in broken_dsns(password) {
                if let Err(err) = parse(&dsn) {
                    assert_no_leak(password, &dsn, &err.to_string());
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_panics(text in ".{0,60}") {
            let _ = parse(&text);
        }

        #[test]
        fn generated_passwords_never_appear_in_dsn_errors(password in "[ -~\u{e9}\u{20ac}]{1,32}") {
            for dsn in broken_dsns(&password) {
                if let Err(err) = parse(&dsn) {
                    assert_no_leak(&password, &dsn, &err.to_string());
                }
            }
        }
    }
}
