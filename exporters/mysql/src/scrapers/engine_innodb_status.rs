//! `SHOW ENGINE INNODB STATUS`: queries inside InnoDB and in its queue, and open read views.

use octo_exporter_kit::MetricFamily;

use super::db::Db;
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::text;

pub struct EngineInnodbStatus;

/// Reads the three figures from the status text.
pub fn families(status: &str, out: &mut Vec<MetricFamily>) {
    let leading_number = |text: &str| -> Option<f64> {
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    for line in status.lines() {
        if let Some(at) = line.find(" queries inside InnoDB, ") {
            let before = &line[..at];
            let inside = leading_number(
                &before[before
                    .rfind(|c: char| !c.is_ascii_digit())
                    .map_or(0, |i| i + 1)..],
            );
            let after = &line[at + " queries inside InnoDB, ".len()..];
            let queue = after
                .strip_suffix(" queries in queue")
                .or_else(|| after.split(" queries in queue").next())
                .and_then(leading_number);
            if let (Some(inside), Some(queue)) = (inside, queue) {
                out.push(
                    MetricFamily::gauge(
                        "mysql_engine_innodb_queries_inside_innodb",
                        "Queries inside InnoDB.",
                    )
                    .with(&[], inside),
                );
                out.push(
                    MetricFamily::gauge(
                        "mysql_engine_innodb_queries_in_queue",
                        "Queries in queue.",
                    )
                    .with(&[], queue),
                );
            }
        } else if let Some(at) = line.find(" read views open inside InnoDB") {
            let before = &line[..at];
            if let Some(views) = leading_number(
                &before[before
                    .rfind(|c: char| !c.is_ascii_digit())
                    .map_or(0, |i| i + 1)..],
            ) {
                out.push(
                    MetricFamily::gauge(
                        "mysql_engine_innodb_read_views_open_inside_innodb",
                        "Read views open inside InnoDB.",
                    )
                    .with(&[], views),
                );
            }
        }
    }
}

impl Scraper for EngineInnodbStatus {
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let row = db
                .first_row("SHOW ENGINE INNODB STATUS", "SHOW ENGINE INNODB STATUS")
                .await?;
            if let Some(status) = row.as_ref().and_then(|row| row.as_ref(2)) {
                families(&text(status), out);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_queries_and_views() {
        let mut out = Vec::new();
        super::families(
            "----------\nROW OPERATIONS\n--------------\n0 queries inside InnoDB, 2 queries in queue\n1 read views open inside InnoDB\n",
            &mut out,
        );
        let values: Vec<(String, f64)> = out
            .iter()
            .map(|f| (f.name.to_string(), f.samples[0].value))
            .collect();
        assert_eq!(
            values,
            vec![
                ("mysql_engine_innodb_queries_inside_innodb".into(), 0.0),
                ("mysql_engine_innodb_queries_in_queue".into(), 2.0),
                (
                    "mysql_engine_innodb_read_views_open_inside_innodb".into(),
                    1.0
                ),
            ]
        );
    }
}
