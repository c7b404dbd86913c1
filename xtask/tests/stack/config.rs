//! Configuration files, checked by the programs that will read them.

use std::collections::{BTreeMap, BTreeSet};
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
    assert!(text.contains("SUCCESS: 17 rules found"), "{text}");
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
    assert_eq!(defined.len(), 17, "{defined:?}");
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

/// An upstream that answers `200 ok` to every request and records the request lines that
/// reach it.
async fn recording_upstream() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                record
                    .lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or_default().to_owned());
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
                    )
                    .await;
            });
        }
    });
    (port, seen)
}

/// The status line of `GET <target>` sent as is (no client-side normalisation of `..` or
/// `//`), as a scanner would send it.
async fn raw_get_status(port: u16, target: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: octo.example\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

/// The public nginx server (the repository's `octo.conf`, run by Debian's nginx) forwards pages
/// and the API, but never the app's operational endpoints, however the path is spelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_nginx_does_not_serve_metrics_readyz_or_openapi() {
    let (upstream, seen) = recording_upstream().await;
    let port = octo_testbed::free_port();
    let status_port = octo_testbed::free_port();
    let octo = std::fs::read_to_string(repo().join("nginx/conf.d/octo.conf")).unwrap();
    assert!(octo.contains("listen 8080;") && octo.contains("listen 127.0.0.1:8081;"));
    let octo = octo
        .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"))
        .replace(
            "listen 127.0.0.1:8081;",
            &format!("listen 127.0.0.1:{status_port};"),
        );
    let nginx = octo_testbed::Nginx::start_with(port, |prefix| {
        std::fs::create_dir_all(prefix.join("upstreams")).unwrap();
        std::fs::write(
            prefix.join("upstreams/app.conf"),
            format!("server 127.0.0.1:{upstream};\n"),
        )
        .unwrap();
        std::fs::write(prefix.join("octo.conf"), &octo).unwrap();
        "include octo.conf;\n".to_owned()
    })
    .await
    .expect("nginx starts with the repository's octo.conf");
    for target in [
        "/metrics",
        "/readyz",
        "/api/openapi.json",
        "/stub_status",
        "//metrics",
        "/%6Detrics",
        "/usuarios/../metrics",
        "/./readyz",
        "/metrics?format=prometheus",
        "/api//openapi.json",
        "/api/%6Fpenapi.json",
    ] {
        let status = raw_get_status(port, target).await;
        assert!(status.contains(" 404 "), "{target}: {status}");
    }
    for target in [
        "/",
        "/usuarios",
        "/api/usuarios",
        "/api/usuarios/1",
        "/healthz",
    ] {
        let status = raw_get_status(port, target).await;
        assert!(status.contains(" 200 "), "{target}: {status}");
    }
    let forwarded = seen.lock().unwrap().clone();
    for line in &forwarded {
        for hidden in ["metrics", "readyz", "openapi", "%6D", "%6F"] {
            assert!(!line.contains(hidden), "nginx forwarded {line:?}");
        }
    }
    assert_eq!(forwarded.len(), 5, "{forwarded:?}");
    drop(nginx);
}

/// `docker-compose config`: the resolved file, in a stable shape.
fn compose_config() -> String {
    run_ok(
        Command::new(program("docker-compose", "docker-compose"))
            .current_dir(repo())
            .args(["-f", "compose.yml", "config"]),
        "docker-compose config",
    )
}

/// Each service of a resolved Compose file with its block of lines.
fn compose_services(resolved: &str) -> BTreeMap<String, String> {
    let services = resolved
        .split("\nservices:\n")
        .nth(1)
        .unwrap_or_default()
        .split("\nvolumes:\n")
        .next()
        .unwrap_or_default();
    let mut blocks: BTreeMap<String, String> = BTreeMap::new();
    let mut current = None;
    for line in services.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':') {
            let name = line.trim().trim_end_matches(':').to_owned();
            blocks.insert(name.clone(), String::new());
            current = Some(name);
        } else if let Some(name) = &current {
            let block = blocks.entry(name.clone()).or_default();
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
}

