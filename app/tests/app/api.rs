//! The JSON API: create, read, list, delete, every error status, duplicates (also two instances
//! inserting one e-mail at once), and the OpenAPI document.

use super::support::{TestApp, config, shared_mariadb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_list_delete() {
    let app = TestApp::start().await;
    let created = app
        .post_json(
            "/api/usuarios",
            r#"{"nombre": " Luis Gómez ", "email": "luis@example.com"}"#,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let body = created.json();
    let id = body["id"].as_u64().unwrap();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/usuarios/{id}").as_str())
    );
    assert_eq!(body["nombre"], "Luis Gómez");
    assert_eq!(body["email"], "luis@example.com");
    let created_at = body["created_at"].as_str().unwrap();
    assert_eq!(created_at.len(), 20, "{created_at}");
    assert!(created_at.ends_with('Z'));
    // The row agrees with the answer, time included (UTC both ways).
    let stored = app
        .sql(&format!(
            "SET time_zone = '+00:00'; SELECT DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ') FROM usuarios WHERE id = {id}"
        ))
        .await;
    assert_eq!(stored.trim(), created_at);

    let fetched = app.get(&format!("/api/usuarios/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), body);
    assert_eq!(fetched.header("content-type"), Some("application/json"));

    app.add_user("Marta", "marta@example.com").await;
    let list = app.get("/api/usuarios?per_page=1").await.json();
    assert_eq!(list["total"], 2);
    assert_eq!(list["pages"], 2);
    assert_eq!(list["page"], 1);
    assert_eq!(list["per_page"], 1);
    assert_eq!(list["items"][0]["nombre"], "Marta", "newest first");
    let items = list["items"][0].as_object().unwrap();
    let mut keys: Vec<&str> = items.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["created_at", "email", "id", "nombre"]);
    let searched = app.get("/api/usuarios?q=G%C3%B3mez").await.json();
    assert_eq!(searched["total"], 1);
    assert_eq!(searched["items"][0]["id"], id);

    let deleted = app
        .client
        .delete(app.url(&format!("/api/usuarios/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.get(&format!("/api/usuarios/{id}")).await.status, 404);
    let again = app
        .client
        .delete(app.url(&format!("/api/usuarios/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_json_with_its_status_and_field() {
    let app = TestApp::start().await;
    let long_name = "n".repeat(101);
    let long_email = format!("{}@example.com", "e".repeat(139));
    let cases: Vec<(String, u16, Option<&str>)> = vec![
        ("not json".into(), 400, None),
        ("{\"nombre\": \"a\",".into(), 400, None),
        ("[1, 2]".into(), 422, None),
        ("\"text\"".into(), 422, None),
        ("{}".into(), 422, Some("nombre")),
        (r#"{"email": "a@b.c"}"#.into(), 422, Some("nombre")),
        (
            r#"{"nombre": "", "email": "a@b.c"}"#.into(),
            422,
            Some("nombre"),
        ),
        (
            r#"{"nombre": 5, "email": "a@b.c"}"#.into(),
            422,
            Some("nombre"),
        ),
        (
            r#"{"nombre": "A", "email": ["a@b.c"]}"#.into(),
            422,
            Some("email"),
        ),
        (r#"{"nombre": "A"}"#.into(), 422, Some("email")),
        (
            r#"{"nombre": "A", "email": null}"#.into(),
            422,
            Some("email"),
        ),
        (
            r#"{"nombre": "A", "email": "nope"}"#.into(),
            422,
            Some("email"),
        ),
        (
            format!(r#"{{"nombre": "{long_name}", "email": "a@b.c"}}"#),
            422,
            Some("nombre"),
        ),
        (
            format!(r#"{{"nombre": "A", "email": "{long_email}"}}"#),
            422,
            Some("email"),
        ),
        (
            r#"{"nombre": "A\u0007", "email": "a@b.c"}"#.into(),
            422,
            Some("nombre"),
        ),
        (r#"{"nombre": "A", "email": "a@b.c\n"}"#.into(), 201, None),
    ];
    for (body, status, field) in &cases {
        let reply = app.post_json("/api/usuarios", body).await;
        assert_eq!(reply.status, *status, "{body}: {}", reply.body);
        if *status != 201 {
            let json = reply.json();
            assert!(
                json["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{body}"
            );
            assert_eq!(json["field"].as_str(), *field, "{body}");
        }
    }
    // Wrong or missing content type.
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app
            .client
            .post(app.url("/api/usuarios"))
            .body(r#"{"nombre": "A", "email": "x@y.z"}"#);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 415, "{content_type:?}");
        let json: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(json["field"], serde_json::Value::Null);
    }
    // Too large.
    let huge = format!(
        r#"{{"nombre": "{}", "email": "a@b.c"}}"#,
        "x".repeat(40_000)
    );
    assert_eq!(app.post_json("/api/usuarios", &huge).await.status, 413);
    // Duplicate, ignoring case.
    let dup = app
        .post_json("/api/usuarios", r#"{"nombre": "B", "email": "A@B.C"}"#)
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.json()["field"], "email");
    // Not found, for ids that exist in no form.
    for path in [
        "/api/usuarios/0",
        "/api/usuarios/abc",
        "/api/usuarios/99999999",
        "/api/nothing",
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.json()["field"], serde_json::Value::Null);
    }
    // Bad pagination.
    let reply = app.get("/api/usuarios?per_page=abc").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["field"], "per_page");
    let reply = app.get("/api/usuarios?page=0").await;
    assert_eq!(reply.json()["field"], "page");
    // English on request.
    let english = app
        .client
        .post(app.url("/api/usuarios"))
        .header("content-type", "application/json")
        .header("accept-language", "en-US")
        .body(r#"{"nombre": "", "email": "q@r.s"}"#)
        .send()
        .await
        .unwrap();
    let json: serde_json::Value = english.json().await.unwrap();
    assert_eq!(json["error"], "The name is required.");
    // One row only: the valid one.
    assert_eq!(app.sql("SELECT COUNT(*) FROM usuarios").await.trim(), "1");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_inserting_one_email_at_once_one_wins() {
    let mariadb = shared_mariadb();
    let (database, url) = super::support::create_database(mariadb, "race").await;
    let first = TestApp::start_with(config(&url, "app1"), database.clone()).await;
    let second = TestApp::start_with(config(&url, "app2"), database).await;
    for round in 0..20 {
        let email = format!("race{round}@example.com");
        let body_a = serde_json::json!({"nombre": "A", "email": email}).to_string();
        let body_b = serde_json::json!({"nombre": "B", "email": email.to_uppercase()}).to_string();
        let (a, b) = tokio::join!(
            first.post_json("/api/usuarios", &body_a),
            second.post_json("/api/usuarios", &body_b)
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [201, 409],
            "round {round}: {} / {}",
            a.body,
            b.body
        );
    }
    assert_eq!(
        first.sql("SELECT COUNT(*) FROM usuarios").await.trim(),
        "20"
    );
    first.stop().await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_describes_the_api() {
    let app = TestApp::start().await;
    let reply = app.get("/api/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let post = &doc["paths"]["/api/usuarios"]["post"]["responses"];
    for status in ["201", "400", "409", "413", "415", "422", "503"] {
        assert!(post.get(status).is_some(), "POST documents {status}");
    }
    assert!(doc["paths"]["/api/usuarios/{id}"]["delete"]["responses"]["204"].is_object());
    app.stop().await;
}
