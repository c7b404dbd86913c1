//! `--probe.allowed-targets`: the targets a request may name with `?target=` (the multi-target
//! `/probe` of the mysqld and nginx exporters), when the operator gives a list. Without one, any
//! target is probed, as upstream does. One matcher for every exporter, so the rule is the same
//! across the stack.
//!
//! An entry is one of:
//! - `host:port` with `*` and `?` wildcards that stay inside one dot-separated label
//!   (`db-*.example.com:3306`, `*.db.internal:*`, `[fd00::*]:3306`): matched against the
//!   target's host and port as written, case-insensitively, so `10.0.*:3306` does not admit
//!   `10.0.1.evil.com:3306`;
//! - a network, `10.0.0.0/8` or `fd00::/8`: matches targets written as an address in it, any
//!   port (a host name never matches a network: it is resolved after the check, by DNS);
//! - `unix:///path`, with `*` and `?` inside one path component.
//!
//! Hand-written: the glob rule (wildcards that never cross a label or a path component) is the
//! point, and general glob crates let `*` cross dots.

use std::net::IpAddr;
use std::path::Path;

/// Where a requested target points, as the exporter read it from `?target=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeTarget<'a> {
    /// A host name or an address (without brackets), and a port.
    Tcp {
        /// As written in the request.
        host: &'a str,
        /// The port, the scheme's default where the request gave none.
        port: u16,
    },
    /// A unix socket.
    Unix(&'a Path),
}

/// The entries of `--probe.allowed-targets`; empty when the flag is not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedTargets {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Network { address: IpAddr, prefix: u8 },
    HostPort { host: String, port: String },
    Socket(String),
}

/// An entry of the flag that is not in the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--probe.allowed-targets entry {entry:?}: {reason}")]
pub struct AllowedTargetError {
    /// The entry as given.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

impl AllowedTargets {
    /// Reads the flag's values; each may hold several entries separated by commas.
    pub fn parse<'a>(
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, AllowedTargetError> {
        let mut patterns = Vec::new();
        for entry in values
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            patterns.push(Pattern::parse(entry).map_err(|reason| AllowedTargetError {
                entry: entry.to_owned(),
                reason,
            })?);
        }
        Ok(AllowedTargets { patterns })
    }

    /// Whether the operator gave a list.
    pub fn is_restricted(&self) -> bool {
        !self.patterns.is_empty()
    }

    /// Whether a request may name this target.
    pub fn allows(&self, target: &ProbeTarget<'_>) -> bool {
        !self.is_restricted() || self.patterns.iter().any(|p| p.matches(target))
    }
}

impl Pattern {
    fn parse(entry: &str) -> Result<Pattern, String> {
        if let Some(path) = entry.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err("a socket path must be absolute".into());
            }
            return Ok(Pattern::Socket(path.to_owned()));
        }
        if let Some((address, prefix)) = entry.split_once('/') {
            let address: IpAddr = address
                .parse()
                .map_err(|_| "not an IP address before '/'".to_owned())?;
            let address = canonical(address);
            let bits = if address.is_ipv4() { 32 } else { 128 };
            let prefix = prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("the prefix length must be 0 to {bits}"))?;
            return Ok(Pattern::Network { address, prefix });
        }
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or("missing ']'")?;
            (host, after.strip_prefix(':').ok_or("missing :port")?)
        } else {
            let (host, port) = entry.rsplit_once(':').ok_or("missing :port")?;
            if host.contains(':') {
                return Err("an IPv6 address goes in brackets, [::1]:9104".into());
            }
            (host, port)
        };
        if host.is_empty() || !host.bytes().all(|b| host_byte(b) || b == b'*' || b == b'?') {
            return Err("the host may hold letters, digits, '.', '-', '_', ':', * and ?".into());
        }
        if port.is_empty()
            || !port
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'?')
        {
            return Err("the port may hold digits, * and ?".into());
        }
        Ok(Pattern::HostPort {
            host: host.to_ascii_lowercase(),
            port: port.to_owned(),
        })
    }

    fn matches(&self, target: &ProbeTarget<'_>) -> bool {
        match (self, target) {
            (Pattern::Network { address, prefix }, ProbeTarget::Tcp { host, .. }) => host
                .parse::<IpAddr>()
                .is_ok_and(|ip| in_network(canonical(ip), *address, *prefix)),
            (Pattern::HostPort { host, port }, ProbeTarget::Tcp { host: h, port: p }) => {
                h.bytes().all(host_byte)
                    && glob(host.as_bytes(), h.to_ascii_lowercase().as_bytes(), b'.')
                    && glob(port.as_bytes(), p.to_string().as_bytes(), b'.')
            }
            (Pattern::Socket(pattern), ProbeTarget::Unix(path)) => path
                .to_str()
                .is_some_and(|path| glob(pattern.as_bytes(), path.as_bytes(), b'/')),
            _ => false,
        }
    }
}

