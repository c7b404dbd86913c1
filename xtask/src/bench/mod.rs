//! `cargo xtask bench <exporter>`: our exporter and its upstream binary side by side against the
//! same target, scraped alternately N times each; prints CPU time per scrape, scrape latency,
//! resident memory and bytes per scrape, with the ratios (ours / upstream).
//!
//! Figures, not assertions: nothing here fails because a number is high. The benchmarks (one
//! module each) share the helpers of `binary`, `compare`, `process` and `scrape`.

pub mod app;
mod binary;
pub mod compare;
pub mod container;
mod floor;
pub mod mysql;
pub mod nginx;
pub mod nginx_log;
pub mod node;
mod process;
pub(crate) mod scrape;
