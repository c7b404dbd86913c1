//! How mysqld_exporter turns the text MySQL returns into numbers and metric names. Every scraper
//! that maps rows generically (status, variables, replica status) goes through here, so a value
//! that upstream exports is exported, and one it skips is skipped.

/// Parses a status or variable value as upstream's `parseStatus` does: on/off words, `Connecting`,
/// Galera's `Primary`, two date formats (as Unix seconds), then a Go float. `None` means upstream
/// skips the value silently.
pub fn parse_status(raw: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(raw).ok()?;
    match text.to_ascii_lowercase().as_str() {
        "yes" | "on" => return Some(1.0),
        "no" | "off" | "disabled" => return Some(0.0),
        // SHOW SLAVE STATUS's Slave_IO_Running says `Connecting` while not running.
        "connecting" => return Some(0.0),
        // wsrep_cluster_status.
        "primary" => return Some(1.0),
        "non-primary" | "disconnected" => return Some(0.0),
        _ => {}
    }
    if let Some(seconds) = parse_openssl_date(text).or_else(|| parse_sql_datetime(text)) {
        return Some(seconds as f64);
    }
    // Upstream then tries `.+\.(\d+)$` (meant for binary log names) but parses the whole match,
    // not the number: for a one-line value that is the value itself, so `mariadb-bin.000002`
    // is skipped and `1.5` is 1.5. A multi-line value is judged by its last line, which is where
    // an unanchored regular expression finds its match.
    let candidate = match text.rsplit_once('\n') {
        Some((_, last)) if looks_like_log_name(last) => last,
        _ => text,
    };
    parse_go_float(candidate)
}

