//! The whole Octo stack, natively: MariaDB, two app instances, nginx in front, the four
//! exporters, Prometheus with the project's configuration and rules, Alertmanager and the
//! alert log. `cargo xtask up` runs it in the foreground; the end-to-end test runs the same code
//! on free ports.
//!
//! The configuration comes from the repository (`nginx/`, `prometheus/`, `alertmanager/`), with
//! the Compose service addresses rewritten to loopback ports: the stack is what Compose runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::cgroups::ServiceCgroups;
use crate::process::{Service, wait_http_ok};
use crate::{
    ExporterProcess, MariaDb, MariaDbOptions, Nginx, Prometheus, TestbedError, free_port,
    require_program, temp_dir, write_file,
};

/// The ports the stack listens on (all on 127.0.0.1).
#[derive(Debug, Clone)]
pub struct StackPorts {
    pub nginx: u16,
    pub nginx_status: u16,
    pub apps: [u16; 2],
    pub mariadb: u16,
    pub node_exporter: u16,
    pub mysqld_exporter: u16,
    pub nginx_exporter: u16,
    pub container_exporter: u16,
    pub prometheus: u16,
    pub alertmanager: u16,
    pub alert_log: u16,
}

impl StackPorts {
    /// The documented ports of `cargo xtask up`: nginx 8080 and Prometheus 9090 as announced,
    /// the exporters on their upstream defaults (the container exporter moves from cAdvisor's
    /// 8080, which nginx has, to 8088), MariaDB on 3307 to stay clear of a system MariaDB.
    pub fn native() -> Self {
        StackPorts {
            nginx: 8080,
            nginx_status: 8081,
            apps: [5000, 5001],
            mariadb: 3307,
            node_exporter: 9100,
            mysqld_exporter: 9104,
            nginx_exporter: 9113,
            container_exporter: 8088,
            prometheus: 9090,
            alertmanager: 9093,
            alert_log: 9095,
        }
    }

    /// Free ports everywhere, for tests.
    pub fn ephemeral() -> Self {
        StackPorts {
            nginx: free_port(),
            nginx_status: free_port(),
            apps: [free_port(), free_port()],
            mariadb: free_port(),
            node_exporter: free_port(),
            mysqld_exporter: free_port(),
            nginx_exporter: free_port(),
            container_exporter: free_port(),
            prometheus: free_port(),
            alertmanager: free_port(),
            alert_log: free_port(),
        }
    }

    fn all(&self) -> Vec<(&'static str, u16)> {
        vec![
            ("nginx", self.nginx),
            ("nginx stub_status", self.nginx_status),
            ("app1", self.apps[0]),
            ("app2", self.apps[1]),
            ("MariaDB", self.mariadb),
            ("node exporter", self.node_exporter),
            ("mysqld exporter", self.mysqld_exporter),
            ("nginx exporter", self.nginx_exporter),
            ("container exporter", self.container_exporter),
            ("Prometheus", self.prometheus),
            ("Alertmanager", self.alertmanager),
            ("alert log", self.alert_log),
        ]
    }
}

/// How to run the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The repository root (configuration files).
    pub repo: PathBuf,
    /// Where the octo-* binaries are (target/release or target/debug).
    pub bin_dir: PathBuf,
    pub ports: StackPorts,
    pub scrape_interval: Duration,
    /// Replaces every rule's `for:` (tests make alerts fire in seconds).
    pub rule_for: Option<String>,
    /// Keep MariaDB's data here across runs (`cargo xtask up`); a temporary directory otherwise.
    pub mariadb_data: Option<PathBuf>,
    /// Print a line per service as it starts.
    pub progress: bool,
    /// Run each service in `/<cgroup_root>/<service>` when possible (root, writable cgroupfs),
    /// so the container exporter reports the services as containers.
    pub cgroup_root: String,
}

/// Memory limits of the services' cgroups (bytes).
fn memory_limit(service: &str) -> u64 {
    const MIB: u64 = 1 << 20;
    match service {
        "mariadb" | "prometheus" => 1024 * MIB,
        "app1" | "app2" => 256 * MIB,
        "nginx" | "alertmanager" => 128 * MIB,
        _ => 64 * MIB,
    }
}

/// The running stack. Dropping it stops everything, in reverse order of start.
pub struct Stack {
    // Field order is drop order: the front first, the database last.
    pub prometheus: Prometheus,
    pub alertmanager: Option<Service>,
    pub alert_log: Option<ExporterProcess>,
    pub nginx_exporter: ExporterProcess,
    pub node_exporter: ExporterProcess,
    pub mysqld_exporter: ExporterProcess,
    pub container_exporter: ExporterProcess,
    pub nginx: Nginx,
    pub apps: Vec<Option<ExporterProcess>>,
    pub mariadb: MariaDb,
    pub options: StackOptions,
    app_password: String,
    dir: TempDir,
    /// Last: the cgroups are removed once every service has stopped.
    cgroups: Option<ServiceCgroups>,
}

