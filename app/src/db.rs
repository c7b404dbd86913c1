//! The `usuarios` table: connection pool, migrations, and the queries the pages and the API make.
//!
//! Every call is bounded by the configured timeout (mysql_async has no connect timeout of its
//! own), and every failure is one of three kinds a handler can answer: a duplicate e-mail
//! (409), a database that is unavailable (503), or a bug (500).

use std::time::Duration;

use mysql_async::prelude::{FromValue, Queryable};
use mysql_async::{OptsBuilder, Pool, PoolConstraints, PoolOpts, Row, Value};

use crate::config::{Config, DbTarget, parse_database_url};
use crate::validate::NewUser;

/// MySQL's ER_DUP_ENTRY.
const ER_DUP_ENTRY: u16 = 1062;
/// Server errors that mean our request was wrong (data too long, bad string, bad value):
/// validation should have prevented them, so they are bugs (500), not outages (503).
const REQUEST_ERRORS: &[u16] = &[1366, 1406, 1292, 1265, 1048];

/// What went wrong with a database call.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("a user with this e-mail already exists")]
    DuplicateEmail,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("unexpected database error: {0}")]
    Bug(String),
}

impl DbError {
    fn from_mysql(err: mysql_async::Error) -> DbError {
        match &err {
            mysql_async::Error::Server(server) if server.code == ER_DUP_ENTRY => {
                DbError::DuplicateEmail
            }
            mysql_async::Error::Server(server) if REQUEST_ERRORS.contains(&server.code) => {
                DbError::Bug(err.to_string())
            }
            mysql_async::Error::Url(_) => DbError::Bug(err.to_string()),
            _ => DbError::Unavailable(err.to_string()),
        }
    }
}

impl From<mysql_async::Error> for DbError {
    fn from(err: mysql_async::Error) -> Self {
        DbError::from_mysql(err)
    }
}

/// A `TIMESTAMP` as the database returns it (the session runs in UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl Timestamp {
    pub fn now() -> Timestamp {
        let now = time::OffsetDateTime::now_utc();
        Timestamp {
            year: u16::try_from(now.year()).unwrap_or(0),
            month: u8::from(now.month()),
            day: now.day(),
            hour: now.hour(),
            minute: now.minute(),
            second: now.second(),
        }
    }

    /// RFC 3339, UTC: `2024-05-01T10:00:00Z`.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    fn from_value(value: Value) -> Option<Timestamp> {
        match value {
            Value::Date(year, month, day, hour, minute, second, _) if year > 0 => Some(Timestamp {
                year,
                month,
                day,
                hour,
                minute,
                second,
            }),
            _ => None,
        }
    }

    fn to_value(self) -> Value {
        Value::Date(
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            0,
        )
    }
}

/// For people: `2024-05-01 10:00 UTC` (written straight into the page, no allocation).
impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }
}

/// One row of `usuarios`. `email` may be NULL in a table upgraded from the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usuario {
    pub id: u64,
    pub nombre: String,
    pub email: Option<String>,
    pub created_at: Option<Timestamp>,
}

/// Reads `id, nombre, email, created_at` from the first four columns of a row. Conversion
/// problems (a seed table with unexpected data) are errors, never panics.
fn usuario_from_row(row: &mut Row) -> Result<Usuario, DbError> {
    Ok(Usuario {
        id: column(row, 0)?,
        nombre: column(row, 1)?,
        email: column(row, 2)?,
        created_at: Timestamp::from_value(column::<Value>(row, 3)?),
    })
}

fn column<T: FromValue>(row: &mut Row, index: usize) -> Result<T, DbError> {
    match row.take_opt::<T, usize>(index) {
        Some(Ok(value)) => Ok(value),
        Some(Err(err)) => Err(DbError::Bug(format!(
            "unexpected value in column {index} of usuarios: {err}"
        ))),
        None => Err(DbError::Bug(format!(
            "column {index} missing from a usuarios row"
        ))),
    }
}

