//! The lines `cargo xtask up` prints while the stack starts (nothing in tests).

use std::time::Instant;

use super::options::StackOptions;
use crate::error::TestbedError;

pub(super) fn say(options: &StackOptions, line: &str) {
    if options.progress {
        println!("{line}");
    }
}

/// Awaits `start`, announcing `what` before and the time it took (or the failure) after.
pub(super) async fn timed<T, F>(
    options: &StackOptions,
    what: &str,
    start: F,
) -> Result<T, TestbedError>
where
    F: Future<Output = Result<T, TestbedError>>,
{
    let started = Instant::now();
    if options.progress {
        use std::io::Write as _;
        print!("  starting {what:<28}");
        let _ = std::io::stdout().flush();
    }
    let result = start.await;
    match &result {
        Ok(_) => say(
            options,
            &format!("ok ({:.1} s)", started.elapsed().as_secs_f64()),
        ),
        Err(_) => say(options, "FAILED"),
    }
    result
}
