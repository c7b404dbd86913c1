//! Builds the credentials in force from the sources, in upstream's order of precedence.

use std::collections::BTreeMap;
use std::path::Path;

use super::client::{Credentials, DEFAULT_MODULE};
use super::error::ConfigError;
use super::sources::Sources;
use super::{dsn, mycnf};

/// Builds the credentials from the sources: the DSN when `DATA_SOURCE_NAME` is set (auth modules
/// for `/probe` may still come from my.cnf), else my.cnf.
pub fn load(sources: &Sources) -> Result<Credentials, ConfigError> {
    let path = sources.my_cnf_path();
    let path_text = path.display().to_string();
    if let Some(dsn) = sources.data_source_name.as_ref().filter(|d| !d.is_empty()) {
        let client = dsn::parse(dsn.expose())?;
        let mut modules = BTreeMap::new();
        if path.is_file() {
            match read_my_cnf(&path)
                .and_then(|text| mycnf::modules(&text, &path_text, sources, false).map(|(m, _)| m))
            {
                Ok(extra) => modules.extend(extra),
                Err(err) => tracing::warn!(
                    error = %err,
                    "ignoring my.cnf auth modules; DATA_SOURCE_NAME is used for /metrics"
                ),
            }
        }
        modules.insert(DEFAULT_MODULE.to_owned(), client);
        return Ok(Credentials {
            modules,
            origin: "DATA_SOURCE_NAME".into(),
        });
    }
    let text = if path.is_file() {
        read_my_cnf(&path)?
    } else {
        // Like upstream (0.15+), a missing file is no error by itself: the flags and
        // MYSQLD_EXPORTER_PASSWORD may be all there is.
        String::new()
    };
    let (modules, rejected) = mycnf::modules(&text, &path_text, sources, true)?;
    if modules.is_empty() {
        let details = if !path.is_file() {
            format!(
                "{path_text} does not exist, and --mysqld.username is empty (set DATA_SOURCE_NAME, \
                 --config.my-cnf, or --mysqld.username with MYSQLD_EXPORTER_PASSWORD)"
            )
        } else if rejected.is_empty() {
            "the file has no sections".to_owned()
        } else {
            rejected.join("; ")
        };
        return Err(ConfigError::Empty {
            origin: path_text,
            details,
        });
    }
    Ok(Credentials {
        modules,
        origin: path_text,
    })
}

fn read_my_cnf(path: &Path) -> Result<String, ConfigError> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })
}
