//! What a background thread of the exporter shares with the scrapes that feed and read it:
//! its state behind a lock, and a condition variable to wake it early (new work, or stop).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Shared<S> {
    state: Mutex<S>,
    wake: Condvar,
}

impl<S> Shared<S> {
    pub fn lock(&self) -> MutexGuard<'_, S> {
        // A panic while holding the lock leaves plain data, still consistent enough to read.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives the lock back and sleeps until woken or `timeout` passes.
    pub fn wait<'a>(&self, state: MutexGuard<'a, S>, timeout: Duration) -> MutexGuard<'a, S> {
        self.wake
            .wait_timeout(state, timeout)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Wakes the thread waiting in [`wait`](Self::wait).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
