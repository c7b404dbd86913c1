//! Static files, compiled into the binary (clusters are often offline: no CDN) and served with
//! versioned URLs: pages link `/static/<file>?v=<hash>`, which is cached for a year; any other
//! URL of the same file is revalidated with its `ETag`. Text files are gzipped once at start-up.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write as _;
use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use http::{HeaderMap, HeaderValue, StatusCode};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    gzipped: Option<Bytes>,
    hash: String,
    etag: HeaderValue,
}

/// Bootstrap 5 (MIT, see `static/bootstrap-LICENSE`), unmodified from its npm package.
const BOOTSTRAP: &str = "bootstrap-5.3.9.min.css";
const APP_CSS: &str = "app.css";

const FILES: &[(&str, &str, &[u8])] = &[
    (
        BOOTSTRAP,
        "text/css; charset=utf-8",
        include_bytes!("../static/bootstrap-5.3.9.min.css"),
    ),
    (
        APP_CSS,
        "text/css; charset=utf-8",
        include_bytes!("../static/app.css"),
    ),
    (
        "bootstrap-LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../static/bootstrap-LICENSE"),
    ),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, content_type, bytes)| {
            // Stable within a build, which is all a cache-busting version needs: instances
            // running the same binary link the same URLs.
            let mut hasher = DefaultHasher::new();
            bytes.hash(&mut hasher);
            let hash = format!("{:016x}", hasher.finish());
            let etag = HeaderValue::from_str(&format!("\"{hash}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
            Asset {
                name,
                content_type,
                bytes,
                gzipped: gzip(bytes),
                hash,
                etag,
            }
        })
        .collect()
});

fn gzip(bytes: &[u8]) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::best(),
    );
    encoder.write_all(bytes).ok()?;
    let compressed = encoder.finish().ok()?;
    (compressed.len() < bytes.len()).then(|| Bytes::from(compressed))
}

/// Compresses the files now rather than on the first request.
pub fn preload() {
    LazyLock::force(&ASSETS);
}

fn versioned(name: &str) -> String {
    ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .map(|asset| format!("/static/{}?v={}", asset.name, asset.hash))
        .unwrap_or_else(|| format!("/static/{name}"))
}

/// The URLs pages link to.
#[derive(Debug)]
pub struct Links {
    pub bootstrap: String,
    pub app_css: String,
}

pub static LINKS: LazyLock<Links> = LazyLock::new(|| Links {
    bootstrap: versioned(BOOTSTRAP),
    app_css: versioned(APP_CSS),
});

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// `GET /static/{file}`.
pub async fn serve(
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == file) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let current = query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|pair| pair == format!("v={}", asset.hash)));
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "public, no-cache"
    };
    let mut response = if headers
        .get(IF_NONE_MATCH)
        .is_some_and(|tag| tag.as_bytes() == asset.etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match (&asset.gzipped, accepts_gzip(&headers)) {
            (Some(gzipped), true) => {
                let mut response = Response::new(Body::from(gzipped.clone()));
                response
                    .headers_mut()
                    .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                response
            }
            _ => Response::new(Body::from(Bytes::from_static(asset.bytes))),
        }
    };
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    out.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(ETAG, asset.etag.clone());
    out.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_versioned_and_gzip_negotiated() {
        assert!(
            LINKS
                .bootstrap
                .starts_with("/static/bootstrap-5.3.9.min.css?v=")
        );
        assert!(LINKS.app_css.starts_with("/static/app.css?v="));
        let mut headers = HeaderMap::new();
        assert!(!accepts_gzip(&headers));
        headers.insert(ACCEPT_ENCODING, "gzip, deflate, br".parse().unwrap());
        assert!(accepts_gzip(&headers));
        headers.insert(ACCEPT_ENCODING, "gzip;q=0, br".parse().unwrap());
        assert!(!accepts_gzip(&headers));
    }

    #[test]
    fn bootstrap_keeps_its_license_header() {
        let text = std::str::from_utf8(FILES[0].2).unwrap();
        assert!(text[..300].contains("Bootstrap  v5.3.9"));
        assert!(text[..300].contains("Licensed under MIT"));
    }
}
