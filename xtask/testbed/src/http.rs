//! GETs on loopback, as the tests and the readiness checks make them.

use std::time::Duration;

use crate::error::TestbedError;

/// A GET on loopback, returning status and body.
pub async fn http_get(url: &str) -> Result<(u16, String), TestbedError> {
    get_with(&loopback_client(url)?, url).await
}

/// A client for GETs on loopback (`url` only names the request in the error).
pub(crate) fn loopback_client(url: &str) -> Result<reqwest::Client, TestbedError> {
    // Feature unification may give reqwest TLS without a provider; ring is the workspace's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|err| TestbedError::Http {
            url: url.into(),
            detail: err.to_string(),
        })
}

/// [`http_get`] with `client`.
pub(crate) async fn get_with(
    client: &reqwest::Client,
    url: &str,
) -> Result<(u16, String), TestbedError> {
    let http_error = |err: reqwest::Error| TestbedError::Http {
        url: url.into(),
        detail: err.to_string(),
    };
    let response = client.get(url).send().await.map_err(http_error)?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(http_error)?;
    Ok((status, body))
}
