//! The opt-in kinds of `src/extras.rs` (hugetlb, cpuset, memory_numa, tcp, udp, advtcp, sched,
//! referenced_memory, cpu_topology) on fixture trees of a cgroup v1, v2 and hybrid host, each
//! scrape held to cAdvisor's golden file; and the ones whose kernel files exist here on this
//! machine's real cgroups.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::golden;
use crate::support::{container_id, scrape, start, value};

pub fn write(dir: &Path, file: &str, content: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(file), content).unwrap();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    V1,
    V2,
    Hybrid,
}

/// A host tree: procfs, sysfs and a cgroup root with `/` and one container cgroup.
pub struct Fixture {
    pub dir: TempDir,
    pub mode: Mode,
    /// The container's cgroup path.
    pub container: String,
}

impl Fixture {
    pub fn new(mode: Mode) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let id = container_id("extras");
        let container = match mode {
            Mode::V2 => format!("/system.slice/docker-{id}.scope"),
            Mode::V1 | Mode::Hybrid => format!("/docker/{id}"),
        };
        let fixture = Fixture {
            dir,
            mode,
            container,
        };
        let proc = fixture.proc();
        write(&proc, "cpuinfo", "processor\t: 0\nprocessor\t: 1\n");
        write(&proc, "meminfo", "MemTotal: 4194304 kB\nSwapTotal: 0 kB\n");
        write(&proc, "stat", "cpu  1 2 3 4\nbtime 1700000000\n");
        let sys = fixture.sys();
        for size in ["hugepages-2048kB", "hugepages-1048576kB"] {
            write(
                &sys.join("kernel/mm/hugepages").join(size),
                "nr_hugepages",
                "0\n",
            );
        }
        let root = fixture.cgroup();
        match mode {
            Mode::V2 => {
                write(
                    &root,
                    "cgroup.controllers",
                    "cpuset cpu io memory hugetlb pids\n",
                );
                write(&fixture.v2(&fixture.container), "cgroup.procs", "");
            }
            Mode::V1 | Mode::Hybrid => {
                for controller in ["cpu", "cpuacct", "memory", "blkio"] {
                    write(&fixture.v1(controller, "/"), "cgroup.procs", "");
                    write(
                        &fixture.v1(controller, &fixture.container),
                        "cgroup.procs",
                        "",
                    );
                }
                if mode == Mode::Hybrid {
                    write(&root.join("unified"), "cgroup.controllers", "hugetlb\n");
                }
            }
        }
        fixture
    }

    pub fn proc(&self) -> PathBuf {
        self.dir.path().join("proc")
    }

    pub fn sys(&self) -> PathBuf {
        self.dir.path().join("sys")
    }

    pub fn cgroup(&self) -> PathBuf {
        self.dir.path().join("cgroup")
    }

    /// The directory of cgroup `path` in a v1 controller's mount.
    pub fn v1(&self, controller: &str, path: &str) -> PathBuf {
        self.cgroup()
            .join(controller)
            .join(path.trim_start_matches('/'))
    }

    /// The directory of cgroup `path` in the unified tree (the root on v2).
    pub fn v2(&self, path: &str) -> PathBuf {
        let unified = match self.mode {
            Mode::V2 => self.cgroup(),
            Mode::V1 | Mode::Hybrid => self.cgroup().join("unified"),
        };
        unified.join(path.trim_start_matches('/'))
    }

    pub fn args(&self, kinds: &str) -> Vec<String> {
        vec![
            format!("--path.cgroupfs={}", self.cgroup().display()),
            format!("--path.procfs={}", self.proc().display()),
            format!("--path.sysfs={}", self.sys().display()),
            format!(
                "-docker=unix://{}/no-docker.sock",
                self.dir.path().display()
            ),
            "-podman=".into(),
            "--path.containerd-state=".into(),
            "--path.crio-storage=".into(),
            format!("-enable_metrics={kinds}"),
        ]
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::V1 => "v1",
        Mode::V2 => "v2",
        Mode::Hybrid => "hybrid",
    }
}

