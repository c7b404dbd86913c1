//! Parsers of the kernel's Sun RPC statistics: `/proc/net/rpc/nfs` (the NFS client) and
//! `/proc/net/rpc/nfsd` (the NFS server), shared by the `nfs` and `nfsd` collectors.
//!
//! Hand-written: procfs-core parses neither file. The rules are those of upstream's procfs
//! library (`nfs.ParseClientRPCStats` / `ParseServerRPCStats`): every line is `<key> <u64>...`;
//! an unknown key, a non-number or a line of the wrong length fails the whole file; a line the
//! kernel does not print leaves its counters at 0. Procedure lines start with their own count,
//! which must match the values that follow.

/// The NFSv2 procedures, in the kernel's order.
pub const V2_PROCEDURES: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// The NFSv3 procedures, in the kernel's order.
pub const V3_PROCEDURES: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// The NFSv4 client operations, in the kernel's order (upstream's names).
pub const V4_CLIENT_OPERATIONS: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "GetDeviceInfo",
    "LayoutGet",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

/// The NFSv4 server operations of `proc4ops`, in the kernel's order (upstream's names). The
/// kernel prints 39 (2.5) or 40 (2.6+); the 40th is `RelLockOwner`.
pub const V4_SERVER_OPERATIONS: [&str; 40] = [
    "Op0Unused",
    "Op1Unused",
    "Op2Future",
    "Access",
    "Close",
    "Commit",
    "Create",
    "DelegPurge",
    "DelegReturn",
    "GetAttr",
    "GetFH",
    "Link",
    "Lock",
    "Lockt",
    "Locku",
    "Lookup",
    "LookupRoot",
    "Nverify",
    "Open",
    "OpenAttr",
    "OpenConfirm",
    "OpenDgrd",
    "PutFH",
    "PutPubFH",
    "PutRootFH",
    "Read",
    "ReadDir",
    "ReadLink",
    "Remove",
    "Rename",
    "Renew",
    "RestoreFH",
    "SaveFH",
    "SecInfo",
    "SetAttr",
    "SetClientID",
    "SetClientIDConfirm",
    "Verify",
    "Write",
    "RelLockOwner",
];

/// The `net` line: `<packets> <udp> <tcp> <tcp connections>`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Network {
    pub udp_count: u64,
    pub tcp_count: u64,
    pub tcp_connect: u64,
}

/// `/proc/net/rpc/nfs`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientStats {
    pub network: Network,
    /// `rpc`: calls, retransmissions, authentication refreshes.
    pub rpc: [u64; 3],
    pub v2: [u64; 18],
    pub v3: [u64; 22],
    pub v4: [u64; 59],
}

/// `/proc/net/rpc/nfsd`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStats {
    /// `rc`: hits, misses, nocache.
    pub reply_cache: [u64; 3],
    /// `fh`: the first is the stale count; the kernel no longer updates the others.
    pub file_handles_stale: u64,
    /// `io`: bytes read, bytes written.
    pub io: [u64; 2],
    /// `th`: the thread count (the rest of the line is a histogram of no use).
    pub threads: u64,
    /// `ra`: cache size and not-found count (the histogram between them is not exported).
    pub read_ahead_size: u64,
    pub read_ahead_not_found: u64,
    pub network: Network,
    /// `rpc`: calls, bad calls, bad format, bad auth, bad client.
    pub rpc: [u64; 5],
    pub v2: [u64; 18],
    pub v3: [u64; 22],
    pub v4_ops: [u64; 40],
    pub wdeleg_getattr: u64,
}

// Written out: `Default` is derived for arrays of up to 32 elements only.
impl Default for ClientStats {
    fn default() -> Self {
        ClientStats {
            network: Network::default(),
            rpc: [0; 3],
            v2: [0; 18],
            v3: [0; 22],
            v4: [0; 59],
        }
    }
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            reply_cache: [0; 3],
            file_handles_stale: 0,
            io: [0; 2],
            threads: 0,
            read_ahead_size: 0,
            read_ahead_not_found: 0,
            network: Network::default(),
            rpc: [0; 5],
            v2: [0; 18],
            v3: [0; 22],
            v4_ops: [0; 40],
            wdeleg_getattr: 0,
        }
    }
}

