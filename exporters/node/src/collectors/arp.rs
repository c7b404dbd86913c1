//! `arp`: `node_arp_entries{device}`, the number of neighbour (ARP) entries per interface.
//!
//! Read from `<procfs>/net/arp` whether or not `--collector.arp.netlink` is set. Upstream's
//! netlink mode lists the IPv4 neighbours without `NUD_NOARP`, which is exactly the set the kernel
//! prints in `/proc/net/arp` (it skips NOARP entries there too), so both modes give the same series;
//! the flag is accepted so upstream command lines work.

use std::collections::BTreeMap;
use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::device_filter::DeviceFilter;
use crate::read::read_string;

pub fn declare(set: &mut FlagSet) -> Builder {
    let include = set.optional(
        "collector.arp.device-include",
        "Regexp of arp devices to include (mutually exclusive to device-exclude).",
    );
    let exclude = set.optional(
        "collector.arp.device-exclude",
        "Regexp of arp devices to exclude (mutually exclusive to device-include).",
    );
    // Both modes read /proc/net/arp (see above); declared so upstream command lines parse.
    set.bool(
        "collector.arp.netlink",
        true,
        "Use netlink to gather stats instead of /proc/net/arp.",
    );
    Box::new(move |context| {
        Ok(Box::new(Arp {
            path: context.paths.proc("net/arp"),
            filter: DeviceFilter::from_flags(context.flags, exclude, include)?,
        }))
    })
}

struct Arp {
    path: PathBuf,
    filter: DeviceFilter,
}

/// Entries per device in `/proc/net/arp`: a header line, then
/// `IP address  HW type  Flags  HW address  Mask  Device`. Hand-written (procfs-core's
/// `ArpEntries` rejects the whole file on one odd line and we only need the device column).
/// Lines without six columns are skipped.
fn count_by_device(text: &str) -> BTreeMap<&str, u32> {
    let mut counts = BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut fields = line.split_ascii_whitespace();
        let device = fields.nth(5);
        match (device, fields.next()) {
            (Some(device), None) => *counts.entry(device).or_insert(0) += 1,
            _ if line.trim().is_empty() => {}
            _ => tracing::debug!(line, "skipping malformed /proc/net/arp line"),
        }
    }
    counts
}

impl Collector for Arp {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)
            .map_err(|err| CollectorError::Other(format!("could not get ARP entries: {err}")))?;
        let mut family = MetricFamily::gauge("node_arp_entries", "ARP entries by device");
        for (device, count) in count_by_device(&text) {
            if !self.filter.ignored(device) {
                family.push(&[("device", device)], f64::from(count));
            }
        }
        out.push(family);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARP: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1    0x1         0x2         cc:aa:dd:ee:aa:bb     *        eth0
192.168.1.2    0x1         0x0         00:00:00:00:00:00     *        eth0
10.0.0.1       0x1         0x2         de:ad:be:ef:00:00     *        eth1
garbage
";

    #[test]
    fn counts_entries_per_device() {
        let counts = count_by_device(ARP);
        assert_eq!(counts.get("eth0"), Some(&2));
        assert_eq!(counts.get("eth1"), Some(&1));
        assert_eq!(counts.len(), 2);
        assert!(count_by_device("").is_empty());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,100}\n){0,5}") {
            let _ = count_by_device(&text);
        }
    }
}
