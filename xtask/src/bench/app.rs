//! `cargo xtask bench app`.

pub async fn run(_requests: usize) -> anyhow::Result<()> {
    anyhow::bail!("the app benchmark does not exist yet")
}