/// What a host name or address may hold; anything else is refused when a list is in force.
fn host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':')
}

/// IPv4-mapped IPv6 addresses as IPv4, so `[::ffff:10.0.0.1]` is in `10.0.0.0/8`.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    let (ip, network, bits) = match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            (u128::from(ip.to_bits()), u128::from(net.to_bits()), 32)
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => (ip.to_bits(), net.to_bits(), 128),
        _ => return false,
    };
    let shift = bits - u32::from(prefix);
    shift >= bits || ip >> shift == network >> shift
}

/// `*` (any run) and `?` (one character), neither crossing `separator`.
fn glob(pattern: &[u8], text: &[u8], separator: u8) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if (c == b'?' && text[t] != separator) || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last star take one more character, unless that is a separator.
                Some((star_p, star_t)) if text[star_t] != separator => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                _ => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn list(entries: &[&str]) -> AllowedTargets {
        AllowedTargets::parse(entries.iter().copied()).unwrap()
    }

    /// `host:port`, `[v6]:port` or `unix:///path`, as the mysqld exporter's targets read.
    fn allows(list: &AllowedTargets, target: &str) -> bool {
        if let Some(path) = target.strip_prefix("unix://") {
            return list.allows(&ProbeTarget::Unix(Path::new(path)));
        }
        let (host, port) = target.rsplit_once(':').unwrap();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        list.allows(&ProbeTarget::Tcp {
            host,
            port: port.parse().unwrap(),
        })
    }

    #[test]
    fn no_list_allows_everything() {
        let open = list(&[]);
        assert!(!open.is_restricted());
        assert!(allows(&open, "anything:1"));
        assert!(!list(&["", " , "]).is_restricted());
    }

    #[test]
    fn host_port_globs_stay_inside_a_label() {
        let l = list(&["db-*.example.com:3306,127.0.0.1:*", "[::1]:33?6"]);
        assert!(allows(&l, "db-1.example.com:3306"));
        assert!(allows(&l, "DB-2.Example.COM:3306"));
        assert!(allows(&l, "127.0.0.1:13306"));
        assert!(allows(&l, "[::1]:3306"));
        for refused in [
            "db-1.example.com:3307",
            "db-1.evil.example.com:3306",
            "db-1.example.com.evil:3306",
            "db-.example.com.x:3306",
            "127.0.0.2:3306",
            "localhost:3306",
            "[::1]:3307",
            "unix:///run/mysqld/mysqld.sock",
        ] {
            assert!(!allows(&l, refused), "{refused}");
        }
        let l = list(&["10.0.*:3306"]);
        assert!(allows(&l, "10.0.7:3306"));
        assert!(!allows(&l, "10.0.1.evil.com:3306"));
    }

    #[test]
    fn networks_match_addresses_only() {
        let l = list(&["10.0.0.0/8", "fd00::/8"]);
        assert!(allows(&l, "10.1.2.3:3306"));
        assert!(allows(&l, "[::ffff:10.0.0.1]:3306"));
        assert!(allows(&l, "[fd12::1]:1"));
        assert!(!allows(&l, "11.0.0.1:3306"));
        assert!(!allows(&l, "db.10.0.0.0:3306"));
        assert!(!allows(&l, "[fe80::1]:3306"));
        assert!(allows(&list(&["0.0.0.0/0"]), "192.0.2.1:1"));
        assert!(allows(&list(&["192.0.2.1/32"]), "192.0.2.1:1"));
        assert!(!allows(&list(&["192.0.2.1/32"]), "192.0.2.2:1"));
    }

    #[test]
    fn sockets_match_paths() {
        let l = list(&["unix:///run/mysqld/*.sock"]);
        assert!(allows(&l, "unix:///run/mysqld/mysqld.sock"));
        assert!(!allows(&l, "unix:///run/mysqld/x/y.sock"));
        assert!(!allows(&l, "unix:///tmp/mysqld.sock"));
        assert!(!allows(&l, "127.0.0.1:3306"));
    }

    #[test]
    fn bad_entries_are_refused_with_the_entry() {
        for bad in [
            "db",
            "db:",
            "db:port",
            "::1:3306",
            "[::1]",
            "10.0.0.0/33",
            "db/8",
            "unix://relative",
            "d b:3306",
        ] {
            let err = AllowedTargets::parse([bad]).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }
}
