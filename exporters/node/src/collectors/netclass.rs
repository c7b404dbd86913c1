//! `netclass`: interface properties from `<sysfs>/class/net/<iface>/*`: `node_network_info`,
//! `node_network_up`, and one `node_network_<property>` per numeric attribute (mtu, speed,
//! carrier changes, flags, ...).
//!
//! Two sources, as upstream:
//! - sysfs (the default): about twenty attribute files per interface. An attribute the kernel
//!   refuses to give (`EINVAL` for `speed` on a down link, `EOPNOTSUPP`, missing, permission
//!   denied) is left out, as upstream does; an unparsable number is left out too.
//! - `--collector.netclass.netlink` (upstream's `netclass_rtnl`): one `RTM_GETLINK` dump for
//!   the link attributes, one ethtool `LINKMODES_GET` dump for speed and duplex, and only the
//!   three attributes netlink lacks (`addr_assign_type`, `dev_id`, `name_assign_type`) from
//!   sysfs. The families are upstream's netlink-mode ones: `node_network_info` without
//!   `adminstate`, `node_network_altnames_info`, and `node_network_dormant` carrying the link
//!   mode as upstream's does. `--collector.netclass_rtnl.with-stats` adds the link counters.
//!   Like netdev's netlink mode it asks the exporter's own network namespace.

use std::collections::HashMap;
use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::Mutex;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use octo_exporter_kit::{FlagSet, MetricFamily, MetricType};
use regex_lite::Regex;

use crate::collector::{Builder, Collector, CollectorError};
use crate::device_filter::compile_regex;
use crate::read::dir_names;
use crate::rtnl;

pub fn declare(set: &mut FlagSet) -> Builder {
    let ignored_devices = set.string(
        "collector.netclass.ignored-devices",
        "^$",
        "Regexp of net devices to ignore for netclass collector.",
    );
    let ignore_invalid_speed = set.bool(
        "collector.netclass.ignore-invalid-speed",
        false,
        "Ignore devices where the speed is invalid. This will be the default behavior in 2.x.",
    );
    let netlink = set.bool(
        "collector.netclass.netlink",
        false,
        "Use netlink to gather stats instead of /proc/net/dev.",
    );
    let with_stats = set.bool(
        "collector.netclass_rtnl.with-stats",
        false,
        "Expose the statistics for each network device, replacing netdev collector.",
    );
    Box::new(move |context| {
        let flags = context.flags;
        let root = context.paths.sys("class/net");
        Ok(Box::new(NetClass {
            root: root.clone(),
            ignored: compile_regex(flags.name(ignored_devices), flags.get(ignored_devices))?,
            ignore_invalid_speed: flags.get(ignore_invalid_speed),
            netlink: flags.get(netlink),
            with_stats: flags.get(with_stats),
            devices: Mutex::new(HashMap::new()),
            keep_open: on_sysfs(&root),
        }))
    })
}

struct NetClass {
    root: PathBuf,
    ignored: Regex,
    ignore_invalid_speed: bool,
    netlink: bool,
    with_stats: bool,
    /// Per interface name, its attributes that cannot change while the device exists and the
    /// descriptors of the others.
    devices: Mutex<HashMap<String, Device>>,
    /// Whether the interfaces' directories are on sysfs, where a kept descriptor reads afresh.
    keep_open: bool,
}