#[tokio::test]
async fn hugetlb_on_v1_v2_and_hybrid_fixtures() {
    for mode in [Mode::V1, Mode::V2, Mode::Hybrid] {
        let f = Fixture::new(mode);
        let c = f.container.clone();
        match mode {
            Mode::V1 => {
                // runc reads the `.rsvd` files where they exist; a cgroup without them
                // (an older kernel) is read from the plain ones.
                for (path, rsvd) in [("/", ".rsvd"), (c.as_str(), "")] {
                    let dir = f.v1("hugetlb", path);
                    write(&dir, "cgroup.procs", "");
                    for (size, usage) in [("2MB", 4_194_304), ("1GB", 0)] {
                        let prefix = format!("hugetlb.{size}{rsvd}");
                        write(
                            &dir,
                            &format!("{prefix}.usage_in_bytes"),
                            &format!("{usage}\n"),
                        );
                        write(&dir, &format!("{prefix}.max_usage_in_bytes"), "6291456\n");
                        write(&dir, &format!("{prefix}.failcnt"), "2\n");
                    }
                }
            }
            Mode::V2 | Mode::Hybrid => {
                let dir = f.v2(&c);
                for size in ["2MB", "1GB"] {
                    write(&dir, &format!("hugetlb.{size}.current"), "4194304\n");
                    write(&dir, &format!("hugetlb.{size}.events"), "max 3\n");
                }
            }
        }
        let exporter = start(f.args("hugetlb")).await;
        let (_, m) = scrape(&exporter).await;
        let context = format!("hugetlb, {} fixture", mode_name(mode));
        golden::check(&m, &context);
        let id = [("id", c.as_str()), ("pagesize", "2MB")];
        assert_eq!(
            value(&m, "container_hugetlb_usage_bytes", &id),
            Some(4_194_304.0),
            "{context}"
        );
        let gib = [("id", c.as_str()), ("pagesize", "1GB")];
        match mode {
            Mode::V1 => {
                assert_eq!(value(&m, "container_hugetlb_usage_bytes", &gib), Some(0.0));
                assert_eq!(
                    value(&m, "container_hugetlb_max_usage_bytes", &id),
                    Some(6_291_456.0)
                );
                assert_eq!(value(&m, "container_hugetlb_failcnt", &id), Some(2.0));
                let root = [("id", "/"), ("pagesize", "2MB")];
                assert_eq!(
                    value(&m, "container_hugetlb_usage_bytes", &root),
                    Some(4_194_304.0)
                );
            }
            Mode::V2 | Mode::Hybrid => {
                assert_eq!(value(&m, "container_hugetlb_failcnt", &gib), Some(3.0));
                // v2 keeps no maximum: not invented.
                assert!(m.family("container_hugetlb_max_usage_bytes").is_none());
                // The root has no hugetlb files on v2.
                assert!(value(&m, "container_hugetlb_usage_bytes", &[("id", "/")]).is_none());
            }
        }
        // Garbage in one cgroup's file: that cgroup has no hugetlb series, the others do.
        match mode {
            Mode::V1 => write(&f.v1("hugetlb", &c), "hugetlb.2MB.usage_in_bytes", "x\n"),
            Mode::V2 | Mode::Hybrid => write(&f.v2(&c), "hugetlb.2MB.current", "\u{1}\n"),
        }
        let (_, m) = scrape(&exporter).await;
        assert!(
            value(&m, "container_hugetlb_usage_bytes", &id).is_none(),
            "{context}"
        );
        assert!(value(&m, "container_last_seen", &[("id", c.as_str())]).is_some());
        if mode == Mode::V1 {
            assert!(value(&m, "container_hugetlb_usage_bytes", &[("id", "/")]).is_some());
        }
    }
}

