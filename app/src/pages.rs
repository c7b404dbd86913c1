//! The HTML pages: home, the user list with its add form and search, and the delete
//! confirmation. Every value is escaped by askama; every form POST is checked for the CSRF token
//! of its session.

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode, Uri};

use crate::csrf::{self, Session};
use crate::db::{DbError, Usuario};
use crate::i18n::{Lang, Texts};
use crate::params::{self, ListParams};
use crate::request::{body_rejection, lang_of, param_error_message, parse_id};
use crate::respond::{error_page, html, json_error};
use crate::state::{AppState, Layout};
use crate::validate::{FieldError, validate};

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    t: &'static Texts,
    layout: &'a Layout,
}

#[derive(Template)]
#[template(path = "usuarios.html")]
struct UsuariosPage<'a> {
    t: &'static Texts,
    layout: &'a Layout,
    flash: Option<&'static str>,
    form: FormState<'a>,
    csrf: &'a str,
    query: &'a str,
    per_page: u32,
    total: u64,
    users: &'a [Usuario],
    pages: Vec<PageLink>,
}

#[derive(Template)]
#[template(path = "confirm_delete.html")]
struct ConfirmDeletePage<'a> {
    t: &'static Texts,
    layout: &'a Layout,
    user: &'a Usuario,
    csrf: &'a str,
}

/// The add form as typed, with the error beside each field.
#[derive(Debug, Default)]
struct FormState<'a> {
    nombre: &'a str,
    email: &'a str,
    nombre_error: Option<&'static str>,
    email_error: Option<&'static str>,
}

impl FormState<'_> {
    fn has_errors(&self) -> bool {
        self.nombre_error.is_some() || self.email_error.is_some()
    }
}

#[derive(Debug)]
struct PageLink {
    label: String,
    href: Option<String>,
    active: bool,
}

/// Previous, first, last, two pages either side of the current one with gaps shown as "…", next.
fn page_links(t: &Texts, current: u64, count: u64, params: &ListParams) -> Vec<PageLink> {
    if count <= 1 {
        return Vec::new();
    }
    let href = |page: u64| {
        Some(format!(
            "/usuarios?{}",
            params::query_string(page, params.per_page, params.search.as_deref())
        ))
    };
    let mut links = vec![PageLink {
        label: t.previous.to_owned(),
        href: (current > 1)
            .then(|| href(current.min(count + 1) - 1))
            .flatten(),
        active: false,
    }];
    let mut previous = 0;
    for page in 1..=count {
        let shown = page == 1 || page == count || page.abs_diff(current) <= 2;
        if !shown {
            continue;
        }
        if page > previous + 1 {
            links.push(PageLink {
                label: "…".into(),
                href: None,
                active: false,
            });
        }
        links.push(PageLink {
            label: page.to_string(),
            href: href(page),
            active: page == current,
        });
        previous = page;
    }
    links.push(PageLink {
        label: t.next.to_owned(),
        href: (current < count).then(|| href(current + 1)).flatten(),
        active: false,
    });
    links
}

/// 503 while starting; `None` when the database is ready for requests.
fn not_ready(state: &AppState, lang: Lang) -> Option<Response> {
    (!state.is_ready()).then(|| {
        error_page(
            state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            lang.texts().starting,
        )
    })
}

fn db_error_page(state: &AppState, lang: Lang, what: &str, err: &DbError) -> Response {
    state.log_db_error(what, err);
    let t = lang.texts();
    match err {
        DbError::Bug(_) => error_page(state, lang, StatusCode::INTERNAL_SERVER_ERROR, t.internal),
        _ => error_page(state, lang, StatusCode::SERVICE_UNAVAILABLE, t.unavailable),
    }
}

/// The request's session and the CSRF token of its forms, or the 500 page if the system has no
/// randomness to start a session.
fn csrf_token(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
) -> Result<(Session, String), Box<Response>> {
    let session = Session::for_request(headers).map_err(|err| {
        tracing::error!(error = %err, "no randomness for a session id");
        Box::new(error_page(
            state,
            lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            lang.texts().internal,
        ))
    })?;
    let token = state.csrf.token_for(&session);
    Ok((session, token))
}

/// `GET /`.
pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let page = IndexPage {
        t: lang_of(&headers).texts(),
        layout: &state.layout,
    };
    html(StatusCode::OK, page.render())
}

