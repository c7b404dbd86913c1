//! The JSON API under `/api/usuarios`, described by `/api/openapi.json`.
//!
//! No cookies are read, and bodies must be `application/json` (415 otherwise): a cross-site form
//! cannot send that without a CORS preflight, which is what protects a JSON API from CSRF.
//! Errors are `{"error": "...", "field": "email" | null}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::db::{DbError, Usuario};
use crate::params;
use crate::request::{body_rejection, lang_of, param_error_message, parse_id};
use crate::respond::json_error;
use crate::state::AppState;
use crate::validate::{Problem, validate};

static OPENAPI: &str = include_str!("openapi.json");

#[derive(Serialize)]
struct UserJson<'a> {
    id: u64,
    nombre: &'a str,
    email: Option<&'a str>,
    created_at: Option<String>,
}

impl<'a> From<&'a Usuario> for UserJson<'a> {
    fn from(user: &'a Usuario) -> Self {
        UserJson {
            id: user.id,
            nombre: &user.nombre,
            email: user.email.as_deref(),
            created_at: user.created_at.map(|stamp| stamp.rfc3339()),
        }
    }
}

#[derive(Serialize)]
struct ListJson<'a> {
    items: Vec<UserJson<'a>>,
    page: u64,
    per_page: u32,
    total: u64,
    pages: u64,
}

fn json_ok<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn db_error(state: &AppState, headers: &HeaderMap, what: &str, err: &DbError) -> Response {
    state.log_db_error(what, err);
    let t = lang_of(headers).texts();
    match err {
        DbError::DuplicateEmail => {
            json_error(StatusCode::CONFLICT, t.email_duplicate, Some("email"))
        }
        DbError::Bug(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, t.internal, None),
        _ => json_error(StatusCode::SERVICE_UNAVAILABLE, t.unavailable, None),
    }
}

fn not_ready(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    (!state.is_ready()).then(|| {
        json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            lang_of(headers).texts().starting,
            None,
        )
    })
}

/// `GET /api/usuarios?page=&per_page=&q=`.
pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let t = lang_of(&headers).texts();
    let params = match params::parse(query.as_deref()) {
        Ok(params) => params,
        Err(err) => {
            let message = param_error_message(err, t);
            return json_error(StatusCode::BAD_REQUEST, message, Some(err.field()));
        }
    };
    if let Some(response) = not_ready(&state, &headers) {
        return response;
    }
    match state
        .db
        .list(params.search.as_deref(), params.per_page, params.offset())
        .await
    {
        Ok(listing) => json_ok(
            StatusCode::OK,
            &ListJson {
                items: listing.items.iter().map(UserJson::from).collect(),
                page: params.page,
                per_page: params.per_page,
                total: listing.total,
                pages: params::page_count(listing.total, params.per_page),
            },
        ),
        Err(err) => db_error(&state, &headers, "listing usuarios", &err),
    }
}

/// `GET /api/usuarios/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let t = lang_of(&headers).texts();
    let Some(id) = parse_id(&id) else {
        return json_error(StatusCode::NOT_FOUND, t.user_not_found, None);
    };
    if let Some(response) = not_ready(&state, &headers) {
        return response;
    }
    match state.db.get(id).await {
        Ok(Some(user)) => json_ok(StatusCode::OK, &UserJson::from(&user)),
        Ok(None) => json_error(StatusCode::NOT_FOUND, t.user_not_found, None),
        Err(err) => db_error(&state, &headers, "reading a user", &err),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|mime| mime.trim().to_ascii_lowercase())
        .is_some_and(|mime| {
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

/// A field of the body: absent or null is `None`; anything but a string is an error.
fn string_field<'a>(
    object: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, ()> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(()),
    }
}

/// `POST /api/usuarios` with `{"nombre": "...", "email": "..."}`: 201 with `Location`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let t = lang_of(&headers).texts();
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let (status, message) = body_rejection(&rejection, t);
            return json_error(status, message, None);
        }
    };
    if !is_json(&headers) {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            t.unsupported_media,
            None,
        );
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => return json_error(StatusCode::BAD_REQUEST, t.invalid_json, None),
    };
    let Value::Object(object) = value else {
        return json_error(StatusCode::UNPROCESSABLE_ENTITY, t.not_object, None);
    };
    let mut fields = [None, None];
    for (slot, name) in fields.iter_mut().zip(["nombre", "email"]) {
        match string_field(&object, name) {
            Ok(value) => *slot = value,
            Err(()) => {
                return json_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Problem::NotString.message(t),
                    Some(name),
                );
            }
        }
    }
    let user = match validate(fields[0], fields[1]) {
        Ok(user) => user,
        Err(errors) => {
            let first = errors[0];
            return json_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                first.problem.message(t),
                Some(first.field),
            );
        }
    };
    if let Some(response) = not_ready(&state, &headers) {
        return response;
    }
    match state.db.insert(&user).await {
        Ok(created) => {
            let mut response = json_ok(StatusCode::CREATED, &UserJson::from(&created));
            if let Ok(location) = HeaderValue::from_str(&format!("/api/usuarios/{}", created.id)) {
                response.headers_mut().insert(LOCATION, location);
            }
            response
        }
        Err(err) => db_error(&state, &headers, "adding a user", &err),
    }
}

/// `DELETE /api/usuarios/{id}`: 204, or 404 when there is no such user.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let t = lang_of(&headers).texts();
    let Some(id) = parse_id(&id) else {
        return json_error(StatusCode::NOT_FOUND, t.user_not_found, None);
    };
    if let Some(response) = not_ready(&state, &headers) {
        return response;
    }
    match state.db.delete(id).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => json_error(StatusCode::NOT_FOUND, t.user_not_found, None),
        Err(err) => db_error(&state, &headers, "deleting a user", &err),
    }
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        OPENAPI,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        for (value, expected) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            headers.insert(CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), expected, "{value}");
        }
    }

    #[test]
    fn openapi_document_is_json_with_every_route() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/usuarios"));
        assert!(paths.contains_key("/api/usuarios/{id}"));
        for method in ["get", "post"] {
            assert!(paths["/api/usuarios"].get(method).is_some());
        }
        for method in ["get", "delete"] {
            assert!(paths["/api/usuarios/{id}"].get(method).is_some());
        }
    }
}