#[tokio::test]
async fn cpuset_memory_migrate_on_v1_and_hybrid_fixtures_not_v2() {
    for mode in [Mode::V1, Mode::Hybrid, Mode::V2] {
        let f = Fixture::new(mode);
        let c = f.container.clone();
        if mode == Mode::V2 {
            // v2's cpuset has no memory_migrate: nothing to read.
            write(&f.v2(&c), "cpuset.cpus.effective", "0-1\n");
        } else {
            write(&f.v1("cpuset", "/"), "cgroup.procs", "");
            write(&f.v1("cpuset", "/"), "cpuset.memory_migrate", "0\n");
            write(&f.v1("cpuset", &c), "cpuset.memory_migrate", "1\n");
        }
        let exporter = start(f.args("cpuset")).await;
        let (_, m) = scrape(&exporter).await;
        let context = format!("cpuset, {} fixture", mode_name(mode));
        golden::check(&m, &context);
        let migrate = |m: &octo_testbed::metrics::Exposition, id: &str| {
            value(m, "container_memory_migrate", &[("id", id)])
        };
        if mode == Mode::V2 {
            assert!(m.family("container_memory_migrate").is_none(), "{context}");
            continue;
        }
        assert_eq!(migrate(&m, &c), Some(1.0), "{context}");
        assert_eq!(migrate(&m, "/"), Some(0.0), "{context}");
        write(&f.v1("cpuset", &c), "cpuset.memory_migrate", "yes\n");
        let (_, m) = scrape(&exporter).await;
        assert_eq!(migrate(&m, &c), None, "garbage: no series ({context})");
        assert_eq!(migrate(&m, "/"), Some(0.0), "{context}");
    }
}

#[tokio::test]
async fn memory_numa_on_v1_v2_and_hybrid_fixtures() {
    for mode in [Mode::V1, Mode::Hybrid, Mode::V2] {
        let f = Fixture::new(mode);
        let c = f.container.clone();
        let (dir, text) = match mode {
            Mode::V2 => (
                f.v2(&c),
                "anon N0=409600 N1=4096\nfile N0=8192 N1=0\nkernel N0=4096\nunevictable N0=0 N1=0\n",
            ),
            Mode::V1 | Mode::Hybrid => (
                f.v1("memory", &c),
                "total=103 N0=102 N1=1\nfile=2 N0=2 N1=0\nanon=101 N0=100 N1=1\nunevictable=0 N0=0 N1=0\nhierarchical_total=203 N0=202 N1=1\nhierarchical_file=2 N0=2 N1=0\nhierarchical_anon=201 N0=200 N1=1\nhierarchical_unevictable=0 N0=0 N1=0\n",
            ),
        };
        write(&dir, "memory.numa_stat", text);
        let exporter = start(f.args("memory_numa")).await;
        let (_, m) = scrape(&exporter).await;
        let context = format!("memory_numa, {} fixture", mode_name(mode));
        golden::check(&m, &context);
        let pages = |m: &octo_testbed::metrics::Exposition, scope: &str, node: &str| {
            value(
                m,
                "container_memory_numa_pages",
                &[
                    ("id", c.as_str()),
                    ("type", "anon"),
                    ("scope", scope),
                    ("node", node),
                ],
            )
        };
        if mode == Mode::V2 {
            assert_eq!(pages(&m, "hierarchy", "0"), Some(100.0), "{context}");
            assert_eq!(pages(&m, "hierarchy", "1"), Some(1.0), "{context}");
            assert_eq!(pages(&m, "container", "0"), None, "{context}");
        } else {
            assert_eq!(pages(&m, "container", "0"), Some(100.0), "{context}");
            assert_eq!(pages(&m, "hierarchy", "0"), Some(200.0), "{context}");
        }
        write(
            &dir,
            "memory.numa_stat",
            "anon=1 N0=1 N1=\u{1}\nanon N0=x\n",
        );
        let (_, m) = scrape(&exporter).await;
        assert!(
            m.family("container_memory_numa_pages").is_none(),
            "{context}"
        );
    }
}

const TCP_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const UDP_HEADER: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";

/// `/proc/<pid>/net/{tcp,tcp6,udp,udp6}` with `listen` TCP listeners, `established`
/// connections, and one UDP socket with queues and drops; and the `ns/net` link.
fn sockets(proc: &Path, pid: u32, listen: usize, established: usize, netns: &str) {
    let net = proc.join(pid.to_string()).join("net");
    let mut tcp = TCP_HEADER.to_owned();
    for (i, state) in std::iter::repeat_n("0A", listen)
        .chain(std::iter::repeat_n("01", established))
        .enumerate()
    {
        tcp.push_str(&format!(
            "{i:4}: 0100007F:1F90 00000000:0000 {state} 00000000:00000000 00:00000000 00000000     0        0 {} 1 0000000000000000 100 0 0 10 0\n",
            1000 + i
        ));
    }
    write(&net, "tcp", &tcp);
    write(&net, "tcp6", TCP_HEADER);
    write(
        &net,
        "udp",
        &format!(
            "{UDP_HEADER}  123: 00000000:0044 00000000:0000 07 00000010:00000200 00:00000000 00000000     0        0 1234 2 0000000000000000 3\n"
        ),
    );
    write(&net, "udp6", UDP_HEADER);
    let ns = proc.join(pid.to_string()).join("ns");
    std::fs::create_dir_all(&ns).unwrap();
    std::os::unix::fs::symlink(format!("net:[{netns}]"), ns.join("net")).unwrap();
}

