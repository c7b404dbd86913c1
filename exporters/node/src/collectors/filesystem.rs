//! `filesystem`: size, free and available bytes, inodes, read-only state and stat errors of every
//! mounted filesystem (`node_filesystem_*{device,mountpoint,fstype,device_error}`), and
//! `node_filesystem_mount_info{device,major,minor,mountpoint}`.
//!
//! Mounts come from `<procfs>/1/mountinfo` (falling back to `<procfs>/self/mountinfo` when
//! `hidepid` hides PID 1); each one is `statfs`ed at `<rootfs>/<mount point>` and labelled with the
//! `--path.rootfs` prefix removed.
//!
//! Hung mounts (a dead NFS or FUSE server): `statfs` runs on a small pool of worker threads
//! (`--collector.filesystem.stat-workers`). A call that has not returned after
//! `--collector.filesystem.mount-timeout` marks its mount point stuck: the scrape reports it with
//! `device_error="mountpoint timeout"` and moves on, later scrapes do not stat it again (so no
//! further thread blocks on it), and the pool replaces the blocked worker once. When the hung call
//! finally returns, the worker clears the mark itself and leaves (or rejoins the pool if it is
//! short). The threads are therefore bounded by `stat-workers` plus the number of currently stuck
//! mounts, whatever the number of scrapes. Unlike upstream, the scrape that meets the hung call
//! does not wait for it: it answers after the timeout.
//!
//! A `statfs` takes microseconds, less than waking a thread, so a scrape wakes one worker, which
//! stats the mounts one after another and wakes the scrape once, with the last answer. Only when
//! a call is still running after [`STRAGGLER`] does the scrape wake another worker for the
//! mounts queued behind it, so a slow or hung mount delays the others by that much at most.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::device_filter::DeviceFilter;
use crate::mountinfo;
use crate::paths::Paths;
use crate::read::read_string;

const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";

/// The `device_error` label of a mount whose `statfs` hangs.
const TIMEOUT_ERROR: &str = "mountpoint timeout";

/// How long a `statfs` may run before the mounts queued behind it are handed to another worker.
const STRAGGLER: Duration = Duration::from_millis(20);

pub fn declare(set: &mut FlagSet) -> Builder {
    let mount_points_exclude = set.string(
        "collector.filesystem.mount-points-exclude",
        DEFAULT_MOUNT_POINTS_EXCLUDE,
        "Regexp of mount points to exclude for filesystem collector. (mutually exclusive to mount-points-include)",
    );
    set.customize(mount_points_exclude, |arg| {
        arg.alias("collector.filesystem.ignored-mount-points")
    });
    let mount_points_include = set.optional(
        "collector.filesystem.mount-points-include",
        "Regexp of mount points to include for filesystem collector. (mutually exclusive to mount-points-exclude)",
    );
    let fs_types_exclude = set.string(
        "collector.filesystem.fs-types-exclude",
        DEFAULT_FS_TYPES_EXCLUDE,
        "Regexp of filesystem types to exclude for filesystem collector. (mutually exclusive to fs-types-include)",
    );
    set.customize(fs_types_exclude, |arg| {
        arg.alias("collector.filesystem.ignored-fs-types")
    });
    let fs_types_include = set.optional(
        "collector.filesystem.fs-types-include",
        "Regexp of filesystem types to include for filesystem collector. (mutually exclusive to fs-types-exclude)",
    );
    let mount_timeout = set.duration(
        "collector.filesystem.mount-timeout",
        "5s",
        "how long to wait for a mount to respond before marking it as stale",
    );
    set.customize(mount_timeout, |arg| arg.hide(true));
    let stat_workers = set.number(
        "collector.filesystem.stat-workers",
        4i64,
        "how many stat calls to process simultaneously",
    );
    set.customize(stat_workers, |arg| arg.hide(true));
    Box::new(move |context| {
        let flags = context.flags;
        let workers = flags.get(stat_workers);
        Ok(Box::new(Filesystem {
            mount_points: DeviceFilter::with_default_exclude(
                flags,
                mount_points_exclude,
                mount_points_include,
            )?,
            fs_types: DeviceFilter::with_default_exclude(
                flags,
                fs_types_exclude,
                fs_types_include,
            )?,
            paths: context.paths.clone(),
            pool: StatPool::new(
                Box::new(statfs_usage),
                usize::try_from(workers.max(1)).unwrap_or(1),
                flags.get(mount_timeout),
            ),
        }))
    })
}

// ---------------------------------------------------------------------------------------------
// Mounts
// ---------------------------------------------------------------------------------------------

/// One line of `mountinfo`, with the labels upstream derives from it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Mount {
    device: String,
    /// As labelled: unescaped, `--path.rootfs` prefix removed.
    mount_point: String,
    fs_type: String,
    major: String,
    minor: String,
    read_only: bool,
}

