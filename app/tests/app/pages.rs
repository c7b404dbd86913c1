//! The HTML side: home, list, add form, validation, search, pagination, delete, CSRF, escaping,
//! languages, security headers and static files.

use super::support::{SESSION_COOKIE, TestApp, hidden_field, rows};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_shows_the_instance_name_in_spanish_or_english() {
    let app = TestApp::start().await;
    let home = app.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("<html lang=\"es\">"));
    assert!(home.body.contains("Instancia balanceada"));
    assert!(home.body.contains("id=\"instance\">app-under-test</p>"));
    assert_eq!(
        home.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let english = app
        .get_with("/", &[("accept-language", "en-GB,en;q=0.9,es;q=0.5")])
        .await;
    assert!(english.body.contains("<html lang=\"en\">"));
    assert!(english.body.contains("Balanced instance"));
    let spanish = app
        .get_with("/", &[("accept-language", "es-ES,es;q=0.9,en;q=0.8")])
        .await;
    assert!(spanish.body.contains("<html lang=\"es\">"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_through_the_form_then_see_it_listed() {
    let app = TestApp::start().await;
    let empty = app.get("/usuarios").await;
    assert!(empty.body.contains("No hay usuarios registrados."));
    let session = app.form_session("/usuarios").await;
    let added = app
        .add_user_form(&session, "  Ana Pérez  ", "ana@example.com")
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert_eq!(added.header("location"), Some("/usuarios?aviso=creado"));
    let list = app.get("/usuarios?aviso=creado").await;
    assert!(list.body.contains("Usuario agregado correctamente."));
    assert!(list.body.contains("<td class=\"nombre\">Ana Pérez</td>"));
    assert!(
        list.body
            .contains("<td class=\"email\">ana@example.com</td>")
    );
    // Stored trimmed, in the seed's columns.
    let stored = rows(
        &app.sql("SELECT nombre, email, created_at IS NOT NULL FROM usuarios")
            .await,
    );
    assert_eq!(stored, [["Ana Pérez", "ana@example.com", "1"]]);
    // Unknown notices show nothing.
    let other = app.get("/usuarios?aviso=%3Cscript%3E").await;
    assert!(!other.body.contains("alert-success"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_re_renders_the_form_with_errors_beside_the_fields() {
    let app = TestApp::start().await;
    let session = app.form_session("/usuarios").await;
    let long_name = "ñ".repeat(101);
    let long_email = format!("{}@example.com", "a".repeat(139));
    let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
        ("", "a@b.c", Some("El nombre es obligatorio."), None),
        ("   ", "a@b.c", Some("El nombre es obligatorio."), None),
        (
            &long_name,
            "a@b.c",
            Some("El nombre no puede superar los 100 caracteres."),
            None,
        ),
        (
            "Tab\there",
            "a@b.c",
            Some("El nombre contiene caracteres no permitidos."),
            None,
        ),
        ("Ana", "", None, Some("El email es obligatorio.")),
        ("Ana", "not-an-email", None, Some("El email no es válido.")),
        (
            "Ana",
            &long_email,
            None,
            Some("El email no puede superar los 150 caracteres."),
        ),
        (
            "Ana",
            "a\u{0}@b.c",
            None,
            Some("El email contiene caracteres no permitidos."),
        ),
        (
            "",
            "nope",
            Some("El nombre es obligatorio."),
            Some("El email no es válido."),
        ),
    ];
    for (nombre, email, name_error, email_error) in cases {
        let reply = app.add_user_form(&session, nombre, email).await;
        assert_eq!(reply.status, 422, "{nombre:?} {email:?}");
        assert!(reply.body.contains("Revisa los campos marcados."));
        match name_error {
            Some(message) => {
                assert!(
                    reply.body.contains(&format!(
                        "<div class=\"invalid-feedback\" id=\"nombre-error\">{message}</div>"
                    )),
                    "{nombre:?}: {}",
                    reply.body
                );
                assert!(
                    reply
                        .body
                        .contains("form-control is-invalid\" id=\"nombre\"")
                );
            }
            None => assert!(!reply.body.contains("nombre-error")),
        }
        match email_error {
            Some(message) => assert!(
                reply.body.contains(&format!(
                    "<div class=\"invalid-feedback\" id=\"email-error\">{message}</div>"
                )),
                "{email:?}: {}",
                reply.body
            ),
            None => assert!(!reply.body.contains("email-error")),
        }
    }
    // The values typed come back (escaped), so nothing needs retyping.
    let reply = app.add_user_form(&session, "Ana \"la\" <b>", "bad").await;
    assert_eq!(
        hidden_or_value(&reply.body, "nombre").as_deref(),
        Some("Ana &#34;la&#34; &#60;b&#62;")
    );
    assert_eq!(
        hidden_or_value(&reply.body, "email").as_deref(),
        Some("bad")
    );
    // Missing fields altogether are the same errors.
    let reply = app
        .post_form(
            "/usuarios",
            &[("csrf_token", &session.token)],
            Some(&session.cookie),
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(app.sql("SELECT COUNT(*) FROM usuarios").await.trim(), "0");
    // English messages when English is preferred.
    let english = app
        .client
        .post(app.url("/usuarios"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &session.cookie)
        .header("accept-language", "en")
        .body(format!(
            "csrf_token={}&nombre=&email=x%40y.z",
            session.token
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(english.status(), 422);
    assert!(
        english
            .text()
            .await
            .unwrap()
            .contains("The name is required.")
    );
    app.stop().await;
}

fn hidden_or_value(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\" name=\"{id}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_email_through_the_form_is_409_beside_the_email() {
    let app = TestApp::start().await;
    let session = app.form_session("/usuarios").await;
    assert_eq!(
        app.add_user_form(&session, "Ana", "ana@example.com")
            .await
            .status,
        303
    );
    let again = app
        .add_user_form(&session, "Otra Ana", "ANA@Example.COM")
        .await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains(
        "<div class=\"invalid-feedback\" id=\"email-error\">Ya existe un usuario con ese email.</div>"
    ));
    assert_eq!(app.sql("SELECT COUNT(*) FROM usuarios").await.trim(), "1");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_without_a_valid_csrf_token_is_refused() {
    let app = TestApp::start().await;
    let session = app.form_session("/usuarios").await;
    // No token, no cookie.
    let reply = app
        .post_form(
            "/usuarios",
            &[("nombre", "Eve"), ("email", "eve@example.com")],
            None,
        )
        .await;
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains("Vuelve a cargar la página"));
    // Cookie but no field; field but no cookie; a field that does not match the cookie.
    let reply = app
        .post_form(
            "/usuarios",
            &[("nombre", "Eve"), ("email", "eve@example.com")],
            Some(&session.cookie),
        )
        .await;
    assert_eq!(reply.status, 403);
    let token = session.token.clone();
    let reply = app
        .post_form(
            "/usuarios",
            &[
                ("nombre", "Eve"),
                ("email", "eve@example.com"),
                ("csrf_token", &token),
            ],
            None,
        )
        .await;
    assert_eq!(reply.status, 403);
    let forged = "A".repeat(43);
    let reply = app
        .post_form(
            "/usuarios",
            &[
                ("nombre", "Eve"),
                ("email", "eve@example.com"),
                ("csrf_token", &forged),
            ],
            Some(&session.cookie),
        )
        .await;
    assert_eq!(reply.status, 403);
    // A browser telling us the form came from another site.
    let cross_site = app
        .client
        .post(app.url("/usuarios"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &session.cookie)
        .header("sec-fetch-site", "cross-site")
        .body(format!(
            "csrf_token={}&nombre=Eve&email=eve%40example.com",
            session.token
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    // The delete form too.
    let id = app.add_user("Bob", "bob@example.com").await;
    let reply = app
        .post_form(
            &format!("/usuarios/{id}/eliminar"),
            &[],
            Some(&session.cookie),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(app.sql("SELECT nombre FROM usuarios").await.trim(), "Bob");
    // A non-form body is refused before anything else.
    let json = app
        .client
        .post(app.url("/usuarios"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 415);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_rendered_as_text_never_as_markup() {
    let app = TestApp::start().await;
    let script = "<script>alert('x')</script>";
    let attribute = "\"><img src=x onerror=alert(1)>";
    app.add_user(script, "xss1@example.com").await;
    app.add_user(attribute, "o'hara+x@example.com").await;
    let list = app.get("/usuarios").await;
    assert!(!list.body.contains("<script>"), "{}", list.body);
    assert!(!list.body.contains("<img"), "{}", list.body);
    assert!(
        list.body
            .contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;")
    );
    assert!(
        list.body
            .contains("&#34;&#62;&#60;img src=x onerror=alert(1)&#62;")
    );
    assert!(list.body.contains("o&#39;hara+x@example.com"));
    // The search box echoes the query escaped too.
    let search = app.get("/usuarios?q=%22%3E%3Cscript%3E").await;
    assert!(!search.body.contains("\"><script>"));
    assert!(search.body.contains("value=\"&#34;&#62;&#60;script&#62;\""));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_is_newest_first_paginated_and_searchable() {
    let app = TestApp::start().await;
    // 120 users in one statement: the listing is what is under test here.
    let values: Vec<String> = (1..=120)
        .map(|n| format!("('Persona {n:03}', 'p{n:03}@example.com', NOW())"))
        .collect();
    app.sql(&format!(
        "INSERT INTO usuarios (nombre, email, created_at) VALUES {}",
        values.join(",")
    ))
    .await;
    let first = app.get("/usuarios").await;
    assert_eq!(first.status, 200);
    assert!(first.body.contains("Total: 120"));
    assert_eq!(first.body.matches("<td class=\"nombre\">").count(), 50);
    let newest = first.body.find("Persona 120").unwrap();
    let older = first.body.find("Persona 119").unwrap();
    assert!(newest < older, "newest first");
    assert!(!first.body.contains("Persona 070"));
    assert!(first.body.contains("href=\"/usuarios?page=2\""));
    assert!(first.body.contains("href=\"/usuarios?page=3\""));
    let third = app.get("/usuarios?page=3").await;
    assert_eq!(third.body.matches("<td class=\"nombre\">").count(), 20);
    assert!(third.body.contains("Persona 001"));
    let big = app.get("/usuarios?per_page=100").await;
    assert_eq!(big.body.matches("<td class=\"nombre\">").count(), 100);
    assert!(
        big.body
            .contains("href=\"/usuarios?page=2&#38;per_page=100\"")
    );
    // Above the maximum is lowered to 200.
    let all = app.get("/usuarios?per_page=5000").await;
    assert_eq!(all.body.matches("<td class=\"nombre\">").count(), 120);
    // Past the end: an empty page that still knows the total.
    let past = app.get("/usuarios?page=99").await;
    assert_eq!(past.status, 200);
    assert!(past.body.contains("Total: 120"));
    assert_eq!(past.body.matches("<td class=\"nombre\">").count(), 0);
    for bad in ["page=0", "page=x", "per_page=0", "per_page=-5"] {
        assert_eq!(
            app.get(&format!("/usuarios?{bad}")).await.status,
            400,
            "{bad}"
        );
    }
    // Search by name or e-mail, case-insensitive; wildcards are literal.
    let by_name = app.get("/usuarios?q=persona+10").await;
    assert_eq!(by_name.body.matches("<td class=\"nombre\">").count(), 10);
    assert!(by_name.body.contains("Total: 10"));
    let by_email = app.get("/usuarios?q=P007%40EXAMPLE").await;
    assert_eq!(by_email.body.matches("<td class=\"nombre\">").count(), 1);
    assert!(by_email.body.contains("Persona 007"));
    let wildcard = app.get("/usuarios?q=%25").await;
    assert!(
        wildcard
            .body
            .contains("Ningún usuario coincide con la búsqueda.")
    );
    // Links keep the search.
    let paged = app.get("/usuarios?q=persona&per_page=10").await;
    assert!(
        paged
            .body
            .contains("href=\"/usuarios?page=2&#38;per_page=10&#38;q=persona\"")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_asks_for_confirmation_first() {
    let app = TestApp::start().await;
    let id = app.add_user("Carla", "carla@example.com").await;
    let list = app.get("/usuarios").await;
    assert!(
        list.body
            .contains(&format!("href=\"/usuarios/{id}/eliminar\""))
    );
    let confirm = app.get(&format!("/usuarios/{id}/eliminar")).await;
    assert_eq!(confirm.status, 200);
    assert!(
        confirm
            .body
            .contains("¿Seguro que quieres eliminar este usuario?")
    );
    assert!(confirm.body.contains("carla@example.com"));
    let cookie = confirm.set_cookie(SESSION_COOKIE).unwrap();
    let token = hidden_field(&confirm.body, "csrf_token").unwrap();
    // Looking is not deleting.
    assert_eq!(app.sql("SELECT COUNT(*) FROM usuarios").await.trim(), "1");
    let deleted = app
        .post_form(
            &format!("/usuarios/{id}/eliminar"),
            &[("csrf_token", &token)],
            Some(&cookie),
        )
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(
        deleted.header("location"),
        Some("/usuarios?aviso=eliminado")
    );
    assert_eq!(app.sql("SELECT COUNT(*) FROM usuarios").await.trim(), "0");
    assert!(
        app.get("/usuarios?aviso=eliminado")
            .await
            .body
            .contains("Usuario eliminado.")
    );
    // Gone, or never there.
    let again = app
        .post_form(
            &format!("/usuarios/{id}/eliminar"),
            &[("csrf_token", &token)],
            Some(&cookie),
        )
        .await;
    assert_eq!(again.status, 404);
    for path in [
        "/usuarios/999999/eliminar",
        "/usuarios/abc/eliminar",
        "/usuarios/0/eliminar",
    ] {
        assert_eq!(app.get(path).await.status, 404, "{path}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_and_no_internals_in_errors() {
    let app = TestApp::start().await;
    for path in [
        "/",
        "/usuarios",
        "/api/usuarios",
        "/no/such/page",
        "/metrics",
    ] {
        let reply = app.get(path).await;
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains("script-src"), "no script is allowed at all");
        assert!(!csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            Some("same-origin"),
            "{path}"
        );
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{path}");
    }
    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Página no encontrada."));
    // No inline script or style anywhere in the pages.
    let list = app.get("/usuarios").await;
    assert!(!list.body.contains("<script"));
    assert!(!list.body.contains("style="));
    assert!(!list.body.contains("<style"));
    // A form POST that is too large.
    let session = app.form_session("/usuarios").await;
    let huge = "x".repeat(64 * 1024);
    let reply = app
        .post_form(
            "/usuarios",
            &[
                ("csrf_token", &session.token),
                ("nombre", &huge),
                ("email", "a@b.c"),
            ],
            Some(&session.cookie),
        )
        .await;
    assert_eq!(reply.status, 413);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_and_css_are_served_by_the_app_with_cache_headers() {
    let app = TestApp::start().await;
    let home = app.get("/").await;
    let href = |name: &str| {
        let start = home.body.find(&format!("href=\"/static/{name}")).unwrap() + 6;
        let end = home.body[start..].find('"').unwrap() + start;
        home.body[start..end].replace("&#38;", "&")
    };
    let bootstrap = href("bootstrap-5.3.9.min.css");
    assert!(bootstrap.contains("?v="), "{bootstrap}");
    assert!(!home.body.contains("cdn"), "no CDN");
    let css = app.get(&bootstrap).await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(css.body.contains("Bootstrap  v5.3.9"));
    assert!(css.body.len() > 200_000);
    let etag = css.header("etag").unwrap().to_owned();
    let revalidated = app
        .get_with(&bootstrap, &[("if-none-match", etag.as_str())])
        .await;
    assert_eq!(revalidated.status, 304);
    // Gzipped when asked (reqwest here has no gzip decoder, so the bytes arrive compressed).
    let gz = app
        .client
        .get(app.url(&bootstrap))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert!(gz.bytes().await.unwrap().len() < 60_000);
    // Unversioned URLs are revalidated rather than cached for a year.
    let plain = app.get("/static/app.css").await;
    assert_eq!(plain.header("cache-control"), Some("public, no-cache"));
    let app_css = href("app.css");
    assert_eq!(app.get(&app_css).await.status, 200);
    assert_eq!(app.get("/static/../Cargo.toml").await.status, 404);
    assert_eq!(app.get("/static/nope.css").await.status, 404);
    let license = app.get("/static/bootstrap-LICENSE").await;
    assert!(license.body.contains("The MIT License"));
    app.stop().await;
}
