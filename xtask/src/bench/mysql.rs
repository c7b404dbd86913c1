//! `cargo xtask bench mysql`.

pub async fn run(_scrapes: usize) -> anyhow::Result<()> {
    anyhow::bail!("the mysql exporter benchmark does not exist yet")
}
