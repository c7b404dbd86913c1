//! One access-log line in the `octo_metrics` format (docs/nginx-exporter.md): a flat JSON object
//! nginx writes with `log_format ... escape=json`, optionally behind the syslog header nginx
//! puts on what it sends to a `syslog:` target.
//!
//! Hand-written rather than serde_json: every line of every request passes here, and the
//! reader only has to find a dozen keys in a flat object of strings. It returns slices of the
//! line as written (still escaped) and never allocates. The values that become labels are
//! compared with configured names that cannot contain an escape (`"`, `\`, control
//! characters are refused in the configuration), so the escaped text compares correctly;
//! serde_json's borrowed strings fail on any escape and would need a `Cow` per field.

/// The fields the exporter reads, as written in the line (JSON escapes left in place). A field
/// missing from the line is empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogRecord<'a> {
    pub host: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    pub status: &'a str,
    pub request_length: &'a str,
    pub body_bytes_sent: &'a str,
    pub request_time: &'a str,
    pub upstream_addr: &'a str,
    pub upstream_status: &'a str,
    pub upstream_connect_time: &'a str,
    pub upstream_response_time: &'a str,
}

/// Why a line is not an `octo_metrics` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("the line is not UTF-8")]
    NotUtf8,
    #[error("the line is not a JSON object")]
    NotAnObject,
    #[error("the JSON object ends early or holds nested values, at byte {0}")]
    Malformed(usize),
    #[error("the line has no \"status\" field (is the log_format octo_metrics?)")]
    NoStatus,
}

/// Removes the header nginx puts before a message it sends to syslog:
/// `<190>Jan  1 00:00:00 nginx: ` (or with a host name before the tag). A line without one is
/// returned as it is.
pub fn strip_syslog_header(datagram: &[u8]) -> &[u8] {
    if datagram.first() != Some(&b'<') {
        return datagram;
    }
    // The time stamp's colons are followed by digits; the first ": " ends the tag.
    match datagram.windows(2).position(|w| w == b": ") {
        Some(at) => &datagram[at + 2..],
        None => datagram,
    }
}

/// Parses one line (without its newline).
pub fn parse(line: &[u8]) -> Result<LogRecord<'_>, LineError> {
    let line = std::str::from_utf8(line).map_err(|_| LineError::NotUtf8)?;
    let mut reader = Reader {
        text: line,
        bytes: line.as_bytes(),
        at: 0,
    };
    reader.skip_space();
    if !reader.eat(b'{') {
        return Err(LineError::NotAnObject);
    }
    let mut record = LogRecord::default();
    reader.skip_space();
    if !reader.eat(b'}') {
        loop {
            reader.skip_space();
            let key = reader.string()?;
            reader.skip_space();
            reader.expect(b':')?;
            reader.skip_space();
            let value = reader.value()?;
            if let Some(slot) = record.slot(key) {
                *slot = value;
            }
            reader.skip_space();
            if reader.eat(b',') {
                continue;
            }
            reader.expect(b'}')?;
            break;
        }
    }
    reader.skip_space();
    if reader.at != reader.bytes.len() {
        return Err(LineError::Malformed(reader.at));
    }
    if record.status.is_empty() {
        return Err(LineError::NoStatus);
    }
    Ok(record)
}

impl<'a> LogRecord<'a> {
    fn slot(&mut self, key: &str) -> Option<&mut &'a str> {
        Some(match key {
            "host" => &mut self.host,
            "method" => &mut self.method,
            "uri" => &mut self.uri,
            "status" => &mut self.status,
            "request_length" => &mut self.request_length,
            "body_bytes_sent" => &mut self.body_bytes_sent,
            "request_time" => &mut self.request_time,
            "upstream_addr" => &mut self.upstream_addr,
            "upstream_status" => &mut self.upstream_status,
            "upstream_connect_time" => &mut self.upstream_connect_time,
            "upstream_response_time" => &mut self.upstream_response_time,
            _ => return None,
        })
    }
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn skip_space(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), LineError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(LineError::Malformed(self.at))
        }
    }

    /// A quoted string, returned without its quotes and with its escapes as written.
    fn string(&mut self) -> Result<&'a str, LineError> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            // Values such as the URI are the long part of a line: jump to the next quote or
            // backslash instead of stepping through every byte.
            let rest = self.bytes.get(self.at..).unwrap_or_default();
            let Some(offset) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err(LineError::Malformed(self.bytes.len()));
            };
            self.at += offset;
            if self.bytes[self.at] == b'"' {
                let value = &self.text[start..self.at];
                self.at += 1;
                return Ok(value);
            }
            // The escaped character is skipped whatever it is; `\u1234` is plain text after.
            self.at += 2;
        }
    }

    /// A string, or a bare number / literal (`"status":200` when a format leaves quotes out).
    fn value(&mut self) -> Result<&'a str, LineError> {
        if self.bytes.get(self.at) == Some(&b'"') {
            return self.string();
        }
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
        {
            self.at += 1;
        }
        if self.at == start {
            return Err(LineError::Malformed(self.at));
        }
        Ok(&self.text[start..self.at])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const LINE: &str = r#"{"host":"shop.example","method":"GET","uri":"/a\"b","status":"200","request_length":"77","body_bytes_sent":"12","request_time":"0.004","upstream_addr":"127.0.0.1:1, 127.0.0.1:2","upstream_status":"502, 200","upstream_connect_time":"0.000, 0.001","upstream_response_time":"0.001, 0.003","extra":"x"}"#;

    #[test]
    fn reads_every_field_as_written() {
        let record = parse(LINE.as_bytes()).unwrap();
        assert_eq!(record.host, "shop.example");
        assert_eq!(record.uri, r#"/a\"b"#);
        assert_eq!(record.status, "200");
        assert_eq!(record.upstream_addr, "127.0.0.1:1, 127.0.0.1:2");
        assert_eq!(record.upstream_response_time, "0.001, 0.003");
        let bare = parse(br#" { "status" : 404 , "method":"GET" } "#).unwrap();
        assert_eq!(bare.status, "404");
        assert_eq!(bare.request_time, "");
    }

    #[test]
    fn strips_nginx_syslog_headers() {
        let with = format!("<190>Jan  2 03:04:05 nginx: {LINE}");
        assert_eq!(strip_syslog_header(with.as_bytes()), LINE.as_bytes());
        let host = format!("<190>Jan  2 03:04:05 web1 nginx: {LINE}");
        assert_eq!(strip_syslog_header(host.as_bytes()), LINE.as_bytes());
        assert_eq!(strip_syslog_header(LINE.as_bytes()), LINE.as_bytes());
    }

    #[test]
    fn refuses_what_is_not_a_flat_record() {
        for (bad, expected) in [
            (&b"GET / HTTP/1.1 200"[..], LineError::NotAnObject),
            (br#"{"status":"200""#, LineError::Malformed(15)),
            (br#"{"status":{"a":1}}"#, LineError::Malformed(10)),
            (br#"{"status":"200"} trailing"#, LineError::Malformed(17)),
            (br#"{"method":"GET"}"#, LineError::NoStatus),
            (b"{\"status\":\"\xff\"}", LineError::NotUtf8),
            (br#"{"status":"20\"#, LineError::Malformed(14)),
        ] {
            assert_eq!(
                parse(bad),
                Err(expected),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(strip_syslog_header(&bytes));
        }

        #[test]
        fn truncated_lines_are_errors(cut in 0usize..LINE.len()) {
            prop_assert!(parse(&LINE.as_bytes()[..cut]).is_err());
        }
    }
}
