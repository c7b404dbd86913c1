//! Why no usable configuration could be built.

/// The reason, for the start-up error or the answer to `/-/reload`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {reason}")]
    Syntax {
        path: String,
        line: usize,
        reason: String,
    },
    #[error(
        "DATA_SOURCE_NAME: {0} (expected user:password@tcp(host:port)/ or user@unix(/path.sock)/)"
    )]
    Dsn(String),
    #[error("invalid address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("no configuration found in {origin}: {details}")]
    Empty { origin: String, details: String },
    /// A setting that would be ignored, or that contradicts another: the whole file is refused
    /// rather than connecting with less protection than the operator asked for.
    #[error("{path} [{section}]: {reason}")]
    Refused {
        path: String,
        section: String,
        reason: String,
    },
}
