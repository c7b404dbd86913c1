//! `tcpstat` (off by default): `node_tcp_connection_states{state}`, the number of TCP sockets per
//! state, plus `state="rx_queued_bytes"`/`"tx_queued_bytes"` (the sums of the receive and send
//! queue fields), over IPv4 and, when `<procfs>/net/tcp6` exists, IPv6.
//!
//! As upstream, the sockets come from a `NETLINK_SOCK_DIAG` dump (every state, no extensions):
//! on a host with many connections it costs a fraction of reading `/proc/net/tcp`, which the
//! kernel formats line by line. Where sock_diag is unavailable (no `tcp_diag` support, a seccomp
//! profile refusing netlink), `<procfs>/net/tcp` and `tcp6` are streamed instead: the same
//! sockets and states, with one difference: for a listening socket, sock_diag reports the accept
//! backlog *limit* in the send-queue field (which upstream adds to `tx_queued_bytes`), the file
//! its real send queue (0).

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::netlink;
use crate::paths::Paths;
use crate::socket_table::{SocketLine, scan_socket_table};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(TcpStat {
        v4: paths.proc("net/tcp"),
        v6: paths.proc("net/tcp6"),
        use_netlink: true,
        fallback_logged: AtomicBool::new(false),
    }))
}

struct TcpStat {
    v4: PathBuf,
    v6: PathBuf,
    /// False only in tests of the file reader.
    use_netlink: bool,
    fallback_logged: AtomicBool,
}

/// Upstream's names for the kernel's TCP states 1..=11.
fn state_name(state: u8) -> &'static str {
    match state {
        1 => "established",
        2 => "syn_sent",
        3 => "syn_recv",
        4 => "fin_wait1",
        5 => "fin_wait2",
        6 => "time_wait",
        7 => "close",
        8 => "close_wait",
        9 => "last_ack",
        10 => "listen",
        11 => "closing",
        _ => "unknown",
    }
}

/// Counts per state (index = kernel state; 0 and >11 go to "unknown") and the queue sums.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    states: [u64; 12],
    sockets: u64,
    rx_queued: u64,
    tx_queued: u64,
}

impl Tally {
    fn add(&mut self, socket: SocketLine) {
        let index = if (1..=11).contains(&socket.state) {
            usize::from(socket.state)
        } else {
            0
        };
        self.states[index] += 1;
        self.sockets += 1;
        self.rx_queued = self.rx_queued.wrapping_add(socket.rx_queue);
        self.tx_queued = self.tx_queued.wrapping_add(socket.tx_queue);
    }

    fn family(&self) -> MetricFamily {
        let mut family =
            MetricFamily::gauge("node_tcp_connection_states", "Number of connection states.");
        for (state, &count) in self.states.iter().enumerate() {
            if count > 0 {
                family.push(&[("state", state_name(state as u8))], count as f64);
            }
        }
        if self.sockets > 0 {
            family.push(&[("state", "rx_queued_bytes")], self.rx_queued as f64);
            family.push(&[("state", "tx_queued_bytes")], self.tx_queued as f64);
        }
        family
    }
}

impl TcpStat {
    fn tally_netlink(&self, ipv6: bool) -> Result<Tally, netlink::NetlinkError> {
        let mut tally = Tally::default();
        netlink::dump_tcp_sockets(false, |state, rx, tx| {
            tally.add(SocketLine {
                state,
                tx_queue: u64::from(tx),
                rx_queue: u64::from(rx),
            })
        })?;
        if ipv6 {
            netlink::dump_tcp_sockets(true, |state, rx, tx| {
                tally.add(SocketLine {
                    state,
                    tx_queue: u64::from(tx),
                    rx_queue: u64::from(rx),
                })
            })?;
        }
        Ok(tally)
    }

    fn tally_files(&self) -> Result<Tally, CollectorError> {
        let mut tally = Tally::default();
        if !scan_socket_table(&self.v4, |socket| tally.add(socket))? {
            return Err(CollectorError::io(
                &self.v4,
                std::io::Error::from(ErrorKind::NotFound),
            ));
        }
        scan_socket_table(&self.v6, |socket| tally.add(socket))?;
        Ok(tally)
    }
}