/// Go's `strconv.ParseUint(s, 10, 64)`: digits only (no sign), no overflow.
fn parse_u64(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text:?} is not an unsigned integer"));
    }
    text.parse()
        .map_err(|_| format!("{text:?} is out of range for a 64-bit counter"))
}

fn parse_values<'a>(fields: impl Iterator<Item = &'a str>) -> Result<Vec<u64>, String> {
    fields.map(parse_u64).collect()
}

/// Splits a line into its key and values; a line needs at least one value.
fn key_and_fields(line: &str) -> Result<(&str, Vec<&str>), String> {
    let mut fields = line.split_ascii_whitespace();
    let key = fields.next().unwrap_or_default();
    let rest: Vec<&str> = fields.collect();
    if rest.is_empty() {
        return Err(format!("invalid metric line {line:?}"));
    }
    Ok((key, rest))
}

fn exactly<const N: usize>(values: &[u64], what: &str) -> Result<[u64; N], String> {
    values
        .try_into()
        .map_err(|_| format!("invalid {what} line: {} values, expected {N}", values.len()))
}

fn network(values: &[u64]) -> Result<Network, String> {
    let [_, udp_count, tcp_count, tcp_connect] = exactly::<4>(values, "net")?;
    Ok(Network {
        udp_count,
        tcp_count,
        tcp_connect,
    })
}

/// A procedure line: its count first, then at least `min` counters, all of which are kept up
/// to `N` (an older kernel printing fewer leaves the rest 0).
fn procedures<const N: usize>(values: &[u64], min: usize, what: &str) -> Result<[u64; N], String> {
    let (count, counters) = values
        .split_first()
        .ok_or_else(|| format!("empty {what} line"))?;
    if usize::try_from(*count).ok() != Some(counters.len()) || counters.len() < min {
        return Err(format!(
            "invalid {what} line: count {count}, {} values",
            counters.len()
        ));
    }
    let mut out = [0u64; N];
    for (slot, value) in out.iter_mut().zip(counters) {
        *slot = *value;
    }
    Ok(out)
}

/// Parses `/proc/net/rpc/nfs`.
pub fn parse_client(text: &str) -> Result<ClientStats, String> {
    let mut stats = ClientStats::default();
    for line in text.lines() {
        let (key, fields) = key_and_fields(line)?;
        let values = parse_values(fields.into_iter())?;
        match key {
            "net" => stats.network = network(&values)?,
            "rpc" => stats.rpc = exactly::<3>(&values, "rpc")?,
            "proc2" => stats.v2 = procedures(&values, 18, key)?,
            "proc3" => stats.v3 = procedures(&values, 22, key)?,
            // Older kernels print fewer v4 operations: the rest stay 0.
            "proc4" => stats.v4 = procedures(&values, 0, key)?,
            _ => return Err(format!("unknown NFS metric line {key:?}")),
        }
    }
    Ok(stats)
}

