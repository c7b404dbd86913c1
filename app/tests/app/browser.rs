//! A person in a real browser: headless Chromium (Debian's `chromium`) driven over the DevTools
//! protocol adds a user through the form and finds it in the list, with the page's CSS applied
//! under its CSP. Writes need the admin credential, as in Compose: the form's POST is answered
//! with a Basic challenge, the browser is given the password (what the person types in the
//! prompt) and sends the form again. The screenshot of the list goes to a temporary directory, or to
//! `docs/app-usuarios.png` when `OCTO_UPDATE_SCREENSHOT=1`.

use std::path::PathBuf;
use std::time::Duration;

use chromiumoxide::auth::Credentials;
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::SetUserAgentOverrideParams;
use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::ScreenshotParams;
use futures_util::StreamExt as _;
use octo_testbed::require_program;

use super::support::{
    ADMIN_PASSWORD, ADMIN_USER, TestApp, config, create_database, protected, shared_mariadb,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_adds_a_user_in_chromium() {
    let chromium = require_program("chromium", "chromium").expect("Chromium for the browser test");
    let (database, url) = create_database(shared_mariadb(), "browser").await;
    let app = TestApp::start_with(protected(config(&url, "app1")), database).await;
    for (nombre, email) in [
        ("María García", "maria.garcia@example.com"),
        ("Carlos Manrique", "carlos@example.com"),
        ("Laura Malagón", "laura@example.com"),
        ("María Medina", "maria.medina@example.com"),
        ("<b>Sin negrita</b>", "texto@example.com"),
    ] {
        app.add_user(nombre, email).await;
    }
    let profile = tempfile::tempdir().unwrap();
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .no_sandbox()
        .user_data_dir(profile.path())
        .window_size(1280, 860)
        .viewport(Viewport {
            width: 1280,
            height: 860,
            ..Viewport::default()
        })
        .args([
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .launch_timeout(Duration::from_secs(60))
        .build()
        .expect("a browser configuration");
    let (mut browser, mut handler) = Browser::launch(config).await.expect("Chromium starts");
    let events = tokio::spawn(async move {
        while let Some(event) = handler.next().await {
            if event.is_err() {
                break;
            }
        }
    });

    // Headless Chromium asks for en-US whatever --lang says; a Spanish reader's browser asks for es.
    let page = browser.new_page("about:blank").await.expect("a tab");
    let agent = page.user_agent().await.unwrap();
    page.execute(
        SetUserAgentOverrideParams::builder()
            .user_agent(agent)
            .accept_language("es-ES,es;q=0.9")
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    page.authenticate(Credentials {
        username: ADMIN_USER.to_owned(),
        password: ADMIN_PASSWORD.to_owned(),
    })
    .await
    .unwrap();
    page.goto(app.url("/usuarios"))
        .await
        .expect("the list page opens");
    // Typed as a keyboard with an input method would: accented letters have no key of their own.
    page.find_element("#nombre")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page.execute(InsertTextParams::new("Lucía Fernández"))
        .await
        .unwrap();
    page.find_element("#email")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str("lucia@example.com")
        .await
        .unwrap();
    page.find_element("#add-user button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The click starts a POST and a redirect: wait until the list with the notice is loaded.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let url = page.url().await.unwrap().unwrap_or_default();
        let loaded = page.find_element("#flash").await.is_ok();
        if url.ends_with("/usuarios?aviso=creado") && loaded {
            break;
        }
        if std::time::Instant::now() > deadline {
            let content = page.content().await.unwrap_or_default();
            panic!("no redirect to the list after submitting; at {url}:\n{content}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let flash = page
        .find_element("#flash")
        .await
        .unwrap()
        .inner_text()
        .await
        .unwrap();
    assert_eq!(flash.as_deref(), Some("Usuario agregado correctamente."));
    let names: Vec<String> = {
        let mut names = Vec::new();
        for cell in page.find_elements("td.nombre").await.unwrap() {
            names.push(cell.inner_text().await.unwrap().unwrap_or_default());
        }
        names
    };
    assert_eq!(
        names.first().map(String::as_str),
        Some("Lucía Fernández"),
        "{names:?}"
    );
    assert!(
        names.contains(&"<b>Sin negrita</b>".to_owned()),
        "markup shown as text"
    );
    // Bootstrap, served by the app, is applied despite the strict CSP.
    let color: String = page
        .evaluate("getComputedStyle(document.querySelector('.btn-primary')).backgroundColor")
        .await
        .unwrap()
        .into_value()
        .unwrap();
    assert_eq!(color, "rgb(13, 110, 253)", "Bootstrap's primary colour");

    let path = if std::env::var_os("OCTO_UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/app-usuarios.png"
        ))
    } else {
        profile.path().join("app-usuarios.png")
    };
    let png = page
        .save_screenshot(ScreenshotParams::builder().full_page(true).build(), &path)
        .await
        .expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(png.len() > 20_000, "a real picture, {} bytes", png.len());

    browser.close().await.unwrap();
    let _ = browser.wait().await;
    events.abort();
    let rows = app
        .sql("SELECT COUNT(*) FROM usuarios WHERE email = 'lucia@example.com'")
        .await;
    assert_eq!(rows.trim(), "1");
    app.stop().await;
}
