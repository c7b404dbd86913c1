//! Parser of `/proc/<pid>/mountstats` (the NFS client's per-mount statistics) and of the
//! `addr=` super option of `/proc/<pid>/mountinfo`, for the `mountstats` collector.
//!
//! Hand-written: procfs-core's `MountStat` has no `xprt:` (transport) lines, which give the
//! `protocol` label and a third of the families. The rules are those of upstream's procfs
//! library (`parseMountStats`, `parseMountInfo`), quirks included, so a file upstream rejects
//! is rejected here: a `device` line with statistics of a type other than nfs/nfs4, a `bytes:`
//! line without exactly 8 numbers, `events:` without 27, a transport line of the wrong length
//! for its protocol and statistics version, a per-operation line of fewer than 9 fields.

use std::collections::HashMap;

/// One `device ... mounted on ... with fstype ...` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub device: String,
    pub mount_point: String,
    /// `None` for mounts the kernel prints no statistics for.
    pub nfs: Option<NfsStats>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NfsStats {
    pub age_seconds: f64,
    /// read, write, direct read, direct write, total read, total write, read pages, write pages.
    pub bytes: [u64; 8],
    /// The 27 counters of `events:`, in the kernel's order.
    pub events: Vec<u64>,
    pub operations: Vec<Operation>,
    pub transports: Vec<Transport>,
}

/// One line of the per-operation statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub name: String,
    /// requests, transmissions, major timeouts, bytes sent, bytes received, queue ms,
    /// response ms, request ms.
    pub counters: [u64; 8],
}

/// One `xprt:` line, normalised to the layout of a 1.1 TCP line (UDP has no connection
/// counters, RDMA has three fewer queue counters: those read 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Transport {
    pub protocol: String,
    /// port, bind, connect, connect idle time, idle time, sends, receives, bad transaction ids,
    /// active requests, backlog, maximum slots, sending queue, pending queue.
    pub counters: [u64; 13],
}

const BYTES_FIELDS: usize = 8;
const EVENTS_FIELDS: usize = 27;
const OPERATION_MIN_FIELDS: usize = 9;

/// Go's `strconv.ParseUint(s, 10, 64)`.
fn parse_u64(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text:?} is not an unsigned integer"));
    }
    text.parse()
        .map_err(|_| format!("{text:?} is out of range"))
}

fn parse_all(fields: &[&str]) -> Result<Vec<u64>, String> {
    fields.iter().map(|field| parse_u64(field)).collect()
}

/// Parses a whole `mountstats` file.
pub fn parse_mountstats(text: &str) -> Result<Vec<Mount>, String> {
    let mut lines = text.lines();
    let mut mounts = Vec::new();
    while let Some(line) = lines.next() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.first() != Some(&"device") {
            continue;
        }
        let mut mount = parse_device_line(&fields)?;
        if fields.len() > 8 {
            let fs_type = fields[7];
            if fs_type != "nfs" && fs_type != "nfs4" {
                return Err(format!("cannot parse mount statistics of type {fs_type:?}"));
            }
            let version = fields[8].strip_prefix("statvers=").unwrap_or(fields[8]);
            mount.nfs = Some(parse_nfs(&mut lines, version)?);
        }
        mounts.push(mount);
    }
    Ok(mounts)
}

fn parse_device_line(fields: &[&str]) -> Result<Mount, String> {
    let shape = [
        (0, "device"),
        (2, "mounted"),
        (3, "on"),
        (5, "with"),
        (6, "fstype"),
    ];
    if fields.len() < 8 || shape.iter().any(|(i, word)| fields[*i] != *word) {
        return Err(format!("invalid device line {:?}", fields.join(" ")));
    }
    Ok(Mount {
        device: fields[1].to_owned(),
        mount_point: fields[4].to_owned(),
        nfs: None,
    })
}

/// The statistics block after an NFS `device` line: keyed lines up to a blank line or the
/// `per-op statistics` header, then the operations up to the next blank line.
fn parse_nfs<'a>(
    lines: &mut impl Iterator<Item = &'a str>,
    version: &str,
) -> Result<NfsStats, String> {
    let mut stats = NfsStats {
        events: vec![0; EVENTS_FIELDS],
        ..NfsStats::default()
    };
    for line in lines.by_ref() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let Some(key) = fields.first() else {
            break;
        };
        match *key {
            "age:" => {
                let value = fields.get(1).ok_or("incomplete age line")?;
                stats.age_seconds = parse_age(value)?;
            }
            "bytes:" => {
                let values = parse_exactly(&fields[1..], BYTES_FIELDS, "bytes")?;
                stats.bytes.copy_from_slice(&values);
            }
            "events:" => stats.events = parse_exactly(&fields[1..], EVENTS_FIELDS, "events")?,
            "xprt:" => {
                if fields.len() < 3 {
                    return Err(format!("incomplete transport line {line:?}"));
                }
                stats
                    .transports
                    .push(parse_transport(&fields[1..], version)?);
            }
            "per-op" => break,
            // opts:, caps:, sec:, nfsv4:, "RPC iostats ...": nothing exported from them.
            _ => {}
        }
    }
    for line in lines.by_ref() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.is_empty() {
            break;
        }
        if fields.len() < OPERATION_MIN_FIELDS {
            return Err(format!("invalid per-operation line {line:?}"));
        }
        let values = parse_all(&fields[1..])?;
        let mut counters = [0u64; 8];
        counters.copy_from_slice(&values[..8]);
        stats.operations.push(Operation {
            name: fields[0].strip_suffix(':').unwrap_or(fields[0]).to_owned(),
            counters,
        });
    }
    Ok(stats)
}

