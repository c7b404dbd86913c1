//! `cargo xtask bench node`.

pub async fn run(_scrapes: usize) -> anyhow::Result<()> {
    anyhow::bail!("the node exporter benchmark does not exist yet")
}
