//! A name filter that remembers its answers.
//!
//! `netstat` and `vmstat` match a few hundred kernel field names against their `fields` regex
//! on every scrape, and [`DeviceFilter`](super::netdev::DeviceFilter) matches device names,
//! mount points and file system types; the names are the same each time (they change only with
//! the kernel or the machine's devices). regex-lite has no DFA, so matching was a sixth of the
//! exporter's user time; a lookup in a small map is not.

use std::collections::HashMap;
use std::sync::Mutex;

use regex_lite::Regex;

/// More distinct names than a kernel has fields means they are not stable (a hostile or odd
/// source); the memory is then cleared rather than grown.
const MAX_REMEMBERED: usize = 4096;

#[derive(Debug)]
pub struct FieldFilter {
    regex: Regex,
    remembered: Mutex<HashMap<String, bool>>,
}

impl FieldFilter {
    pub fn new(regex: Regex) -> Self {
        FieldFilter {
            regex,
            remembered: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the regex matches `name` (unanchored, as Go's `MatchString`).
    pub fn is_match(&self, name: &str) -> bool {
        let mut remembered = self
            .remembered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&matched) = remembered.get(name) {
            return matched;
        }
        let matched = self.regex.is_match(name);
        if remembered.len() >= MAX_REMEMBERED {
            remembered.clear();
        }
        remembered.insert(name.to_owned(), matched);
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_the_regex_does_on_repeated_and_many_names() {
        let filter = FieldFilter::new(Regex::new("^(Tcp_|Ip_Forwarding$)").unwrap());
        for _ in 0..2 {
            assert!(filter.is_match("Tcp_InErrs"));
            assert!(filter.is_match("Ip_Forwarding"));
            assert!(!filter.is_match("Ip_Forwardings"));
            assert!(!filter.is_match("Udp_InErrors"));
        }
        for i in 0..(MAX_REMEMBERED * 2) {
            assert!(filter.is_match(&format!("Tcp_{i}")));
            assert!(!filter.is_match(&format!("Udp_{i}")));
        }
        assert!(filter.remembered.lock().unwrap().len() <= MAX_REMEMBERED);
    }
}
