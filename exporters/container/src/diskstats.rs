//! `/proc/diskstats` as cAdvisor reads it for its per-filesystem counters: only devices named
//! like SCSI, virtio and Xen disks and their partitions (`sd*`, `vd*`, `xvd*`) and
//! device-mapper nodes (`dm-N`), found by `/dev/<name>` or else by major:minor.

use procfs_core::DiskStat;

/// The counters of one device, in the kernel's units (times in milliseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskCounters {
    pub reads: u64,
    pub reads_merged: u64,
    pub sectors_read: u64,
    pub read_ms: u64,
    pub writes: u64,
    pub writes_merged: u64,
    pub sectors_written: u64,
    pub write_ms: u64,
    pub in_progress: u64,
    pub io_ms: u64,
    pub weighted_io_ms: u64,
}

/// One line of the file that cAdvisor keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskLine {
    pub device: String,
    pub major: u64,
    pub minor: u64,
    pub counters: DiskCounters,
}

/// cAdvisor's `^(?:(?:s|v|xv)d[a-z]+\d*|dm-\d+)$`.
fn is_reported(name: &str) -> bool {
    if let Some(number) = name.strip_prefix("dm-") {
        return !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    }
    let Some(rest) = ["sd", "vd", "xvd"]
        .iter()
        .find_map(|p| name.strip_prefix(p))
    else {
        return false;
    };
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    letters > 0 && rest.bytes().skip(letters).all(|b| b.is_ascii_digit())
}

/// The reported devices of a `/proc/diskstats` text; lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<DiskLine> {
    text.lines()
        .filter_map(|line| DiskStat::from_line(line).ok())
        .filter(|d| is_reported(&d.name))
        .filter_map(|d| {
            Some(DiskLine {
                device: format!("/dev/{}", d.name),
                major: u64::try_from(d.major).ok()?,
                minor: u64::try_from(d.minor).ok()?,
                counters: DiskCounters {
                    reads: d.reads,
                    reads_merged: d.merged,
                    sectors_read: d.sectors_read,
                    read_ms: d.time_reading,
                    writes: d.writes,
                    writes_merged: d.writes_merged,
                    sectors_written: d.sectors_written,
                    write_ms: d.time_writing,
                    in_progress: d.in_progress,
                    io_ms: d.time_in_progress,
                    weighted_io_ms: d.weighted_time_in_progress,
                },
            })
        })
        .collect()
}

/// The counters of a filesystem's device: by name, else by major:minor; zeros when neither
/// is found (cAdvisor reports zeros then).
pub fn lookup(lines: &[DiskLine], device: &str, major: u64, minor: u64) -> DiskCounters {
    lines
        .iter()
        .find(|l| l.device == device)
        .or_else(|| lines.iter().find(|l| l.major == major && l.minor == minor))
        .map(|l| l.counters)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TEXT: &str = "   7       0 loop0 2261 285 136224 763 828 16142 176592 591 0 528 1579 15 0 5750784 11 230 213
 254       0 vda 1222075 52608 47983482 861348 832671 779704 192079712 1068560 3 223364 2034707 727037 164 188060736 82106 242277 22691
 254       1 vda1 10 1 80 5 20 2 160 7 0 9 12
 259       0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11
 253       3 dm-3 1 2 3 4 5 6 7 8 9 10 11
   8      16 sdb 1 2 3
";

    #[test]
    fn keeps_cadvisor_devices_and_reads_eleven_counters() {
        let lines = parse(TEXT);
        let devices: Vec<&str> = lines.iter().map(|l| l.device.as_str()).collect();
        assert_eq!(devices, ["/dev/vda", "/dev/vda1", "/dev/dm-3"]);
        let vda = lines[0].counters;
        assert_eq!(vda.reads, 1_222_075);
        assert_eq!(vda.sectors_written, 192_079_712);
        assert_eq!(vda.in_progress, 3);
        assert_eq!(vda.weighted_io_ms, 2_034_707);
        assert_eq!(lookup(&lines, "/dev/vda1", 0, 0).writes, 20);
        assert_eq!(lookup(&lines, "/dev/root", 253, 3).reads, 1);
        assert_eq!(lookup(&lines, "tmpfs", 0, 40), DiskCounters::default());
        for (name, kept) in [
            ("sda", true),
            ("sda12", true),
            ("xvdb3", true),
            ("sd", false),
            ("sda1b", false),
            ("dm-", false),
            ("dm-x", false),
            ("loop0", false),
            ("nvme0n1p1", false),
        ] {
            assert_eq!(is_reported(name), kept, "{name}");
        }
    }

    proptest! {
        #[test]
        fn garbage_and_truncated_text_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            cut in 0usize..600,
        ) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
            let _ = parse(&TEXT[..cut.min(TEXT.len())]);
            let _ = is_reported(&String::from_utf8_lossy(&bytes));
        }
    }
}