/// Parses `mountinfo` (see [`mountinfo::parse_line`]); an odd line is skipped with a log line.
fn parse_mountinfo(text: &str, paths: &Paths) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        match parse_mount_line(line, paths) {
            Some(mount) => mounts.push(mount),
            None => tracing::warn!(line, "skipping malformed mountinfo line"),
        }
    }
    mounts
}

fn parse_mount_line(line: &str, paths: &Paths) -> Option<Mount> {
    let line = mountinfo::parse_line(line)?;
    let is_ro = |options: &str| options.split(',').any(|o| o == "ro");
    Some(Mount {
        device: line.source.to_owned(),
        mount_point: paths.strip_rootfs(&line.mount_point),
        fs_type: line.fs_type.to_owned(),
        major: line.major.to_string(),
        minor: line.minor.to_string(),
        read_only: is_ro(line.mount_options)
            || is_ro(line.super_options)
            || line.super_options.split(',').any(|o| o == "emergency_ro"),
    })
}

// ---------------------------------------------------------------------------------------------
// statfs
// ---------------------------------------------------------------------------------------------

/// What `statfs` says about a filesystem.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Usage {
    pub size: f64,
    pub free: f64,
    pub avail: f64,
    pub files: f64,
    pub files_free: f64,
}

/// A stat call: the result, or the `device_error` label text.
type StatFn = dyn Fn(&Path) -> Result<Usage, String> + Send + Sync;

fn statfs_usage(path: &Path) -> Result<Usage, String> {
    let stat = nix::sys::statfs::statfs(path).map_err(|errno| go_errno_text(errno as i32))?;
    let block = stat.block_size() as f64;
    Ok(Usage {
        size: stat.blocks() as f64 * block,
        free: stat.blocks_free() as f64 * block,
        avail: stat.blocks_available() as f64 * block,
        files: stat.files() as f64,
        files_free: stat.files_free() as f64,
    })
}

