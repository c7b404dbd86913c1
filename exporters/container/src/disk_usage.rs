//! The background walker of the `disk` kind: one thread measures the writable layers of the
//! containers a scrape found, in turn, so that a scrape only reads the last figures and never
//! walks a filesystem (cAdvisor runs one such loop per container, every minute).
//!
//! Budget: one walk at a time; each container at most every `period`, and, when its walk
//! takes long, no more often than every [`SLOW_WALK_FACTOR`] × its duration (a tree that
//! takes 20 s is walked every 10 minutes at most); a failed walk backs off, doubling up to
//! [`MAX_BACKOFF`] × `period`, as cAdvisor's; after each walk the thread rests as long as the
//! walk took, so it uses at most half a core. Each walk is bounded by [`Limits`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::background::Shared;
use crate::du::{self, Limits, Usage};

/// A walk that takes `d` is not repeated for `SLOW_WALK_FACTOR × d`.
pub const SLOW_WALK_FACTOR: u32 = 30;
/// A failing walk waits up to this many periods, as cAdvisor's `maxBackoffFactor`.
pub const MAX_BACKOFF: u32 = 20;
/// A walk longer than this is logged (cAdvisor: one second, raised by a second each time).
const SLOW_WALK_LOG: Duration = Duration::from_secs(1);

/// What the walker measured for one container: the bytes of all its directories, the inodes
/// of the first (the writable layer; cAdvisor counts the log directory's bytes only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerUsage {
    pub bytes: u64,
    pub inodes: u64,
}

/// The walker's own figures, for the exporter's self metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WalkerStats {
    pub complete: u64,
    pub truncated: u64,
    pub failed: u64,
    pub walk_seconds: f64,
    /// CPU time of the walker thread (user + system).
    pub cpu_seconds: f64,
    pub last_walk_seconds: f64,
    pub targets: usize,
}

#[derive(Debug)]
struct Target {
    dirs: Vec<PathBuf>,
    due: Instant,
    usage: Option<LayerUsage>,
    failures: u32,
    /// The walk being made measures these dirs (a change while walking discards its result).
    generation: u64,
}

#[derive(Debug, Default)]
struct State {
    targets: HashMap<String, Target>,
    stats: WalkerStats,
    generation: u64,
    stop: bool,
    slow_log: Option<Duration>,
}

/// The handle the collector holds; dropping it stops the thread.
#[derive(Debug)]
pub struct Walker {
    shared: Arc<Shared<State>>,
    started: bool,
    period: Duration,
    limits: Limits,
}

impl Walker {
    pub fn new(period: Duration, limits: Limits) -> Walker {
        Walker {
            shared: Arc::default(),
            started: false,
            period,
            limits,
        }
    }

    /// The containers to measure, by key, with their directories; others are forgotten. New
    /// ones (and changed ones) are walked at once.
    pub fn set_targets(&mut self, wanted: Vec<(String, Vec<PathBuf>)>) {
        let now = Instant::now();
        let mut added = false;
        {
            let mut state = self.shared.lock();
            let keep: HashMap<String, Vec<PathBuf>> = wanted.into_iter().collect();
            state.targets.retain(|key, _| keep.contains_key(key));
            for (key, dirs) in keep {
                state.generation += 1;
                let generation = state.generation;
                // A new target, or one whose directories changed, is measured afresh at once.
                if state
                    .targets
                    .get(&key)
                    .is_none_or(|target| target.dirs != dirs)
                {
                    let target = Target {
                        dirs,
                        due: now,
                        usage: None,
                        failures: 0,
                        generation,
                    };
                    state.targets.insert(key, target);
                    added = true;
                }
            }
            state.stats.targets = state.targets.len();
        }
        if added {
            self.start();
            self.shared.wake();
        }
    }

    /// The last figures measured for `key`.
    pub fn usage(&self, key: &str) -> Option<LayerUsage> {
        self.shared.lock().targets.get(key).and_then(|t| t.usage)
    }

    pub fn stats(&self) -> WalkerStats {
        self.shared.lock().stats
    }

    fn start(&mut self) {
        if self.started {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let (period, limits) = (self.period, self.limits);
        let spawned = std::thread::Builder::new()
            .name("disk-usage".to_owned())
            .spawn(move || run(&shared, period, limits));
        match spawned {
            Ok(_) => self.started = true,
            Err(err) => tracing::warn!(error = %err, "cannot start the disk-usage walker"),
        }
    }
}

impl Drop for Walker {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake();
    }
}

/// The next target due, or how long to wait for one.
fn next_due(state: &State) -> Result<(String, Vec<PathBuf>, u64), Option<Duration>> {
    let Some((key, target)) = state.targets.iter().min_by_key(|(_, t)| t.due) else {
        return Err(None);
    };
    let now = Instant::now();
    if target.due > now {
        return Err(Some(target.due - now));
    }
    Ok((key.clone(), target.dirs.clone(), target.generation))
}

