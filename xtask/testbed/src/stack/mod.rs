//! The whole Octo stack, natively: MariaDB, two app instances, nginx in front, the four
//! exporters, Prometheus with the project's configuration and rules, Alertmanager and the
//! alert log. `cargo xtask up` runs it in the foreground; the end-to-end test runs the same code
//! on free ports.
//!
//! The configuration comes from the repository (`nginx/`, `prometheus/`, `alertmanager/`), with
//! the Compose service addresses rewritten to loopback ports: the stack is what Compose runs.

mod accounts;
mod config;
mod exporters;
mod limits;
mod options;
mod progress;
mod running;
mod services;
mod viewer;

pub use config::{native_prometheus_config, rules};
pub use options::{StackOptions, StackPorts};
pub use running::Stack;
