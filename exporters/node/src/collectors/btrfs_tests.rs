use super::*;
use crate::collectors::testing::{lines, write};

#[test]
fn reads_a_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let fs = dir.path().join("fs/btrfs/abcd-ef");
    write(&fs.join("label"), "mine\n");
    write(&fs.join("features/raid56"), "0\n");
    write(&fs.join("devices/sda/size"), "20\n");
    write(&fs.join("devices/sdb/size"), "20\n");
    write(&fs.join("devices/sdc/size"), "20\n");
    write(&fs.join("allocation/global_rsv_size"), "7\n");
    write(&fs.join("allocation/data/bytes_reserved"), "3\n");
    write(&fs.join("allocation/metadata/bytes_reserved"), "0\n");
    write(&fs.join("allocation/system/bytes_reserved"), "0\n");
    write(&fs.join("allocation/data/raid5/used_bytes"), "10\n");
    write(&fs.join("allocation/data/raid5/total_bytes"), "garbage\n");
    write(
        &fs.join("commit_stats"),
        "commits 4\nmax_commit_ms 1500\nnew 1\n",
    );
    let collector = Btrfs {
        root: dir.path().join("fs/btrfs"),
        paths: Paths {
            procfs: dir.path().join("proc"),
            ..Paths::default()
        },
    };
    let mut out = Vec::new();
    collector.update(&mut out).unwrap();
    let lines = lines(&out, "/nonexistent-root");
    let want = [
        "node_btrfs_allocation_ratio block_group_type=data,mode=raid5,uuid=abcd-ef 1.5",
        "node_btrfs_commits_total uuid=abcd-ef 4",
        "node_btrfs_device_size_bytes device=sda,uuid=abcd-ef 10240",
        "node_btrfs_info label=mine,uuid=abcd-ef 1",
        "node_btrfs_max_commit_seconds uuid=abcd-ef 1.5",
        "node_btrfs_reserved_bytes block_group_type=metadata,uuid=abcd-ef 0",
        "node_btrfs_size_bytes block_group_type=data,mode=raid5,uuid=abcd-ef 0",
        "node_btrfs_used_bytes block_group_type=data,mode=raid5,uuid=abcd-ef 10",
    ];
    for line in want {
        assert!(lines.contains(&line.to_owned()), "{line} in {lines:#?}");
    }
    std::fs::remove_file(fs.join("features/raid56")).unwrap();
    std::fs::remove_dir(fs.join("features")).unwrap();
    assert!(collector.update(&mut Vec::new()).is_err());
}

#[test]
fn no_btrfs_is_no_filesystem() {
    let collector = Btrfs {
        root: PathBuf::from("/nonexistent/fs/btrfs"),
        paths: Paths::default(),
    };
    let mut out = Vec::new();
    collector.update(&mut out).unwrap();
    assert!(out.is_empty());
}

#[test]
fn commit_stats_follow_the_kernel_format() {
    let stats = parse_commit_stats(
        "commits 258051\nlast_commit_ms 1000\nmax_commit_ms 51462\ntotal_commit_ms 47836090\n",
    )
    .unwrap();
    assert_eq!(stats.commits, 258051);
    assert_eq!(stats.total_commit_ms, 47836090);
    assert!(parse_commit_stats("commits\n").is_err());
    assert!(parse_commit_stats("commits -1\n").is_err());
}

proptest::proptest! {
    #[test]
    fn garbage_never_panics(text in "(.{0,40}\n){0,6}") {
        let _ = parse_commit_stats(&text);
    }

    #[test]
    fn truncation_never_panics(cut in 0usize..80) {
        let text = "commits 258051\nlast_commit_ms 1000\nmax_commit_ms 51462\n";
        let cut = cut.min(text.len());
        let _ = parse_commit_stats(&text[..cut]);
    }
}

const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
35 22 0:40 / /srv/my\\040data rw,relatime shared:20 - btrfs /dev/sdb rw,space_cache=v2,subvolid=5,subvol=/
36 22 0:40 /home /home rw,relatime shared:21 - btrfs /dev/sdb rw,subvolid=256,subvol=/home
37 22 0:41 / /mnt/raid rw,relatime - btrfs /dev/sdc rw
";

#[test]
fn finds_btrfs_mounts_in_mountinfo() {
    let mounts = btrfs_mounts(MOUNTINFO).unwrap();
    let device_and_point: Vec<(&str, &str)> = mounts
        .iter()
        .map(|m| (m.device.as_str(), m.mount_point.as_str()))
        .collect();
    assert_eq!(
        device_and_point,
        [
            ("/dev/sdb", "/srv/my data"),
            ("/dev/sdb", "/home"),
            ("/dev/sdc", "/mnt/raid")
        ]
    );
    assert!(btrfs_mounts("").unwrap().is_empty());
    assert!(btrfs_mounts("22 1 8:1 / / rw - ext4\n").is_err());
    assert!(btrfs_mounts("22 1 x:1 / / rw shared:1 - btrfs /dev/sdb rw\n").is_err());
}

