//! Child processes that never outlive us.
//!
//! Every child is spawned from one long-lived thread with `PR_SET_PDEATHSIG = SIGKILL`: the
//! kernel kills the child when the thread that forked it ends, and that thread ends only with our
//! process. So even a test binary that panics, is killed, or exits while a shared MariaDB runs
//! leaves nothing behind. Each child also gets its own process group, so a Ctrl-C aimed at
//! `cargo xtask up` reaches the supervisor, which then stops services in order.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::TestbedError;
use crate::http::{get_with, loopback_client};

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// The channel to the spawner thread, or why that thread could not start (kept, since the
/// `OnceLock` is initialised once: every later spawn fails with the same reason).
fn spawner() -> Result<&'static Mutex<mpsc::Sender<SpawnRequest>>, String> {
    static SPAWNER: OnceLock<Result<Mutex<mpsc::Sender<SpawnRequest>>, String>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<SpawnRequest>();
            std::thread::Builder::new()
                .name("testbed-spawner".into())
                .spawn(move || {
                    for (mut command, reply) in rx {
                        let _ = reply.send(command.spawn());
                    }
                    // The channel never closes (the sender is static), so this thread, and with
                    // it the children's lifetime, lasts as long as the process.
                })
                .map(|_| Mutex::new(tx))
                .map_err(|err| format!("the spawner thread could not start: {err}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: the closure runs between fork and exec and calls only prctl(2), which is
    // async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}

/// A running child process, stopped (signal, then SIGKILL after a grace period) when dropped.
#[derive(Debug)]
pub struct Service {
    name: String,
    child: Option<Child>,
    log: PathBuf,
    stop_signal: Signal,
    grace: Duration,
}

impl Service {
    /// Spawns `command` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Service, TestbedError> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|source| TestbedError::Io {
                context: format!("opening log {}", log.display()),
                source,
            })?;
        let err = out.try_clone().map_err(|source| TestbedError::Io {
            context: "duplicating the log file".into(),
            source,
        })?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        {
            use std::os::unix::process::CommandExt as _;
            command.process_group(0);
        }
        die_with_parent(&mut command);
        let program = command.get_program().to_string_lossy().into_owned();
        let (reply_tx, reply_rx) = mpsc::channel();
        spawner()
            .map_err(|detail| TestbedError::Start {
                service: name.into(),
                detail,
            })?
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send((command, reply_tx))
            .map_err(|_| TestbedError::Start {
                service: name.into(),
                detail: "the spawner thread is gone".into(),
            })?;
        let child = reply_rx
            .recv()
            .map_err(|_| TestbedError::Start {
                service: name.into(),
                detail: "the spawner thread is gone".into(),
            })?
            .map_err(|source| TestbedError::Io {
                context: format!("starting {name} ({program})"),
                source,
            })?;
        Ok(Service {
            name: name.into(),
            child: Some(child),
            log: log.to_owned(),
            stop_signal: Signal::SIGTERM,
            grace: Duration::from_secs(20),
        })
    }

    /// The signal that asks this service to stop (SIGTERM unless set).
    pub fn with_stop_signal(mut self, signal: Signal, grace: Duration) -> Self {
        self.stop_signal = signal;
        self.grace = grace;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last lines of the service's log, for error messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log, 25)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            None => false,
            Some(child) => matches!(child.try_wait(), Ok(None)),
        }
    }

    /// Fails with the log's tail if the process has already exited.
    pub fn check_alive(&mut self) -> Result<(), TestbedError> {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            return Err(TestbedError::Start {
                service: self.name.clone(),
                detail: format!("exited with {status}; log:\n{}", self.log_tail()),
            });
        }
        Ok(())
    }

    /// Sends a signal without waiting.
    pub fn signal(&self, signal: Signal) {
        if let Some(pid) = self.pid() {
            let _ = kill(Pid::from_raw(pid as i32), signal);
        }
    }

    /// Asks the process to stop and waits (SIGKILL after the grace period). Returns whether it
    /// stopped by itself within the grace period.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return true;
        }
        let _ = kill(Pid::from_raw(child.id() as i32), self.stop_signal);
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(service = %self.name, "did not stop in time; killing");
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the process to exit by itself, up to `timeout`; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Polls `check` every 50 ms until it returns `Ok(true)`, the service dies, or `timeout` passes.
pub async fn wait_ready<F, Fut>(
    service: &mut Service,
    timeout: Duration,
    mut check: F,
) -> Result<(), TestbedError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        service.check_alive()?;
        if check().await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(TestbedError::Start {
                service: service.name().to_owned(),
                detail: format!("not ready after {timeout:?}; log:\n{}", service.log_tail()),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// [`wait_ready`] until a GET on `url` answers 200, through one client for every poll.
pub async fn wait_http_ok(
    service: &mut Service,
    timeout: Duration,
    url: &str,
) -> Result<(), TestbedError> {
    let client = loopback_client(url)?;
    wait_ready(service, timeout, || async {
        matches!(get_with(&client, url).await, Ok((200, _)))
    })
    .await
}
