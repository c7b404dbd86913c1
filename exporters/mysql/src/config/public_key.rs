//! `server-public-key-path`: the server's RSA public key, read once at load and checked there,
//! because mysql_async's PEM reader panics on anything else (a panic in the middle of a
//! scrape instead of a clear start-up error).

use std::path::Path;
use std::sync::Arc;

/// The PKCS#1 and PKCS#8 (SubjectPublicKeyInfo) armours mysql_async accepts.
const ARMOURS: [(&str, &str); 2] = [
    (
        "-----BEGIN RSA PUBLIC KEY-----",
        "-----END RSA PUBLIC KEY-----",
    ),
    ("-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"),
];

/// The DER of the rsaEncryption algorithm identifier, which a PKCS#8 RSA key holds.
const RSA_ENCRYPTION_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// Reads and checks the key file.
pub fn read(path: &Path) -> Result<Arc<str>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("server-public-key-path {}: {err}", path.display()))?;
    check(&text).map_err(|reason| {
        format!(
            "server-public-key-path {}: {reason} (expected an RSA public key in PEM, as the \
             server's caching_sha2_password_public_key_path)",
            path.display()
        )
    })?;
    Ok(Arc::from(text))
}

/// Whether `text` is a PEM RSA public key the way mysql_async reads it.
pub fn check(text: &str) -> Result<(), String> {
    for (index, (begin, end)) in ARMOURS.iter().enumerate() {
        let Some(start) = text.find(begin) else {
            continue;
        };
        let body = &text[start + begin.len()..];
        let Some(stop) = body.find(end) else {
            return Err(format!("no {end} line"));
        };
        let der = decode_base64(&body[..stop]).ok_or("the key is not base64")?;
        if der.first() != Some(&0x30) {
            return Err("the key is not a DER sequence".into());
        }
        let pkcs8 = index == 1;
        if pkcs8
            && !der
                .windows(RSA_ENCRYPTION_OID.len())
                .any(|w| w == RSA_ENCRYPTION_OID)
        {
            return Err("not an RSA key".into());
        }
        return Ok(());
    }
    Err("no -----BEGIN PUBLIC KEY----- or -----BEGIN RSA PUBLIC KEY----- line".into())
}

/// Standard base64 with padding, whitespace ignored.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.is_empty() || !digits.len().is_multiple_of(4) {
        return None;
    }
    let value = |b: u8| -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(digits.len() / 4 * 3);
    let last = digits.len() / 4 - 1;
    for (index, quad) in digits.chunks(4).enumerate() {
        let padding = quad.iter().rev().take_while(|&&b| b == b'=').count();
        if padding > 2 || (padding > 0 && index != last) {
            return None;
        }
        let mut word = 0u32;
        for &b in &quad[..4 - padding] {
            word = word << 6 | value(b)?;
        }
        word <<= 6 * padding as u32;
        let bytes = word.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - padding]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqSfhXviB0NGeCSIdL3pd
zD7QrlGZ0LdbH6MYp/clV3hwaomMmV17yunbOQVBiulO0dOq5txqArUVCOgpsfH4
gIayJodZbAiiaEAZOB9x4qfwRhmYUR8P1ZIsZuHXv47X7r/s4x0aV04K041MvXHU
4ljUa7cj6OPJrf4l8eYd/xIYOQnctp+nSlz/bMu5noems/yLBlYAttI9r/O+qLWO
ExmZikxEffRv6355VZJj9qC+HmKZX9WxpNeRMYrsPBsDAIus4P1uOgDy6uja8FKo
uURcjMuuZ7JnoGQ7HrcPyLPWOpBwJsoJs3vbo7n7+mZQQioxRZfIONpakjbCs0Sb
HQIDAQAB
-----END PUBLIC KEY-----
";

    #[test]
    fn keys_are_checked() {
        assert_eq!(check(KEY), Ok(()));
        assert_eq!(decode_base64("TWFu").unwrap(), b"Man");
        assert_eq!(decode_base64("TWE=").unwrap(), b"Ma");
        assert_eq!(decode_base64("TQ==").unwrap(), b"M");
        for bad in [
            "",
            "hello",
            "-----BEGIN PUBLIC KEY-----\nMIIB\n",
            "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\nTWFu\n-----END PUBLIC KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