/// The ports a service's block publishes, as (host address, host port); an empty address is
/// every interface. docker-compose prints `- published: 80` (with `host_ip:` when given) or
/// the short form `- 127.0.0.1:9090:9090/tcp`.
fn published_ports(block: &str) -> Vec<(String, String)> {
    let Some(ports) = block.split("    ports:\n").nth(1) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut entry: Option<(String, String)> = None;
    for line in ports.lines() {
        if let Some(item) = line.strip_prefix("    - ") {
            found.extend(entry.take());
            if let Some(port) = item.strip_prefix("published: ") {
                entry = Some((String::new(), port.trim().to_owned()));
            } else {
                let spec = item.trim().trim_matches('\'');
                let spec = spec.split('/').next().unwrap_or_default();
                let parts: Vec<&str> = spec.split(':').collect();
                let (ip, port) = match parts.as_slice() {
                    [ip, host, _container] => (ip.to_string(), host.to_string()),
                    [host, _container] => (String::new(), host.to_string()),
                    _ => panic!("unexpected port entry {item:?}"),
                };
                found.push((ip, port));
            }
        } else if let Some(ip) = line.trim().strip_prefix("host_ip: ") {
            if let Some(entry) = entry.as_mut() {
                entry.0 = ip.to_owned();
            }
        } else if line.starts_with("      ") {
            continue;
        } else {
            break;
        }
    }
    found.extend(entry);
    found
}

#[test]
fn compose_file_is_valid_and_publishes_only_nginx_and_grafana_to_the_world() {
    let text = compose_config();
    let services = compose_services(&text);
    let published: BTreeSet<(String, String)> = services
        .values()
        .flat_map(|block| published_ports(block))
        .collect();
    let everywhere: BTreeSet<&str> = published
        .iter()
        .filter(|(ip, _)| ip.is_empty() || ip == "0.0.0.0")
        .map(|(_, port)| port.as_str())
        .collect();
    assert_eq!(everywhere, BTreeSet::from(["80", "3000"]), "{text}");
    let compose = std::fs::read_to_string(repo().join("compose.yml")).unwrap();
    for service in [
        "mysql:",
        "app1:",
        "app2:",
        "nginx:",
        "nginx-exporter:",
        "node-exporter:",
        "mysqld-exporter:",
        "docker-socket-filter:",
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
    assert_eq!(services.len(), 13, "{services:?}");
    for (name, block) in &services {
        assert!(
            block.contains("\n    healthcheck:\n") || block.starts_with("    healthcheck:\n"),
            "{name} has no healthcheck"
        );
    }
    assert!(
        !compose.contains("MYSQL_PASSWORD:"),
        "passwords come from secret files"
    );
    assert!(
        !compose.contains("ADMIN_PASSWORD:"),
        "passwords come from secret files"
    );
}

/// Prometheus and Alertmanager have no authentication at all (anyone who reaches Alertmanager
/// can silence every alert): the operator reaches them on this machine only.
#[test]
fn compose_publishes_prometheus_and_alertmanager_only_on_loopback() {
    let services = compose_services(&compose_config());
    for (service, port) in [("prometheus", "9090"), ("alertmanager", "9093")] {
        let ports = published_ports(&services[service]);
        assert_eq!(
            ports,
            [("127.0.0.1".to_owned(), port.to_owned())],
            "{service} publishes {ports:?}"
        );
    }
}

/// `--web.enable-lifecycle` lets whoever reaches the port stop Prometheus (`POST /-/quit`) or
/// make it reload: in no deployment.
#[test]
fn prometheus_lifecycle_api_is_enabled_nowhere() {
    let services = compose_services(&compose_config());
    for (name, block) in &services {
        assert!(
            !block.contains("web.enable-lifecycle"),
            "{name} enables the lifecycle API in Compose"
        );
    }
    let objects = kubernetes_objects();
    for object in &objects {
        for container in pod_containers(object) {
            let args = container["args"].to_string();
            assert!(
                !args.contains("web.enable-lifecycle"),
                "{} enables the lifecycle API in Kubernetes",
                container["name"]
            );
        }
    }
}

/// The Docker API is all or nothing and a read-only mount does not make it read-only: the
/// exporter never gets the socket, only a filter with no network does, and the filter passes
/// GET requests alone.
#[test]
fn compose_hands_the_docker_socket_only_to_a_filter_without_network() {
    let services = compose_services(&compose_config());
    let holders: Vec<&String> = services
        .iter()
        .filter(|(_, block)| block.contains("docker.sock:"))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        holders,
        ["docker-socket-filter"],
        "who mounts the Docker socket"
    );
    let filter = &services["docker-socket-filter"];
    assert!(filter.contains("    network_mode: none\n"), "{filter}");
    assert!(filter.contains("    cap_drop:\n    - ALL\n"), "{filter}");
    assert!(filter.contains("    read_only: true\n"), "{filter}");
    let allowed: Vec<&str> = filter
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- -allow"))
        .collect();
    assert!(
        allowed
            .iter()
            .all(|rule| rule.starts_with("GET=") || *rule == "healthcheck"),
        "only GET passes the filter: {allowed:?}"
    );
    let exporter = &services["container-exporter"];
    assert!(
        exporter.contains("- -docker=unix:///run/docker-filtered/docker.sock"),
        "{exporter}"
    );
    assert!(!exporter.contains("/var/run/docker.sock"), "{exporter}");
}

