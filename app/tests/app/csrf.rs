//! Attacks on the forms' CSRF protection: tokens an attacker makes up or carries over from
//! another session or another key, and browsers saying the request comes from another site.

use std::process::Command;

use super::support::{
    TestApp, config, create_database, protected, shared_mariadb, unique_database,
};

const EVE: [(&str, &str); 2] = [("nombre", "Eve"), ("email", "eve@example.com")];

/// Someone who can plant a cookie in the victim's browser (a sibling subdomain, a plain-HTTP
/// answer on the same host) picks a value, plants it under the app's session cookie and sends
/// the same value as the form's token. A double-submit cookie accepts that pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_cookie_and_token_made_up_by_an_attacker_are_refused() {
    let app = TestApp::start().await;
    let page = app.get("/usuarios").await;
    let set_cookie = page
        .header("set-cookie")
        .expect("the page starts a session");
    let cookie_name = set_cookie.split('=').next().unwrap();
    let planted = "A".repeat(43);
    let reply = app
        .post_form(
            "/usuarios",
            &[("csrf_token", &planted), EVE[0], EVE[1]],
            Some(&format!("{cookie_name}={planted}")),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.contains("Vuelve a cargar la página"));
    assert_eq!(app.sql("SELECT COUNT(*) FROM usuarios").await.trim(), "0");
    app.stop().await;
}

/// Mallory loads the form herself, which gives her a valid token for her own session, and
/// makes Alice's browser send it (with Alice's cookie).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_csrf_token_from_another_session_is_refused() {
    let app = TestApp::start().await;
    let mallory = app.form_session("/usuarios").await;
    let alice = app.form_session("/usuarios").await;
    assert_ne!(mallory.token, alice.token, "a token per session");
    let reply = app
        .post_form(
            "/usuarios",
            &[("csrf_token", &mallory.token), EVE[0], EVE[1]],
            Some(&alice.cookie),
        )
        .await;
    assert_eq!(reply.status, 403);
    let id = app.add_user("Bob", "bob@example.com").await;
    let reply = app
        .post_form(
            &format!("/usuarios/{id}/eliminar"),
            &[("csrf_token", &mallory.token)],
            Some(&alice.cookie),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(app.sql("SELECT nombre FROM usuarios").await.trim(), "Bob");
    // Alice's own token works.
    let reply = app
        .post_form(
            &format!("/usuarios/{id}/eliminar"),
            &[("csrf_token", &alice.token)],
            Some(&alice.cookie),
        )
        .await;
    assert_eq!(reply.status, 303);
    app.stop().await;
}

/// Instances behind one load balancer accept each other's tokens when they share the key file;
/// an instance with another key (another deployment, an old key) does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_token_signed_with_another_key_is_refused() {
    let mariadb = shared_mariadb();
    let (database, url) = create_database(mariadb, "keys").await;
    let shared_a = TestApp::start_with(protected(config(&url, "a1")), database.clone()).await;
    let shared_b = TestApp::start_with(protected(config(&url, "a2")), database.clone()).await;
    let mut other = protected(config(&url, "b1"));
    other.csrf_key = Some(octo_app::csrf::CsrfKey::from_secret(
        b"the key of some other deployment, 32+ bytes",
    ));
    let other = TestApp::start_with(other, database).await;

    let session = shared_a.form_session("/usuarios").await;
    let add = async |app: &TestApp, email: &str| {
        app.post_form(
            "/usuarios",
            &[
                ("csrf_token", &session.token),
                ("nombre", "Ana"),
                ("email", email),
            ],
            Some(&session.cookie),
        )
        .await
        .status
    };
    assert_eq!(add(&shared_b, "ana.b@example.com").await, 303, "shared key");
    assert_eq!(add(&other, "ana.o@example.com").await, 403, "another key");
    assert_eq!(
        shared_a
            .sql("SELECT email FROM usuarios ORDER BY id")
            .await
            .trim(),
        "ana.b@example.com"
    );
    shared_a.stop().await;
    shared_b.stop().await;
    other.stop().await;
}

/// A page on a sibling subdomain (`same-site`) or another site (`cross-site`) posting to the
/// app, even with a valid session and token (which a sibling could have planted): refused, on
/// the forms and on the API alike. The app's own pages (`same-origin`) and the user typing
/// (`none`) pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_site_and_cross_site_writes_are_refused_by_sec_fetch_site() {
    let app = TestApp::start().await;
    let session = app.form_session("/usuarios").await;
    for site in ["same-site", "cross-site"] {
        let reply = app
            .post_form_with(
                "/usuarios",
                &[("csrf_token", &session.token), EVE[0], EVE[1]],
                Some(&session.cookie),
                &[("sec-fetch-site", site)],
            )
            .await;
        assert_eq!(reply.status, 403, "form, {site}");
        assert!(reply.body.contains("viene de otro sitio"), "{}", reply.body);
        let api = app
            .client
            .post(app.url("/api/usuarios"))
            .header("content-type", "application/json")
            .header("sec-fetch-site", site)
            .body(r#"{"nombre": "Eve", "email": "eve@example.com"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), 403, "API, {site}");
    }
    let id = app.add_user("Bob", "bob@example.com").await;
    let delete = app
        .client
        .delete(app.url(&format!("/api/usuarios/{id}")))
        .header("sec-fetch-site", "same-site")
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403);
    assert_eq!(app.sql("SELECT nombre FROM usuarios").await.trim(), "Bob");
    for (site, email) in [("same-origin", "a@example.com"), ("none", "b@example.com")] {
        let reply = app
            .post_form_with(
                "/usuarios",
                &[
                    ("csrf_token", &session.token),
                    ("nombre", "Ok"),
                    ("email", email),
                ],
                Some(&session.cookie),
                &[("sec-fetch-site", site)],
            )
            .await;
        assert_eq!(reply.status, 303, "{site}: {}", reply.body);
    }
    app.stop().await;
}

/// A key or password file that is named but cannot be read stops the app at start, with the
/// flag and the file in the message, rather than running with a key no other instance has or
/// with writes open.
#[test]
fn unreadable_key_or_password_file_stops_start_up_naming_the_flag() {
    let missing = std::env::temp_dir().join(unique_database("octo-missing-secret"));
    for flag in ["--csrf-key-file", "--admin-password-file"] {
        let output = Command::new(env!("CARGO_BIN_EXE_octo-app"))
            .env_clear()
            .arg("--listen-addr=127.0.0.1:0")
            .arg(format!("{flag}={}", missing.display()))
            .output()
            .expect("octo-app runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{flag}: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains(&missing.display().to_string()),
            "{flag}: {stderr}"
        );
    }
}
