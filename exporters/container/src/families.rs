//! The container families, with cAdvisor's names, types and help strings (copied, so that
//! dashboards and alerts written for cAdvisor keep working; docs/container-exporter.md says
//! where they come from), and the sample builder that gives every series of a scrape the same
//! base label names, as cAdvisor's one-descriptor-per-family does.

use octo_exporter_kit::{MetricFamily, MetricType, SharedLabels};

macro_rules! families {
    ($($id:ident = $name:literal, $kind:ident, $help:literal;)*) => {
        /// A container family, indexing [`DEFS`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum F { $($id),* }
        pub const DEFS: &[(&str, MetricType, &str)] = &[$(($name, MetricType::$kind, $help)),*];
    };
}

families! {
    CpuUsage = "container_cpu_usage_seconds_total", Counter, "Cumulative cpu time consumed in seconds.";
    CpuUser = "container_cpu_user_seconds_total", Counter, "Cumulative user cpu time consumed in seconds.";
    CpuSystem = "container_cpu_system_seconds_total", Counter, "Cumulative system cpu time consumed in seconds.";
    CfsPeriods = "container_cpu_cfs_periods_total", Counter, "Number of elapsed enforcement period intervals.";
    CfsThrottledPeriods = "container_cpu_cfs_throttled_periods_total", Counter, "Number of throttled period intervals.";
    CfsThrottledSeconds = "container_cpu_cfs_throttled_seconds_total", Counter, "Total time duration the container has been throttled.";
    CfsBurstPeriods = "container_cpu_cfs_burst_periods_total", Counter, "Number of periods when burst occurs.";
    CfsBurstSeconds = "container_cpu_cfs_burst_seconds_total", Counter, "Total time duration the container has been bursted.";
    MemCache = "container_memory_cache", Gauge, "Number of bytes of page cache memory.";
    MemRss = "container_memory_rss", Gauge, "Size of RSS in bytes.";
    MemKernel = "container_memory_kernel_usage", Gauge, "Size of kernel memory allocated in bytes.";
    MemMappedFile = "container_memory_mapped_file", Gauge, "Size of memory mapped files in bytes.";
    MemSwap = "container_memory_swap", Gauge, "Container swap usage in bytes.";
    MemFailcnt = "container_memory_failcnt", Counter, "Number of memory usage hits limits";
    MemUsage = "container_memory_usage_bytes", Gauge, "Current memory usage in bytes, including all memory regardless of when it was accessed";
    MemMaxUsage = "container_memory_max_usage_bytes", Gauge, "Maximum memory usage recorded in bytes";
    MemWorkingSet = "container_memory_working_set_bytes", Gauge, "Current working set in bytes.";
    MemActiveFile = "container_memory_total_active_file_bytes", Gauge, "Current total active file in bytes.";
    MemInactiveFile = "container_memory_total_inactive_file_bytes", Gauge, "Current total inactive file in bytes.";
    MemFailures = "container_memory_failures_total", Counter, "Cumulative count of memory allocation failures.";
    MemEventsHigh = "container_memory_events_high_total", Counter, "Cumulative count of memory.high throttle events for the container";
    MemEventsMax = "container_memory_events_max_total", Counter, "Cumulative count of memory.max limit hit events for the container";
    MemFileDirty = "container_memory_file_dirty_bytes", Gauge, "Number of bytes of file cache that has been modified but not yet written back to disk.";
    MemFileWriteback = "container_memory_file_writeback_bytes", Gauge, "Number of bytes of file cache that is currently being written back to disk.";
    MemPgscan = "container_memory_pgscan_total", Counter, "Cumulative number of pages scanned by the page reclaim algorithm.";
    MemPgsteal = "container_memory_pgsteal_total", Counter, "Cumulative number of pages reclaimed by the page reclaim algorithm.";
    MemRefaultFile = "container_memory_workingset_refault_file_total", Counter, "Cumulative number of refaults of previously evicted file pages.";
    MemRefaultAnon = "container_memory_workingset_refault_anon_total", Counter, "Cumulative number of refaults of previously evicted anonymous pages.";
    FsReadsBytes = "container_fs_reads_bytes_total", Counter, "Cumulative count of bytes read";
    FsReads = "container_fs_reads_total", Counter, "Cumulative count of reads completed";
    FsWritesBytes = "container_fs_writes_bytes_total", Counter, "Cumulative count of bytes written";
    FsWrites = "container_fs_writes_total", Counter, "Cumulative count of writes completed";
    IoCostUsage = "container_fs_io_cost_usage_seconds_total", Counter, "Cumulative IOCost usage in seconds";
    IoCostWait = "container_fs_io_cost_wait_seconds_total", Counter, "Cumulative IOCost wait in seconds";
    IoCostIndebt = "container_fs_io_cost_indebt_seconds_total", Counter, "Cumulative IOCost debt in seconds";
    IoCostIndelay = "container_fs_io_cost_indelay_seconds_total", Counter, "Cumulative IOCost delay in seconds";
    BlkioDevice = "container_blkio_device_usage_total", Counter, "Blkio Device bytes usage";
    NetRxBytes = "container_network_receive_bytes_total", Counter, "Cumulative count of bytes received";
    NetRxPackets = "container_network_receive_packets_total", Counter, "Cumulative count of packets received";
    NetRxDropped = "container_network_receive_packets_dropped_total", Counter, "Cumulative count of packets dropped while receiving";
    NetRxErrors = "container_network_receive_errors_total", Counter, "Cumulative count of errors encountered while receiving";
    NetTxBytes = "container_network_transmit_bytes_total", Counter, "Cumulative count of bytes transmitted";
    NetTxPackets = "container_network_transmit_packets_total", Counter, "Cumulative count of packets transmitted";
    NetTxDropped = "container_network_transmit_packets_dropped_total", Counter, "Cumulative count of packets dropped while transmitting";
    NetTxErrors = "container_network_transmit_errors_total", Counter, "Cumulative count of errors encountered while transmitting";
    PsiCpuStalled = "container_pressure_cpu_stalled_seconds_total", Counter, "Total time duration no tasks in the container could make progress due to CPU congestion.";
    PsiCpuWaiting = "container_pressure_cpu_waiting_seconds_total", Counter, "Total time duration tasks in the container have waited due to CPU congestion.";
    PsiMemoryStalled = "container_pressure_memory_stalled_seconds_total", Counter, "Total time duration no tasks in the container could make progress due to memory congestion.";
    PsiMemoryWaiting = "container_pressure_memory_waiting_seconds_total", Counter, "Total time duration tasks in the container have waited due to memory congestion.";
    PsiIoStalled = "container_pressure_io_stalled_seconds_total", Counter, "Total time duration no tasks in the container could make progress due to IO congestion.";
    PsiIoWaiting = "container_pressure_io_waiting_seconds_total", Counter, "Total time duration tasks in the container have waited due to IO congestion.";
    OomEvents = "container_oom_events_total", Counter, "Count of out of memory events observed for the container";
    Processes = "container_processes", Gauge, "Number of processes running inside the container.";
    Threads = "container_threads", Gauge, "Number of threads running inside the container";
    ThreadsMax = "container_threads_max", Gauge, "Maximum number of threads allowed inside the container, infinity if value is zero";
    FileDescriptors = "container_file_descriptors", Gauge, "Number of open file descriptors for the container.";
    Sockets = "container_sockets", Gauge, "Number of open sockets for the container.";
    UlimitsSoft = "container_ulimits_soft", Gauge, "Soft ulimit values for the container root process. Unlimited if -1, except priority and nice";
    LastSeen = "container_last_seen", Gauge, "Last time a container was seen by the exporter";
    HealthState = "container_health_state", Gauge, "The result of the container's health check";
    CreationTime = "container_creation_time_seconds", Gauge, "Container creation time since unix epoch in seconds.";
    StartTime = "container_start_time_seconds", Gauge, "Start time of the container since unix epoch in seconds.";
    SpecCpuPeriod = "container_spec_cpu_period", Gauge, "CPU period of the container.";
    SpecCpuQuota = "container_spec_cpu_quota", Gauge, "CPU quota of the container.";
    SpecCpuShares = "container_spec_cpu_shares", Gauge, "CPU share of the container.";
    SpecMemoryLimit = "container_spec_memory_limit_bytes", Gauge, "Memory limit for the container.";
    SpecMemorySwapLimit = "container_spec_memory_swap_limit_bytes", Gauge, "Memory swap limit for the container.";
    SpecMemoryReservation = "container_spec_memory_reservation_limit_bytes", Gauge, "Memory reservation limit for the container.";
}