/// One page of a listing and the number of rows that match in all.
#[derive(Debug, Clone)]
pub struct Listing {
    pub items: Vec<Usuario>,
    pub total: u64,
}

/// The pool and its limits. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    timeout: Duration,
    max_connections: usize,
}

impl Db {
    /// Builds the pool (lazily: nothing connects until the first call).
    pub fn new(config: &Config) -> Result<Db, String> {
        let base = match &config.db {
            DbTarget::Url(url) => OptsBuilder::from_opts(parse_database_url(url)?),
            DbTarget::Parts {
                host,
                port,
                user,
                password,
                database,
            } => OptsBuilder::default()
                .ip_or_hostname(host.clone())
                .tcp_port(*port)
                .user(Some(user.clone()))
                .pass(password.clone())
                .db_name(Some(database.clone())),
        };
        let constraints = PoolConstraints::new(config.pool_size.min(2), config.pool_size)
            .ok_or_else(|| format!("invalid pool size {}", config.pool_size))?;
        let pool_opts = PoolOpts::default()
            .with_constraints(constraints)
            // No session state is kept, so skipping COM_RESET_CONNECTION keeps the prepared
            // statements cached across checkouts (a reset would re-prepare on every request).
            .with_reset_connection(false)
            .with_inactive_connection_ttl(Duration::from_secs(60))
            .with_ttl_check_interval(Duration::from_secs(30));
        let opts = base
            .pool_opts(pool_opts)
            .tcp_nodelay(true)
            .stmt_cache_size(32)
            // TIMESTAMPs travel in UTC; utf8mb4 whatever the server's default character set.
            .setup(vec![
                "SET time_zone = '+00:00', NAMES utf8mb4 COLLATE utf8mb4_unicode_ci".to_owned(),
            ]);
        Ok(Db {
            pool: Pool::new(opts),
            timeout: config.db_timeout,
            max_connections: config.pool_size,
        })
    }

    pub fn pool_metrics(&self) -> std::sync::Arc<mysql_async::Metrics> {
        self.pool.metrics()
    }

    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The bound on each database call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn bounded<T, F>(&self, budget: Duration, work: F) -> Result<T, DbError>
    where
        F: Future<Output = Result<T, DbError>>,
    {
        tokio::time::timeout(budget, work)
            .await
            .map_err(|_| DbError::Timeout(budget))?
    }