#[tokio::test]
async fn tcp_and_udp_per_network_namespace_on_fixtures() {
    for mode in [Mode::V2, Mode::V1, Mode::Hybrid] {
        let f = Fixture::new(mode);
        let c = f.container.clone();
        sockets(&f.proc(), 1, 2, 5, "4026531992");
        sockets(&f.proc(), 4242, 1, 3, "4026532100");
        let procs = match mode {
            Mode::V2 => f.v2(&c),
            Mode::V1 | Mode::Hybrid => f.v1("cpu", &c),
        };
        write(&procs, "cgroup.procs", "4242\n");
        let exporter = start(f.args("tcp,udp")).await;
        let (_, m) = scrape(&exporter).await;
        let context = format!("tcp and udp, {} fixture", mode_name(mode));
        golden::check(&m, &context);
        let tcp = |m: &octo_testbed::metrics::Exposition, id: &str, state: &str| {
            value(
                m,
                "container_network_tcp_usage_total",
                &[("id", id), ("tcp_state", state)],
            )
        };
        assert_eq!(tcp(&m, "/", "listen"), Some(2.0), "{context}");
        assert_eq!(tcp(&m, "/", "established"), Some(5.0), "{context}");
        assert_eq!(tcp(&m, "/", "timewait"), Some(0.0), "{context}");
        let tcp6 = [("id", "/"), ("tcp_state", "listen")];
        assert_eq!(
            value(&m, "container_network_tcp6_usage_total", &tcp6),
            Some(0.0)
        );
        let udp = |state: &str| {
            value(
                &m,
                "container_network_udp_usage_total",
                &[("id", "/"), ("udp_state", state)],
            )
        };
        assert_eq!(
            [
                udp("listen"),
                udp("dropped"),
                udp("rxqueued"),
                udp("txqueued")
            ],
            [Some(1.0), Some(3.0), Some(512.0), Some(16.0)],
            "{context}"
        );
        // A runtime container reports its own namespace (Docker's path scheme; the engine is
        // not there, so only on v2, where the path names the runtime).
        if mode == Mode::V2 {
            assert_eq!(tcp(&m, &c, "established"), Some(3.0), "{context}");
        }
        // A garbage line fails that file for that container only.
        let net = f.proc().join("1/net");
        let mut text = std::fs::read_to_string(net.join("tcp")).unwrap();
        text.push_str("   9: 0100007F:1F90 00000000:0000 ZZ 0\n");
        write(&net, "tcp", &text);
        let (_, m) = scrape(&exporter).await;
        assert_eq!(tcp(&m, "/", "listen"), None, "{context}");
        assert_eq!(
            value(&m, "container_network_tcp6_usage_total", &tcp6),
            Some(0.0)
        );
        assert!(
            value(
                &m,
                "container_network_udp_usage_total",
                &[("id", "/"), ("udp_state", "listen")]
            )
            .is_some()
        );
    }
}

