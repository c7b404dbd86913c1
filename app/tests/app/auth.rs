//! Writes behind the admin credential (HTTP Basic), as Compose and Kubernetes run the app:
//! anonymous and wrong credentials cannot add or delete, through the API or the forms; reads
//! stay open.

use super::support::{
    ADMIN_PASSWORD, ADMIN_USER, TestApp, config, create_database, protected, shared_mariadb,
};

async fn protected_app() -> TestApp {
    let (database, url) = create_database(shared_mariadb(), "auth").await;
    TestApp::start_with(protected(config(&url, "auth")), database).await
}

fn challenged(status: u16, www_authenticate: Option<&str>) {
    assert_eq!(status, 401);
    let challenge = www_authenticate.expect("a WWW-Authenticate challenge");
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_add_is_refused() {
    let mut app = protected_app().await;
    let session = app.form_session("/usuarios").await;
    app.admin = None;
    let api = app
        .post_json(
            "/api/usuarios",
            r#"{"nombre": "Eve", "email": "eve@example.com"}"#,
        )
        .await;
    challenged(api.status, api.header("www-authenticate"));
    assert!(api.json()["error"].as_str().unwrap().contains("credencial"));
    // The form, with a valid session and token: the token says where the form came from, not
    // who sends it.
    let form = app.add_user_form(&session, "Eve", "eve@example.com").await;
    challenged(form.status, form.header("www-authenticate"));
    assert!(
        form.body
            .contains("requiere la credencial de administración")
    );
    assert_eq!(app.sql("SELECT COUNT(*) FROM usuarios").await.trim(), "0");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_delete_is_refused() {
    let mut app = protected_app().await;
    let id = app.add_user("Bob", "bob@example.com").await;
    let session = app.form_session(&format!("/usuarios/{id}/eliminar")).await;
    app.admin = None;
    let api = app
        .client
        .delete(app.url(&format!("/api/usuarios/{id}")))
        .send()
        .await
        .unwrap();
    challenged(
        api.status().as_u16(),
        api.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
    );
    let form = app
        .post_form(
            &format!("/usuarios/{id}/eliminar"),
            &[("csrf_token", &session.token)],
            Some(&session.cookie),
        )
        .await;
    challenged(form.status, form.header("www-authenticate"));
    assert_eq!(app.sql("SELECT nombre FROM usuarios").await.trim(), "Bob");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_admin_credentials_are_refused() {
    let app = protected_app().await;
    let id = app.add_user("Bob", "bob@example.com").await;
    let wrong_password = format!("{ADMIN_PASSWORD}x");
    let short_password = &ADMIN_PASSWORD[..ADMIN_PASSWORD.len() - 1];
    for (user, password) in [
        (ADMIN_USER, wrong_password.as_str()),
        (ADMIN_USER, short_password),
        (ADMIN_USER, ""),
        ("root", ADMIN_PASSWORD),
        ("", ""),
    ] {
        let delete = app
            .client
            .delete(app.url(&format!("/api/usuarios/{id}")))
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(delete.status(), 401, "{user}:{password}");
        let add = app
            .client
            .post(app.url("/api/usuarios"))
            .basic_auth(user, Some(password))
            .header("content-type", "application/json")
            .body(r#"{"nombre": "Eve", "email": "eve@example.com"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(add.status(), 401, "{user}:{password}");
    }
    assert_eq!(app.sql("SELECT nombre FROM usuarios").await.trim(), "Bob");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_stay_open_and_the_admin_adds_and_deletes() {
    let mut app = protected_app().await;
    let id = app.add_user("Bob", "bob@example.com").await;
    let session = app.form_session("/usuarios").await;
    assert_eq!(
        app.add_user_form(&session, "Ana", "ana@example.com")
            .await
            .status,
        303
    );
    let admin = app.admin.take();
    for path in [
        "/".to_owned(),
        "/usuarios".to_owned(),
        "/usuarios?q=bob".to_owned(),
        format!("/usuarios/{id}/eliminar"),
        "/api/usuarios".to_owned(),
        format!("/api/usuarios/{id}"),
        "/static/app.css".to_owned(),
    ] {
        assert_eq!(app.get(&path).await.status, 200, "{path}");
    }
    let (user, password) = admin.unwrap();
    let delete = app
        .client
        .delete(app.url(&format!("/api/usuarios/{id}")))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
    assert_eq!(app.sql("SELECT nombre FROM usuarios").await.trim(), "Ana");
    app.stop().await;
}
