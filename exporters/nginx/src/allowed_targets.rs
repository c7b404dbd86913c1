//! `--probe.allowed-targets`: the nginx instances a `/probe?target=` request may name, in the
//! grammar of the mysqld exporter's flag (the same rule for every exporter of the stack).
//! Without a list every target is probed, as upstream does.
//!
//! An entry is one of:
//! - `host:port` with `*` and `?` wildcards that stay inside one dot-separated label
//!   (`nginx-*.example.com:8080`, `[fd00::*]:80`): matched case-insensitively against the host
//!   and port of an `http://` or `https://` target (port 80 / 443 when the URI has none);
//! - a network, `10.0.0.0/8` or `fd00::/8`: matches targets written as an address in it, any
//!   port (a host name never matches a network: it is resolved after the check);
//! - `unix:///path`, with `*` and `?` inside one path component, for `unix:/path` targets.
//!
//! The mysqld exporter has the same matcher over its own endpoint type; it belongs in the kit
//! once both agree on a target type (said in the report).

use std::net::IpAddr;

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

/// Where a probe target points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp { host: String, port: u16 },
    Unix(String),
}

/// An entry of the flag that is not in the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--probe.allowed-targets entry {entry:?}: {reason}")]
pub struct AllowedTargetError {
    pub entry: String,
    pub reason: String,
}

impl Endpoint {
    /// The endpoint of a scrape URI in the forms `--nginx.scrape-uri` takes; `None` when the
    /// URI is none of them.
    pub fn of_uri(uri: &str) -> Option<Endpoint> {
        if let Some(rest) = uri.strip_prefix("unix:") {
            let socket = rest.split_once(':').map_or(rest, |(socket, _)| socket);
            return socket
                .starts_with('/')
                .then(|| Endpoint::Unix(socket.to_owned()));
        }
        let url = reqwest::Url::parse(uri).ok()?;
        let port = url.port_or_known_default()?;
        let host = url.host_str()?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_owned();
        matches!(url.scheme(), "http" | "https").then_some(Endpoint::Tcp { host, port })
    }
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

    /// Whether a request may name this target.
    pub fn allows(&self, target: &Endpoint) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| p.matches(target))
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
                return Err("an IPv6 address goes in brackets, [::1]:8080".into());
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

    fn matches(&self, target: &Endpoint) -> bool {
        match (self, target) {
            (Pattern::Network { address, prefix }, Endpoint::Tcp { host, .. }) => host
                .parse::<IpAddr>()
                .is_ok_and(|ip| in_network(canonical(ip), *address, *prefix)),
            (Pattern::HostPort { host, port }, Endpoint::Tcp { host: h, port: p }) => {
                h.bytes().all(host_byte)
                    && glob(host.as_bytes(), h.to_ascii_lowercase().as_bytes(), b'.')
                    && glob(port.as_bytes(), p.to_string().as_bytes(), b'.')
            }
            (Pattern::Socket(pattern), Endpoint::Unix(path)) => {
                glob(pattern.as_bytes(), path.as_bytes(), b'/')
            }
            _ => false,
        }
    }
}

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

    fn allows(entries: &[&str], target: &str) -> bool {
        AllowedTargets::parse(entries.iter().copied())
            .unwrap()
            .allows(&Endpoint::of_uri(target).unwrap())
    }

    #[test]
    fn targets_are_matched_by_host_port_network_or_socket() {
        assert!(allows(&[], "http://anything:1/stub_status"));
        let list = [
            "nginx-*.example.com:8080",
            "10.0.0.0/8",
            "unix:///run/nginx/*.sock",
        ];
        assert!(allows(&list, "http://NGINX-1.example.com:8080/stub_status"));
        assert!(allows(&list, "https://10.2.3.4/stub_status"));
        assert!(allows(&list, "unix:/run/nginx/status.sock:/stub_status"));
        for refused in [
            "http://nginx-1.example.com:8081/stub_status",
            "http://nginx-1.evil.example.com:8080/",
            "http://nginx-1.example.com.evil:8080/",
            "http://11.0.0.1/stub_status",
            "http://127.0.0.1:8080/stub_status",
            "unix:/run/nginx/x/y.sock",
            "unix:/tmp/status.sock",
        ] {
            assert!(!allows(&list, refused), "{refused}");
        }
        assert!(allows(&["127.0.0.1:80"], "http://127.0.0.1/"));
        assert!(allows(&["[::1]:8080"], "http://[::1]:8080/"));
    }

    #[test]
    fn bad_entries_and_targets_are_refused() {
        for bad in [
            "nginx",
            "nginx:port",
            "::1:80",
            "10.0.0.0/33",
            "unix://rel",
            "a b:1",
        ] {
            assert!(AllowedTargets::parse([bad]).is_err(), "{bad}");
        }
        for bad in ["ftp://x/", "unix:relative", "nonsense"] {
            assert_eq!(Endpoint::of_uri(bad), None, "{bad}");
        }
    }
}
