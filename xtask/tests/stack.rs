//! The stack's configuration, validated by the tools that read it, and the whole stack running
//! natively (the code of `cargo xtask up`) with traffic, faults and alerts.

// Test code, helpers included: a failed unwrap is a failed test, and its message says where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod stack {
    pub mod config;
    pub mod dashboards;
    pub mod e2e;
    pub mod house;
    pub mod packages;
    pub mod support;
    pub mod viewer;
}