/// The numeric properties, in upstream's order: exported name, sysfs attribute, counter or not.
const PROPERTIES: [(&str, &str, MetricType); 16] = [
    ("address_assign_type", "addr_assign_type", MetricType::Gauge),
    ("carrier", "carrier", MetricType::Gauge),
    (
        "carrier_changes_total",
        "carrier_changes",
        MetricType::Counter,
    ),
    (
        "carrier_up_changes_total",
        "carrier_up_count",
        MetricType::Counter,
    ),
    (
        "carrier_down_changes_total",
        "carrier_down_count",
        MetricType::Counter,
    ),
    ("device_id", "dev_id", MetricType::Gauge),
    ("dormant", "dormant", MetricType::Gauge),
    ("flags", "flags", MetricType::Gauge),
    ("iface_id", "ifindex", MetricType::Gauge),
    ("iface_link", "iflink", MetricType::Gauge),
    ("iface_link_mode", "link_mode", MetricType::Gauge),
    ("mtu_bytes", "mtu", MetricType::Gauge),
    ("name_assign_type", "name_assign_type", MetricType::Gauge),
    ("net_dev_group", "netdev_group", MetricType::Gauge),
    ("transmit_queue_length", "tx_queue_len", MetricType::Gauge),
    ("protocol_type", "type", MetricType::Gauge),
];

/// One interface's attributes.
#[derive(Debug, Default)]
struct Interface {
    name: String,
    address: String,
    broadcast: String,
    duplex: String,
    operstate: String,
    ifalias: String,
    numbers: [Option<i64>; 16],
    speed: Option<i64>,
}

/// Reads a sysfs attribute the way upstream's `SysReadFile` does: one read of at most 128
/// bytes (some drivers misbehave on longer reads), trimmed. `Ok(None)` for the errors upstream
/// ignores (missing, permission denied, `EINVAL`, `EOPNOTSUPP`).
///
/// The attribute is opened relative to the interface's directory, held open for the
/// interface's twenty-odd attributes: `/sys/class/net/<iface>` is a symlink into
/// `/sys/devices/...`, and resolving that whole path again for every attribute was most of
/// this collector's kernel time. With `kept`, the attribute's descriptor stays open for the
/// next scrapes and is read again with `pread` at offset 0, where kernfs produces the value
/// afresh (see `kept_files`); the device's descriptors go when its directory changes identity.
fn read_attribute(
    interface: BorrowedFd<'_>,
    attribute: &'static str,
    kept: Option<&mut HashMap<&'static str, File>>,
) -> Result<Option<String>, std::io::Error> {
    let mut buffer = [0u8; 128];
    let ignored = |err: &std::io::Error| {
        matches!(
            err.kind(),
            ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::InvalidInput
        ) || err.raw_os_error() == Some(libc::EOPNOTSUPP)
            || err.raw_os_error() == Some(libc::EINVAL)
    };
    let text =
        |buffer: &[u8], read: usize| String::from_utf8_lossy(&buffer[..read]).trim().to_owned();
    let mut kept = kept;
    if let Some(files) = kept.as_deref_mut()
        && let Some(file) = files.get(attribute)
    {
        match file.read_at(&mut buffer, 0) {
            Ok(read) => return Ok(Some(text(&buffer, read))),
            // The attribute's own answer (a down link has no speed): the descriptor is fine.
            Err(err) if ignored(&err) => return Ok(None),
            // Anything else: read it as if never kept.
            Err(_) => {
                files.remove(attribute);
            }
        }
    }
    let result = nix::fcntl::openat(
        interface,
        attribute,
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(std::io::Error::from)
    .and_then(|fd| {
        let file = File::from(fd);
        let read = file.read_at(&mut buffer, 0);
        if let Some(files) = kept
            && read.as_ref().map_or_else(ignored, |_| true)
        {
            files.insert(attribute, file);
        }
        read
    });
    match result {
        Ok(read) => Ok(Some(text(&buffer, read))),
        Err(err) if ignored(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: decimal, or `0x`/`0o`/`0b`/leading-`0` prefixed.
fn parse_go_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = digits.replace('_', "");
    let (radix, body) = if let Some(rest) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, rest.to_owned())
    } else if let Some(rest) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, rest.to_owned())
    } else if let Some(rest) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, rest.to_owned())
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, digits[1..].to_owned())
    } else {
        (10, digits)
    };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from_str_radix(&body, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

/// The positions in `PROPERTIES` of the attributes fixed for a device's lifetime:
/// `dev_id`, `ifindex`, `name_assign_type` and `type`. A renamed device has a new name and a
/// recreated one a new sysfs directory, and either misses the cache.
const FIXED: [usize; 4] = [5, 8, 12, 15];

/// The fixed attributes of an interface, with the identity of the sysfs directory they were
/// read from, and the descriptors of its other attributes kept open (on sysfs only).
#[derive(Debug, Default)]
struct Device {
    directory: (u64, u64, i64, i64),
    values: Option<[Option<i64>; 4]>,
    files: HashMap<&'static str, File>,
}

/// An interface's attributes; on an error worth failing for, the attribute and the error.
/// `device` holds the fixed attributes read at an earlier scrape, not read again, and the
/// descriptors kept open (when `keep_open`).
fn read_interface(
    dir: BorrowedFd<'_>,
    name: &str,
    device: &mut Device,
    keep_open: bool,
) -> Result<Interface, (String, std::io::Error)> {
    let fixed = device.values;
    let files = &mut device.files;
    let mut text = |attribute: &'static str| -> Result<String, (String, std::io::Error)> {
        Ok(
            read_attribute(dir, attribute, keep_open.then_some(&mut *files))
                .map_err(|err| (attribute.to_owned(), err))?
                .unwrap_or_default(),
        )
    };
    let mut interface = Interface {
        name: name.to_owned(),
        address: text("address")?,
        broadcast: text("broadcast")?,
        duplex: text("duplex")?,
        operstate: text("operstate")?,
        ifalias: text("ifalias")?,
        ..Interface::default()
    };
    let mut number = |attribute: &'static str| -> Result<Option<i64>, (String, std::io::Error)> {
        Ok(
            read_attribute(dir, attribute, keep_open.then_some(&mut *files))
                .map_err(|err| (attribute.to_owned(), err))?
                .and_then(|t| parse_go_int(&t)),
        )
    };
    interface.speed = number("speed")?;
    for (position, (slot, (_, attribute, _))) in interface
        .numbers
        .iter_mut()
        .zip(PROPERTIES.iter())
        .enumerate()
    {
        let known = FIXED
            .iter()
            .position(|&p| p == position)
            .and_then(|i| fixed.map(|values| values[i]));
        *slot = match known {
            Some(value) => value,
            None => number(attribute)?,
        };
    }
    device.values = Some(FIXED.map(|p| interface.numbers[p]));
    Ok(interface)
}

