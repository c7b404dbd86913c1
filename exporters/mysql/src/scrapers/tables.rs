//! `information_schema.tables`: version, rows and sizes of every table in the chosen databases
//! (off by default upstream since 0.12: with many tables the series count explodes).

use octo_exporter_kit::{FlagSet, MetricFamily};

use super::db::Db;
use super::scraper::{Builder, ScrapeFuture, Scraper};
use super::sql::sql_string;
use crate::parse::{number, text};

pub struct Tables {
    /// `None` for every database except the system ones (`*`).
    databases: Option<Vec<String>>,
}

/// Declares `--collect.info_schema.tables.databases`; the builder reads it through its handle.
pub fn declare(set: &mut FlagSet) -> Builder {
    let databases = set.string(
        "collect.info_schema.tables.databases",
        "*",
        "The list of databases to collect table stats for, or '*' for all",
    );
    Box::new(move |flags| {
        let value = flags.get(databases);
        let databases = (value != "*").then(|| value.split(',').map(str::to_owned).collect());
        Ok(Box::new(Tables { databases }))
    })
}

impl Scraper for Tables {
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            // One query for all databases instead of upstream's one per database.
            let filter = match &self.databases {
                None => "TABLE_SCHEMA NOT IN ('mysql', 'performance_schema', 'information_schema', 'sys')".to_owned(),
                Some(list) => format!(
                    "TABLE_SCHEMA IN ({})",
                    list.iter().map(|d| sql_string(d)).collect::<Vec<_>>().join(", ")
                ),
            };
            let sql = format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ifnull(ENGINE, 'NONE') as ENGINE, \
                 ifnull(VERSION, '0') as VERSION, ifnull(ROW_FORMAT, 'NONE') as ROW_FORMAT, \
                 ifnull(TABLE_ROWS, '0') as TABLE_ROWS, ifnull(DATA_LENGTH, '0') as DATA_LENGTH, \
                 ifnull(INDEX_LENGTH, '0') as INDEX_LENGTH, ifnull(DATA_FREE, '0') as DATA_FREE, \
                 ifnull(CREATE_OPTIONS, 'NONE') as CREATE_OPTIONS \
                 FROM information_schema.tables WHERE {filter}"
            );
            let mut version = MetricFamily::gauge(
                "mysql_info_schema_table_version",
                "The version number of the table's .frm file",
            );
            let mut rows = MetricFamily::gauge(
                "mysql_info_schema_table_rows",
                "The estimated number of rows in the table from information_schema.tables",
            );
            let mut size = MetricFamily::gauge(
                "mysql_info_schema_table_size",
                "The size of the table components from information_schema.tables",
            );
            db.for_each_row("information_schema.tables", &sql, |_, row| {
                let field = |i| row.as_ref(i).map(text).unwrap_or_default();
                let value = |i| row.as_ref(i).and_then(number).unwrap_or(0.0);
                let (schema, table) = (field(0), field(1));
                version.push(
                    &[
                        ("schema", &schema),
                        ("table", &table),
                        ("type", &field(2)),
                        ("engine", &field(3)),
                        ("row_format", &field(5)),
                        ("create_options", &field(10)),
                    ],
                    value(4),
                );
                rows.push(&[("schema", &schema), ("table", &table)], value(6));
                for (component, index) in
                    [("data_length", 7), ("index_length", 8), ("data_free", 9)]
                {
                    size.push(
                        &[
                            ("schema", &schema),
                            ("table", &table),
                            ("component", component),
                        ],
                        value(index),
                    );
                }
            })
            .await?;
            out.extend([version, rows, size]);
            Ok(())
        })
    }
}