/// An errno as Go's `syscall.Errno.Error()` words it (upstream puts that text in the
/// `device_error` label): the errors `statfs` can return on Linux, then the C library's text
/// with a lower-case first letter, which is what Go's table holds for the rest.
fn go_errno_text(errno: i32) -> String {
    let known = match errno {
        libc::EPERM => "operation not permitted",
        libc::ENOENT => "no such file or directory",
        libc::EINTR => "interrupted system call",
        libc::EIO => "input/output error",
        libc::ENXIO => "no such device or address",
        libc::EBADF => "bad file descriptor",
        libc::EAGAIN => "resource temporarily unavailable",
        libc::ENOMEM => "cannot allocate memory",
        libc::EACCES => "permission denied",
        libc::EFAULT => "bad address",
        libc::EBUSY => "device or resource busy",
        libc::ENODEV => "no such device",
        libc::ENOTDIR => "not a directory",
        libc::EINVAL => "invalid argument",
        libc::ENAMETOOLONG => "file name too long",
        libc::ENOSYS => "function not implemented",
        libc::ELOOP => "too many levels of symbolic links",
        libc::EOVERFLOW => "value too large for defined data type",
        libc::EOPNOTSUPP => "operation not supported",
        libc::ENETDOWN => "network is down",
        libc::ENETUNREACH => "network is unreachable",
        libc::ECONNRESET => "connection reset by peer",
        libc::ENOTCONN => "transport endpoint is not connected",
        libc::ETIMEDOUT => "connection timed out",
        libc::ECONNREFUSED => "connection refused",
        libc::EHOSTDOWN => "host is down",
        libc::EHOSTUNREACH => "no route to host",
        libc::ESTALE => "stale NFS file handle",
        libc::EUCLEAN => "structure needs cleaning",
        libc::EREMOTEIO => "remote I/O error",
        libc::EDQUOT => "disk quota exceeded",
        libc::ENOMEDIUM => "no medium found",
        libc::ECANCELED => "operation canceled",
        libc::ENOKEY => "required key not available",
        libc::EKEYEXPIRED => "key has expired",
        libc::EKEYREVOKED => "key has been revoked",
        libc::EKEYREJECTED => "key was rejected by service",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => format!("errno {errno}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The stat worker pool
// ---------------------------------------------------------------------------------------------

type Reply = (String, Result<Usage, String>);

/// Where a scrape's answers arrive. Workers wake the scrape only with the last answer it waits
/// for; the scrape also wakes by itself to look for calls running too long.
#[derive(Default)]
struct Inbox {
    state: Mutex<InboxState>,
    complete: Condvar,
}

#[derive(Default)]
struct InboxState {
    replies: Vec<Reply>,
    /// Answers still expected (calls declared stuck are no longer expected).
    awaited: usize,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn deliver(&self, reply: Reply) {
        let mut state = self.lock();
        state.replies.push(reply);
        state.awaited = state.awaited.saturating_sub(1);
        if state.awaited == 0 {
            self.complete.notify_one();
        }
    }

    /// The answers so far, after waiting up to `wait` for the last one.
    fn take(&self, wait: Duration) -> Vec<Reply> {
        let mut state = self.lock();
        if state.awaited > 0 {
            state = self
                .complete
                .wait_timeout_while(state, wait, |state| state.awaited > 0)
                .map(|(state, _)| state)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
        std::mem::take(&mut state.replies)
    }

    fn no_longer_await(&self, calls: usize) {
        let mut state = self.lock();
        state.awaited = state.awaited.saturating_sub(calls);
    }
}

/// One `statfs` of a mount point, shared by every scrape that asks for it while it is queued or
/// running: concurrent scrapes never stat the same mount point twice at once, so a hung mount
/// blocks one worker, however many scrapes arrive.
struct Call {
    path: PathBuf,
    started: Option<Instant>,
    declared_stuck: bool,
    waiters: Vec<Arc<Inbox>>,
}

#[derive(Default)]
struct PoolState {
    /// Mount points waiting for a worker, in arrival order.
    queue: VecDeque<String>,
    calls: HashMap<String, Call>,
    /// Threads alive and not blocked in a call declared stuck.
    healthy: usize,
    /// Mount points whose `statfs` hangs; cleared by the hung call when it returns.
    stuck: HashSet<String>,
    shutting_down: bool,
}

struct Shared {
    stat: Box<StatFn>,
    bound: usize,
    timeout: Duration,
    state: Mutex<PoolState>,
    work: Condvar,
    /// Live worker threads (healthy and stuck), for tests and logs.
    threads: AtomicUsize,
}

/// Worker threads running the stat function, with stuck-call detection (see the module docs).
pub(crate) struct StatPool {
    shared: Arc<Shared>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Every update under the lock is a single insert, remove or assignment, so a panic
        // elsewhere cannot leave the state half-changed: a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl StatPool {
    pub(crate) fn new(stat: Box<StatFn>, bound: usize, timeout: Duration) -> StatPool {
        StatPool {
            shared: Arc::new(Shared {
                stat,
                bound: bound.max(1),
                timeout,
                state: Mutex::new(PoolState::default()),
                work: Condvar::new(),
                threads: AtomicUsize::new(0),
            }),
        }
    }

    /// Live worker threads.
    #[cfg(test)]
    fn threads(&self) -> usize {
        self.shared.threads.load(Ordering::SeqCst)
    }

    /// Whether a mount point is currently marked stuck.
    fn is_stuck(&self, mount_point: &str) -> bool {
        self.shared.lock().stuck.contains(mount_point)
    }

    /// Starts workers until `bound` healthy ones run. Called with the lock held.
    fn fill(shared: &Arc<Shared>, state: &mut PoolState) {
        while state.healthy < shared.bound {
            let worker = Arc::clone(shared);
            let spawned = std::thread::Builder::new()
                .name("statfs-worker".into())
                .stack_size(256 * 1024)
                .spawn(move || work(worker));
            match spawned {
                Ok(_) => {
                    state.healthy += 1;
                    shared.threads.fetch_add(1, Ordering::SeqCst);
                }
                Err(err) => {
                    tracing::error!(err = %err, "cannot start a statfs worker thread");
                    break;
                }
            }
        }
    }

    /// Stats every `(path, mount point)` on the workers; a call still running after the timeout
    /// is reported as [`TIMEOUT_ERROR`] and its mount point marked stuck. Results are in request
    /// order; requests naming the same mount point share one call.
    fn stat_all(&self, requests: &[(PathBuf, String)]) -> Vec<Result<Usage, String>> {
        if requests.is_empty() {
            return Vec::new();
        }
        let shared = &self.shared;
        let mut results: Vec<Option<Result<Usage, String>>> = vec![None; requests.len()];
        let inbox = Arc::new(Inbox::default());
        let mut pending: HashMap<String, Vec<usize>> = HashMap::new();
        {
            let mut state = shared.lock();
            Self::fill(shared, &mut state);
            if state.healthy == 0 {
                return vec![
                    Err("no statfs worker thread could be started".into());
                    requests.len()
                ];
            }
            for (index, (path, mount_point)) in requests.iter().enumerate() {
                let waiting = pending.entry(mount_point.clone()).or_default();
                waiting.push(index);
                if waiting.len() > 1 {
                    continue; // this scrape already waits for that mount point
                }
                match state.calls.get_mut(mount_point) {
                    Some(call) => call.waiters.push(Arc::clone(&inbox)),
                    None => {
                        state.calls.insert(
                            mount_point.clone(),
                            Call {
                                path: path.clone(),
                                started: None,
                                declared_stuck: false,
                                waiters: vec![Arc::clone(&inbox)],
                            },
                        );
                        state.queue.push_back(mount_point.clone());
                    }
                }
            }
            // Set before any worker can answer: the lock is still held.
            inbox.lock().awaited = pending.len();
            shared.work.notify_one();
        }

        fn record(
            results: &mut [Option<Result<Usage, String>>],
            indexes: Vec<usize>,
            result: Result<Usage, String>,
        ) {
            for index in indexes {
                results[index] = Some(result.clone());
            }
        }
        loop {
            let (stuck, wait) = self.declare_stuck(&pending);
            inbox.no_longer_await(stuck.len());
            for mount_point in stuck {
                if let Some(indexes) = pending.remove(&mount_point) {
                    record(&mut results, indexes, Err(TIMEOUT_ERROR.to_owned()));
                }
            }
            if pending.is_empty() {
                break;
            }
            for (mount_point, result) in inbox.take(wait) {
                if let Some(indexes) = pending.remove(&mount_point) {
                    record(&mut results, indexes, result);
                }
            }
            if pending.is_empty() {
                break;
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err("statfs worker vanished".into())))
            .collect()
    }

    /// Finds the pending calls running longer than the timeout, declares them stuck (marking
    /// the mount point and replacing the blocked worker, once per call) and returns them with
    /// how long to wait for the next event.
    fn declare_stuck(&self, pending: &HashMap<String, Vec<usize>>) -> (Vec<String>, Duration) {
        let shared = &self.shared;
        let now = Instant::now();
        let mut state = shared.lock();
        let mut next = shared.timeout;
        let mut stuck = Vec::new();
        let mut newly_stuck = 0;
        let mut straggling = false;
        for mount_point in pending.keys() {
            let Some(call) = state.calls.get_mut(mount_point) else {
                continue; // finished, its reply is on the way
            };
            let Some(started) = call.started else {
                continue; // still queued
            };
            if call.declared_stuck {
                stuck.push(mount_point.clone()); // declared by a concurrent scrape
                continue;
            }
            let deadline = started + shared.timeout;
            if now.duration_since(started) >= STRAGGLER {
                straggling = true;
            }
            if deadline <= now {
                call.declared_stuck = true;
                newly_stuck += 1;
                tracing::debug!(
                    mountpoint = %mount_point,
                    "Mount point timed out, it is being labeled as stuck and will not be monitored"
                );
                state.stuck.insert(mount_point.clone());
                stuck.push(mount_point.clone());
            } else {
                next = next.min(deadline - now);
            }
        }
        if newly_stuck > 0 {
            state.healthy = state.healthy.saturating_sub(newly_stuck);
            Self::fill(shared, &mut state);
        }
        if !state.queue.is_empty() {
            // Mounts wait behind a slow call: another worker takes them, and the scrape looks
            // again after a while in case that one is slow too.
            if straggling {
                shared.work.notify_one();
            }
            next = next.min(STRAGGLER);
        }
        (stuck, next.max(Duration::from_millis(1)))
    }
}

impl Drop for StatPool {
    fn drop(&mut self) {
        // Idle workers leave; a worker stuck in a call leaves when the call returns.
        self.shared.lock().shutting_down = true;
        self.shared.work.notify_all();
    }
}

/// A worker: takes calls until the pool shuts down, or until it returns from a call that was
/// declared stuck and the pool already has its replacement.
fn work(shared: Arc<Shared>) {
    loop {
        let (mount_point, path) = {
            let mut state = shared.lock();
            loop {
                if state.shutting_down {
                    state.healthy = state.healthy.saturating_sub(1);
                    shared.threads.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
                if let Some(mount_point) = state.queue.pop_front() {
                    if let Some(call) = state.calls.get_mut(&mount_point) {
                        call.started = Some(Instant::now());
                        break (mount_point, call.path.clone());
                    }
                    continue;
                }
                state = shared
                    .work
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (shared.stat)(&path)))
                .unwrap_or_else(|_| Err("statfs panicked".into()));
        let (waiters, keep_working) = {
            let mut state = shared.lock();
            let call = state.calls.remove(&mount_point);
            let declared_stuck = call.as_ref().is_some_and(|c| c.declared_stuck);
            let keep_working = if declared_stuck {
                state.stuck.remove(&mount_point);
                tracing::debug!(
                    mountpoint = %mount_point,
                    "Mount point has recovered, monitoring will resume"
                );
                if state.healthy < shared.bound && !state.shutting_down {
                    state.healthy += 1;
                    true
                } else {
                    false
                }
            } else {
                true
            };
            (call.map(|c| c.waiters).unwrap_or_default(), keep_working)
        };
        for waiter in waiters {
            waiter.deliver((mount_point.clone(), result.clone())); // a scrape may have moved on
        }
        if !keep_working {
            shared.threads.fetch_sub(1, Ordering::SeqCst);
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The collector
// ---------------------------------------------------------------------------------------------

struct Filesystem {
    mount_points: DeviceFilter,
    fs_types: DeviceFilter,
    paths: Paths,
    pool: StatPool,
}

impl Filesystem {
    fn mounts(&self) -> Result<Vec<Mount>, CollectorError> {
        let primary = self.paths.proc("1/mountinfo");
        // read_string turns non-UTF-8 bytes in names into U+FFFD, as upstream's labels.
        let text = match read_string(&primary) {
            Ok(text) => text,
            Err(CollectorError::Io { source, .. })
                if matches!(
                    source.kind(),
                    ErrorKind::NotFound | ErrorKind::PermissionDenied
                ) =>
            {
                tracing::debug!(err = %source, "Reading root mounts failed, falling back to self mounts");
                read_string(&self.paths.proc("self/mountinfo"))?
            }
            Err(err) => return Err(err),
        };
        Ok(parse_mountinfo(&text, &self.paths))
    }
}

impl Collector for Filesystem {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut seen = HashSet::new();
        let mounts: Vec<Mount> = self
            .mounts()?
            .into_iter()
            .filter(|m| !self.mount_points.ignored(&m.mount_point))
            .filter(|m| !self.fs_types.ignored(&m.fs_type))
            .filter(|m| {
                seen.insert((
                    m.device.clone(),
                    m.mount_point.clone(),
                    m.fs_type.clone(),
                    m.major.clone(),
                    m.minor.clone(),
                ))
            })
            .collect();

        let mut outcomes: Vec<Option<Result<Usage, String>>> = vec![None; mounts.len()];
        let mut requests = Vec::new();
        let mut request_index = Vec::new();
        for (index, mount) in mounts.iter().enumerate() {
            if self.pool.is_stuck(&mount.mount_point) {
                tracing::debug!(mountpoint = %mount.mount_point, "Mount point is in an unresponsive state");
                outcomes[index] = Some(Err(TIMEOUT_ERROR.to_owned()));
            } else {
                requests.push((
                    self.paths.root(&mount.mount_point),
                    mount.mount_point.clone(),
                ));
                request_index.push(index);
            }
        }
        for (index, result) in request_index.into_iter().zip(self.pool.stat_all(&requests)) {
            if let Err(err) = &result {
                tracing::debug!(mountpoint = %mounts[index].mount_point, err = %err, "Error on statfs() system call");
            }
            outcomes[index] = Some(result);
        }

        let family = |name: &'static str, help: &'static str| MetricFamily::gauge(name, help);
        let mut device_error = family(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
        );
        let mut readonly = family("node_filesystem_readonly", "Filesystem read-only status.");
        let mut size = family("node_filesystem_size_bytes", "Filesystem size in bytes.");
        let mut free = family(
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes.",
        );
        let mut avail = family(
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
        );
        let mut files = family("node_filesystem_files", "Filesystem total file nodes.");
        let mut files_free = family(
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
        );
        let mut mount_info = family(
            "node_filesystem_mount_info",
            "Filesystem mount information.",
        );
        for (mount, outcome) in mounts.iter().zip(outcomes) {
            let outcome = outcome.unwrap_or_else(|| Err(TIMEOUT_ERROR.to_owned()));
            let error_text = outcome.as_ref().err().map_or("", String::as_str);
            let labels = [
                ("device", mount.device.as_str()),
                ("mountpoint", mount.mount_point.as_str()),
                ("fstype", mount.fs_type.as_str()),
                ("device_error", error_text),
            ];
            device_error.push(&labels, if outcome.is_err() { 1.0 } else { 0.0 });
            readonly.push(&labels, if mount.read_only { 1.0 } else { 0.0 });
            let Ok(usage) = outcome else { continue };
            size.push(&labels, usage.size);
            free.push(&labels, usage.free);
            avail.push(&labels, usage.avail);
            files.push(&labels, usage.files);
            files_free.push(&labels, usage.files_free);
            mount_info.push(
                &[
                    ("device", &mount.device),
                    ("major", &mount.major),
                    ("minor", &mount.minor),
                    ("mountpoint", &mount.mount_point),
                ],
                1.0,
            );
        }
        out.extend([
            device_error,
            readonly,
            size,
            free,
            avail,
            files,
            files_free,
            mount_info,
        ]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::BuildError;
    use std::sync::mpsc;

    fn build(args: &[&str], paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
        crate::collectors::testing::build(declare, paths, args)
    }

    const MOUNTINFO: &str = "\
1 1 0:26 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
2 1 0:27 / /run/user/1000 rw,nosuid shared:2 - tmpfs none rw,size=100k
3 1 8:2 / /mnt/with\\040space ro,relatime - ext4 /dev/sdb1 rw
4 1 8:3 / /mnt/emergency rw - ext4 /dev/sdb2 rw,emergency_ro
5 1 8:4 / /mnt/super-ro rw - ext4 /dev/sdb3 ro
garbage line
6 1 x:y / /bad rw - ext4 /dev/sdb4 rw
";

    #[test]
    fn reads_mountinfo() {
        let mounts = parse_mountinfo(MOUNTINFO, &Paths::default());
        assert_eq!(mounts.len(), 5);
        assert_eq!(mounts[0].device, "/dev/sda1");
        assert!(!mounts[0].read_only);
        assert_eq!(mounts[1].device, "none");
        assert_eq!(
            (mounts[1].major.as_str(), mounts[1].minor.as_str()),
            ("0", "27")
        );
        assert_eq!(mounts[2].mount_point, "/mnt/with space");
        assert!(mounts[2].read_only);
        assert!(mounts[3].read_only, "emergency_ro in the super options");
        assert!(mounts[4].read_only, "ro in the super options");

        let rooted = Paths {
            rootfs: "/host".into(),
            ..Paths::default()
        };
        let line = "1 1 8:1 / /host/boot rw - ext4 /dev/sda1 rw";
        assert_eq!(
            parse_mount_line(line, &rooted).unwrap().mount_point,
            "/boot"
        );
    }

    #[test]
    fn filter_flags_follow_upstream() {
        let paths = Paths::default();
        assert!(build(&[], &paths).is_ok());
        assert!(build(&["--collector.filesystem.mount-points-include=^/$"], &paths).is_ok());
        assert!(matches!(
            build(
                &[
                    "--collector.filesystem.fs-types-include=ext4",
                    "--collector.filesystem.fs-types-exclude=tmpfs",
                ],
                &paths
            ),
            Err(BuildError::Invalid(_))
        ));
        assert!(build(&["--collector.filesystem.ignored-fs-types=^tmpfs$"], &paths).is_ok());
        assert!(matches!(
            build(&["--collector.filesystem.mount-timeout=soon"], &paths),
            Err(BuildError::Invalid(_))
        ));
        assert!(matches!(
            build(&["--collector.filesystem.stat-workers=many"], &paths),
            Err(BuildError::Invalid(_))
        ));
        let mount_points =
            DeviceFilter::new(Some(("x", DEFAULT_MOUNT_POINTS_EXCLUDE)), None).unwrap();
        for ignored in [
            "/proc",
            "/sys/fs/cgroup",
            "/dev",
            "/var/lib/docker/overlay2/x",
            "/run/credentials/a",
        ] {
            assert!(mount_points.ignored(ignored), "{ignored}");
        }
        for kept in ["/", "/home", "/devices", "/run", "/var/lib/docker"] {
            assert!(!mount_points.ignored(kept), "{kept}");
        }
        let fs_types = DeviceFilter::new(Some(("x", DEFAULT_FS_TYPES_EXCLUDE)), None).unwrap();
        assert!(fs_types.ignored("erofs") && fs_types.ignored("cgroup2"));
        assert!(!fs_types.ignored("ext4") && !fs_types.ignored("tmpfs"));
    }

    #[test]
    fn errno_texts_read_like_go() {
        assert_eq!(go_errno_text(libc::EACCES), "permission denied");
        assert_eq!(go_errno_text(libc::EIO), "input/output error");
        assert_eq!(go_errno_text(libc::ESTALE), "stale NFS file handle");
        let other = go_errno_text(libc::EXDEV);
        assert!(other.starts_with(char::is_lowercase), "{other}");
        assert!(!other.contains("os error"), "{other}");
    }

    /// A stat function that blocks on `/stuck` until released, and counts calls per path.
    struct Blocking {
        release: Mutex<Option<mpsc::Receiver<()>>>,
        calls: Mutex<HashMap<PathBuf, usize>>,
    }

    impl Blocking {
        fn stat(&self, path: &Path) -> Result<Usage, String> {
            *self
                .calls
                .lock()
                .unwrap()
                .entry(path.to_owned())
                .or_default() += 1;
            if path == Path::new("/stuck") {
                let receiver = self.release.lock().unwrap().take();
                if let Some(receiver) = receiver {
                    let _ = receiver.recv();
                }
            }
            if path == Path::new("/denied") {
                return Err(go_errno_text(libc::EACCES));
            }
            Ok(Usage {
                size: 100.0,
                free: 50.0,
                avail: 40.0,
                files: 10.0,
                files_free: 5.0,
            })
        }

        fn calls(&self, path: &str) -> usize {
            self.calls
                .lock()
                .unwrap()
                .get(Path::new(path))
                .copied()
                .unwrap_or(0)
        }
    }

    fn requests(paths: &[&str]) -> Vec<(PathBuf, String)> {
        paths
            .iter()
            .map(|p| (PathBuf::from(p), (*p).to_owned()))
            .collect()
    }

    #[test]
    fn a_hung_statfs_is_reported_skipped_bounded_and_recovers() {
        let (release, receiver) = mpsc::channel();
        let fake = Arc::new(Blocking {
            release: Mutex::new(Some(receiver)),
            calls: Mutex::new(HashMap::new()),
        });
        let stat = Arc::clone(&fake);
        let pool = StatPool::new(
            Box::new(move |path| stat.stat(path)),
            2,
            Duration::from_millis(500),
        );
        let mounts = requests(&["/a", "/stuck", "/b", "/denied", "/c"]);

        // First scrapes, three at once: the hung call is reported as a timeout to each, the
        // others are unaffected, and the hung mount is statted (and blocks a worker) once.
        let started = Instant::now();
        let all: Vec<Vec<Result<Usage, String>>> = std::thread::scope(|scope| {
            let scrapes: Vec<_> = (0..3)
                .map(|_| scope.spawn(|| pool.stat_all(&mounts)))
                .collect();
            scrapes.into_iter().map(|s| s.join().unwrap()).collect()
        });
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the scrape did not wait for the hung call"
        );
        assert!(all.iter().all(|r| r[1] == Err(TIMEOUT_ERROR.to_owned())));
        assert_eq!(fake.calls("/stuck"), 1, "concurrent scrapes share the call");
        let results = all.into_iter().next().unwrap();
        assert_eq!(results[1], Err(TIMEOUT_ERROR.to_owned()));
        assert_eq!(results[0].as_ref().unwrap().size, 100.0);
        assert_eq!(results[3], Err("permission denied".to_owned()));
        assert!(results[4].is_ok());
        assert!(pool.is_stuck("/stuck"));
        assert_eq!(pool.threads(), 3, "two healthy workers plus the one stuck");

        // Later scrapes, through the collector, neither call it again nor start threads.
        let collector = Filesystem {
            mount_points: DeviceFilter::default(),
            fs_types: DeviceFilter::default(),
            paths: Paths::default(),
            pool,
        };
        for _ in 0..5 {
            let mut outcomes = Vec::new();
            for (path, mount_point) in &mounts {
                if collector.pool.is_stuck(mount_point) {
                    outcomes.push(Err(TIMEOUT_ERROR.to_owned()));
                } else {
                    outcomes.extend(
                        collector
                            .pool
                            .stat_all(&[(path.clone(), mount_point.clone())]),
                    );
                }
            }
            assert_eq!(outcomes[1], Err(TIMEOUT_ERROR.to_owned()));
            assert!(outcomes[0].is_ok());
        }
        assert_eq!(
            fake.calls("/stuck"),
            1,
            "a stuck mount is not statted again"
        );
        assert_eq!(collector.pool.threads(), 3, "no thread per scrape");

        // The hung call returns: it clears the mark itself and its thread leaves.
        release.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while (collector.pool.is_stuck("/stuck") || collector.pool.threads() > 2)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!collector.pool.is_stuck("/stuck"));
        assert_eq!(collector.pool.threads(), 2);
        let results = collector.pool.stat_all(&mounts);
        assert!(results.iter().enumerate().all(|(i, r)| i == 3 || r.is_ok()));
        assert_eq!(fake.calls("/stuck"), 2);
        assert_eq!(collector.pool.threads(), 2);
    }

    /// Records which thread statted which mount, and when; `/slow` takes 300 ms.
    #[derive(Default)]
    struct Recording {
        calls: Mutex<Vec<(PathBuf, std::thread::ThreadId, Instant)>>,
    }

    impl Recording {
        fn stat(&self, path: &Path) -> Result<Usage, String> {
            self.calls.lock().unwrap().push((
                path.to_owned(),
                std::thread::current().id(),
                Instant::now(),
            ));
            if path == Path::new("/slow") {
                std::thread::sleep(Duration::from_millis(300));
            }
            Ok(Usage {
                size: 1.0,
                free: 1.0,
                avail: 1.0,
                files: 1.0,
                files_free: 1.0,
            })
        }
    }

    #[test]
    fn one_worker_stats_a_scrape_and_a_slow_mount_hands_the_rest_on() {
        let recording = Arc::new(Recording::default());
        let stat = Arc::clone(&recording);
        let pool = StatPool::new(
            Box::new(move |path| stat.stat(path)),
            4,
            Duration::from_secs(5),
        );
        let names: Vec<String> = (0..30).map(|i| format!("/m{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let fast = requests(&names);
        // Fast mounts: one worker takes them all (a scrape on a loaded machine may hand some
        // on, so one of five scrapes suffices).
        let single_thread_scrapes = (0..5)
            .filter(|_| {
                recording.calls.lock().unwrap().clear();
                assert!(pool.stat_all(&fast).iter().all(Result::is_ok));
                let calls = recording.calls.lock().unwrap();
                let threads: HashSet<_> = calls.iter().map(|(_, thread, _)| *thread).collect();
                threads.len() == 1
            })
            .count();
        assert!(
            single_thread_scrapes > 0,
            "every scrape woke several workers"
        );

        // A slow mount first in line: the mounts behind it go to another worker long before
        // it returns, and every answer is there.
        recording.calls.lock().unwrap().clear();
        let mut with_slow = requests(&["/slow"]);
        with_slow.extend(fast.iter().cloned());
        let started = Instant::now();
        let results = pool.stat_all(&with_slow);
        assert!(results.iter().all(Result::is_ok));
        let calls = recording.calls.lock().unwrap();
        let last_fast = calls
            .iter()
            .filter(|(path, _, _)| path != Path::new("/slow"))
            .map(|(_, _, at)| at.duration_since(started))
            .max()
            .unwrap();
        assert!(
            last_fast < Duration::from_millis(250),
            "the fast mounts waited for the slow one ({last_fast:?})"
        );
    }

    #[test]
    fn a_stuck_mount_is_exported_with_the_timeout_label() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("1")).unwrap();
        std::fs::write(
            dir.path().join("1/mountinfo"),
            "1 1 0:1 / /stuck ro - nfs4 server:/export rw\n2 1 0:2 / /ok rw - ext4 /dev/sda1 rw\n",
        )
        .unwrap();
        let (_release, receiver) = mpsc::channel::<()>();
        let fake = Arc::new(Blocking {
            release: Mutex::new(Some(receiver)),
            calls: Mutex::new(HashMap::new()),
        });
        let stat = Arc::clone(&fake);
        let collector = Filesystem {
            mount_points: DeviceFilter::default(),
            fs_types: DeviceFilter::default(),
            paths: Paths {
                procfs: dir.path().to_owned(),
                ..Paths::default()
            },
            pool: StatPool::new(
                Box::new(move |p| stat.stat(p)),
                4,
                Duration::from_millis(500),
            ),
        };
        for _ in 0..2 {
            let mut out = Vec::new();
            collector.update(&mut out).unwrap();
            let errors = out
                .iter()
                .find(|f| f.name == "node_filesystem_device_error")
                .unwrap();
            let stuck = errors
                .samples
                .iter()
                .find(|s| s.labels.contains(&("mountpoint".into(), "/stuck".into())))
                .unwrap();
            assert_eq!(stuck.value, 1.0);
            assert!(
                stuck
                    .labels
                    .contains(&("device_error".into(), TIMEOUT_ERROR.into()))
            );
            let size = out
                .iter()
                .find(|f| f.name == "node_filesystem_size_bytes")
                .unwrap();
            assert_eq!(size.samples.len(), 1, "only /ok has a size");
            let readonly = out
                .iter()
                .find(|f| f.name == "node_filesystem_readonly")
                .unwrap();
            assert!(readonly.samples.iter().any(|s| s.value == 1.0));
        }
        assert_eq!(fake.calls("/stuck"), 1);
    }

    /// `df`'s view of the root filesystem, in bytes and inodes.
    fn df_root() -> (f64, f64, f64) {
        let output = std::process::Command::new("df")
            .args(["-B1", "--output=size,avail,itotal", "/"])
            .output()
            .expect("df (coreutils) runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let numbers: Vec<f64> = text
            .lines()
            .nth(1)
            .expect("a data line")
            .split_ascii_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        (numbers[0], numbers[1], numbers[2])
    }

    #[test]
    fn live_mounts_match_df() {
        let collector = build(&[], &Paths::default()).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let value = |family: &str| {
            out.iter()
                .find(|f| f.name == family)
                .and_then(|f| {
                    f.samples
                        .iter()
                        .find(|s| s.labels.contains(&("mountpoint".into(), "/".into())))
                })
                .map(|s| s.value)
                .unwrap_or_else(|| panic!("{family} has the root mount"))
        };
        let (df_size, df_avail, df_inodes) = df_root();
        assert_eq!(value("node_filesystem_size_bytes"), df_size);
        assert_eq!(value("node_filesystem_files"), df_inodes);
        let avail = value("node_filesystem_avail_bytes");
        assert!(
            (avail - df_avail).abs() <= 64.0 * 1024.0 * 1024.0,
            "avail {avail} vs df {df_avail}"
        );
        assert_eq!(value("node_filesystem_device_error"), 0.0);
        let mount_info = out
            .iter()
            .find(|f| f.name == "node_filesystem_mount_info")
            .unwrap();
        assert!(!mount_info.samples.is_empty());
        // The default excludes hold: no /proc or /sys series.
        assert!(out.iter().all(|f| f.samples.iter().all(|s| {
            !s.labels
                .iter()
                .any(|(k, v)| k == "mountpoint" && (v == "/proc" || v == "/sys"))
        })));
    }

    proptest::proptest! {
        #[test]
        fn mountinfo_garbage_never_panics(text in "(.{0,120}\n){0,5}") {
            let _ = parse_mountinfo(&text, &Paths::default());
        }
    }
}
