//! The shapes of the answers the pages and the API share: a rendered page with the headers
//! every dynamic page gets, the error page, and the JSON error.

use askama::Template;
use axum::Json;
use axum::response::{Html, IntoResponse, Response};
use http::header::{CACHE_CONTROL, RETRY_AFTER, VARY};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use crate::i18n::{Lang, Texts};
use crate::state::{AppState, Layout};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'static Texts,
    layout: &'a Layout,
    status: u16,
    message: &'static str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    field: Option<&'a str>,
}

/// A rendered page with the headers every dynamic page gets.
pub fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(body) => {
            let mut response = (status, Html(body)).into_response();
            let headers = response.headers_mut();
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(VARY, HeaderValue::from_static("Accept-Language, Cookie"));
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "rendering a page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n").into_response()
        }
    }
}

/// The error page with `message`.
pub fn error_page(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    message: &'static str,
) -> Response {
    let page = ErrorPage {
        t: lang.texts(),
        layout: &state.layout,
        status: status.as_u16(),
        message,
    };
    retry_later_if_unavailable(status, html(status, page.render()))
}

/// A JSON error answer: `{"error": message, "field": field}`.
pub fn json_error(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    let body = ErrorBody {
        error: message,
        field,
    };
    retry_later_if_unavailable(status, (status, Json(body)).into_response())
}

/// A 503 tells the client when to try again.
fn retry_later_if_unavailable(status: StatusCode, mut response: Response) -> Response {
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}
