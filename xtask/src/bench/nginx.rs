//! `cargo xtask bench nginx`: octo-nginx-exporter against Debian's prometheus-nginx-exporter,
//! both scraping one real nginx.

use std::path::Path;

use anyhow::Context as _;
use octo_testbed::{ExporterProcess, Nginx, require_program};

use super::binary::{Profile, build};
use super::compare::{Contender, compare};

pub async fn run(scrapes: usize) -> anyhow::Result<()> {
    let ours_binary = build("octo-nginx-exporter", Profile::SmallStatic)?;
    let upstream_binary =
        require_program("prometheus-nginx-exporter", "prometheus-nginx-exporter")?;
    let nginx = Nginx::start().await?;
    let uri = nginx.stub_status_url();
    let ours = ExporterProcess::start(
        "octo-nginx-exporter",
        &ours_binary,
        [format!("--nginx.scrape-uri={uri}")],
        &[],
        ExporterProcess::web_listen,
        "/metrics",
    )
    .await
    .context("starting octo-nginx-exporter")?;
    let theirs = ExporterProcess::start(
        "prometheus-nginx-exporter",
        Path::new(&upstream_binary),
        [format!("-nginx.scrape-uri={uri}")],
        &[],
        |port| vec![format!("-web.listen-address=127.0.0.1:{port}")],
        "/metrics",
    )
    .await
    .context("starting prometheus-nginx-exporter")?;
    compare(
        Contender {
            name: "octo-nginx-exporter".into(),
            process: &ours,
            path: "/metrics".into(),
        },
        Contender {
            name: "prometheus-nginx-exporter 0.11".into(),
            process: &theirs,
            path: "/metrics".into(),
        },
        scrapes,
        20,
    )
    .await
}
