//! The `advtcp` kind: `container_network_advance_tcp_stats_total{tcp_state}`, the `Tcp:` and
//! `TcpExt:` counters of `/proc/<pid>/net/netstat` and `/proc/<pid>/net/snmp` of the process
//! the network kind reads, as cAdvisor collects them: the kernel's counter names lowercased
//! are the label values, and every one of cAdvisor's 99 is written (0 where this kernel lacks
//! the counter). The files come in pairs of lines, names then values.

use std::path::PathBuf;

use octo_exporter_kit::{MetricFamily, MetricType};

use crate::cgroup_files::CgroupFiles;
use crate::cgroup_kind::{Cgroup, CgroupKind, FamilyDef, KindError, KindFamilies};
use crate::reader::Records;

const FAMILIES: &[FamilyDef] = &[(
    "container_network_advance_tcp_stats_total",
    MetricType::Gauge,
    "advance tcp connections statistic for container",
)];

/// cAdvisor's `tcp_state` values, in its order: its `TcpAdvancedStat` fields lowercased, which
/// are the kernel's counter names lowercased.
pub const COUNTERS: [&str; 99] = [
    "rtoalgorithm",
    "rtomin",
    "rtomax",
    "maxconn",
    "activeopens",
    "passiveopens",
    "attemptfails",
    "estabresets",
    "currestab",
    "insegs",
    "outsegs",
    "retranssegs",
    "inerrs",
    "outrsts",
    "incsumerrors",
    "embryonicrsts",
    "syncookiessent",
    "syncookiesrecv",
    "syncookiesfailed",
    "prunecalled",
    "rcvpruned",
    "ofopruned",
    "outofwindowicmps",
    "lockdroppedicmps",
    "tw",
    "twrecycled",
    "twkilled",
    "tcptimewaitoverflow",
    "tcptimeouts",
    "tcpspuriousrtos",
    "tcplossprobes",
    "tcplossproberecovery",
    "tcprenorecoveryfail",
    "tcpsackrecoveryfail",
    "tcprenofailures",
    "tcpsackfailures",
    "tcplossfailures",
    "delayedacks",
    "delayedacklocked",
    "delayedacklost",
    "listenoverflows",
    "listendrops",
    "tcphphits",
    "tcppureacks",
    "tcphpacks",
    "tcprenorecovery",
    "tcpsackrecovery",
    "tcpsackreneging",
    "tcpfackreorder",
    "tcpsackreorder",
    "tcprenoreorder",
    "tcptsreorder",
    "tcpfullundo",
    "tcppartialundo",
    "tcpdsackundo",
    "tcplossundo",
    "tcpfastretrans",
    "tcpslowstartretrans",
    "tcplostretransmit",
    "tcpretransfail",
    "tcprcvcollapsed",
    "tcpdsackoldsent",
    "tcpdsackofosent",
    "tcpdsackrecv",
    "tcpdsackoforecv",
    "tcpabortondata",
    "tcpabortonclose",
    "tcpabortonmemory",
    "tcpabortontimeout",
    "tcpabortonlinger",
    "tcpabortfailed",
    "tcpmemorypressures",
    "tcpmemorypressureschrono",
    "tcpsackdiscard",
    "tcpdsackignoredold",
    "tcpdsackignorednoundo",
    "tcpmd5notfound",
    "tcpmd5unexpected",
    "tcpmd5failure",
    "tcpsackshifted",
    "tcpsackmerged",
    "tcpsackshiftfallback",
    "tcpbacklogdrop",
    "pfmemallocdrop",
    "tcpminttldrop",
    "tcpdeferacceptdrop",
    "ipreversepathfilter",
    "tcpreqqfulldocookies",
    "tcpreqqfulldrop",
    "tcpfastopenactive",
    "tcpfastopenactivefail",
    "tcpfastopenpassive",
    "tcpfastopenpassivefail",
    "tcpfastopenlistenoverflow",
    "tcpfastopencookiereqd",
    "tcpsynretrans",
    "tcporigdatasent",
    "pawsactive",
    "pawsestab",
];

