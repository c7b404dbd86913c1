//! How to run an Octo exporter and its upstream binary from Debian on an equal footing, shared
//! by the side-by-side tests and the benchmarks.

/// node_exporter: Debian's 1.5.0 against octo-node-exporter.
pub mod node {
    use std::path::Path;

    /// The collectors octo-node-exporter implements (`docs/node-exporter.md`) that 1.5.0
    /// also has (watchdog arrived in 1.8.0; its flag would make 1.5.0 refuse to start).
    pub const COLLECTORS_SHARED_WITH_1_5: &[&str] = &[
        "arp",
        "bonding",
        "conntrack",
        "cpu",
        "cpufreq",
        "diskstats",
        "dmi",
        "edac",
        "entropy",
        "filefd",
        "filesystem",
        "hwmon",
        "interrupts",
        "loadavg",
        "mdadm",
        "meminfo",
        "netclass",
        "netdev",
        "netstat",
        "nvme",
        "os",
        "powersupplyclass",
        "pressure",
        "processes",
        "rapl",
        "schedstat",
        "selinux",
        "sockstat",
        "softnet",
        "stat",
        "tcpstat",
        "textfile",
        "thermal_zone",
        "time",
        "timex",
        "udp_queues",
        "uname",
        "vmstat",
    ];

    /// node_exporter's own default for the mount points to skip (Debian's build also skips
    /// /run, /mnt and /media).
    pub const MOUNT_POINTS_EXCLUDE: &str =
        "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";

    /// Flags that give both binaries the same behaviour: upstream's defaults where Debian
    /// patched them (systemd off, no netdev exclusion, upstream's mount points, a given
    /// textfile directory), only `collectors` enabled.
    pub fn comparable_flags(textfiles: &Path, collectors: &[&str]) -> Vec<String> {
        let mut args = vec![
            "--collector.disable-defaults".to_owned(),
            "--no-collector.systemd".to_owned(),
            format!("--collector.textfile.directory={}", textfiles.display()),
            "--collector.netdev.device-exclude=^$".to_owned(),
            format!("--collector.filesystem.mount-points-exclude={MOUNT_POINTS_EXCLUDE}"),
        ];
        args.extend(collectors.iter().map(|c| format!("--collector.{c}")));
        args
    }
}
