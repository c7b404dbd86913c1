//! Fixture trees written in the kernel's formats: a pure cgroup v2 host carrying every
//! runtime's path scheme (Docker with the systemd driver, containerd and CRI-O under kubepods,
//! Podman, systemd units, `.mount` units), a cgroup v1 host (Docker's cgroupfs driver,
//! per-CPU accounting, blkio) with no Docker engine, and a hybrid one (pressure files from the
//! unified tree).

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::engine::{EngineDouble, FakeContainer};
use crate::golden;
use crate::support::{container_id, scrape, start, sum_for, value};

fn write(dir: &Path, file: &str, content: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(file), content).unwrap();
}

/// procfs and sysfs for a 2-CPU machine with 4 GiB, and the root's network namespace.
fn host(root: &Path) -> (PathBuf, PathBuf) {
    let proc = root.join("proc");
    let sys = root.join("sys");
    write(
        &proc,
        "cpuinfo",
        "processor\t: 0\nphysical id\t: 0\ncore id\t: 0\n\nprocessor\t: 1\nphysical id\t: 0\ncore id\t: 1\n",
    );
    write(
        &proc,
        "meminfo",
        "MemTotal:        4194304 kB\nMemFree:         1000000 kB\nSwapTotal:       1048576 kB\nSwapFree:         524288 kB\n",
    );
    write(&proc, "stat", "cpu  1 2 3 4\nbtime 1700000000\n");
    write(&proc.join("sys/kernel"), "osrelease", "6.1.0-test\n");
    write(&proc.join("sys/kernel/random"), "boot_id", "boot-1234\n");
    net(&proc, 1, "eth0", 1000, "4026531992");
    write(
        &sys.join("dev/block/8:0"),
        "uevent",
        "MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\n",
    );
    write(&sys.join("class/dmi/id"), "product_uuid", "uuid-5678\n");
    (proc, sys)
}

/// `/proc/<pid>/net/dev` with one interface (plus loopback and a veth, which are skipped) and
/// the `ns/net` link naming the namespace.
fn net(proc: &Path, pid: u32, interface: &str, rx_bytes: u64, netns: &str) {
    let dir = proc.join(pid.to_string());
    write(
        &dir.join("net"),
        "dev",
        &format!(
            "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 500 5 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n{interface}: {rx_bytes} 10 1 2 0 0 0 0 3000 30 3 4 0 0 0 0\nveth0a1: 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9\n"
        ),
    );
    std::fs::create_dir_all(dir.join("ns")).unwrap();
    std::os::unix::fs::symlink(format!("net:[{netns}]"), dir.join("ns/net")).unwrap();
}

/// One v2 cgroup with the files runc reads.
fn v2_cgroup(
    root: &Path,
    path: &str,
    usage_usec: u64,
    memory_current: Option<u64>,
    quota: Option<u64>,
    pid: Option<u32>,
) {
    let dir = root.join(path.trim_start_matches('/'));
    write(
        &dir,
        "cpu.stat",
        &format!(
            "usage_usec {usage_usec}\nuser_usec {}\nsystem_usec {}\nnr_periods 40\nnr_throttled 4\nthrottled_usec 250000\nnr_bursts 1\nburst_usec 5000\n",
            usage_usec * 3 / 4,
            usage_usec / 4
        ),
    );
    write(
        &dir,
        "memory.stat",
        "anon 20971520\nfile 10485760\nkernel 1048576\nfile_mapped 4096\nfile_dirty 8192\nfile_writeback 0\ninactive_file 6291456\nactive_file 4194304\npgfault 1200\npgmajfault 7\npgscan 11\npgsteal 10\nworkingset_refault_anon 2\nworkingset_refault_file 3\n",
    );
    write(
        &dir,
        "io.stat",
        "8:0 rbytes=90112 wbytes=4096 rios=22 wios=1 dbytes=0 dios=0\n",
    );
    write(
        &dir,
        "cpu.pressure",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=500000\n",
    );
    write(
        &dir,
        "memory.pressure",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=20\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=10\n",
    );
    write(
        &dir,
        "io.pressure",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=3000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=2000000\n",
    );
    write(&dir, "cgroup.events", "populated 1\nfrozen 0\n");
    write(
        &dir,
        "cgroup.procs",
        &pid.map(|p| format!("{p}\n")).unwrap_or_default(),
    );
    if path != "/" {
        write(&dir, "cpu.weight", "100\n");
        write(
            &dir,
            "cpu.max",
            &match quota {
                Some(q) => format!("{q} 100000\n"),
                None => "max 100000\n".to_owned(),
            },
        );
        write(&dir, "memory.max", "536870912\n");
        write(&dir, "memory.min", "0\n");
        write(&dir, "memory.swap.max", "max\n");
        write(&dir, "memory.swap.current", "4096\n");
        write(
            &dir,
            "memory.events",
            "low 0\nhigh 2\nmax 3\noom 0\noom_kill 0\n",
        );
    }
    if let Some(current) = memory_current {
        write(&dir, "memory.current", &format!("{current}\n"));
        write(&dir, "memory.peak", &format!("{}\n", current * 2));
    }
}

