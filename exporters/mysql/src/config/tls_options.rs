//! my.cnf's TLS keys for one section. Each is enforced, or the file is refused: a key that is
//! read and then not acted upon (a minimum version the TLS stack does not honour, a cipher list,
//! a CRL) would leave the operator believing in a protection the connection does not have.
//!
//! Enforced: upstream's `ssl-ca`, `ssl-cert`, `ssl-key`, `ssl-skip-verfication` (and the right
//! spelling), `tls`, `tls-server-name`, `tls-min-version`/`tls-max-version` as far as rustls's
//! fixed TLS 1.2 + 1.3 satisfies them; MySQL's `ssl-mode` (`DISABLED`, `PREFERRED`, `REQUIRED`,
//! `VERIFY_IDENTITY`) and `tls-version`; MariaDB's `ssl`, `skip-ssl` and
//! `ssl-verify-server-cert`. Any other `ssl*`/`tls*` key refuses the file.

use std::path::PathBuf;

use super::client::{Tls, TlsSettings};

/// Why a section cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionError {
    /// The section is skipped with a warning (upstream's treatment of a section it cannot use).
    Skip(String),
    /// The whole file is refused: the section asks for a protection that would not be given.
    Refuse(String),
}

impl From<String> for SectionError {
    fn from(reason: String) -> Self {
        SectionError::Skip(reason)
    }
}

/// One section's keys, inherited from its dotted parents.
pub trait SectionKeys {
    /// The value, `${VAR}` expanded; empty when absent.
    fn get(&self, key: &str) -> String;
    /// A boolean key (absent is false).
    fn flag(&self, key: &str) -> Result<bool, String>;
    /// Every key the section has, its own and its parents'.
    fn names(&self) -> Vec<String>;
}

const TLS_VERSIONS: [&str; 4] = ["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
/// Indexes in [`TLS_VERSIONS`] of what rustls offers, always both.
const TLS_1_2: usize = 2;
const TLS_1_3: usize = 3;

const HANDLED: [&str; 14] = [
    "ssl-ca",
    "ssl-cert",
    "ssl-key",
    "ssl-skip-verfication",
    "ssl-skip-verification",
    "tls",
    "tls-server-name",
    "tls-min-version",
    "tls-max-version",
    "tls-version",
    "ssl-mode",
    "ssl",
    "skip-ssl",
    "ssl-verify-server-cert",
];

/// Why an `ssl*`/`tls*` key not in [`HANDLED`] cannot be honoured.
fn unsupported(key: &str) -> Option<&'static str> {
    if HANDLED.contains(&key) || !(key.starts_with("ssl") || key.starts_with("tls")) {
        return None;
    }
    Some(match key {
        "ssl-cipher" | "tls-ciphersuites" | "tls-cipher" | "ssl-ciphers" => {
            "the cipher suites are rustls's defaults for TLS 1.2 and 1.3 and cannot be chosen"
        }
        "ssl-capath" => "only ssl-ca (one file of CA certificates) is supported",
        "ssl-crl" | "ssl-crlpath" => "certificate revocation lists are not checked",
        "tls-sni-servername" => "use tls-server-name for the name to send and verify",
        "ssl-fips-mode" => "there is no FIPS mode",
        _ => "this exporter does not implement it",
    })
}

