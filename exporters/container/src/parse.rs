//! Parsers for the kernel's cgroup and procfs text formats. They take bytes (files are read into
//! one reused buffer), skip what they do not understand, and never panic on garbage.

/// A number as cgroup files write it; `max` (v2) is `u64::MAX`.
pub fn number(text: &[u8]) -> Option<u64> {
    let text = trim(text);
    if text == b"max" {
        return Some(u64::MAX);
    }
    parse_u64(text)
}

/// A signed number (v1 `cpu.cfs_quota_us` is `-1` when unlimited).
pub fn signed(text: &[u8]) -> Option<i64> {
    let text = trim(text);
    match text.strip_prefix(b"-") {
        Some(rest) => parse_u64(rest)
            .and_then(|v| i64::try_from(v).ok())
            .map(|v| -v),
        None => parse_u64(text).and_then(|v| i64::try_from(v).ok()),
    }
}

pub fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in text {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
    }
    Some(value)
}

pub fn trim(text: &[u8]) -> &[u8] {
    text.trim_ascii()
}

/// `key value` lines (`memory.stat`, `cpu.stat`, `cpuacct.stat`, `memory.events`).
pub fn key_values(text: &[u8]) -> impl Iterator<Item = (&[u8], u64)> {
    text.split(|b| *b == b'\n').filter_map(|line| {
        let mut fields = line.split(|b| *b == b' ').filter(|f| !f.is_empty());
        let key = fields.next()?;
        let value = parse_u64(fields.next()?)?;
        Some((key, value))
    })
}

/// `cpuacct.usage_percpu`: nanoseconds per possible CPU, space separated.
pub fn per_cpu(text: &[u8], out: &mut Vec<u64>) {
    out.clear();
    out.extend(
        text.split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty())
            .map(|f| parse_u64(f).unwrap_or(0)),
    );
}

/// `cpuacct.usage_all`: a `cpu user system` header, then one line per CPU in nanoseconds.
/// Fills `per_cpu` with user+system per CPU and returns the user and system totals.
pub fn usage_all(text: &[u8], per_cpu: &mut Vec<u64>) -> Option<(u64, u64)> {
    per_cpu.clear();
    let mut lines = text.split(|b| *b == b'\n');
    let header = lines.next()?;
    if !header.starts_with(b"cpu ") {
        return None;
    }
    let (mut user, mut system) = (0u64, 0u64);
    for line in lines {
        let mut fields = line.split(|b| *b == b' ').filter(|f| !f.is_empty());
        let (Some(cpu), Some(u), Some(s)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let (Some(cpu), Some(u), Some(s)) = (parse_u64(cpu), parse_u64(u), parse_u64(s)) else {
            continue;
        };
        let cpu = usize::try_from(cpu).ok()?;
        if cpu > 65_536 {
            return None;
        }
        if per_cpu.len() <= cpu {
            per_cpu.resize(cpu + 1, 0);
        }
        per_cpu[cpu] = u.saturating_add(s);
        user = user.saturating_add(u);
        system = system.saturating_add(s);
    }
    Some((user, system))
}

/// One device's I/O counters, as cAdvisor keeps them per disk (v1 operation names).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceIo {
    pub major: u64,
    pub minor: u64,
    /// Bytes per operation: Read, Write, Sync, Async, Discard, Total (absent ones stay None).
    pub bytes: [Option<u64>; 6],
    /// Operations per operation kind, same order.
    pub ios: [Option<u64>; 6],
    /// io.stat `cost.usage`, `cost.wait`, `cost.indebt`, `cost.indelay` (microseconds).
    pub cost: [Option<u64>; 4],
}

pub const OPERATIONS: [&str; 6] = ["Read", "Write", "Sync", "Async", "Discard", "Total"];

fn operation_index(name: &[u8]) -> Option<usize> {
    OPERATIONS.iter().position(|op| op.as_bytes() == name)
}

fn device(devices: &mut Vec<DeviceIo>, major: u64, minor: u64) -> &mut DeviceIo {
    let index = match devices
        .iter()
        .position(|d| d.major == major && d.minor == minor)
    {
        Some(index) => index,
        None => {
            devices.push(DeviceIo {
                major,
                minor,
                ..DeviceIo::default()
            });
            devices.len() - 1
        }
    };
    &mut devices[index]
}

fn major_minor(text: &[u8]) -> Option<(u64, u64)> {
    let colon = text.iter().position(|b| *b == b':')?;
    Some((parse_u64(&text[..colon])?, parse_u64(&text[colon + 1..])?))
}