impl Collector for TcpStat {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let netlink = if self.use_netlink {
            match self.tally_netlink(self.v6.exists()) {
                Ok(tally) => Some(tally),
                Err(err) => {
                    if !self.fallback_logged.swap(true, Ordering::Relaxed) {
                        tracing::warn!(err = %err, "sock_diag netlink unavailable, reading /proc/net/tcp{{,6}} instead");
                    }
                    None
                }
            }
        } else {
            None
        };
        let tally = match netlink {
            Some(tally) => tally,
            None => self
                .tally_files()
                .map_err(CollectorError::not_found_as_no_data)?,
        };
        out.push(tally.family());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;
    use std::path::Path;

    use crate::socket_table::scan_reader;

    /// Reads a whole socket table from any reader.
    fn tally_of(text: impl std::io::Read) -> Result<Tally, CollectorError> {
        let mut tally = Tally::default();
        scan_reader(BufReader::new(text), Path::new("test"), &mut |s| {
            tally.add(s)
        })?;
        Ok(tally)
    }

    const TCP: &str = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2740 1 ffff88003d3af3c0 100 0 0 10 0
   1: 0F02000A:0016 0202000A:8B6B 01 00000015:00000001 02:000AC99B 00000000     0        0 3652 4 ffff88003d3ae040 21 4 31 47 46
   2: 0F02000A:0016 0202000A:8B6C 01 00000000:00000002 02:000AC99B 00000000     0        0 3653 4 ffff88003d3ae041 21 4 31 47 46
   3: 0F02000A:0017 0202000A:8B6D 06 00000000:00000000 03:00000A3C 00000000     0        0 0 3 ffff88003d3ae042
";

    #[test]
    fn counts_states_and_queues() {
        let tally = tally_of(TCP.as_bytes()).unwrap();
        assert_eq!(tally.states[1], 2);
        assert_eq!(tally.states[10], 1);
        assert_eq!(tally.states[6], 1);
        assert_eq!(tally.tx_queued, 0x15);
        assert_eq!(tally.rx_queued, 3);
        let family = tally.family();
        let get = |state: &str| {
            family
                .samples
                .iter()
                .find(|s| s.labels[0].1 == state)
                .map(|s| s.value)
        };
        assert_eq!(get("established"), Some(2.0));
        assert_eq!(get("listen"), Some(1.0));
        assert_eq!(get("time_wait"), Some(1.0));
        assert_eq!(get("close"), None);
        assert_eq!(get("tx_queued_bytes"), Some(21.0));
        assert!(tally_of("header\n   0: 0:0 0:0 ZZ 0:0\n".as_bytes()).is_err());
        assert!(
            tally_of("header\n".as_bytes())
                .unwrap()
                .family()
                .samples
                .is_empty()
        );
    }

    #[test]
    fn live_tables_count_a_listener_and_a_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _server = listener.accept().unwrap();
        for use_netlink in [true, false] {
            let collector = TcpStat {
                v4: Paths::default().proc("net/tcp"),
                v6: Paths::default().proc("net/tcp6"),
                use_netlink,
                fallback_logged: AtomicBool::new(false),
            };
            let mut out = Vec::new();
            collector.update(&mut out).unwrap();
            let count = |state: &str| {
                out[0]
                    .samples
                    .iter()
                    .find(|s| s.labels[0].1 == state)
                    .map_or(0.0, |s| s.value)
            };
            assert!(count("listen") >= 1.0, "netlink: {use_netlink}");
            assert!(count("established") >= 2.0, "both ends are established");
        }
        // The sock_diag source itself works on this machine (no silent fallback).
        let mut sockets = 0;
        netlink::dump_tcp_sockets(false, |_, _, _| sockets += 1).unwrap();
        assert!(sockets >= 3);
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,160}\n){0,6}") {
            let _ = tally_of(text.as_bytes());
        }

        #[test]
        fn truncated_lines_never_panic(cut in 0usize..400) {
            let cut = cut.min(TCP.len());
            let _ = tally_of(&TCP.as_bytes()[..cut]);
        }
    }
}
