//! What a `/probe?target=` URI points at, for the kit's `--probe.allowed-targets` matcher (the
//! same rule as the mysqld exporter's).

use std::path::{Path, PathBuf};

use octo_exporter_kit::probe_targets::ProbeTarget;

/// Where a scrape URI points, in the forms `--nginx.scrape-uri` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `http://` or `https://`: the host as written (without brackets), the port or the
    /// scheme's default.
    Tcp { host: String, port: u16 },
    /// `unix:/path.sock` or `unix:/path.sock:/request`.
    Unix(PathBuf),
}

impl Endpoint {
    /// `None` when the URI is none of the forms a scrape URI takes.
    pub fn of_uri(uri: &str) -> Option<Endpoint> {
        if let Some(rest) = uri.strip_prefix("unix:") {
            let socket = rest.split_once(':').map_or(rest, |(socket, _)| socket);
            return socket
                .starts_with('/')
                .then(|| Endpoint::Unix(PathBuf::from(socket)));
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

    /// The target as the allow-list reads it.
    pub fn as_probe_target(&self) -> ProbeTarget<'_> {
        match self {
            Endpoint::Tcp { host, port } => ProbeTarget::Tcp { host, port: *port },
            Endpoint::Unix(path) => ProbeTarget::Unix(Path::new(path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use octo_exporter_kit::probe_targets::AllowedTargets;

    use super::*;

    fn allows(entries: &[&str], target: &str) -> bool {
        AllowedTargets::parse(entries.iter().copied())
            .unwrap()
            .allows(&Endpoint::of_uri(target).unwrap().as_probe_target())
    }

    #[test]
    fn scrape_uris_are_matched_by_host_port_network_or_socket() {
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
            "http://11.0.0.1/stub_status",
            "http://127.0.0.1:8080/stub_status",
            "unix:/run/nginx/x/y.sock",
            "unix:/tmp/status.sock",
        ] {
            assert!(!allows(&list, refused), "{refused}");
        }
        assert!(allows(&["127.0.0.1:80"], "http://127.0.0.1/"));
        assert!(allows(&["127.0.0.1:443"], "https://127.0.0.1/"));
        assert!(allows(&["[::1]:8080"], "http://[::1]:8080/"));
    }

    #[test]
    fn uris_that_are_no_scrape_uri_name_nothing() {
        for bad in ["ftp://x/", "unix:relative", "nonsense"] {
            assert_eq!(Endpoint::of_uri(bad), None, "{bad}");
        }
    }
}
