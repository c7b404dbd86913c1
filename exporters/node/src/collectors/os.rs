//! `os`: `node_os_info{build_id,id,id_like,image_id,image_version,name,pretty_name,variant,
//! variant_id,version,version_codename,version_id} 1`, `node_os_version{id,id_like,name}` (the
//! major.minor of `VERSION_ID`) and, when `SUPPORT_END` is set,
//! `node_os_support_end_timestamp_seconds`, from `<rootfs>/etc/os-release`, else
//! `<rootfs>/usr/lib/os-release`.
//!
//! The file is small and read on every scrape, so an upgrade shows at once. Its syntax is the
//! shell-like `KEY=value` of os-release(5), parsed as upstream's envparse library does: quotes,
//! JSON-style escapes in double quotes, `#` comments, an optional `export `; a malformed line is
//! an error for the file.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(OsRelease {
        candidates: [
            paths.root("/etc/os-release"),
            paths.root("/usr/lib/os-release"),
        ],
    }))
}

struct OsRelease {
    candidates: [PathBuf; 2],
}

/// The value of one `KEY=value` line, or `None` for blank and comment lines.
fn parse_line(line: &str) -> Result<Option<(&str, String)>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (key, value) = line.split_once('=').ok_or("missing =")?;
    let (mut key, value) = (key.trim(), value.trim());
    if key.len() > "export ".len() {
        key = key.strip_prefix("export ").unwrap_or(key);
    }
    let mut chars = key.chars();
    match chars.next() {
        None => return Err("empty key".to_owned()),
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        Some(c) => return Err(format!("key must start with [A-Za-z_] but found {c:?}")),
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/'))) {
        return Err(format!(
            "key characters must be [A-Za-z0-9/_.] but found {c:?}"
        ));
    }
    Ok(Some((key, parse_value(value)?)))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    Double,
    Single,
}

fn parse_value(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    // Length of `out` up to its last significant character (to drop spaces before a comment).
    let mut significant = 0;
    let mut mode = Mode::Plain;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if (c as u32) < 32 {
            return Err(format!("{:#04x} is an invalid value character", c as u32));
        }
        match (mode, c) {
            (Mode::Plain, '"') => mode = Mode::Double,
            (Mode::Plain, '\'') => mode = Mode::Single,
            (Mode::Plain, '#') => {
                out.truncate(significant);
                return Ok(out);
            }
            (Mode::Plain, ' ') => out.push(c),
            (Mode::Double, '"') | (Mode::Single, '\'') => mode = Mode::Plain,
            (Mode::Double, '\\') => {
                let escaped = match chars.next().ok_or("incomplete escape sequence")? {
                    c @ ('"' | '\\' | '/') => c,
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'r' => '\r',
                    'n' => '\n',
                    't' => '\t',
                    'u' => unicode_escape(&mut chars)?,
                    other => return Err(format!("invalid escape sequence: {other:?}")),
                };
                out.push(escaped);
                significant = out.len();
            }
            _ => {
                out.push(c);
                significant = out.len();
            }
        }
    }
    match mode {
        Mode::Plain => Ok(out),
        Mode::Double => Err("unmatched \"".to_owned()),
        Mode::Single => Err("unmatched '".to_owned()),
    }
}

/// The character of a `\uXXXX` escape (the `\u` already read), with UTF-16 surrogate pairs.
fn unicode_escape(chars: &mut std::str::Chars<'_>) -> Result<char, String> {
    let hex = |chars: &mut std::str::Chars<'_>| -> Result<u32, String> {
        let digits: String = chars.take(4).collect();
        if digits.len() != 4 {
            return Err("incomplete hex sequence".to_owned());
        }
        u32::from_str_radix(&digits, 16).map_err(|_| format!("invalid hex sequence {digits:?}"))
    };
    let first = hex(chars)?;
    if (0xD800..0xE000).contains(&first) {
        if chars.next() != Some('\\') || chars.next() != Some('u') {
            return Err("incomplete Unicode surrogate pair".to_owned());
        }
        let second = hex(chars)?;
        let decoded = char::decode_utf16([first as u16, second as u16])
            .next()
            .and_then(Result::ok);
        return Ok(decoded.unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    Ok(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER))
}