/// v1 `blkio.*io_service_bytes*` / `blkio.*io_serviced*`: `8:0 Read 4096` lines and a final
/// `Total n`. Returns whether any device line was found (runc moves to the next file group
/// when the first file of a group is empty).
pub fn blkio(text: &[u8], devices: &mut Vec<DeviceIo>, bytes: bool) -> bool {
    let mut found = false;
    for line in text.split(|b| *b == b'\n') {
        let mut fields = line.split(|b| *b == b' ').filter(|f| !f.is_empty());
        let (Some(dev), Some(op), Some(value)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (Some((major, minor)), Some(op), Some(value)) =
            (major_minor(dev), operation_index(op), parse_u64(value))
        else {
            continue;
        };
        found = true;
        let entry = device(devices, major, minor);
        if bytes {
            entry.bytes[op] = Some(value);
        } else {
            entry.ios[op] = Some(value);
        }
    }
    found
}

/// v2 `io.stat`: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6 [cost.usage=...]`.
pub fn io_stat(text: &[u8], devices: &mut Vec<DeviceIo>) {
    for line in text.split(|b| *b == b'\n') {
        let mut fields = line.split(|b| *b == b' ').filter(|f| !f.is_empty());
        let Some((major, minor)) = fields.next().and_then(major_minor) else {
            continue;
        };
        let entry = device(devices, major, minor);
        for field in fields {
            let Some(eq) = field.iter().position(|b| *b == b'=') else {
                continue;
            };
            let Some(value) = parse_u64(&field[eq + 1..]) else {
                continue;
            };
            match &field[..eq] {
                b"rbytes" => entry.bytes[0] = Some(value),
                b"wbytes" => entry.bytes[1] = Some(value),
                b"dbytes" => entry.bytes[4] = Some(value),
                b"rios" => entry.ios[0] = Some(value),
                b"wios" => entry.ios[1] = Some(value),
                b"dios" => entry.ios[4] = Some(value),
                b"cost.usage" => entry.cost[0] = Some(value),
                b"cost.wait" => entry.cost[1] = Some(value),
                b"cost.indebt" => entry.cost[2] = Some(value),
                b"cost.indelay" => entry.cost[3] = Some(value),
                _ => {}
            }
        }
    }
    devices.retain(|d| d.bytes.iter().any(Option::is_some) || d.ios.iter().any(Option::is_some));
}

/// Pressure files (`cpu.pressure`, ...): the `total=` microseconds of the `some` and `full`
/// lines.
pub fn pressure(text: &[u8]) -> (Option<u64>, Option<u64>) {
    let (mut some, mut full) = (None, None);
    for line in text.split(|b| *b == b'\n') {
        let total = line
            .split(|b| *b == b' ')
            .find_map(|f| f.strip_prefix(b"total="))
            .and_then(parse_u64);
        if line.starts_with(b"some ") {
            some = total;
        } else if line.starts_with(b"full ") {
            full = total;
        }
    }
    (some, full)
}

/// One interface of `/proc/<pid>/net/dev`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interface {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// Interfaces cAdvisor leaves out: loopback, the host ends of veth pairs, bridges.
fn ignored_interface(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["lo", "veth", "docker", "nerdctl"]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
}

/// `/proc/<pid>/net/dev`: two header lines, then `name: 16 numbers`. Like cAdvisor, a
/// malformed line makes the whole file untrusted (None).
pub fn net_dev(text: &[u8], out: &mut Vec<Interface>) -> Option<()> {
    out.clear();
    for line in text.split(|b| *b == b'\n').skip(2) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let colon = line.iter().position(|b| *b == b':')?;
        let name = std::str::from_utf8(trim(&line[..colon])).ok()?;
        let mut numbers = [0u64; 16];
        let mut count = 0;
        for field in line[colon + 1..]
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty())
        {
            if count == 16 {
                return None;
            }
            numbers[count] = parse_u64(field)?;
            count += 1;
        }
        if count != 16 || name.is_empty() {
            return None;
        }
        if ignored_interface(name) {
            continue;
        }
        out.push(Interface {
            name: name.to_owned(),
            rx_bytes: numbers[0],
            rx_packets: numbers[1],
            rx_errors: numbers[2],
            rx_dropped: numbers[3],
            tx_bytes: numbers[8],
            tx_packets: numbers[9],
            tx_errors: numbers[10],
            tx_dropped: numbers[11],
        });
    }
    Some(())
}

/// The first pid of a `cgroup.procs` file.
pub fn first_pid(text: &[u8]) -> Option<u32> {
    text.split(|b| *b == b'\n')
        .find_map(|line| parse_u64(trim(line)))
        .and_then(|pid| u32::try_from(pid).ok())
        .filter(|pid| *pid > 0)
}

