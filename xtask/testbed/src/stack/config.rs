//! The repository's configuration files with the Compose service addresses rewritten to the
//! native stack's loopback ports.

use std::path::Path;
use std::time::Duration;

use super::options::StackPorts;
use crate::error::TestbedError;

/// Replaces `from` with `to` in `text`, failing if `from` is absent (the configuration file
/// changed shape and the native stack would silently run something else).
fn rewrite(text: &str, from: &str, to: &str, file: &str) -> Result<String, TestbedError> {
    if !text.contains(from) {
        return Err(TestbedError::Start {
            service: "stack".into(),
            detail: format!(
                "{file} no longer contains {from:?}; update the native stack's rewrite"
            ),
        });
    }
    Ok(text.replace(from, to))
}

fn read(repo: &Path, rel: &str) -> Result<String, TestbedError> {
    let path = repo.join(rel);
    std::fs::read_to_string(&path).map_err(|source| TestbedError::Io {
        context: format!("reading {}", path.display()),
        source,
    })
}

/// The native Prometheus configuration: the repository's, with Compose addresses mapped.
pub fn native_prometheus_config(
    repo: &Path,
    ports: &StackPorts,
    scrape_interval: Duration,
) -> Result<String, TestbedError> {
    let file = "prometheus/prometheus.yml";
    let mut text = read(repo, file)?;
    let interval = format!("{}s", scrape_interval.as_secs().max(1));
    for (from, to) in [
        ("\"app1:5000\"", format!("\"127.0.0.1:{}\"", ports.apps[0])),
        ("\"app2:5000\"", format!("\"127.0.0.1:{}\"", ports.apps[1])),
        (
            "\"nginx:9113\"",
            format!("\"127.0.0.1:{}\"", ports.nginx_exporter),
        ),
        (
            "\"node-exporter:9100\"",
            format!("\"127.0.0.1:{}\"", ports.node_exporter),
        ),
        (
            "\"mysqld-exporter:9104\"",
            format!("\"127.0.0.1:{}\"", ports.mysqld_exporter),
        ),
        (
            "\"container-exporter:8080\"",
            format!("\"127.0.0.1:{}\"", ports.container_exporter),
        ),
        (
            "\"localhost:9090\"",
            format!("\"127.0.0.1:{}\"", ports.prometheus),
        ),
        (
            "scrape_interval: 15s",
            format!("scrape_interval: {interval}"),
        ),
        (
            "evaluation_interval: 15s",
            format!("evaluation_interval: {interval}"),
        ),
    ] {
        text = rewrite(&text, from, &to, file)?;
    }
    // Alertmanager appears twice (alerting target and scrape target).
    text = rewrite(
        &text,
        "\"alertmanager:9093\"",
        &format!("\"127.0.0.1:{}\"", ports.alertmanager),
        file,
    )?;
    let timeout = scrape_interval.as_secs().clamp(1, 10);
    text = rewrite(
        &text,
        "scrape_timeout: 10s",
        &format!("scrape_timeout: {timeout}s"),
        file,
    )?;
    Ok(text)
}

/// The repository's alert rules, with every `for:` replaced when asked.
pub fn rules(repo: &Path, rule_for: Option<&str>) -> Result<String, TestbedError> {
    let text = read(repo, "prometheus/rules/alerts.yml")?;
    Ok(match rule_for {
        None => text,
        Some(duration) => text
            .lines()
            .map(|line| match line.trim_start().strip_prefix("for: ") {
                Some(_) => format!(
                    "{}for: {duration}",
                    &line[..line.len() - line.trim_start().len()]
                ),
                None => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// Where nginx's access-log socket is, relative to nginx's prefix (the repository's
/// configuration says /run/octo, which needs root).
pub(super) const NGINX_LOG_SOCKET: &str = "nginx-log.sock";

/// The repository's nginx server configuration, listening on the stack's ports and sending
/// its metrics log to `log_socket`.
pub(super) fn nginx_server(
    repo: &Path,
    ports: &StackPorts,
    log_socket: &Path,
) -> Result<String, TestbedError> {
    let file = "nginx/conf.d/octo.conf";
    let octo = read(repo, file)?;
    let octo = rewrite(
        &octo,
        "syslog:server=unix:/run/octo/nginx-log.sock,",
        &format!("syslog:server=unix:{},", log_socket.display()),
        file,
    )?;
    let octo = rewrite(
        &octo,
        "listen 8080;",
        &format!("listen 127.0.0.1:{};", ports.nginx),
        file,
    )?;
    rewrite(
        &octo,
        "listen 127.0.0.1:8081;",
        &format!("listen 127.0.0.1:{};", ports.nginx_status),
        file,
    )
}

/// The upstream servers nginx balances over: the app instances.
pub(super) fn nginx_app_upstreams(ports: &StackPorts) -> String {
    ports
        .apps
        .iter()
        .map(|p| format!("server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n"))
        .collect()
}

/// The repository's Alertmanager configuration, posting to the alert log with the token in
/// `token_file`.
pub(super) fn alertmanager(
    repo: &Path,
    ports: &StackPorts,
    token_file: &Path,
) -> Result<String, TestbedError> {
    let file = "alertmanager/alertmanager.yml";
    let config = read(repo, file)?;
    let config = rewrite(
        &config,
        "http://alert-receiver:9095/alerts",
        &format!("http://127.0.0.1:{}/alerts", ports.alert_log),
        file,
    )?;
    rewrite(
        &config,
        "/etc/alertmanager/secrets/webhook-token",
        &token_file.display().to_string(),
        file,
    )
}
