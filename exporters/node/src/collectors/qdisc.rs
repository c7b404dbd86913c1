//! `qdisc`: the root queueing disciplines of every interface, `node_qdisc_*{device,kind}`.
//!
//! Read with one netlink `RTM_GETQDISC` dump (and an `RTM_GETLINK` dump for the interface
//! names), or, with `--collector.qdisc.fixtures=<dir>`, from `<dir>/results.json` as upstream's
//! end-to-end test does: a JSON array of upstream's `QdiscInfo` objects, whose field names Go
//! matches case-insensitively.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use octo_exporter_kit::{Flag, FlagSet, Flags, MetricFamily, MetricType};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::device_filter::DeviceFilter;
use crate::netlink::{self, Qdisc};
use crate::read::read_string;

pub fn declare(set: &mut FlagSet) -> Builder {
    let fixtures = set.string(
        "collector.qdisc.fixtures",
        "",
        "test fixtures to use for qdisc collector end-to-end testing",
    );
    let include = set.optional(
        "collector.qdisc.device-include",
        "Regexp of qdisc devices to include (mutually exclusive to device-exclude).",
    );
    let old_include = set.optional(
        "collector.qdisk.device-include",
        "DEPRECATED: Use collector.qdisc.device-include",
    );
    set.customize(old_include, |arg| arg.hide(true));
    let exclude = set.optional(
        "collector.qdisc.device-exclude",
        "Regexp of qdisc devices to exclude (mutually exclusive to device-include).",
    );
    let old_exclude = set.optional(
        "collector.qdisk.device-exclude",
        "DEPRECATED: Use collector.qdisc.device-exclude",
    );
    set.customize(old_exclude, |arg| arg.hide(true));
    Box::new(move |context| {
        let flags = context.flags;
        let include = with_deprecated(flags, include, old_include)?;
        let exclude = with_deprecated(flags, exclude, old_exclude)?;
        let fixtures = flags.get(fixtures);
        Ok(Box::new(QdiscCollector {
            fixtures: (!fixtures.is_empty()).then(|| Path::new(fixtures).join("results.json")),
            filter: DeviceFilter::new(
                exclude.map(|pattern| ("collector.qdisc.device-exclude", pattern)),
                include.map(|pattern| ("collector.qdisc.device-include", pattern)),
            )?,
        }))
    })
}

/// The value of a flag or of its deprecated `qdisk` spelling (with a warning); both is an error.
fn with_deprecated(
    flags: &Flags,
    current: Flag<Option<String>>,
    old: Flag<Option<String>>,
) -> Result<Option<&str>, BuildError> {
    let current_value = flags.get(current).filter(|v| !v.is_empty());
    match flags.get(old).filter(|v| !v.is_empty()) {
        None => Ok(current_value),
        Some(_) if current_value.is_some() => Err(BuildError::Invalid(format!(
            "--{} and --{} are mutually exclusive",
            flags.name(old),
            flags.name(current)
        ))),
        Some(value) => {
            tracing::warn!(
                "--{} is DEPRECATED and will be removed in 2.0.0, use --{}",
                flags.name(old),
                flags.name(current)
            );
            Ok(Some(value))
        }
    }
}

struct QdiscCollector {
    fixtures: Option<PathBuf>,
    filter: DeviceFilter,
}

/// A qdisc with its interface's name.
struct Named {
    device: String,
    qdisc: Qdisc,
}

/// Upstream's `QdiscInfo` objects: absent fields are 0 or empty; a field of the wrong type
/// fails the whole file, as Go's `json.Unmarshal`.
fn parse_fixture(text: &str) -> Result<Vec<Named>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|err| err.to_string())?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Null => Vec::new(),
        _ => return Err("not a JSON array".into()),
    };
    items
        .into_iter()
        .map(|item| {
            let serde_json::Value::Object(object) = item else {
                return Err("array element is not an object".to_owned());
            };
            let field = |name: &str| {
                object
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .map(|(_, value)| value)
            };
            let number = |name: &str| -> Result<u64, String> {
                match field(name) {
                    None | Some(serde_json::Value::Null) => Ok(0),
                    Some(value) => value
                        .as_u64()
                        .ok_or(format!("{name}: {value} is not a u64")),
                }
            };
            let small = |name: &str| -> Result<u32, String> {
                u32::try_from(number(name)?).map_err(|_| format!("{name} overflows u32"))
            };
            let text = |name: &str| -> Result<String, String> {
                match field(name) {
                    None | Some(serde_json::Value::Null) => Ok(String::new()),
                    Some(serde_json::Value::String(s)) => Ok(s.clone()),
                    Some(value) => Err(format!("{name}: {value} is not a string")),
                }
            };
            Ok(Named {
                device: text("IfaceName")?,
                qdisc: Qdisc {
                    index: 0,
                    parent: small("Parent")?,
                    kind: text("Kind")?,
                    bytes: number("Bytes")?,
                    packets: small("Packets")?,
                    drops: small("Drops")?,
                    requeues: small("Requeues")?,
                    overlimits: small("Overlimits")?,
                    qlen: small("Qlen")?,
                    backlog: small("Backlog")?,
                },
            })
        })
        .collect()
}

