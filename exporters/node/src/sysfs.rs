//! sysfs reads as upstream's procfs library does them, and the Go string and number rules its
//! values go through: upstream reads every one-value attribute with one `read(2)` of at most
//! 128 bytes, because some hwmon drivers answer `EAGAIN` forever to a retrying reader.

use std::path::{Path, PathBuf};

/// Reads a sysfs attribute the way procfs' `SysReadFile` does: one `read(2)` of at most 128
/// bytes, so a driver answering `EAGAIN` fails the read instead of spinning.
/// The descriptor is kept open between scrapes (see `kept_files`).
pub(crate) fn sys_read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut buffer = Vec::with_capacity(128);
    crate::kept_files::read_once(path, 128, &mut buffer)?;
    Ok(buffer)
}

/// Go's `bytes.TrimSpace` for the ASCII white space sysfs uses.
pub(crate) fn go_trim_space(bytes: &[u8]) -> &[u8] {
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = bytes.iter().position(|b| !space(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// Go's `strings.ToValidUTF8(s, "\u{FFFD}")`: every run of invalid bytes becomes one U+FFFD
/// (unlike `String::from_utf8_lossy`, which writes one per invalid sequence).
pub(crate) fn to_valid_utf8(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut in_invalid_run = false;
    loop {
        match std::str::from_utf8(bytes) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(err) => {
                let (valid, rest) = bytes.split_at(err.valid_up_to());
                if !valid.is_empty() {
                    in_invalid_run = false;
                    // `valid` is valid UTF-8 by construction.
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                }
                if !in_invalid_run {
                    out.push('\u{FFFD}');
                    in_invalid_run = true;
                }
                let skip = err.error_len().unwrap_or(rest.len()).max(1);
                bytes = &rest[skip.min(rest.len())..];
                if bytes.is_empty() {
                    return out;
                }
            }
        }
    }
}

/// Go's `strconv.ParseInt(text, 0, 64)`: optional sign, then `0x`/`0o`/`0b` prefixes or a
/// leading `0` for octal, underscores between digits allowed only after a prefix.
pub(crate) fn parse_go_int(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_go_magnitude(body)?;
    if negative {
        if magnitude > i64::MAX as u64 + 1 {
            return None;
        }
        Some((magnitude as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `strconv.ParseUint(text, 0, 64)`: [`parse_go_int`]'s prefixes, no sign.
pub(crate) fn parse_go_uint(text: &str) -> Option<u64> {
    if text.starts_with(['+', '-']) {
        return None;
    }
    parse_go_magnitude(text)
}

/// An unsigned number with Go's base prefixes and underscore rules.
fn parse_go_magnitude(body: &str) -> Option<u64> {
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest, true)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest, true)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if digits.contains('_') {
        // Underscores only between digits, and only with a base prefix.
        let well_placed = prefixed
            && !digits.starts_with('_')
            && !digits.ends_with('_')
            && !digits.contains("__");
        if !well_placed {
            return None;
        }
    }
    let cleaned: String = digits.chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() || cleaned.starts_with(['+', '-']) {
        return None;
    }
    u64::from_str_radix(&cleaned, radix).ok()
}

/// Go's `strconv.ParseFloat(text, 64)` for the decimal forms sysfs and text files use:
/// out-of-range values are errors there, not infinities.
pub(crate) fn parse_go_float(text: &str) -> Option<f64> {
    let value: f64 = text.parse().ok()?;
    if value.is_infinite() && !text.to_ascii_lowercase().contains("inf") {
        return None;
    }
    Some(value)
}

/// The `<prefix><digit>...` entries of a directory with what follows the prefix, sorted as
/// Go's `filepath.Glob("<prefix>[0-9]*")` returns them.
pub(crate) fn numbered_entries(dir: &Path, prefix: &str) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let rest = name.strip_prefix(prefix)?;
            rest.starts_with(|c: char| c.is_ascii_digit())
                .then(|| (rest.to_owned(), entry.path()))
        })
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}
