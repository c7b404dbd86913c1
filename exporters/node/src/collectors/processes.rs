//! `processes` (off by default): `node_processes_{pids,threads,max_processes,max_threads}`,
//! `node_processes_state{state}` and `node_processes_threads_state{thread_state}`, from
//! `/proc/<pid>/stat`, `/proc/<pid>/task/<tid>/stat`, `/proc/sys/kernel/{pid_max,threads-max}`.
//!
//! On a busy host this reads thousands of small files per scrape, so it is written for that: one
//! pass over `/proc`, one reused read buffer and path, and only the two fields we need taken from
//! each `stat` line (procfs-core's `Stat` parses all 52 fields and allocates per process); the
//! `task/` directory is only listed for processes with more than one thread.
//! A process or thread that exits while we read is skipped, as upstream does; a `stat` that does
//! not parse is skipped with a warning instead of failing the whole collector.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::{read_pseudo_file_into, read_u64};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Processes {
        proc: paths.procfs.clone(),
        threads_max: paths.proc("sys/kernel/threads-max"),
        pid_max: paths.proc("sys/kernel/pid_max"),
    }))
}

struct Processes {
    proc: PathBuf,
    threads_max: PathBuf,
    pid_max: PathBuf,
}

/// Counts per state letter, in first-seen order; a handful of entries, so a vector.
#[derive(Debug, Default)]
struct StateCounts(Vec<(String, u64)>);

impl StateCounts {
    fn add(&mut self, state: &str) {
        match self.0.iter_mut().find(|(s, _)| s == state) {
            Some((_, count)) => *count += 1,
            None => self.0.push((state.to_owned(), 1)),
        }
    }
}

#[derive(Debug, Default)]
struct Census {
    pids: u64,
    threads: u64,
    states: StateCounts,
    thread_states: StateCounts,
}