/// A filesystem the ioctls describe gets the kernel's devices, the others keep sysfs's.
#[test]
fn ioctl_devices_replace_the_sysfs_ones_by_fsid() {
    let stats = |uuid: &str| Stats {
        uuid: uuid.to_owned(),
        label: String::new(),
        global_rsv_size: 0,
        allocations: Vec::new(),
        devices: vec![("sdb".to_owned(), 1024)],
        commit: CommitStats::default(),
    };
    let device = IoctlDevice {
        name: "sdb".to_owned(),
        uuid: "7dc7d220-327c-48ab-900b-10b18b925f0b".to_owned(),
        total_bytes: 1000,
        used_bytes: 400,
        errors: [1, 2, 3, 4, 5],
    };
    let mut families = Families::new();
    families.add(&stats("de10c61a-dc90"), Some(std::slice::from_ref(&device)));
    families.add(&stats("0000-1111"), None);
    let lines = lines(&families.into_vec(), "/nonexistent");
    let device_lines: Vec<&String> = lines
        .iter()
        .filter(|line| line.starts_with("node_btrfs_device"))
        .collect();
    let dev = "btrfs_dev_uuid=7dc7d220-327c-48ab-900b-10b18b925f0b,device=sdb";
    assert_eq!(
        device_lines,
        [
            &format!("node_btrfs_device_errors_total {dev},type=corruption,uuid=de10c61a-dc90 4"),
            &format!("node_btrfs_device_errors_total {dev},type=flush,uuid=de10c61a-dc90 3"),
            &format!("node_btrfs_device_errors_total {dev},type=generation,uuid=de10c61a-dc90 5"),
            &format!("node_btrfs_device_errors_total {dev},type=read,uuid=de10c61a-dc90 2"),
            &format!("node_btrfs_device_errors_total {dev},type=write,uuid=de10c61a-dc90 1"),
            &format!("node_btrfs_device_size_bytes {dev},uuid=de10c61a-dc90 1000"),
            &"node_btrfs_device_size_bytes device=sdb,uuid=0000-1111 1024".to_owned(),
            &format!("node_btrfs_device_unused_bytes {dev},uuid=de10c61a-dc90 600"),
        ]
    );
}

/// Without mountinfo (or with no btrfs mount in it) every filesystem keeps its sysfs devices and
/// the collector still succeeds.
#[test]
fn unreachable_ioctls_fall_back_to_sysfs() {
    let dir = tempfile::tempdir().unwrap();
    let fs = dir.path().join("sys/fs/btrfs/abcd-ef");
    write(&fs.join("features/raid56"), "0\n");
    write(&fs.join("devices/sda/size"), "20\n");
    for kind in ["data", "metadata", "system"] {
        write(
            &fs.join("allocation").join(kind).join("bytes_reserved"),
            "0\n",
        );
    }
    let collector = Btrfs {
        root: dir.path().join("sys/fs/btrfs"),
        paths: Paths {
            procfs: dir.path().join("proc"),
            rootfs: dir.path().join("root"),
            ..Paths::default()
        },
    };
    let device_lines = |collector: &Btrfs| {
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        lines(&out, "/nonexistent")
            .into_iter()
            .filter(|line| line.starts_with("node_btrfs_device"))
            .collect::<Vec<_>>()
    };
    let want = ["node_btrfs_device_size_bytes device=sda,uuid=abcd-ef 10240"];
    assert_eq!(device_lines(&collector), want);
    write(&dir.path().join("proc/self/mountinfo"), MOUNTINFO);
    assert_eq!(device_lines(&collector), want);
    write(&dir.path().join("proc/1/mountinfo"), "garbage\n");
    assert_eq!(device_lines(&collector), want);
}

proptest::proptest! {
    #[test]
    fn garbage_mountinfo_never_panics(text in "([0-9a-z:/ \\-]{0,60}\n){0,6}") {
        let _ = btrfs_mounts(&text);
    }

    #[test]
    fn truncated_mountinfo_never_panics(cut in 0usize..MOUNTINFO.len()) {
        let _ = btrfs_mounts(&MOUNTINFO[..cut]);
    }
}

