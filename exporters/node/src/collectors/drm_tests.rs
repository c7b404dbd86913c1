use std::os::unix::fs::symlink;

use super::*;
use crate::collectors::testing::{lines, run_on_sysfs, write};

const AMD_GPU: &str = "devices/pci0000:00/0000:00:03.1/0000:0e:00.0";
const INTEL_GPU: &str = "devices/pci0000:00/0000:00:02.0";

/// A sysfs tree in the kernel's layout: the PCI function holds the driver's attributes and a
/// `drm/cardN` directory whose `device` links back to it; `class/drm` links to the `drm/*`
/// nodes, connectors (`card0-DP-1`) and render nodes included.
fn sysfs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path();
    let amd = sys.join(AMD_GPU);
    write(
        &amd.join("uevent"),
        "DRIVER=amdgpu\nPCI_CLASS=30000\nPCI_ID=1002:687F\nPCI_SUBSYS_ID=1043:04C4\n\
         PCI_SLOT_NAME=0000:0e:00.0\nMODALIAS=pci:v00001002d0000687Fsv00001043sd000004C4bc03sc00i00\n",
    );
    for (name, value) in [
        ("gpu_busy_percent", "4"),
        ("mem_info_gtt_total", "8573157376"),
        ("mem_info_gtt_used", "144560128"),
        ("mem_info_vis_vram_total", "8573157376"),
        ("mem_info_vis_vram_used", "1490378752"),
        ("mem_info_vram_total", "8573157376"),
        ("mem_info_vram_used", "1490378752"),
        ("mem_info_vram_vendor", "samsung"),
        ("power_dpm_force_performance_level", "manual"),
        ("unique_id", "0123456789abcdef"),
    ] {
        write(&amd.join(name), &format!("{value}\n"));
    }
    let intel = sys.join(INTEL_GPU);
    write(
        &intel.join("uevent"),
        "DRIVER=i915\nPCI_CLASS=30000\nPCI_ID=8086:5917\n",
    );
    write(&intel.join("gpu_busy_percent"), "99\n");
    for (device, card) in [(AMD_GPU, "card0"), (INTEL_GPU, "card1")] {
        let node = sys.join(device).join("drm").join(card);
        std::fs::create_dir_all(&node).unwrap();
        let function = device.rsplit('/').next().unwrap();
        symlink(format!("../../../{function}"), node.join("device")).unwrap();
        write(&node.join("dev"), "226:0\n");
    }
    std::fs::create_dir_all(sys.join(AMD_GPU).join("drm/card0-DP-1")).unwrap();
    std::fs::create_dir_all(sys.join(AMD_GPU).join("drm/renderD128")).unwrap();
    std::fs::create_dir_all(sys.join("class/drm")).unwrap();
    for (device, node) in [
        (AMD_GPU, "card0"),
        (AMD_GPU, "card0-DP-1"),
        (AMD_GPU, "renderD128"),
        (INTEL_GPU, "card1"),
    ] {
        symlink(
            format!("../../{device}/drm/{node}"),
            sys.join("class/drm").join(node),
        )
        .unwrap();
    }
    write(&sys.join("class/drm/version"), "drm 1.1.0 20060810\n");
    dir
}

fn run(sys: &Path) -> (Result<(), CollectorError>, Vec<String>) {
    run_on_sysfs(declare, sys, &[])
}

const CARD0: [&str; 8] = [
    "node_drm_card_info card=card0,memory_vendor=samsung,power_performance_level=manual,unique_id=0123456789abcdef,vendor=amd 1",
    "node_drm_gpu_busy_percent card=card0 4",
    "node_drm_memory_gtt_size_bytes card=card0 8573157376",
    "node_drm_memory_gtt_used_bytes card=card0 144560128",
    "node_drm_memory_vis_vram_size_bytes card=card0 8573157376",
    "node_drm_memory_vis_vram_used_bytes card=card0 1490378752",
    "node_drm_memory_vram_size_bytes card=card0 8573157376",
    "node_drm_memory_vram_used_bytes card=card0 1490378752",
];

#[test]
fn amdgpu_cards_only() {
    let dir = sysfs();
    let (result, lines) = run(dir.path());
    result.unwrap();
    assert_eq!(lines, CARD0);
}

#[test]
fn missing_attributes_read_as_zero() {
    let dir = sysfs();
    let amd = dir.path().join(AMD_GPU);
    for name in [
        "gpu_busy_percent",
        "mem_info_vis_vram_total",
        "mem_info_vis_vram_used",
        "mem_info_vram_vendor",
        "power_dpm_force_performance_level",
        "unique_id",
    ] {
        std::fs::remove_file(amd.join(name)).unwrap();
    }
    let (result, lines) = run(dir.path());
    result.unwrap();
    assert!(lines.contains(
        &"node_drm_card_info card=card0,memory_vendor=,power_performance_level=,unique_id=,vendor=amd 1"
            .to_owned()
    ));
    assert!(lines.contains(&"node_drm_gpu_busy_percent card=card0 0".to_owned()));
    assert!(lines.contains(&"node_drm_memory_vis_vram_size_bytes card=card0 0".to_owned()));
    assert!(lines.contains(&"node_drm_memory_vram_size_bytes card=card0 8573157376".to_owned()));
}

