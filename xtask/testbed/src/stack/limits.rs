//! The services' cgroups and memory limits, when the host lets us make them.

use std::path::Path;

use super::options::StackOptions;
use super::progress::say;
use crate::cgroups::ServiceCgroups;

/// Memory limits of the services' cgroups (bytes).
fn memory_limit(service: &str) -> u64 {
    const MIB: u64 = 1 << 20;
    match service {
        "mariadb" | "prometheus" => 1024 * MIB,
        "app1" | "app2" => 256 * MIB,
        "nginx" | "alertmanager" => 128 * MIB,
        _ => 64 * MIB,
    }
}

/// One cgroup per service under `/<cgroup_root>`, or `None` (and a line saying why).
pub(super) fn create(options: &StackOptions) -> Option<ServiceCgroups> {
    match ServiceCgroups::create(Path::new("/sys/fs/cgroup"), &options.cgroup_root) {
        Ok(cgroups) => Some(cgroups),
        Err(reason) => {
            say(
                options,
                &format!(
                    "  services run without their own cgroups ({reason}): the container panels stay empty"
                ),
            );
            None
        }
    }
}

/// Moves the process `pid` of `service` into the service's cgroup, when there are cgroups.
pub(super) fn adopt(cgroups: Option<&ServiceCgroups>, service: &str, pid: Option<u32>) {
    if let (Some(cgroups), Some(pid)) = (cgroups, pid) {
        cgroups.adopt(service, pid, memory_limit(service));
    }
}
