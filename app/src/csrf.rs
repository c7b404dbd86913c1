//! CSRF protection for the HTML forms: a double-submit token.
//!
//! The token lives in a `SameSite=Strict`, `HttpOnly` cookie and in a hidden field of every form;
//! a POST is accepted only when both are present and equal. Nothing is stored server-side, so it
//! works across instances behind a load balancer without shared state or a shared secret. A
//! browser's `Sec-Fetch-Site: cross-site` is refused outright as a second line of defence. The
//! JSON API needs none of this: it reads no cookies and demands `application/json`, which a form
//! on another site cannot send without a CORS preflight that this app never grants.

use base64::Engine as _;
use http::HeaderMap;
use http::header::{COOKIE, SET_COOKIE};

pub const COOKIE_NAME: &str = "octo_csrf";
pub const FIELD_NAME: &str = "csrf_token";
/// 32 random bytes in unpadded base64url.
const TOKEN_LEN: usize = 43;

/// The token of a request: the cookie's if it has a well-formed one, else a fresh one to set.
#[derive(Debug, Clone)]
pub struct CsrfToken {
    pub value: String,
    pub is_new: bool,
}

impl CsrfToken {
    pub fn for_request(headers: &HeaderMap) -> Result<CsrfToken, getrandom::Error> {
        if let Some(value) = from_cookie(headers) {
            return Ok(CsrfToken {
                value,
                is_new: false,
            });
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(CsrfToken {
            value: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            is_new: true,
        })
    }

    /// Adds the `Set-Cookie` header when the token is new; `Secure` when the request came over
    /// HTTPS through a proxy that says so (`X-Forwarded-Proto: https`).
    pub fn set_cookie(&self, request: &HeaderMap, response: &mut HeaderMap) {
        if !self.is_new {
            return;
        }
        let secure = request
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
        let cookie = format!(
            "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict{}",
            self.value,
            if secure { "; Secure" } else { "" }
        );
        if let Ok(value) = cookie.parse() {
            response.append(SET_COOKIE, value);
        }
    }
}

fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && well_formed(value))
        .map(|(_, value)| value.to_owned())
}

/// Whether a form POST carries a valid token.
pub fn verify(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if cross_site {
        return false;
    }
    match (from_cookie(headers), submitted) {
        (Some(cookie), Some(field)) => constant_time_eq(cookie.as_bytes(), field.as_bytes()),
        _ => false,
    }
}

/// Compares without an early exit so the time taken does not reveal how much of a guess was
/// right. Hand-written: four lines, and the `subtle` crate would be a dependency for them.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    #[test]
    fn fresh_token_then_cookie_round_trip() {
        let token = CsrfToken::for_request(&HeaderMap::new()).unwrap();
        assert!(token.is_new);
        assert!(well_formed(&token.value));
        let mut response = HeaderMap::new();
        token.set_cookie(&HeaderMap::new(), &mut response);
        let set = response.get(SET_COOKIE).unwrap().to_str().unwrap();
        assert!(set.contains("SameSite=Strict") && set.contains("HttpOnly"));
        assert!(!set.contains("Secure"));
        let mut behind_tls = HeaderMap::new();
        token.set_cookie(&headers(&[("x-forwarded-proto", "https")]), &mut behind_tls);
        assert!(
            behind_tls[SET_COOKIE]
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
        let cookie = format!("other=1; {COOKIE_NAME}={}", token.value);
        let request = headers(&[("cookie", &cookie)]);
        let again = CsrfToken::for_request(&request).unwrap();
        assert!(!again.is_new);
        assert_eq!(again.value, token.value);
        assert!(verify(&request, Some(&token.value)));
        assert!(!verify(&request, None));
        assert!(!verify(&request, Some("x")));
        assert!(!verify(&HeaderMap::new(), Some(&token.value)));
        let cross = headers(&[("cookie", &cookie), ("sec-fetch-site", "cross-site")]);
        assert!(!verify(&cross, Some(&token.value)));
    }

    #[test]
    fn malformed_cookie_is_replaced() {
        let request = headers(&[("cookie", "octo_csrf=short")]);
        assert!(CsrfToken::for_request(&request).unwrap().is_new);
        assert!(!verify(&request, Some("short")));
    }
}