#[test]
fn no_drm_class_is_no_card() {
    let dir = tempfile::tempdir().unwrap();
    let (result, lines) = run(dir.path());
    result.unwrap();
    assert!(lines.is_empty());
}

#[test]
fn a_garbage_number_or_a_broken_card_fails_the_collector() {
    let dir = sysfs();
    let amd = dir.path().join(AMD_GPU);
    write(&amd.join("gpu_busy_percent"), "busy\n");
    assert!(matches!(
        run(dir.path()).0,
        Err(CollectorError::Parse { .. })
    ));
    write(&amd.join("gpu_busy_percent"), "0x10\n");
    let (result, lines) = run(dir.path());
    result.unwrap();
    assert!(lines.contains(&"node_drm_gpu_busy_percent card=card0 16".to_owned()));

    // An empty attribute does not parse either (upstream crashes on it).
    write(&amd.join("mem_info_vram_total"), "");
    assert!(matches!(
        run(dir.path()).0,
        Err(CollectorError::Parse { .. })
    ));
    write(&amd.join("mem_info_vram_total"), "8573157376\n");

    std::fs::remove_file(amd.join("uevent")).unwrap();
    assert!(matches!(run(dir.path()).0, Err(CollectorError::Io { .. })));
}

#[test]
fn fixed_attributes_are_read_once_per_card_node() {
    let dir = sysfs();
    let sys = dir.path();
    let paths = crate::paths::Paths {
        sysfs: sys.to_owned(),
        ..Default::default()
    };
    let collector = crate::collectors::testing::build(declare, &paths, &[]).unwrap();
    let scrape = || {
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        lines(&out, "/nonexistent")
    };
    assert_eq!(scrape(), CARD0);

    let amd = sys.join(AMD_GPU);
    write(&amd.join("mem_info_vram_total"), "1\n");
    write(&amd.join("mem_info_vram_used"), "2\n");
    write(&amd.join("uevent"), "DRIVER=radeon\n");
    let after = scrape();
    assert!(after.contains(&"node_drm_memory_vram_size_bytes card=card0 8573157376".to_owned()));
    assert!(after.contains(&"node_drm_memory_vram_used_bytes card=card0 2".to_owned()));

    // A rebind replaces the card's class entry: a new node, read afresh.
    let class = sys.join("class/drm");
    symlink(
        format!("../../{AMD_GPU}/drm/card0"),
        class.join("card0.new"),
    )
    .unwrap();
    std::fs::rename(class.join("card0.new"), class.join("card0")).unwrap();
    assert!(scrape().is_empty(), "radeon is not amdgpu");
    write(&amd.join("uevent"), "DRIVER=amdgpu\n");
    assert!(scrape().is_empty(), "the card is known not to be amdgpu");
    symlink(
        format!("../../{AMD_GPU}/drm/card0"),
        class.join("card0.new"),
    )
    .unwrap();
    std::fs::rename(class.join("card0.new"), class.join("card0")).unwrap();
    assert!(scrape().contains(&"node_drm_memory_vram_size_bytes card=card0 1".to_owned()));
}

#[test]
fn only_card_and_one_digit_is_a_card() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "card0",
        "card7",
        "card10",
        "card0-DP-1",
        "cardX",
        "renderD128",
        "card",
    ] {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
    }
    let names: Vec<String> = cards(dir.path()).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["card0", "card7"]);
}

proptest::proptest! {
    #[test]
    fn garbage_attributes_never_panic(value in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let text = to_valid_utf8(go_trim_space(&value));
        let _ = parse_go_uint(&text);
        let _ = is_amdgpu(&text);
    }

    #[test]
    fn garbage_files_fail_the_collector_alone(
        which in 0usize..4,
        value in "[0-9a-fx_+\\- ]{0,12}",
    ) {
        let dir = sysfs();
        let name = ["gpu_busy_percent", "mem_info_gtt_total", "mem_info_vram_used", "uevent"][which];
        write(&dir.path().join(AMD_GPU).join(name), &value);
        let _ = run(dir.path());
    }

    #[test]
    fn truncated_uevent_never_panics(cut in 0usize..40) {
        let dir = sysfs();
        let uevent = "DRIVER=amdgpu\nPCI_CLASS=30000\nPCI_ID=1002:687F\n";
        write(&dir.path().join(AMD_GPU).join("uevent"), &uevent[..cut.min(uevent.len())]);
        let (result, lines) = run(dir.path());
        if cut >= "DRIVER=amdgpu".len() {
            result.unwrap();
            proptest::prop_assert_eq!(lines.len(), 8);
        } else {
            proptest::prop_assert!(lines.is_empty());
        }
    }
}
