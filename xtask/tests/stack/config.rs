//! Configuration files, checked by the programs that will read them.

use std::collections::BTreeSet;
use std::process::Command;

use super::support::{program, repo, run_ok, target_dir};

fn promtool() -> std::path::PathBuf {
    program("promtool", "prometheus")
}

#[test]
fn prometheus_configuration_passes_promtool() {
    let text = run_ok(
        Command::new(promtool()).current_dir(repo()).args([
            "check",
            "config",
            "prometheus/prometheus.yml",
        ]),
        "promtool check config",
    );
    assert!(text.contains("SUCCESS: 16 rules found"), "{text}");
}

#[test]
fn alert_rule_unit_tests_pass() {
    let text = run_ok(
        Command::new(promtool()).current_dir(repo()).args([
            "test",
            "rules",
            "prometheus/tests/alerts_test.yml",
        ]),
        "promtool test rules",
    );
    assert!(text.contains("SUCCESS"), "{text}");
}

/// The names of the alerts a rules file defines, or a unit-test file tests.
fn names_after(text: &str, key: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.trim_start().trim_start_matches("- ").strip_prefix(key))
        .map(|rest| rest.trim().to_owned())
        .collect()
}

#[test]
fn every_alert_rule_has_a_unit_test_and_none_uses_the_seeds_names() {
    let rules = std::fs::read_to_string(repo().join("prometheus/rules/alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(repo().join("prometheus/tests/alerts_test.yml")).unwrap();
    let defined = names_after(&rules, "alert:");
    let tested = names_after(&tests, "alertname:");
    assert_eq!(defined.len(), 16, "{defined:?}");
    let untested: Vec<&String> = defined.difference(&tested).collect();
    assert!(
        untested.is_empty(),
        "rules without a unit test: {untested:?}"
    );
    let expressions: String = rules
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for never_existed in ["app_requests_total", "mysqld_exporter", "app_instances"] {
        assert!(
            !expressions.contains(never_existed),
            "the seed's {never_existed} is back in the rules"
        );
    }
}

#[test]
fn kubernetes_and_native_prometheus_configurations_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::copy(
        repo().join("prometheus/rules/alerts.yml"),
        dir.path().join("rules/alerts.yml"),
    )
    .unwrap();

    let k8s = std::fs::read_to_string(repo().join("k8s/base/prometheus/prometheus.yml")).unwrap();
    let k8s = k8s.replace("/etc/prometheus/rules/alerts.yml", "rules/alerts.yml");
    std::fs::write(dir.path().join("k8s.yml"), k8s).unwrap();
    run_ok(
        Command::new(promtool())
            .current_dir(dir.path())
            .args(["check", "config", "k8s.yml"]),
        "promtool check config (Kubernetes)",
    );

    let native = octo_testbed::stack::native_prometheus_config(
        &repo(),
        &octo_testbed::StackPorts::native(),
        std::time::Duration::from_secs(15),
    )
    .expect("the native stack can rewrite the configuration");
    assert!(
        native.contains("127.0.0.1:5001") && !native.contains("app1:5000"),
        "{native}"
    );
    std::fs::write(dir.path().join("native.yml"), native).unwrap();
    run_ok(
        Command::new(promtool())
            .current_dir(dir.path())
            .args(["check", "config", "native.yml"]),
        "promtool check config (native)",
    );

    // The same jobs everywhere: the rules and the dashboard select on them.
    let jobs = |text: &str| names_after(text, "job_name:");
    let compose = std::fs::read_to_string(repo().join("prometheus/prometheus.yml")).unwrap();
    let k8s = std::fs::read_to_string(repo().join("k8s/base/prometheus/prometheus.yml")).unwrap();
    assert_eq!(jobs(&compose), jobs(&k8s));
    for job in ["app", "nginx", "node", "mysql", "containers"] {
        assert!(jobs(&compose).contains(job), "job {job} missing");
    }
}

#[test]
fn alertmanager_configuration_passes_amtool_and_holds_no_secret() {
    run_ok(
        Command::new(program("amtool", "prometheus-alertmanager"))
            .current_dir(repo())
            .args(["check-config", "alertmanager/alertmanager.yml"]),
        "amtool check-config",
    );
    let text = std::fs::read_to_string(repo().join("alertmanager/alertmanager.yml")).unwrap();
    for secret_key in [
        "smtp_auth_password:",
        "password:",
        "credentials:",
        "api_key:",
        "token:",
    ] {
        assert!(
            !text
                .lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains(secret_key)),
            "alertmanager.yml holds a secret ({secret_key}); use a *_file setting"
        );
    }
}

