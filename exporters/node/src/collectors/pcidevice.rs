//! `pcidevice`: `node_pcidevice_*` from `/sys/bus/pci/devices/<location>`: an info series with
//! the device's ids (and, with `--collector.pcidevice.names`, their names from `pci.ids`),
//! link speeds and widths, SR-IOV state, power state and NUMA node.
//!
//! What cannot change while the device is plugged in (ids, location, maximum link, NUMA node,
//! SR-IOV capability) is read when a device first appears and kept until it goes; the
//! current link, power and SR-IOV settings are read on every scrape.

mod pci_ids;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::sysfs::{go_trim_space, parse_go_float, parse_go_int, sys_read_file, to_valid_utf8};
use pci_ids::PciIds;

/// Where upstream looks for `pci.ids` when `--collector.pcidevice.idsfile` is not given.
const DEFAULT_IDS_FILES: &[&str] = &["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"];

pub fn declare(set: &mut FlagSet) -> Builder {
    let ids_file = set.optional(
        "collector.pcidevice.idsfile",
        "Path to pci.ids file to use for PCI device identification.",
    );
    let names = set.bool(
        "collector.pcidevice.names",
        false,
        "Enable PCI device name resolution (requires pci.ids file).",
    );
    Box::new(move |context| {
        let flags = context.flags;
        let names = flags
            .get(names)
            .then(|| load_ids(flags.get(ids_file).filter(|path| !path.is_empty())));
        Ok(Box::new(Pcidevice {
            devices: context.paths.sys("bus/pci/devices"),
            names,
            known: Mutex::new(HashMap::new()),
        }))
    })
}

/// The names database; without a readable file every name falls back to its id, as upstream.
fn load_ids(path: Option<&str>) -> PciIds {
    let candidates: Vec<&str> = match path {
        Some(path) => vec![path],
        None => DEFAULT_IDS_FILES.to_vec(),
    };
    for candidate in candidates {
        match std::fs::read(candidate) {
            Ok(bytes) => {
                tracing::debug!(file = candidate, "loading PCI IDs");
                return PciIds::parse(&String::from_utf8_lossy(&bytes));
            }
            Err(err) => tracing::debug!(file = candidate, %err, "cannot open PCI IDs file"),
        }
    }
    PciIds::default()
}

struct Pcidevice {
    devices: PathBuf,
    names: Option<PciIds>,
    /// Static facts by directory entry name.
    known: Mutex<HashMap<String, Arc<Device>>>,
}

/// `segment:bus:device.function`, as upstream formats each part.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Location([String; 4]);

/// Parses `0000:01:00.0`: four hexadecimal parts (negative ones are refused).
fn parse_location(text: &str) -> Option<Location> {
    let mut parts = text.split(':');
    let (segment, bus, rest) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (device, function) = rest.split_once('.')?;
    if function.contains('.') {
        return None;
    }
    let hex = |part: &str| {
        let digits = part.strip_prefix('+').unwrap_or(part);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        i32::from_str_radix(digits, 16).ok()
    };
    Some(Location([
        format!("{:04x}", hex(segment)?),
        format!("{:02x}", hex(bus)?),
        format!("{:02x}", hex(device)?),
        format!("{:x}", hex(function)?),
    ]))
}

