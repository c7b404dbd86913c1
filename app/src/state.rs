//! What every handler shares.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::assets::{LINKS, Links};
use crate::credential::AdminCredential;
use crate::csrf::CsrfKey;
use crate::db::{Db, DbError};
use crate::metrics::Metrics;

/// What the layout of every page shows.
#[derive(Debug)]
pub struct Layout {
    pub app_name: String,
    pub version: &'static str,
    pub links: &'static Links,
}

#[derive(Debug)]
pub struct Inner {
    pub db: Db,
    pub metrics: Arc<Metrics>,
    pub layout: Layout,
    /// Signs and checks the forms' CSRF tokens.
    pub csrf: CsrfKey,
    /// What adding and deleting users need; `None` leaves writes open.
    pub admin: Option<AdminCredential>,
    /// Set once the database answered and the schema is in place.
    pub ready: AtomicBool,
    /// Set on SIGTERM: `/readyz` answers 503 from then on.
    pub draining: AtomicBool,
    last_db_error_log: AtomicU64,
}

/// What protects the requests that change data.
#[derive(Debug, Clone)]
pub struct WriteSecurity {
    pub csrf: CsrfKey,
    pub admin: Option<AdminCredential>,
}

/// Cheap to clone: one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(db: Db, metrics: Arc<Metrics>, app_name: String, writes: WriteSecurity) -> AppState {
        AppState(Arc::new(Inner {
            db,
            metrics,
            csrf: writes.csrf,
            admin: writes.admin,
            layout: Layout {
                app_name,
                version: env!("CARGO_PKG_VERSION"),
                links: &LINKS,
            },
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            last_db_error_log: AtomicU64::new(0),
        }))
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Logs a database failure seen by a request, at most once a second: during an outage every
    /// request fails the same way and the log should not drown.
    pub fn log_db_error(&self, what: &str, err: &DbError) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last_db_error_log.swap(now, Ordering::Relaxed);
        match err {
            DbError::Bug(_) => tracing::error!(error = %err, "{what}"),
            _ if last != now => tracing::warn!(error = %err, "{what}"),
            _ => {}
        }
    }
}
