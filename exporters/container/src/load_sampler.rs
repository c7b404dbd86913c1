//! The background sampler of the `cpuLoad` kind: one thread asks the kernel for the task
//! counts of every cgroup the last scrape reported (`taskstats`), once per
//! `-housekeeping_interval`, and keeps cAdvisor's decayed load averages, so that a scrape only
//! reads the last figures and never waits on netlink.
//!
//! cAdvisor (`manager/container.go`, `updateLoad`): the decay is `exp(-interval / 10 s)`; the
//! first sample seeds the average; each later one gives `avg * decay + sample * (1 - decay)`,
//! with the running tasks for the load and the uninterruptible ones for the load.d; both are
//! exposed in milli-load, truncated to an integer (`int32(avg * 1000)`).
//!
//! Bounds: the sampler holds only the cgroups the last scrape reported (the others are
//! forgotten at the end of each scrape, and a cgroup whose directory is gone is dropped at
//! once); one netlink socket, one request at a time, one open directory at a time.

use std::collections::HashMap;
use std::os::fd::AsFd as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use octo_exporter_kit::netlink::NetlinkError;

use crate::background::Shared;
use crate::taskstats::{TaskCounts, TaskstatsClient};

/// cAdvisor's averaging window: the load settles on a new constant value within 10 s.
const WINDOW_SECONDS: f64 = 10.0;

/// What a scrape reports for one cgroup: the last counts and the averages in milli-load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub tasks: TaskCounts,
    pub load_milli: i32,
    pub load_d_milli: i32,
}

/// cAdvisor's decayed averages of one cgroup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Averages {
    load: f64,
    load_d: f64,
}

impl Averages {
    /// The averages after one more sample; the first sample seeds them.
    pub fn update(previous: Option<Averages>, counts: &TaskCounts, decay: f64) -> Averages {
        let (running, blocked) = (counts.running as f64, counts.uninterruptible as f64);
        match previous {
            None => Averages {
                load: running,
                load_d: blocked,
            },
            Some(avg) => Averages {
                load: avg.load * decay + running * (1.0 - decay),
                load_d: avg.load_d * decay + blocked * (1.0 - decay),
            },
        }
    }

    /// The averages as cAdvisor exposes them: milli-load, truncated to an `int32`.
    pub fn milli(&self) -> (i32, i32) {
        ((self.load * 1000.0) as i32, (self.load_d * 1000.0) as i32)
    }
}

/// The decay of one sampling interval.
pub fn decay(interval: Duration) -> f64 {
    (-interval.as_secs_f64() / WINDOW_SECONDS).exp()
}

#[derive(Debug)]
struct Entry {
    /// The cgroup's directory in the cpu hierarchy.
    dir: PathBuf,
    averages: Option<Averages>,
    /// The last sample's counts; `None` until the first and after a failed one.
    last: Option<TaskCounts>,
    /// The scrape that last reported the cgroup.
    scrape: u64,
}

#[derive(Debug, Default)]
struct State {
    cgroups: HashMap<String, Entry>,
    scrape: u64,
    stop: bool,
}

/// The handle the `cpuLoad` kind holds; dropping it stops the thread.
#[derive(Debug)]
pub struct LoadSampler {
    shared: Arc<Shared<State>>,
    started: bool,
    interval: Duration,
}

impl LoadSampler {
    pub fn new(interval: Duration) -> LoadSampler {
        LoadSampler {
            shared: Arc::default(),
            started: false,
            interval,
        }
    }

