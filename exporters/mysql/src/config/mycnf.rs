//! The my.cnf file as mysqld_exporter reads it (gopkg.in/ini.v1 with `AllowBooleanKeys`,
//! `IgnoreInlineComment` and quote stripping): every section is an auth module, and a dotted
//! section (`[client.servers]`) inherits the keys it lacks from its parents (`[client]`).
//!
//! Hand-written rather than with an INI crate: the semantics that matter here (parent lookup
//! through dots, `#` kept inside values so passwords survive, `key` alone meaning true,
//! `!include` lines skipped) are go-ini's, and no crate has that combination.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::client::{ClientConfig, DEFAULT_MODULE, Endpoint, Secret, ServerPublicKey};
use super::error::ConfigError;
use super::public_key;
use super::sources::Sources;
use super::tls_options::{self, SectionError, SectionKeys};

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

    /// The keys of `section` and of its dotted parents.
    fn names(&self, section: &str) -> Vec<String> {
        let mut names = std::collections::BTreeSet::new();
        let mut name = section;
        loop {
            if let Some((_, keys)) = self.sections.iter().find(|(n, _)| n == name) {
                names.extend(keys.keys().cloned());
            }
            match name.rfind('.') {
                Some(dot) => name = &name[..dot],
                None => return names.into_iter().collect(),
            }
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

/// Every valid section as an auth module, and a message per rejected one; an error when a
/// section asks for a protection that would not be given (see [`tls_options`]). With `apply_flags`,
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
            Err(SectionError::Refuse(reason)) => {
                return Err(ConfigError::Refused {
                    path: path.to_owned(),
                    section: name,
                    reason,
                });
            }
            Err(SectionError::Skip(reason)) => {
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

fn section_config(
    ini: &Ini,
    section: &str,
    sources: &Sources,
) -> Result<ClientConfig, SectionError> {
    let section = Section {
        ini,
        name: section,
        sources,
    };
    let user = section.get("user");
    if user.is_empty() {
        return Err("no user specified in section or parent".to_owned().into());
    }
    let endpoint = section.endpoint()?;
    let tls = tls_options::tls(&section, sources.insecure_skip_verify)?;
    Ok(ClientConfig {
        user,
        password: Secret::new(section.get("password")),
        endpoint,
        database: None,
        tls,
        cleartext_passwords: section.flag("enable-cleartext-plugin")?,
        old_passwords: false,
        server_public_key: section.server_public_key()?,
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

impl SectionKeys for Section<'_> {
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

    fn names(&self) -> Vec<String> {
        self.ini.names(self.name)
    }
}

impl Section<'_> {
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

    /// libmysqlclient's `server-public-key-path` (which wins) and `get-server-public-key`.
    fn server_public_key(&self) -> Result<ServerPublicKey, SectionError> {
        let path = self.get("server-public-key-path");
        if !path.is_empty() {
            return public_key::read(Path::new(&path))
                .map(ServerPublicKey::Known)
                .map_err(SectionError::Refuse);
        }
        Ok(if self.flag("get-server-public-key")? {
            ServerPublicKey::Request
        } else {
            ServerPublicKey::Refuse
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::client::Tls;

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
    fn tls_options_that_cannot_be_enforced_refuse_start_up() {
        for (line, key) in [
            ("tls-min-version = TLSv1.3", "tls-min-version"),
            ("tls-max-version = TLSv1.2", "tls-max-version"),
            ("ssl-cipher = AES128-SHA", "ssl-cipher"),
            (
                "tls-ciphersuites = TLS_AES_128_GCM_SHA256",
                "tls-ciphersuites",
            ),
            ("tls-version = TLSv1.3", "tls-version"),
            ("ssl-capath = /etc/ssl/certs", "ssl-capath"),
            ("ssl-crl = /etc/mysql/crl.pem", "ssl-crl"),
            ("ssl_crlpath = /etc/mysql/crl", "ssl-crlpath"),
            ("ssl-mode = VERIFY_CA", "ssl-mode"),
            ("ssl-mode = SOMETIMES", "ssl-mode"),
            ("ssl-fips-mode = ON", "ssl-fips-mode"),
            ("tls-sni-servername = db", "tls-sni-servername"),
        ] {
            let text = format!("[client]\nuser = u\n[client.db2]\n{line}\n");
            let err = modules(&text, "exporter.cnf", &sources(), true)
                .map(|(m, rejected)| format!("accepted: {m:?} {rejected:?}"))
                .expect_err(line)
                .to_string();
            assert!(
                err.contains("exporter.cnf") && err.contains("[client.db2]") && err.contains(key),
                "{line}: {err}"
            );
        }
    }

    #[test]
    fn mysql_and_mariadb_tls_keys_are_enforced() {
        let m = load(
            "[client]\nuser=u\n[client.off]\nssl-mode=disabled\n[client.req]\nssl-mode=REQUIRED\n\
             [client.id]\nssl-mode=VERIFY_IDENTITY\n[client.maria]\nssl\n\
             [client.mariav]\nssl-verify-server-cert\n[client.skip]\nskip-ssl\n\
             [client.range]\ntls-min-version=TLSv1.2\ntls-max-version=TLSv1.3\n\
             tls-version=TLSv1.2,TLSv1.3\n[client.pref]\ntls=preferred\nssl-mode=VERIFY_IDENTITY\n",
        );
        assert_eq!(m["client.off"].tls, Tls::Off);
        assert_eq!(m["client.skip"].tls, Tls::Off);
        assert!(matches!(&m["client.req"].tls, Tls::On(s) if !s.verify));
        assert!(matches!(&m["client.maria"].tls, Tls::On(s) if !s.verify));
        assert!(matches!(&m["client.id"].tls, Tls::On(s) if s.verify));
        assert!(matches!(&m["client.mariav"].tls, Tls::On(s) if s.verify));
        assert!(matches!(&m["client.range"].tls, Tls::On(s) if s.verify));
        assert!(matches!(&m["client.pref"].tls, Tls::On(s) if s.verify));
        // The section's DISABLED wins over the exporter-wide flag.
        let (m, _) = modules(
            "[client]\nuser=u\nssl-mode=DISABLED\n",
            "x",
            &Sources {
                insecure_skip_verify: true,
                ..sources()
            },
            true,
        )
        .unwrap();
        assert_eq!(m["client"].tls, Tls::Off);
    }

    #[test]
    fn contradicting_tls_keys_refuse_start_up() {
        for section in [
            "ssl-mode=DISABLED\nssl-ca=/ca.pem",
            "ssl-mode=VERIFY_IDENTITY\nssl-skip-verification",
            "ssl\ntls=false",
            "skip-ssl\ntls=true",
        ] {
            let text = format!("[client]\nuser=u\n{section}\n");
            let err = modules(&text, "x.cnf", &sources(), true)
                .map(|_| ())
                .unwrap_err();
            assert!(err.to_string().contains("contradicts"), "{section}: {err}");
        }
        let err = modules(
            "[client]\nuser=u\nssl-mode=VERIFY_IDENTITY\n",
            "x.cnf",
            &Sources {
                insecure_skip_verify: true,
                ..sources()
            },
            true,
        )
        .map(|_| ())
        .unwrap_err();
        assert!(
            err.to_string().contains("--tls.insecure-skip-verify"),
            "{err}"
        );
    }

    #[test]
    fn server_public_key_options() {
        use crate::config::client::ServerPublicKey;
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("key.pem");
        std::fs::write(
            &good,
            "-----BEGIN RSA PUBLIC KEY-----\nMAoCAwEAAQIDAQAB\n-----END RSA PUBLIC KEY-----\n",
        )
        .unwrap();
        let m = load(&format!(
            "[client]\nuser=u\n[client.get]\nget-server-public-key\n\
             [client.path]\nserver-public-key-path={}\nget-server-public-key\n",
            good.display()
        ));
        assert_eq!(m["client"].server_public_key, ServerPublicKey::Refuse);
        assert_eq!(m["client.get"].server_public_key, ServerPublicKey::Request);
        assert!(matches!(
            &m["client.path"].server_public_key,
            ServerPublicKey::Known(pem) if pem.contains("RSA PUBLIC KEY")
        ));
        for path in [dir.path().join("missing.pem"), dir.path().to_path_buf()] {
            let text = format!(
                "[client]\nuser=u\nserver-public-key-path={}\n",
                path.display()
            );
            let err = modules(&text, "x.cnf", &sources(), true)
                .map(|_| ())
                .unwrap_err();
            assert!(err.to_string().contains("server-public-key-path"), "{err}");
        }
        std::fs::write(&good, "not a key").unwrap();
        let text = format!(
            "[client]\nuser=u\nserver-public-key-path={}\n",
            good.display()
        );
        assert!(modules(&text, "x.cnf", &sources(), true).is_err());
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
