//! Whether the server keeps user statistics (`userstat=1`), which the statistics scrapers need.

use super::db::{Db, ScrapeError};
use crate::parse::text;

/// Whether `userstat` (or Percona's `userstat_running`) is on; `None` when neither exists.
/// The server is asked once per collection, whichever scraper asks first.
pub async fn userstat_enabled(db: &mut Db) -> Result<Option<bool>, ScrapeError> {
    let collection = db.collection.clone();
    collection
        .userstat
        .get_or_try_init(|| ask_userstat(db))
        .await
        .copied()
}

async fn ask_userstat(db: &mut Db) -> Result<Option<bool>, ScrapeError> {
    match db
        .first_row(
            "userstat",
            "SHOW GLOBAL VARIABLES WHERE Variable_Name='userstat' OR Variable_Name='userstat_running'",
        )
        .await
    {
        Ok(row) => Ok(row
            .as_ref()
            .and_then(|r| r.as_ref(1))
            .map(|v| text(v) != "OFF")),
        Err(err) if err.breaks_connection() => Err(err),
        Err(_) => Ok(None),
    }
}
