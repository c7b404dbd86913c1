//! The gate in front of every request that can change something (any method but GET, HEAD,
//! OPTIONS and TRACE), pages and API alike, so a write route added later is covered too:
//!
//! 1. a browser's `Sec-Fetch-Site` must say `same-origin` or `none` (403 otherwise);
//! 2. where an admin credential is configured, the request must carry it (401 with a Basic
//!    challenge, which makes a browser ask for it and send the form again).
//!
//! The forms' CSRF token is checked after this, by the page handlers, which read the body.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, StatusCode};

use crate::credential::CHALLENGE;
use crate::csrf;
use crate::request::lang_of;
use crate::respond::{error_page, json_error};
use crate::state::AppState;

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method().is_safe() {
        return next.run(request).await;
    }
    let headers = request.headers();
    let lang = lang_of(headers);
    let t = lang.texts();
    let api = request.uri().path().starts_with("/api/");
    let refuse = |status, message| {
        if api {
            json_error(status, message, None)
        } else {
            error_page(&state, lang, status, message)
        }
    };
    if !csrf::fetch_site_allows_write(headers) {
        return refuse(StatusCode::FORBIDDEN, t.cross_site);
    }
    if let Some(admin) = &state.admin
        && !admin.accepts(headers)
    {
        let mut response = refuse(StatusCode::UNAUTHORIZED, t.admin_required);
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
        return response;
    }
    next.run(request).await
}
