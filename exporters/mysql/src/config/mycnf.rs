//! The my.cnf file as mysqld_exporter reads it (gopkg.in/ini.v1 with `AllowBooleanKeys`,
//! `IgnoreInlineComment` and quote stripping): every section is an auth module, and a dotted
//! section (`[client.servers]`) inherits the keys it lacks from its parents (`[client]`).
//!
//! Hand-written rather than with an INI crate: the semantics that matter here (parent lookup
//! through dots, `#` kept inside values so passwords survive, `key` alone meaning true,
//! `!include` lines skipped) are go-ini's, and no crate has that combination.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::client::{ClientConfig, DEFAULT_MODULE, Endpoint, Secret, Tls, TlsSettings};
use super::error::ConfigError;
use super::sources::Sources;

/// Sections in file order, each with its keys (the last value of a repeated key wins; repeated
/// sections merge).
#[derive(Debug, Default)]
pub struct Ini {
    sections: Vec<(String, BTreeMap<String, String>)>,
}

impl Ini {
    /// Parses the text; `path` is for messages.
    pub fn parse(text: &str, path: &str) -> Result<Ini, ConfigError> {
        let mut ini = Ini::default();
        let mut current: Option<usize> = None;
        for (index, raw_line) in text.lines().enumerate() {
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('!') {
                // `!include` and `!includedir`: MySQL client directives, not credentials.
                tracing::debug!(path, line = index + 1, "skipping my.cnf directive");
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest.strip_suffix(']').ok_or_else(|| ConfigError::Syntax {
                    path: path.to_owned(),
                    line: index + 1,
                    reason: "section header without closing ']'".into(),
                })?;
                let name = name.trim();
                if name.is_empty() {
                    return Err(ConfigError::Syntax {
                        path: path.to_owned(),
                        line: index + 1,
                        reason: "empty section name".into(),
                    });
                }
                current = Some(ini.section_index(name));
                continue;
            }
            let (key, value) = match line.find(['=', ':']) {
                Some(at) => (line[..at].trim(), unquote(line[at + 1..].trim())),
                None => (line, "true".to_owned()),
            };
            if key.is_empty() {
                return Err(ConfigError::Syntax {
                    path: path.to_owned(),
                    line: index + 1,
                    reason: "a value without a key".into(),
                });
            }
            let section = match current {
                Some(section) => section,
                None => {
                    let section = ini.section_index("DEFAULT");
                    current = Some(section);
                    section
                }
            };
            // MySQL treats `ssl_ca` and `ssl-ca` alike.
            ini.sections[section].1.insert(key.replace('_', "-"), value);
        }
        Ok(ini)
    }

    fn section_index(&mut self, name: &str) -> usize {
        match self.sections.iter().position(|(n, _)| n == name) {
            Some(index) => index,
            None => {
                self.sections.push((name.to_owned(), BTreeMap::new()));
                self.sections.len() - 1
            }
        }
    }

    fn section_mut(&mut self, name: &str) -> &mut BTreeMap<String, String> {
        let index = self.section_index(name);
        &mut self.sections[index].1
    }

    /// A key of `section`, or of its dotted parents.
    fn lookup(&self, section: &str, key: &str) -> Option<&str> {
        let mut name = section;
        loop {
            if let Some((_, keys)) = self.sections.iter().find(|(n, _)| n == name)
                && let Some(value) = keys.get(key)
            {
                return Some(value);
            }
            name = &name[..name.rfind('.')?];
        }
    }
}

fn unquote(value: &str) -> String {
    if value.len() >= 2 {
        if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            return inner.replace("\\\"", "\"");
        }
        if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            return inner.to_owned();
        }
    }
    value.to_owned()
}

