//! CSRF protection for the HTML forms: a token signed with HMAC-SHA256 and bound to the
//! visitor's session cookie, and the `Sec-Fetch-Site` rule for every request that writes.
//!
//! The session cookie holds a random id (`SameSite=Strict`, `HttpOnly`); the form's hidden field
//! holds `HMAC(key, id)`. A POST is accepted only when the field is the signature of the cookie
//! it arrives with, so a token works for one session only and nobody without the key can make a
//! pair (a double-submit cookie, which this replaces, accepted any cookie and field that were
//! equal, so whoever could plant a cookie could forge both). Instances behind one load balancer
//! accept each other's tokens when they share the key (`--csrf-key-file`); without a file each
//! process draws its own. The JSON API needs no token: it demands `application/json`, which a
//! form on another site cannot send without a CORS preflight that this app never grants.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use http::HeaderMap;
use http::header::{COOKIE, SET_COOKIE};
use ring::hmac;

pub const SESSION_COOKIE: &str = "octo_session";
pub const FIELD_NAME: &str = "csrf_token";
/// A session id: 32 random bytes in unpadded base64url.
const SESSION_ID_LEN: usize = 43;
/// The shortest key accepted: as long as the HMAC-SHA256 output, as RFC 2104 recommends.
pub const MIN_KEY_LEN: usize = 32;
/// Separates this use of the key from any other the same secret may be put to.
const TOKEN_DOMAIN: &[u8] = b"octo-csrf-v1\0";

/// Why a CSRF key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} holds {len} bytes; a CSRF key needs at least {MIN_KEY_LEN} (e.g. `openssl rand -base64 48 > file`)",
        path.display()
    )]
    TooShort { path: PathBuf, len: usize },
    #[error("no randomness for a CSRF key: {0}")]
    Random(getrandom::Error),
}

/// The key that signs CSRF tokens. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct CsrfKey(hmac::Key);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(<secret>)")
    }
}

impl CsrfKey {
    /// A key from a file shared by every instance (a Docker or Kubernetes secret). Trailing
    /// whitespace is ignored, so `openssl rand -base64 48 > file` makes a good one.
    pub fn from_file(path: &Path) -> Result<CsrfKey, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        let secret = bytes.trim_ascii_end();
        if secret.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort {
                path: path.to_owned(),
                len: secret.len(),
            });
        }
        Ok(CsrfKey::from_secret(secret))
    }

    /// A key of this process alone: tokens it signs are refused by every other instance.
    pub fn generate() -> Result<CsrfKey, KeyError> {
        let mut secret = [0u8; MIN_KEY_LEN];
        getrandom::fill(&mut secret).map_err(KeyError::Random)?;
        Ok(CsrfKey::from_secret(&secret))
    }

    /// A key from secret bytes (tests, embedding); prefer [`CsrfKey::from_file`].
    pub fn from_secret(secret: &[u8]) -> CsrfKey {
        CsrfKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    fn message(session_id: &str) -> Vec<u8> {
        [TOKEN_DOMAIN, session_id.as_bytes()].concat()
    }

    /// The token the forms of `session` carry.
    pub fn token_for(&self, session: &Session) -> String {
        let tag = hmac::sign(&self.0, &CsrfKey::message(&session.id));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Whether a form POST carries the token of the session cookie it arrives with. The
    /// comparison takes the same time however much of a guess is right (`ring::hmac::verify`).
    pub fn verify(&self, headers: &HeaderMap, submitted: Option<&str>) -> bool {
        let (Some(session_id), Some(submitted)) = (session_from_cookie(headers), submitted) else {
            return false;
        };
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(submitted) else {
            return false;
        };
        hmac::verify(&self.0, &CsrfKey::message(&session_id), &tag).is_ok()
    }
}

/// The visitor's session: the cookie's id if it has a well-formed one, else a fresh one to set.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub is_new: bool,
}

impl Session {
    pub fn for_request(headers: &HeaderMap) -> Result<Session, getrandom::Error> {
        if let Some(id) = session_from_cookie(headers) {
            return Ok(Session { id, is_new: false });
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Session {
            id: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            is_new: true,
        })
    }

    /// Adds the `Set-Cookie` header when the session is new; `Secure` when the request came
    /// over HTTPS through a proxy that says so (`X-Forwarded-Proto: https`).
    pub fn set_cookie(&self, request: &HeaderMap, response: &mut HeaderMap) {
        if !self.is_new {
            return;
        }
        let secure = request
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
        let cookie = format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{}",
            self.id,
            if secure { "; Secure" } else { "" }
        );
        if let Ok(value) = cookie.parse() {
            response.append(SET_COOKIE, value);
        }
    }
}

fn well_formed(id: &str) -> bool {
    id.len() == SESSION_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn session_from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && well_formed(value))
        .map(|(_, value)| value.to_owned())
}