impl QdiscCollector {
    fn qdiscs(&self) -> Result<Vec<Named>, CollectorError> {
        if let Some(path) = &self.fixtures {
            let text = read_string(path)?;
            return parse_fixture(&text).map_err(|reason| CollectorError::parse(path, reason));
        }
        let netlink = |err: netlink::NetlinkError| CollectorError::Other(err.to_string());
        let qdiscs = netlink::dump_qdiscs().map_err(netlink)?;
        let names: HashMap<u32, String> = netlink::dump_links()
            .map_err(netlink)?
            .into_iter()
            .map(|link| (link.index, link.name))
            .collect();
        Ok(qdiscs
            .into_iter()
            .map(|qdisc| Named {
                device: names.get(&qdisc.index).cloned().unwrap_or_default(),
                qdisc,
            })
            .collect())
    }
}

/// Name, help, type and value of each family.
type Field = (&'static str, &'static str, MetricType, fn(&Qdisc) -> f64);

static FIELDS: &[Field] = &[
    (
        "bytes_total",
        "Number of bytes sent.",
        MetricType::Counter,
        |q| q.bytes as f64,
    ),
    (
        "packets_total",
        "Number of packets sent.",
        MetricType::Counter,
        |q| f64::from(q.packets),
    ),
    (
        "drops_total",
        "Number of packets dropped.",
        MetricType::Counter,
        |q| f64::from(q.drops),
    ),
    (
        "requeues_total",
        "Number of packets dequeued, not transmitted, and requeued.",
        MetricType::Counter,
        |q| f64::from(q.requeues),
    ),
    (
        "overlimits_total",
        "Number of overlimit packets.",
        MetricType::Counter,
        |q| f64::from(q.overlimits),
    ),
    (
        "current_queue_length",
        "Number of packets currently in queue to be sent.",
        MetricType::Gauge,
        |q| f64::from(q.qlen),
    ),
    (
        "backlog",
        "Number of bytes currently in queue to be sent.",
        MetricType::Gauge,
        |q| f64::from(q.backlog),
    ),
];

impl Collector for QdiscCollector {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let qdiscs = self.qdiscs()?;
        let mut families: Vec<MetricFamily> = FIELDS
            .iter()
            .map(|(name, help, kind, _)| {
                MetricFamily::new(format!("node_qdisc_{name}"), *help, *kind)
            })
            .collect();
        // Only root qdiscs, as upstream.
        for named in qdiscs.iter().filter(|n| n.qdisc.parent == 0) {
            if self.filter.ignored(&named.device) {
                continue;
            }
            let labels = [
                ("device", named.device.as_str()),
                ("kind", named.qdisc.kind.as_str()),
            ];
            for (family, (_, _, _, value)) in families.iter_mut().zip(FIELDS) {
                family.push(&labels, value(&named.qdisc));
            }
        }
        out.extend(families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"[
        {"IfaceName": "wlan0", "Bytes": 42, "Packets": 42, "Requeues": 1, "Kind": "fq", "Drops": 1},
        {"ifacename": "eth0", "Bytes": 83, "Packets": 83, "Kind": "pfifo_fast"},
        {"IfaceName": "eth0", "Parent": 5, "Kind": "fq_codel"}
    ]"#;

    #[test]
    fn reads_upstream_fixtures_and_keeps_root_qdiscs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("results.json"), FIXTURE).unwrap();
        let collector = QdiscCollector {
            fixtures: Some(dir.path().join("results.json")),
            filter: DeviceFilter::new(None, None).unwrap(),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(out.len(), 7);
        assert_eq!(out[0].samples.len(), 2);
        assert_eq!(out[0].samples[1].value, 83.0);
        std::fs::write(dir.path().join("results.json"), r#"[{"Bytes": "many"}]"#).unwrap();
        assert!(collector.update(&mut Vec::new()).is_err());
    }

    #[test]
    fn live_netlink() {
        let collector = QdiscCollector {
            fixtures: None,
            filter: DeviceFilter::new(None, None).unwrap(),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert!(!out[0].samples.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "\\PC{0,80}", cut in 0usize..400) {
            let _ = parse_fixture(&text);
            let cut = cut.min(FIXTURE.len());
            let _ = parse_fixture(&FIXTURE[..cut]);
        }
    }
}
