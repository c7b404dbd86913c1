//! `swap`: one series per swap area in `<procfs>/swaps` (`node_swap_size_bytes`,
//! `node_swap_used_bytes`, `node_swap_priority`, labelled `device` and `swap_type`).
//!
//! Hand-written parser: procfs-core 0.18 has no reader for `/proc/swaps`. It follows upstream's
//! procfs library: the first line is the header and is skipped whatever it says, every other
//! line needs at least five whitespace-separated fields, and a line that does not parse fails
//! the whole collector (success 0), as upstream returns the error for the whole file. A missing
//! `/proc/swaps` is an error too, not "no data": upstream reports it as a failure.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Swap {
            swaps: context.paths.proc("swaps"),
        }))
    })
}

struct Swap {
    swaps: PathBuf,
}

/// One line of `/proc/swaps`. Sizes are in KiB, as the kernel prints them.
#[derive(Debug, PartialEq)]
struct SwapArea<'a> {
    filename: &'a str,
    kind: &'a str,
    size_kib: i64,
    used_kib: i64,
    priority: i64,
}

/// Parses `/proc/swaps`: header, then `Filename Type Size Used Priority` per area.
///
/// Numbers are signed as upstream's (`strconv.Atoi`): the kernel prints a negative priority for
/// areas activated without one.
fn parse_swaps(text: &str) -> Result<Vec<SwapArea<'_>>, String> {
    let mut areas = Vec::new();
    for line in text.lines().skip(1) {
        // Go's strings.Fields splits on Unicode white space, as split_whitespace does.
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [filename, kind, size, used, priority, ..] = fields[..] else {
            return Err(format!("too few fields in swap line {line:?}"));
        };
        let number = |what: &str, text: &str| {
            text.parse::<i64>()
                .map_err(|_| format!("invalid swap {what} {text:?} in {line:?}"))
        };
        areas.push(SwapArea {
            filename,
            kind,
            size_kib: number("size", size)?,
            used_kib: number("used", used)?,
            priority: number("priority", priority)?,
        });
    }
    Ok(areas)
}

/// KiB to bytes with Go's integer arithmetic (wrapping), then as a float.
fn kib_to_bytes(kib: i64) -> f64 {
    kib.wrapping_mul(1024) as f64
}

impl Collector for Swap {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.swaps)?;
        let areas =
            parse_swaps(&text).map_err(|reason| CollectorError::parse(&self.swaps, reason))?;
        let mut size = MetricFamily::gauge("node_swap_size_bytes", "Swap device size in bytes.");
        let mut used = MetricFamily::gauge("node_swap_used_bytes", "Swap device used in bytes.");
        let mut priority = MetricFamily::gauge("node_swap_priority", "Swap device priority.");
        for area in &areas {
            let labels = [("device", area.filename), ("swap_type", area.kind)];
            size.push(&labels, kib_to_bytes(area.size_kib));
            used.push(&labels, kib_to_bytes(area.used_kib));
            priority.push(&labels, area.priority as f64);
        }
        out.extend([size, used, priority]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, write};
    use crate::paths::Paths;

    /// The kernel's format (mm/swapfile.c, `swap_show`): a tab-padded header, then the path
    /// padded to 40 columns, the type, and tab-separated KiB counts and priority.
    const SWAPS: &str = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
        /dev/dm-2                               partition\t131068\t\t176\t\t-2\n\
        /swapfile                               file\t\t1048572\t\t0\t\t-3\n\
        /dev/zram0                              partition\t8388604\t\t1024\t\t100\n";

    fn collector(dir: &std::path::Path) -> Swap {
        Swap {
            swaps: dir.join("swaps"),
        }
    }

    #[test]
    fn reads_every_area_in_bytes() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("swaps"), SWAPS);
        let mut out = Vec::new();
        collector(dir.path()).update(&mut out).unwrap();
        assert_eq!(
            lines(&out, "/nonexistent"),
            [
                "node_swap_priority device=/dev/dm-2,swap_type=partition -2",
                "node_swap_priority device=/dev/zram0,swap_type=partition 100",
                "node_swap_priority device=/swapfile,swap_type=file -3",
                "node_swap_size_bytes device=/dev/dm-2,swap_type=partition 134213632",
                "node_swap_size_bytes device=/dev/zram0,swap_type=partition 8589930496",
                "node_swap_size_bytes device=/swapfile,swap_type=file 1073737728",
                "node_swap_used_bytes device=/dev/dm-2,swap_type=partition 180224",
                "node_swap_used_bytes device=/dev/zram0,swap_type=partition 1048576",
                "node_swap_used_bytes device=/swapfile,swap_type=file 0",
            ]
        );
        assert_eq!(out[0].name, "node_swap_size_bytes");
    }

    #[test]
    fn no_swap_is_no_series() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("swaps"),
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
        );
        let mut out = Vec::new();
        collector(dir.path()).update(&mut out).unwrap();
        assert!(lines(&out, "/nonexistent").is_empty());
    }

    #[test]
    fn a_bad_line_or_a_missing_file_fails_the_collector() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            collector(dir.path()).update(&mut Vec::new()),
            Err(CollectorError::Io { .. })
        ));
        for bad in [
            "/dev/sda2 partition 100 0\n",
            "/dev/sda2 partition lots 0 -2\n",
            "/dev/sda2 partition 100 0 high\n",
            "\n",
        ] {
            write(&dir.path().join("swaps"), &format!("header\n{bad}"));
            assert!(
                matches!(
                    collector(dir.path()).update(&mut Vec::new()),
                    Err(CollectorError::Parse { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn extra_fields_are_ignored_and_the_header_is_not_checked() {
        let areas = parse_swaps("anything\n/dev/sdb1 partition 10 5 -1 extra\n").unwrap();
        assert_eq!(
            areas,
            [SwapArea {
                filename: "/dev/sdb1",
                kind: "partition",
                size_kib: 10,
                used_kib: 5,
                priority: -1,
            }]
        );
        assert!(parse_swaps("").unwrap().is_empty());
    }

    /// This host's own `/proc/swaps`: whatever areas it has, one series of each family per area,
    /// and used never above size.
    #[test]
    fn live_host() {
        let paths = Paths::default();
        let text = std::fs::read_to_string(paths.proc("swaps")).unwrap();
        let areas = parse_swaps(&text).unwrap();
        let collector = Swap {
            swaps: paths.proc("swaps"),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        for family in &out {
            assert_eq!(family.samples.len(), areas.len(), "{}", family.name);
        }
        for (size, used) in out[0].samples.iter().zip(&out[1].samples) {
            assert!(used.value <= size.value);
        }
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,60}\n){0,6}") {
            let _ = parse_swaps(&text);
        }

        #[test]
        fn truncation_never_panics(cut in 0usize..SWAPS.len()) {
            let _ = parse_swaps(&SWAPS[..cut]);
        }
    }
}
