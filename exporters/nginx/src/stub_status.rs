//! The `stub_status` page of nginx's ngx_http_stub_status_module:
//!
//! ```text
//! Active connections: 2
//! server accepts handled requests
//!  29 29 31
//! Reading: 0 Writing: 1 Waiting: 1
//! ```
//!
//! Parsed as strictly as nginx-prometheus-exporter parses it: anything else, including Tengine's
//! variant with an extra `request_time` column, is an error (reported as `nginx_up 0`) rather
//! than numbers taken from the wrong place.

/// The numbers on a stub_status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StubStatus {
    pub active: u64,
    pub accepted: u64,
    pub handled: u64,
    pub requests: u64,
    pub reading: u64,
    pub writing: u64,
    pub waiting: u64,
}

/// Why a page is not a stub_status page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the page ends after {0} of 4 lines")]
    Truncated(usize),
    #[error("line {line}: expected {expected:?}, found {found:?}")]
    Unexpected {
        line: usize,
        expected: &'static str,
        found: String,
    },
    #[error(
        "line 3 has {0} numbers where stub_status has 3 (Tengine's request_time column is not supported)"
    )]
    ColumnCount(usize),
    #[error("line {line}: {found:?} is not a connection count")]
    Number { line: usize, found: String },
}

fn number(line: usize, text: &str) -> Result<u64, ParseError> {
    text.parse().map_err(|_| ParseError::Number {
        line,
        found: text.chars().take(40).collect(),
    })
}

fn excerpt(text: &str) -> String {
    text.chars().take(60).collect()
}

/// Parses a stub_status page.
pub fn parse(page: &str) -> Result<StubStatus, ParseError> {
    let mut lines = page.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut next = |index: usize| lines.next().ok_or(ParseError::Truncated(index - 1));

    let first = next(1)?;
    let active =
        first
            .strip_prefix("Active connections:")
            .ok_or_else(|| ParseError::Unexpected {
                line: 1,
                expected: "Active connections: N",
                found: excerpt(first),
            })?;
    let active = number(1, active.trim())?;

    let second = next(2)?;
    if second.split_whitespace().collect::<Vec<_>>() != ["server", "accepts", "handled", "requests"]
    {
        return Err(ParseError::Unexpected {
            line: 2,
            expected: "server accepts handled requests",
            found: excerpt(second),
        });
    }

    let third = next(3)?;
    let counts: Vec<&str> = third.split_whitespace().collect();
    if counts.len() != 3 {
        return Err(ParseError::ColumnCount(counts.len()));
    }
    let accepted = number(3, counts[0])?;
    let handled = number(3, counts[1])?;
    let requests = number(3, counts[2])?;

    let fourth = next(4)?;
    let words: Vec<&str> = fourth.split_whitespace().collect();
    let [
        reading_key,
        reading,
        writing_key,
        writing,
        waiting_key,
        waiting,
    ] = words[..]
    else {
        return Err(ParseError::Unexpected {
            line: 4,
            expected: "Reading: N Writing: N Waiting: N",
            found: excerpt(fourth),
        });
    };
    if (reading_key, writing_key, waiting_key) != ("Reading:", "Writing:", "Waiting:") {
        return Err(ParseError::Unexpected {
            line: 4,
            expected: "Reading: N Writing: N Waiting: N",
            found: excerpt(fourth),
        });
    }
    Ok(StubStatus {
        active,
        accepted,
        handled,
        requests,
        reading: number(4, reading)?,
        writing: number(4, writing)?,
        waiting: number(4, waiting)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "Active connections: 2 \nserver accepts handled requests\n 29 28 31 \nReading: 0 Writing: 1 Waiting: 1 \n";

    #[test]
    fn parses_nginx_output() {
        assert_eq!(
            parse(PAGE),
            Ok(StubStatus {
                active: 2,
                accepted: 29,
                handled: 28,
                requests: 31,
                reading: 0,
                writing: 1,
                waiting: 1
            })
        );
    }

    #[test]
    fn refuses_tengine_truncated_and_garbage() {
        let tengine = "Active connections: 1\nserver accepts handled requests request_time\n 1 1 1 0\nReading: 0 Writing: 1 Waiting: 0\n";
        assert!(matches!(
            parse(tengine),
            Err(ParseError::Unexpected { line: 2, .. })
        ));
        let extra_column = "Active connections: 1\nserver accepts handled requests\n 1 1 1 0\nReading: 0 Writing: 1 Waiting: 0\n";
        assert_eq!(parse(extra_column), Err(ParseError::ColumnCount(4)));
        let two_lines = "Active connections: 2 \nserver accepts handled requests\n";
        assert_eq!(parse(two_lines), Err(ParseError::Truncated(2)));
        assert!(matches!(
            parse(&PAGE[..40]),
            Err(ParseError::Unexpected { line: 2, .. })
        ));
        assert_eq!(parse(""), Err(ParseError::Truncated(0)));
        assert!(parse("<html><body>502 Bad Gateway</body></html>").is_err());
        assert!(matches!(
            parse(
                "Active connections: -1\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1 Waiting: 0\n"
            ),
            Err(ParseError::Number { line: 1, .. })
        ));
        assert!(parse("Active connections: 1\nserver accepts handled requests\n 1 1 99999999999999999999999\nReading: 0 Writing: 1 Waiting: 0\n").is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn every_prefix_of_a_page_is_handled(cut in 0usize..PAGE.len()) {
            let _ = parse(&PAGE[..cut]);
        }

        #[test]
        fn any_counts_round_trip(active: u64, a: u64, h: u64, r: u64, rd: u64, wr: u64, wt: u64) {
            let page = format!("Active connections: {active} \nserver accepts handled requests\n {a} {h} {r} \nReading: {rd} Writing: {wr} Waiting: {wt} \n");
            proptest::prop_assert_eq!(parse(&page), Ok(StubStatus {
                active, accepted: a, handled: h, requests: r, reading: rd, writing: wr, waiting: wt
            }));
        }
    }
}
