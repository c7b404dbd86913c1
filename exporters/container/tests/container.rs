//! Integration tests of octo-container-exporter: the binary against real cgroups of this
//! machine, fixture trees for a pure cgroup v2 host and a v1 host, every runtime's path scheme,
//! and Docker metadata from a small Engine API double on a unix socket.

// Test support code: a failed unwrap is a failed test, and its message says where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "container/engine.rs"]
mod engine;
#[path = "container/extras.rs"]
mod extras;
#[path = "container/fixtures.rs"]
mod fixtures;
#[path = "container/flags.rs"]
mod flags;
#[path = "container/golden.rs"]
mod golden;
#[path = "container/real_cgroups.rs"]
mod real_cgroups;
#[path = "container/real_disk.rs"]
mod real_disk;
#[path = "container/real_kinds.rs"]
mod real_kinds;
#[path = "container/real_load.rs"]
mod real_load;
#[path = "container/support.rs"]
mod support;