/// A `/proc/meminfo` value in bytes (`MemTotal:  16318732 kB`).
pub fn meminfo(text: &[u8], key: &str) -> Option<u64> {
    text.split(|b| *b == b'\n').find_map(|line| {
        let rest = line.strip_prefix(key.as_bytes())?.strip_prefix(b":")?;
        let rest = trim(rest);
        let (number, unit) = match rest.iter().position(|b| *b == b' ') {
            Some(space) => (&rest[..space], trim(&rest[space..])),
            None => (rest, &b""[..]),
        };
        let value = parse_u64(number)?;
        match unit {
            b"kB" => value.checked_mul(1024),
            b"" => Some(value),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers() {
        assert_eq!(number(b"123\n"), Some(123));
        assert_eq!(number(b"max\n"), Some(u64::MAX));
        assert_eq!(
            number(b"9223372036854771712\n"),
            Some(9_223_372_036_854_771_712)
        );
        assert_eq!(number(b""), None);
        assert_eq!(number(b"12a"), None);
        assert_eq!(number(b"99999999999999999999999"), None);
        assert_eq!(signed(b"-1\n"), Some(-1));
        assert_eq!(signed(b"50000\n"), Some(50_000));
        assert_eq!(signed(b"-"), None);
    }

    #[test]
    fn cpuacct_usage_all() {
        let mut per_cpu = Vec::new();
        let text = b"cpu user system\n0 1000 500\n1 2000 0\n";
        assert_eq!(usage_all(text, &mut per_cpu), Some((3000, 500)));
        assert_eq!(per_cpu, vec![1500, 2000]);
        assert_eq!(usage_all(b"garbage", &mut per_cpu), None);
    }

    #[test]
    fn blkio_and_io_stat() {
        let mut devices = Vec::new();
        let text = b"8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 8192\n8:0 Async 4096\n8:0 Discard 0\n8:0 Total 12288\n253:1 Read 1\nTotal 12289\n";
        assert!(blkio(text, &mut devices, true));
        assert!(blkio(
            b"8:0 Read 2\n8:0 Write 3\nTotal 5\n",
            &mut devices,
            false
        ));
        assert_eq!(devices.len(), 2);
        assert_eq!(
            devices[0].bytes,
            [
                Some(4096),
                Some(8192),
                Some(8192),
                Some(4096),
                Some(0),
                Some(12288)
            ]
        );
        assert_eq!(devices[0].ios[1], Some(3));
        assert!(!blkio(b"Total 0\n", &mut Vec::new(), true));

        let mut devices = Vec::new();
        io_stat(
            b"8:0 rbytes=90112 wbytes=4096 rios=10 wios=1 dbytes=0 dios=0 cost.usage=5 cost.wait=1 cost.indebt=0 cost.indelay=0\n259:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6\n",
            &mut devices,
        );
        assert_eq!(devices.len(), 2);
        assert_eq!(devices[0].bytes[0], Some(90112));
        assert_eq!(devices[0].cost[0], Some(5));
        assert_eq!(devices[1].ios[4], Some(6));
    }

    #[test]
    fn pressure_totals() {
        let text = b"some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=56\n";
        assert_eq!(pressure(text), (Some(1234), Some(56)));
        assert_eq!(pressure(b"some avg10=0.00 total=7\n"), (Some(7), None));
    }

    #[test]
    fn net_dev_skips_virtual_interfaces() {
        let text = b"Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  eth0: 5000 40 1 2 0 0 0 0 7000 50 3 4 0 0 0 0\nveth12: 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n";
        let mut out = Vec::new();
        assert!(net_dev(text, &mut out).is_some());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "eth0");
        assert_eq!(
            (
                out[0].rx_bytes,
                out[0].rx_dropped,
                out[0].tx_packets,
                out[0].tx_dropped
            ),
            (5000, 2, 50, 4)
        );
        assert!(net_dev(b"h\nh\neth0: 1 2 3\n", &mut out).is_none());
    }

    #[test]
    fn meminfo_and_pids() {
        let text = b"MemTotal:       16318732 kB\nSwapTotal:             0 kB\n";
        assert_eq!(meminfo(text, "MemTotal"), Some(16_318_732 * 1024));
        assert_eq!(meminfo(text, "SwapTotal"), Some(0));
        assert_eq!(meminfo(text, "Nope"), None);
        assert_eq!(first_pid(b"\n4242\n4243\n"), Some(4242));
        assert_eq!(first_pid(b""), None);
    }

    #[test]
    fn key_value_lines() {
        let text = b"cache 4096\n  rss   12 extra\nbad x\n\nlone\ntotal_rss 7";
        assert_eq!(
            key_values(text).collect::<Vec<_>>(),
            vec![
                (&b"cache"[..], 4096),
                (&b"rss"[..], 12),
                (&b"total_rss"[..], 7)
            ]
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut devices = Vec::new();
            let mut cpus = Vec::new();
            let mut interfaces = Vec::new();
            let _ = number(&data);
            let _ = signed(&data);
            let _ = key_values(&data).count();
            per_cpu(&data, &mut cpus);
            let _ = usage_all(&data, &mut cpus);
            let _ = blkio(&data, &mut devices, true);
            io_stat(&data, &mut devices);
            let _ = pressure(&data);
            let _ = net_dev(&data, &mut interfaces);
            let _ = first_pid(&data);
            let _ = meminfo(&data, "MemTotal");
        }

        #[test]
        fn truncated_files_never_panic(cut in 0usize..200) {
            let text = b"cpu user system\n0 1000 500\n1 2000 0\n8:0 rbytes=1 wbytes=2\nsome avg10=0.00 total=7\n";
            let part = &text[..cut.min(text.len())];
            let mut cpus = Vec::new();
            let _ = usage_all(part, &mut cpus);
            io_stat(part, &mut Vec::new());
            let _ = pressure(part);
        }
    }
}
