//! The stack's configuration, validated by the tools that read it, and the whole stack running
//! natively (the code of `cargo xtask up`) with traffic, faults and alerts.

mod stack {
    pub mod config;
    pub mod dashboards;
    pub mod e2e;
    pub mod support;
}
