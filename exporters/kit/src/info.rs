//! Who an exporter is: its names, the upstream program it replaces, and its defaults.

/// Who an exporter is: names, the upstream program it replaces, and its defaults.
#[derive(Debug)]
pub struct ExporterInfo {
    /// The binary's name, such as `octo-node-exporter`.
    pub binary: &'static str,
    /// The landing page title.
    pub title: &'static str,
    /// The upstream program this one replaces, such as `node_exporter`.
    pub upstream: &'static str,
    /// The build-info family upstream exports, such as `node_exporter_build_info`.
    pub build_info_metric: &'static str,
    /// The default for `--web.listen-address`, such as `:9100`.
    pub default_listen_address: &'static str,
    /// The exporter's own version.
    pub version: &'static str,
    /// Which promhttp handler families upstream exposes.
    pub handler_metrics: HandlerMetrics,
}

/// The `promhttp_metric_handler_*` families an upstream exporter has, which depends on how it
/// built its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerMetrics {
    /// None (cAdvisor).
    None,
    /// `requests_total{code}` and `requests_in_flight` (mysqld_exporter, nginx exporter 1.x).
    Requests,
    /// Those and `errors_total{cause}` (node_exporter, whose handler has a registry).
    RequestsAndErrors,
}