/// Runs a command, `None` when it cannot be run or fails.
fn run_tool(program: &str, args: &[&str]) -> Option<String> {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A two-device btrfs (raid1 on loop devices) mounted in a temporary directory, taken down on
/// drop.
struct LoopBtrfs {
    dir: tempfile::TempDir,
    loops: Vec<String>,
    mounted: bool,
}

impl LoopBtrfs {
    /// `None` (the test then fails, saying why) when not root, without btrfs-progs or loop
    /// devices, or when the kernel refuses to mount btrfs.
    fn create() -> Option<LoopBtrfs> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("cannot run: not root");
            return None;
        }
        let mut fs = LoopBtrfs {
            dir: tempfile::tempdir().ok()?,
            loops: Vec::new(),
            mounted: false,
        };
        for image in ["a.img", "b.img"] {
            let image = fs.dir.path().join(image);
            std::fs::File::create(&image)
                .ok()?
                .set_len(200 << 20)
                .ok()?;
            let Some(device) = run_tool("losetup", &["-f", "--show", image.to_str()?]) else {
                eprintln!("cannot run: no loop device");
                return None;
            };
            fs.loops.push(device);
        }
        let mut mkfs = vec!["-q", "-L", "octo", "-d", "raid1", "-m", "raid1"];
        mkfs.extend(fs.loops.iter().map(String::as_str));
        if run_tool("mkfs.btrfs", &mkfs).is_none() {
            eprintln!("cannot run: mkfs.btrfs missing or failed (install btrfs-progs)");
            return None;
        }
        let mount_point = fs.dir.path().join("mnt");
        std::fs::create_dir(&mount_point).ok()?;
        if run_tool("mount", &[&fs.loops[0], mount_point.to_str()?]).is_none() {
            eprintln!("cannot run: the kernel refused to mount btrfs");
            return None;
        }
        fs.mounted = true;
        Some(fs)
    }

    fn uuid(&self) -> String {
        run_tool("blkid", &["-s", "UUID", "-o", "value", &self.loops[0]]).unwrap_or_default()
    }
}

impl Drop for LoopBtrfs {
    fn drop(&mut self) {
        if self.mounted {
            let _ = run_tool(
                "umount",
                &[self.dir.path().join("mnt").to_str().unwrap_or("")],
            );
        }
        for device in &self.loops {
            let _ = run_tool("losetup", &["-d", device]);
        }
    }
}

/// The ioctls on a real btrfs: both devices, with the kernel's sizes, device UUIDs and error
/// counters; with `--path.rootfs` pointing elsewhere the mount cannot be opened and the same
/// filesystem is reported from sysfs alone.
#[test]
fn live_btrfs_on_loop_devices() {
    let Some(fs) = LoopBtrfs::create() else {
        panic!(
            "the live btrfs test needs root, loop devices, btrfs-progs (`cargo xtask setup` \
             installs it) and a kernel that mounts btrfs: the line above says which is missing"
        );
    };
    let uuid = fs.uuid();
    assert!(!uuid.is_empty());
    let scrape = |paths: Paths| {
        let collector = Btrfs {
            root: paths.sys("fs/btrfs"),
            paths,
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        lines(&out, "/nonexistent")
            .into_iter()
            .filter(|line| line.starts_with("node_btrfs_device") && line.contains(&uuid))
            .collect::<Vec<_>>()
    };
    let live = scrape(Paths::default());
    let names: Vec<&str> = fs
        .loops
        .iter()
        .map(|d| d.trim_start_matches("/dev/"))
        .collect();
    for name in &names {
        let sub_uuid = run_tool(
            "blkid",
            &["-s", "UUID_SUB", "-o", "value", &format!("/dev/{name}")],
        )
        .unwrap_or_default();
        let dev = format!("btrfs_dev_uuid={sub_uuid},device={name}");
        assert!(
            live.contains(&format!(
                "node_btrfs_device_size_bytes {dev},uuid={uuid} 209715200"
            )),
            "{live:#?}"
        );
        for kind in ["corruption", "flush", "generation", "read", "write"] {
            assert!(
                live.contains(&format!(
                    "node_btrfs_device_errors_total {dev},type={kind},uuid={uuid} 0"
                )),
                "{live:#?}"
            );
        }
        let unused = live
            .iter()
            .find(|line| line.starts_with(&format!("node_btrfs_device_unused_bytes {dev}")))
            .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap();
        assert!(unused > 0.0 && unused < 209715200.0, "{unused}");
    }
    assert_eq!(live.len(), names.len() * 7);

    let elsewhere = tempfile::tempdir().unwrap();
    let sysfs_only = scrape(Paths {
        rootfs: elsewhere.path().to_owned(),
        ..Paths::default()
    });
    let mut want: Vec<String> = names
        .iter()
        .map(|name| format!("node_btrfs_device_size_bytes device={name},uuid={uuid} 209715200"))
        .collect();
    want.sort();
    assert_eq!(sysfs_only, want);
}
