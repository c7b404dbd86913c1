//! octo-mysqld-exporter against real MariaDB servers, side by side with Debian's
//! prometheus-mysqld-exporter (0.14).
//!
//! One MariaDB is shared by the tests that only need a server ([`common::shared`]); replication,
//! probing a second server and kill/restart start their own.

mod mysqld {
    pub mod common;
    mod gentle;
    mod probe;
    mod replication;
    mod resilience;
    mod side_by_side;
    mod tls;
}
