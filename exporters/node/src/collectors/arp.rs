//! `arp`: `node_arp_entries{device}`, the number of neighbour (ARP) entries per interface.
//!
//! Two sources, as upstream:
//! - `--collector.arp.netlink` (the default): an `RTM_GETNEIGH` dump of the IPv4 neighbours
//!   without `NUD_NOARP` (the set the kernel prints in `/proc/net/arp`), named through an
//!   `RTM_GETLINK` dump; like upstream it asks the exporter's own network namespace and
//!   ignores `--path.procfs`;
//! - `--no-collector.arp.netlink`: `<procfs>/net/arp`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::device_filter::DeviceFilter;
use crate::read::read_string;
use crate::{netlink, rtnl};

pub fn declare(set: &mut FlagSet) -> Builder {
    let include = set.optional(
        "collector.arp.device-include",
        "Regexp of arp devices to include (mutually exclusive to device-exclude).",
    );
    let exclude = set.optional(
        "collector.arp.device-exclude",
        "Regexp of arp devices to exclude (mutually exclusive to device-include).",
    );
    let netlink = set.bool(
        "collector.arp.netlink",
        true,
        "Use netlink to gather stats instead of /proc/net/arp.",
    );
    Box::new(move |context| {
        Ok(Box::new(Arp {
            path: context.paths.proc("net/arp"),
            filter: DeviceFilter::from_flags(context.flags, exclude, include)?,
            netlink: context.flags.get(netlink),
        }))
    })
}

struct Arp {
    path: PathBuf,
    filter: DeviceFilter,
    netlink: bool,
}

/// Neighbour entries per interface name; an index without a link (removed between the two
/// dumps) is left out.
fn count_by_index(indexes: &[u32], links: &[netlink::Link]) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for index in indexes {
        if let Some(link) = links.iter().find(|link| link.index == *index) {
            *counts.entry(link.name.clone()).or_insert(0) += 1;
        }
    }
    counts
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
        let failed = |err: &dyn std::fmt::Display| {
            CollectorError::Other(format!("could not get ARP entries: {err}"))
        };
        let mut family = MetricFamily::gauge("node_arp_entries", "ARP entries by device");
        if self.netlink {
            let indexes = rtnl::dump_ipv4_neighbour_indexes().map_err(|err| failed(&err))?;
            let links = if indexes.is_empty() {
                Vec::new()
            } else {
                netlink::dump_links().map_err(|err| failed(&err))?
            };
            for (device, count) in count_by_index(&indexes, &links) {
                if !self.filter.ignored(&device) {
                    family.push(&[("device", &device)], f64::from(count));
                }
            }
        } else {
            let text = read_string(&self.path).map_err(|err| failed(&err))?;
            for (device, count) in count_by_device(&text) {
                if !self.filter.ignored(device) {
                    family.push(&[("device", device)], f64::from(count));
                }
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

    #[test]
    fn counts_neighbours_per_link_name() {
        let link = |index, name: &str| netlink::Link {
            index,
            name: name.into(),
            stats: None,
        };
        let links = [link(1, "lo"), link(2, "eth0")];
        let counts = count_by_index(&[2, 2, 9], &links);
        assert_eq!(counts.get("eth0"), Some(&2));
        assert_eq!(counts.len(), 1, "an index without a link is left out");
    }

    #[test]
    fn live_netlink_and_proc_agree() {
        let build = |netlink| Arp {
            path: PathBuf::from("/proc/net/arp"),
            filter: DeviceFilter::new(None, None).unwrap(),
            netlink,
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        build(true).update(&mut a).unwrap();
        build(false).update(&mut b).unwrap();
        // The tables may change between the two reads; the devices seen rarely do.
        let devices = |families: &[MetricFamily]| families[0].samples.len();
        assert!(devices(&a).abs_diff(devices(&b)) <= 1);
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,100}\n){0,5}") {
            let _ = count_by_device(&text);
        }
    }
}
