//! cAdvisor's command line and the kit's web flags on the real binary.

use std::process::Command;

use octo_testbed::{ExporterProcess, http_get};

use crate::support::BINARY;

#[test]
fn version_help_and_bad_flags() {
    let version = Command::new(BINARY).arg("-version").output().unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains("cAdvisor"));
    let help = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--docker_only",
        "--store_container_labels",
        "--path.cgroupfs",
        "--housekeeping_interval",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    for bad in [
        vec!["-no_such_flag"],
        vec!["-docker_only=perhaps"],
        vec!["-disable_metrics=cpu,bogus"],
        vec!["-docker=tcp://127.0.0.1:2375"],
        vec!["--path.cgroupfs=/nonexistent/cgroup"],
        vec!["-port=notaport"],
    ] {
        let output = Command::new(BINARY).args(&bad).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{bad:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{bad:?}: {stderr}");
        assert!(!stderr.trim().is_empty(), "{bad:?}: no message");
    }
}

#[tokio::test]
async fn kit_web_flags_basic_auth_and_healthz() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let config = dir.path().join("web.yml");
    // No users yet, so the testbed sees the exporter answer; auth is switched on below and the
    // kit re-reads the file.
    std::fs::write(
        &config,
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
    )
    .unwrap();
    let exporter = ExporterProcess::start(
        "octo-container-exporter",
        std::path::Path::new(BINARY),
        [
            format!("--web.config.file={}", config.display()),
            "--web.telemetry-path=/cadvisor-metrics".to_owned(),
            "-docker=".to_owned(),
            "-podman=".to_owned(),
        ],
        &[],
        ExporterProcess::web_listen,
        "/healthz",
    )
    .await
    .unwrap();
    let (status, body) = http_get(&exporter.url("/healthz")).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "ok"));
    std::fs::write(
        &config,
        format!("basic_auth_users:\n  prometheus: {hash}\n"),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, _) = http_get(&exporter.url("/cadvisor-metrics")).await.unwrap();
        if status == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "basic auth never enforced"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let client = reqwest_like_get(&exporter.url("/cadvisor-metrics"), "prometheus", "s3cret").await;
    assert!(client.contains("container_scrape_error 0"), "{client}");
    assert!(client.contains("octo_container_exporter_build_info{"));
    assert!(client.contains("machine_cpu_cores{"));
}

/// A GET with basic auth, over a plain TCP connection (HTTP/1.1).
async fn reqwest_like_get(url: &str, user: &str, password: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let credentials = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    };
    let request = format!(
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {credentials}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(300)]
    );
    text
}