/// The labels of `node_os_info`, in upstream's order, and the matching os-release keys.
const INFO_LABELS: [(&str, &str); 12] = [
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
];

#[derive(Debug, Default, PartialEq)]
struct Release {
    /// Values of the keys we export, indexed like [`INFO_LABELS`].
    info: [String; 12],
    support_end: String,
}

impl Release {
    fn get(&self, key: &str) -> &str {
        INFO_LABELS
            .iter()
            .position(|(_, k)| *k == key)
            .map_or("", |i| &self.info[i])
    }
}

fn parse(text: &str) -> Result<Release, String> {
    let mut release = Release::default();
    for (number, line) in text.lines().enumerate() {
        let parsed = parse_line(line).map_err(|e| format!("error on line {}: {e}", number + 1))?;
        let Some((key, value)) = parsed else { continue };
        if key == "SUPPORT_END" {
            release.support_end = value;
        } else if let Some(i) = INFO_LABELS.iter().position(|(_, k)| *k == key) {
            release.info[i] = value;
        }
    }
    Ok(release)
}

/// The leading `major[.minor]` of a version as a number (`20.04.2` → 20.04), as upstream's
/// `^[0-9]+\.?[0-9]*`; `None` when it does not start with a digit.
fn major_minor(version: &str) -> Option<f64> {
    let major = version.bytes().take_while(u8::is_ascii_digit).count();
    if major == 0 {
        return None;
    }
    let mut end = major;
    if version[end..].starts_with('.') {
        end += 1;
        end += version[end..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
    }
    version[..end].trim_end_matches('.').parse().ok()
}

/// Midnight UTC of a `YYYY-MM-DD` date as a Unix timestamp.
fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), then seconds.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146_097 + day_of_era - 719_468) * 86_400)
}

impl Collector for OsRelease {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut found = None;
        for path in &self.candidates {
            match read_string(path) {
                Ok(text) => {
                    found = Some((path, text));
                    break;
                }
                Err(err) if err.is_not_found() => continue,
                Err(err) => return Err(err),
            }
        }
        let Some((path, text)) = found else {
            tracing::debug!("no os-release file found");
            return Err(CollectorError::NoData);
        };
        let release = parse(&text).map_err(|reason| CollectorError::parse(path, reason))?;
        let support_end = if release.support_end.is_empty() {
            None
        } else {
            let timestamp = parse_date(&release.support_end).ok_or_else(|| {
                CollectorError::parse(
                    path,
                    format!(
                        "SUPPORT_END {:?} is not a YYYY-MM-DD date",
                        release.support_end
                    ),
                )
            })?;
            Some(timestamp)
        };

