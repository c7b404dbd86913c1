//! Starting the exporter binary and scraping it.

use std::path::Path;

use octo_testbed::metrics::{Exposition, parse};
use octo_testbed::{ExporterProcess, http_get};

pub const BINARY: &str = env!("CARGO_BIN_EXE_octo-container-exporter");

/// Starts the exporter on a free loopback port with cAdvisor's `-listen_ip`/`-port` flags.
pub async fn start(args: Vec<String>) -> ExporterProcess {
    ExporterProcess::start(
        "octo-container-exporter",
        Path::new(BINARY),
        args,
        &[],
        |port| vec!["-listen_ip=127.0.0.1".to_owned(), format!("-port={port}")],
        "/metrics",
    )
    .await
    .expect("starting octo-container-exporter")
}

/// Scrapes `/metrics`, checks it parses, and returns the text and its parse.
pub async fn scrape(exporter: &ExporterProcess) -> (String, Exposition) {
    let (status, body) = http_get(&exporter.url("/metrics")).await.expect("scraping");
    assert_eq!(status, 200, "{body}");
    let parsed = parse(&body).unwrap_or_else(|err| panic!("unparsable exposition: {err}\n{body}"));
    (body, parsed)
}

/// The value of the series of `name` with `id`, and the labels given.
pub fn value(exposition: &Exposition, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition.value(name, labels)
}

/// The sum over the series of `name` whose `id` label is `id`.
pub fn sum_for(exposition: &Exposition, name: &str, id: &str) -> f64 {
    exposition
        .series()
        .filter(|s| s.name == name && s.labels.get("id").map(String::as_str) == Some(id))
        .map(|s| s.value)
        .sum()
}

/// A 64-character container id unique to this test run.
pub fn container_id(tag: &str) -> String {
    let seed = format!("{}{}{tag}", std::process::id(), nanos());
    let mut id = String::new();
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    while id.len() < 64 {
        for byte in seed.bytes().chain(id.clone().bytes()) {
            state ^= u64::from(byte);
            state = state.wrapping_mul(0x0100_0000_01b3);
        }
        id.push_str(&format!("{state:016x}"));
    }
    id.truncate(64);
    id
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
