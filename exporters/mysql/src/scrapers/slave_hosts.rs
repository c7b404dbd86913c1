//! `SHOW SLAVE HOSTS` (or `SHOW REPLICAS`) on a source: one info series per connected replica,
//! under upstream's name `mysql_heartbeat_mysql_slave_hosts_info`.

use octo_exporter_kit::MetricFamily;

use super::db::{Db, ScrapeError};
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::text;

pub struct SlaveHosts;

/// Whether `text` is a UUID (8-4-4-4-12 hexadecimal digits).
fn is_uuid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, len)| p.len() == len && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Scraper for SlaveHosts {
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = match db.rows("SHOW SLAVE HOSTS", "SHOW SLAVE HOSTS").await {
                Ok(rows) => rows,
                // MySQL 8.4 only knows SHOW REPLICAS: fall back on a syntax error (1064) only,
                // so that a missing privilege is reported as such.
                Err(ScrapeError::Query {
                    source: mysql_async::Error::Server(error),
                    ..
                }) if error.code == 1064 => db.rows("SHOW REPLICAS", "SHOW REPLICAS").await?,
                Err(err) => return Err(err),
            };
            let mut family = MetricFamily::gauge(
                "mysql_heartbeat_mysql_slave_hosts_info",
                "Information about running slaves",
            );
            for row in &rows {
                let field = |i| row.as_ref(i).map(text).unwrap_or_default();
                let (master_id, slave_uuid) = if row.len() >= 5 {
                    let (fourth, fifth) = (field(3), field(4));
                    if is_uuid(&fifth) {
                        (fourth, fifth)
                    } else {
                        (fifth, String::new())
                    }
                } else {
                    (field(3), String::new())
                };
                family.push(
                    &[
                        ("server_id", &field(0)),
                        ("slave_host", &field(1)),
                        ("port", &field(2)),
                        ("master_id", &master_id),
                        ("slave_uuid", &slave_uuid),
                    ],
                    1.0,
                );
            }
            out.push(family);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_are_recognised() {
        assert!(super::is_uuid("3e11fa47-71ca-11e1-9e33-c80aa9429562"));
        assert!(!super::is_uuid("1"));
        assert!(!super::is_uuid("3e11fa47-71ca-11e1-9e33-c80aa942956z"));
    }
}