        let labels: Vec<(&str, &str)> = INFO_LABELS
            .iter()
            .zip(&release.info)
            .map(|((label, _), value)| (*label, value.as_str()))
            .collect();
        out.push(
            MetricFamily::gauge(
                "node_os_info",
                "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, \
                 image_version, name, pretty_name, variant, variant_id, version, \
                 version_codename, version_id.",
            )
            .with(&labels, 1.0),
        );
        if let Some(version) = major_minor(release.get("VERSION_ID")).filter(|v| *v > 0.0) {
            out.push(
                MetricFamily::gauge(
                    "node_os_version",
                    "Metric containing the major.minor part of the OS version.",
                )
                .with(
                    &[
                        ("id", release.get("ID")),
                        ("id_like", release.get("ID_LIKE")),
                        ("name", release.get("NAME")),
                    ],
                    version,
                ),
            );
        }
        if let Some(timestamp) = support_end {
            out.push(
                MetricFamily::gauge(
                    "node_os_support_end_timestamp_seconds",
                    "Metric containing the end-of-life date timestamp of the OS.",
                )
                .with(&[], timestamp as f64),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UBUNTU: &str = r#"NAME="Ubuntu"
VERSION="20.04.2 LTS (Focal Fossa)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 20.04.2 LTS"
VERSION_ID="20.04"
HOME_URL="https://www.ubuntu.com/"
VERSION_CODENAME=focal
"#;

    #[test]
    fn reads_os_release() {
        let release = parse(UBUNTU).unwrap();
        assert_eq!(release.get("NAME"), "Ubuntu");
        assert_eq!(release.get("VERSION"), "20.04.2 LTS (Focal Fossa)");
        assert_eq!(release.get("ID_LIKE"), "debian");
        assert_eq!(release.get("VARIANT"), "");
        assert_eq!(major_minor(release.get("VERSION_ID")), Some(20.04));
    }

    #[test]
    fn shell_quoting_comments_and_escapes() {
        let text = "# comment\n\nexport ID=fedora # trailing\nNAME='Fedora Linux'\n\
                    PRETTY_NAME=\"Fedora \\\"39\\\" \\u00e9\\ud83d\\ude00\"\nVARIANT=  spaced out  \n";
        let release = parse(text).unwrap();
        assert_eq!(release.get("ID"), "fedora");
        assert_eq!(release.get("NAME"), "Fedora Linux");
        assert_eq!(release.get("PRETTY_NAME"), "Fedora \"39\" é😀");
        assert_eq!(release.get("VARIANT"), "spaced out");
        for bad in [
            "NAME=\"open\n",
            "NAME='open\n",
            "1NAME=x\n",
            "=x\n",
            "NAME x\n",
            "NAME=\"\\q\"\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn versions_and_dates() {
        assert_eq!(major_minor("12"), Some(12.0));
        assert_eq!(major_minor("2023.3.1"), Some(2023.3));
        assert_eq!(major_minor("7."), Some(7.0));
        assert_eq!(major_minor("rolling"), None);
        assert_eq!(major_minor(""), None);
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2025-05-13"), Some(1_747_094_400));
        assert_eq!(parse_date("2024-02-29"), Some(1_709_164_800));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2025-5-13"), None);
        assert_eq!(parse_date("2025-13-01"), None);
    }

    fn collector(root: &std::path::Path) -> OsRelease {
        let paths = Paths {
            rootfs: root.to_owned(),
            ..Paths::default()
        };
        OsRelease {
            candidates: [
                paths.root("/etc/os-release"),
                paths.root("/usr/lib/os-release"),
            ],
        }
    }

    #[test]
    fn prefers_etc_then_usr_lib_and_reports_support_end() {
        let dir = tempfile::tempdir().unwrap();
        let collector = collector(dir.path());
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
        std::fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
        std::fs::write(dir.path().join("usr/lib/os-release"), UBUNTU).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].samples[0].value, 20.04);

        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/os-release"),
            "ID=fedora\nVERSION_ID=39\nSUPPORT_END=2024-11-12\n",
        )
        .unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(out[1].samples[0].value, 39.0);
        assert_eq!(out[2].name, "node_os_support_end_timestamp_seconds");
        assert_eq!(out[2].samples[0].value, 1_731_369_600.0);

        std::fs::write(dir.path().join("etc/os-release"), "SUPPORT_END=soon\n").unwrap();
        assert!(collector.update(&mut Vec::new()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "([A-Z_ ]{0,6}=?[\"'\\\\a-z#u0-9 é]{0,16}\n?){0,5}") {
            let _ = parse(&text);
        }

        #[test]
        fn dates_never_panic(text in "[0-9é-]{0,12}") {
            let _ = parse_date(&text);
        }

        #[test]
        fn versions_never_panic(text in "[0-9.aé]{0,8}") {
            let _ = major_minor(&text);
        }
    }
}
