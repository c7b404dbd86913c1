//! The dashboard viewer of the native stack, in headless Chromium (Debian's `chromium`) against
//! the running stack with traffic: every panel of the shipped dashboard and of the seed's draws
//! data; the error-rate stat takes its threshold's colour as real 5xx answers move it; the app
//! instance variable filters the app panels; one query per target per refresh, with a step
//! chosen from the panel's width; a Prometheus outage shows an error on every panel, and they
//! recover when it is back. The proxy passes on only GETs of Prometheus's read-only API.
//!
//! The screenshot of the whole dashboard goes to a temporary directory, or to
//! `docs/dashboard.png` when `OCTO_UPDATE_SCREENSHOT=1`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::{Page, ScreenshotParams};
use futures_util::StreamExt as _;
use octo_testbed::{Stack, require_program};
use serde_json::Value;

use super::dashboards::{panels, shipped};
use super::e2e::{client, eventually, readiness_becomes, send_traffic};
use super::support::{repo, seed};

const SHIPPED: &str = "sistema-monitoreo";
const SEED: &str = "system_monitoring";
const HOSTILE: &str = "hostile";
/// A label value Prometheus really returns (label_replace), made to run script if parsed as HTML.
const EVIL: &str = "<img src=x onerror=\"window.pwned=1\">";
const ERROR_RATE: &str = "Tasa de Error HTTP";
const RED: &str = "#F2495C";
const YELLOW: &str = "#FADE2A";
const GREEN: &str = "#73BF69";
/// The time range shown: the stack is young, and the screenshot should show lines.
const RANGE_SECONDS: u64 = 150;
/// How long the stack runs with traffic before the screenshot.
const WARM_UP: Duration = Duration::from_secs(100);

/// The viewer's own account of itself (`window.octoViewer.snapshot()`), or Null before it loaded.
async fn snapshot(page: &Page) -> Value {
    let text: String = page
        .evaluate("JSON.stringify(window.octoViewer ? window.octoViewer.snapshot() : null)")
        .await
        .expect("the page answers")
        .into_value()
        .expect("a string");
    serde_json::from_str(&text).expect("the snapshot is JSON")
}

fn panel<'a>(snapshot: &'a Value, title: &str) -> &'a Value {
    snapshot["panels"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["title"] == title))
        .unwrap_or_else(|| panic!("no panel {title:?} in {snapshot}"))
}

