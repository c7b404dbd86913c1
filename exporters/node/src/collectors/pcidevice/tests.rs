use super::*;
use crate::collectors::testing::{build, lines, write};
use crate::paths::Paths;
use proptest::prelude::*;

#[test]
fn locations_and_links() {
    assert_eq!(
        parse_location("0000:01:00.0"),
        Some(Location(["0000", "01", "00", "0"].map(String::from)))
    );
    assert_eq!(
        parse_location("1:a:1f.7"),
        Some(Location(["0001", "0a", "1f", "7"].map(String::from)))
    );
    assert_eq!(parse_location("pci0000:00"), None);
    assert_eq!(parse_location("0000:01:00.0.1"), None);
    assert_eq!(parse_location("0000:01:00:0.1"), None);
    assert_eq!(parse_location("0000:0g:00.0"), None);
    assert_eq!(parse_link_speed("8.0 GT/s PCIe"), Some(8.0));
    assert_eq!(parse_link_speed("8.0 GT/s"), None);
    assert_eq!(parse_decimal::<i32>("-1"), Some(-1));
    assert_eq!(parse_unsigned::<u32>("-1"), None);
}

/// A device directory `devices/pci0000:00/<parent>/<name>` linked from `bus/pci/devices`.
fn device(sys: &Path, path: &str, files: &[(&str, &str)]) {
    let dir = sys.join("devices").join(path);
    for (file, text) in files {
        write(&dir.join(file), text);
    }
    let name = Path::new(path).file_name().unwrap();
    std::fs::create_dir_all(sys.join("bus/pci/devices")).unwrap();
    std::os::unix::fs::symlink(&dir, sys.join("bus/pci/devices").join(name)).unwrap();
}

const IDS: &[(&str, &str)] = &[
    ("class", "0x010802\n"),
    ("vendor", "0x8086\n"),
    ("device", "0x1521\n"),
    ("subsystem_vendor", "0x8086\n"),
    ("subsystem_device", "0x00a3\n"),
    ("revision", "0x01\n"),
];

#[test]
fn reads_devices_with_names_and_keeps_static_facts() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("sys");
    let paths = Paths {
        sysfs: sys.clone(),
        ..Paths::default()
    };
    let collector = build(declare, &paths, &[]).unwrap();
    assert!(matches!(
        collector.update(&mut Vec::new()),
        Err(CollectorError::NoData)
    ));
    let mut files = IDS.to_vec();
    files.extend([
        ("max_link_speed", "8.0 GT/s PCIe\n"),
        ("current_link_speed", "Unknown\n"),
        ("numa_node", "-1\n"),
        ("power_state", "D3hot\n"),
    ]);
    device(&sys, "pci0000:00/0000:00:02.1/0000:01:00.0", &files);
    let ids = dir.path().join("pci.ids");
    write(&ids, "8086  Intel Corporation\n\t1521  I350\n");
    let ids_flag = format!("--collector.pcidevice.idsfile={}", ids.display());
    let collector = build(declare, &paths, &["--collector.pcidevice.names", &ids_flag]).unwrap();
    let mut out = Vec::new();
    collector.update(&mut out).unwrap();
    let lines = lines(&out, "/nowhere");
    let info = lines
        .iter()
        .find(|l| l.starts_with("node_pcidevice_info "))
        .unwrap();
    assert!(info.contains("device_name=I350"), "{info}");
    assert!(
        info.contains("parent_bus=00,parent_device=02,parent_function=1"),
        "{info}"
    );
    assert!(info.contains("class_name=Unknown class (010802)"), "{info}");
    assert!(lines.contains(
        &"node_pcidevice_max_link_transfers_per_second bus=01,device=00,function=0,segment=0000 8000000000"
            .to_owned()
    ));
    assert!(lines.contains(
        &"node_pcidevice_current_link_transfers_per_second bus=01,device=00,function=0,segment=0000 -1"
            .to_owned()
    ));
    assert!(lines.iter().any(|l| l.contains("state=D3hot 1")));
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("node_pcidevice_numa_node"))
    );
    // Static facts are kept: a changed vendor file is not read again while the device stays.
    let device_dir = sys.join("devices/pci0000:00/0000:00:02.1/0000:01:00.0");
    write(&device_dir.join("vendor"), "garbage\n");
    collector.update(&mut Vec::new()).unwrap();
    // A garbage current value fails the collector alone.
    write(&device_dir.join("current_link_width"), "wide\n");
    assert!(collector.update(&mut Vec::new()).is_err());
}

#[test]
fn new_device_with_garbage_fails() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("sys");
    let mut files = IDS.to_vec();
    files[1] = ("vendor", "0xzz\n");
    device(&sys, "pci0000:00/0000:00:02.1", &files);
    let paths = Paths {
        sysfs: sys,
        ..Paths::default()
    };
    let collector = build(declare, &paths, &[]).unwrap();
    assert!(collector.update(&mut Vec::new()).is_err());
}

proptest! {
    #[test]
    fn garbage_never_panics(text in "\\PC{0,40}") {
        let _ = parse_location(&text);
        let _ = parse_link_speed(&text);
        let _ = parse_decimal::<i64>(&text);
        let _ = parse_unsigned::<u64>(&text);
    }
}
