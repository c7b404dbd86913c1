//! `mysql.user`: resource limits per account, and with `--collect.mysql.user.privileges` every
//! `*_priv` column as a 0/1 gauge.

use std::sync::LazyLock;

use octo_exporter_kit::{FlagSet, MetricFamily};

use super::db::Db;
use super::scraper::{Builder, ScrapeFuture, Scraper};
use crate::parse::{metric_name_part, number, text};

pub struct MysqlUser {
    privileges: bool,
}

/// Declares `--collect.mysql.user.privileges`; the builder reads it through its handle.
pub fn declare(set: &mut FlagSet) -> Builder {
    let privileges = set.bool(
        "collect.mysql.user.privileges",
        false,
        "Enable collecting user privileges from mysql.user",
    );
    Box::new(move |flags| {
        Ok(Box::new(MysqlUser {
            privileges: flags.get(privileges),
        }))
    })
}

const PRIVILEGES: [&str; 29] = [
    "Select_priv",
    "Insert_priv",
    "Update_priv",
    "Delete_priv",
    "Create_priv",
    "Drop_priv",
    "Reload_priv",
    "Shutdown_priv",
    "Process_priv",
    "File_priv",
    "Grant_priv",
    "References_priv",
    "Index_priv",
    "Alter_priv",
    "Show_db_priv",
    "Super_priv",
    "Create_tmp_table_priv",
    "Lock_tables_priv",
    "Execute_priv",
    "Repl_slave_priv",
    "Repl_client_priv",
    "Create_view_priv",
    "Show_view_priv",
    "Create_routine_priv",
    "Alter_routine_priv",
    "Create_user_priv",
    "Event_priv",
    "Trigger_priv",
    "Create_tablespace_priv",
];

const LIMITS: [&str; 4] = [
    "max_questions",
    "max_updates",
    "max_connections",
    "max_user_connections",
];

static SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT user, host, {}, {} FROM mysql.user",
        PRIVILEGES.join(", "),
        LIMITS.join(", ")
    )
});

impl Scraper for MysqlUser {
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut limits: Vec<MetricFamily> = LIMITS
                .iter()
                .map(|name| {
                    MetricFamily::gauge(
                        format!("mysql_mysql_{name}"),
                        format!("The number of {name} by user."),
                    )
                })
                .collect();
            let mut privileges: Vec<MetricFamily> = PRIVILEGES
                .iter()
                .map(|column| {
                    MetricFamily::gauge(
                        format!("mysql_mysql_{}", metric_name_part(column)),
                        format!("{column} by user."),
                    )
                })
                .collect();
            db.for_each_row("mysql.user", &SQL, |_, row| {
                let user = row.as_ref(0).map(text).unwrap_or_default();
                let host = row.as_ref(1).map(text).unwrap_or_default();
                let labels = [("mysql_user", user.as_str()), ("hostmask", host.as_str())];
                if self.privileges {
                    for (i, family) in privileges.iter_mut().enumerate() {
                        match row.as_ref(2 + i).map(text).as_deref() {
                            Some("Y") => family.push(&labels, 1.0),
                            Some("N") => family.push(&labels, 0.0),
                            _ => {}
                        }
                    }
                }
                for (i, family) in limits.iter_mut().enumerate() {
                    let value = row
                        .as_ref(2 + PRIVILEGES.len() + i)
                        .and_then(number)
                        .unwrap_or(0.0);
                    family.push(&labels, value);
                }
            })
            .await?;
            out.extend(privileges);
            out.extend(limits);
            Ok(())
        })
    }
}