    /// Marks cgroup `path` (its cpu-hierarchy directory `dir`) as reported by this scrape
    /// and returns its last figures, `None` before its first sample or after a failed one.
    pub fn want(&mut self, path: &str, dir: PathBuf) -> Option<Load> {
        let load = {
            let mut state = self.shared.lock();
            let scrape = state.scrape;
            match state.cgroups.get_mut(path) {
                Some(entry) => {
                    entry.scrape = scrape;
                    if entry.dir != dir {
                        *entry = fresh(dir, scrape);
                    }
                    entry.last.zip(entry.averages).map(|(tasks, averages)| {
                        let (load_milli, load_d_milli) = averages.milli();
                        Load {
                            tasks,
                            load_milli,
                            load_d_milli,
                        }
                    })
                }
                None => {
                    state.cgroups.insert(path.to_owned(), fresh(dir, scrape));
                    None
                }
            }
        };
        self.start();
        load
    }

    /// Ends a scrape: the cgroups it did not report are forgotten.
    pub fn end_scrape(&mut self) {
        let mut state = self.shared.lock();
        let scrape = state.scrape;
        state.cgroups.retain(|_, entry| entry.scrape == scrape);
        state.scrape += 1;
    }

    /// How many cgroups the sampler holds.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shared.lock().cgroups.len()
    }

    fn start(&mut self) {
        if self.started {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let interval = self.interval;
        let spawned = std::thread::Builder::new()
            .name("cpu-load".to_owned())
            .spawn(move || run(&shared, interval));
        match spawned {
            Ok(_) => self.started = true,
            Err(err) => tracing::warn!(error = %err, "cannot start the cpu load sampler"),
        }
    }
}

impl Drop for LoadSampler {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake();
    }
}

fn fresh(dir: PathBuf, scrape: u64) -> Entry {
    Entry {
        dir,
        averages: None,
        last: None,
        scrape,
    }
}

/// What one sample of one cgroup gave.
enum Sample {
    Counts(TaskCounts),
    /// The directory no longer exists: the cgroup was removed.
    Gone,
    Failed,
}

fn run(shared: &Shared<State>, interval: Duration) {
    let decay = decay(interval);
    let mut client: Option<TaskstatsClient> = None;
    let mut warned = false;
    let mut next = Instant::now() + interval;
    loop {
        let targets: Vec<(String, PathBuf)> = {
            let mut state = shared.lock();
            loop {
                if state.stop {
                    return;
                }
                let now = Instant::now();
                if now >= next {
                    break;
                }
                state = shared.wait(state, next - now);
            }
            state
                .cgroups
                .iter()
                .map(|(path, entry)| (path.clone(), entry.dir.clone()))
                .collect()
        };
        // A fixed rate; a round that overran starts the next one a whole interval later.
        next += interval;
        next = next.max(Instant::now());
        if client.is_none() {
            match TaskstatsClient::open() {
                Ok(Some(opened)) => client = Some(opened),
                Ok(None) | Err(_) if warned => continue,
                Ok(None) => {
                    warned = true;
                    tracing::warn!(
                        "this kernel has no TASKSTATS netlink family (CONFIG_TASKSTATS): the cpuLoad families are not produced"
                    );
                    continue;
                }
                Err(err) => {
                    warned = true;
                    tracing::warn!(error = %err, "cannot open the taskstats netlink socket: the cpuLoad families are not produced");
                    continue;
                }
            }
        }
        let Some(taskstats) = client.as_mut() else {
            continue;
        };
        let mut samples = Vec::with_capacity(targets.len());
        let mut broken = false;
        for (path, dir) in targets {
            let sample = sample(taskstats, &path, &dir, &mut broken);
            samples.push((path, dir, sample));
        }
        if broken {
            // A socket error (not a refused request): a new socket next round.
            client = None;
        }
        record(shared, samples, decay);
    }
}

