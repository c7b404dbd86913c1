//! A runtime of its own for a service that a whole test binary shares.

/// Runs `start` to completion on a runtime of its own, on a thread of its own, and returns what
/// it gives: for a service that a whole test binary shares (kept in a `OnceLock`), whose
/// tests each run on their own runtime, so none of theirs can start it.
///
/// # Panics
///
/// When `start` panics (its panic goes on), or when the thread or its runtime cannot be made:
/// the callers initialise a `OnceLock` and have no error to return.
pub fn start_on_own_runtime<T, F>(start: F) -> T
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let thread = std::thread::Builder::new()
        .name("testbed-shared-start".into())
        .spawn(|| {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(start),
                Err(err) => panic!("building a runtime to start a shared service: {err}"),
            }
        });
    match thread.map(std::thread::JoinHandle::join) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(err) => panic!("spawning a thread to start a shared service: {err}"),
    }
}