/// Whether `path` is on sysfs (a fixture tree is not: its files are replaced, not regenerated).
fn on_sysfs(path: &std::path::Path) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::SYSFS_MAGIC)
}

/// upstream's `getAdminState`: the IFF_UP bit of `flags`, "unknown" without flags.
fn admin_state(flags: Option<i64>) -> &'static str {
    match flags {
        None => "unknown",
        Some(flags) if flags & 1 == 1 => "up",
        Some(_) => "down",
    }
}

impl Collector for NetClass {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        if self.netlink {
            self.update_netlink(out)
        } else {
            self.update_sysfs(out)
        }
    }
}

/// `rtnl_link_stats64`'s fields under the names upstream's netlink mode exports them.
const LINK_STATISTICS: [&str; 24] = [
    "receive_packets_total",
    "transmit_packets_total",
    "receive_bytes_total",
    "transmit_bytes_total",
    "receive_errors_total",
    "transmit_errors_total",
    "receive_dropped_total",
    "transmit_dropped_total",
    "multicast_total",
    "collisions_total",
    "receive_length_errors_total",
    "receive_over_errors_total",
    "receive_crc_errors_total",
    "receive_frame_errors_total",
    "receive_fifo_errors_total",
    "receive_missed_errors_total",
    "transmit_aborted_errors_total",
    "transmit_carrier_errors_total",
    "transmit_fifo_errors_total",
    "transmit_heartbeat_errors_total",
    "transmit_window_errors_total",
    "receive_compressed_total",
    "transmit_compressed_total",
    "receive_nohandler_total",
];

