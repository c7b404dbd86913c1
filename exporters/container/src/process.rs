//! The `process` kind's walk of `/proc`: descriptors and sockets of a cgroup's processes, and
//! the soft open-file limit of its root process, counted as cAdvisor's `processStatsFromProcs`
//! counts them (the processes listed in the cgroup's own `cgroup.procs`, every entry of their
//! `fd` directories, sockets by their `socket:[…]` link).

use std::path::{Path, PathBuf};

/// What the `process` kind reports for one cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    pub processes: u64,
    pub fds: u64,
    pub sockets: u64,
    /// `pids.current` (threads: the pids controller counts tasks), where the cgroup has one.
    pub threads: Option<u64>,
    /// `pids.max`, `0` for `max` as cAdvisor writes it.
    pub threads_max: Option<u64>,
    /// The root process's soft `Max open files`, `-1` for unlimited.
    pub max_open_files: Option<f64>,
}

/// The pids of a `cgroup.procs` text, into `out` (cleared first); garbage lines are skipped.
pub fn parse_pids(text: &[u8], out: &mut Vec<u32>) {
    out.clear();
    out.extend(
        text.split(|b| *b == b'\n')
            .filter_map(|line| std::str::from_utf8(line).ok())
            .filter_map(|line| line.trim().parse::<u32>().ok()),
    );
}

/// Counts the descriptors and sockets of `pids`. A process that exits meanwhile, or whose
/// `fd` directory cannot be read, counts none (as cAdvisor, which logs and goes on).
pub fn descriptors(procfs: &Path, pids: &[u32], scratch: &mut PathBuf) -> (u64, u64) {
    let (mut fds, mut sockets) = (0, 0);
    for pid in pids {
        scratch.clear();
        scratch.push(procfs);
        scratch.push(pid.to_string());
        scratch.push("fd");
        let Ok(entries) = std::fs::read_dir(&*scratch) else {
            continue;
        };
        for entry in entries.flatten() {
            fds += 1;
            let is_socket = std::fs::read_link(entry.path()).is_ok_and(|target| {
                target
                    .as_os_str()
                    .as_encoded_bytes()
                    .starts_with(b"socket:")
            });
            if is_socket {
                sockets += 1;
            }
        }
    }
    (fds, sockets)
}

/// The soft `Max open files` of `/proc/<pid>/limits` (`-1` for unlimited).
pub fn max_open_files(limits: &str) -> Option<f64> {
    let rest = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    let soft = rest.split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(-1.0);
    }
    soft.parse::<u64>().ok().map(|v| v as f64)
}

/// `pids.max`: a number, or `max` (unlimited, written as 0 as cAdvisor does).
pub fn pids_max(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?.trim();
    if text == "max" {
        return Some(0);
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits_pids_and_pid_lists() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(max_open_files(limits), Some(1024.0));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(max_open_files(unlimited), Some(-1.0));
        assert_eq!(max_open_files("Max open files\n"), None);
        assert_eq!(max_open_files(""), None);
        assert_eq!(pids_max(b"max\n"), Some(0));
        assert_eq!(pids_max(b"4096\n"), Some(4096));
        assert_eq!(pids_max(b"x"), None);
        let mut pids = vec![9];
        parse_pids(b"1\n22\n\nbad\n333\n", &mut pids);
        assert_eq!(pids, [1, 22, 333]);
    }

    #[test]
    fn counts_descriptors_and_sockets_of_this_process() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let me = std::process::id();
        let (fds, sockets) = descriptors(Path::new("/proc"), &[me, u32::MAX], &mut PathBuf::new());
        assert!(fds >= 4, "{fds}");
        assert!(sockets >= 1, "{sockets}");
        drop(socket);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = max_open_files(&text);
            let _ = pids_max(&bytes);
            parse_pids(&bytes, &mut Vec::new());
        }
    }
}