    /// `SELECT 1`, with a short bound: for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        let budget = self.timeout.min(Duration::from_secs(2));
        self.bounded(budget, async {
            let mut conn = self.pool.get_conn().await?;
            conn.query_drop("SELECT 1").await?;
            Ok(())
        })
        .await
    }

    /// Newest first; `search` matches a substring of the name or the e-mail.
    pub async fn list(
        &self,
        search: Option<&str>,
        limit: u32,
        offset: u64,
    ) -> Result<Listing, DbError> {
        self.bounded(self.timeout, async {
            let mut conn = self.pool.get_conn().await?;
            // The count rides along as an uncorrelated subquery (evaluated once): one round
            // trip for a page instead of two.
            let (sql, count_sql, params): (&str, &str, Vec<Value>) = match search {
                Some(text) => {
                    let pattern = format!("%{}%", escape_like(text));
                    (
                        "SELECT id, nombre, email, created_at, (SELECT COUNT(*) FROM usuarios \
                         WHERE nombre LIKE ? OR email LIKE ?) FROM usuarios \
                         WHERE nombre LIKE ? OR email LIKE ? ORDER BY id DESC LIMIT ? OFFSET ?",
                        "SELECT COUNT(*) FROM usuarios WHERE nombre LIKE ? OR email LIKE ?",
                        vec![pattern.clone().into(), pattern.into()],
                    )
                }
                None => (
                    "SELECT id, nombre, email, created_at, (SELECT COUNT(*) FROM usuarios) \
                     FROM usuarios ORDER BY id DESC LIMIT ? OFFSET ?",
                    "SELECT COUNT(*) FROM usuarios",
                    Vec::new(),
                ),
            };
            let mut all_params = params.clone();
            all_params.extend(params.iter().cloned());
            all_params.push(limit.into());
            all_params.push(offset.into());
            let rows: Vec<Row> = conn.exec(sql, all_params).await?;
            let mut total = None;
            let mut items = Vec::with_capacity(rows.len());
            for mut row in rows {
                if total.is_none() {
                    total = Some(column::<u64>(&mut row, 4)?);
                }
                items.push(usuario_from_row(&mut row)?);
            }
            let total = match total {
                Some(total) => total,
                // Past the last page there is no row to carry the count.
                None => conn
                    .exec_first::<u64, _, _>(count_sql, params)
                    .await?
                    .unwrap_or(0),
            };
            Ok(Listing { items, total })
        })
        .await
    }

    pub async fn get(&self, id: u64) -> Result<Option<Usuario>, DbError> {
        self.bounded(self.timeout, async {
            let mut conn = self.pool.get_conn().await?;
            let row: Option<Row> = conn
                .exec_first(
                    "SELECT id, nombre, email, created_at FROM usuarios WHERE id = ?",
                    (id,),
                )
                .await?;
            row.map(|mut row| usuario_from_row(&mut row)).transpose()
        })
        .await
    }

    /// Inserts a validated user. The unique index on `email` (case-insensitive collation)
    /// decides between concurrent inserts of one address: the loser gets `DuplicateEmail`.
    pub async fn insert(&self, user: &NewUser) -> Result<Usuario, DbError> {
        let created_at = Timestamp::now();
        self.bounded(self.timeout, async {
            let mut conn = self.pool.get_conn().await?;
            conn.exec_drop(
                "INSERT INTO usuarios (nombre, email, created_at) VALUES (?, ?, ?)",
                (&user.nombre, &user.email, created_at.to_value()),
            )
            .await?;
            let id = conn
                .last_insert_id()
                .ok_or_else(|| DbError::Bug("INSERT returned no id".into()))?;
            Ok(Usuario {
                id,
                nombre: user.nombre.clone(),
                email: Some(user.email.clone()),
                created_at: Some(created_at),
            })
        })
        .await
    }

    /// Whether a row was deleted.
    pub async fn delete(&self, id: u64) -> Result<bool, DbError> {
        self.bounded(self.timeout, async {
            let mut conn = self.pool.get_conn().await?;
            conn.exec_drop("DELETE FROM usuarios WHERE id = ?", (id,))
                .await?;
            Ok(conn.affected_rows() > 0)
        })
        .await
    }

    /// Creates or upgrades the schema. Safe to run from several instances at once: a named lock
    /// serialises them, and every step checks the live schema before changing it, so a second
    /// run (or a second instance) finds nothing to do.
    pub async fn migrate(&self) -> Result<(), DbError> {
        self.bounded(self.timeout * 4 + Duration::from_secs(60), async {
            let mut conn = self.pool.get_conn().await?;
            let locked: Option<Option<i64>> = conn
                .query_first("SELECT GET_LOCK('octo_app.migrations', 60)")
                .await?;
            if locked.flatten() != Some(1) {
                return Err(DbError::Unavailable(
                    "another instance has held the migration lock for 60 s".into(),
                ));
            }
            let result = migrate_locked(&mut conn).await;
            // The lock also goes away with the connection if this fails.
            let _ = conn
                .query_drop("DO RELEASE_LOCK('octo_app.migrations')")
                .await;
            result
        })
        .await
    }

    /// Closes every connection; waits for connections still checked out to come back.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.pool.disconnect()).await;
    }
}