/// Where the app is published, adding and deleting need the admin password, and both
/// instances sign CSRF tokens with one key: both come from secrets, which generate.sh creates.
#[test]
fn compose_and_kubernetes_protect_writes_with_the_admin_credential_and_a_shared_csrf_key() {
    let services = compose_services(&compose_config());
    for app in ["app1", "app2"] {
        let block = &services[app];
        for line in [
            "ADMIN_PASSWORD_FILE: /run/secrets/app_admin_password",
            "CSRF_KEY_FILE: /run/secrets/app_csrf_key",
            "- source: app_admin_password",
            "- source: app_csrf_key",
        ] {
            assert!(block.contains(line), "{app} lacks {line:?}:\n{block}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("secrets/generate.sh"),
        dir.path().join("generate.sh"),
    )
    .unwrap();
    run_ok(
        Command::new("sh").arg(dir.path().join("generate.sh")),
        "secrets/generate.sh",
    );
    let key = std::fs::read(dir.path().join("app_csrf_key")).unwrap();
    assert!(
        key.trim_ascii_end().len() >= 32,
        "a CSRF key of {} bytes",
        key.len()
    );
    let password = std::fs::read_to_string(dir.path().join("app_admin_password")).unwrap();
    assert!(
        password.trim().len() >= 16,
        "an admin password of {} bytes",
        password.len()
    );

    let objects = kubernetes_objects();
    let app = objects
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "app")
        .expect("the app Deployment");
    let env = app["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    for variable in ["ADMIN_PASSWORD_FILE", "CSRF_KEY_FILE"] {
        assert!(
            env.contains(variable),
            "the app Deployment lacks {variable}: {env}"
        );
    }
    let volumes = app["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(volumes.contains("\"secretName\":\"octo-app\""), "{volumes}");
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
    validator_venv().join("bin/kubernetes-validate")
}

/// The virtual environment of kubernetes-validate, installed on first use (once, however many
/// tests ask at the same time); its Python has PyYAML (a dependency of the validator), which
/// reads the rendered base for the tests below.
fn validator_venv() -> std::path::PathBuf {
    static VENV: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        let venv = target_dir().join("tools/kubernetes-validate");
        if venv.join("bin/kubernetes-validate").is_file() {
            return venv;
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
        venv
    })
    .clone()
}

/// Every object of the rendered kustomize base, as JSON.
fn kubernetes_objects() -> Vec<serde_json::Value> {
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
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("octo.yaml");
    std::fs::write(&manifest, rendered).unwrap();
    let json = run_ok(
        Command::new(validator_venv().join("bin/python3"))
            .arg("-c")
            .arg(
                "import json, sys, yaml; \
                 json.dump([o for o in yaml.safe_load_all(open(sys.argv[1])) if o], sys.stdout)",
            )
            .arg(&manifest),
        "YAML to JSON",
    );
    serde_json::from_str(&json).unwrap()
}

/// The pod template of a workload (Deployment, StatefulSet, DaemonSet), if it is one.
fn pod_template(object: &serde_json::Value) -> Option<&serde_json::Value> {
    let kind = object["kind"].as_str()?;
    ["Deployment", "StatefulSet", "DaemonSet"]
        .contains(&kind)
        .then(|| &object["spec"]["template"])
}

fn pod_containers(object: &serde_json::Value) -> Vec<&serde_json::Value> {
    pod_template(object)
        .and_then(|t| t["spec"]["containers"].as_array())
        .map(|c| c.iter().collect())
        .unwrap_or_default()
}

/// Where a connection comes from: a pod of the namespace (its labels), or anything outside it.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    Pod(&'a str),
    Outside,
}

