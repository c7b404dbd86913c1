//! The `tcp` and `udp` kinds: sockets of the container's network namespace by TCP state, and
//! UDP sockets with their queues and drops, from `/proc/<pid>/net/{tcp,tcp6,udp,udp6}` of the
//! process the network kind reads (`Cgroup::netns_pid`), as cAdvisor counts them.
//!
//! These files list every socket of the namespace, so a busy or hostile container makes them
//! as large as it likes: they are streamed a line at a time through a fixed buffer (`lines`),
//! never loaded whole, and a line that is not a socket line fails that file for that
//! container only (cAdvisor then writes zeros; here the family has no series for it).

use std::path::PathBuf;

use octo_exporter_kit::{MetricFamily, MetricType};

use crate::cgroup_files::CgroupFiles;
use crate::cgroup_kind::{Cgroup, CgroupKind, FamilyDef, KindError, KindFamilies};
use crate::lines::{LineReader, fields};

const TCP_FAMILIES: &[FamilyDef] = &[
    (
        "container_network_tcp_usage_total",
        MetricType::Gauge,
        "tcp connection usage statistic for container",
    ),
    (
        "container_network_tcp6_usage_total",
        MetricType::Gauge,
        "tcp6 connection usage statistic for container",
    ),
];
const UDP_FAMILIES: &[FamilyDef] = &[
    (
        "container_network_udp_usage_total",
        MetricType::Gauge,
        "udp connection usage statistic for container",
    ),
    (
        "container_network_udp6_usage_total",
        MetricType::Gauge,
        "udp6 connection usage statistic for container",
    ),
];

/// cAdvisor's `tcp_state` values, for the kernel's states 1 (`01`, ESTABLISHED) to 11 (`0B`,
/// CLOSING).
pub const TCP_STATES: [&str; 11] = [
    "established",
    "synsent",
    "synrecv",
    "finwait1",
    "finwait2",
    "timewait",
    "close",
    "closewait",
    "lastack",
    "listen",
    "closing",
];

/// Sockets per TCP state, indexed like [`TCP_STATES`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpStates(pub [u64; 11]);

impl TcpStates {
    /// Counts one socket line (`sl local_address rem_address st ...`; `st` in hex).
    pub fn add(&mut self, line: &[u8]) -> Result<(), String> {
        let mut columns = fields(line);
        let Some(state) = columns.nth(3) else {
            return if line.trim_ascii().is_empty() {
                Ok(())
            } else {
                Err("a line without a state column".to_owned())
            };
        };
        let index = std::str::from_utf8(state)
            .ok()
            .and_then(|s| u8::from_str_radix(s, 16).ok())
            .and_then(|s| usize::from(s).checked_sub(1))
            .filter(|i| *i < TCP_STATES.len())
            .ok_or_else(|| format!("unknown TCP state {:?}", String::from_utf8_lossy(state)))?;
        self.0[index] += 1;
        Ok(())
    }
}

/// UDP sockets as cAdvisor counts them: every line is a socket (`listen`); queues and drops
/// from the lines with all 13 columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpUsage {
    pub listen: u64,
    pub dropped: u64,
    pub rx_queued: u64,
    pub tx_queued: u64,
}

impl UdpUsage {
    /// Counts one socket line (`sl local rem st tx_queue:rx_queue tr:tm retrnsmt uid timeout
    /// inode ref pointer drops`).
    pub fn add(&mut self, line: &[u8]) {
        if line.trim_ascii().is_empty() {
            return;
        }
        self.listen += 1;
        let columns: [Option<&[u8]>; 14] = {
            let mut it = fields(line);
            std::array::from_fn(|_| it.next())
        };
        let (Some(queues), Some(drops), None) = (columns[4], columns[12], columns[13]) else {
            return;
        };
        let Some((tx, rx)) = std::str::from_utf8(queues)
            .ok()
            .and_then(|q| q.split_once(':'))
            .and_then(|(tx, rx)| {
                Some((
                    u64::from_str_radix(tx, 16).ok()?,
                    u64::from_str_radix(rx, 16).ok()?,
                ))
            })
        else {
            return;
        };
        self.tx_queued = self.tx_queued.saturating_add(tx);
        self.rx_queued = self.rx_queued.saturating_add(rx);
        if let Some(drops) = crate::parse::parse_u64(drops) {
            self.dropped = self.dropped.saturating_add(drops);
        }
    }
}

