//! The whole stack, natively, started by the code of `cargo xtask up`: traffic through nginx,
//! every target up, requests on both app instances, every panel query of the shipped dashboard
//! and of the seed's returning data, and alerts that fire on induced faults and resolve after.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use octo_testbed::{Stack, StackOptions, StackPorts};

use super::dashboards::{expressions, original, shipped};
use super::support::{repo, target_dir};

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// Polls `check` every 250 ms until it returns `Ok`, failing with its last complaint after
/// `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what}: still not true after {timeout:?}: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Waits until the app's `/readyz` answers `expected` (0 stands for no answer at all).
pub async fn readiness_becomes(
    http: &reqwest::Client,
    ready: &str,
    expected: u16,
    timeout: Duration,
) {
    let what = format!("{ready} answering {expected}");
    eventually(&what, timeout, || async {
        let status = http
            .get(ready)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if status == expected {
            Ok(())
        } else {
            Err(status.to_string())
        }
    })
    .await
}

async fn alert_state(stack: &Stack, name: &str, label: &str, value: &str) -> Option<String> {
    let alerts = stack.prometheus.alerts().await.ok()?;
    alerts
        .into_iter()
        .find(|(alert, _, labels)| alert == name && labels[label].as_str() == Some(value))
        .map(|(_, state, _)| state)
}

