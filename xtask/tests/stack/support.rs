//! Paths and tools shared by the stack tests.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

/// The seed's original files, read in place beside the repository.
pub fn seed() -> PathBuf {
    repo().join("../shared/seed")
}

/// Runs a command and returns its combined output, failing the test with that output when it
/// exits non-zero.
pub fn run_ok(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("{what}: could not run {:?}: {err}", command.get_program()));
    let text = octo_testbed::combined_output(&output);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{text}",
        output.status
    );
    text
}

/// A program that must exist, with the way to get it when it does not.
pub fn program(name: &str, how: &str) -> PathBuf {
    octo_testbed::require_program(name, how).unwrap_or_else(|err| panic!("{err}"))
}
