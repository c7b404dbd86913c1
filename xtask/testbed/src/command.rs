//! Commands run to their end, with what they wrote.

use std::ffi::OsStr;
use std::process::{Command, Output};

/// Runs `program` with `args` to its end and returns its exit status (-1 when a signal ended
/// it) and everything it wrote, stdout then stderr: what a user at a shell would see.
///
/// # Panics
///
/// When `program` cannot be started: the tests that call this have nothing to check then.
pub fn run_to_exit(program: impl AsRef<OsStr>, args: &[&str]) -> (i32, String) {
    let program = program.as_ref();
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("running {}: {err}", program.to_string_lossy()));
    (output.status.code().unwrap_or(-1), combined_output(&output))
}

/// What a finished command wrote, stdout then stderr, as text.
pub fn combined_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
