//! The admin credential that adding and deleting users need where it is configured: HTTP Basic
//! authentication (what an API client and a browser both speak; the browser asks for it when a
//! form is sent), the password read from a file (a Docker or Kubernetes secret).
//!
//! The password is not kept: only an HMAC of `user:password` under a key drawn at start-up,
//! which `ring::hmac::verify` compares with the HMAC of what a request sends in constant time,
//! whatever the lengths. A generated secret is the expected password, so no slow hash (bcrypt)
//! is needed, and none can be made to queue up requests.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use ring::hmac;

/// What `WWW-Authenticate` says to a request without the credential.
pub const CHALLENGE: &str = "Basic realm=\"octo-app admin\", charset=\"UTF-8\"";

/// Why the admin credential could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is empty; put the admin password in it", path.display())]
    Empty { path: PathBuf },
    #[error("the admin user name must be non-empty and without `:` (HTTP Basic cannot carry it)")]
    BadUser,
    #[error("no randomness to protect the admin password in memory: {0}")]
    Random(getrandom::Error),
}

/// The user and password that writes need. Its `Debug` shows the user only.
#[derive(Clone)]
pub struct AdminCredential {
    user: String,
    key: hmac::Key,
    expected: Vec<u8>,
}

impl std::fmt::Debug for AdminCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminCredential({}:<secret>)", self.user)
    }
}

impl AdminCredential {
    pub fn new(user: &str, password: &str) -> Result<AdminCredential, CredentialError> {
        if user.is_empty() || user.contains(':') {
            return Err(CredentialError::BadUser);
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(CredentialError::Random)?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, &secret);
        let expected = hmac::sign(&key, format!("{user}:{password}").as_bytes())
            .as_ref()
            .to_vec();
        Ok(AdminCredential {
            user: user.to_owned(),
            key,
            expected,
        })
    }

    /// `user` with the password in `path`; a trailing newline is not part of it.
    pub fn from_file(user: &str, path: &Path) -> Result<AdminCredential, CredentialError> {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialError::Read {
            path: path.to_owned(),
            source,
        })?;
        let password = text.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            return Err(CredentialError::Empty {
                path: path.to_owned(),
            });
        }
        AdminCredential::new(user, password)
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether the request's `Authorization: Basic` header carries this user and password.
    pub fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(sent) = basic_credentials(headers) else {
            return false;
        };
        hmac::verify(&self.key, &sent, &self.expected).is_ok()
    }
}

/// The decoded `user:password` bytes of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<Vec<u8>> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> HeaderMap {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, format!("Basic {encoded}").parse().unwrap());
        headers
    }

    #[test]
    fn only_the_exact_user_and_password_pass() {
        let admin = AdminCredential::new("admin", "s3cr3t:with colon").unwrap();
        assert!(admin.accepts(&basic("admin", "s3cr3t:with colon")));
        assert!(!admin.accepts(&basic("admin", "s3cr3t:with colo")));
        assert!(!admin.accepts(&basic("admin", "s3cr3t:with colonX")));
        assert!(!admin.accepts(&basic("root", "s3cr3t:with colon")));
        assert!(!admin.accepts(&basic("", "")));
        assert!(!admin.accepts(&HeaderMap::new()));
        let mut bearer = HeaderMap::new();
        bearer.insert(AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert!(!admin.accepts(&bearer));
        let mut garbage = HeaderMap::new();
        garbage.insert(AUTHORIZATION, "Basic %%%".parse().unwrap());
        assert!(!admin.accepts(&garbage));
        let mut lower = basic("admin", "s3cr3t:with colon");
        let value = lower[AUTHORIZATION]
            .to_str()
            .unwrap()
            .replace("Basic", "basic");
        lower.insert(AUTHORIZATION, value.parse().unwrap());
        assert!(admin.accepts(&lower));
        assert_eq!(format!("{admin:?}"), "AdminCredential(admin:<secret>)");
    }

    #[test]
    fn files_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, "hunter22\n").unwrap();
        let admin = AdminCredential::from_file("admin", &file).unwrap();
        assert!(admin.accepts(&basic("admin", "hunter22")));
        std::fs::write(&file, "\n").unwrap();
        let err = AdminCredential::from_file("admin", &file).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
        let missing = dir.path().join("missing");
        let err = AdminCredential::from_file("admin", &missing).unwrap_err();
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );
        assert!(AdminCredential::new("a:b", "x").is_err());
        assert!(AdminCredential::new("", "x").is_err());
    }
}