async fn migrate_locked(conn: &mut mysql_async::Conn) -> Result<(), DbError> {
    // The seed's table, in utf8mb4 with a case-insensitive collation and the unique index.
    conn.query_drop(
        "CREATE TABLE IF NOT EXISTS usuarios (
            id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            nombre VARCHAR(100) NOT NULL,
            email VARCHAR(150) NULL,
            created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
            UNIQUE KEY usuarios_email_unique (email)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    )
    .await?;

    // The unique index that makes the database the judge of duplicates. If it is missing (a
    // seed table), first make sure the data allows it, comparing as the index will (utf8mb4,
    // ignoring case), and refuse before changing anything if it does not.
    let unique_on_email: Option<u64> = conn
        .query_first(
            "SELECT COUNT(*) FROM information_schema.STATISTICS s WHERE s.TABLE_SCHEMA = DATABASE() \
             AND s.TABLE_NAME = 'usuarios' AND s.NON_UNIQUE = 0 AND s.COLUMN_NAME = 'email' \
             AND s.SEQ_IN_INDEX = 1 AND NOT EXISTS (SELECT 1 FROM information_schema.STATISTICS t \
             WHERE t.TABLE_SCHEMA = s.TABLE_SCHEMA AND t.TABLE_NAME = s.TABLE_NAME \
             AND t.INDEX_NAME = s.INDEX_NAME AND t.SEQ_IN_INDEX > 1)",
        )
        .await?;
    let needs_unique_index = unique_on_email == Some(0);
    if needs_unique_index {
        let duplicates: Vec<(String, u64)> = conn
            .query(
                "SELECT MIN(address), COUNT(*) FROM (SELECT CONVERT(email USING utf8mb4) \
                 COLLATE utf8mb4_unicode_ci AS address FROM usuarios WHERE email IS NOT NULL) a \
                 GROUP BY address HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC LIMIT 5",
            )
            .await?;
        if !duplicates.is_empty() {
            let examples: Vec<String> = duplicates
                .iter()
                .map(|(email, count)| format!("{email} ({count} rows)"))
                .collect();
            return Err(DbError::Bug(format!(
                "cannot make usuarios.email unique: some addresses appear more than once \
                 (ignoring case), e.g. {}; nothing was changed: merge or delete the duplicates \
                 and the app finishes the upgrade by itself",
                examples.join(", ")
            )));
        }
    }

    // A table from the seed may lack created_at.
    let has_created_at: Option<u64> = conn
        .query_first(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'usuarios' AND COLUMN_NAME = 'created_at'",
        )
        .await?;
    if has_created_at == Some(0) {
        tracing::info!("migration: adding usuarios.created_at");
        conn.query_drop(
            "ALTER TABLE usuarios ADD COLUMN created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP",
        )
        .await?;
    }

    // ... or be in latin1, or compare e-mails with a case-sensitive collation.
    let collations: Vec<(String, Option<String>)> = conn
        .query(
            "SELECT COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'usuarios' \
             AND COLUMN_NAME IN ('nombre', 'email')",
        )
        .await?;
    let needs_conversion = collations.iter().any(|(_, collation)| {
        !collation
            .as_deref()
            .is_some_and(|c| c.starts_with("utf8mb4_") && c.ends_with("_ci"))
    });
    if needs_conversion {
        tracing::info!(
            ?collations,
            "migration: converting usuarios to utf8mb4_unicode_ci"
        );
        conn.query_drop(
            "ALTER TABLE usuarios CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        )
        .await?;
    }

    if needs_unique_index {
        tracing::info!("migration: adding the unique index on usuarios.email");
        conn.query_drop("ALTER TABLE usuarios ADD UNIQUE KEY usuarios_email_unique (email)")
            .await?;
    }
    Ok(())
}

/// `%`, `_` and `\` in a search are literal characters, not wildcards.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_escaping() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(escape_like("maría"), "maría");
    }

    #[test]
    fn timestamps() {
        let stamp = Timestamp::from_value(Value::Date(2024, 5, 1, 9, 3, 7, 0)).unwrap();
        assert_eq!(stamp.rfc3339(), "2024-05-01T09:03:07Z");
        assert_eq!(stamp.to_string(), "2024-05-01 09:03 UTC");
        assert_eq!(
            Timestamp::from_value(Value::Date(0, 0, 0, 0, 0, 0, 0)),
            None
        );
        assert_eq!(Timestamp::from_value(Value::NULL), None);
        assert!(Timestamp::now().year >= 2024);
    }
}
