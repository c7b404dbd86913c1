//! octo-node-exporter end to end: upstream's golden fixture test, live side by side with
//! Debian's prometheus-node-exporter, and the command line.

mod node {
    pub mod cli;
    pub mod golden;
    pub mod live;
    pub mod support;
    pub mod ttar;
}
