//! `information_schema.QUERY_RESPONSE_TIME` (Percona's and MariaDB's plugin) as histograms,
//! when `query_response_time_stats` is ON; nothing otherwise.

use octo_exporter_kit::MetricFamily;

use super::db::Db;
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::number;

pub struct QueryResponseTime;

/// (query, family, help).
const TABLES: [(&str, &str, &str); 3] = [
    (
        "SELECT TIME, COUNT, TOTAL FROM INFORMATION_SCHEMA.QUERY_RESPONSE_TIME",
        "mysql_info_schema_query_response_time_seconds",
        "The number of all queries by duration they took to execute.",
    ),
    (
        "SELECT TIME, COUNT, TOTAL FROM INFORMATION_SCHEMA.QUERY_RESPONSE_TIME_READ",
        "mysql_info_schema_read_query_response_time_seconds",
        "The number of read queries by duration they took to execute.",
    ),
    (
        "SELECT TIME, COUNT, TOTAL FROM INFORMATION_SCHEMA.QUERY_RESPONSE_TIME_WRITE",
        "mysql_info_schema_write_query_response_time_seconds",
        "The number of write queries by duration they took to execute.",
    ),
];

impl Scraper for QueryResponseTime {
    fn min_version(&self) -> f64 {
        5.5
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            // Without the plugin the variable does not exist: not an error, as upstream.
            let enabled = match db
                .first_row(
                    "query_response_time_stats",
                    "SELECT @@query_response_time_stats",
                )
                .await
            {
                Ok(row) => row
                    .as_ref()
                    .and_then(|row| row.as_ref(0))
                    .and_then(number)
                    .unwrap_or(0.0),
                Err(err) if err.breaks_connection() => return Err(err),
                Err(_) => {
                    tracing::debug!("query response time distribution is not available");
                    return Ok(());
                }
            };
            if enabled == 0.0 {
                return Ok(());
            }
            for (index, (sql, name, help)) in TABLES.iter().enumerate() {
                let mut buckets: Vec<(f64, f64)> = Vec::new();
                let (mut count, mut sum) = (0.0, 0.0);
                let result = db
                    .for_each_row("information_schema.query_response_time", sql, |_, row| {
                        let value = |i| row.as_ref(i).and_then(number).unwrap_or(0.0);
                        let upper = value(0);
                        count += value(1);
                        sum += value(2);
                        // The last row (`TOO LONG`) only counts towards the total.
                        if upper != 0.0 {
                            buckets.push((upper, count));
                        }
                    })
                    .await;
                match result {
                    Ok(()) => {
                        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                        buckets.dedup_by(|later, earlier| {
                            if later.0 == earlier.0 {
                                earlier.1 = later.1;
                                true
                            } else {
                                false
                            }
                        });
                        let mut family = MetricFamily::histogram(*name, *help);
                        family.push_histogram(&[], &buckets, sum, count);
                        out.push(family);
                    }
                    // The read/write tables are optional (Percona only).
                    Err(err) if index == 0 || err.breaks_connection() => return Err(err),
                    Err(_) => {}
                }
            }
            Ok(())
        })
    }
}