/// One cgroup's counts; errors are logged at debug level, as cAdvisor logs them at `-v=4`.
fn sample(
    taskstats: &mut TaskstatsClient,
    path: &str,
    dir: &std::path::Path,
    broken: &mut bool,
) -> Sample {
    let opened = match std::fs::File::open(dir) {
        Ok(opened) => opened,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Sample::Gone,
        Err(err) => {
            tracing::debug!(cgroup = path, dir = %dir.display(), error = %err, "cpuLoad: cannot open the cgroup directory");
            return Sample::Failed;
        }
    };
    match taskstats.cgroup_stats(opened.as_fd()) {
        Ok(counts) => Sample::Counts(counts),
        Err(err) => {
            *broken |= matches!(err, NetlinkError::Io(_));
            tracing::debug!(cgroup = path, dir = %dir.display(), error = %err, "cpuLoad: no task counts for this cgroup");
            Sample::Failed
        }
    }
}

fn record(shared: &Shared<State>, samples: Vec<(String, PathBuf, Sample)>, decay: f64) {
    let mut state = shared.lock();
    for (path, dir, sample) in samples {
        // Forgotten, or now another directory, while the round ran: not this sample's.
        let Some(entry) = state.cgroups.get_mut(&path).filter(|e| e.dir == dir) else {
            continue;
        };
        match sample {
            Sample::Counts(counts) => {
                entry.averages = Some(Averages::update(entry.averages, &counts, decay));
                entry.last = Some(counts);
            }
            Sample::Failed => entry.last = None,
            Sample::Gone => {
                state.cgroups.remove(&path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(running: u64, uninterruptible: u64) -> TaskCounts {
        TaskCounts {
            running,
            uninterruptible,
            ..TaskCounts::default()
        }
    }

    #[test]
    fn the_first_sample_seeds_and_later_ones_decay_as_cadvisor() {
        let decay = decay(Duration::from_secs(1));
        assert!((decay - (-0.1f64).exp()).abs() < 1e-12);
        let first = Averages::update(None, &running(2, 1), decay);
        assert_eq!(first.milli(), (2000, 1000));
        let second = Averages::update(Some(first), &running(0, 0), decay);
        // 2 * e^-0.1 = 1.8096..., 1 * e^-0.1 = 0.9048...: truncated milli-load.
        assert_eq!(second.milli(), (1809, 904));
        let mut settled = second;
        for _ in 0..100 {
            settled = Averages::update(Some(settled), &running(3, 0), decay);
        }
        assert_eq!(
            settled.milli().0,
            2999,
            "settles just under the constant sample"
        );
    }

    #[test]
    fn only_cgroups_of_the_last_scrape_are_kept() {
        let mut sampler = LoadSampler::new(Duration::from_secs(3600));
        assert_eq!(sampler.want("/a", PathBuf::from("/nonexistent/a")), None);
        sampler.want("/b", PathBuf::from("/nonexistent/b"));
        sampler.end_scrape();
        assert_eq!(sampler.len(), 2);
        sampler.want("/b", PathBuf::from("/nonexistent/b"));
        sampler.end_scrape();
        assert_eq!(sampler.len(), 1);
        sampler.end_scrape();
        assert_eq!(sampler.len(), 0);
    }

    #[test]
    fn a_failed_sample_reports_nothing_and_a_removed_cgroup_is_dropped() {
        let shared = Shared::<State>::default();
        {
            let mut state = shared.lock();
            for path in ["/a", "/b"] {
                state
                    .cgroups
                    .insert(path.into(), fresh(PathBuf::from(path), 0));
            }
        }
        let decay = decay(Duration::from_secs(1));
        record(
            &shared,
            vec![
                ("/a".into(), "/a".into(), Sample::Counts(running(1, 0))),
                ("/b".into(), "/b".into(), Sample::Counts(running(1, 0))),
            ],
            decay,
        );
        record(
            &shared,
            vec![
                ("/a".into(), "/a".into(), Sample::Failed),
                ("/b".into(), "/b".into(), Sample::Gone),
            ],
            decay,
        );
        let state = shared.lock();
        let a = &state.cgroups["/a"];
        assert_eq!(a.last, None);
        assert!(a.averages.is_some(), "the averages go on after a gap");
        assert!(!state.cgroups.contains_key("/b"));
    }
}
