//! What the tests share: one MariaDB for the whole test binary (each test gets its own database
//! in it), apps started in-process on free ports, and an HTTP client that keeps no cookies of its
//! own so each test says exactly what it sends.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use octo_app::{Config, Running};
use octo_testbed::MariaDb;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::redirect::Policy;

pub use octo_app::csrf::SESSION_COOKIE;

/// The admin credential of [`protected`] apps.
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

pub const APP_USER: &str = "octo";
pub const APP_PASSWORD: &str = "s3cret-app-pass";

/// The MariaDB every test but the ones that stop it shares. Started once, on a thread of its
/// own (tests run on their own runtimes); it dies with the test process (testbed).
pub fn shared_mariadb() -> &'static MariaDb {
    static SHARED: OnceLock<MariaDb> = OnceLock::new();
    SHARED.get_or_init(|| {
        octo_testbed::start_on_own_runtime(async {
            let db = MariaDb::start().await.expect("MariaDB starts");
            db.create_user(APP_USER, APP_PASSWORD, "ALL")
                .await
                .expect("creating the app's database user");
            db
        })
    })
}

/// A database name no other test uses.
pub fn unique_database(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh, empty database in `mariadb`, and the URL the app uses for it.
pub async fn create_database(mariadb: &MariaDb, prefix: &str) -> (String, String) {
    let name = unique_database(prefix);
    mariadb
        .sql(&format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await
        .expect("creating a test database");
    let url = mariadb.url(APP_USER, APP_PASSWORD, &name);
    (name, url)
}

pub fn config(url: &str, app_name: &str) -> Config {
    let mut config = Config::new(SocketAddr::from(([127, 0, 0, 1], 0)), url);
    config.app_name = app_name.to_owned();
    config.pool_size = 8;
    config.db_timeout = Duration::from_secs(5);
    config.shutdown_timeout = Duration::from_secs(10);
    config
}

/// `config` with adding and deleting behind the admin credential, as Compose and Kubernetes
/// run the app, and a CSRF key the instances of one test share.
pub fn protected(mut config: Config) -> Config {
    config.admin = Some(
        octo_app::credential::AdminCredential::new(ADMIN_USER, ADMIN_PASSWORD)
            .expect("an admin credential"),
    );
    config.csrf_key = Some(octo_app::csrf::CsrfKey::from_secret(
        b"the key every instance of this test shares",
    ));
    config
}

pub fn client() -> reqwest::Client {
    // In a workspace build reqwest is compiled with TLS (other crates need it) and then wants a
    // process-wide crypto provider, even for plain HTTP; ring is the workspace's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build()
        .expect("an HTTP client")
}

/// An app running in this test's runtime, with its own database in the shared MariaDB.
pub struct TestApp {
    pub running: Option<Running>,
    pub base: String,
    pub database: String,
    pub client: reqwest::Client,
    /// Sent by the helpers that write when the app is [`protected`].
    pub admin: Option<(&'static str, &'static str)>,
}

impl TestApp {
    /// A ready app (the database answered and the schema is in place) on a fresh database.
    pub async fn start() -> TestApp {
        let mariadb = shared_mariadb();
        let (database, url) = create_database(mariadb, "app").await;
        TestApp::start_with(config(&url, "app-under-test"), database).await
    }

    pub async fn start_with(config: Config, database: String) -> TestApp {
        let admin = config
            .admin
            .is_some()
            .then_some((ADMIN_USER, ADMIN_PASSWORD));
        let running = octo_app::start(config).await.expect("the app starts");
        let base = format!("http://{}", running.local_addr);
        let app = TestApp {
            running: Some(running),
            base,
            database,
            client: client(),
            admin,
        };
        app.wait_ready(Duration::from_secs(30)).await;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(response) = self.client.get(self.url("/readyz")).send().await
                && response.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the app was not ready within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        Reply::from(self.client.get(self.url(path)).send().await.expect("GET")).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&'static str, &str)]) -> Reply {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::from(request.send().await.expect("GET")).await
    }

    /// A urlencoded form POST with the given cookie header (if any).
    pub async fn post_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> Reply {
        self.post_form_with(path, fields, cookie, &[]).await
    }

    /// A urlencoded form POST with the given cookie header (if any) and more headers.
    pub async fn post_form_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        cookie: Option<&str>,
        headers: &[(&'static str, &str)],
    ) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some((user, password)) = self.admin {
            request = request.basic_auth(user, Some(password));
        }
        Reply::from(request.send().await.expect("POST")).await
    }

    /// A page with a form: its session cookie (as a `Cookie` header value) and CSRF field.
    pub async fn form_session(&self, path: &str) -> Session {
        let page = self.get(path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let cookie = page
            .set_cookie(SESSION_COOKIE)
            .expect("the page sets the session cookie");
        let token = hidden_field(&page.body, "csrf_token").expect("the form has a CSRF field");
        assert_ne!(
            cookie,
            format!("{SESSION_COOKIE}={token}"),
            "the token is not the cookie"
        );
        Session { cookie, token }
    }

    /// Adds a user through the form with a valid CSRF token.
    pub async fn add_user_form(&self, session: &Session, nombre: &str, email: &str) -> Reply {
        self.post_form(
            "/usuarios",
            &[
                ("csrf_token", &session.token),
                ("nombre", nombre),
                ("email", email),
            ],
            Some(&session.cookie),
        )
        .await
    }

    pub async fn post_json(&self, path: &str, body: &str) -> Reply {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some((user, password)) = self.admin {
            request = request.basic_auth(user, Some(password));
        }
        Reply::from(request.send().await.expect("POST")).await
    }

    /// Adds a user through the API and returns its id (asserting 201).
    pub async fn add_user(&self, nombre: &str, email: &str) -> u64 {
        let body = serde_json::json!({"nombre": nombre, "email": email}).to_string();
        let reply = self.post_json("/api/usuarios", &body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()["id"].as_u64().expect("an id")
    }

    /// SQL in this app's database, as root.
    pub async fn sql(&self, statements: &str) -> String {
        shared_mariadb()
            .sql(&format!("USE `{}`; {statements}", self.database))
            .await
            .expect("SQL")
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }
}

/// A session cookie and the CSRF field of its forms.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub token: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }

    /// `name=value` of a `Set-Cookie` header.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| pair.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }
}

/// The value of `<input type="hidden" name="NAME" value="...">` in a page.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Rows of `SELECT` output from the mariadb client, split into columns.
pub fn rows(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect()
}
