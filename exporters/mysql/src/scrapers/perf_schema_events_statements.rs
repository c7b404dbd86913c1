//! `performance_schema.events_statements_summary_by_digest`: the top statements by total time,
//! with counts, time, errors, rows and temporary tables per digest.

use octo_exporter_kit::{Flag, FlagSet, MetricFamily};

use super::db::{Db, Flavor};
use super::family::PICOSECONDS;
use super::scraper::{Builder, ScrapeFuture, Scraper};
use super::sql::sql_string;
use crate::parse::{number, text};

pub struct EventsStatements {
    limit: i64,
    time_limit: i64,
    digest_text_limit: i64,
    excluded_schemas: Vec<String>,
}

/// Declares the digest limits and excluded schemas; the builder reads them through their handles
/// and refuses negative limits.
pub fn declare(set: &mut FlagSet) -> Builder {
    let limit = set.number(
        "collect.perf_schema.eventsstatements.limit",
        250i64,
        "Limit the number of events statements digests by response time",
    );
    let time_limit = set.number(
        "collect.perf_schema.eventsstatements.timelimit",
        86400i64,
        "Limit how old the 'last_seen' events statements can be, in seconds",
    );
    let digest_text_limit = set.number(
        "collect.perf_schema.eventsstatements.digest_text_limit",
        120i64,
        "Maximum length of the normalized statement text",
    );
    let exclude_schemas = set.repeatable(
        "collect.perf_schema.eventsstatements.exclude_schemas",
        &[],
        "Additional schema name to exclude (always excludes mysql, performance_schema, information_schema). Repeatable",
    );
    Box::new(move |flags| {
        let not_negative = |flag: Flag<i64>| -> Result<i64, String> {
            let value = flags.get(flag);
            if value < 0 {
                return Err(format!("--{} must not be negative", flags.name(flag)));
            }
            Ok(value)
        };
        let mut excluded_schemas: Vec<String> =
            ["mysql", "performance_schema", "information_schema"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
        for schema in flags.get(exclude_schemas) {
            if !excluded_schemas.iter().any(|s| s == schema) {
                excluded_schemas.push(schema.to_owned());
            }
        }
        Ok(Box::new(EventsStatements {
            limit: not_negative(limit)?,
            time_limit: not_negative(time_limit)?,
            digest_text_limit: not_negative(digest_text_limit)?,
            excluded_schemas,
        }))
    })
}

/// (column, metric, help, divide by picoseconds).
const COLUMNS: [(&str, &str, &str, bool); 14] = [
    (
        "COUNT_STAR",
        "events_statements_total",
        "The total count of events statements by digest.",
        false,
    ),
    (
        "SUM_TIMER_WAIT",
        "events_statements_seconds_total",
        "The total time of events statements by digest.",
        true,
    ),
    (
        "SUM_LOCK_TIME",
        "events_statements_lock_time_seconds_total",
        "The total lock time of events statements by digest.",
        true,
    ),
    (
        "SUM_CPU_TIME",
        "events_statements_cpu_time_seconds_total",
        "The total cpu time of events statements by digest.",
        true,
    ),
    (
        "SUM_ERRORS",
        "events_statements_errors_total",
        "The errors of events statements by digest.",
        false,
    ),
    (
        "SUM_WARNINGS",
        "events_statements_warnings_total",
        "The warnings of events statements by digest.",
        false,
    ),
    (
        "SUM_ROWS_AFFECTED",
        "events_statements_rows_affected_total",
        "The total rows affected of events statements by digest.",
        false,
    ),
    (
        "SUM_ROWS_SENT",
        "events_statements_rows_sent_total",
        "The total rows sent of events statements by digest.",
        false,
    ),
    (
        "SUM_ROWS_EXAMINED",
        "events_statements_rows_examined_total",
        "The total rows examined of events statements by digest.",
        false,
    ),
    (
        "SUM_CREATED_TMP_DISK_TABLES",
        "events_statements_tmp_disk_tables_total",
        "The total tmp disk tables of events statements by digest.",
        false,
    ),
    (
        "SUM_CREATED_TMP_TABLES",
        "events_statements_tmp_tables_total",
        "The total tmp tables of events statements by digest.",
        false,
    ),
    (
        "SUM_SORT_MERGE_PASSES",
        "events_statements_sort_merge_passes_total",
        "The total number of merge passes by the sort algorithm performed by digest.",
        false,
    ),
    (
        "SUM_SORT_ROWS",
        "events_statements_sort_rows_total",
        "The total number of sorted rows by digest.",
        false,
    ),
    (
        "SUM_NO_INDEX_USED",
        "events_statements_no_index_used_total",
        "The total number of statements that used full table scans by digest.",
        false,
    ),
];

impl Scraper for EventsStatements {
    fn min_version(&self) -> f64 {
        5.6
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            // SUM_CPU_TIME exists from MySQL 8.0.28; elsewhere lock and CPU time are left out
            // rather than exported as zeros.
            let (major, minor, patch) = db.server.version;
            let has_cpu_time =
                db.server.flavor == Flavor::MySql && (major, minor, patch) >= (8, 0, 28);
            let columns: Vec<&(&str, &str, &str, bool)> = COLUMNS
                .iter()
                .filter(|(c, ..)| has_cpu_time || (*c != "SUM_LOCK_TIME" && *c != "SUM_CPU_TIME"))
                .collect();
            let list: Vec<&str> = columns.iter().map(|(c, ..)| *c).collect();
            let excluded: Vec<String> = self
                .excluded_schemas
                .iter()
                .map(|s| sql_string(s))
                .collect();
            let sql = format!(
                "SELECT ifnull(SCHEMA_NAME, 'NONE') as SCHEMA_NAME, DIGEST, LEFT(DIGEST_TEXT, {text_limit}) as DIGEST_TEXT, {list} \
                 FROM performance_schema.events_statements_summary_by_digest \
                 WHERE SCHEMA_NAME NOT IN ({excluded}) AND LAST_SEEN > DATE_SUB(NOW(), INTERVAL {time_limit} SECOND) \
                 ORDER BY SUM_TIMER_WAIT DESC LIMIT {limit}",
                text_limit = self.digest_text_limit,
                list = list.join(", "),
                excluded = excluded.join(", "),
                time_limit = self.time_limit,
                limit = self.limit,
            );
            let mut families: Vec<MetricFamily> = columns
                .iter()
                .map(|(_, name, help, _)| {
                    MetricFamily::counter(format!("mysql_perf_schema_{name}"), *help)
                })
                .collect();
            db.for_each_row(
                "performance_schema.events_statements_summary_by_digest",
                &sql,
                |_, row| {
                    let field = |i| row.as_ref(i).map(text).unwrap_or_default();
                    let (schema, digest, digest_text) = (field(0), field(1), field(2));
                    let labels = [
                        ("schema", schema.as_str()),
                        ("digest", digest.as_str()),
                        ("digest_text", digest_text.as_str()),
                    ];
                    for (i, (family, (.., picoseconds))) in
                        families.iter_mut().zip(&columns).enumerate()
                    {
                        let value = row.as_ref(3 + i).and_then(number).unwrap_or(0.0);
                        family.push(
                            &labels,
                            if *picoseconds {
                                value / PICOSECONDS
                            } else {
                                value
                            },
                        );
                    }
                },
            )
            .await?;
            out.extend(families);
            Ok(())
        })
    }
}