/// `${VAR}` replaced by the variable's value (empty when unset), as upstream expands values.
/// A bare `$` is kept: unlike Go's `os.ExpandEnv`, `pa$$word` stays a password.
fn expand(value: &str, environment: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find('}') {
            Some(end) => {
                let name = &rest[start + 2..start + 2 + end];
                out.push_str(environment.get(name).map(String::as_str).unwrap_or(""));
                rest = &rest[start + 2 + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every valid section as an auth module, and a message per rejected one. With `apply_flags`,
/// `[client]` gets `--mysqld.address`, `--mysqld.username` and `MYSQLD_EXPORTER_PASSWORD` where
/// the file leaves them empty (0.15+ behaviour).
pub fn modules(
    text: &str,
    path: &str,
    sources: &Sources,
    apply_flags: bool,
) -> Result<(BTreeMap<String, ClientConfig>, Vec<String>), ConfigError> {
    let mut ini = Ini::parse(text, path)?;
    if apply_flags {
        let client = ini.section_mut(DEFAULT_MODULE);
        client
            .entry("password".into())
            .or_insert_with(|| "${MYSQLD_EXPORTER_PASSWORD}".into());
        let address = sources.mysqld_address.trim();
        if !address.is_empty() {
            match Endpoint::parse(address)? {
                Endpoint::Unix(socket) => {
                    fill(client, "socket", &socket.display().to_string());
                }
                Endpoint::Tcp { host, port } => {
                    fill(client, "host", &host);
                    fill(client, "port", &port.to_string());
                }
            }
        }
        fill(client, "user", &sources.mysqld_username);
    }
    let mut modules = BTreeMap::new();
    let mut rejected = Vec::new();
    let names: Vec<String> = ini
        .sections
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| name != "DEFAULT")
        .collect();
    for name in names {
        match section_config(&ini, &name, sources) {
            Ok(config) => {
                modules.insert(name, config);
            }
            Err(reason) => {
                tracing::warn!(section = %name, path, %reason, "skipping my.cnf section");
                rejected.push(format!("[{name}]: {reason}"));
            }
        }
    }
    Ok((modules, rejected))
}

fn fill(section: &mut BTreeMap<String, String>, key: &str, value: &str) {
    let current = section.entry(key.to_owned()).or_default();
    if current.is_empty() {
        *current = value.to_owned();
    }
}

/// go-ini's boolean words.
fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" | "y" | "Y" | "yes" | "YES" | "Yes" | "on"
        | "ON" | "On" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" | "n" | "N" | "no" | "NO" | "No" | "off"
        | "OFF" | "Off" => Ok(false),
        _ => Err(format!("{key} = {value:?} is not a boolean")),
    }
}

const TLS_VERSIONS: [&str; 4] = ["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

fn section_config(ini: &Ini, section: &str, sources: &Sources) -> Result<ClientConfig, String> {
    let section = Section {
        ini,
        name: section,
        sources,
    };
    let user = section.get("user");
    if user.is_empty() {
        return Err("no user specified in section or parent".into());
    }
    let endpoint = section.endpoint()?;
    let tls = section.tls()?;
    Ok(ClientConfig {
        user,
        password: Secret::new(section.get("password")),
        endpoint,
        database: None,
        tls,
        cleartext_passwords: section.flag("enable-cleartext-plugin")?,
        old_passwords: false,
        session_variables: Vec::new(),
        connect_timeout: None,
    })
}

/// One section's keys as a client configuration reads them: inherited from the parents,
/// `${VAR}` expanded.
struct Section<'a> {
    ini: &'a Ini,
    name: &'a str,
    sources: &'a Sources,
}

impl Section<'_> {
    fn get(&self, key: &str) -> String {
        self.ini
            .lookup(self.name, key)
            .map(|v| expand(v, &self.sources.environment))
            .unwrap_or_default()
    }

    fn flag(&self, key: &str) -> Result<bool, String> {
        match self.get(key).as_str() {
            "" => Ok(false),
            value => parse_bool(key, value),
        }
    }

    /// `socket`, else `host` and `port`; `None` when the section names no server.
    fn endpoint(&self) -> Result<Option<Endpoint>, String> {
        let port = match self.get("port").as_str() {
            "" => None,
            text => Some(
                text.parse::<u16>()
                    .map_err(|_| format!("port = {text:?} is not a port number"))?,
            ),
        };
        let socket = self.get("socket");
        let host = self.get("host");
        Ok(if !socket.is_empty() {
            Some(Endpoint::Unix(PathBuf::from(socket)))
        } else if !host.is_empty() || port.is_some() {
            Some(Endpoint::Tcp {
                host: if host.is_empty() {
                    "127.0.0.1".into()
                } else {
                    host
                },
                port: port.unwrap_or(3306),
            })
        } else {
            None
        })
    }

    fn tls_version(&self, key: &str) -> Result<Option<usize>, String> {
        match self.get(key).as_str() {
            "" => Ok(None),
            value => TLS_VERSIONS
                .iter()
                .position(|v| *v == value)
                .map(Some)
                .ok_or_else(|| {
                    format!(
                        "{key}={value} is not allowed, use one of: {}",
                        TLS_VERSIONS.join(", ")
                    )
                }),
        }
    }

    /// `tls-min-version` and `tls-max-version`, checked against each other and against what
    /// rustls offers.
    fn tls_versions(&self) -> Result<(Option<usize>, Option<usize>), String> {
        let min_version = self.tls_version("tls-min-version")?;
        let max_version = self.tls_version("tls-max-version")?;
        if let (Some(min), Some(max)) = (min_version, max_version)
            && min > max
        {
            return Err(format!(
                "tls-min-version must not be higher than tls-max-version: {} > {}",
                TLS_VERSIONS[min], TLS_VERSIONS[max]
            ));
        }
        if max_version.is_some_and(|max| max < 2) {
            return Err(
                "tls-max-version below TLSv1.2 cannot be honoured: TLS 1.0 and 1.1 are not \
                    implemented (rustls offers TLS 1.2 and 1.3)"
                    .into(),
            );
        }
        Ok((min_version, max_version))
    }

    /// The `ssl-*` and `tls*` keys, and `--tls.insecure-skip-verify`.
    fn tls(&self) -> Result<Tls, String> {
        let skip_verify = self.sources.insecure_skip_verify
            || self.flag("ssl-skip-verfication")?
            || self.flag("ssl-skip-verification")?;
        let (min_version, max_version) = self.tls_versions()?;
        let ssl_ca = self.get("ssl-ca");
        let ssl_cert = self.get("ssl-cert");
        let ssl_key = self.get("ssl-key");
        let server_name = self.get("tls-server-name");
        let client_identity = match (ssl_cert.is_empty(), ssl_key.is_empty()) {
            (false, false) => Some((PathBuf::from(&ssl_cert), PathBuf::from(&ssl_key))),
            (true, true) => None,
            _ => return Err("ssl-cert and ssl-key must be given together".into()),
        };
        let custom = !ssl_ca.is_empty()
            || min_version.is_some()
            || max_version.is_some()
            || !server_name.is_empty()
            || client_identity.is_some();
        let settings = |verify: bool| TlsSettings {
            verify,
            ca: (!ssl_ca.is_empty()).then(|| PathBuf::from(&ssl_ca)),
            client_identity: client_identity.clone(),
            server_name: (!server_name.is_empty()).then(|| server_name.clone()),
        };
        Ok(if skip_verify {
            Tls::On(settings(false))
        } else if custom {
            Tls::On(settings(true))
        } else {
            match self.get("tls").as_str() {
                "" | "false" => Tls::Off,
                "true" => Tls::On(settings(true)),
                "skip-verify" | "preferred" => Tls::On(settings(false)),
                other => {
                    return Err(format!(
                        "tls = {other:?}: use true, false, skip-verify or preferred"
                    ));
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources() -> Sources {
        Sources {
            mysqld_address: "localhost:3306".into(),
            environment: [("MYSQLD_EXPORTER_PASSWORD".to_owned(), "frompass".to_owned())]
                .into_iter()
                .collect(),
            ..Sources::default()
        }
    }

    fn load(text: &str) -> BTreeMap<String, ClientConfig> {
        modules(text, "test.cnf", &sources(), true).unwrap().0
    }

    #[test]
    fn children_inherit_from_client() {
        let m = load(
            "[client]\nuser = root\npassword = abc\nhost = server2\n[client.server1]\nuser = test\n",
        );
        assert_eq!(m["client"].user, "root");
        assert_eq!(m["client.server1"].user, "test");
        assert_eq!(m["client.server1"].password.expose(), "abc");
        assert_eq!(
            m["client.server1"].endpoint,
            Some(Endpoint::Tcp {
                host: "server2".into(),
                port: 3306
            })
        );
    }

    #[test]
    fn flags_and_environment_fill_client() {
        let m = modules(
            "",
            "missing.cnf",
            &Sources {
                mysqld_username: "exporter".into(),
                ..sources()
            },
            true,
        )
        .unwrap()
        .0;
        assert_eq!(m["client"].user, "exporter");
        assert_eq!(m["client"].password.expose(), "frompass");
        assert_eq!(
            m["client"].endpoint,
            Some(Endpoint::Tcp {
                host: "localhost".into(),
                port: 3306
            })
        );
        let m = modules(
            "[client]\nuser=a\n",
            "x",
            &Sources {
                mysqld_address: "unix:///run/my.sock".into(),
                ..sources()
            },
            true,
        )
        .unwrap()
        .0;
        assert_eq!(
            m["client"].endpoint,
            Some(Endpoint::Unix("/run/my.sock".into()))
        );
    }

    #[test]
    fn passwords_with_hashes_quotes_and_dollars() {
        let m = load(
            "[client]\nuser=u\npassword=pa#ss;word$$x\n[client.q]\npassword=\"quoted \\\" pw\"\n[client.e]\npassword=${MYSQLD_EXPORTER_PASSWORD}-x\n",
        );
        assert_eq!(m["client"].password.expose(), "pa#ss;word$$x");
        assert_eq!(m["client.q"].password.expose(), "quoted \" pw");
        assert_eq!(m["client.e"].password.expose(), "frompass-x");
    }

    #[test]
    fn tls_settings() {
        let m = load(
            "[client]\nuser=u\n[client.ca]\nssl-ca=/ca.pem\nssl_cert=/c.pem\nssl-key=/k.pem\n\
             [client.skip]\ntls=skip-verify\n[client.name]\ntls-server-name=db.example\n",
        );
        assert_eq!(m["client"].tls, Tls::Off);
        let Tls::On(ca) = &m["client.ca"].tls else {
            panic!("tls expected")
        };
        assert!(ca.verify);
        assert_eq!(ca.ca, Some(PathBuf::from("/ca.pem")));
        assert!(ca.client_identity.is_some());
        assert!(matches!(&m["client.skip"].tls, Tls::On(s) if !s.verify));
        assert!(
            matches!(&m["client.name"].tls, Tls::On(s) if s.server_name.as_deref() == Some("db.example"))
        );
    }

    #[test]
    fn bad_sections_are_rejected_with_reasons() {
        let (m, rejected) = modules(
            "[client]\npassword=x\n[mysqld]\ndatadir=/var/lib/mysql\n[client.p]\nuser=u\nport=abc\n\
             [client.v]\nuser=u\ntls-min-version=TLSv1.3\ntls-max-version=TLSv1.2\n\
             [client.old]\nuser=u\ntls-max-version=TLSv1.1\n[client.b]\nuser=u\nenable-cleartext-plugin=maybe\n",
            "x",
            &Sources::default(),
            true,
        )
        .unwrap();
        assert!(m.is_empty(), "{m:?}");
        assert_eq!(rejected.len(), 6, "{rejected:?}");
        assert!(rejected[0].contains("no user specified"));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = Ini::parse("[client]\nuser=a\n[broken\n", "f.cnf").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.cnf, line 3: section header without closing ']'"
        );
        assert!(Ini::parse("=x\n", "f").is_err());
        assert!(Ini::parse("[]\n", "f").is_err());
    }

    #[test]
    fn boolean_keys_comments_and_includes() {
        let ini = Ini::parse(
            "# comment\n; other\n!includedir /etc/mysql/conf.d/\n[client]\nuser = u\nskip-ssl\n",
            "f",
        )
        .unwrap();
        assert_eq!(ini.lookup("client", "skip-ssl"), Some("true"));
        assert_eq!(ini.lookup("client.x.y", "user"), Some("u"));
        assert_eq!(ini.lookup("other", "user"), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_files_never_panic(text in "(\\[[a-z.]{0,5}\\]?\n|[a-z_-]{0,6}( ?= ?)?[^\n]{0,10}\n){0,8}") {
            let _ = modules(&text, "p", &sources(), true);
        }
    }
}