/// Parses `/proc/net/rpc/nfsd`.
pub fn parse_server(text: &str) -> Result<ServerStats, String> {
    let mut stats = ServerStats::default();
    for line in text.lines() {
        let (key, fields) = key_and_fields(line)?;
        // `th` ends with floating-point histogram buckets; only its first two fields count.
        let values = if key == "th" {
            if fields.len() < 2 {
                return Err(format!("invalid NFSd th metric line {line:?}"));
            }
            parse_values(fields.into_iter().take(2))?
        } else {
            parse_values(fields.into_iter())?
        };
        match key {
            "rc" => stats.reply_cache = exactly::<3>(&values, key)?,
            "fh" => stats.file_handles_stale = exactly::<5>(&values, key)?[0],
            "io" => stats.io = exactly::<2>(&values, key)?,
            "th" => stats.threads = values[0],
            "ra" => {
                let ra = exactly::<12>(&values, key)?;
                stats.read_ahead_size = ra[0];
                stats.read_ahead_not_found = ra[11];
            }
            "net" => stats.network = network(&values)?,
            "rpc" => stats.rpc = exactly::<5>(&values, key)?,
            "proc2" => stats.v2 = procedures(&values, 18, key)?,
            "proc3" => stats.v3 = procedures(&values, 22, key)?,
            // `proc4` (null, compound) is validated but not exported.
            "proc4" => {
                procedures::<2>(&values, 2, key)?;
                if values.len() != 3 {
                    return Err(format!("invalid proc4 line {line:?}"));
                }
            }
            "proc4ops" => stats.v4_ops = procedures(&values, 39, key)?,
            "wdeleg_getattr" => stats.wdeleg_getattr = values[0],
            _ => return Err(format!("unknown NFSd metric line {key:?}")),
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "\
net 70 70 69 45
rpc 1218785755 374636 1218815394
proc2 18 16 57 74 52 71 73 45 86 0 52 83 61 17 53 50 23 70 82
proc3 22 0 1061909262 48906 4077635 117661341 5 29391916 2570425 2993289 590 0 0 7815 15 1130 0 3983 92385 13332 2 1 23729
proc4 48 98 51 54 83 85 23 24 1 28 73 68 83 12 84 39 68 59 58 88 29 74 69 96 21 84 15 53 86 54 66 56 97 36 49 32 85 81 11 58 32 67 13 28 35 1 90 26 0
";

    const SERVER: &str = "\
rc 0 6 18622
fh 0 0 0 0 0
io 157286400 72864
th 8 0 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000
ra 32 0 0 0 0 0 0 0 0 0 0 0
net 972 55 917 1
rpc 18628 3 1 2 0
proc2 18 2 69 0 0 4410 0 0 0 0 0 0 0 0 0 0 0 99 2
proc3 22 2 112 0 2719 111 0 0 0 0 0 0 0 0 0 0 0 27 216 0 2 1 0
proc4 2 2 10853
proc4ops 72 0 0 0 1098 2 0 0 0 0 8179 5896 0 0 0 0 5900 0 0 2 0 2 0 9609 0 2 150 1272 0 0 0 1236 0 0 0 0 3 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
wdeleg_getattr 15
";

    #[test]
    fn reads_the_client_file() {
        let stats = parse_client(CLIENT).unwrap();
        assert_eq!(
            stats.network,
            Network {
                udp_count: 70,
                tcp_count: 69,
                tcp_connect: 45
            }
        );
        assert_eq!(stats.rpc, [1218785755, 374636, 1218815394]);
        assert_eq!(stats.v2[0], 16);
        assert_eq!(stats.v3[21], 23729);
        assert_eq!((stats.v4[0], stats.v4[47], stats.v4[48]), (98, 0, 0));
    }

    #[test]
    fn reads_the_server_file() {
        let stats = parse_server(SERVER).unwrap();
        assert_eq!(stats.reply_cache, [0, 6, 18622]);
        assert_eq!(stats.io, [157286400, 72864]);
        assert_eq!((stats.threads, stats.read_ahead_size), (8, 32));
        assert_eq!(stats.rpc, [18628, 3, 1, 2, 0]);
        assert_eq!(stats.v4_ops[3], 1098);
        assert_eq!(stats.wdeleg_getattr, 15);
    }

    #[test]
    fn rejects_what_upstream_rejects() {
        for bad in [
            "net 1 2 3\n",
            "rpc 1 2\n",
            "proc2 17 1 2\n",
            "proc3 2 1\n",
            "nope 1\n",
            "net\n",
            "net 1 2 -3 4\n",
            "net 1 2 +3 4\n",
            "net 1 2 99999999999999999999 4\n",
        ] {
            assert!(parse_client(bad).is_err(), "{bad:?}");
        }
        for bad in ["th 8\n", "proc4 3 1 2 3\n", "proc4ops 2 1 2\n", "ra 1 2\n"] {
            assert!(parse_server(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_client("").unwrap(), ClientStats::default());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "([a-z0-9_ .+-]{0,40}\n){0,6}") {
            let _ = parse_client(&text);
            let _ = parse_server(&text);
        }

        #[test]
        fn truncation_never_panics(cut in 0usize..2000) {
            let _ = parse_client(&CLIENT[..cut.min(CLIENT.len())]);
            let _ = parse_server(&SERVER[..cut.min(SERVER.len())]);
        }
    }
}
