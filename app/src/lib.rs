//! octo-app: the user-management web app (users in MySQL/MariaDB, server-rendered pages with
//! Bootstrap 5, a JSON API, Prometheus metrics), on axum, askama and mysql_async.

pub mod api;
pub mod assets;
pub mod config;
pub mod credential;
pub mod csrf;
pub mod db;
pub mod i18n;
pub mod metrics;
pub mod ops;
pub mod pages;
pub mod params;
pub mod request;
pub mod respond;
pub mod security;
pub mod server;
pub mod state;
pub mod validate;
pub mod writes;

pub use config::{Cli, Config};
pub use server::{Running, router, start};
