//! Shared helpers: where upstream's fixtures are, and running our binary.

use std::path::{Path, PathBuf};

use octo_testbed::ExporterProcess;

pub const OURS: &str = env!("CARGO_BIN_EXE_octo-node-exporter");

/// node_exporter's fixture tree, read in place from `../shared`. Missing: the test fails with a
/// message, unless `OCTO_SKIP_SHARED_FIXTURES=1` says the caller knows they are absent.
pub fn fixtures() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/node_exporter/fixtures");
    if path.join("e2e-output.txt").is_file() {
        return Some(path);
    }
    if std::env::var("OCTO_SKIP_SHARED_FIXTURES").as_deref() == Ok("1") {
        eprintln!(
            "skipping: {} is absent and OCTO_SKIP_SHARED_FIXTURES=1",
            path.display()
        );
        return None;
    }
    panic!(
        "node_exporter's fixtures are expected at {} (the shared reference folder beside the \
         repository); set OCTO_SKIP_SHARED_FIXTURES=1 to skip deliberately",
        path.display()
    );
}

pub async fn start(args: Vec<String>) -> ExporterProcess {
    ExporterProcess::start(
        "octo-node-exporter",
        Path::new(OURS),
        args,
        &[],
        ExporterProcess::web_listen,
        "/",
    )
    .await
    .expect("octo-node-exporter starts")
}