/// Whether a browser's `Sec-Fetch-Site` lets a request change anything: only `same-origin`
/// (a page of this app) and `none` (typed or bookmarked by the user) do. `same-site` is refused
/// too: a sibling subdomain is another application, and the one place a cookie could be planted
/// from. Without the header (curl, scripts, browsers from before 2023) the request passes on to
/// the other checks.
pub fn fetch_site_allows_write(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-site") {
        None => true,
        Some(value) => {
            let value = value.as_bytes();
            value.eq_ignore_ascii_case(b"same-origin") || value.eq_ignore_ascii_case(b"none")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn cookie_of(session: &Session) -> String {
        format!("other=1; {SESSION_COOKIE}={}", session.id)
    }

    #[test]
    fn fresh_session_then_cookie_round_trip() {
        let key = CsrfKey::generate().unwrap();
        let session = Session::for_request(&HeaderMap::new()).unwrap();
        assert!(session.is_new);
        assert!(well_formed(&session.id));
        let mut response = HeaderMap::new();
        session.set_cookie(&HeaderMap::new(), &mut response);
        let set = response.get(SET_COOKIE).unwrap().to_str().unwrap();
        assert!(set.contains("SameSite=Strict") && set.contains("HttpOnly"));
        assert!(!set.contains("Secure"));
        let mut behind_tls = HeaderMap::new();
        session.set_cookie(&headers(&[("x-forwarded-proto", "https")]), &mut behind_tls);
        assert!(
            behind_tls[SET_COOKIE]
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
        let request = headers(&[("cookie", &cookie_of(&session))]);
        let again = Session::for_request(&request).unwrap();
        assert!(!again.is_new);
        assert_eq!(again.id, session.id);
        let token = key.token_for(&session);
        assert_ne!(token, session.id, "the token is not the cookie");
        assert!(key.verify(&request, Some(&token)));
        assert!(!key.verify(&request, None));
        assert!(!key.verify(&request, Some("x")));
        assert!(!key.verify(&HeaderMap::new(), Some(&token)));
    }

    #[test]
    fn a_cookie_and_field_made_up_together_are_refused() {
        let key = CsrfKey::generate().unwrap();
        let planted = "A".repeat(SESSION_ID_LEN);
        let request = headers(&[("cookie", &format!("{SESSION_COOKIE}={planted}"))]);
        assert!(!key.verify(&request, Some(&planted)));
    }

    #[test]
    fn a_token_fits_one_session_and_one_key() {
        let key = CsrfKey::from_secret(&[7u8; 32]);
        let alice = Session::for_request(&HeaderMap::new()).unwrap();
        let mallory = Session::for_request(&HeaderMap::new()).unwrap();
        let alice_request = headers(&[("cookie", &cookie_of(&alice))]);
        assert!(!key.verify(&alice_request, Some(&key.token_for(&mallory))));
        let same_key = CsrfKey::from_secret(&[7u8; 32]);
        assert!(same_key.verify(&alice_request, Some(&key.token_for(&alice))));
        let other_key = CsrfKey::from_secret(&[8u8; 32]);
        assert!(!other_key.verify(&alice_request, Some(&key.token_for(&alice))));
    }

    #[test]
    fn malformed_cookie_is_replaced() {
        let key = CsrfKey::generate().unwrap();
        let request = headers(&[("cookie", "octo_session=short")]);
        assert!(Session::for_request(&request).unwrap().is_new);
        assert!(!key.verify(&request, Some("short")));
    }

    #[test]
    fn key_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = CsrfKey::from_file(&missing).unwrap_err().to_string();
        assert!(err.contains(&missing.display().to_string()), "{err}");
        let short = dir.path().join("short");
        std::fs::write(&short, "0123456789\n").unwrap();
        let err = CsrfKey::from_file(&short).unwrap_err().to_string();
        assert!(
            err.contains("10 bytes") && err.contains("at least 32"),
            "{err}"
        );
        let good = dir.path().join("good");
        std::fs::write(&good, format!("{}\n", "k".repeat(48))).unwrap();
        let from_file = CsrfKey::from_file(&good).unwrap();
        let session = Session::for_request(&HeaderMap::new()).unwrap();
        let request = headers(&[("cookie", &cookie_of(&session))]);
        // The trailing newline is not part of the key.
        let token = CsrfKey::from_secret("k".repeat(48).as_bytes()).token_for(&session);
        assert!(from_file.verify(&request, Some(&token)));
        assert_eq!(format!("{from_file:?}"), "CsrfKey(<secret>)");
    }

    #[test]
    fn sec_fetch_site() {
        assert!(fetch_site_allows_write(&HeaderMap::new()));
        for (value, allowed) in [
            ("same-origin", true),
            ("none", true),
            ("Same-Origin", true),
            ("same-site", false),
            ("cross-site", false),
            ("garbage", false),
        ] {
            let request = headers(&[("sec-fetch-site", value)]);
            assert_eq!(fetch_site_allows_write(&request), allowed, "{value}");
        }
    }
}