/// Whether `line` matches `.+\.\d+$`: at least one character, a dot, digits to the end.
fn looks_like_log_name(line: &str) -> bool {
    match line.rsplit_once('.') {
        Some((head, digits)) => {
            !head.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms MySQL produces: decimal numbers with optional
/// sign, fraction and exponent, and `inf`/`infinity`/`nan`. Out-of-range values are errors in Go
/// (not infinities), so they are `None` here. (Go's hexadecimal floats never come out of MySQL.)
pub fn parse_go_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let first = unsigned.bytes().next()?;
    let plausible = first.is_ascii_digit()
        || first == b'.'
        || first == b'i'
        || first == b'I'
        || unsigned.eq_ignore_ascii_case("nan");
    if !plausible {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    if value.is_infinite()
        && !(unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity"))
    {
        return None;
    }
    Some(value)
}

/// `Jan _2 15:04:05 2006 MST` (OpenSSL's certificate dates in `Ssl_server_not_after`), as Unix
/// seconds; the zone abbreviation counts as UTC, as Go does for abbreviations it does not know.
fn parse_openssl_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month_name = text.get(..3)?.to_ascii_lowercase();
    let month = MONTHS.iter().position(|m| *m == month_name)? as u32 + 1;
    let rest = text.get(3..)?.strip_prefix(' ')?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut parts = rest.split(' ');
    let day: u32 = small_number(parts.next()?, 1, 2)?;
    let (hour, minute, second) = parse_clock(parts.next()?)?;
    let year: i64 = small_number(parts.next()?, 4, 4)?.into();
    let zone = parts.next()?;
    if parts.next().is_some() || zone.len() < 3 || !zone.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    unix_seconds(year, month, day, hour, minute, second)
}

/// `2006-01-02 15:04:05` in UTC, as Unix seconds.
fn parse_sql_datetime(text: &str) -> Option<i64> {
    let (date, clock) = text.split_once(' ')?;
    let mut fields = date.split('-');
    let year: i64 = small_number(fields.next()?, 4, 4)?.into();
    let month = small_number(fields.next()?, 2, 2)?;
    let day = small_number(fields.next()?, 2, 2)?;
    if fields.next().is_some() {
        return None;
    }
    let (hour, minute, second) = parse_clock(clock)?;
    unix_seconds(year, month, day, hour, minute, second)
}

/// `15:04:05`, with an optional fractional second (Go accepts one after the seconds).
fn parse_clock(text: &str) -> Option<(u32, u32, u32)> {
    let mut fields = text.split(':');
    let hour = small_number(fields.next()?, 1, 2)?;
    let minute = small_number(fields.next()?, 2, 2)?;
    let seconds = fields.next()?;
    if fields.next().is_some() {
        return None;
    }
    let (whole, fraction) = match seconds.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (seconds, None),
    };
    if fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let second = small_number(whole, 2, 2)?;
    (hour < 24 && minute < 60 && second < 60).then_some((hour, minute, second))
}

fn small_number(text: &str, min_len: usize, max_len: usize) -> Option<u32> {
    if text.len() < min_len || text.len() > max_len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Seconds since the Unix epoch of a UTC civil time (Howard Hinnant's days-from-civil).
fn unix_seconds(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<i64> {
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = i64::from((month + 9) % 12);
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second))
}

/// Upstream's `validPrometheusName`: every character outside `[a-zA-Z0-9_]` becomes `_`, then
/// lower case.
pub fn metric_name_part(raw: &str) -> String {
    let mut name = octo_exporter_kit::exposition::sanitize_name(raw);
    name.make_ascii_lowercase();
    name
}

/// The bytes of a text-protocol value, `None` for NULL.
pub fn bytes(value: &mysql_async::Value) -> Option<std::borrow::Cow<'_, [u8]>> {
    use mysql_async::Value;
    match value {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(std::borrow::Cow::Borrowed(bytes.as_slice())),
        other => Some(std::borrow::Cow::Owned(
            other.as_sql(true).trim_matches('\'').as_bytes().to_vec(),
        )),
    }
}

/// A value as text (lossy for invalid UTF-8), empty for NULL, as Go's `sql.RawBytes` reads it.
pub fn text(value: &mysql_async::Value) -> String {
    bytes(value)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// A numeric column: `None` for NULL or text that is not a number.
pub fn number(value: &mysql_async::Value) -> Option<f64> {
    use mysql_async::Value;
    match value {
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Float(f) => Some(f64::from(*f)),
        Value::Double(d) => Some(*d),
        other => {
            let raw = bytes(other)?;
            parse_go_float(std::str::from_utf8(&raw).ok()?.trim())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_numbers_and_dates() {
        let p = |s: &str| parse_status(s.as_bytes());
        assert_eq!(p("ON"), Some(1.0));
        assert_eq!(p("yes"), Some(1.0));
        assert_eq!(p("OFF"), Some(0.0));
        assert_eq!(p("DISABLED"), Some(0.0));
        assert_eq!(p("Connecting"), Some(0.0));
        assert_eq!(p("Primary"), Some(1.0));
        assert_eq!(p("non-Primary"), Some(0.0));
        assert_eq!(p("12345"), Some(12345.0));
        assert_eq!(p("-3"), Some(-3.0));
        assert_eq!(p("0.000000"), Some(0.0));
        assert_eq!(p("18446744073709551615"), Some(18446744073709551615.0));
        assert_eq!(p("1.5"), Some(1.5));
        assert_eq!(p("1e400"), None);
        assert_eq!(p("mariadb-bin.000002"), None);
        assert_eq!(p("10.11.6"), None);
        assert_eq!(p("127.0.0.1"), None);
        assert_eq!(p("10.11.6-MariaDB"), None);
        assert_eq!(p(""), None);
        assert_eq!(p(" 1"), None);
        assert_eq!(p("REPEATABLE-READ"), None);
        assert_eq!(p("Mar 10 12:00:00 2034 GMT"), Some(2025604800.0));
        assert_eq!(p("Mar  1 00:00:00 2000 UTC"), Some(951868800.0));
        assert_eq!(p("2024-02-29 23:59:59"), Some(1709251199.0));
        assert_eq!(p("2023-02-29 23:59:59"), None);
        assert_eq!(p("first line\nbin.5"), None);
        assert_eq!(p("first line\n1.5"), Some(1.5));
    }

    #[test]
    fn names_are_sanitised_and_lowercased() {
        assert_eq!(
            metric_name_part("Innodb_buffer_pool_pages_data"),
            "innodb_buffer_pool_pages_data"
        );
        assert_eq!(metric_name_part("wsrep-x.y"), "wsrep_x_y");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let _ = parse_status(&raw);
        }

        #[test]
        fn integers_round_trip(value in proptest::num::i64::ANY) {
            proptest::prop_assert_eq!(parse_status(value.to_string().as_bytes()), Some(value as f64));
        }
    }
}