#[tokio::test]
async fn advtcp_counters_on_fixtures() {
    for mode in [Mode::V1, Mode::V2] {
        let f = Fixture::new(mode);
        let net = f.proc().join("1/net");
        write(
            &net,
            "snmp",
            "Ip: Forwarding\nIp: 1\nTcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens CurrEstab\nTcp: 1 200 120000 -1 17 3\n",
        );
        write(
            &net,
            "netstat",
            "TcpExt: SyncookiesSent TW ListenDrops TCPBacklogDrop\nTcpExt: 2 40 6 1\nIpExt: InNoRoutes\nIpExt: 0\n",
        );
        let exporter = start(f.args("advtcp")).await;
        let (_, m) = scrape(&exporter).await;
        let context = format!("advtcp, {} fixture", mode_name(mode));
        golden::check(&m, &context);
        let counter = |m: &octo_testbed::metrics::Exposition, state: &str| {
            value(
                m,
                "container_network_advance_tcp_stats_total",
                &[("id", "/"), ("tcp_state", state)],
            )
        };
        assert_eq!(counter(&m, "maxconn"), Some(-1.0), "{context}");
        assert_eq!(counter(&m, "listendrops"), Some(6.0), "{context}");
        assert_eq!(counter(&m, "tcpbacklogdrop"), Some(1.0), "{context}");
        assert_eq!(counter(&m, "pawsestab"), Some(0.0), "{context}");
        let series = m
            .series()
            .filter(|s| s.name == "container_network_advance_tcp_stats_total")
            .count();
        assert_eq!(series, 99, "every counter cAdvisor writes ({context})");
        write(&net, "snmp", "Tcp: RtoAlgorithm RtoMin\nTcp: 1\n");
        let (_, m) = scrape(&exporter).await;
        assert_eq!(
            counter(&m, "maxconn"),
            None,
            "mismatched columns ({context})"
        );
    }
}

#[tokio::test]
async fn sched_sums_processes_of_the_cgroup_and_its_children_on_fixtures() {
    for mode in [Mode::V1, Mode::V2, Mode::Hybrid] {
        let f = Fixture::new(mode);
        let c = f.container.clone();
        let dir = |path: &str| match mode {
            Mode::V2 => f.v2(path),
            Mode::V1 | Mode::Hybrid => f.v1("cpu", path),
        };
        write(&dir(&c), "cgroup.procs", "4242\n");
        write(&dir(&format!("{c}/child")), "cgroup.procs", "4243\n4244\n");
        let proc = f.proc();
        write(&proc.join("4242"), "schedstat", "2000000000 500000000 10\n");
        write(&proc.join("4243"), "schedstat", "1000000000 0 5\n");
        // 4244 exited between the listing and the read: not counted, no error.
        let exporter = start(f.args("sched")).await;
        let (_, m) = scrape(&exporter).await;
        let context = format!("sched, {} fixture", mode_name(mode));
        golden::check(&m, &context);
        let run = |m: &octo_testbed::metrics::Exposition| {
            value(
                m,
                "container_cpu_schedstat_run_seconds_total",
                &[("id", c.as_str())],
            )
        };
        assert_eq!(run(&m), Some(3.0), "{context}");
        assert_eq!(
            value(
                &m,
                "container_cpu_schedstat_run_periods_total",
                &[("id", c.as_str())]
            ),
            Some(15.0)
        );
        assert_eq!(
            value(
                &m,
                "container_cpu_schedstat_runqueue_seconds_total",
                &[("id", c.as_str())]
            ),
            Some(0.5)
        );
        // 4243 exits: what it ran stays counted; 4242 runs on.
        write(&dir(&format!("{c}/child")), "cgroup.procs", "");
        write(&proc.join("4242"), "schedstat", "2500000000 500000000 11\n");
        let (_, m) = scrape(&exporter).await;
        assert_eq!(run(&m), Some(3.5), "{context}");
        // Garbage: no series for that cgroup this scrape; the sums come back after.
        write(&proc.join("4242"), "schedstat", "2500000000 x\n");
        let (_, m) = scrape(&exporter).await;
        assert_eq!(run(&m), None, "{context}");
        write(&proc.join("4242"), "schedstat", "2600000000 500000000 12\n");
        let (_, m) = scrape(&exporter).await;
        assert_eq!(run(&m), Some(3.6), "{context}");
    }
}