const APP_DATABASE: &str = "usuarios";
const APP_USER: &str = "octo";
const EXPORTER_USER: &str = "exporter";

fn random_secret() -> String {
    use std::io::Read as _;
    let mut bytes = [0u8; 18];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn binary(options: &StackOptions, name: &str) -> Result<PathBuf, TestbedError> {
    let path = options.bin_dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(TestbedError::Start {
            service: name.into(),
            detail: format!(
                "{} is not built (cargo build --workspace builds it)",
                path.display()
            ),
        })
    }
}

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

fn say(options: &StackOptions, line: &str) {
    if options.progress {
        println!("{line}");
    }
}

async fn timed<T, F>(options: &StackOptions, what: &str, start: F) -> Result<T, TestbedError>
where
    F: Future<Output = Result<T, TestbedError>>,
{
    let started = Instant::now();
    if options.progress {
        use std::io::Write as _;
        print!("  starting {what:<28}");
        let _ = std::io::stdout().flush();
    }
    let result = start.await;
    match &result {
        Ok(_) => say(
            options,
            &format!("ok ({:.1} s)", started.elapsed().as_secs_f64()),
        ),
        Err(_) => say(options, "FAILED"),
    }
    result
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

impl Stack {
    pub async fn start(options: StackOptions) -> Result<Stack, TestbedError> {
        for (what, port) in options.ports.all() {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                return Err(TestbedError::Start {
                    service: what.into(),
                    detail: format!(
                        "port {port} on 127.0.0.1 is already in use; stop whatever holds it"
                    ),
                });
            }
        }
        let dir = temp_dir("octo-stack-")?;
        let ports = options.ports.clone();
        let cgroups = match ServiceCgroups::create(
            Path::new("/sys/fs/cgroup"),
            &options.cgroup_root,
        ) {
            Ok(cgroups) => Some(cgroups),
            Err(reason) => {
                say(
                    &options,
                    &format!(
                        "  services run without their own cgroups ({reason}): the container panels stay empty"
                    ),
                );
                None
            }
        };
        let adopt = |service: &str, pid: Option<u32>| {
            if let (Some(cgroups), Some(pid)) = (&cgroups, pid) {
                cgroups.adopt(service, pid, memory_limit(service));
            }
        };

        let mariadb = timed(&options, "MariaDB", async {
            MariaDb::start_with(MariaDbOptions {
                data_dir: options.mariadb_data.clone(),
                port: Some(ports.mariadb),
                ..MariaDbOptions::default()
            })
            .await
        })
        .await?;
        adopt("mariadb", mariadb.pid());
        let app_password = random_secret();
        let exporter_password = random_secret();
        mariadb
            .sql(&format!(
                "CREATE DATABASE IF NOT EXISTS {APP_DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n\
                 CREATE USER IF NOT EXISTS '{APP_USER}'@'%' IDENTIFIED BY '{app_password}';\n\
                 ALTER USER '{APP_USER}'@'%' IDENTIFIED BY '{app_password}';\n\
                 GRANT ALL ON {APP_DATABASE}.* TO '{APP_USER}'@'%';\n\
                 CREATE USER IF NOT EXISTS '{EXPORTER_USER}'@'%' IDENTIFIED BY '{exporter_password}' WITH MAX_USER_CONNECTIONS 3;\n\
                 ALTER USER '{EXPORTER_USER}'@'%' IDENTIFIED BY '{exporter_password}';\n\
                 GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO '{EXPORTER_USER}'@'%';\n\
                 FLUSH PRIVILEGES;"
            ))
            .await?;

        let mut stack_apps = Vec::new();
        for (index, port) in ports.apps.iter().enumerate() {
            let name = format!("app{}", index + 1);
            let app = timed(
                &options,
                &name,
                start_app(&options, &name, *port, &app_password),
            )
            .await?;
            adopt(&name, app.pid());
            stack_apps.push(Some(app));
        }

        let repo = options.repo.clone();
        let nginx = timed(&options, "nginx", async {
            let octo = read(&repo, "nginx/conf.d/octo.conf")?;
            let octo = rewrite(
                &octo,
                "listen 8080;",
                &format!("listen 127.0.0.1:{};", ports.nginx),
                "nginx/conf.d/octo.conf",
            )?;
            let octo = rewrite(
                &octo,
                "listen 127.0.0.1:8081;",
                &format!("listen 127.0.0.1:{};", ports.nginx_status),
                "nginx/conf.d/octo.conf",
            )?;
            Nginx::start_with(ports.nginx, |prefix| {
                let upstreams = prefix.join("upstreams");
                let _ = std::fs::create_dir_all(&upstreams);
                let servers: String = ports
                    .apps
                    .iter()
                    .map(|p| format!("server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n"))
                    .collect();
                let _ = std::fs::write(upstreams.join("app.conf"), servers);
                let _ = std::fs::write(prefix.join("octo.conf"), &octo);
                "include octo.conf;\n".to_owned()
            })
            .await
        })
        .await?;
        adopt("nginx", nginx.pid());

        let bin = |name: &str| binary(&options, name);
        let nginx_exporter = timed(
            &options,
            "octo-nginx-exporter",
            ExporterProcess::start_on(
                ports.nginx_exporter,
                "octo-nginx-exporter",
                &bin("octo-nginx-exporter")?,
                [format!(
                    "--nginx.scrape-uri=http://127.0.0.1:{}/stub_status",
                    ports.nginx_status
                )],
                &[],
                ExporterProcess::web_listen,
                "/metrics",
            ),
        )
        .await?;
        let node_exporter = timed(
            &options,
            "octo-node-exporter",
            ExporterProcess::start_on(
                ports.node_exporter,
                "octo-node-exporter",
                &bin("octo-node-exporter")?,
                Vec::<String>::new(),
                &[],
                ExporterProcess::web_listen,
                "/metrics",
            ),
        )
        .await?;
        let mysqld_exporter = timed(
            &options,
            "octo-mysqld-exporter",
            ExporterProcess::start_on(
                ports.mysqld_exporter,
                "octo-mysqld-exporter",
                &bin("octo-mysqld-exporter")?,
                [
                    format!("--mysqld.address=127.0.0.1:{}", ports.mariadb),
                    format!("--mysqld.username={EXPORTER_USER}"),
                ],
                &[("MYSQLD_EXPORTER_PASSWORD", &exporter_password)],
                ExporterProcess::web_listen,
                "/metrics",
            ),
        )
        .await?;
        // With service cgroups: only those, named like containers (and the host's root).
        let container_args: Vec<String> = match &cgroups {
            Some(cgroups) => vec![
                "-docker_only".into(),
                format!("-raw_cgroup_prefix_whitelist={}", cgroups.prefix),
                "-raw_cgroup_name_labels".into(),
            ],
            None => Vec::new(),
        };
        let container_exporter = timed(
            &options,
            "octo-container-exporter",
            ExporterProcess::start_on(
                ports.container_exporter,
                "octo-container-exporter",
                &bin("octo-container-exporter")?,
                container_args,
                &[],
                ExporterProcess::web_listen,
                "/metrics",
            ),
        )
        .await?;
        for (service, exporter) in [
            ("nginx-exporter", &nginx_exporter),
            ("node-exporter", &node_exporter),
            ("mysqld-exporter", &mysqld_exporter),
            ("container-exporter", &container_exporter),
        ] {
            adopt(service, exporter.pid());
        }

        let alert_log = match binary(&options, "octo-alert-log") {
            Ok(program) => Some(
                timed(
                    &options,
                    "alert log",
                    ExporterProcess::start_on(
                        ports.alert_log,
                        "octo-alert-log",
                        &program,
                        Vec::<String>::new(),
                        &[],
                        |port| vec!["--listen".into(), format!("127.0.0.1:{port}")],
                        "/healthz",
                    ),
                )
                .await?,
            ),
            Err(_) => None,
        };
        let alertmanager =
            match require_program("prometheus-alertmanager", "prometheus-alertmanager") {
                Ok(program) => Some(
                    timed(
                        &options,
                        "Alertmanager",
                        start_alertmanager(&options, &program, dir.path()),
                    )
                    .await?,
                ),
                Err(err) => {
                    say(&options, &format!("  skipping Alertmanager: {err}"));
                    None
                }
            };

        let config = native_prometheus_config(&options.repo, &ports, options.scrape_interval)?;
        let rules = rules(&options.repo, options.rule_for.as_deref())?;
        let prometheus = timed(
            &options,
            "Prometheus",
            Prometheus::start_on(ports.prometheus, &config, &[("rules/alerts.yml", &rules)]),
        )
        .await?;
        adopt("prometheus", prometheus.pid());
        if let Some(alertmanager) = &alertmanager {
            adopt("alertmanager", alertmanager.pid());
        }
        if let Some(alert_log) = &alert_log {
            adopt("alert-log", alert_log.pid());
        }

        Ok(Stack {
            prometheus,
            alertmanager,
            alert_log,
            nginx_exporter,
            node_exporter,
            mysqld_exporter,
            container_exporter,
            nginx,
            apps: stack_apps,
            mariadb,
            options,
            app_password,
            dir,
            cgroups,
        })
    }

    /// Stops app instance `index` (0 or 1) as SIGTERM would, leaving the rest running.
    pub fn stop_app(&mut self, index: usize) {
        if let Some(mut app) = self.apps.get_mut(index).and_then(Option::take) {
            app.service().stop();
        }
    }

    /// Starts app instance `index` again.
    pub async fn start_app(&mut self, index: usize) -> Result<(), TestbedError> {
        let name = format!("app{}", index + 1);
        let port = self.options.ports.apps[index];
        let app = start_app(&self.options, &name, port, &self.app_password).await?;
        self.adopt(&name, app.pid());
        self.apps[index] = Some(app);
        Ok(())
    }

    /// Starts MariaDB again after [`MariaDb::stop`] or [`MariaDb::kill`], in its cgroup.
    pub async fn restart_mariadb(&mut self) -> Result<(), TestbedError> {
        self.mariadb.restart().await?;
        self.adopt("mariadb", self.mariadb.pid());
        Ok(())
    }

    fn adopt(&self, service: &str, pid: Option<u32>) {
        if let (Some(cgroups), Some(pid)) = (&self.cgroups, pid) {
            cgroups.adopt(service, pid, memory_limit(service));
        }
    }

    /// `http://127.0.0.1:<nginx port><path>`.
    pub fn url(&self, path: &str) -> String {
        self.nginx.url(path)
    }

    /// What a newcomer opens, as (what, URL).
    pub fn urls(&self) -> Vec<(&'static str, String)> {
        let p = &self.options.ports;
        let mut urls = vec![
            ("app (through nginx)", self.url("/")),
            ("users", self.url("/usuarios")),
            ("Prometheus", self.prometheus.url("/")),
            // Debian's Prometheus ships the classic UI only.
            (
                "Prometheus targets",
                self.prometheus.url("/classic/targets"),
            ),
            ("Prometheus alerts", self.prometheus.url("/classic/alerts")),
            ("app1 directly", format!("http://127.0.0.1:{}/", p.apps[0])),
            ("app2 directly", format!("http://127.0.0.1:{}/", p.apps[1])),
            ("node exporter", self.node_exporter.url("/metrics")),
            ("mysqld exporter", self.mysqld_exporter.url("/metrics")),
            ("nginx exporter", self.nginx_exporter.url("/metrics")),
            (
                "container exporter",
                self.container_exporter.url("/metrics"),
            ),
        ];
        if self.alertmanager.is_some() {
            urls.push((
                "Alertmanager",
                format!("http://127.0.0.1:{}/", p.alertmanager),
            ));
        }
        urls.push((
            "MariaDB",
            format!("127.0.0.1:{} (database {APP_DATABASE})", p.mariadb),
        ));
        urls
    }

    /// The working directory of this run (logs of the services that write there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

async fn start_app(
    options: &StackOptions,
    name: &str,
    port: u16,
    password: &str,
) -> Result<ExporterProcess, TestbedError> {
    let program = binary(options, "octo-app")?;
    let listen = format!("127.0.0.1:{port}");
    let mariadb_port = options.ports.mariadb.to_string();
    ExporterProcess::start_on(
        port,
        name,
        &program,
        Vec::<String>::new(),
        &[
            ("APP_NAME", name),
            ("LISTEN_ADDR", &listen),
            ("MYSQL_HOST", "127.0.0.1"),
            ("MYSQL_PORT", &mariadb_port),
            ("MYSQL_USER", APP_USER),
            ("MYSQL_PASSWORD", password),
            ("MYSQL_DATABASE", APP_DATABASE),
        ],
        |_| Vec::new(),
        "/readyz",
    )
    .await
}

async fn start_alertmanager(
    options: &StackOptions,
    program: &Path,
    work: &Path,
) -> Result<Service, TestbedError> {
    let file = "alertmanager/alertmanager.yml";
    let ports = &options.ports;
    let dir = work.join("alertmanager");
    std::fs::create_dir_all(dir.join("data")).map_err(|source| TestbedError::Io {
        context: "creating Alertmanager's directory".into(),
        source,
    })?;
    let token = dir.join("webhook-token");
    write_file(&token, &random_secret())?;
    let config = read(&options.repo, file)?;
    let config = rewrite(
        &config,
        "http://alert-receiver:9095/alerts",
        &format!("http://127.0.0.1:{}/alerts", ports.alert_log),
        file,
    )?;
    let config = rewrite(
        &config,
        "/etc/alertmanager/secrets/webhook-token",
        &token.display().to_string(),
        file,
    )?;
    let config_path = dir.join("alertmanager.yml");
    write_file(&config_path, &config)?;
    let mut command = Command::new(program);
    command
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!(
            "--web.listen-address=127.0.0.1:{}",
            ports.alertmanager
        ))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn");
    let mut service = Service::spawn("alertmanager", command, &dir.join("alertmanager.log"))?;
    let ready = format!("http://127.0.0.1:{}/-/ready", ports.alertmanager);
    wait_http_ok(&mut service, Duration::from_secs(30), &ready).await?;
    Ok(service)
}
