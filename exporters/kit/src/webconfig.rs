//! The exporter-toolkit web configuration file (`--web.config.file`): TLS with rustls (mutual TLS
//! included), bcrypt basic auth, response headers and a rate limit.
//!
//! The file, and the certificate files it names, are re-read when they change, so certificate
//! rotation and new users take effect without a restart. A file found empty or invalid after
//! start-up (an editor or `>` truncates before it writes; a typo) never replaces the last valid
//! configuration: an empty one would mean no authentication. The error is logged, and the next
//! change of the file is read again.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

use crate::basic_auth::{PasswordChecker, Verdict};
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
        Ok(read_config(path)?.unwrap_or_else(|| (WebConfig::default(), vec![path.to_owned()])))
    }

    /// Validates the text of a web configuration file read from `path`.
    fn parse(path: &Path, text: &str) -> Result<(WebConfig, Vec<PathBuf>), WebConfigError> {
        let schema: FileSchema = if text.trim().is_empty() {
            FileSchema::default()
        } else {
            serde_norway::from_str(text).map_err(|err| WebConfigError::Parse {
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

/// Reads and validates the file; `None` when it is empty (or only white space).
fn read_config(path: &Path) -> Result<Option<(WebConfig, Vec<PathBuf>)>, WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    WebConfig::parse(path, &text).map(Some)
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
    let verifies = matches!(
        auth_type,
        "RequireAndVerifyClientCert" | "VerifyClientCertIfGiven"
    );
    if !verifies
        && tls
            .client_allowed_sans
            .as_ref()
            .is_some_and(|s| !s.is_empty())
    {
        // A certificate nobody verified can name itself anything: the list would look like
        // access control and be none.
        return Err(format!(
            "client_allowed_sans needs a client_auth_type that verifies certificates \
             (RequireAndVerifyClientCert or VerifyClientCertIfGiven), not {auth_type}"
        ));
    }
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

/// What tells one version of a file from another: a rewrite in place changes the size or the
/// change time, a rename changes the inode.
type Stamp = Vec<(PathBuf, Option<FileStamp>)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    inode: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

fn stamp_of(paths: &[PathBuf]) -> Stamp {
    paths
        .iter()
        .map(|path| {
            let stamp = std::fs::metadata(path).ok().map(|m| FileStamp {
                inode: m.ino(),
                size: m.size(),
                modified: (m.mtime(), m.mtime_nsec()),
                changed: (m.ctime(), m.ctime_nsec()),
            });
            (path.clone(), stamp)
        })
        .collect()
}

/// How many times a file that keeps changing while it is read is read again before the
/// request is answered under the configuration already loaded.
const READ_ATTEMPTS: usize = 3;

/// Reads the configuration with its files' stamps taken first and checked again after the
/// read, so that what is cached is what the stamp describes: a file that changed during the
/// read (a rewrite in progress) is read again. `files` are the files the last configuration
/// depended on. `None` when the files never held still.
fn read_stable(path: &Path, mut files: Vec<PathBuf>) -> Option<(Stamp, Reading)> {
    for _ in 0..READ_ATTEMPTS {
        let before = stamp_of(&files);
        let reading = match read_config(path) {
            Ok(Some((config, watched))) => Reading::Valid(config, watched),
            Ok(None) => Reading::Empty,
            Err(err) => Reading::Invalid(err),
        };
        if stamp_of(&files) != before {
            continue;
        }
        match &reading {
            // The configuration now names other files: stamp those first, and read again.
            Reading::Valid(_, watched) if *watched != files => files = watched.clone(),
            _ => return Some((before, reading)),
        }
    }
    None
}

/// One read of the configuration files.
enum Reading {
    Valid(WebConfig, Vec<PathBuf>),
    Empty,
    Invalid(WebConfigError),
}

struct Loaded {
    stamp: Stamp,
    /// The last valid configuration, which an empty or invalid file leaves in place.
    config: Arc<WebConfig>,
}

/// The web configuration as it is now: re-validated whenever the file or a file it names
/// changes.
pub struct WebConfigSource {
    path: Option<PathBuf>,
    loaded: Mutex<Loaded>,
    limiter: Mutex<Option<TokenBucket>>,
    passwords: PasswordChecker,
}

impl std::fmt::Debug for WebConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfigSource")
            .field("path", &self.path)
            .finish()
    }
}

/// What the server does with one request after the web configuration has looked at it.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Serve the request.
    Allowed,
    /// 429: over the rate limit, or a password to check while the bcrypt queue is full.
    RateLimited,
    /// 401 with `WWW-Authenticate: Basic`.
    Unauthorized,
}

impl WebConfigSource {
    /// Loads the file named by `--web.config.file` (or nothing) and fails when it is invalid, so
    /// a broken configuration stops the exporter at start-up rather than later.
    pub fn open(path: Option<PathBuf>) -> Result<Self, WebConfigError> {
        let (stamp, config) = match &path {
            None => (Vec::new(), WebConfig::default()),
            Some(path) => match read_stable(path, vec![path.clone()]) {
                Some((stamp, Reading::Valid(config, _))) => (stamp, config),
                // At start-up an empty file is a configuration asking for nothing.
                Some((stamp, Reading::Empty)) => (stamp, WebConfig::default()),
                Some((_, Reading::Invalid(err))) => return Err(err),
                // Rewritten all the while: take it as it is now; the next change is noticed.
                None => {
                    let (config, watched) = WebConfig::load(path)?;
                    (stamp_of(&watched), config)
                }
            },
        };
        let config = Arc::new(config);
        Ok(WebConfigSource {
            path,
            loaded: Mutex::new(Loaded { stamp, config }),
            limiter: Mutex::new(None),
            passwords: PasswordChecker::default(),
        })
    }

    /// The configuration now, reloaded first if a file it depends on has changed.
    pub fn current(&self) -> Arc<WebConfig> {
        let Some(path) = &self.path else {
            return lock(&self.loaded).config.clone();
        };
        let mut loaded = lock(&self.loaded);
        let mut watched: Vec<PathBuf> = loaded.stamp.iter().map(|(p, _)| p.clone()).collect();
        if !watched.contains(path) {
            watched.push(path.clone());
        }
        if stamp_of(&watched) == loaded.stamp {
            return loaded.config.clone();
        }
        let Some((stamp, reading)) = read_stable(path, watched) else {
            tracing::debug!(file = %path.display(), "web config is changing; read again on the next request");
            return loaded.config.clone();
        };
        loaded.stamp = stamp;
        match reading {
            Reading::Valid(config, _) => {
                tracing::info!(file = %path.display(), "web config reloaded");
                loaded.config = Arc::new(config);
                *lock(&self.limiter) = None;
                self.passwords.forget();
            }
            Reading::Empty => {
                // An empty file would mean no TLS and no users: never take it for a config.
                tracing::warn!(
                    file = %path.display(),
                    "web config file is empty (rewritten in place?); keeping the last valid configuration"
                );
            }
            Reading::Invalid(err) => {
                // Failing open (no users) or failing every scrape would both be worse than the
                // configuration that was valid a moment ago.
                tracing::error!(error = %err, "web config is invalid; keeping the last valid configuration until it is fixed");
            }
        }
        loaded.config.clone()
    }

    /// Applies the rate limit and basic authentication to a request, in the toolkit's order,
    /// under the current configuration.
    pub async fn admit(&self, authorization: Option<&HeaderValue>) -> Admission {
        self.admit_under(&self.current(), authorization).await
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
        match self.passwords.check(&config.users, authorization).await {
            Verdict::Verified => Admission::Allowed,
            Verdict::Refused => Admission::Unauthorized,
            Verdict::Busy => Admission::RateLimited,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    fn self_signed_client_certificate_cannot_claim_an_allowed_san() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        write(dir.path(), "c.pem", &cert.cert.pem());
        write(dir.path(), "k.pem", &cert.signing_key.serialize_pem());
        for mode in ["RequestClientCert", "RequireAnyClientCert", "NoClientCert"] {
            let path = write(
                dir.path(),
                "web.yml",
                &format!(
                    "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  \
                     client_auth_type: {mode}\n  client_allowed_sans: [prometheus]\n"
                ),
            );
            let err = WebConfig::load(&path).unwrap_err().to_string();
            assert!(
                err.contains("client_allowed_sans needs a client_auth_type that verifies"),
                "{mode}: {err}"
            );
        }
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

        // A broken file keeps the last valid users until fixed, then the new users apply.
        std::thread::sleep(Duration::from_millis(20));
        write(dir.path(), "web.yml", "basic_auth_users: [oops\n");
        assert_eq!(source.admit(None).await, Admission::Unauthorized);
        assert_eq!(
            source.admit(Some(&header("alice", "s3cret"))).await,
            Admission::Allowed
        );
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
