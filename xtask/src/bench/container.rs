//! `cargo xtask bench container`.

pub async fn run(_scrapes: usize) -> anyhow::Result<()> {
    anyhow::bail!("the container exporter benchmark does not exist yet")
}