struct V2Host {
    dir: TempDir,
    docker: String,
    containerd: String,
    crio: String,
    podman: String,
    sandbox: String,
    unknown: String,
    k8s_docker: String,
}

impl V2Host {
    fn cgroup(&self) -> PathBuf {
        self.dir.path().join("cgroup")
    }

    fn paths(&self) -> [(&'static str, String); 7] {
        [
            (
                "docker",
                format!("/system.slice/docker-{}.scope", self.docker),
            ),
            (
                "containerd",
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod11_22.slice/cri-containerd-{}.scope",
                    self.containerd
                ),
            ),
            (
                "crio",
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod33.slice/crio-{}.scope",
                    self.crio
                ),
            ),
            (
                "podman",
                format!("/machine.slice/libpod-{}.scope", self.podman),
            ),
            (
                "sandbox",
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod33.slice/crio-{}",
                    self.sandbox
                ),
            ),
            (
                "unknown",
                format!("/system.slice/docker-{}.scope", self.unknown),
            ),
            (
                "k8s_docker",
                format!("/kubepods/burstable/pod44/{}", self.k8s_docker),
            ),
        ]
    }

    fn path(&self, which: &str) -> String {
        self.paths()
            .into_iter()
            .find(|(name, _)| *name == which)
            .map(|(_, p)| p)
            .unwrap()
    }
}

fn v2_host() -> V2Host {
    let host_tree = V2Host {
        dir: tempfile::tempdir().unwrap(),
        docker: container_id("docker"),
        containerd: container_id("containerd"),
        crio: container_id("crio"),
        podman: container_id("podman"),
        sandbox: container_id("sandbox"),
        unknown: container_id("unknown"),
        k8s_docker: container_id("k8s"),
    };
    let (proc, _) = host(host_tree.dir.path());
    let cgroup = host_tree.cgroup();
    write(
        &cgroup,
        "cgroup.controllers",
        "cpuset cpu io memory hugetlb pids rdma misc\n",
    );
    // The v2 root has no memory.current, cpu.max or memory.max.
    v2_cgroup(&cgroup, "/", 9_000_000, None, None, None);
    for slice in ["/system.slice", "/kubepods.slice", "/machine.slice"] {
        v2_cgroup(&cgroup, slice, 4_000_000, Some(100 << 20), None, None);
    }
    v2_cgroup(
        &cgroup,
        "/system.slice/ssh.service",
        1_000_000,
        Some(8 << 20),
        None,
        Some(700),
    );
    v2_cgroup(
        &cgroup,
        "/system.slice/var-lib-docker-overlay2.mount",
        1,
        Some(1),
        None,
        None,
    );
    v2_cgroup(
        &cgroup,
        &host_tree.path("docker"),
        2_500_000,
        Some(50 << 20),
        Some(50_000),
        Some(4242),
    );
    net(&proc, 4242, "eth0", 123_456, "4026532100");
    for which in [
        "containerd",
        "crio",
        "podman",
        "sandbox",
        "unknown",
        "k8s_docker",
    ] {
        v2_cgroup(
            &cgroup,
            &host_tree.path(which),
            1_000_000,
            Some(10 << 20),
            None,
            None,
        );
    }
    host_tree
}

fn common_args(root: &Path, cgroup: &Path) -> Vec<String> {
    vec![
        format!("--path.cgroupfs={}", cgroup.display()),
        format!("--path.procfs={}", root.join("proc").display()),
        format!("--path.sysfs={}", root.join("sys").display()),
        format!("-machine_id_file={}", root.join("machine-id").display()),
        format!(
            "--path.containerd-state={}",
            root.join("run/containerd").display()
        ),
        format!(
            "--path.crio-storage={}",
            root.join("var/lib/containers/storage").display()
        ),
    ]
}

