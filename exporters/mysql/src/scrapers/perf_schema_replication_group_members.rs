//! `performance_schema.replication_group_members` (MySQL group replication): one info series per
//! member, every column a label.

use octo_exporter_kit::MetricFamily;

use super::db::Db;
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::{metric_name_part, text};

pub struct ReplicationGroupMembers;

impl Scraper for ReplicationGroupMembers {
    fn min_version(&self) -> f64 {
        5.7
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut family = MetricFamily::gauge(
                "mysql_perf_schema_replication_group_member_info",
                "Information about the replication group member: channel_name, member_id, member_host, \
                 member_port, member_state. (member_role and member_version where available)",
            );
            db.for_each_row(
                "performance_schema.replication_group_members",
                "SELECT * FROM performance_schema.replication_group_members",
                |columns, row| {
                    let labels: Vec<(String, String)> = columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            (
                                metric_name_part(c),
                                row.as_ref(i).map(text).unwrap_or_default(),
                            )
                        })
                        .collect();
                    family.push_owned(labels, 1.0);
                },
            )
            .await?;
            out.push(family);
            Ok(())
        })
    }
}