/// Waits for an alert to be seen pending, then firing.
async fn pending_then_firing(stack: &Stack, name: &str, label: &str, value: &str) {
    let seen_pending = AtomicBool::new(false);
    eventually(
        &format!("{name} firing"),
        Duration::from_secs(60),
        || async {
            match alert_state(stack, name, label, value).await.as_deref() {
                Some("pending") => {
                    seen_pending.store(true, Ordering::Relaxed);
                    Err("pending".to_owned())
                }
                Some("firing") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(
        seen_pending.load(Ordering::Relaxed),
        "{name} fired without being seen pending first"
    );
}

async fn resolved(stack: &Stack, name: &str, label: &str, value: &str) {
    eventually(
        &format!("{name} resolved"),
        Duration::from_secs(60),
        || async {
            match alert_state(stack, name, label, value).await {
                None => Ok(()),
                Some(state) => Err(state),
            }
        },
    )
    .await;
}

/// Every expression returns at least one series; the message lists those that do not.
async fn all_return_data(stack: &Stack, queries: &[(String, String)], what: &str) {
    eventually(what, Duration::from_secs(90), || async {
        let mut empty = Vec::new();
        for (panel, expr) in queries {
            match stack.prometheus.query(expr).await {
                Ok(result) if !result.is_empty() => {}
                Ok(_) => empty.push(format!("{panel}: {expr}")),
                Err(err) => empty.push(format!("{panel}: {expr}: {err}")),
            }
        }
        if empty.is_empty() {
            Ok(())
        } else {
            Err(format!("no data for:\n  {}", empty.join("\n  ")))
        }
    })
    .await;
}

pub async fn send_traffic(stack: &Stack, http: &reqwest::Client, round: usize) {
    let (user, password) = stack.admin();
    for i in 0..10 {
        let _ = http.get(stack.url("/")).send().await;
        let _ = http.get(stack.url("/usuarios")).send().await;
        let _ = http.get(stack.url("/no-existe")).send().await;
        let body = serde_json::json!({"nombre": format!("Usuaria {round}-{i}"), "email": format!("e2e-{round}-{i}@example.com")});
        let response = http
            .post(stack.url("/api/usuarios"))
            .basic_auth(user, Some(password))
            .json(&body)
            .send()
            .await
            .expect("POST through nginx");
        assert_eq!(response.status(), 201, "adding a user through nginx");
    }
}

/// What the public side of nginx shows to somebody without the admin credential: pages and the
/// API to read, no writes, no operational endpoints; and forms that work whichever instance
/// serves the page and whichever receives the POST.
async fn public_side(stack: &Stack, http: &reqwest::Client) {
    for path in ["/metrics", "/readyz", "/api/openapi.json", "/stub_status"] {
        let status = http.get(stack.url(path)).send().await.unwrap().status();
        assert_eq!(status, 404, "{path} through the public nginx");
    }
    for path in ["/", "/usuarios", "/api/usuarios", "/healthz"] {
        let status = http.get(stack.url(path)).send().await.unwrap().status();
        assert_eq!(status, 200, "{path} through the public nginx");
    }
    let anonymous = http
        .post(stack.url("/api/usuarios"))
        .json(&serde_json::json!({"nombre": "Anónima", "email": "anon@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "an anonymous add through nginx");
    // nginx alternates between the instances: over four forms, pages and POSTs land on both,
    // and each instance accepts the tokens the other signed (one key file for both).
    let (user, password) = stack.admin();
    for i in 0..4 {
        let page = http.get(stack.url("/usuarios")).send().await.unwrap();
        let cookie = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next())
            .find(|pair| pair.starts_with("octo_session="))
            .expect("a session cookie")
            .to_owned();
        let html = page.text().await.unwrap();
        let marker = "name=\"csrf_token\" value=\"";
        let start = html.find(marker).expect("a CSRF field") + marker.len();
        let token = &html[start..start + html[start..].find('"').unwrap()];
        let response = http
            .post(stack.url("/usuarios"))
            .basic_auth(user, Some(password))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf_token={token}&nombre=Formulario+{i}&email=form-{i}%40example.com"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "form {i} through nginx");
    }
}

/// A stack of the debug binaries on free ports, scraping every second, with its cgroups under
/// `<cgroup_prefix>-<pid>` and the viewer serving `dashboards`.
pub fn test_stack(cgroup_prefix: &str, dashboards: Vec<std::path::PathBuf>) -> StackOptions {
    StackOptions {
        repo: repo(),
        bin_dir: target_dir().join("debug"),
        ports: StackPorts::ephemeral().expect("free loopback ports"),
        scrape_interval: Duration::from_secs(1),
        rule_for: Some("3s".into()),
        mariadb_data: None,
        progress: false,
        cgroup_root: format!("{cgroup_prefix}-{}", std::process::id()),
        dashboards,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_end_to_end() {
    let stack = Stack::start(test_stack(
        "octo-e2e",
        vec![repo().join("grafana/dashboards")],
    ))
    .await
    .expect("the native stack starts");
    let mut stack = stack;
    let http = client();

    send_traffic(&stack, &http, 0).await;
    public_side(&stack, &http).await;

    let targets = eventually("every target up", Duration::from_secs(60), || async {
        let targets = stack
            .prometheus
            .targets()
            .await
            .map_err(|e| e.to_string())?;
        let down: Vec<_> = targets.iter().filter(|t| t.2 != "up").collect();
        if targets.len() == 8 && down.is_empty() {
            Ok(targets)
        } else {
            Err(format!("{targets:?}"))
        }
    })
    .await;
    let jobs: std::collections::BTreeSet<&str> = targets.iter().map(|t| t.0.as_str()).collect();
    for job in [
        "app",
        "nginx",
        "node",
        "mysql",
        "containers",
        "prometheus",
        "alertmanager",
    ] {
        assert!(jobs.contains(job), "job {job} not scraped: {jobs:?}");
    }

    let per_instance = eventually(
        "requests on both app instances",
        Duration::from_secs(30),
        || async {
            let result = stack
                .prometheus
                .query("sum by (instance) (http_requests_total{job=\"app\"})")
                .await
                .map_err(|e| e.to_string())?;
            let counts: BTreeMap<String, f64> = result
                .iter()
                .map(|r| {
                    let instance = r["metric"]["instance"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let value = r["value"][1]
                        .as_str()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0.0);
                    (instance, value)
                })
                .collect();
            if counts.len() == 2 && counts.values().all(|v| *v > 0.0) {
                Ok(counts)
            } else {
                Err(format!("{counts:?}"))
            }
        },
    )
    .await;
    println!("requests per app instance: {per_instance:?}");

    all_return_data(
        &stack,
        &expressions(&shipped()),
        "every panel of the shipped dashboard",
    )
    .await;

    // Fault 1: one app instance stops while GETs keep coming through nginx.
    let keep_going = Arc::new(AtomicBool::new(true));
    let load = tokio::spawn({
        let url = stack.url("/usuarios");
        let keep_going = keep_going.clone();
        let http = http.clone();
        async move {
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            while keep_going.load(Ordering::Relaxed) {
                let status = http
                    .get(&url)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                *statuses.entry(status).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            statuses
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let app2 = format!("127.0.0.1:{}", stack.options.ports.apps[1]);
    stack.stop_app(1);
    pending_then_firing(&stack, "TargetDown", "instance", &app2).await;
    // Alertmanager delivers it to the alert log (the stack's default webhook receiver).
    if let Some(alert_log) = &stack.alert_log {
        eventually(
            "TargetDown in the alert log",
            Duration::from_secs(60),
            || async {
                let log = alert_log.log();
                if log
                    .lines()
                    .any(|l| l.contains("TargetDown") && l.contains("firing"))
                {
                    Ok(())
                } else {
                    Err(log)
                }
            },
        )
        .await;
    }
    keep_going.store(false, Ordering::Relaxed);
    let statuses = load.await.expect("load generator");
    assert!(
        statuses.keys().all(|s| *s == 200),
        "GETs failed while an instance was down: {statuses:?}"
    );
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 50,
        "{statuses:?}"
    );
    stack.start_app(1).await.expect("app2 restarts");
    resolved(&stack, "TargetDown", "instance", &app2).await;

    // Fault 2: the database stops.
    stack.mariadb.stop();
    let ready = format!("http://127.0.0.1:{}/readyz", stack.options.ports.apps[0]);
    readiness_becomes(&http, &ready, 503, Duration::from_secs(30)).await;
    for _ in 0..10 {
        let status = http
            .get(stack.url("/usuarios"))
            .send()
            .await
            .expect("nginx answers")
            .status();
        assert_eq!(status, 503, "a page needing the database while it is down");
    }
    let mysql_instance = format!("127.0.0.1:{}", stack.options.ports.mysqld_exporter);
    pending_then_firing(&stack, "MySQLDown", "instance", &mysql_instance).await;
    stack.restart_mariadb().await.expect("MariaDB restarts");
    readiness_becomes(&http, &ready, 200, Duration::from_secs(60)).await;
    resolved(&stack, "MySQLDown", "instance", &mysql_instance).await;
    send_traffic(&stack, &http, 1).await;

    // The seed's dashboard, with its original queries (its 5xx panel needs the 503s above).
    all_return_data(
        &stack,
        &expressions(&original()),
        "every panel of the seed's dashboard",
    )
    .await;
}