#[tokio::test]
async fn pure_v2_host_with_every_runtime_path_scheme() {
    let tree = v2_host();
    let mut web = FakeContainer::new(&tree.docker, "web", "nginx:1.27");
    web.labels = vec![
        ("com.docker.compose.service".into(), "web".into()),
        ("maintainer".into(), "ops@example.com".into()),
    ];
    web.env = vec!["APP_MODE=prod".into(), "SECRET=x".into()];
    web.pid = 4242;
    web.health = Some("healthy".into());
    let mut k8s = FakeContainer::new(
        &tree.k8s_docker,
        "k8s_app_pod-a_default_uid_0",
        "registry/app:2",
    );
    k8s.labels = vec![
        ("io.kubernetes.container.name".into(), "app".into()),
        ("io.kubernetes.pod.name".into(), "pod-a".into()),
        ("io.kubernetes.pod.namespace".into(), "default".into()),
    ];
    k8s.network_mode = format!("container:{}", tree.docker);
    let engine = EngineDouble::start(vec![web, k8s]).await;
    std::fs::write(tree.dir.path().join("machine-id"), "machine-abc\n").unwrap();
    // The bundle containerd writes for a pod's container: the OCI spec, with the CRI's
    // annotations.
    write(
        &tree.dir.path().join(format!(
            "run/containerd/io.containerd.runtime.v2.task/k8s.io/{}",
            tree.containerd
        )),
        "config.json",
        r#"{"ociVersion":"1.1.0","process":{"env":["PATH=/usr/bin","APP_TIER=api"]},
           "annotations":{"io.kubernetes.cri.container-type":"container",
           "io.kubernetes.cri.container-name":"api",
           "io.kubernetes.cri.sandbox-name":"api-6c9f7-kq2",
           "io.kubernetes.cri.sandbox-namespace":"shop",
           "io.kubernetes.cri.sandbox-uid":"11-22",
           "io.kubernetes.cri.image-name":"registry/api:3"}}"#,
    );
    let mut args = common_args(tree.dir.path(), &tree.cgroup());
    args.push(format!("-docker={}", engine.endpoint()));
    args.push(format!(
        "-podman=unix://{}/no-podman.sock",
        tree.dir.path().display()
    ));
    args.push("-env_metadata_whitelist=APP_".into());
    let exporter = start(args).await;
    let (text, m) = scrape(&exporter).await;
    golden::check(&m, "v2 fixture");

    let docker = tree.path("docker");
    let id = |p: &str| ("id", p.to_owned());
    let docker_id = id(&docker);
    let d = [(docker_id.0, docker_id.1.as_str())];
    // Docker with the systemd driver: metadata from the Engine API.
    assert_eq!(
        value(
            &m,
            "container_cpu_usage_seconds_total",
            &[d[0], ("cpu", "total")]
        ),
        Some(2.5)
    );
    assert_eq!(
        value(&m, "container_cpu_user_seconds_total", &d),
        Some(1.875)
    );
    assert_eq!(
        value(&m, "container_cpu_system_seconds_total", &d),
        Some(0.625)
    );
    let full = [
        d[0],
        ("name", "web"),
        ("image", "nginx:1.27"),
        ("container", "web"),
        ("container_label_com_docker_compose_service", "web"),
        ("container_label_maintainer", "ops@example.com"),
        ("container_env_app_mode", "prod"),
    ];
    assert_eq!(
        value(&m, "container_memory_usage_bytes", &full),
        Some((50u64 << 20) as f64)
    );
    assert_eq!(
        value(&m, "container_memory_working_set_bytes", &d),
        Some(((50u64 << 20) - 6_291_456) as f64)
    );
    assert_eq!(value(&m, "container_memory_rss", &d), Some(20_971_520.0));
    assert_eq!(value(&m, "container_memory_cache", &d), Some(10_485_760.0));
    assert_eq!(value(&m, "container_memory_swap", &d), Some(4096.0));
    assert_eq!(
        value(&m, "container_memory_max_usage_bytes", &d),
        Some((100u64 << 20) as f64)
    );
    assert_eq!(
        value(&m, "container_memory_kernel_usage", &d),
        Some(1_048_576.0)
    );
    assert_eq!(
        value(&m, "container_memory_events_max_total", &d),
        Some(3.0)
    );
    assert_eq!(
        value(
            &m,
            "container_memory_failures_total",
            &[d[0], ("failure_type", "pgmajfault"), ("scope", "hierarchy")]
        ),
        Some(7.0)
    );
    assert_eq!(
        value(&m, "container_cpu_cfs_throttled_periods_total", &d),
        Some(4.0)
    );
    assert_eq!(
        value(&m, "container_cpu_cfs_throttled_seconds_total", &d),
        Some(0.25)
    );
    assert_eq!(value(&m, "container_spec_cpu_quota", &d), Some(50_000.0));
    assert_eq!(value(&m, "container_spec_cpu_period", &d), Some(100_000.0));
    // cpu.weight 100 in cAdvisor's conversion to shares.
    assert_eq!(value(&m, "container_spec_cpu_shares", &d), Some(2597.0));
    assert_eq!(
        value(&m, "container_spec_memory_limit_bytes", &d),
        Some(536_870_912.0)
    );
    assert_eq!(
        value(&m, "container_spec_memory_swap_limit_bytes", &d),
        Some(0.0)
    );
    assert_eq!(
        value(&m, "container_start_time_seconds", &d),
        Some(1_714_557_600.0)
    );
    assert_eq!(value(&m, "container_health_state", &d), Some(1.0));
    assert_eq!(
        value(
            &m,
            "container_fs_reads_bytes_total",
            &[d[0], ("device", "/dev/sda")]
        ),
        Some(90_112.0)
    );
    assert_eq!(
        value(
            &m,
            "container_fs_reads_total",
            &[d[0], ("device", "/dev/sda")]
        ),
        Some(22.0)
    );
    assert_eq!(
        value(
            &m,
            "container_blkio_device_usage_total",
            &[
                d[0],
                ("device", "/dev/sda"),
                ("major", "8"),
                ("minor", "0"),
                ("operation", "Write")
            ]
        ),
        Some(4096.0)
    );
    assert_eq!(
        value(&m, "container_pressure_cpu_waiting_seconds_total", &d),
        Some(1.5)
    );
    assert_eq!(
        value(&m, "container_pressure_io_stalled_seconds_total", &d),
        Some(2.0)
    );
    assert_eq!(
        value(
            &m,
            "container_network_receive_bytes_total",
            &[d[0], ("interface", "eth0")]
        ),
        Some(123_456.0)
    );
    assert_eq!(
        value(
            &m,
            "container_network_transmit_packets_dropped_total",
            &[d[0], ("interface", "eth0")]
        ),
        Some(4.0)
    );
    assert!(
        m.value(
            "container_network_receive_bytes_total",
            &[d[0], ("interface", "lo")]
        )
        .is_none()
    );

    // containerd under kubepods: pod, namespace, container and image from its bundle, the
    // kubelet's labels as cAdvisor shows them; name = id (cAdvisor's alias order).
    let containerd = tree.path("containerd");
    assert_eq!(
        value(
            &m,
            "container_memory_usage_bytes",
            &[
                ("id", &containerd),
                ("name", &tree.containerd),
                ("image", "registry/api:3"),
                ("pod", "api-6c9f7-kq2"),
                ("namespace", "shop"),
                ("container", "api"),
                ("container_label_io_kubernetes_pod_uid", "11-22"),
                ("container_env_app_tier", "api"),
            ]
        ),
        Some((10u64 << 20) as f64)
    );
    // CRI-O without a bundle and Podman without its engine: reported by id; CRI-O's sandbox
    // and .mount units are not reported.
    let crio = tree.path("crio");
    let podman = tree.path("podman");
    assert!(
        value(
            &m,
            "container_memory_usage_bytes",
            &[("id", &crio), ("name", "")]
        )
        .is_some()
    );
    assert!(value(&m, "container_memory_usage_bytes", &[("id", &podman)]).is_some());
    assert!(
        !text.contains(&tree.sandbox),
        "the CRI-O sandbox is not reported"
    );
    assert!(
        !text.contains("overlay2.mount"),
        ".mount units are not reported"
    );
    // An id the engine does not know: a raw cgroup (no name, no network).
    let unknown = tree.path("unknown");
    assert!(
        value(
            &m,
            "container_memory_usage_bytes",
            &[("id", &unknown), ("name", "")]
        )
        .is_some()
    );
    assert!(value(&m, "container_health_state", &[("id", &unknown)]).is_none());
    // Docker under kubepods: the kubelet's pod/namespace/container labels; it shares the
    // web container's network namespace, so no network series of its own.
    let k8s_path = tree.path("k8s_docker");
    assert!(
        value(
            &m,
            "container_cpu_usage_seconds_total",
            &[
                ("id", &k8s_path),
                ("pod", "pod-a"),
                ("namespace", "default"),
                ("container", "app"),
                ("image", "registry/app:2")
            ]
        )
        .is_some()
    );
    assert!(
        value(
            &m,
            "container_network_receive_bytes_total",
            &[("id", &k8s_path)]
        )
        .is_none()
    );
    assert_eq!(
        value(&m, "container_health_state", &[("id", &k8s_path)]),
        Some(-1.0)
    );

    // Raw cgroups: every series carries the union of label names, empty where absent.
    let ssh_line = text
        .lines()
        .find(|l| l.starts_with("container_memory_usage_bytes{") && l.contains("ssh.service"))
        .expect("ssh.service reported");
    for label in [
        "container=\"\"",
        "container_label_com_docker_compose_service=\"\"",
        "image=\"\"",
        "name=\"\"",
        "pod=\"\"",
    ] {
        assert!(ssh_line.contains(label), "{label} missing in {ssh_line}");
    }
    // The v2 root: usage is anon + file (no memory.current), swap from meminfo; limits are
    // the machine's.
    assert_eq!(
        value(&m, "container_memory_usage_bytes", &[("id", "/")]),
        Some(31_457_280.0)
    );
    assert_eq!(
        value(&m, "container_memory_swap", &[("id", "/")]),
        Some(524_288.0 * 1024.0)
    );
    assert_eq!(
        value(&m, "container_spec_memory_limit_bytes", &[("id", "/")]),
        Some(4_294_967_296.0)
    );
    assert_eq!(
        value(
            &m,
            "container_network_receive_bytes_total",
            &[("id", "/"), ("interface", "eth0")]
        ),
        Some(1000.0)
    );
    // Machine and version families.
    let machine = [
        ("machine_id", "machine-abc"),
        ("boot_id", "boot-1234"),
        ("system_uuid", "uuid-5678"),
    ];
    assert_eq!(value(&m, "machine_cpu_cores", &machine), Some(2.0));
    assert_eq!(value(&m, "machine_cpu_physical_cores", &machine), Some(2.0));
    assert_eq!(
        value(&m, "machine_memory_bytes", &machine),
        Some(4_294_967_296.0)
    );
    assert_eq!(
        value(
            &m,
            "cadvisor_version_info",
            &[("dockerVersion", "27.3.1"), ("kernelVersion", "6.1.0-test")]
        ),
        Some(1.0)
    );
    assert_eq!(value(&m, "container_scrape_error", &[]), Some(0.0));
    // No always-zero families; v1-only families absent on v2.
    assert!(m.family("container_tasks_state").is_none());
    assert!(m.family("container_memory_failcnt").is_none());
    assert_eq!(
        m.family("container_cpu_usage_seconds_total").unwrap().kind,
        "counter"
    );
    assert_eq!(
        m.family("container_memory_usage_bytes").unwrap().kind,
        "gauge"
    );
    assert!(
        text.contains("# HELP container_memory_usage_bytes Current memory usage in bytes, including all memory regardless of when it was accessed\n")
    );

    // Metadata is cached: more scrapes inspect nothing again; health is refreshed.
    engine.set_health(&tree.docker, "unhealthy");
    let (_, m) = scrape(&exporter).await;
    let (_, _) = scrape(&exporter).await;
    assert_eq!(value(&m, "container_health_state", &d), Some(0.0));
    let requests = engine.requests();
    let inspects_of_web = requests
        .iter()
        .filter(|r| r.as_str() == format!("/containers/{}/json", tree.docker))
        .count();
    assert_eq!(inspects_of_web, 1, "{requests:?}");
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("/containers/json?filters=")),
        "{requests:?}"
    );

    // A new container appears: discovered and inspected on the next scrape.
    let late = container_id("late");
    let late_path = format!("/system.slice/docker-{late}.scope");
    v2_cgroup(
        &tree.cgroup(),
        &late_path,
        3_000_000,
        Some(1 << 20),
        None,
        None,
    );
    let (_, m) = scrape(&exporter).await;
    assert_eq!(
        sum_for(&m, "container_cpu_usage_seconds_total", &late_path),
        3.0
    );
    // And goes away.
    std::fs::remove_dir_all(tree.cgroup().join(late_path.trim_start_matches('/'))).unwrap();
    let (text, _) = scrape(&exporter).await;
    assert!(!text.contains(&late));
    drop(exporter);

    // -store_container_labels=false keeps whitelisted labels only (env still added), and
    // -docker_only drops raw cgroups except the root and whitelisted prefixes.
    let mut args = common_args(tree.dir.path(), &tree.cgroup());
    args.push(format!("-docker={}", engine.endpoint()));
    args.push("-store_container_labels=false".into());
    args.push("-whitelisted_container_labels=maintainer".into());
    args.push("-docker_only=true".into());
    args.push("-raw_cgroup_prefix_whitelist=/system.slice/ssh".into());
    args.push("-disable_metrics=network,percpu".into());
    let exporter = start(args).await;
    let (text, m) = scrape(&exporter).await;
    assert!(!text.contains("container_label_com_docker_compose_service"));
    assert!(
        value(
            &m,
            "container_memory_usage_bytes",
            &[d[0], ("container_label_maintainer", "ops@example.com")]
        )
        .is_some()
    );
    assert!(
        value(
            &m,
            "container_memory_usage_bytes",
            &[("id", "/system.slice/ssh.service")]
        )
        .is_some()
    );
    assert!(
        value(
            &m,
            "container_memory_usage_bytes",
            &[("id", "/system.slice")]
        )
        .is_none()
    );
    assert!(value(&m, "container_memory_usage_bytes", &[("id", "/")]).is_some());
    assert!(m.family("container_network_receive_bytes_total").is_none());
}