/// RFC 2863 operational states, indexed by `IFLA_OPERSTATE`.
const OPERSTATES: [&str; 7] = [
    "unknown",
    "notpresent",
    "down",
    "lowerlayerdown",
    "testing",
    "dormant",
    "up",
];

/// A hardware address as Go's `net.HardwareAddr` prints it: lower-case hex pairs, colons.
fn hardware_address(bytes: &[u8]) -> String {
    let pairs: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    pairs.join(":")
}

/// ethtool's `DUPLEX_*` as the Go ethtool package names them.
fn duplex_name(duplex: u8) -> String {
    match duplex {
        0 => "half".into(),
        1 => "full".into(),
        0xff => "unknown".into(),
        other => format!("Duplex({other})"),
    }
}

fn property(name: &str, kind: MetricType) -> MetricFamily {
    MetricFamily::new(
        format!("node_network_{name}"),
        format!("Network device property: {name}"),
        kind,
    )
}

impl NetClass {
    /// upstream's netclass_rtnl: links from `RTM_GETLINK`, speed and duplex from ethtool.
    fn update_netlink(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let failed = |what: &str, err: crate::netlink::NetlinkError| {
            CollectorError::Other(format!("could not get {what}: {err}"))
        };
        let mut speed = property("speed_bytes", MetricType::Gauge);
        let mut duplexes = HashMap::new();
        match rtnl::dump_link_modes().map_err(|err| failed("link modes", err))? {
            None => tracing::info!(
                "ETHTOOL netlink interface unavailable, duplex and linkspeed are not scraped."
            ),
            Some(modes) => {
                for mode in modes {
                    if self.ignored.is_match(&mode.name) {
                        continue;
                    }
                    if let Some(mbits) = mode.speed_megabits {
                        let bytes = u64::from(mbits) * 1_000_000 / 8;
                        speed.push(&[("device", &mode.name)], bytes as f64);
                    }
                    if let Some(duplex) = mode.duplex {
                        duplexes.insert(mode.name, duplex_name(duplex));
                    }
                }
            }
        }
        let mut links = rtnl::dump_link_details().map_err(|err| failed("net class info", err))?;
        links.retain(|link| !self.ignored.is_match(&link.name));

        let mut up = MetricFamily::gauge(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
        );
        let mut info = MetricFamily::gauge(
            "node_network_info",
            "Non-numeric data of <iface>, value is always 1.",
        );
        let mut altnames = MetricFamily::gauge(
            "node_network_altnames_info",
            "Non-numeric data of <iface> altname, value is always 1.",
        );
        let gauge = |name| property(name, MetricType::Gauge);
        let counter = |name| property(name, MetricType::Counter);
        let mut numbers = [
            gauge("address_assign_type"),
            gauge("carrier"),
            counter("carrier_changes_total"),
            counter("carrier_up_changes_total"),
            counter("carrier_down_changes_total"),
            gauge("device_id"),
            gauge("flags"),
            gauge("iface_id"),
            gauge("iface_link_mode"),
            gauge("dormant"),
            gauge("iface_link"),
            gauge("mtu_bytes"),
            gauge("name_assign_type"),
            gauge("net_dev_group"),
            gauge("transmit_queue_length"),
            gauge("protocol_type"),
        ];
        let mut statistics: Vec<MetricFamily> = if self.with_stats {
            LINK_STATISTICS.iter().map(|name| gauge(name)).collect()
        } else {
            Vec::new()
        };
        for link in &links {
            // The three attributes netlink lacks; they take a per-device lock, not the RTNL
            // lock the others would, which is why upstream still reads them from sysfs.
            let dir = self.root.join(&link.name);
            let handle = match nix::fcntl::open(
                &dir,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(handle) => Some(handle),
                Err(Errno::ENOENT | Errno::ENOTDIR) => None,
                Err(err) => return Err(CollectorError::io(&dir, err.into())),
            };
            let sysfs = |attribute: &'static str| -> Result<Option<i64>, CollectorError> {
                let Some(handle) = &handle else {
                    return Ok(None);
                };
                Ok(read_attribute(handle.as_fd(), attribute, None)
                    .map_err(|err| CollectorError::io(&dir.join(attribute), err))?
                    .and_then(|text| parse_go_int(&text)))
            };
            let device = [("device", link.name.as_str())];
            up.push(&device, if link.operstate == 6 { 1.0 } else { 0.0 });
            let duplex = duplexes.get(&link.name).map_or("", String::as_str);
            info.push(
                &[
                    ("device", &link.name),
                    ("address", &hardware_address(&link.address)),
                    ("broadcast", &hardware_address(&link.broadcast)),
                    ("duplex", duplex),
                    (
                        "operstate",
                        OPERSTATES
                            .get(usize::from(link.operstate))
                            .unwrap_or(&"unknown"),
                    ),
                    ("ifalias", link.alias.as_deref().unwrap_or("")),
                ],
                1.0,
            );
            for altname in link.alt_names.iter().filter(|name| !name.is_empty()) {
                altnames.push(&[("altname", altname), ("device", &link.name)], 1.0);
            }
            let iface_link = if link.link > 0 { link.link } else { link.index };
            let values = [
                sysfs("addr_assign_type")?,
                Some(i64::from(link.carrier)),
                Some(i64::from(link.carrier_changes)),
                Some(i64::from(link.carrier_up_count)),
                Some(i64::from(link.carrier_down_count)),
                sysfs("dev_id")?,
                Some(i64::from(link.flags)),
                Some(i64::from(link.index)),
                Some(i64::from(link.link_mode)),
                // upstream's netlink mode reports the link mode as `dormant`; kept so both
                // exporters give the same series.
                Some(i64::from(link.link_mode)),
                Some(i64::from(iface_link)),
                Some(i64::from(link.mtu)),
                sysfs("name_assign_type")?,
                Some(i64::from(link.group)),
                Some(i64::from(link.tx_queue_len)),
                Some(i64::from(link.kind)),
            ];
            for (family, value) in numbers.iter_mut().zip(values) {
                if let Some(value) = value {
                    family.push(&device, value as f64);
                }
            }
            if let (true, Some(stats)) = (self.with_stats, link.stats64) {
                for (family, value) in statistics.iter_mut().zip(stats) {
                    family.push(&device, value as f64);
                }
            }
        }
        out.push(speed);
        out.push(up);
        out.push(info);
        out.push(altnames);
        out.extend(numbers);
        out.extend(statistics);
        Ok(())
    }

    fn update_sysfs(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let names = dir_names(&self.root).map_err(|err| match &err {
            CollectorError::Io { source, .. } if source.kind() == ErrorKind::PermissionDenied => {
                CollectorError::NoData
            }
            _ => err.not_found_as_no_data(),
        })?;
        let mut interfaces = Vec::new();
        let mut devices = self
            .devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut seen = Vec::new();
        for name in names {
            if self.ignored.is_match(&name) {
                continue;
            }
            let dir = self.root.join(&name);
            let handle = match nix::fcntl::open(
                &dir,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(handle) => handle,
                // Devices are directories or symlinks to them; `bonding_masters` is a file.
                Err(Errno::ENOTDIR) => continue,
                // Removed since the listing: gone from this scrape.
                Err(Errno::ENOENT) => continue,
                Err(err) => return Err(CollectorError::io(&dir, err.into())),
            };
            // The directory's identity (inode and change time; kernfs numbers its inodes
            // cyclically) tells a device from a recreated one of the same name: one fstat
            // instead of four attribute files per interface.
            let directory = nix::sys::stat::fstat(&handle)
                .map(|stat| (stat.st_dev, stat.st_ino, stat.st_ctime, stat.st_ctime_nsec))
                .map_err(|err| CollectorError::io(&dir, err.into()))?;
            let device = devices.entry(name.clone()).or_default();
            if device.directory != directory {
                *device = Device {
                    directory,
                    ..Device::default()
                };
            }
            let interface = read_interface(handle.as_fd(), &name, device, self.keep_open)
                .map_err(|(attribute, err)| CollectorError::io(&dir.join(attribute), err))?;
            seen.push(name);
            interfaces.push(interface);
        }
        // Forget removed devices.
        devices.retain(|name, _| seen.contains(name));
        drop(devices);

        let mut up = MetricFamily::gauge(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
        );
        let mut info = MetricFamily::gauge(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        );
        let mut properties: Vec<MetricFamily> = PROPERTIES
            .iter()
            .map(|(name, _, kind)| {
                MetricFamily::new(
                    format!("node_network_{name}"),
                    format!("Network device property: {name}"),
                    *kind,
                )
            })
            .collect();
        let mut speed = MetricFamily::gauge(
            "node_network_speed_bytes",
            "Network device property: speed_bytes",
        );
        for interface in &interfaces {
            let device = [("device", interface.name.as_str())];
            up.push(
                &device,
                if interface.operstate == "up" {
                    1.0
                } else {
                    0.0
                },
            );
            info.push(
                &[
                    ("device", &interface.name),
                    ("address", &interface.address),
                    ("broadcast", &interface.broadcast),
                    ("duplex", &interface.duplex),
                    ("operstate", &interface.operstate),
                    ("adminstate", admin_state(interface.numbers[7])),
                    ("ifalias", &interface.ifalias),
                ],
                1.0,
            );
            for (family, value) in properties.iter_mut().zip(interface.numbers) {
                if let Some(value) = value {
                    family.push(&device, value as f64);
                }
            }
            if let Some(mbits) = interface.speed
                && (mbits >= 0 || !self.ignore_invalid_speed)
            {
                speed.push(&device, (mbits.saturating_mul(1_000_000) / 8) as f64);
            }
        }
        out.push(up);
        out.push(info);
        out.extend(properties);
        out.push(speed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;

    #[test]
    fn go_integers() {
        assert_eq!(parse_go_int("0x1303"), Some(4867));
        assert_eq!(parse_go_int("-1"), Some(-1));
        assert_eq!(parse_go_int("1500"), Some(1500));
        assert_eq!(parse_go_int("010"), Some(8));
        assert_eq!(parse_go_int("0"), Some(0));
        assert_eq!(parse_go_int(""), None);
        assert_eq!(parse_go_int("0x"), None);
        assert_eq!(parse_go_int("--1"), None);
        assert_eq!(parse_go_int("up"), None);
    }

    #[test]
    fn reads_an_interface_directory() {
        let dir = tempfile::tempdir().unwrap();
        let eth0 = dir.path().join("eth0");
        std::fs::create_dir(&eth0).unwrap();
        for (file, text) in [
            ("address", "01:02:03:04:05:06\n"),
            ("operstate", "up\n"),
            ("flags", "0x1003\n"),
            ("mtu", "9000\n"),
            ("speed", "-1\n"),
            ("carrier_changes", "garbage\n"),
        ] {
            std::fs::write(eth0.join(file), text).unwrap();
        }
        std::fs::write(dir.path().join("bonding_masters"), "bond0\n").unwrap();
        let collector = NetClass {
            root: dir.path().to_owned(),
            ignored: Regex::new("^$").unwrap(),
            ignore_invalid_speed: true,
            netlink: false,
            with_stats: false,
            devices: Mutex::new(HashMap::new()),
            keep_open: false,
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let family = |name: &str| out.iter().find(|f| f.name == name).unwrap();
        assert_eq!(family("node_network_up").samples[0].value, 1.0);
        assert_eq!(family("node_network_mtu_bytes").samples[0].value, 9000.0);
        assert_eq!(family("node_network_flags").samples[0].value, 4099.0);
        assert!(family("node_network_speed_bytes").samples.is_empty());
        assert!(
            family("node_network_carrier_changes_total")
                .samples
                .is_empty()
        );
        let info = &family("node_network_info").samples[0].labels;
        assert!(info.contains(&("adminstate".into(), "up".into())));
        assert!(info.contains(&("duplex".into(), String::new())));
        assert_eq!(
            family("node_network_info").samples.len(),
            1,
            "bonding_masters is no device"
        );
    }

    #[test]
    fn fixed_attributes_are_read_again_for_a_recreated_device() {
        let dir = tempfile::tempdir().unwrap();
        let eth0 = dir.path().join("eth0");
        let create = |ifindex: &str, mtu: &str| {
            std::fs::create_dir_all(&eth0).unwrap();
            std::fs::write(eth0.join("ifindex"), ifindex).unwrap();
            std::fs::write(eth0.join("mtu"), mtu).unwrap();
        };
        create("2\n", "1500\n");
        let collector = NetClass {
            root: dir.path().to_owned(),
            ignored: Regex::new("^$").unwrap(),
            ignore_invalid_speed: false,
            netlink: false,
            with_stats: false,
            devices: Mutex::new(HashMap::new()),
            keep_open: false,
        };
        let value = |name: &str| {
            let mut out = Vec::new();
            collector.update(&mut out).unwrap();
            out.iter().find(|f| f.name == name).unwrap().samples[0].value
        };
        assert_eq!(value("node_network_iface_id"), 2.0);
        // A changed value of a live attribute is seen; a fixed one is not read again.
        create("2\n", "9000\n");
        std::fs::write(eth0.join("ifindex"), "99\n").unwrap();
        assert_eq!(value("node_network_mtu_bytes"), 9000.0);
        assert_eq!(value("node_network_iface_id"), 2.0);
        // Removed and created again: a new directory, read afresh.
        std::fs::remove_dir_all(&eth0).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        create("7\n", "1500\n");
        assert_eq!(value("node_network_iface_id"), 7.0);
    }

    #[test]
    fn live_sysfs_has_loopback() {
        let collector = crate::collectors::testing::build(declare, &Paths::default(), &[]).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let mtu = out
            .iter()
            .find(|f| f.name == "node_network_mtu_bytes")
            .unwrap();
        assert!(mtu.samples.iter().any(|s| s.labels[0].1 == "lo"));
    }

    #[test]
    fn live_netlink_mode_matches_sysfs_for_loopback() {
        let build = |args: &[&str]| {
            crate::collectors::testing::build(declare, &Paths::default(), args).unwrap()
        };
        let (mut sysfs, mut netlink) = (Vec::new(), Vec::new());
        build(&[]).update(&mut sysfs).unwrap();
        build(&[
            "--collector.netclass.netlink",
            "--collector.netclass_rtnl.with-stats",
        ])
        .update(&mut netlink)
        .unwrap();
        let lo = |families: &[MetricFamily], name: &str| {
            families
                .iter()
                .find(|f| f.name == name)
                .and_then(|f| f.samples.iter().find(|s| s.labels[0].1 == "lo"))
                .map(|s| s.value)
        };
        for name in [
            "node_network_mtu_bytes",
            "node_network_iface_id",
            "node_network_protocol_type",
            "node_network_transmit_queue_length",
            "node_network_address_assign_type",
            "node_network_up",
        ] {
            assert_eq!(lo(&sysfs, name), lo(&netlink, name), "{name}");
        }
        assert!(lo(&netlink, "node_network_receive_packets_total").is_some());
        let info = netlink
            .iter()
            .find(|f| f.name == "node_network_info")
            .unwrap();
        assert!(info.samples.iter().all(|s| s.labels.len() == 6));
    }

    #[test]
    fn hardware_addresses_print_as_go() {
        assert_eq!(hardware_address(&[0, 0x1a, 0xff]), "00:1a:ff");
        assert_eq!(hardware_address(&[]), "");
        assert_eq!(duplex_name(1), "full");
        assert_eq!(duplex_name(7), "Duplex(7)");
    }

    proptest::proptest! {
        #[test]
        fn go_int_never_panics(text in ".{0,30}") {
            let _ = parse_go_int(&text);
        }
    }
}
