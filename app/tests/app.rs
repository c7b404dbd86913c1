//! octo-app end to end, against a real MariaDB (one shared per test binary, a database per
//! test), real Prometheus, and real Chromium.

mod app {
    pub mod api;
    pub mod browser;
    pub mod load;
    pub mod ops;
    pub mod pages;
    pub mod resilience;
    pub mod schema;
    pub mod support;
}
