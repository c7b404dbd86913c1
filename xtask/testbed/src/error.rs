//! Why a service could not be provided.

#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    #[error(
        "{program} not found: install the Debian package `{package}` (`cargo xtask setup` installs everything the tests need)"
    )]
    Missing { program: String, package: String },
    #[error("{service} did not start: {detail}")]
    Start { service: String, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{service}: {detail}")]
    Command { service: String, detail: String },
    #[error("HTTP request to {url}: {detail}")]
    Http { url: String, detail: String },
}