/// The state and the thread count of a `stat` line: the fields after the command name, which
/// is in parentheses and may itself contain spaces and parentheses.
fn parse_stat(data: &[u8]) -> Option<(&str, u64)> {
    let open = data.iter().position(|&b| b == b'(')?;
    let close = data.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let rest = std::str::from_utf8(&data[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    // Field 20 of proc(5), counting from the pid: 16 fields after the state.
    let threads = fields.nth(16)?.parse::<i64>().ok()?;
    Some((state, u64::try_from(threads).unwrap_or(0)))
}

/// Whether a read failed because the process or thread is gone.
fn vanished(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(libc::ESRCH)
}

/// Numeric entries of a directory (pids or tids), with their names for building paths.
fn numeric_entries(dir: &Path) -> io::Result<impl Iterator<Item = (u64, OsString)> + use<>> {
    Ok(std::fs::read_dir(dir)?.filter_map(|entry| {
        let name = entry.ok()?.file_name();
        let number = name.to_str()?.parse::<u64>().ok()?;
        Some((number, name))
    }))
}

impl Processes {
    fn census(&self) -> Result<Census, CollectorError> {
        let mut census = Census::default();
        let mut buffer = Vec::with_capacity(512);
        let mut path = self.proc.clone();
        let pids =
            numeric_entries(&self.proc).map_err(|source| CollectorError::io(&self.proc, source))?;
        let mut process_state = String::new();
        for (pid, name) in pids {
            path.push(&name);
            path.push("stat");
            let read = read_pseudo_file_into(&path, &mut buffer);
            path.pop();
            match read {
                Ok(()) => {}
                Err(err) if vanished(&err) => {
                    tracing::debug!(pid, err = %err, "file not found when retrieving stats for pid");
                    path.pop();
                    continue;
                }
                Err(source) => {
                    let err = CollectorError::io(&path.join("stat"), source);
                    return Err(CollectorError::Other(format!(
                        "unable to retrieve number of allocated threads: error reading stat for pid {pid}: {err}"
                    )));
                }
            }
            let Some((state, threads)) = parse_stat(&buffer) else {
                tracing::warn!(pid, "skipping a process whose stat file does not parse");
                path.pop();
                continue;
            };
            census.pids += 1;
            census.threads += threads;
            census.states.add(state);
            if threads == 1 {
                // The only task is the process itself, so a stat of `task/` replaces listing
                // it (upstream counts a thread only where `task/` lists one, and its fixture
                // has processes without). Most processes, and every kernel thread, take this
                // path.
                path.push("task");
                if path.is_dir() {
                    census.thread_states.add(state);
                }
                path.pop();
            } else {
                process_state.clear();
                process_state.push_str(state);
                self.count_threads(pid, &process_state, &mut path, &mut buffer, &mut census)?;
            }
            path.pop();
        }
        Ok(census)
    }

    /// Counts the states of a process's threads; `path` is `<proc>/<pid>` and is restored.
    fn count_threads(
        &self,
        pid: u64,
        process_state: &str,
        path: &mut PathBuf,
        buffer: &mut Vec<u8>,
        census: &mut Census,
    ) -> Result<(), CollectorError> {
        path.push("task");
        let tids = match numeric_entries(path) {
            Ok(tids) => tids,
            Err(err) if vanished(&err) => {
                tracing::debug!(pid, err = %err, "file not found when retrieving tasks for pid");
                path.pop();
                return Ok(());
            }
            Err(source) => {
                let err = CollectorError::io(path, source);
                path.pop();
                return Err(CollectorError::Other(format!(
                    "unable to list all threads for pid: {pid} {err}"
                )));
            }
        };
        for (tid, name) in tids {
            if tid == pid {
                census.thread_states.add(process_state);
                continue;
            }
            path.push(&name);
            path.push("stat");
            let read = read_pseudo_file_into(path, buffer);
            path.pop();
            path.pop();
            match read {
                Ok(()) => match parse_stat(buffer) {
                    Some((state, _)) => census.thread_states.add(state),
                    None => {
                        tracing::warn!(pid, tid, "skipping a thread whose stat file does not parse")
                    }
                },
                Err(err) if vanished(&err) => {
                    tracing::debug!(pid, tid, err = %err, "file not found when retrieving stats for thread");
                }
                Err(source) => {
                    path.pop();
                    return Err(CollectorError::Other(format!(
                        "error reading stat for pid:{pid} thread:{tid} err:{source}"
                    )));
                }
            }
        }
        path.pop();
        Ok(())
    }
}

impl Collector for Processes {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let census = self.census()?;
        out.push(
            MetricFamily::gauge("node_processes_threads", "Allocated threads in system")
                .with(&[], census.threads as f64),
        );
        let max_threads = read_u64(&self.threads_max)?;
        out.push(
            MetricFamily::gauge(
                "node_processes_max_threads",
                "Limit of threads in the system",
            )
            .with(&[], max_threads as f64),
        );
        let mut states =
            MetricFamily::gauge("node_processes_state", "Number of processes in each state.");
        for (state, count) in &census.states.0 {
            states.push(&[("state", state)], *count as f64);
        }
        out.push(states);
        let mut thread_states = MetricFamily::gauge(
            "node_processes_threads_state",
            "Number of threads in each state.",
        );
        for (state, count) in &census.thread_states.0 {
            thread_states.push(&[("thread_state", state)], *count as f64);
        }
        out.push(thread_states);
        let pid_max = read_u64(&self.pid_max)?;
        out.push(
            MetricFamily::gauge("node_processes_pids", "Number of PIDs")
                .with(&[], census.pids as f64),
        );
        out.push(
            MetricFamily::gauge("node_processes_max_processes", "Number of max PIDs limit")
                .with(&[], pid_max as f64),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "1 (systemd) S 0 1 1 0 -1 4194560 9061 9416027 94 2620 36 98 54406 13885 20 0 1 0 29 109604864 2507 18446744073709551615 1 1 0 0 0 0 671173123 4096 1260 0 0 0 17 0 0 0 19 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn reads_state_and_threads() {
        assert_eq!(parse_stat(STAT.as_bytes()), Some(("S", 1)));
        let odd = b"42 (a) (b c) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 12 0";
        assert_eq!(parse_stat(odd), Some(("R", 12)));
        assert_eq!(parse_stat(b"42 (short) S 1 2"), None);
        assert_eq!(parse_stat(b"no parens"), None);
        assert_eq!(parse_stat(b")("), None);
    }

    use crate::collectors::testing::write;

    fn stat(pid: u64, state: &str, threads: u64) -> String {
        format!("{pid} (x) {state} 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 {threads} 0 29 0 0\n")
    }

    #[test]
    fn counts_processes_threads_and_states() {
        let dir = tempfile::tempdir().unwrap();
        let proc = dir.path();
        write(&proc.join("sys/kernel/threads-max"), "7801");
        write(&proc.join("sys/kernel/pid_max"), "123\n");
        write(&proc.join("self"), "10");
        write(&proc.join("1/stat"), &stat(1, "S", 1));
        write(&proc.join("10/stat"), &stat(10, "R", 3));
        write(&proc.join("10/task/10/stat"), &stat(10, "R", 3));
        write(&proc.join("10/task/11/stat"), &stat(11, "S", 3));
        write(&proc.join("10/task/12/stat"), &stat(12, "D", 3));
        // Single-threaded: its task directory is not listed, only checked.
        write(&proc.join("20/stat"), &stat(20, "T", 1));
        write(&proc.join("20/task/20/stat"), &stat(20, "T", 1));
        // A process that exited between the listing and the read.
        std::fs::create_dir_all(proc.join("99")).unwrap();
        write(&proc.join("98/stat"), "garbage");
        let paths = Paths {
            procfs: proc.to_owned(),
            ..Paths::default()
        };
        let collector = Processes {
            proc: paths.procfs.clone(),
            threads_max: paths.proc("sys/kernel/threads-max"),
            pid_max: paths.proc("sys/kernel/pid_max"),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let value = |name: &str| out.iter().find(|f| f.name == name).unwrap().samples[0].value;
        assert_eq!(value("node_processes_pids"), 3.0);
        assert_eq!(value("node_processes_threads"), 5.0);
        assert_eq!(value("node_processes_max_threads"), 7801.0);
        assert_eq!(value("node_processes_max_processes"), 123.0);
        let states = out
            .iter()
            .find(|f| f.name == "node_processes_state")
            .unwrap();
        assert_eq!(states.samples.len(), 3);
        let threads = out
            .iter()
            .find(|f| f.name == "node_processes_threads_state")
            .unwrap();
        let count = |state: &str| {
            threads
                .samples
                .iter()
                .find(|s| s.labels[0].1 == state)
                .map(|s| s.value)
        };
        // pid 1 has no task directory (as in upstream's fixture): its thread is not counted.
        assert_eq!(count("S"), Some(1.0));
        assert_eq!(count("R"), Some(1.0));
        assert_eq!(count("D"), Some(1.0));
        assert_eq!(count("T"), Some(1.0));
    }

    #[test]
    fn live_proc_is_counted() {
        let paths = Paths::default();
        let collector = Processes {
            proc: paths.procfs.clone(),
            threads_max: paths.proc("sys/kernel/threads-max"),
            pid_max: paths.proc("sys/kernel/pid_max"),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let pids = out
            .iter()
            .find(|f| f.name == "node_processes_pids")
            .unwrap();
        assert!(pids.samples[0].value >= 1.0);
        // This test process has several threads (the test harness), one of them running.
        let threads = out
            .iter()
            .find(|f| f.name == "node_processes_threads_state")
            .unwrap();
        assert!(threads.samples.iter().any(|s| s.labels[0].1 == "R"));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_stat(&data);
        }

        #[test]
        fn truncated_input_never_panics(cut in 0usize..STAT.len()) {
            let _ = parse_stat(&STAT.as_bytes()[..cut]);
        }
    }
}
