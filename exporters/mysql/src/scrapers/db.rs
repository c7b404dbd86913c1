//! A connection to the server with what is known about it, and how scrapers query it.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

/// Why a scraper failed: its success metric is 0 and the rest of the scrape goes on.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("{what}: {source}")]
    Query {
        what: &'static str,
        source: mysql_async::Error,
    },
    #[error("{0}")]
    Data(String),
}

impl ScrapeError {
    /// Whether the connection is unusable afterwards (so the next scraper needs another one).
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            ScrapeError::Query {
                source: mysql_async::Error::Io(_) | mysql_async::Error::Driver(_),
                ..
            }
        )
    }
}

/// The server flavour, which some queries depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MySql,
    MariaDb,
}

/// What is known about the server from `SELECT @@version`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerInfo {
    pub version_text: String,
    /// `major.minor` as a number, as upstream compares it (999 when unparsable).
    pub major_minor: f64,
    pub version: (u32, u32, u32),
    pub flavor: Flavor,
}

impl ServerInfo {
    pub fn from_version(text: &str) -> ServerInfo {
        let mut numbers = text
            .split(|c: char| !c.is_ascii_digit())
            .map(|part| part.parse::<u32>().ok());
        let major = numbers.next().flatten();
        let minor = numbers.next().flatten();
        let patch = numbers.next().flatten().unwrap_or(0);
        let major_minor = match (major, minor) {
            (Some(major), Some(minor)) => format!("{major}.{minor}").parse().unwrap_or(999.0),
            _ => 999.0,
        };
        ServerInfo {
            version_text: text.to_owned(),
            major_minor,
            version: (major.unwrap_or(0), minor.unwrap_or(0), patch),
            flavor: if text.to_ascii_lowercase().contains("mariadb") {
                Flavor::MariaDb
            } else {
                Flavor::MySql
            },
        }
    }
}

/// A connection with what is known about its server.
pub struct Db {
    pub conn: Conn,
    pub server: ServerInfo,
    /// Shared by the lanes of one collection.
    pub collection: Arc<CollectionFacts>,
}

/// What several scrapers of one collection ask the server, asked once.
#[derive(Default)]
pub struct CollectionFacts {
    /// Whether `userstat` is on (`userstat::userstat_enabled`).
    pub userstat: tokio::sync::OnceCell<Option<bool>>,
}

impl Db {
    /// Runs a text-protocol query and hands every row to `each`, returning the column names.
    pub async fn for_each_row(
        &mut self,
        what: &'static str,
        sql: &str,
        mut each: impl FnMut(&[String], Row) + Send,
    ) -> Result<(), ScrapeError> {
        let error = |source| ScrapeError::Query { what, source };
        let mut result = self.conn.query_iter(sql).await.map_err(error)?;
        let columns: Vec<String> = result
            .columns_ref()
            .iter()
            .map(|c| c.name_str().into_owned())
            .collect();
        result
            .for_each(|row| each(&columns, row))
            .await
            .map_err(error)?;
        // Further result sets (none expected) are drained so the connection stays usable.
        result.drop_result().await.map_err(error)
    }

    /// Runs a query and returns its first row; the others are read and dropped.
    pub async fn first_row(
        &mut self,
        what: &'static str,
        sql: &str,
    ) -> Result<Option<Row>, ScrapeError> {
        self.conn
            .query_first(sql)
            .await
            .map_err(|source| ScrapeError::Query { what, source })
    }

    /// Runs a query and returns all rows.
    pub async fn rows(&mut self, what: &'static str, sql: &str) -> Result<Vec<Row>, ScrapeError> {
        self.conn
            .query(sql)
            .await
            .map_err(|source| ScrapeError::Query { what, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_like_upstream() {
        let maria = ServerInfo::from_version("10.11.6-MariaDB-0+deb12u1-log");
        assert_eq!(maria.major_minor, 10.11);
        assert_eq!(maria.flavor, Flavor::MariaDb);
        assert_eq!(maria.version, (10, 11, 6));
        let mysql = ServerInfo::from_version("8.0.36-28.1");
        assert_eq!(mysql.major_minor, 8.0);
        assert_eq!(mysql.flavor, Flavor::MySql);
        assert_eq!(ServerInfo::from_version("garbage").major_minor, 999.0);
    }
}
