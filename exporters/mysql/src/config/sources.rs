//! What the command line and the environment say about where credentials come from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::client::Secret;

/// What the command line and environment say about credentials.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config.my-cnf` when given.
    pub my_cnf: Option<PathBuf>,
    /// `--mysqld.address`.
    pub mysqld_address: String,
    /// `--mysqld.username`.
    pub mysqld_username: String,
    /// `--tls.insecure-skip-verify`.
    pub insecure_skip_verify: bool,
    /// `DATA_SOURCE_NAME` (0.14).
    pub data_source_name: Option<Secret>,
    /// The process environment, for `${VAR}` (a snapshot so tests can supply their own).
    pub environment: BTreeMap<String, String>,
}

impl Sources {
    /// The my.cnf to read: the flag, else `.my.cnf` in the working directory (0.15+) when it
    /// exists, else `$HOME/.my.cnf` (0.14, and what Debian's package documents).
    pub fn my_cnf_path(&self) -> PathBuf {
        if let Some(path) = &self.my_cnf {
            return path.clone();
        }
        let local = PathBuf::from(".my.cnf");
        if local.is_file() {
            return local;
        }
        match self.environment.get("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Path::new(home).join(".my.cnf"),
            None => local,
        }
    }
}