/// One v1 cgroup in the cpu, cpuacct, memory and blkio hierarchies.
fn v1_cgroup(root: &Path, path: &str, percpu: &[u64], user_ticks: u64, memory: u64) {
    let rel = path.trim_start_matches('/');
    let cpu = root.join("cpu").join(rel);
    write(&cpu, "cpu.shares", "1024\n");
    write(&cpu, "cpu.cfs_period_us", "100000\n");
    write(&cpu, "cpu.cfs_quota_us", "-1\n");
    write(
        &cpu,
        "cpu.stat",
        "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
    );
    write(&cpu, "cgroup.clone_children", "0\n");
    let cpuacct = root.join("cpuacct").join(rel);
    write(
        &cpuacct,
        "cpuacct.usage_percpu",
        &format!(
            "{}\n",
            percpu
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    write(
        &cpuacct,
        "cpuacct.stat",
        &format!("user {user_ticks}\nsystem 50\n"),
    );
    let mem = root.join("memory").join(rel);
    write(&mem, "memory.usage_in_bytes", &format!("{memory}\n"));
    write(
        &mem,
        "memory.max_usage_in_bytes",
        &format!("{}\n", memory + 4096),
    );
    write(&mem, "memory.failcnt", "2\n");
    write(&mem, "memory.kmem.usage_in_bytes", "65536\n");
    write(&mem, "memory.limit_in_bytes", "9223372036854771712\n");
    write(&mem, "memory.memsw.limit_in_bytes", "9223372036854771712\n");
    write(&mem, "memory.soft_limit_in_bytes", "9223372036854771712\n");
    write(
        &mem,
        "memory.stat",
        &format!(
            "cache 0\nrss 0\npgfault 300\npgmajfault 3\ntotal_cache 4096\ntotal_rss {}\ntotal_swap 0\ntotal_mapped_file 1024\ntotal_inactive_file 2048\ntotal_active_file 1024\n",
            memory - 4096
        ),
    );
    let blkio = root.join("blkio").join(rel);
    write(
        &blkio,
        "blkio.throttle.io_serviced_recursive",
        "8:0 Read 3\n8:0 Write 5\n8:0 Sync 5\n8:0 Async 3\n8:0 Discard 0\n8:0 Total 8\nTotal 8\n",
    );
    write(
        &blkio,
        "blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 12288\n8:0 Write 20480\n8:0 Sync 20480\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 32768\nTotal 32768\n",
    );
}

#[tokio::test]
async fn v1_host_without_a_docker_engine() {
    let dir = tempfile::tempdir().unwrap();
    host(dir.path());
    let cgroup = dir.path().join("cgroup");
    let id = container_id("v1");
    let docker = format!("/docker/{id}");
    v1_cgroup(&cgroup, "/", &[5_000_000_000, 7_000_000_000], 1000, 1 << 30);
    v1_cgroup(&cgroup, "/docker", &[1_000_000_000, 0], 100, 64 << 20);
    v1_cgroup(&cgroup, &docker, &[1_000_000_000, 0], 150, 32 << 20);
    v1_cgroup(&cgroup, "/system.slice", &[1, 2], 1, 1 << 20);
    let mut args = common_args(dir.path(), &cgroup);
    args.push(format!(
        "-docker=unix://{}/missing/docker.sock",
        dir.path().display()
    ));
    args.push("-disable_root_cgroup_stats".into());
    let mut exporter = start(args).await;
    let (text, m) = scrape(&exporter).await;
    golden::check(&m, "v1 fixture");
    let d = [("id", docker.as_str())];
    // Per-CPU usage (zero CPUs omitted), user time from clock ticks.
    assert_eq!(
        value(
            &m,
            "container_cpu_usage_seconds_total",
            &[d[0], ("cpu", "cpu00")]
        ),
        Some(1.0)
    );
    assert!(
        value(
            &m,
            "container_cpu_usage_seconds_total",
            &[d[0], ("cpu", "cpu01")]
        )
        .is_none()
    );
    assert_eq!(value(&m, "container_cpu_user_seconds_total", &d), Some(1.5));
    assert_eq!(
        value(&m, "container_memory_usage_bytes", &d),
        Some((32u64 << 20) as f64)
    );
    assert_eq!(
        value(&m, "container_memory_working_set_bytes", &d),
        Some(((32u64 << 20) - 2048) as f64)
    );
    assert_eq!(value(&m, "container_memory_failcnt", &d), Some(2.0));
    assert_eq!(
        value(&m, "container_memory_kernel_usage", &d),
        Some(65_536.0)
    );
    assert_eq!(
        value(
            &m,
            "container_memory_failures_total",
            &[d[0], ("failure_type", "pgfault"), ("scope", "container")]
        ),
        Some(300.0)
    );
    // "Unlimited" limits are 0; no quota, so no quota or CFS series.
    assert_eq!(
        value(&m, "container_spec_memory_limit_bytes", &d),
        Some(0.0)
    );
    assert_eq!(value(&m, "container_spec_cpu_shares", &d), Some(1024.0));
    assert!(m.family("container_spec_cpu_quota").is_none());
    assert!(m.family("container_cpu_cfs_periods_total").is_none());
    assert_eq!(
        value(
            &m,
            "container_fs_writes_bytes_total",
            &[d[0], ("device", "/dev/sda")]
        ),
        Some(20_480.0)
    );
    assert_eq!(
        value(
            &m,
            "container_fs_writes_total",
            &[d[0], ("device", "/dev/sda")]
        ),
        Some(5.0)
    );
    assert_eq!(
        value(
            &m,
            "container_blkio_device_usage_total",
            &[d[0], ("operation", "Total"), ("major", "8")]
        ),
        Some(32_768.0)
    );
    // v2-only families are not invented on v1; no pressure without a unified hierarchy.
    assert!(m.family("container_memory_events_max_total").is_none());
    assert!(
        m.family("container_pressure_cpu_waiting_seconds_total")
            .is_none()
    );
    // No engine: the id alone, and no name label anywhere (nothing has one).
    assert!(!text.contains("name=\""), "no container has a name");
    assert!(m.family("container_health_state").is_none());
    // The root's stats are disabled, its limits are not.
    assert!(value(&m, "container_last_seen", &[("id", "/")]).is_none());
    assert!(value(&m, "container_cpu_user_seconds_total", &[("id", "/")]).is_none());
    assert_eq!(
        value(&m, "container_spec_memory_limit_bytes", &[("id", "/")]),
        Some(4_294_967_296.0)
    );
    for _ in 0..3 {
        scrape(&exporter).await;
    }
    exporter.service().stop();
    let log = exporter.log();
    let docker_lines = log
        .lines()
        .filter(|l| l.contains("no container engine") && l.contains("runtime=docker"))
        .count();
    assert_eq!(docker_lines, 1, "one line about the missing engine:\n{log}");
    assert!(!log.contains("level=error"), "{log}");

    // Octo's -raw_cgroup_name_labels: with -docker_only and a prefix whitelist, only the
    // whitelisted raw cgroups, named by their last path component (services without a runtime).
    let mut args = common_args(dir.path(), &cgroup);
    args.push(format!(
        "-docker=unix://{}/missing/docker.sock",
        dir.path().display()
    ));
    args.extend([
        "-docker_only".to_owned(),
        "-raw_cgroup_prefix_whitelist=/system.slice".to_owned(),
        "-raw_cgroup_name_labels".to_owned(),
    ]);
    let exporter = start(args).await;
    let (_, m) = scrape(&exporter).await;
    let slice = [
        ("id", "/system.slice"),
        ("name", "system.slice"),
        ("container", "system.slice"),
    ];
    assert_eq!(
        value(&m, "container_memory_usage_bytes", &slice),
        Some((1u64 << 20) as f64)
    );
    assert!(
        value(&m, "container_memory_usage_bytes", &[("id", "/docker")]).is_none(),
        "raw cgroups outside the whitelist are left out with -docker_only"
    );
}

/// The three pressure files of a cgroup, `cpu` waiting `cpu_some_us` microseconds.
fn pressure(dir: &Path, cpu_some_us: u64) {
    for (file, some) in [
        ("cpu.pressure", cpu_some_us),
        ("memory.pressure", 20),
        ("io.pressure", 30),
    ] {
        write(
            dir,
            file,
            &format!(
                "some avg10=0.00 avg60=0.00 avg300=0.00 total={some}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=10\n"
            ),
        );
    }
}

/// A hybrid host: v1 controllers for the statistics, and the unified tree for pressure files,
/// followed as it changes (not only when limits are re-read).
#[tokio::test]
async fn hybrid_host_reads_pressure_from_the_unified_tree() {
    let dir = tempfile::tempdir().unwrap();
    host(dir.path());
    let cgroup = dir.path().join("cgroup");
    let id = container_id("hybrid");
    let docker = format!("/docker/{id}");
    for path in ["/", "/docker", docker.as_str(), "/system.slice"] {
        v1_cgroup(&cgroup, path, &[1_000_000_000, 0], 10, 1 << 20);
    }
    let unified = cgroup.join("unified");
    write(&unified, "cgroup.controllers", "");
    pressure(&unified, 7_000_000);
    pressure(&unified.join(docker.trim_start_matches('/')), 1_500_000);
    let mut args = common_args(dir.path(), &cgroup);
    args.push(format!(
        "-docker=unix://{}/missing/docker.sock",
        dir.path().display()
    ));
    args.push("--cgroup.spec-max-age=1h".into());
    let exporter = start(args).await;
    let waiting = "container_pressure_cpu_waiting_seconds_total";
    let (_, m) = scrape(&exporter).await;
    golden::check(&m, "hybrid fixture");
    assert_eq!(value(&m, waiting, &[("id", docker.as_str())]), Some(1.5));
    assert_eq!(value(&m, waiting, &[("id", "/")]), Some(7.0));
    assert!(value(&m, waiting, &[("id", "/system.slice")]).is_none());
    // Cgroups only in the unified tree are not reported.
    assert!(value(&m, "container_last_seen", &[("id", "/docker")]).is_some());

    // Created and removed there while running: seen at the next scrape.
    pressure(&unified.join("system.slice"), 2_500_000);
    std::fs::remove_dir_all(unified.join(docker.trim_start_matches('/'))).unwrap();
    write(&unified.join("init.scope"), "cgroup.procs", "1\n");
    let (_, m) = scrape(&exporter).await;
    assert_eq!(value(&m, waiting, &[("id", "/system.slice")]), Some(2.5));
    assert!(value(&m, waiting, &[("id", docker.as_str())]).is_none());
    assert!(
        value(
            &m,
            "container_memory_usage_bytes",
            &[("id", docker.as_str())]
        )
        .is_some(),
        "still in the v1 hierarchies"
    );
    assert!(value(&m, "container_last_seen", &[("id", "/init.scope")]).is_none());
}