/// `GET /usuarios`.
pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&headers);
    let t = lang.texts();
    let params = match params::parse(query.as_deref()) {
        Ok(params) => params,
        Err(err) => {
            let message = param_error_message(err, t);
            return error_page(&state, lang, StatusCode::BAD_REQUEST, message);
        }
    };
    let flash = match params.notice.as_deref() {
        Some("creado") => Some(t.flash_created),
        Some("eliminado") => Some(t.flash_deleted),
        _ => None,
    };
    let view = ListView {
        params: &params,
        flash,
        form: FormState::default(),
        status: StatusCode::OK,
    };
    render_list(&state, lang, &headers, view).await
}

/// What one answer with the list page shows besides the users.
struct ListView<'a> {
    params: &'a ListParams,
    flash: Option<&'static str>,
    form: FormState<'a>,
    status: StatusCode,
}

async fn render_list(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    view: ListView<'_>,
) -> Response {
    let ListView {
        params,
        flash,
        form,
        status,
    } = view;
    if let Some(response) = not_ready(state, lang) {
        return response;
    }
    let (session, token) = match csrf_token(state, lang, headers) {
        Ok(pair) => pair,
        Err(response) => return *response,
    };
    let listing = match state
        .db
        .list(params.search.as_deref(), params.per_page, params.offset())
        .await
    {
        Ok(listing) => listing,
        Err(err) => return db_error_page(state, lang, "listing usuarios", &err),
    };
    let t = lang.texts();
    let count = params::page_count(listing.total, params.per_page);
    let page = UsuariosPage {
        t,
        layout: &state.layout,
        flash,
        form,
        csrf: &token,
        query: params.search.as_deref().unwrap_or(""),
        per_page: params.per_page,
        total: listing.total,
        users: &listing.items,
        pages: page_links(t, params.page, count, params),
    };
    // Sized for the rows up front: growing a 40 KB page by doubling costs several copies.
    let mut body = String::with_capacity(8 * 1024 + listing.items.len() * 512);
    let rendered = page.render_into(&mut body).map(|()| body);
    let mut response = html(status, rendered);
    session.set_cookie(headers, response.headers_mut());
    response
}

/// The fields of a urlencoded form body (the first occurrence of each name wins).
#[derive(Debug, Default)]
struct FormFields {
    csrf: Option<String>,
    nombre: Option<String>,
    email: Option<String>,
}

impl FormFields {
    fn parse(body: &[u8]) -> FormFields {
        let mut fields = FormFields::default();
        for (key, value) in form_urlencoded::parse(body) {
            let slot = match key.as_ref() {
                csrf::FIELD_NAME => &mut fields.csrf,
                "nombre" => &mut fields.nombre,
                "email" => &mut fields.email,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        fields
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The checks every form POST passes after the write gate (`writes.rs`): body within the
/// limit, a urlencoded form, the CSRF token of the request's session.
fn read_form(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<FormFields, Box<Response>> {
    let t = lang.texts();
    let refuse = |status, message| Box::new(error_page(state, lang, status, message));
    let body = body.map_err(|rejection| {
        let (status, message) = body_rejection(&rejection, t);
        refuse(status, message)
    })?;
    if !is_form(headers) {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            t.unsupported_media,
        ));
    }
    let fields = FormFields::parse(&body);
    if !state.csrf.verify(headers, fields.csrf.as_deref()) {
        return Err(refuse(StatusCode::FORBIDDEN, t.csrf));
    }
    Ok(fields)
}

fn error_for<'e>(errors: &'e [FieldError], field: &str) -> Option<&'e FieldError> {
    errors.iter().find(|error| error.field == field)
}

/// `POST /usuarios`: adds a user, then redirects (303) to the list; invalid input re-renders the
/// form with what was typed (422), a taken e-mail too (409).
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = lang_of(&headers);
    let t = lang.texts();
    let fields = match read_form(&state, lang, &headers, body) {
        Ok(fields) => fields,
        Err(response) => return *response,
    };
    if let Some(response) = not_ready(&state, lang) {
        return response;
    }
    let first_page = ListParams {
        page: 1,
        per_page: params::DEFAULT_PER_PAGE,
        search: None,
        notice: None,
    };
    let typed = |nombre_error, email_error| FormState {
        nombre: fields.nombre.as_deref().unwrap_or(""),
        email: fields.email.as_deref().unwrap_or(""),
        nombre_error,
        email_error,
    };
    match validate(fields.nombre.as_deref(), fields.email.as_deref()) {
        Err(errors) => {
            let message = |field| error_for(&errors, field).map(|e| e.problem.message(t));
            let form = typed(message("nombre"), message("email"));
            let view = ListView {
                params: &first_page,
                flash: None,
                form,
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render_list(&state, lang, &headers, view).await
        }
        Ok(user) => match state.db.insert(&user).await {
            Ok(_) => Redirect::to("/usuarios?aviso=creado").into_response(),
            Err(DbError::DuplicateEmail) => {
                let form = typed(None, Some(t.email_duplicate));
                let view = ListView {
                    params: &first_page,
                    flash: None,
                    form,
                    status: StatusCode::CONFLICT,
                };
                render_list(&state, lang, &headers, view).await
            }
            Err(err) => db_error_page(&state, lang, "adding a user", &err),
        },
    }
}

/// `GET /usuarios/{id}/eliminar`: asks for confirmation.
pub async fn confirm_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&headers);
    let t = lang.texts();
    let Some(id) = parse_id(&id) else {
        return error_page(&state, lang, StatusCode::NOT_FOUND, t.user_not_found);
    };
    if let Some(response) = not_ready(&state, lang) {
        return response;
    }
    let (session, token) = match csrf_token(&state, lang, &headers) {
        Ok(pair) => pair,
        Err(response) => return *response,
    };
    match state.db.get(id).await {
        Ok(Some(user)) => {
            let page = ConfirmDeletePage {
                t,
                layout: &state.layout,
                user: &user,
                csrf: &token,
            };
            let mut response = html(StatusCode::OK, page.render());
            session.set_cookie(&headers, response.headers_mut());
            response
        }
        Ok(None) => error_page(&state, lang, StatusCode::NOT_FOUND, t.user_not_found),
        Err(err) => db_error_page(&state, lang, "reading a user", &err),
    }
}