/// Waits until a refresh that began after this call has finished with every panel in `state`;
/// returns that snapshot.
async fn every_panel(page: &Page, state: &str, what: &str) -> Value {
    let after = snapshot(page).await["refreshes"].as_u64().unwrap_or(0);
    eventually(what, Duration::from_secs(120), || async {
        let now = snapshot(page).await;
        if now.is_null() || now["refreshes"].as_u64().unwrap_or(0) < after + 1 {
            return Err(format!("waiting for a refresh: {now}"));
        }
        let wrong: Vec<String> = now["panels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["state"] != state)
            .map(|p| format!("{} [{}]: {}", p["title"], p["state"], p["message"]))
            .collect();
        if wrong.is_empty() && !now["running"].as_bool().unwrap_or(true) {
            Ok(now)
        } else {
            Err(format!("not {state}:\n  {}", wrong.join("\n  ")))
        }
    })
    .await
}

/// The colour the viewer gave the error-rate stat's tile.
async fn error_rate_colour(page: &Page) -> String {
    let script = format!(
        "(() => {{ const tile = document.querySelector('.panel[data-title=\"{ERROR_RATE}\"] .stat-tile'); \
         return tile ? tile.dataset.colour + ' ' + getComputedStyle(tile).backgroundColor : ''; }})()"
    );
    page.evaluate(script.as_str())
        .await
        .unwrap()
        .into_value()
        .unwrap()
}

fn rgb(hex: &str) -> String {
    let n = u32::from_str_radix(&hex[1..], 16).unwrap();
    format!("rgb({}, {}, {})", n >> 16, (n >> 8) & 255, n & 255)
}

/// Waits until the error-rate tile shows `hex`, both as the viewer's choice and as drawn.
async fn error_rate_becomes(page: &Page, hex: &str) {
    let wanted = format!("{hex} {}", rgb(hex));
    eventually(
        &format!("the error-rate stat in {hex}"),
        Duration::from_secs(60),
        || async {
            let colour = error_rate_colour(page).await;
            if colour == wanted {
                Ok(())
            } else {
                Err(colour)
            }
        },
    )
    .await;
}

/// The shipped dashboard's error-rate expression, evaluated by Prometheus itself.
async fn error_rate(stack: &Stack) -> f64 {
    let dashboard = shipped();
    let all = panels(&dashboard);
    let stat = all.iter().find(|p| p["title"] == ERROR_RATE).unwrap();
    let expr = stat["targets"][0]["expr"].as_str().unwrap();
    let result = stack.prometheus.query(expr).await.expect("the error rate");
    result
        .first()
        .and_then(|r| r["value"][1].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// 503s for real: the database stops while pages are asked for, then comes back.
async fn answer_503s(stack: &mut Stack, http: &reqwest::Client, count: usize) {
    stack.mariadb.stop();
    let ready = format!("http://127.0.0.1:{}/readyz", stack.options.ports.apps[0]);
    readiness_becomes(http, &ready, 503, Duration::from_secs(30)).await;
    // A few first, so that Prometheus has scraped the new 5xx series before the rest add up:
    // rate() does not count a series' first value.
    let mut answered = 0;
    for round in 0..2 {
        let batch = if round == 0 { 4 } else { count };
        for _ in 0..batch {
            let status = http
                .get(stack.url("/usuarios"))
                .send()
                .await
                .unwrap()
                .status();
            answered += usize::from(status == 503);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    assert!(answered > count / 2, "{answered} of {count} pages were 503");
    stack.restart_mariadb().await.expect("MariaDB restarts");
    readiness_becomes(http, &ready, 200, Duration::from_secs(60)).await;
    let ready2 = format!("http://127.0.0.1:{}/readyz", stack.options.ports.apps[1]);
    readiness_becomes(http, &ready2, 200, Duration::from_secs(60)).await;
}

/// Only GETs of Prometheus's read-only query API pass; nothing else of Prometheus is reachable.
async fn proxy_is_read_only(stack: &Stack, http: &reqwest::Client) {
    for path in [
        "/api/v1/query?query=up",
        "/api/v1/query_range?query=up&start=1&end=2&step=1",
        "/api/v1/series?match[]=up",
        "/api/v1/labels",
        "/api/v1/label/job/values",
    ] {
        let response = http.get(stack.viewer_url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
    }
    for path in [
        "/api/v1/status/config",
        "/api/v1/targets",
        "/api/v1/alerts",
        "/api/v1/admin/tsdb/snapshot",
        "/api/v1/query/../status/config",
        "/api/v1/label/job/../../status/flags",
        "/api/v1/label/a%2F..%2F..%2Fstatus%2Fconfig/values",
        "/-/quit",
        "/-/reload",
        "/metrics",
        "/graph",
        "/federate?match[]=up",
        "/vendor/fetch-uplot.sh",
        "/test/format.test.mjs",
    ] {
        let response = http.get(stack.viewer_url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        assert!(status == 404 || status == 400, "GET {path}: {status}");
    }
    for path in ["/api/v1/query", "/api/v1/admin/tsdb/delete_series"] {
        let response = http
            .post(stack.viewer_url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("query=up&match[]=up")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(status == 403 || status == 404, "POST {path}: {status}");
    }
    let page = http.get(stack.viewer_url("/")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let module = http
        .get(stack.viewer_url("/js/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        module.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
}

async fn launch_chromium(profile: &std::path::Path) -> (Browser, tokio::task::JoinHandle<()>) {
    let chromium = require_program("chromium", "chromium").expect("Chromium for the viewer test");
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .no_sandbox()
        .user_data_dir(profile)
        .window_size(1600, 1000)
        .viewport(Viewport {
            width: 1600,
            height: 1000,
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
        .request_timeout(Duration::from_secs(60))
        .build()
        .expect("a browser configuration");
    let (browser, mut handler) = Browser::launch(config).await.expect("Chromium starts");
    let events = tokio::spawn(async move {
        while let Some(event) = handler.next().await {
            if event.is_err() {
                break;
            }
        }
    });
    (browser, events)
}

/// Selects one app instance in the variable's menu, as a reader would, and checks that the app
/// panels now query and show that instance only.
async fn instance_variable_filters(page: &Page, instance: &str) {
    page.find_element("[data-variable=app_instance] summary")
        .await
        .expect("the instance variable")
        .click()
        .await
        .unwrap();
    page.find_element(format!(
        "[data-variable=app_instance] input[value=\"{instance}\"]"
    ))
    .await
    .expect("the instance among the options")
    .click()
    .await
    .unwrap();
    let escaped = instance.replace('.', "\\\\.");
    let filtered: Vec<String> = panels(&shipped())
        .iter()
        .filter(|p| p.to_string().contains("$app_instance"))
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect();
    assert!(filtered.len() >= 3, "{filtered:?}");
    let now = every_panel(page, "ok", "every panel drawn for one instance").await;
    let selected = &now["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "app_instance")
        .unwrap()["selected"];
    assert_eq!(selected, &serde_json::json!([instance]));
    for title in &filtered {
        let shown = panel(&now, title);
        for query in shown["queries"].as_array().unwrap() {
            let query = query.as_str().unwrap();
            assert!(
                query.contains(&format!("instance=~\"{escaped}\"")),
                "{title}: {query}"
            );
        }
        let series = shown["series"].as_array().unwrap();
        assert!(!series.is_empty(), "{title}: no series");
        for labels in series {
            assert_eq!(labels["instance"], instance, "{title}: {labels}");
        }
    }
    // Back to every instance.
    page.find_element("[data-variable=app_instance] summary")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page.find_element("[data-variable=app_instance] input[value=\"$__all\"]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// One query per target per refresh, each range query's step at least the scrape interval and
/// no finer than one point per pixel of the panel.
fn requests_are_bounded(now: &Value, range_seconds: f64) {
    let last = &now["lastRefresh"];
    assert_eq!(last["queries"], last["targets"], "{last}");
    assert!(last["targets"].as_u64().unwrap() > 20, "{last}");
    for shown in now["panels"].as_array().unwrap() {
        let step = shown["step"].as_f64().unwrap();
        let width = shown["width"].as_f64().unwrap();
        assert!(step >= 1.0, "{}: step {step}", shown["title"]);
        assert!(
            range_seconds / step <= width + 1.0,
            "{}: {range_seconds} s in steps of {step} s for {width} px",
            shown["title"]
        );
    }
}

/// A dashboard file of the test's own whose titles, legends and colours, and the label values
/// Prometheus answers for it, are made to inject markup and styles; and a panel type the viewer
/// does not draw.
fn hostile() -> Value {
    let expr = format!(
        "label_replace(vector(42), \"evil\", \"{}\", \"\", \"\")",
        EVIL.replace('"', "\\\"")
    );
    let target =
        serde_json::json!({"expr": expr, "legendFormat": "{{evil}} <b>bold</b>", "refId": "A"});
    let panel = |id: u32, kind: &str, x: u32| {
        serde_json::json!({
            "id": id, "type": kind, "title": format!("<script>window.pwned=1</script> {kind}"),
            "gridPos": {"x": x, "y": 0, "w": 6, "h": 8},
            "targets": [target],
            "fieldConfig": {"defaults": {
                "unit": "<i>units</i>",
                "thresholds": {"mode": "absolute", "steps": [
                    {"color": "red; background-image: url(/x)", "value": null}
                ]}
            }},
            "options": {"colorMode": "background"}
        })
    };
    serde_json::json!({
        "title": "<img src=x onerror=\"window.pwned=1\">",
        "panels": [panel(1, "stat", 0), panel(2, "timeseries", 6), panel(3, "table", 12), panel(4, "piechart", 18)],
    })
}

/// The hostile dashboard: every text shown as text, no element made from data, the bogus colour
/// replaced, and the panel type it cannot draw said on the panel.
async fn hostile_text_stays_text(page: &Page, stack: &Stack) {
    page.goto(stack.viewer_url(&format!("/?dashboard={HOSTILE}&from=now-5m&refresh=2s")))
        .await
        .expect("the hostile dashboard opens");
    let now = eventually(
        "the hostile dashboard drawn",
        Duration::from_secs(60),
        || async {
            let now = snapshot(page).await;
            let states: Vec<String> = now["panels"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let (kind, state) = (p["type"].as_str(), p["state"].as_str());
                    format!("{}={}", kind.unwrap_or(""), state.unwrap_or(""))
                })
                .collect();
            let wanted = [
                "stat=ok",
                "timeseries=ok",
                "table=ok",
                "piechart=unsupported",
            ];
            if states == wanted && now["refreshes"].as_u64().unwrap_or(0) >= 1 {
                Ok(now)
            } else {
                Err(format!("{states:?}"))
            }
        },
    )
    .await;
    let piechart = panel(&now, "<script>window.pwned=1</script> piechart");
    assert!(
        piechart["message"]
            .as_str()
            .unwrap()
            .contains("\"piechart\" is not supported")
    );
    let check: Value = serde_json::from_str(
        &page
            .evaluate(
                "JSON.stringify({pwned: window.pwned === undefined ? null : window.pwned, \
                 made: document.querySelectorAll('main img, main script, main b, main i').length, \
                 text: document.body.innerText, \
                 colour: document.querySelector('.stat-tile').dataset.colour, \
                 background: getComputedStyle(document.querySelector('.stat-tile')).backgroundImage})",
            )
            .await
            .unwrap()
            .into_value::<String>()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(check["pwned"], Value::Null, "script ran: {check}");
    assert_eq!(check["made"], 0, "elements made from data: {check}");
    let text = check["text"].as_str().unwrap();
    for shown in [
        EVIL,
        "<script>window.pwned=1</script> stat",
        "<b>bold</b>",
        "<i>units</i>",
    ] {
        assert!(
            text.contains(shown),
            "{shown:?} not shown as text in:\n{text}"
        );
    }
    assert_eq!(check["colour"], "#808080", "{check}");
    assert_eq!(check["background"], "none", "{check}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_viewer_in_chromium() {
    let seed_dashboard = seed().join("grafana/provisioning/dashboards/system_monitoring.json");
    assert!(
        seed_dashboard.is_file(),
        "the seed's dashboard is expected at {}",
        seed_dashboard.display()
    );
    let hostile_dir = tempfile::tempdir().unwrap();
    let hostile_dashboard = hostile_dir.path().join(format!("{HOSTILE}.json"));
    std::fs::write(&hostile_dashboard, hostile().to_string()).unwrap();
    let mut stack = Stack::start(super::e2e::test_stack(
        "octo-viewer",
        vec![
            repo().join("grafana/dashboards"),
            seed_dashboard,
            hostile_dashboard,
        ],
    ))
    .await
    .expect("the native stack starts");
    let http = client();
    proxy_is_read_only(&stack, &http).await;

    // Prometheus picks up its targets a few seconds after it starts: traffic before that would
    // be counted in the first samples, which rate() ignores.
    eventually("every target up", Duration::from_secs(60), || async {
        let targets = stack
            .prometheus
            .targets()
            .await
            .map_err(|e| e.to_string())?;
        if targets.len() == 8 && targets.iter().all(|t| t.2 == "up") {
            Ok(())
        } else {
            Err(format!("{targets:?}"))
        }
    })
    .await;

    // A steady stream of pages for the whole test, as a site in use has: the
    // charts draw lines rather than a last point.
    let started = std::time::Instant::now();
    let keep_going = Arc::new(AtomicBool::new(true));
    let steady = tokio::spawn({
        let (http, keep_going) = (http.clone(), keep_going.clone());
        let urls = ["/", "/usuarios"].map(|p| stack.url(p));
        async move {
            while keep_going.load(Ordering::Relaxed) {
                for url in &urls {
                    let _ = http.get(url).send().await;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });

    // Traffic with real 5xx answers, enough to put the error rate over its red threshold (10%).
    send_traffic(&stack, &http, 0).await;
    answer_503s(&mut stack, &http, 60).await;
    send_traffic(&stack, &http, 1).await;
    eventually(
        "an error rate above 10%",
        Duration::from_secs(60),
        || async {
            let rate = error_rate(&stack).await;
            if rate > 12.0 {
                Ok(())
            } else {
                let by_status = stack
                    .prometheus
                    .query("sum by (status, instance) (http_requests_total{job=\"app\"})")
                    .await;
                Err(format!("{rate}: {by_status:?}"))
            }
        },
    )
    .await;

    let profile = tempfile::tempdir().unwrap();
    let (mut browser, events) = launch_chromium(profile.path()).await;
    let page = browser.new_page("about:blank").await.expect("a tab");
    page.goto(stack.viewer_url(&format!(
        "/?dashboard={SHIPPED}&from=now-{RANGE_SECONDS}s&refresh=2s"
    )))
    .await
    .expect("the viewer opens");
    let now = every_panel(&page, "ok", "every panel of the shipped dashboard drawn").await;
    let expected = panels(&shipped())
        .iter()
        .filter(|p| p["type"] != "row")
        .count();
    assert_eq!(now["panels"].as_array().unwrap().len(), expected);
    requests_are_bounded(&now, RANGE_SECONDS as f64);
    error_rate_becomes(&page, RED).await;

    let app1 = format!("127.0.0.1:{}", stack.options.ports.apps[0]);
    instance_variable_filters(&page, &app1).await;

    // Successful traffic brings the error rate down through its yellow band (5% to 10%).
    eventually(
        "an error rate between 5% and 9%",
        Duration::from_secs(240),
        || async {
            let rate = error_rate(&stack).await;
            if (5.5..9.0).contains(&rate) && started.elapsed() >= WARM_UP {
                return Ok(());
            }
            if rate >= 9.0 && started.elapsed() >= WARM_UP {
                for _ in 0..20 {
                    let _ = http.get(stack.url("/")).send().await;
                }
            }
            Err(rate.to_string())
        },
    )
    .await;
    error_rate_becomes(&page, YELLOW).await;
    let now = every_panel(&page, "ok", "every panel drawn, error rate yellow").await;
    let mysql_up = panel(&now, "MySQL arriba");
    assert_eq!(mysql_up["state"], "ok");
    let green = page
        .evaluate("document.querySelector('.panel[data-title=\"MySQL arriba\"] .stat-tile').dataset.colour")
        .await
        .unwrap()
        .into_value::<String>()
        .unwrap();
    assert_eq!(green, GREEN, "mysql_up is 1: the green step");

    let path = if std::env::var_os("OCTO_UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/dashboard.png"
        ))
    } else {
        profile.path().join("dashboard.png")
    };
    let png = page
        .save_screenshot(ScreenshotParams::builder().full_page(true).build(), &path)
        .await
        .expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(png.len() > 100_000, "a real picture, {} bytes", png.len());

    // Prometheus stops: every panel says so; it comes back: every panel recovers.
    stack.prometheus.stop();
    let down = every_panel(
        &page,
        "error",
        "every panel in error while Prometheus is down",
    )
    .await;
    for shown in down["panels"].as_array().unwrap() {
        assert!(
            shown["message"].as_str().unwrap().contains("Prometheus"),
            "{shown}"
        );
    }
    stack
        .restart_prometheus()
        .await
        .expect("Prometheus restarts");
    every_panel(
        &page,
        "ok",
        "every panel recovered after Prometheus restarted",
    )
    .await;

    // The seed's dashboard, unchanged, from its own file.
    page.goto(stack.viewer_url(&format!("/?dashboard={SEED}&from=now-15m&refresh=2s")))
        .await
        .expect("the seed's dashboard opens");
    let now = every_panel(&page, "ok", "every panel of the seed's dashboard drawn").await;
    let seed_panels = panels(&super::dashboards::original()).len();
    assert_eq!(now["panels"].as_array().unwrap().len(), seed_panels);

    let seed_png = page
        .save_screenshot(
            ScreenshotParams::builder().full_page(true).build(),
            profile.path().join("seed.png"),
        )
        .await
        .expect("a screenshot of the seed's dashboard");
    assert!(seed_png.len() > 50_000, "{} bytes", seed_png.len());
    if let Some(copy) = std::env::var_os("OCTO_VIEWER_SEED_SCREENSHOT") {
        std::fs::write(copy, &seed_png).unwrap();
    }

    hostile_text_stays_text(&page, &stack).await;

    keep_going.store(false, Ordering::Relaxed);
    steady.await.unwrap();
    browser.close().await.unwrap();
    let _ = browser.wait().await;
    events.abort();
}

#[test]
fn viewer_helpers_pass_their_node_tests() {
    let node = require_program("node", "nodejs").unwrap_or_else(|err| panic!("{err}"));
    let output = std::process::Command::new(node)
        .arg("--test")
        .arg(repo().join("viewer/test/"))
        .output()
        .expect("node runs");
    let text = octo_testbed::combined_output(&output);
    assert!(
        output.status.success(),
        "node --test viewer/test/ failed:\n{text}"
    );
}