/// Streams `/proc/<pid>/net/<name>`, header line skipped; `Ok(false)` when it does not exist.
fn scan(
    lines: &mut LineReader,
    path: &mut PathBuf,
    procfs: &std::path::Path,
    pid: u32,
    name: &str,
    mut add: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<bool, KindError> {
    path.clear();
    path.push(procfs);
    path.push(pid.to_string());
    path.push("net");
    path.push(name);
    let mut first = true;
    let mut failure = None;
    let pass = lines.for_each_line(path, |line| {
        if std::mem::take(&mut first) || failure.is_some() {
            return;
        }
        if let Err(err) = add(line) {
            failure = Some(err);
        }
    });
    let file = format!("net/{name}");
    match pass {
        Ok(pass) if pass.overlong > 0 => Err(KindError::garbage(file, "a line longer than 64 KiB")),
        Ok(_) => match failure {
            Some(what) => Err(KindError::garbage(file, what)),
            None => Ok(true),
        },
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(KindError::read(file, err)),
    }
}

/// Reads both files of a kind (IPv4, IPv6) for one container: each fails alone.
fn both<T: Default>(
    lines: &mut LineReader,
    path: &mut PathBuf,
    procfs: &std::path::Path,
    pid: u32,
    names: [&str; 2],
    add: impl Fn(&mut T, &[u8]) -> Result<(), String>,
) -> ([Option<T>; 2], Option<KindError>) {
    let mut error = None;
    let found = names.map(|name| {
        let mut counts = T::default();
        match scan(lines, path, procfs, pid, name, |line| {
            add(&mut counts, line)
        }) {
            Ok(true) => Some(counts),
            Ok(false) => None,
            Err(err) => {
                error = Some(err);
                None
            }
        }
    });
    (found, error)
}

#[derive(Debug, Default)]
pub struct Tcp {
    lines: LineReader,
    path: PathBuf,
    families: Option<KindFamilies>,
}

impl CgroupKind for Tcp {
    fn name(&self) -> &'static str {
        "tcp"
    }

    fn collect(&mut self, cgroup: &Cgroup<'_>, files: &mut CgroupFiles) -> Result<(), KindError> {
        let Some(pid) = cgroup.netns_pid else {
            return Ok(());
        };
        let (found, error) = both(
            &mut self.lines,
            &mut self.path,
            &files.procfs,
            pid,
            ["tcp", "tcp6"],
            TcpStates::add,
        );
        let families = self
            .families
            .get_or_insert_with(|| KindFamilies::new(TCP_FAMILIES));
        for (family, states) in found.iter().enumerate() {
            let Some(states) = states else { continue };
            for (state, count) in TCP_STATES.iter().zip(states.0) {
                families.push(family, cgroup.base, &[("tcp_state", state)], count as f64);
            }
        }
        error.map_or(Ok(()), Err)
    }

    fn finish(&mut self, out: &mut Vec<MetricFamily>) {
        if let Some(families) = &mut self.families {
            families.drain_into(out);
        }
    }
}

#[derive(Debug, Default)]
pub struct Udp {
    lines: LineReader,
    path: PathBuf,
    families: Option<KindFamilies>,
}

impl CgroupKind for Udp {
    fn name(&self) -> &'static str {
        "udp"
    }

    fn collect(&mut self, cgroup: &Cgroup<'_>, files: &mut CgroupFiles) -> Result<(), KindError> {
        let Some(pid) = cgroup.netns_pid else {
            return Ok(());
        };
        let (found, error) = both(
            &mut self.lines,
            &mut self.path,
            &files.procfs,
            pid,
            ["udp", "udp6"],
            |usage: &mut UdpUsage, line| {
                usage.add(line);
                Ok(())
            },
        );
        let families = self
            .families
            .get_or_insert_with(|| KindFamilies::new(UDP_FAMILIES));
        for (family, usage) in found.iter().enumerate() {
            let Some(u) = usage else { continue };
            for (state, count) in [
                ("listen", u.listen),
                ("dropped", u.dropped),
                ("rxqueued", u.rx_queued),
                ("txqueued", u.tx_queued),
            ] {
                families.push(family, cgroup.base, &[("udp_state", state)], count as f64);
            }
        }
        error.map_or(Ok(()), Err)
    }

    fn finish(&mut self, out: &mut Vec<MetricFamily>) {
        if let Some(families) = &mut self.families {
            families.drain_into(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 20 4 30 10 -1\n   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 12347 1 0000000000000000 20 4 30 10 -1\n";
    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n  123: 00000000:0044 00000000:0000 07 00000010:00000200 00:00000000 00000000     0        0 1234 2 0000000000000000 3\n  124: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 1235 2 0000000000000000 0\n  125: short line\n";

    fn tcp(text: &str) -> Result<TcpStates, String> {
        let mut states = TcpStates::default();
        for line in text.lines().skip(1) {
            states.add(line.as_bytes())?;
        }
        Ok(states)
    }

    #[test]
    fn tcp_states_and_udp_queues() {
        let states = tcp(TCP).unwrap();
        assert_eq!(states.0[0], 2, "established");
        assert_eq!(states.0[9], 1, "listen");
        assert_eq!(states.0.iter().sum::<u64>(), 3);
        assert!(
            tcp("h\n 0: a b 0C x\n").is_err(),
            "state 12 is not a TCP state"
        );
        assert!(tcp("h\n 0: a b 00 x\n").is_err());
        assert!(tcp("h\n 0: a\n").is_err());
        assert_eq!(tcp("h\n\n").unwrap(), TcpStates::default());
        let mut udp = UdpUsage::default();
        for line in UDP.lines().skip(1) {
            udp.add(line.as_bytes());
        }
        assert_eq!(
            udp,
            UdpUsage {
                listen: 3,
                dropped: 3,
                rx_queued: 0x200,
                tx_queued: 0x10,
            }
        );
    }

    #[test]
    fn scans_this_process_namespace() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (found, error) = both(
            &mut LineReader::default(),
            &mut PathBuf::new(),
            std::path::Path::new("/proc"),
            std::process::id(),
            ["tcp", "tcp6"],
            TcpStates::add,
        );
        assert!(error.is_none(), "{error:?}");
        let states = found[0].unwrap();
        assert!(states.0[9] >= 1 && states.0[0] >= 2, "{states:?}");
    }

    proptest! {
        #[test]
        fn garbage_never_panics(lines in proptest::collection::vec("\\PC{0,120}", 0..20)) {
            let mut states = TcpStates::default();
            let mut udp = UdpUsage::default();
            for line in &lines {
                let _ = states.add(line.as_bytes());
                udp.add(line.as_bytes());
            }
        }

        #[test]
        fn truncated_lines_never_panic(cut in 0usize..400) {
            let mut states = TcpStates::default();
            let mut udp = UdpUsage::default();
            let text = &TCP.as_bytes()[..cut.min(TCP.len())];
            for line in text.split(|b| *b == b'\n') {
                let _ = states.add(line);
                udp.add(line);
            }
        }
    }
}
