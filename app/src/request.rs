//! What the pages and the API read from a request alike: its language, user ids from the path,
//! and the texts for a request they refuse.

use axum::extract::rejection::BytesRejection;
use http::header::ACCEPT_LANGUAGE;
use http::{HeaderMap, StatusCode};

use crate::i18n::{Lang, Texts};
use crate::params::ParamError;

/// The language the request prefers (`Accept-Language`), Spanish unless it is English.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::negotiate(
        headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok()),
    )
}

/// User ids are positive integers; anything else names no user.
pub fn parse_id(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().filter(|id| *id > 0)
}

/// The message for a page or page size that is not a positive integer.
pub fn param_error_message(err: ParamError, t: &'static Texts) -> &'static str {
    match err {
        ParamError::Page => t.bad_page,
        ParamError::PerPage => t.bad_per_page,
    }
}

/// The status and message for a body that could not be read (over the limit, or cut off).
pub fn body_rejection(rejection: &BytesRejection, t: &'static Texts) -> (StatusCode, &'static str) {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        t.too_large
    } else {
        t.bad_request
    };
    (status, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id("42"), Some(42));
        assert_eq!(parse_id("0"), None);
        assert_eq!(parse_id("-1"), None);
        assert_eq!(parse_id("1e3"), None);
        assert_eq!(parse_id("99999999999999999999999"), None);
    }
}