/// The families of one scrape, filled container by container.
pub struct Families {
    families: Vec<MetricFamily>,
}

impl Families {
    pub fn new() -> Families {
        Families {
            families: DEFS
                .iter()
                .map(|(name, kind, help)| MetricFamily::new(*name, *help, *kind))
                .collect(),
        }
    }

    /// Adds a sample: the container's base labels (shared by all its samples) plus `extra`.
    pub fn push(
        &mut self,
        family: F,
        base: &SharedLabels,
        extra: &[(&'static str, &str)],
        value: f64,
    ) {
        self.families[family as usize].push_shared(base, extra, value);
    }

    pub fn into_vec(self) -> Vec<MetricFamily> {
        self.families
    }
}

/// cAdvisor exports limits above 2^62 ("unlimited", rounded by the kernel) as 0.
pub fn spec_memory(value: u64) -> f64 {
    if value > 1 << 62 { 0.0 } else { value as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_labels_merge_in_name_order() {
        let mut families = Families::new();
        let base = octo_exporter_kit::shared_labels(vec![
            ("container_label_a".to_owned(), "x".to_owned()),
            ("id".to_owned(), "/docker/1".to_owned()),
            ("name".to_owned(), String::new()),
        ]);
        families.push(F::CpuUsage, &base, &[("cpu", "cpu00")], 1.5);
        families.push(
            F::MemFailures,
            &base,
            &[("failure_type", "pgfault"), ("scope", "container")],
            2.0,
        );
        let all = families.into_vec();
        let names = |f: &MetricFamily| -> Vec<String> {
            f.samples[0]
                .label_pairs()
                .map(|(k, _)| k.to_owned())
                .collect()
        };
        assert_eq!(
            names(&all[F::CpuUsage as usize]),
            ["container_label_a", "cpu", "id", "name"]
        );
        assert_eq!(
            names(&all[F::MemFailures as usize]),
            ["container_label_a", "failure_type", "id", "name", "scope"]
        );
        assert_eq!(
            all[F::CpuUsage as usize].name,
            "container_cpu_usage_seconds_total"
        );
        assert_eq!(DEFS.len(), F::SpecMemoryReservation as usize + 1);
        assert_eq!(spec_memory(u64::MAX), 0.0);
        assert_eq!(spec_memory(9_223_372_036_854_771_712), 0.0);
        assert_eq!(spec_memory(1024), 1024.0);
    }
}
