//! `SHOW ALL SLAVES STATUS` (MariaDB) or `SHOW REPLICA STATUS` / `SHOW SLAVE STATUS` (MySQL):
//! every parsable column of every replication connection as untyped
//! `mysql_slave_status_<column>` with labels master_host, master_uuid, channel_name and
//! connection_name; MariaDB's GTID positions as `mysql_slave_status_gtid_io_pos` and
//! `_gtid_slave_pos` gauges per domain (upstream 0.18+).

use mysql_async::Row;
use octo_exporter_kit::MetricFamily;

use super::db::{Db, Flavor, ScrapeError};
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::{metric_name_part, parse_status, text};

pub struct SlaveStatus;

const GENERIC_HELP: &str = "Generic metric from SHOW SLAVE STATUS.";

/// Turns the rows of a replica status query into families.
pub fn families(columns: &[String], rows: &[Row], out: &mut Vec<MetricFamily>) {
    let column = |name: &str| columns.iter().position(|c| c == name);
    let value_of = |row: &Row, name: &str| {
        column(name)
            .and_then(|i| row.as_ref(i))
            .map(text)
            .unwrap_or_default()
    };
    let mut by_column: Vec<Option<MetricFamily>> = vec![None; columns.len()];
    let mut gtid_io = MetricFamily::gauge(
        "mysql_slave_status_gtid_io_pos",
        "Gtid_IO_Pos metric from SHOW SLAVE STATUS.",
    );
    let mut gtid_slave = MetricFamily::gauge(
        "mysql_slave_status_gtid_slave_pos",
        "Gtid_Slave_Pos metric from SHOW SLAVE STATUS.",
    );
    for row in rows {
        let mut master_uuid = value_of(row, "Master_UUID");
        if master_uuid.is_empty() {
            master_uuid = value_of(row, "Source_UUID");
        }
        let mut master_host = value_of(row, "Master_Host");
        if master_host.is_empty() {
            master_host = value_of(row, "Source_Host");
        }
        let labels = [
            ("master_host", master_host.as_str()),
            ("master_uuid", master_uuid.as_str()),
            ("channel_name", &value_of(row, "Channel_Name")),
            ("connection_name", &value_of(row, "Connection_name")),
        ];
        for (index, name) in columns.iter().enumerate() {
            let Some(raw) = row.as_ref(index).and_then(crate::parse::bytes) else {
                continue;
            };
            if let Some(value) = parse_status(&raw) {
                by_column[index]
                    .get_or_insert_with(|| {
                        MetricFamily::untyped(
                            format!("mysql_slave_status_{}", metric_name_part(name)),
                            GENERIC_HELP,
                        )
                    })
                    .push(&labels, value);
            }
        }
        for (family, column_name) in [
            (&mut gtid_io, "Gtid_IO_Pos"),
            (&mut gtid_slave, "Gtid_Slave_Pos"),
        ] {
            for gtid in value_of(row, column_name).split(',') {
                let parts: Vec<&str> = gtid.trim().split('-').collect();
                let [domain, server, sequence] = parts.as_slice() else {
                    continue;
                };
                let Ok(sequence) = sequence.parse::<u64>() else {
                    continue;
                };
                let mut with_ids = labels.to_vec();
                with_ids.push(("domain_id", domain));
                with_ids.push(("server_id", server));
                family.push(&with_ids, sequence as f64);
            }
        }
    }
    out.extend(by_column.into_iter().flatten());
    out.push(gtid_io);
    out.push(gtid_slave);
}

impl Scraper for SlaveStatus {
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            // MariaDB lists every named connection with SHOW ALL SLAVES STATUS; MySQL 8.0.22+
            // says REPLICA, older versions SLAVE. Only what the flavour understands is sent.
            let queries: &[&'static str] = match db.server.flavor {
                Flavor::MariaDb => &["SHOW ALL SLAVES STATUS"],
                Flavor::MySql => &["SHOW REPLICA STATUS", "SHOW SLAVE STATUS"],
            };
            let mut last_error = None;
            for query in queries {
                let mut columns = Vec::new();
                let mut rows = Vec::new();
                match db
                    .for_each_row(query, query, |names, row| {
                        if columns.is_empty() {
                            columns = names.to_vec();
                        }
                        rows.push(row);
                    })
                    .await
                {
                    Ok(()) => {
                        families(&columns, &rows, out);
                        return Ok(());
                    }
                    Err(err) if err.breaks_connection() => return Err(err),
                    Err(err) => last_error = Some(err),
                }
            }
            Err(last_error.unwrap_or_else(|| ScrapeError::Data("no replica status query".into())))
        })
    }
}