/// Reads the `Tcp` and `TcpExt` counters of one file into `values` (indexed like
/// [`COUNTERS`]). A names line whose values line has another number of columns, or a value
/// that is not a number, is an error (as for cAdvisor).
pub fn parse(text: &[u8], values: &mut [f64; 99]) -> Result<(), String> {
    let mut lines = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty());
    while let Some(names) = lines.next() {
        let values_line = lines.next().unwrap_or_default();
        let mut names = names.split(|b| *b == b' ').filter(|c| !c.is_empty());
        let protocol = names.next().unwrap_or_default();
        if protocol != b"Tcp:" && protocol != b"TcpExt:" {
            continue;
        }
        let mut numbers = values_line.split(|b| *b == b' ').filter(|c| !c.is_empty());
        if numbers.next() != Some(protocol) {
            return Err(format!(
                "{} names without their values line",
                String::from_utf8_lossy(protocol)
            ));
        }
        let mut names = names.peekable();
        loop {
            match (names.next(), numbers.next()) {
                (None, None) => break,
                (Some(name), Some(number)) => {
                    let value = number_of(number).ok_or_else(|| {
                        format!("not a number: {:?}", String::from_utf8_lossy(number))
                    })?;
                    let lowered = name.to_ascii_lowercase();
                    if let Some(index) = COUNTERS.iter().position(|c| c.as_bytes() == lowered) {
                        values[index] = value;
                    }
                }
                _ => {
                    return Err(format!(
                        "{} names and values differ in number",
                        String::from_utf8_lossy(protocol)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A counter value: unsigned, or signed where it has a minus (`MaxConn -1`).
fn number_of(text: &[u8]) -> Option<f64> {
    match text.strip_prefix(b"-") {
        Some(rest) => crate::parse::parse_u64(rest)
            .and_then(|v| i64::try_from(v).ok())
            .map(|v| -(v as f64)),
        None => crate::parse::parse_u64(text).map(|v| v as f64),
    }
}

#[derive(Debug)]
pub struct AdvTcp {
    dir: PathBuf,
    values: [f64; 99],
    families: KindFamilies,
}

impl Default for AdvTcp {
    fn default() -> Self {
        AdvTcp {
            dir: PathBuf::new(),
            values: [0.0; 99],
            families: KindFamilies::new(FAMILIES),
        }
    }
}

impl CgroupKind for AdvTcp {
    fn name(&self) -> &'static str {
        "advtcp"
    }

    fn collect(&mut self, cgroup: &Cgroup<'_>, files: &mut CgroupFiles) -> Result<(), KindError> {
        let Some(pid) = cgroup.netns_pid else {
            return Ok(());
        };
        self.dir.clear();
        self.dir.push(&files.procfs);
        self.dir.push(pid.to_string());
        self.dir.push("net");
        self.values = [0.0; 99];
        for file in ["netstat", "snmp"] {
            let dir = self.dir.clone();
            // Two lines per protocol, a few kilobytes: read whole.
            let text = match files.read_at(&dir, file, Records::Many) {
                Ok(Some(text)) => text,
                Ok(None) => return Ok(()),
                Err(err) => return Err(KindError::read(format!("net/{file}"), err)),
            };
            parse(text, &mut self.values).map_err(|what| KindError::garbage(file, what))?;
        }
        for (counter, value) in COUNTERS.iter().zip(self.values) {
            self.families
                .push(0, cgroup.base, &[("tcp_state", counter)], value);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<MetricFamily>) {
        self.families.drain_into(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SNMP: &str = "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens CurrEstab InCsumErrors\nTcp: 1 200 120000 -1 17 3 0\nUdp: InDatagrams\nUdp: 9\n";
    const NETSTAT: &str = "TcpExt: SyncookiesSent TW DelayedACKs TCPTimeouts TCPHPHits PAWSEstab TCPNewCounter\nTcpExt: 2 40 11 5 1000 7 99\nIpExt: InNoRoutes\nIpExt: 0\nMPTcpExt: MPCapableSYNRX\nMPTcpExt: 0\n";

    fn index(name: &str) -> usize {
        COUNTERS.iter().position(|c| *c == name).unwrap()
    }

    #[test]
    fn tcp_and_tcpext_counters() {
        let mut values = [0.0; 99];
        parse(NETSTAT.as_bytes(), &mut values).unwrap();
        parse(SNMP.as_bytes(), &mut values).unwrap();
        assert_eq!(values[index("maxconn")], -1.0);
        assert_eq!(values[index("rtomax")], 120000.0);
        assert_eq!(values[index("activeopens")], 17.0);
        assert_eq!(values[index("tw")], 40.0);
        assert_eq!(values[index("delayedacks")], 11.0);
        assert_eq!(values[index("tcphphits")], 1000.0);
        assert_eq!(values[index("pawsestab")], 7.0);
        assert_eq!(values[index("tcpfastopenactive")], 0.0);
        let mut values = [0.0; 99];
        assert!(parse(b"Tcp: A B\nTcp: 1\n", &mut values).is_err());
        assert!(parse(b"Tcp: A B\nTcp: 1 x\n", &mut values).is_err());
        assert!(parse(b"Tcp: A B\n", &mut values).is_err());
        assert!(parse(b"Udp: A B\nUdp: 1\n", &mut values).is_ok());
        assert_eq!(COUNTERS.len(), 99);
    }

    #[test]
    fn reads_this_machine() {
        let mut values = [0.0; 99];
        for file in ["netstat", "snmp"] {
            let text = std::fs::read(format!("/proc/self/net/{file}")).unwrap();
            parse(&text, &mut values).unwrap();
        }
        assert_eq!(values[index("rtoalgorithm")], 1.0);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes, &mut [0.0; 99]);
        }

        #[test]
        fn truncated_files_never_panic(cut in 0usize..200) {
            let text = &SNMP.as_bytes()[..cut.min(SNMP.len())];
            let _ = parse(text, &mut [0.0; 99]);
        }
    }
}