/// Whether the base's NetworkPolicies let `source` open a TCP connection to `port` of the pods
/// named `target` (app.kubernetes.io/name), by the API's rules: a pod no policy selects for
/// ingress accepts everything; a selected pod accepts what one rule of one selecting policy
/// allows. Only what the base uses is understood (podSelector.matchLabels peers, numeric
/// ports); anything else fails the test rather than be guessed.
fn ingress_allowed(
    policies: &[&serde_json::Value],
    source: Source<'_>,
    target: &str,
    port: u64,
) -> bool {
    let name_of = |selector: &serde_json::Value| {
        let labels = selector["matchLabels"].as_object().expect("matchLabels");
        assert!(selector.get("matchExpressions").is_none(), "{selector}");
        assert_eq!(labels.len(), 1, "{selector}");
        labels["app.kubernetes.io/name"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let selecting: Vec<&&serde_json::Value> = policies
        .iter()
        .filter(|p| name_of(&p["spec"]["podSelector"]) == target)
        .filter(|p| p["spec"]["policyTypes"].to_string().contains("Ingress"))
        .collect();
    if selecting.is_empty() {
        return true;
    }
    selecting.iter().any(|policy| {
        policy["spec"]["ingress"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|rule| {
                let port_ok = match rule["ports"].as_array() {
                    None => true,
                    Some(ports) => ports.iter().any(|p| {
                        assert!(p.get("endPort").is_none(), "{p}");
                        p["port"].as_u64().expect("numeric port") == port
                    }),
                };
                let source_ok = match rule["from"].as_array() {
                    None => true,
                    Some(peers) => peers.iter().any(|peer| {
                        assert!(
                            peer.get("namespaceSelector").is_none()
                                && peer.get("ipBlock").is_none(),
                            "{peer}"
                        );
                        matches!(source, Source::Pod(name) if name_of(&peer["podSelector"]) == name)
                    }),
                };
                port_ok && source_ok
            })
    })
}

/// Every pod of the base by name, with whether it shares the node's network.
fn pods(objects: &[serde_json::Value]) -> BTreeMap<String, bool> {
    objects
        .iter()
        .filter_map(|o| {
            let template = pod_template(o)?;
            let name = template["metadata"]["labels"]["app.kubernetes.io/name"].as_str()?;
            let host_network = template["spec"]["hostNetwork"].as_bool().unwrap_or(false);
            Some((name.to_owned(), host_network))
        })
        .collect()
}

fn network_policies(objects: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    objects
        .iter()
        .filter(|o| o["kind"] == "NetworkPolicy")
        .collect()
}

/// The exporters' endpoints can be read by Prometheus alone: the app, nginx, Grafana, every
/// other pod and anything outside the namespace are refused.
#[test]
fn networkpolicy_lets_only_prometheus_reach_exporters() {
    let objects = kubernetes_objects();
    let policies = network_policies(&objects);
    let pods = pods(&objects);
    // The node exporter shares the node's network (for the host's interfaces), where
    // NetworkPolicy does not apply: documented in network-policies.yaml; the only such pod.
    let on_host: Vec<&String> = pods.iter().filter(|(_, h)| **h).map(|(n, _)| n).collect();
    assert_eq!(on_host, ["node-exporter"]);
    let exporters = [
        ("nginx", 9113),
        ("mysql", 9104),
        ("container-exporter", 8080),
    ];
    for (pod, port) in exporters {
        assert!(
            ingress_allowed(&policies, Source::Pod("prometheus"), pod, port),
            "Prometheus cannot scrape {pod}:{port}"
        );
        for other in pods.keys().filter(|p| *p != "prometheus") {
            assert!(
                !ingress_allowed(&policies, Source::Pod(other), pod, port),
                "{other} reaches the exporter at {pod}:{port}"
            );
        }
        assert!(
            !ingress_allowed(&policies, Source::Outside, pod, port),
            "the outside reaches the exporter at {pod}:{port}"
        );
    }
    // Prometheus still reaches what it scrapes besides the exporters, and nginx stays public.
    assert!(ingress_allowed(
        &policies,
        Source::Pod("prometheus"),
        "app",
        5000
    ));
    assert!(ingress_allowed(
        &policies,
        Source::Pod("prometheus"),
        "alertmanager",
        9093
    ));
    assert!(ingress_allowed(
        &policies,
        Source::Pod("grafana"),
        "prometheus",
        9090
    ));
    assert!(ingress_allowed(
        &policies,
        Source::Pod("alertmanager"),
        "alert-log",
        9095
    ));
    assert!(ingress_allowed(&policies, Source::Outside, "nginx", 8080));
    assert!(ingress_allowed(
        &policies,
        Source::Pod("nginx"),
        "app",
        5000
    ));
    assert!(
        !ingress_allowed(&policies, Source::Outside, "app", 5000),
        "the app bypassing nginx"
    );
}

/// MariaDB accepts the app alone; the mysqld exporter is a sidecar in MariaDB's pod and
/// connects over the pod's loopback, which no policy governs.
#[test]
fn networkpolicy_lets_only_the_app_and_the_mysqld_exporter_reach_mariadb() {
    let objects = kubernetes_objects();
    let policies = network_policies(&objects);
    let pods = pods(&objects);
    assert!(ingress_allowed(
        &policies,
        Source::Pod("app"),
        "mysql",
        3306
    ));
    for other in pods.keys().filter(|p| *p != "app") {
        assert!(
            !ingress_allowed(&policies, Source::Pod(other), "mysql", 3306),
            "{other} reaches MariaDB"
        );
    }
    assert!(!ingress_allowed(&policies, Source::Outside, "mysql", 3306));
    let mysql = objects
        .iter()
        .find(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"] == "mysql")
        .expect("the MariaDB StatefulSet");
    let sidecar = pod_containers(mysql)
        .into_iter()
        .find(|c| c["name"] == "mysqld-exporter")
        .expect("the mysqld exporter beside MariaDB");
    assert!(
        sidecar["args"]
            .to_string()
            .contains("--mysqld.address=127.0.0.1:3306"),
        "{sidecar}"
    );
}

/// The container exporter runs as root: mounting the host's /run would hand it the container
/// runtimes' API sockets (a read-only mount does not stop connect()), i.e. the node.
#[test]
fn kubernetes_container_exporter_gets_no_runtime_socket() {
    let objects = kubernetes_objects();
    let daemonset = objects
        .iter()
        .find(|o| o["kind"] == "DaemonSet" && o["metadata"]["name"] == "container-exporter")
        .expect("the container exporter DaemonSet");
    let volumes = daemonset["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    for volume in volumes {
        let Some(path) = volume["hostPath"]["path"].as_str() else {
            continue;
        };
        for socket_dir in ["/run", "/var/run", "/run/containerd", "/var/run/containerd"] {
            assert_ne!(path, socket_dir, "the host's {path} holds runtime sockets");
        }
        assert!(!path.ends_with(".sock"), "{path}");
    }
}

/// The MariaDB image runs `mysql/initdb` once; the root password must reach the client through
/// a private option file, not its command line (where `ps` shows it to every user). Run with a
/// stand-in `mariadb` that records its arguments and what MariaDB's own option parser
/// (my_print_defaults) reads from the option file it was given.
#[test]
fn mariadb_root_password_never_reaches_a_command_line() {
    let my_print_defaults = program("my_print_defaults", "mariadb-client");
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    let root_password = "r00t+pass/word=";
    std::fs::write(
        secrets.join("mysql_root_password"),
        format!("{root_password}\n"),
    )
    .unwrap();
    std::fs::write(secrets.join("mysqld_exporter_password"), "exp0rter\n").unwrap();
    let record = dir.path().join("record");
    let stand_in = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > {record}.argv\ncat > {record}.stdin\n\
         {print} \"$1\" client > {record}.options\n",
        record = record.display(),
        print = my_print_defaults.display()
    );
    let fake = bin.join("mariadb");
    std::fs::write(&fake, stand_in).unwrap();
    let mut permissions = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&fake, permissions).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run_ok(
        Command::new("sh")
            .arg(repo().join("mysql/initdb/10-exporter-user.sh"))
            .env("PATH", path)
            .env("SECRETS_DIR", &secrets),
        "mysql/initdb/10-exporter-user.sh",
    );
    let read =
        |suffix: &str| std::fs::read_to_string(format!("{}.{suffix}", record.display())).unwrap();
    let argv = read("argv");
    assert!(!argv.contains(root_password), "on the command line: {argv}");
    assert!(argv.starts_with("--defaults-extra-file="), "{argv}");
    let options = read("options");
    assert!(
        options
            .lines()
            .any(|l| l == format!("--password={root_password}")),
        "the option file does not give MariaDB the root password: {options}"
    );
    assert!(options.lines().any(|l| l == "--user=root"), "{options}");
    let sql = read("stdin");
    assert!(
        sql.contains("CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY 'exp0rter'"),
        "{sql}"
    );
    // The option file is gone once the script ends.
    let option_file = argv
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("--defaults-extra-file=");
    assert!(
        !std::path::Path::new(option_file).exists(),
        "{option_file} left behind"
    );
}
