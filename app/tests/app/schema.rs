//! Migrations: idempotent, safe with several instances starting at once, and an existing seed
//! table upgraded in place (never dropped), refusing to touch it when its data cannot be made
//! unique.

use std::time::{Duration, Instant};

use super::support::{TestApp, config, create_database, rows, shared_mariadb};

async fn show_create(app: &TestApp) -> String {
    app.sql("SHOW CREATE TABLE usuarios").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_starting_at_once_agree_on_one_schema() {
    let mariadb = shared_mariadb();
    let (database, url) = create_database(mariadb, "concurrent").await;
    let (a, b, c) = tokio::join!(
        TestApp::start_with(config(&url, "a"), database.clone()),
        TestApp::start_with(config(&url, "b"), database.clone()),
        TestApp::start_with(config(&url, "c"), database.clone()),
    );
    // Each instance serves the same table.
    let id = a.add_user("Uno", "uno@example.com").await;
    assert_eq!(b.get(&format!("/api/usuarios/{id}")).await.status, 200);
    assert_eq!(c.get(&format!("/api/usuarios/{id}")).await.status, 200);
    let schema = show_create(&a).await;
    assert!(
        schema.contains("UNIQUE KEY `usuarios_email_unique` (`email`)"),
        "{schema}"
    );
    assert!(schema.contains("utf8mb4"), "{schema}");
    assert!(
        schema.contains("`nombre` varchar(100) NOT NULL"),
        "{schema}"
    );
    assert!(schema.contains("`email` varchar(150)"), "{schema}");
    a.stop().await;
    b.stop().await;
    c.stop().await;
    // Starting again changes nothing.
    let again = TestApp::start_with(config(&url, "again"), database).await;
    assert_eq!(show_create(&again).await, schema);
    assert_eq!(again.sql("SELECT COUNT(*) FROM usuarios").await.trim(), "1");
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_table_is_upgraded_in_place() {
    let mariadb = shared_mariadb();
    let (database, url) = create_database(mariadb, "seed").await;
    // The seed's table as Flask created it: latin1, no unique e-mail, NULLs allowed.
    mariadb
        .sql(&format!(
            "USE `{database}`;
             CREATE TABLE usuarios (id INT AUTO_INCREMENT PRIMARY KEY, nombre VARCHAR(100) NOT NULL,
               email VARCHAR(150), created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)
               DEFAULT CHARSET=latin1;
             INSERT INTO usuarios (nombre, email) VALUES ('José Núñez', 'jose@example.com'),
               ('Sin correo', NULL), ('Otro sin correo', NULL);"
        ))
        .await
        .unwrap();
    let app = TestApp::start_with(config(&url, "upgraded"), database).await;
    let schema = show_create(&app).await;
    assert!(
        schema.contains("UNIQUE KEY `usuarios_email_unique` (`email`)"),
        "{schema}"
    );
    assert!(schema.contains("CHARSET=utf8mb4"), "{schema}");
    // Every row kept, accents intact.
    let kept = rows(
        &app.sql("SELECT id, nombre, IFNULL(email, 'NULL') FROM usuarios ORDER BY id")
            .await,
    );
    assert_eq!(
        kept,
        [
            ["1", "José Núñez", "jose@example.com"],
            ["2", "Sin correo", "NULL"],
            ["3", "Otro sin correo", "NULL"]
        ]
    );
    let list = app.get("/api/usuarios").await.json();
    assert_eq!(list["total"], 3);
    assert_eq!(list["items"][0]["email"], serde_json::Value::Null);
    assert_eq!(list["items"][2]["nombre"], "José Núñez");
    assert!(app.get("/usuarios").await.body.contains("José Núñez"));
    // Now unique, ignoring case; and new rows take 4-byte characters.
    let dup = app
        .post_json(
            "/api/usuarios",
            r#"{"nombre": "X", "email": "JOSE@example.com"}"#,
        )
        .await;
    assert_eq!(dup.status, 409);
    app.add_user("Emoji 🎉", "emoji@example.com").await;
    assert!(app.get("/usuarios").await.body.contains("Emoji 🎉"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_table_with_duplicate_emails_is_left_alone_until_fixed() {
    let mariadb = shared_mariadb();
    let (database, url) = create_database(mariadb, "dups").await;
    // Case-sensitive collation, two addresses that differ only by case, and no created_at.
    mariadb
        .sql(&format!(
            "USE `{database}`;
             CREATE TABLE usuarios (id INT AUTO_INCREMENT PRIMARY KEY, nombre VARCHAR(100) NOT NULL,
               email VARCHAR(150)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
             INSERT INTO usuarios (nombre, email) VALUES ('Ana', 'ana@example.com'),
               ('ANA', 'ANA@example.com'), ('Beto', 'beto@example.com');"
        ))
        .await
        .unwrap();
    let running = octo_app::start(config(&url, "dups")).await.unwrap();
    let base = format!("http://{}", running.local_addr);
    let client = super::support::client();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.text().await.unwrap(), "starting\n");
    let page = client.get(format!("{base}/usuarios")).send().await.unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.text().await.unwrap().contains("se está iniciando"));
    let sql = |statement: String| async move { shared_mariadb().sql(&statement).await.unwrap() };
    let untouched = sql(format!("SHOW CREATE TABLE `{database}`.usuarios")).await;
    assert!(
        untouched.contains("COLLATE=utf8mb4_bin"),
        "nothing changed: {untouched}"
    );
    assert!(
        !untouched.contains("created_at"),
        "nothing changed: {untouched}"
    );
    let kept = sql(format!("SELECT COUNT(*) FROM `{database}`.usuarios")).await;
    assert_eq!(kept.trim(), "3", "no row was touched");
    // The operator resolves the duplicate; the app finishes the upgrade by itself.
    sql(format!("DELETE FROM `{database}`.usuarios WHERE id = 2")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the app did not finish the upgrade"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let schema = sql(format!("SHOW CREATE TABLE `{database}`.usuarios")).await;
    assert!(
        schema.contains("UNIQUE KEY `usuarios_email_unique`"),
        "{schema}"
    );
    assert!(schema.contains("`created_at` timestamp"), "{schema}");
    let listed = client
        .get(format!("{base}/api/usuarios"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(listed["total"], 2);
    assert_eq!(listed["items"][1]["email"], "ana@example.com");
    running.stop().await;
}
