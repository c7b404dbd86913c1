//! The services' working directories and the files written into them.

use std::path::Path;

use crate::error::TestbedError;

pub(crate) fn write_file(path: &Path, contents: &str) -> Result<(), TestbedError> {
    std::fs::write(path, contents).map_err(|source| TestbedError::Io {
        context: format!("writing {}", path.display()),
        source,
    })
}

/// A fresh directory under the system's temporary directory, removed with everything in it when
/// dropped.
pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir, TestbedError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|source| TestbedError::Io {
            context: "creating a temporary directory".into(),
            source,
        })
}