/// What a device keeps while it is plugged in.
#[derive(Debug)]
struct Device {
    dir: PathBuf,
    location: Location,
    /// The info series' labels after the location.
    info: Vec<(&'static str, String)>,
    max_link_speed: Option<f64>,
    max_link_width: Option<f64>,
    numa_node: Option<i32>,
    sriov_totalvfs: Option<f64>,
}

/// One read of a sysfs attribute, trimmed, as procfs' `SysReadFile`; `None` when absent.
fn read_attribute(path: &Path) -> Result<Option<String>, CollectorError> {
    match sys_read_file(path) {
        Ok(bytes) => Ok(Some(to_valid_utf8(go_trim_space(&bytes)))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(CollectorError::io(path, err)),
    }
}

fn required(path: &Path) -> Result<String, CollectorError> {
    read_attribute(path)?
        .ok_or_else(|| CollectorError::io(path, std::io::Error::from(std::io::ErrorKind::NotFound)))
}

/// An optional attribute, skipped when absent, empty or (links) "Unknown...".
fn optional<T>(
    dir: &Path,
    file: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, CollectorError> {
    let path = dir.join(file);
    match read_attribute(&path)? {
        None => Ok(None),
        Some(text) if text.is_empty() || text.starts_with("Unknown") => Ok(None),
        Some(text) => parse(&text)
            .map(Some)
            .ok_or_else(|| CollectorError::parse(&path, format!("cannot parse {file} {text:?}"))),
    }
}

/// `8.0 GT/s PCIe` in GT/s.
fn parse_link_speed(text: &str) -> Option<f64> {
    let (number, unit) = text.split_once(' ')?;
    (unit == "GT/s PCIe").then_some(())?;
    parse_go_float(number.trim())
}

fn parse_decimal<T: std::str::FromStr>(text: &str) -> Option<T> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_unsigned<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Pcidevice {
    /// Reads a device's static facts, as procfs checks them.
    fn read_device(&self, name: &str) -> Result<Device, CollectorError> {
        let dir = self.devices.join(name);
        let target = std::fs::read_link(&dir).map_err(|err| CollectorError::io(&dir, err))?;
        let base = |path: &Path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let location_text = base(&target);
        let location = parse_location(&location_text).ok_or_else(|| {
            CollectorError::parse(&dir, format!("invalid location {location_text:?}"))
        })?;
        let parent_text = target.parent().map(base).unwrap_or_default();
        let parent = if parent_text.starts_with("pci") {
            None
        } else {
            Some(parse_location(&parent_text).ok_or_else(|| {
                CollectorError::parse(&dir, format!("invalid parent location {parent_text:?}"))
            })?)
        };
        let mut ids = [0u32; 6];
        let files = [
            "class",
            "vendor",
            "device",
            "subsystem_vendor",
            "subsystem_device",
            "revision",
        ];
        for (slot, file) in ids.iter_mut().zip(files) {
            let path = dir.join(file);
            let text = required(&path)?;
            let value = parse_go_int(&text)
                .and_then(|value| i32::try_from(value).ok())
                .ok_or_else(|| CollectorError::parse(&path, format!("cannot parse {text:?}")))?;
            // procfs keeps them as uint32.
            *slot = value as u32;
        }
        let [class, vendor, device, subvendor, subdevice, revision] = ids;
        let parent = parent.map_or_else(|| ["*", "*", "*", "*"].map(String::from), |p| p.0);
        let mut info: Vec<(&'static str, String)> = [
            "parent_segment",
            "parent_bus",
            "parent_device",
            "parent_function",
        ]
        .into_iter()
        .zip(parent)
        .collect();
        let class_id = format!("0x{class:06x}");
        let vendor_id = format!("0x{vendor:04x}");
        let device_id = format!("0x{device:04x}");
        let subvendor_id = format!("0x{subvendor:04x}");
        let subdevice_id = format!("0x{subdevice:04x}");
        if let Some(names) = &self.names {
            info.extend([
                ("vendor_name", names.vendor(&vendor_id)),
                ("device_name", names.device(&vendor_id, &device_id)),
                ("subsystem_vendor_name", names.vendor(&subvendor_id)),
                (
                    "subsystem_device_name",
                    names.subsystem(&vendor_id, &device_id, &subvendor_id, &subdevice_id),
                ),
                ("class_name", names.class(&class_id)),
            ]);
        }
        info.extend([
            ("class_id", class_id),
            ("vendor_id", vendor_id),
            ("device_id", device_id),
            ("subsystem_vendor_id", subvendor_id),
            ("subsystem_device_id", subdevice_id),
            ("revision", format!("0x{revision:02x}")),
        ]);
        let max_link_speed = optional(&dir, "max_link_speed", parse_link_speed)?;
        let max_link_width = optional(&dir, "max_link_width", parse_decimal::<i64>)?;
        let numa_node = optional(&dir, "numa_node", parse_decimal::<i32>)?;
        // Not reported, but procfs refuses the device when they do not parse.
        sriov_optional(&dir, "sriov_offset", parse_unsigned::<u32>)?;
        sriov_optional(&dir, "sriov_stride", parse_unsigned::<u32>)?;
        sriov_optional(&dir, "sriov_vf_device", |text| {
            u32::from_str_radix(text, 16).ok()
        })?;
        let sriov_totalvfs = sriov_optional(&dir, "sriov_totalvfs", parse_unsigned::<u32>)?;
        Ok(Device {
            dir,
            location,
            info,
            max_link_speed,
            max_link_width: max_link_width.map(|w| w as f64),
            numa_node,
            sriov_totalvfs: sriov_totalvfs.map(f64::from),
        })
    }

    /// The devices present now: known ones from memory, new ones read; gone ones forgotten.
    fn devices(&self) -> Result<Vec<Arc<Device>>, CollectorError> {
        let entries = match std::fs::read_dir(&self.devices) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!("PCI device not found, skipping");
                return Err(CollectorError::NoData);
            }
            Err(err) => return Err(CollectorError::io(&self.devices, err)),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known.retain(|name, _| names.binary_search(name).is_ok());
        let mut devices = Vec::with_capacity(names.len());
        for name in names {
            let device = match known.get(&name) {
                Some(device) => Arc::clone(device),
                None => {
                    let device = Arc::new(self.read_device(&name)?);
                    known.insert(name, Arc::clone(&device));
                    device
                }
            };
            devices.push(device);
        }
        Ok(devices)
    }
}

/// SR-IOV attributes: absent or empty is "not available"; no "Unknown" rule.
fn sriov_optional<T>(
    dir: &Path,
    file: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, CollectorError> {
    let path = dir.join(file);
    match read_attribute(&path)? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => parse(&text)
            .map(Some)
            .ok_or_else(|| CollectorError::parse(&path, format!("cannot parse {file} {text:?}"))),
    }
}

/// What is read on every scrape.
struct Current {
    link_speed: Option<f64>,
    link_width: Option<f64>,
    sriov_drivers_autoprobe: Option<bool>,
    sriov_numvfs: Option<u32>,
    sriov_vf_total_msix: Option<u64>,
    d3cold_allowed: Option<bool>,
    power_state: Option<String>,
}

fn read_current(dir: &Path) -> Result<Current, CollectorError> {
    let nonzero = |text: &str| parse_decimal::<i32>(text).map(|v| v != 0);
    Ok(Current {
        link_speed: optional(dir, "current_link_speed", parse_link_speed)?,
        link_width: optional(dir, "current_link_width", parse_decimal::<i64>)?.map(|w| w as f64),
        sriov_drivers_autoprobe: sriov_optional(dir, "sriov_drivers_autoprobe", nonzero)?,
        sriov_numvfs: sriov_optional(dir, "sriov_numvfs", parse_unsigned::<u32>)?,
        sriov_vf_total_msix: sriov_optional(dir, "sriov_vf_total_msix", parse_unsigned::<u64>)?,
        d3cold_allowed: sriov_optional(dir, "d3cold_allowed", nonzero)?,
        power_state: sriov_optional(dir, "power_state", |text| Some(text.to_owned()))?,
    })
}

const POWER_STATES: &[&str] = &["D0", "D1", "D2", "D3hot", "D3cold", "unknown", "error"];

/// The families, in the order they are filled.
fn families() -> Vec<MetricFamily> {
    [
        (
            "node_pcidevice_info",
            "Non-numeric data from /sys/bus/pci/devices/<location>, value is always 1.",
        ),
        (
            "node_pcidevice_max_link_transfers_per_second",
            "Value of maximum link's transfers per second (T/s)",
        ),
        (
            "node_pcidevice_max_link_width",
            "Value of maximum link's width (number of lanes)",
        ),
        (
            "node_pcidevice_current_link_transfers_per_second",
            "Value of current link's transfers per second (T/s)",
        ),
        (
            "node_pcidevice_current_link_width",
            "Value of current link's width (number of lanes)",
        ),
        (
            "node_pcidevice_d3cold_allowed",
            "Whether the PCIe device supports D3cold power state (0/1).",
        ),
        (
            "node_pcidevice_sriov_drivers_autoprobe",
            "Whether SR-IOV drivers autoprobe is enabled for the device (0/1).",
        ),
        (
            "node_pcidevice_sriov_numvfs",
            "Number of Virtual Functions (VFs) currently enabled for SR-IOV.",
        ),
        (
            "node_pcidevice_sriov_totalvfs",
            "Total number of Virtual Functions (VFs) supported by the device.",
        ),
        (
            "node_pcidevice_sriov_vf_total_msix",
            "Total number of MSI-X vectors for Virtual Functions.",
        ),
        (
            "node_pcidevice_power_state",
            "PCIe device power state, one of: D0, D1, D2, D3hot, D3cold, unknown or error.",
        ),
        (
            "node_pcidevice_numa_node",
            "NUMA node number for the PCI device. -1 indicates unknown or not available.",
        ),
    ]
    .into_iter()
    .map(|(name, help)| MetricFamily::gauge(name, help))
    .collect()
}

impl Collector for Pcidevice {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let devices = self.devices()?;
        let mut families = families();
        for device in &devices {
            let current = read_current(&device.dir)?;
            let location: Vec<(&str, &str)> = ["segment", "bus", "device", "function"]
                .into_iter()
                .zip(device.location.0.iter().map(String::as_str))
                .collect();
            let mut info = location.clone();
            info.extend(device.info.iter().map(|(k, v)| (*k, v.as_str())));
            families[0].push(&info, 1.0);
            let speed = |s: Option<f64>| s.map_or(-1.0, |s| s * 1e9);
            let flag = |b: Option<bool>| if b == Some(true) { 1.0 } else { 0.0 };
            let values = [
                speed(device.max_link_speed),
                device.max_link_width.unwrap_or(-1.0),
                speed(current.link_speed),
                current.link_width.unwrap_or(-1.0),
                flag(current.d3cold_allowed),
                flag(current.sriov_drivers_autoprobe),
                current.sriov_numvfs.map_or(0.0, f64::from),
                device.sriov_totalvfs.unwrap_or(0.0),
                current.sriov_vf_total_msix.map_or(0.0, |v| v as f64),
            ];
            for (family, value) in families[1..10].iter_mut().zip(values) {
                family.push(&location, value);
            }
            if let Some(state) = &current.power_state {
                for candidate in POWER_STATES {
                    let mut labels = location.clone();
                    labels.push(("state", candidate));
                    families[10].push(&labels, if candidate == state { 1.0 } else { 0.0 });
                }
            }
            if let Some(node) = device.numa_node.filter(|node| *node != -1) {
                families[11].push(&location, f64::from(node));
            }
        }
        out.extend(families);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