/// One NUMA node with two single-thread cores: L1d and L2 per core, L3 for the node.
fn topology(sys: &Path) {
    let system = sys.join("devices/system");
    write(&system.join("cpu"), "online", "0-1\n");
    let node = system.join("node/node0");
    write(&node, "meminfo", "Node 0 MemTotal:       4194304 kB\n");
    write(&node, "distance", "10\n");
    write(
        &node.join("hugepages/hugepages-2048kB"),
        "nr_hugepages",
        "3\n",
    );
    for cpu in 0..2 {
        let dir = system.join(format!("cpu/cpu{cpu}"));
        write(&dir.join("topology"), "core_id", &format!("{cpu}\n"));
        write(&dir.join("topology"), "physical_package_id", "0\n");
        for (index, level, kind, size, shared) in [
            (0, 1, "Data", "48K", if cpu == 0 { "1" } else { "2" }),
            (1, 2, "Unified", "2048K", if cpu == 0 { "1" } else { "2" }),
            (2, 3, "Unified", "32768K", "3"),
        ] {
            let cache = dir.join(format!("cache/index{index}"));
            write(&cache, "id", "0\n");
            write(&cache, "level", &format!("{level}\n"));
            write(&cache, "type", &format!("{kind}\n"));
            write(&cache, "size", &format!("{size}\n"));
            write(&cache, "shared_cpu_map", &format!("{shared}\n"));
        }
        std::os::unix::fs::symlink(&dir, node.join(format!("cpu{cpu}"))).unwrap();
    }
    let dimm = system.join("edac/mc/mc0/dimm0");
    write(&dimm, "dimm_mem_type", "Unbuffered-DDR4\n");
    write(&dimm, "size", "4096\n");
}