#[test]
fn nginx_configuration_passes_nginx_t() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("upstreams")).unwrap();
    // The Compose upstream names do not resolve here; the same lines with loopback addresses do.
    let upstream = std::fs::read_to_string(repo().join("nginx/upstreams/compose.conf")).unwrap();
    std::fs::write(
        dir.path().join("upstreams/app.conf"),
        upstream
            .replace("app1:5000", "127.0.0.1:5000")
            .replace("app2:5000", "127.0.0.1:5001"),
    )
    .unwrap();
    let main = std::fs::read_to_string(repo().join("nginx/nginx.conf")).unwrap();
    let main = main
        .replace(
            "/etc/nginx/conf.d/octo.conf",
            &repo().join("nginx/conf.d/octo.conf").display().to_string(),
        )
        .replace(
            "/tmp/nginx",
            &dir.path().join("nginx").display().to_string(),
        );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    let nginx = program("nginx", "nginx");
    run_ok(
        Command::new(nginx)
            .arg("-t")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-e")
            .arg(dir.path().join("error.log")),
        "nginx -t",
    );
}

#[test]
fn compose_file_is_valid_and_publishes_only_nginx_prometheus_grafana() {
    let text = run_ok(
        Command::new(program("docker-compose", "docker-compose"))
            .current_dir(repo())
            .args(["-f", "compose.yml", "config"]),
        "docker-compose config",
    );
    // docker-compose config prints the resolved file; published ports appear as `published:`.
    let published: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("published:"))
        .map(str::trim)
        .collect();
    assert_eq!(published, BTreeSet::from(["80", "9090", "3000"]), "{text}");
    let compose = std::fs::read_to_string(repo().join("compose.yml")).unwrap();
    for service in [
        "mysql:",
        "app1:",
        "app2:",
        "nginx:",
        "nginx-exporter:",
        "node-exporter:",
        "mysqld-exporter:",
        "container-exporter:",
        "prometheus:",
        "alertmanager:",
        "grafana:",
    ] {
        assert!(
            compose.contains(&format!("\n  {service}")),
            "service {service} missing"
        );
    }
    let services = text
        .split("\nservices:\n")
        .nth(1)
        .unwrap_or_default()
        .split("\nvolumes:\n")
        .next()
        .unwrap_or_default();
    let service_count = services
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with(':'))
        .count();
    assert_eq!(service_count, 12, "{services}");
    assert_eq!(
        services.matches("    healthcheck:").count(),
        service_count,
        "every service has a healthcheck"
    );
    assert!(
        !compose.contains("MYSQL_PASSWORD:"),
        "passwords come from secret files"
    );
    assert!(
        !compose.contains("ADMIN_PASSWORD:"),
        "passwords come from secret files"
    );
}

#[test]
fn kubernetes_base_renders_and_validates_against_the_api_schemas() {
    let kubectl = program(
        "kubectl",
        "kubectl (https://kubernetes.io/docs/tasks/tools/)",
    );
    let rendered = run_ok(
        Command::new(kubectl)
            .current_dir(repo())
            .args(["kustomize", "k8s/base"]),
        "kubectl kustomize k8s/base",
    );
    for expected in [
        "kind: Deployment\nmetadata:\n  labels:\n    app.kubernetes.io/name: app",
        "kind: HorizontalPodAutoscaler",
        "kind: PodDisruptionBudget",
        "kind: StatefulSet\nmetadata:\n  labels:\n    app.kubernetes.io/name: mysql",
        "kind: DaemonSet\nmetadata:\n  labels:\n    app.kubernetes.io/name: node-exporter",
        "kind: DaemonSet\nmetadata:\n  labels:\n    app.kubernetes.io/name: container-exporter",
        "name: grafana-dashboards",
        "sistema-monitoreo.json",
        "name: mysqld-exporter",
        "name: nginx-exporter",
    ] {
        let labelled = expected.replace(
            "metadata:\n  labels:",
            "metadata:\n  labels:\n    app.kubernetes.io/part-of: octo",
        );
        assert!(
            rendered.contains(expected) || rendered.contains(&labelled),
            "rendered base lacks {expected:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("octo.yaml");
    std::fs::write(&manifest, &rendered).unwrap();
    let validator = kubernetes_validate();
    let report = run_ok(
        Command::new(validator)
            .args(["--strict", "-k", "1.30"])
            .arg(&manifest),
        "kubernetes-validate --strict",
    );
    let passed = report.matches("passed for resource").count();
    let documents = rendered.split("\n---\n").count();
    assert!(documents >= 25, "{rendered}");
    assert_eq!(passed, documents, "{report}");
}

/// PyPI's kubernetes-validate (offline schemas for every Kubernetes version), in a virtual
/// environment inside the target directory.
fn kubernetes_validate() -> std::path::PathBuf {
    let venv = target_dir().join("tools/kubernetes-validate");
    let validator = venv.join("bin/kubernetes-validate");
    if validator.is_file() {
        return validator;
    }
    let python = program("python3", "python3 (and python3-venv)");
    run_ok(
        Command::new(python).arg("-m").arg("venv").arg(&venv),
        "python3 -m venv",
    );
    run_ok(
        Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "kubernetes-validate==1.37.0",
        ]),
        "pip install kubernetes-validate",
    );
    validator
}
