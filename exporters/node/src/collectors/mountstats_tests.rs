use super::*;
use crate::mountstats_parse::Transport;

const MOUNTSTATS: &str = "\
device rootfs mounted on / with fstype rootfs
device 192.168.1.1:/srv/test mounted on /mnt/nfs/test with fstype nfs4 statvers=1.1
\topts:\trw,vers=4.0
\tage:\t13968
\tevents:\t52 226 0 0 1 13 398 0 0 331 0 47 0 0 77 0 0 77 0 0 0 0 0 0 0 0 0
\tbytes:\t1207640230 0 0 0 1210214218 0 295483 0
\tRPC iostats version: 1.0  p/v: 100003/4 (nfs)
\txprt:\ttcp 832 0 1 0 11 6428 6428 0 12154 0 24 26 5726
\tper-op statistics
\t        NULL: 0 0 0 0 0 0 0 0
\t        READ: 1298 1298 0 207680 1210292152 6 79386 79407
\t      ACCESS: 2927395007 2927394995 0 526931094212 362996810236 18446743919241604546 1667369447 1953587717

device 192.168.1.1:/srv/test mounted on /mnt/nfs/udp with fstype nfs statvers=1.1
\tage:\t10
\txprt:\tudp 832 0 6428 6428 0 12154 0 24 26 5726
\tper-op statistics
\t        NULL: 0 0 0 0 0 0 0 0
";

const MOUNTINFO: &str = "\
1 1 0:5 /  /root rw,nosuid shared:8 - rootfs rootfs rw
194 21 0:42 / /mnt/nfs/test rw shared:144 - nfs4 192.168.1.1:/srv/test rw,vers=4.0,addr=192.168.1.1,local_lock=none
1398 798 0:44 / /mnt/nfs/udp rw,relatime shared:1154 - nfs 192.168.1.1:/srv/test rw,vers=3,addr=10.0.0.1
";

fn value(families: &[MetricFamily], family: &str, label: (&str, &str)) -> f64 {
    let family = families.iter().find(|f| f.name == family).unwrap();
    family
        .samples
        .iter()
        .find(|s| s.label_pairs().any(|pair| pair == label))
        .unwrap()
        .value
}

#[test]
fn parses_the_kernel_format() {
    let mounts = parse_mountstats(MOUNTSTATS).unwrap();
    assert_eq!(mounts.len(), 3);
    assert!(mounts[0].nfs.is_none());
    let nfs = mounts[1].nfs.as_ref().unwrap();
    assert_eq!(nfs.age_seconds, 13968.0);
    assert_eq!(nfs.bytes[4], 1210214218);
    assert_eq!(nfs.events[1], 226);
    assert_eq!(nfs.operations.len(), 3);
    assert_eq!(nfs.operations[1].name, "READ");
    let udp = &mounts[2].nfs.as_ref().unwrap().transports[0];
    assert_eq!(
        udp,
        &Transport {
            protocol: "udp".into(),
            counters: [832, 0, 0, 0, 0, 6428, 6428, 0, 12154, 0, 24, 26, 5726],
        }
    );
    let addresses = mount_addresses(MOUNTINFO).unwrap();
    assert_eq!(
        addresses,
        [None, Some("192.168.1.1".into()), Some("10.0.0.1".into())]
    );
}

#[test]
fn reports_each_mount_with_its_transport_protocol() {
    let mounts = parse_mountstats(MOUNTSTATS).unwrap();
    let addresses = mount_addresses(MOUNTINFO).unwrap();
    let families = families(&mounts, &addresses);
    assert_eq!(
        value(
            &families,
            "node_mountstats_nfs_transport_idle_time_seconds",
            ("protocol", "tcp")
        ),
        11.0
    );
    assert_eq!(
        value(
            &families,
            "node_mountstats_nfs_age_seconds_total",
            ("mountaddr", "10.0.0.1")
        ),
        10.0
    );
    // Milliseconds modulo 2^53, as seconds.
    assert_eq!(
        value(
            &families,
            "node_mountstats_nfs_operations_queue_time_seconds_total",
            ("operation", "ACCESS")
        ),
        9007044786793.922
    );
}

#[test]
fn rejects_what_upstream_rejects() {
    for bad in [
        "device x mounted on /y with\n",
        "device x mounted on /y with fstype ext4 statvers=1.1\n",
        "device x mounted on /y with fstype nfs statvers=1.1\n\tbytes: 1 2 3\n",
        "device x mounted on /y with fstype nfs statvers=1.1\n\tevents: 1\n",
        "device x mounted on /y with fstype nfs statvers=1.1\n\txprt: tcp 1 2\n",
        "device x mounted on /y with fstype nfs statvers=2.0\n\txprt: tcp 1 2\n",
        "device x mounted on /y with fstype nfs statvers=1.1\n\txprt: sctp 1 2\n",
        "device x mounted on /y with fstype nfs statvers=1.1\n\tage: soon\n",
        "device x mounted on /y with fstype nfs statvers=1.1\n\tper-op statistics\n\tREAD: 1 2\n",
    ] {
        assert!(parse_mountstats(bad).is_err(), "{bad:?}");
    }
    assert!(mount_addresses("1 2 3\n").is_err());
}

#[test]
fn missing_files_fail_the_collector_alone() {
    let dir = tempfile::tempdir().unwrap();
    let collector = MountStats {
        mountstats: dir.path().join("mountstats"),
        mountinfo: dir.path().join("mountinfo"),
    };
    assert!(collector.update(&mut Vec::new()).is_err());
    std::fs::write(&collector.mountstats, MOUNTSTATS).unwrap();
    std::fs::write(&collector.mountinfo, MOUNTINFO).unwrap();
    let mut out = Vec::new();
    collector.update(&mut out).unwrap();
    assert!(!out.is_empty());
    std::fs::write(&collector.mountinfo, "garbage\n").unwrap();
    assert!(matches!(
        collector.update(&mut Vec::new()),
        Err(CollectorError::Parse { .. })
    ));
}

#[test]
fn resolves_self_once() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("42", dir.path().join("self")).unwrap();
    assert_eq!(
        own_process_dir(&dir.path().join("self")),
        dir.path().join("42")
    );
    let flat = tempfile::tempdir().unwrap();
    std::fs::write(flat.path().join("self"), "10").unwrap();
    assert_eq!(
        own_process_dir(&flat.path().join("self")),
        flat.path().join("10")
    );
    let none = tempfile::tempdir().unwrap();
    assert_eq!(
        own_process_dir(&none.path().join("self")),
        none.path().join("self")
    );
}

proptest::proptest! {
    #[test]
    fn garbage_never_panics(text in "((device|\tage:|\tbytes:|\tevents:|\txprt:|\tper-op|[a-z0-9 .:=/]){0,12}\n){0,8}") {
        if let Ok(mounts) = parse_mountstats(&text) {
            let _ = families(&mounts, &[]);
        }
        let _ = mount_addresses(&text);
    }

    #[test]
    fn truncation_never_panics(cut in 0usize..1200) {
        let text = &MOUNTSTATS[..cut.min(MOUNTSTATS.len())];
        if let Ok(mounts) = parse_mountstats(text) {
            let _ = families(&mounts, &[]);
        }
        let _ = mount_addresses(&MOUNTINFO[..cut.min(MOUNTINFO.len())]);
    }
}
