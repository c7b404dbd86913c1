//! octo-app end to end, against a real MariaDB (one shared per test binary, a database per
//! test), real Prometheus, and real Chromium.

// Test code, helpers included: a failed unwrap is a failed test, and its message says where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app {
    pub mod api;
    pub mod auth;
    pub mod browser;
    pub mod csrf;
    pub mod load;
    pub mod ops;
    pub mod pages;
    pub mod resilience;
    pub mod schema;
    pub mod support;
}