fn version(keys: &impl SectionKeys, key: &str) -> Result<Option<usize>, String> {
    match keys.get(key).as_str() {
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

/// `tls-min-version`, `tls-max-version` and `tls-version` against what rustls offers: TLS 1.2
/// and 1.3, always both (mysql_async builds the TLS configuration and cannot narrow it).
fn versions(keys: &impl SectionKeys) -> Result<bool, SectionError> {
    let min_version = version(keys, "tls-min-version")?;
    let max_version = version(keys, "tls-max-version")?;
    if let (Some(min), Some(max)) = (min_version, max_version)
        && min > max
    {
        return Err(SectionError::Skip(format!(
            "tls-min-version must not be higher than tls-max-version: {} > {}",
            TLS_VERSIONS[min], TLS_VERSIONS[max]
        )));
    }
    if max_version.is_some_and(|max| max < TLS_1_2) {
        return Err(SectionError::Skip(
            "tls-max-version below TLSv1.2 cannot be honoured: TLS 1.0 and 1.1 are not \
             implemented (rustls offers TLS 1.2 and 1.3)"
                .into(),
        ));
    }
    if min_version == Some(TLS_1_3) {
        return Err(SectionError::Refuse(
            "tls-min-version = TLSv1.3 cannot be enforced: TLS 1.2 is always offered too; \
             remove it, or set TLSv1.2"
                .into(),
        ));
    }
    if max_version == Some(TLS_1_2) {
        return Err(SectionError::Refuse(
            "tls-max-version = TLSv1.2 cannot be enforced: TLS 1.3 is always offered too; \
             remove it, or set TLSv1.3"
                .into(),
        ));
    }
    let list = keys.get("tls-version");
    if !list.is_empty() {
        let mut permitted = [false; 4];
        for name in list.split(',').map(str::trim) {
            let index = TLS_VERSIONS
                .iter()
                .position(|v| *v == name)
                .ok_or_else(|| {
                    SectionError::Refuse(format!(
                        "tls-version: {name:?} is not one of {}",
                        TLS_VERSIONS.join(", ")
                    ))
                })?;
            permitted[index] = true;
        }
        if !(permitted[TLS_1_2] && permitted[TLS_1_3]) {
            return Err(SectionError::Refuse(format!(
                "tls-version = {list} cannot be enforced: TLS 1.2 and 1.3 are always both \
                 offered; list both, or remove it"
            )));
        }
    }
    Ok(min_version.is_some() || max_version.is_some())
}

/// What MySQL's and MariaDB's own keys ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Off,
    On { verify: bool },
}

/// `ssl-mode`, `ssl`, `skip-ssl` and `ssl-verify-server-cert`, with the key that said so.
fn wanted(keys: &impl SectionKeys) -> Result<Option<(Wanted, String)>, SectionError> {
    let mode = keys.get("ssl-mode");
    if !mode.is_empty() {
        let wanted = match mode.to_ascii_uppercase().as_str() {
            "DISABLED" => Wanted::Off,
            // PREFERRED falls back to plain text in MySQL's client; here, as `tls = preferred`,
            // it needs a server with TLS.
            "PREFERRED" | "REQUIRED" => Wanted::On { verify: false },
            "VERIFY_IDENTITY" => Wanted::On { verify: true },
            "VERIFY_CA" => {
                return Err(SectionError::Refuse(
                    "ssl-mode = VERIFY_CA cannot be enforced: the certificate chain is not \
                     verified without the host name; use VERIFY_IDENTITY (with \
                     tls-server-name when the certificate names another host)"
                        .into(),
                ));
            }
            _ => {
                return Err(SectionError::Refuse(format!(
                    "ssl-mode = {mode:?}: use DISABLED, PREFERRED, REQUIRED or VERIFY_IDENTITY"
                )));
            }
        };
        return Ok(Some((wanted, format!("ssl-mode = {mode}"))));
    }
    if keys.flag("ssl-verify-server-cert")? {
        return Ok(Some((
            Wanted::On { verify: true },
            "ssl-verify-server-cert".into(),
        )));
    }
    if keys.flag("skip-ssl")? {
        return Ok(Some((Wanted::Off, "skip-ssl".into())));
    }
    Ok(match keys.get("ssl").as_str() {
        "" => None,
        value => Some(if keys.flag("ssl")? {
            (Wanted::On { verify: false }, "ssl".into())
        } else {
            (Wanted::Off, format!("ssl = {value}"))
        }),
    })
}

/// The section's TLS settings; `insecure_skip_verify` is `--tls.insecure-skip-verify`.
pub fn tls(keys: &impl SectionKeys, insecure_skip_verify: bool) -> Result<Tls, SectionError> {
    let mut names = keys.names();
    names.sort();
    if let Some((name, hint)) = names
        .iter()
        .find_map(|name| unsupported(name).map(|hint| (name, hint)))
    {
        return Err(SectionError::Refuse(format!(
            "{name} cannot be enforced: {hint}; remove it"
        )));
    }
    let skip_verify_key =
        keys.flag("ssl-skip-verfication")? || keys.flag("ssl-skip-verification")?;
    let custom_versions = versions(keys)?;
    let ssl_ca = keys.get("ssl-ca");
    let ssl_cert = keys.get("ssl-cert");
    let ssl_key = keys.get("ssl-key");
    let server_name = keys.get("tls-server-name");
    let client_identity = match (ssl_cert.is_empty(), ssl_key.is_empty()) {
        (false, false) => Some((PathBuf::from(&ssl_cert), PathBuf::from(&ssl_key))),
        (true, true) => None,
        _ => {
            return Err("ssl-cert and ssl-key must be given together"
                .to_owned()
                .into());
        }
    };
    let custom = !ssl_ca.is_empty()
        || custom_versions
        || !server_name.is_empty()
        || client_identity.is_some();
    let settings = |verify: bool| TlsSettings {
        verify,
        ca: (!ssl_ca.is_empty()).then(|| PathBuf::from(&ssl_ca)),
        client_identity: client_identity.clone(),
        server_name: (!server_name.is_empty()).then(|| server_name.clone()),
    };
    let tls_key = keys.get("tls");
    let from_upstream_keys = if insecure_skip_verify || skip_verify_key {
        Tls::On(settings(false))
    } else if custom {
        Tls::On(settings(true))
    } else {
        match tls_key.as_str() {
            "" | "false" => Tls::Off,
            "true" => Tls::On(settings(true)),
            "skip-verify" | "preferred" => Tls::On(settings(false)),
            other => {
                return Err(
                    format!("tls = {other:?}: use true, false, skip-verify or preferred").into(),
                );
            }
        }
    };
    let Some((wanted, said_by)) = wanted(keys)? else {
        return Ok(from_upstream_keys);
    };
    let section_asks_for_tls =
        skip_verify_key || custom || !matches!(tls_key.as_str(), "" | "false");
    let contradiction = |other: &str| {
        SectionError::Refuse(format!("{said_by} contradicts {other}; keep one of them"))
    };
    match (wanted, from_upstream_keys) {
        (Wanted::Off, _) if section_asks_for_tls => {
            Err(contradiction("the section's other TLS settings"))
        }
        // The section's own choice wins over the exporter-wide flag, which is about verifying
        // "when using a TLS connection".
        (Wanted::Off, _) => Ok(Tls::Off),
        (Wanted::On { .. }, _) if tls_key == "false" => Err(contradiction("tls = false")),
        (Wanted::On { verify: true }, _) if skip_verify_key => {
            Err(contradiction("ssl-skip-verification"))
        }
        (Wanted::On { verify: true }, _) if insecure_skip_verify => {
            Err(contradiction("--tls.insecure-skip-verify"))
        }
        (Wanted::On { verify }, Tls::Off) => Ok(Tls::On(settings(verify))),
        (Wanted::On { verify }, Tls::On(mut current)) => {
            current.verify |= verify;
            Ok(Tls::On(current))
        }
    }
}