#[tokio::test]
async fn cpu_topology_and_dimms_on_a_fixture() {
    let f = Fixture::new(Mode::V2);
    topology(&f.sys());
    let mut args = f.args("cpu_topology");
    args.push(format!(
        "-machine_id_file={}",
        f.dir.path().join("machine-id").display()
    ));
    write(f.dir.path(), "machine-id", "m-1\n");
    let exporter = start(args).await;
    let (_, m) = scrape(&exporter).await;
    golden::check(&m, "cpu_topology, v2 fixture");
    let machine = ("machine_id", "m-1");
    let cache = |core: &str, level: &str, kind: &str| {
        value(
            &m,
            "machine_cpu_cache_capacity_bytes",
            &[
                machine,
                ("node_id", "0"),
                ("core_id", core),
                ("level", level),
                ("type", kind),
            ],
        )
    };
    assert_eq!(cache("1", "1", "Data"), Some(49152.0));
    assert_eq!(cache("0", "2", "Unified"), Some(2097152.0));
    assert_eq!(cache("", "3", "Unified"), Some(33554432.0));
    assert_eq!(
        value(
            &m,
            "machine_thread_siblings_count",
            &[("core_id", "1"), ("thread_id", "1")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "machine_node_memory_capacity_bytes",
            &[("node_id", "0")]
        ),
        Some(4294967296.0)
    );
    assert_eq!(
        value(
            &m,
            "machine_node_hugepages_count",
            &[("node_id", "0"), ("page_size", "2048")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &m,
            "machine_node_distance",
            &[("node_id", "0"), ("target_node_id", "0")]
        ),
        Some(10.0)
    );
    assert_eq!(
        value(
            &m,
            "machine_dimm_capacity_bytes",
            &[("type", "Unbuffered-DDR4")]
        ),
        Some(4294967296.0)
    );
    assert_eq!(
        value(
            &m,
            "machine_dimm_count",
            &[machine, ("type", "Unbuffered-DDR4")]
        ),
        Some(1.0)
    );
    // Without the kind: no topology, but the DIMMs (cAdvisor writes them whatever the kinds).
    drop(exporter);
    let exporter = start(f.args("cpu")).await;
    let (_, m) = scrape(&exporter).await;
    assert!(m.family("machine_cpu_cache_capacity_bytes").is_none());
    assert!(m.family("machine_dimm_count").is_some());
}

#[tokio::test]
async fn referenced_memory_on_fixtures_reads_and_never_writes() {
    for mode in [Mode::V1, Mode::V2] {
        let f = Fixture::new(mode);
        let c = f.container.clone();
        let procs = match mode {
            Mode::V2 => f.v2(&c),
            Mode::V1 | Mode::Hybrid => f.v1("cpu", &c),
        };
        write(&procs, "cgroup.procs", "4242\n4243\n4244\n");
        let proc = f.proc();
        write(
            &proc.join("4242"),
            "smaps_rollup",
            "00400000-ffffffffff601000 ---p 00000000 00:00 0   [rollup]\nRss:  900 kB\nReferenced:  800 kB\nAnonymous: 1 kB\n",
        );
        // An older kernel's smaps: one Referenced line per mapping.
        write(
            &proc.join("4243"),
            "smaps",
            "00400000-00452000 r-xp 00000000 08:02 173521 /bin/x\nReferenced:  100 kB\n00651000-00652000 rw-p 00051000 08:02 173521 /bin/x\nReferenced:  4 kB\n",
        );
        // 4244 exited.
        for pid in ["4242", "4243"] {
            write(&proc.join(pid), "clear_refs", "");
        }
        let exporter = start(f.args("referenced_memory")).await;
        let (_, m) = scrape(&exporter).await;
        let context = format!("referenced_memory, {} fixture", mode_name(mode));
        golden::check(&m, &context);
        assert_eq!(
            value(&m, "container_referenced_bytes", &[("id", c.as_str())]),
            Some(904.0 * 1024.0),
            "{context}"
        );
        for pid in ["4242", "4243"] {
            assert_eq!(
                std::fs::read_to_string(proc.join(pid).join("clear_refs")).unwrap(),
                ""
            );
        }
        write(&proc.join("4243"), "smaps", "Referenced: lots\n");
        let (_, m) = scrape(&exporter).await;
        assert_eq!(
            value(&m, "container_referenced_bytes", &[("id", c.as_str())]),
            None
        );
    }
}

/// mkdir `path` in each of these v1 hierarchies of this machine; returns the `cgroup.procs`
/// files to join.
fn create_real(
    cgroups: &mut crate::real_cgroups::Cgroups,
    path: &str,
    controllers: &[&str],
) -> Vec<PathBuf> {
    let mut procs = Vec::new();
    for controller in controllers {
        let dir = Path::new(crate::real_cgroups::ROOT)
            .join(controller)
            .join(path.trim_start_matches('/'));
        std::fs::create_dir(&dir).unwrap_or_else(|err| panic!("mkdir {}: {err}", dir.display()));
        cgroups.dirs.push(dir.clone());
        procs.push(dir.join("cgroup.procs"));
    }
    procs
}

/// Scrapes until `done` holds, or fails with `what` after a generous deadline.
async fn until(
    exporter: &octo_testbed::ExporterProcess,
    what: &str,
    done: impl Fn(&octo_testbed::metrics::Exposition) -> bool,
) -> octo_testbed::metrics::Exposition {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, m) = scrape(exporter).await;
        if done(&m) {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not seen within 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// On this machine's cgroups (v1 controllers, hybrid): a Docker-named container in a network
/// namespace of its own holding TCP and UDP sockets and 50 MiB, a busy loop, a cpuset cgroup;
/// every opt-in kind on, every family held to cAdvisor's golden file.
#[tokio::test]
async fn opt_in_kinds_on_this_machine() {
    use crate::real_cgroups::{Cgroups, ROOT, run_in};
    assert!(
        octo_testbed::running_as_root(),
        "this test creates cgroups and network namespaces and must run as root"
    );
    let python = octo_testbed::require_program("python3", "python3").unwrap();
    let unshare = octo_testbed::require_program("unshare", "util-linux").unwrap();
    let ip = octo_testbed::require_program("ip", "iproute2").unwrap();
    let v1 = ["cpu", "cpuacct", "memory"];
    for controller in v1.iter().chain(&["cpuset"]) {
        assert!(
            Path::new(ROOT)
                .join(controller)
                .join("cgroup.procs")
                .is_file(),
            "this test needs the v1 {controller} hierarchy under {ROOT}"
        );
    }
    let work = tempfile::tempdir().unwrap();
    let exporter = start(vec![
        format!("--path.cgroupfs={ROOT}"),
        format!("-docker=unix://{}/no-docker.sock", work.path().display()),
        "-podman=".into(),
        "-enable_metrics=cpu,percpu,memory,diskIO,network,pressure,oom_event,process,hugetlb,cpuset,memory_numa,tcp,udp,advtcp,sched,referenced_memory,cpu_topology".into(),
    ])
    .await;
    let mut cgroups = Cgroups {
        dirs: Vec::new(),
        services: Vec::new(),
        _logs: tempfile::tempdir().unwrap(),
    };
    // Docker's systemd-driver name: a runtime container, whose network namespace is reported.
    let net = format!("/docker-{}.scope", container_id("net"));
    let busy = format!("/docker-{}.scope", container_id("busy"));
    let procs = create_real(&mut cgroups, &net, &v1);
    let cpuset = create_real(&mut cgroups, &net, &["cpuset"]);
    let migrate = cpuset[0].with_file_name("cpuset.memory_migrate");
    std::fs::write(&migrate, "1").unwrap();
    let script = "import socket, time\n\
                  listeners = [socket.socket() for _ in range(3)]\n\
                  for s in listeners: s.bind(('127.0.0.1', 0)); s.listen()\n\
                  clients = [socket.create_connection(listeners[0].getsockname()) for _ in range(2)]\n\
                  accepted = [listeners[0].accept()[0] for _ in range(2)]\n\
                  udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  udp.bind(('127.0.0.1', 0))\n\
                  memory = bytearray(b'x') * (50 * 1024 * 1024)\n\
                  print('ready', flush=True)\n\
                  time.sleep(600)\n";
    std::fs::write(work.path().join("net.py"), script).unwrap();
    run_in(
        &mut cgroups,
        "net",
        &procs,
        &format!(
            "exec {} -n sh -c '{} link set lo up && exec {} {}'",
            unshare.display(),
            ip.display(),
            python.display(),
            work.path().join("net.py").display()
        ),
    );
    let procs = create_real(&mut cgroups, &busy, &v1);
    run_in(&mut cgroups, "busy", &procs, "while :; do :; done");

    let of =
        |m: &octo_testbed::metrics::Exposition, name: &str, path: &str, extra: &[(&str, &str)]| {
            let mut labels: Vec<(&str, &str)> = vec![("id", path)];
            labels.extend_from_slice(extra);
            value(m, name, &labels)
        };
    let m = until(&exporter, "the container's sockets and memory", |m| {
        of(
            m,
            "container_network_tcp_usage_total",
            &net,
            &[("tcp_state", "established")],
        ) == Some(4.0)
            && of(m, "container_referenced_bytes", &net, &[]).unwrap_or(0.0) >= 45.0 * 1048576.0
    })
    .await;
    golden::check(&m, "this machine's cgroups, every produced kind on");
    assert_eq!(
        of(
            &m,
            "container_network_tcp_usage_total",
            &net,
            &[("tcp_state", "listen")]
        ),
        Some(3.0)
    );
    assert_eq!(
        of(
            &m,
            "container_network_udp_usage_total",
            &net,
            &[("udp_state", "listen")]
        ),
        Some(1.0)
    );
    assert_eq!(
        of(
            &m,
            "container_network_advance_tcp_stats_total",
            &net,
            &[("tcp_state", "activeopens")]
        ),
        Some(2.0)
    );
    assert_eq!(
        of(
            &m,
            "container_network_advance_tcp_stats_total",
            &net,
            &[("tcp_state", "currestab")]
        ),
        Some(4.0)
    );
    // The host's namespace is reported on `/`, apart.
    assert!(
        of(
            &m,
            "container_network_tcp_usage_total",
            "/",
            &[("tcp_state", "listen")]
        )
        .is_some()
    );
    assert_eq!(of(&m, "container_memory_migrate", &net, &[]), Some(1.0));
    let anon = of(
        &m,
        "container_memory_numa_pages",
        &net,
        &[("type", "anon"), ("scope", "container"), ("node", "0")],
    )
    .unwrap();
    assert!(anon >= 45.0 * 256.0, "{anon} anon pages on node 0");
    assert!(m.family("machine_cpu_cache_capacity_bytes").is_some());
    assert!(m.family("machine_thread_siblings_count").is_some());
    assert!(m.family("machine_node_memory_capacity_bytes").is_some());

    // The busy loop's run time rises.
    let run = |m: &octo_testbed::metrics::Exposition| {
        of(m, "container_cpu_schedstat_run_seconds_total", &busy, &[]).unwrap_or(0.0)
    };
    let first = run(&until(&exporter, "schedstat of the busy loop", |m| run(m) > 0.0).await);
    let later = until(&exporter, "schedstat run time rising", |m| {
        run(m) > first + 0.3
    })
    .await;
    assert!(
        of(
            &later,
            "container_cpu_schedstat_run_periods_total",
            &busy,
            &[]
        )
        .unwrap()
            >= 1.0
    );
    cgroups.remove_all();
}
