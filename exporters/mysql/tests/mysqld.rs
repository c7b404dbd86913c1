//! octo-mysqld-exporter against real MariaDB servers, side by side with Debian's
//! prometheus-mysqld-exporter (0.14).
//!
//! One MariaDB is shared by the tests that only need a server ([`common::shared`]); replication,
//! probing a second server and kill/restart start their own.

// Test support code: a failed unwrap is a failed test, and its message says where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mysqld {
    mod abandoned;
    pub mod common;
    mod docs;
    pub mod fake_mysql;
    mod gentle;
    mod hostile_server;
    mod probe;
    mod replication;
    mod resilience;
    mod side_by_side;
    mod tls;
}