fn parse_exactly(fields: &[&str], count: usize, what: &str) -> Result<Vec<u64>, String> {
    if fields.len() != count {
        return Err(format!(
            "invalid {what} line: {} values, expected {count}",
            fields.len()
        ));
    }
    parse_all(fields)
}

/// `age:` as Go's `time.ParseDuration(value + "s")` reads it: a decimal number of seconds,
/// optionally signed and fractional, within a Go duration's range.
fn parse_age(value: &str) -> Result<f64, String> {
    let unsigned = value.trim_start_matches(['+', '-']);
    let well_formed = value.len() - unsigned.len() <= 1
        && unsigned.bytes().any(|b| b.is_ascii_digit())
        && unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && unsigned.matches('.').count() <= 1;
    let seconds: f64 = if well_formed {
        value
            .parse()
            .map_err(|_| format!("invalid age {value:?}"))?
    } else {
        return Err(format!("invalid age {value:?}"));
    };
    // A Go duration is an int64 of nanoseconds.
    if seconds.abs() > i64::MAX as f64 / 1e9 {
        return Err(format!("age {value:?} out of range"));
    }
    Ok(seconds)
}

/// `xprt: <protocol> <values>`, checked against the lengths of the statistics version.
fn parse_transport(fields: &[&str], version: &str) -> Result<Transport, String> {
    let protocol = fields[0];
    let values = &fields[1..];
    let length_ok = match (version, protocol) {
        ("1.0", "tcp") => values.len() == 10,
        ("1.0", "udp") => values.len() == 7,
        ("1.1", "tcp") => values.len() == 13,
        ("1.1", "udp") => values.len() == 10,
        ("1.1", "rdma") => values.len() >= 20,
        ("1.0" | "1.1", _) => {
            return Err(format!(
                "invalid NFS protocol {protocol:?} in stats {version}"
            ));
        }
        _ => {
            return Err(format!(
                "unrecognized NFS transport stats version {version:?}"
            ));
        }
    };
    if !length_ok {
        return Err(format!(
            "invalid NFS transport stats {version} line for {protocol}: {} values",
            values.len()
        ));
    }
    let numbers = parse_all(values)?;
    let mut counters = [0u64; 13];
    match protocol {
        // UDP has no connect, connect idle and idle time: they are 0.
        "udp" => {
            counters[..2].copy_from_slice(&numbers[..2]);
            for (slot, value) in counters[5..].iter_mut().zip(&numbers[2..]) {
                *slot = *value;
            }
        }
        // RDMA has no sending and pending queue counters after the first ten.
        "rdma" => counters[..10].copy_from_slice(&numbers[..10]),
        _ => {
            for (slot, value) in counters.iter_mut().zip(&numbers) {
                *slot = *value;
            }
        }
    }
    Ok(Transport {
        protocol: protocol.to_owned(),
        counters,
    })
}

/// The `addr=` super option of every `mountinfo` line, in file order (the order of
/// `mountstats`); `None` for lines without it. A malformed line fails the file, as upstream.
pub fn mount_addresses(text: &str) -> Result<Vec<Option<String>>, String> {
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let n = fields.len();
            if n < 10 {
                return Err(format!("too few fields in mountinfo line {line:?}"));
            }
            if fields[n - 4] != "-" {
                return Err(format!("no separator in mountinfo line {line:?}"));
            }
            for id in &fields[..2] {
                // Go's strconv.Atoi: an optional sign, then digits.
                let digits = id.strip_prefix(['+', '-']).unwrap_or(id);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("invalid mount id in mountinfo line {line:?}"));
                }
            }
            let options: HashMap<&str, &str> = fields[n - 1]
                .split(',')
                .map(|option| {
                    let mut parts = option.split('=');
                    let key = parts.next().unwrap_or_default();
                    (key, parts.next().unwrap_or_default())
                })
                .collect();
            Ok(options.get("addr").map(|addr| (*addr).to_owned()))
        })
        .collect()
}
