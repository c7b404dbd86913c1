//! Where the credentials come from, in both of upstream's models:
//!
//! - 0.14 (what Debian ships): `DATA_SOURCE_NAME` in Go's DSN form ([`dsn`]), else the `[client]`
//!   section of `--config.my-cnf`;
//! - 0.15+: `--config.my-cnf` with `[client]` and `[client.<auth_module>]` sections ([`mycnf`]),
//!   `--mysqld.address`, `--mysqld.username` and `MYSQLD_EXPORTER_PASSWORD` filling what `[client]`
//!   leaves empty, `${VAR}` expanded in values.
//!
//! Both end in [`Credentials`](client::Credentials): named [`ClientConfig`](client::ClientConfig)s, `client` being the one `/metrics` uses.
//! Passwords are [`Secret`](client::Secret)s, which never print.
//!
//! The pieces: [`client`] and [`error`] on the ground floor with [`public_key`] (the
//! `server-public-key-path` file), [`tls_options`] (my.cnf's `ssl-*`/`tls-*` keys) and
//! [`targets`] (`--probe.allowed-targets`); [`sources`] (flags and environment), the two readers
//! [`dsn`] and [`mycnf`], and [`load`] above them all.

pub mod client;
pub mod dsn;
pub mod error;
pub mod load;
pub mod mycnf;
pub mod public_key;
pub mod sources;
pub mod tls_options;