fn run(shared: &Shared<State>, period: Duration, limits: Limits) {
    loop {
        let (key, dirs, generation) = {
            let mut state = shared.lock();
            loop {
                if state.stop {
                    return;
                }
                match next_due(&state) {
                    Ok(due) => break due,
                    Err(wait) => {
                        let wait = wait.unwrap_or(Duration::from_secs(3600));
                        state = shared.wait(state, wait);
                    }
                }
            }
        };
        let cpu_before = thread_cpu_seconds();
        let started = Instant::now();
        let result = measure(&dirs, limits);
        let took = started.elapsed();
        let cpu = thread_cpu_seconds() - cpu_before;
        record(shared, &key, &dirs, generation, result, took, cpu, period);
        // Rest as long as the walk took: the walker uses at most half a core.
        std::thread::sleep(took);
    }
}

/// Walks every directory of a container; the error of the first that cannot be walked.
fn measure(dirs: &[PathBuf], limits: Limits) -> Result<(LayerUsage, bool), du::WalkError> {
    let mut total = LayerUsage::default();
    let mut truncated = false;
    for (index, dir) in dirs.iter().enumerate() {
        let usage: Usage = match du::dir_usage(dir, limits) {
            Ok(usage) => usage,
            // The log directory is optional; the layer is not.
            Err(_) if index > 0 => continue,
            Err(err) => return Err(err),
        };
        total.bytes = total.bytes.saturating_add(usage.bytes);
        if index == 0 {
            total.inodes = usage.inodes;
        }
        truncated |= usage.truncated;
    }
    Ok((total, truncated))
}

#[allow(clippy::too_many_arguments)]
fn record(
    shared: &Shared<State>,
    key: &str,
    dirs: &[PathBuf],
    generation: u64,
    result: Result<(LayerUsage, bool), du::WalkError>,
    took: Duration,
    cpu: f64,
    period: Duration,
) {
    let mut state = shared.lock();
    state.stats.walk_seconds += took.as_secs_f64();
    state.stats.cpu_seconds += cpu;
    state.stats.last_walk_seconds = took.as_secs_f64();
    let threshold = state.slow_log.unwrap_or(SLOW_WALK_LOG);
    if took > threshold {
        state.slow_log = Some(threshold + Duration::from_secs(1));
        tracing::info!(dirs = ?dirs, seconds = took.as_secs_f64(), "disk usage walk took long; logged again only when slower");
    }
    match &result {
        Ok((_, false)) => state.stats.complete += 1,
        Ok((_, true)) => {
            state.stats.truncated += 1;
            tracing::debug!(dirs = ?dirs, "disk usage walk stopped at a bound; its figures are a lower bound");
        }
        Err(err) => {
            state.stats.failed += 1;
            tracing::debug!(error = %err, "disk usage walk failed");
        }
    }
    let Some(target) = state.targets.get_mut(key) else {
        return;
    };
    if target.generation != generation {
        return;
    }
    let now = Instant::now();
    match result {
        Ok((usage, _)) => {
            target.usage = Some(usage);
            target.failures = 0;
            target.due = now + period.max(took * SLOW_WALK_FACTOR);
        }
        Err(_) => {
            target.failures = (target.failures + 1).min(16);
            let backoff = (1u32 << target.failures.min(5)).min(MAX_BACKOFF);
            target.due = now + period * backoff;
        }
    }
}

fn thread_cpu_seconds() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_THREAD)
        .map(|u| {
            let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            seconds(u.user_time()) + seconds(u.system_time())
        })
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_for(walker: &Walker, key: &str, done: impl Fn(LayerUsage) -> bool) -> LayerUsage {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(usage) = walker.usage(key).filter(|u| done(*u)) {
                return usage;
            }
            assert!(Instant::now() < deadline, "no usage for {key}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn walks_new_targets_at_once_and_forgets_removed_ones() {
        let layer = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        std::fs::write(layer.path().join("f"), vec![1u8; 64 * 1024]).unwrap();
        std::fs::write(logs.path().join("log"), vec![1u8; 64 * 1024]).unwrap();
        let mut walker = Walker::new(Duration::from_secs(3600), Limits::default());
        assert_eq!(walker.usage("c"), None);
        walker.set_targets(vec![(
            "c".into(),
            vec![layer.path().into(), logs.path().into()],
        )]);
        let usage = wait_for(&walker, "c", |_| true);
        assert!(usage.bytes >= 128 * 1024, "{usage:?}");
        // The layer's inodes only: its root and the file.
        assert_eq!(usage.inodes, 2);
        // A changed directory set is measured again at once.
        walker.set_targets(vec![("c".into(), vec![layer.path().into()])]);
        let usage = wait_for(&walker, "c", |u| u.bytes < 128 * 1024);
        assert!(usage.bytes >= 64 * 1024);
        let stats = walker.stats();
        assert!(stats.complete >= 2 && stats.targets == 1, "{stats:?}");
        walker.set_targets(Vec::new());
        assert_eq!(walker.usage("c"), None);
        // A missing layer fails and is retried later, never fatal.
        walker.set_targets(vec![("gone".into(), vec!["/nonexistent/layer".into()])]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while walker.stats().failed == 0 {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(walker.usage("gone"), None);
    }
}
