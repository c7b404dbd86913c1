//! octo-node-exporter end to end: upstream's golden fixture test, live side by side with
//! Debian's prometheus-node-exporter, the command line, and one description of the collectors
//! across the registry, the docs and the golden test.

// The helpers of this test binary panic on a broken test setup, as the tests themselves do.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod node {
    pub mod cli;
    pub mod golden;
    pub mod live;
    pub mod registry;
    pub mod support;
    pub mod systemd;
    pub mod ttar;
}