/// `POST /usuarios/{id}/eliminar`: deletes, then redirects (303) to the list.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = lang_of(&headers);
    let t = lang.texts();
    if let Err(response) = read_form(&state, lang, &headers, body) {
        return *response;
    }
    let Some(id) = parse_id(&id) else {
        return error_page(&state, lang, StatusCode::NOT_FOUND, t.user_not_found);
    };
    if let Some(response) = not_ready(&state, lang) {
        return response;
    }
    match state.db.delete(id).await {
        Ok(true) => Redirect::to("/usuarios?aviso=eliminado").into_response(),
        Ok(false) => error_page(&state, lang, StatusCode::NOT_FOUND, t.user_not_found),
        Err(err) => db_error_page(&state, lang, "deleting a user", &err),
    }
}

/// Every path no route matches: a JSON 404 under `/api/`, a page elsewhere.
pub async fn not_found(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    if uri.path().starts_with("/api/") {
        return json_error(StatusCode::NOT_FOUND, lang.texts().not_found, None);
    }
    error_page(&state, lang, StatusCode::NOT_FOUND, lang.texts().not_found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::ES;

    fn labels(links: &[PageLink]) -> Vec<String> {
        links
            .iter()
            .map(|link| {
                if link.active {
                    format!("[{}]", link.label)
                } else {
                    link.label.clone()
                }
            })
            .collect()
    }

    #[test]
    fn pagination_window() {
        let params = params::parse(Some("per_page=10&q=a b")).unwrap();
        assert!(page_links(&ES, 1, 1, &params).is_empty());
        let links = page_links(&ES, 6, 20, &params);
        assert_eq!(
            labels(&links),
            [
                "Anterior",
                "1",
                "…",
                "4",
                "5",
                "[6]",
                "7",
                "8",
                "…",
                "20",
                "Siguiente"
            ]
        );
        assert_eq!(
            links[0].href.as_deref(),
            Some("/usuarios?page=5&per_page=10&q=a+b")
        );
        let first = page_links(&ES, 1, 3, &params);
        assert_eq!(labels(&first), ["Anterior", "[1]", "2", "3", "Siguiente"]);
        assert!(first[0].href.is_none());
        let last = page_links(&ES, 3, 3, &params);
        assert!(last.last().unwrap().href.is_none());
    }

    #[test]
    fn form_fields_first_wins() {
        let fields = FormFields::parse(b"nombre=a%20b&email=x%40y.z&nombre=second&csrf_token=t");
        assert_eq!(fields.nombre.as_deref(), Some("a b"));
        assert_eq!(fields.email.as_deref(), Some("x@y.z"));
        assert_eq!(fields.csrf.as_deref(), Some("t"));
        let garbage = FormFields::parse(b"%%%&&=\xff\xfe=nombre");
        assert!(garbage.nombre.is_none());
    }
}
