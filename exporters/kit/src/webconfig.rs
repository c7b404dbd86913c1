//! The exporter-toolkit web configuration file (`--web.config.file`): TLS with rustls (mutual TLS
//! included), bcrypt basic auth, response headers and a rate limit.
//!
//! The file, and the certificate files it names, are re-read when they change, so certificate
//! rotation and new users take effect without a restart. A file that stops being valid makes
//! every request answer 500 until it is fixed; the process keeps running.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderName, HeaderValue};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::flags::parse_go_duration;

/// Why a web configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("reading web config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file is not valid YAML of the expected shape.
    #[error("parsing web config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The file parses but asks for something refused (a missing certificate, an option
    /// rustls cannot honour).
    #[error("web config file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSchema {
    tls_server_config: Option<TlsSchema>,
    http_server_config: Option<HttpSchema>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    rate_limit: Option<RateLimitSchema>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSchema {
    cert_file: Option<String>,
    key_file: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_ca: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSchema {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitSchema {
    interval: Option<String>,
    burst: Option<u32>,
}

/// A validated web configuration.
#[derive(Debug, Default)]
pub struct WebConfig {
    /// TLS settings; `None` serves plain HTTP.
    pub tls: Option<Arc<ServerConfig>>,
    /// When non-empty, a client certificate must carry one of these SANs exactly.
    pub client_allowed_sans: Vec<String>,
    /// Headers added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// user name to bcrypt hash; empty means no authentication.
    pub users: HashMap<String, String>,
    /// Token bucket: one token per interval, up to `burst`.
    pub rate_limit: Option<(Duration, u32)>,
}

impl WebConfig {
    /// Reads and validates a web configuration file. Relative file names inside it are resolved
    /// against the file's directory.
    pub fn load(path: &Path) -> Result<(WebConfig, Vec<PathBuf>), WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let schema: FileSchema = if text.trim().is_empty() {
            FileSchema::default()
        } else {
            serde_norway::from_str(&text).map_err(|err| WebConfigError::Parse {
                path: path.to_owned(),
                message: err.to_string(),
            })?
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let invalid = |message: String| WebConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut watched = vec![path.to_owned()];
        let mut config = WebConfig::default();

        if let Some(tls) = schema.tls_server_config {
            let (server, sans) = build_tls(&tls, base, &mut watched).map_err(invalid)?;
            config.tls = Some(Arc::new(server));
            config.client_allowed_sans = sans;
        }
        if let Some(http) = schema.http_server_config {
            let _ = http.http2; // HTTP/2 is negotiated off: scrapers speak HTTP/1.1.
            for (name, value) in http.headers.unwrap_or_default() {
                config
                    .headers
                    .push(validate_header(&name, &value).map_err(invalid)?);
            }
        }
        for (user, hash) in schema.basic_auth_users.unwrap_or_default() {
            hash.parse::<bcrypt::HashParts>().map_err(|err| {
                invalid(format!(
                    "basic_auth_users: hash for user {user:?} is not bcrypt: {err}"
                ))
            })?;
            config.users.insert(user, hash);
        }
        if let Some(limit) = schema.rate_limit {
            let interval = match limit.interval.as_deref() {
                None => Duration::ZERO,
                Some(text) => parse_go_duration(text)
                    .map_err(|err| invalid(format!("rate_limit.interval: {err}")))?,
            };
            let burst = limit.burst.unwrap_or(0);
            if !interval.is_zero() {
                if burst == 0 {
                    return Err(invalid(
                        "rate_limit.burst must be at least 1 when an interval is set".into(),
                    ));
                }
                config.rate_limit = Some((interval, burst));
            }
        }
        Ok((config, watched))
    }
}

fn resolve(base: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}

fn read_pem_source(
    what: &str,
    file: Option<&str>,
    inline: Option<&str>,
    base: &Path,
    watched: &mut Vec<PathBuf>,
) -> Result<Option<Vec<u8>>, String> {
    match (
        file.filter(|f| !f.is_empty()),
        inline.filter(|i| !i.is_empty()),
    ) {
        (Some(_), Some(_)) => Err(format!("both {what}_file and {what} are set; use one")),
        (Some(file), None) => {
            let path = resolve(base, file);
            let bytes =
                std::fs::read(&path).map_err(|err| format!("reading {}: {err}", path.display()))?;
            watched.push(path);
            Ok(Some(bytes))
        }
        (None, Some(inline)) => Ok(Some(inline.as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

fn tls_version(name: &str) -> Result<&'static rustls::SupportedProtocolVersion, String> {
    match name {
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS11" | "TLS10" => Err(format!(
            "{name} is not supported: only TLS12 and TLS13 are offered (rustls implements no \
             older protocol)"
        )),
        other => Err(format!("unknown TLS version {other:?}")),
    }
}

fn cipher_suite(name: &str) -> Result<rustls::SupportedCipherSuite, String> {
    use rustls::crypto::ring::cipher_suite as cs;
    Ok(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"
        | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => {
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        other if other.contains("CBC") || other.contains("RC4") || other.contains("3DES") => {
            return Err(format!(
                "cipher suite {other} is not supported: only AEAD suites (GCM, ChaCha20) are offered"
            ));
        }
        other => return Err(format!("unknown or unsupported cipher suite {other:?}")),
    })
}

fn curve(name: &str) -> Result<&'static dyn rustls::crypto::SupportedKxGroup, String> {
    use rustls::crypto::ring::kx_group;
    match name {
        "X25519" => Ok(kx_group::X25519),
        "CurveP256" => Ok(kx_group::SECP256R1),
        "CurveP384" => Ok(kx_group::SECP384R1),
        "CurveP521" => {
            Err("curve CurveP521 is not supported; use X25519, CurveP256 or CurveP384".into())
        }
        other => Err(format!("unknown curve {other:?}")),
    }
}

fn build_tls(
    tls: &TlsSchema,
    base: &Path,
    watched: &mut Vec<PathBuf>,
) -> Result<(ServerConfig, Vec<String>), String> {
    let cert_pem = read_pem_source(
        "cert",
        tls.cert_file.as_deref(),
        tls.cert.as_deref(),
        base,
        watched,
    )?
    .ok_or("tls_server_config: missing cert_file")?;
    let key_pem = read_pem_source(
        "key",
        tls.key_file.as_deref(),
        tls.key.as_deref(),
        base,
        watched,
    )?
    .ok_or("tls_server_config: missing key_file")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|err| format!("tls_server_config: certificate: {err}"))?;
    if certs.is_empty() {
        return Err("tls_server_config: the certificate file holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|err| format!("tls_server_config: private key: {err}"))?;

    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = tls.cipher_suites.as_ref().filter(|n| !n.is_empty()) {
        let mut suites: Vec<_> = names
            .iter()
            .map(|n| cipher_suite(n))
            .collect::<Result<_, _>>()?;
        // Go ignores cipher_suites for TLS 1.3; keep all 1.3 suites so 1.3 clients still connect.
        suites.extend(
            rustls::crypto::ring::ALL_CIPHER_SUITES
                .iter()
                .filter(|s| s.version() == &rustls::version::TLS13)
                .copied(),
        );
        provider.cipher_suites = suites;
    }
    if let Some(names) = tls.curve_preferences.as_ref().filter(|n| !n.is_empty()) {
        provider.kx_groups = names.iter().map(|n| curve(n)).collect::<Result<_, _>>()?;
    }
    let _ = tls.prefer_server_cipher_suites; // rustls always follows the server's order.

    let min = tls_version(tls.min_version.as_deref().unwrap_or("TLS12"))?;
    let max = tls_version(tls.max_version.as_deref().unwrap_or("TLS13"))?;
    let rank = |v: &rustls::SupportedProtocolVersion| {
        u8::from(v.version == rustls::ProtocolVersion::TLSv1_3)
    };
    if rank(min) > rank(max) {
        return Err("tls_server_config: min_version is newer than max_version".into());
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [&rustls::version::TLS12, &rustls::version::TLS13]
            .into_iter()
            .filter(|v| rank(v) >= rank(min) && rank(v) <= rank(max))
            .collect();

    let provider = Arc::new(provider);
    let ca_pem = read_pem_source(
        "client_ca",
        tls.client_ca_file.as_deref(),
        tls.client_ca.as_deref(),
        base,
        watched,
    )?;
    let roots = match &ca_pem {
        None => None,
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|err| format!("client_ca: {err}"))?;
                roots.add(cert).map_err(|err| format!("client_ca: {err}"))?;
            }
            if roots.is_empty() {
                return Err("client_ca: no certificate found".into());
            }
            Some(Arc::new(roots))
        }
    };
    let auth_type = tls.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let needs_roots = |roots: &Option<Arc<RootCertStore>>| {
        roots
            .clone()
            .ok_or_else(|| format!("client_auth_type {auth_type} needs client_ca_file"))
    };
    let verifier: Arc<dyn ClientCertVerifier> = match auth_type {
        "" | "NoClientCert" => {
            if roots.is_some() {
                return Err(
                    "client CA configured without a client_auth_type that uses it (set \
                     RequireAndVerifyClientCert or VerifyClientCertIfGiven)"
                        .into(),
                );
            }
            WebPkiClientVerifier::no_client_auth()
        }
        "RequestClientCert" => Arc::new(AnyClientCert::new(false, &provider)),
        "RequireAnyClientCert" => Arc::new(AnyClientCert::new(true, &provider)),
        "VerifyClientCertIfGiven" => {
            WebPkiClientVerifier::builder_with_provider(needs_roots(&roots)?, provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|err| format!("client verifier: {err}"))?
        }
        "RequireAndVerifyClientCert" => {
            WebPkiClientVerifier::builder_with_provider(needs_roots(&roots)?, provider.clone())
                .build()
                .map_err(|err| format!("client verifier: {err}"))?
        }
        other => return Err(format!("invalid client_auth_type {other:?}")),
    };
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|err| format!("tls_server_config: {err}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|err| format!("tls_server_config: certificate and key: {err}"))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((server, tls.client_allowed_sans.clone().unwrap_or_default()))
}

/// Accepts any client certificate without checking who issued it (Go's `RequestClientCert` and
/// `RequireAnyClientCert`), but still checks that the client holds its key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCert {
    fn new(mandatory: bool, provider: &CryptoProvider) -> Self {
        AnyClientCert {
            mandatory,
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Whether the client's leaf certificate carries one of the allowed SANs (DNS, IP, e-mail or
/// URI, compared exactly as the toolkit does).
pub fn client_sans_allowed(allowed: &[String], peer: Option<&[CertificateDer<'static>]>) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(leaf) = peer.and_then(|certs| certs.first()) else {
        return false;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else {
        return false;
    };
    let Ok(Some(sans)) = cert.subject_alternative_name() else {
        return false;
    };
    sans.value.general_names.iter().any(|name| {
        use x509_parser::extensions::GeneralName;
        let text = match name {
            GeneralName::DNSName(dns) => dns.to_string(),
            GeneralName::RFC822Name(mail) => mail.to_string(),
            GeneralName::URI(uri) => uri.to_string(),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
                16 => {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(bytes);
                    std::net::Ipv6Addr::from(octets).to_string()
                }
                _ => return false,
            },
            _ => return false,
        };
        allowed.contains(&text)
    })
}

fn validate_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    const ALLOWED: [&str; 5] = [
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "X-XSS-Protection",
        "Content-Security-Policy",
    ];
    let canonical = ALLOWED
        .iter()
        .find(|allowed| allowed.eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("HTTP header {name:?} can not be configured"))?;
    match *canonical {
        "X-Content-Type-Options" if !value.eq_ignore_ascii_case("nosniff") => {
            return Err(format!(
                "invalid value for X-Content-Type-Options: {value:?} (only nosniff)"
            ));
        }
        "X-Frame-Options"
            if !value.eq_ignore_ascii_case("deny") && !value.eq_ignore_ascii_case("sameorigin") =>
        {
            return Err(format!(
                "invalid value for X-Frame-Options: {value:?} (deny or sameorigin)"
            ));
        }
        _ => {}
    }
    let header_value = HeaderValue::from_str(value)
        .map_err(|_| format!("invalid value for header {canonical}"))?;
    Ok((
        HeaderName::from_static(lowercase_static(canonical)),
        header_value,
    ))
}

fn lowercase_static(name: &str) -> &'static str {
    match name {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

type Stamp = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

fn stamp_of(paths: &[PathBuf]) -> Stamp {
    paths
        .iter()
        .map(|path| {
            let meta = std::fs::metadata(path)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
            (path.clone(), meta)
        })
        .collect()
}

struct Loaded {
    stamp: Stamp,
    config: Result<Arc<WebConfig>, String>,
}

/// The web configuration as it is now: re-validated whenever the file or a file it names
/// changes.
pub struct WebConfigSource {
    path: Option<PathBuf>,
    loaded: Mutex<Loaded>,
    limiter: Mutex<Option<TokenBucket>>,
    auth_cache: Mutex<HashMap<[u8; 32], bool>>,
    bcrypt_turn: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for WebConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfigSource")
            .field("path", &self.path)
            .finish()
    }
}

/// A bcrypt hash of a random password nobody knows: unknown users are checked against it so
/// that answering them takes as long as answering known ones.
const UNKNOWN_USER_HASH: &str = "$2y$10$tKXqombO.ja88/44XCnV5uz79K.nPFLaccTYHKeopqD5AcogMSxke";
const AUTH_CACHE_LIMIT: usize = 1024;

/// What the server does with one request after the web configuration has looked at it.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Serve the request.
    Allowed,
    /// The configuration file is broken: answer 500.
    Broken,
    /// 429.
    RateLimited,
    /// 401 with `WWW-Authenticate: Basic`.
    Unauthorized,
}

impl WebConfigSource {
    /// Loads the file named by `--web.config.file` (or nothing) and fails when it is invalid, so
    /// a broken configuration stops the exporter at start-up rather than later.
    pub fn open(path: Option<PathBuf>) -> Result<Self, WebConfigError> {
        let loaded = match &path {
            None => Loaded {
                stamp: Vec::new(),
                config: Ok(Arc::new(WebConfig::default())),
            },
            Some(path) => {
                let (config, watched) = WebConfig::load(path)?;
                Loaded {
                    stamp: stamp_of(&watched),
                    config: Ok(Arc::new(config)),
                }
            }
        };
        Ok(WebConfigSource {
            path,
            loaded: Mutex::new(loaded),
            limiter: Mutex::new(None),
            auth_cache: Mutex::new(HashMap::new()),
            bcrypt_turn: tokio::sync::Mutex::new(()),
        })
    }

    /// The configuration now, reloaded first if a file it depends on has changed.
    pub fn current(&self) -> Result<Arc<WebConfig>, String> {
        let Some(path) = &self.path else {
            return lock(&self.loaded).config.clone();
        };
        let mut loaded = lock(&self.loaded);
        let watched: Vec<PathBuf> = if loaded.stamp.is_empty() {
            vec![path.clone()]
        } else {
            loaded.stamp.iter().map(|(p, _)| p.clone()).collect()
        };
        if stamp_of(&watched) == loaded.stamp {
            return loaded.config.clone();
        }
        match WebConfig::load(path) {
            Ok((config, watched)) => {
                tracing::info!(file = %path.display(), "web config reloaded");
                loaded.stamp = stamp_of(&watched);
                loaded.config = Ok(Arc::new(config));
                *lock(&self.limiter) = None;
                lock(&self.auth_cache).clear();
            }
            Err(err) => {
                tracing::error!(error = %err, "web config is invalid; answering 500 until it is fixed");
                // Keep watching the same files so a fix is noticed.
                let mut files = watched;
                if !files.contains(path) {
                    files.push(path.clone());
                }
                loaded.stamp = stamp_of(&files);
                loaded.config = Err(err.to_string());
            }
        }
        loaded.config.clone()
    }

    /// Applies the rate limit and basic authentication to a request, in the toolkit's order,
    /// under the current configuration.
    pub async fn admit(&self, authorization: Option<&HeaderValue>) -> Admission {
        match self.current() {
            Ok(config) => self.admit_under(&config, authorization).await,
            Err(_) => Admission::Broken,
        }
    }

    /// [`admit`](Self::admit) under a configuration the caller already has from
    /// [`current`](Self::current) (which checks the files for changes).
    pub async fn admit_under(
        &self,
        config: &WebConfig,
        authorization: Option<&HeaderValue>,
    ) -> Admission {
        if let Some((interval, burst)) = config.rate_limit {
            let mut limiter = lock(&self.limiter);
            let bucket = limiter.get_or_insert_with(|| TokenBucket::new(interval, burst));
            if !bucket.take(Instant::now()) {
                return Admission::RateLimited;
            }
        }
        if config.users.is_empty() {
            return Admission::Allowed;
        }
        let Some((user, password)) = authorization.and_then(parse_basic_auth) else {
            return Admission::Unauthorized;
        };
        let known_hash = config.users.get(&user).cloned();
        let hash = known_hash
            .clone()
            .unwrap_or_else(|| UNKNOWN_USER_HASH.to_owned());
        let key: [u8; 32] = {
            let mut digest = Sha256::new();
            for part in [user.as_bytes(), hash.as_bytes(), password.as_bytes()] {
                digest.update((part.len() as u64).to_le_bytes());
                digest.update(part);
            }
            digest.finalize().into()
        };
        let cached = lock(&self.auth_cache).get(&key).copied();
        let verified = match cached {
            Some(result) => result,
            None => {
                // One bcrypt at a time (as the toolkit does): a flood of wrong passwords costs
                // one core, not all of them.
                let _turn = self.bcrypt_turn.lock().await;
                let check_hash = hash.clone();
                let matches = tokio::task::spawn_blocking(move || {
                    bcrypt::verify(password.as_bytes(), &check_hash).unwrap_or(false)
                })
                .await
                .unwrap_or(false);
                let result = matches && known_hash.is_some();
                let mut cache = lock(&self.auth_cache);
                if cache.len() >= AUTH_CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(key, result);
                result
            }
        };
        if verified {
            Admission::Allowed
        } else {
            Admission::Unauthorized
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn parse_basic_auth(value: &HeaderValue) -> Option<(String, String)> {
    use base64::Engine as _;
    let text = value.to_str().ok()?;
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// A token bucket: starts full with `burst` tokens and gains one per `interval`.
#[derive(Debug)]
struct TokenBucket {
    interval: Duration,
    burst: u32,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(interval: Duration, burst: u32) -> Self {
        TokenBucket {
            interval,
            burst,
            tokens: f64::from(burst),
            last: Instant::now(),
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens =
            (self.tokens + elapsed / self.interval.as_secs_f64()).min(f64::from(self.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(text.as_bytes()).unwrap();
        path
    }

    #[test]
    fn refuses_what_rustls_cannot_honour() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        write(dir.path(), "c.pem", &cert.cert.pem());
        write(dir.path(), "k.pem", &cert.signing_key.serialize_pem());
        for (extra, needle) in [
            ("  min_version: TLS10\n", "TLS10 is not supported"),
            (
                "  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
                "not supported",
            ),
            (
                "  client_auth_type: RequireAndVerifyClientCert\n",
                "needs client_ca_file",
            ),
            (
                "  client_auth_type: Sometimes\n",
                "invalid client_auth_type",
            ),
        ] {
            let path = write(
                dir.path(),
                "web.yml",
                &format!("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n{extra}"),
            );
            let err = WebConfig::load(&path).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let path = write(
            dir.path(),
            "web.yml",
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  min_version: TLS13\n",
        );
        let (config, watched) = WebConfig::load(&path).unwrap();
        assert!(config.tls.is_some());
        assert_eq!(watched.len(), 3);
    }

    #[test]
    fn rejects_unknown_keys_headers_and_bad_hashes() {
        let dir = tempfile::tempdir().unwrap();
        for (text, needle) in [
            ("tls_server_confg: {}\n", "unknown field"),
            (
                "http_server_config:\n  headers:\n    X-Powered-By: me\n",
                "can not be configured",
            ),
            ("basic_auth_users:\n  alice: plain\n", "not bcrypt"),
            ("rate_limit:\n  interval: 1s\n", "burst"),
            ("tls_server_config:\n  key_file: x\n", "missing cert_file"),
        ] {
            let path = write(dir.path(), "web.yml", text);
            let err = WebConfig::load(&path).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[tokio::test]
    async fn basic_auth_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let path = write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  alice: {hash}\n"),
        );
        let source = WebConfigSource::open(Some(path.clone())).unwrap();
        let header = |user: &str, pass: &str| {
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            HeaderValue::from_str(&format!("Basic {token}")).unwrap()
        };
        assert_eq!(source.admit(None).await, Admission::Unauthorized);
        assert_eq!(
            source.admit(Some(&header("alice", "nope"))).await,
            Admission::Unauthorized
        );
        assert_eq!(
            source.admit(Some(&header("bob", "s3cret"))).await,
            Admission::Unauthorized
        );
        assert_eq!(
            source.admit(Some(&header("alice", "s3cret"))).await,
            Admission::Allowed
        );
        // Cached answers are the same answers.
        assert_eq!(
            source.admit(Some(&header("alice", "s3cret"))).await,
            Admission::Allowed
        );
        assert_eq!(
            source.admit(Some(&header("alice", "nope"))).await,
            Admission::Unauthorized
        );

        // A broken file: 500 until fixed, then the new users apply.
        std::thread::sleep(Duration::from_millis(20));
        write(dir.path(), "web.yml", "basic_auth_users: [oops\n");
        assert_eq!(source.admit(None).await, Admission::Broken);
        std::thread::sleep(Duration::from_millis(20));
        let hash = bcrypt::hash("other", 4).unwrap();
        write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  bob: {hash}\n"),
        );
        assert_eq!(
            source.admit(Some(&header("bob", "other"))).await,
            Admission::Allowed
        );
        assert_eq!(
            source.admit(Some(&header("alice", "s3cret"))).await,
            Admission::Unauthorized
        );
    }

    #[tokio::test]
    async fn accepts_every_bcrypt_prefix_htpasswd_and_libraries_write() {
        // htpasswd -nbBC 4 "" pw; $2a$ and $2b$ are the same hash under another prefix.
        let y = "$2y$04$uZnwWlAU4/SFfL.goAxCpOHOGnqX0ChF5eAXf/HpjSL0MYalnyWAa";
        let dir = tempfile::tempdir().unwrap();
        for prefix in ["$2y$", "$2a$", "$2b$"] {
            let hash = y.replacen("$2y$", prefix, 1);
            let path = write(
                dir.path(),
                "web.yml",
                &format!("basic_auth_users:\n  u: {hash}\n"),
            );
            let source = WebConfigSource::open(Some(path)).unwrap();
            use base64::Engine as _;
            let good = base64::engine::general_purpose::STANDARD.encode("u:pw");
            let bad = base64::engine::general_purpose::STANDARD.encode("u:px");
            let header = |t: &str| HeaderValue::from_str(&format!("Basic {t}")).unwrap();
            assert_eq!(
                source.admit(Some(&header(&good))).await,
                Admission::Allowed,
                "{prefix}"
            );
            assert_eq!(
                source.admit(Some(&header(&bad))).await,
                Admission::Unauthorized,
                "{prefix}"
            );
        }
    }

    #[test]
    fn token_bucket_refills() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(Duration::from_secs(1), 2);
        bucket.last = start;
        assert!(bucket.take(start));
        assert!(bucket.take(start));
        assert!(!bucket.take(start));
        assert!(bucket.take(start + Duration::from_millis(1001)));
        assert!(!bucket.take(start + Duration::from_millis(1002)));
    }
}
