//! One scrape of one target, and the bookkeeping around it:
//!
//! - targets (auth module + server) keep their pool between scrapes while it works (a target
//!   whose server cannot be reached keeps no pool, guard or connection between scrapes), are
//!   forgotten after a while unused, and are at most [`MAX_TARGETS`], the least recently used
//!   giving way;
//! - a request may name a target only if `--probe.allowed-targets` allows it;
//! - concurrent scrapes of the same target and scraper set share one collection (single-flight),
//!   so a slow server does not get a pile of identical queries (mysqld_exporter#746, #133); when
//!   every request waiting for a collection has gone away, the collection is cancelled;
//! - the scrape has a deadline (`X-Prometheus-Scrape-Timeout-Seconds` minus `--timeout-offset`),
//!   every wait for a connection and every scraper is bounded by it (and by
//!   `--exporter.query_timeout`), and scrapers run on up to `--exporter.max_open_connections`
//!   connections at once;
//! - a server that is down, refuses the password or lacks a privilege gives `mysql_up 0` or that
//!   scraper's `mysql_exporter_collector_success 0`, one log line when the error appears or
//!   changes, one when it clears.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt as _, Shared, WeakShared};
use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use octo_exporter_kit::selfmetrics::CollectorOutcomes;
use octo_exporter_kit::{HttpError, MetricFamily, ScrapeRequest};

use crate::config::client::{ClientConfig, Credentials, Endpoint};
use crate::config::error::ConfigError;
use crate::config::load::load;
use crate::config::sources::Sources;
use crate::connection::{ConnectOptions, Connector, connector};
use crate::scrapers::db::{CollectionFacts, Db, ServerInfo};
use crate::scrapers::scraper::EnabledScraper;
use crate::task::AbortOnDrop;
use octo_exporter_kit::probe_targets::AllowedTargets;

/// The scrape budget when the request carries no timeout header (a person with curl).
const DEFAULT_BUDGET: Duration = Duration::from_secs(10);
/// Targets not scraped for this long are forgotten and their connections closed.
const TARGET_IDLE_EXPIRY: Duration = Duration::from_secs(600);
/// At most this many targets (auth module and server) are remembered; a request for one more
/// makes the least recently used one give way. Generous for a /probe deployment, and a bound on
/// what requests naming ever new targets can make the exporter keep.
pub const MAX_TARGETS: usize = 256;

/// Everything that stays the same from one scrape to the next.
pub struct Settings {
    pub scrapers: Vec<EnabledScraper>,
    pub connect: ConnectOptions,
    /// `--timeout-offset`, seconds.
    pub timeout_offset: f64,
    /// `--exporter.query_timeout`, when set.
    pub query_timeout: Option<Duration>,
    /// `--probe.allowed-targets`.
    pub allowed_targets: AllowedTargets,
}

/// The result of one collection, shared by every request that waited for it.
#[derive(Debug)]
struct Collected {
    families: Vec<MetricFamily>,
    /// Whether a connection to the server was made.
    connected: bool,
}

/// A collection in flight, shared by the requests waiting for it.
type Collection = Shared<BoxFuture<'static, Arc<Collected>>>;
/// The in-flight map's entry: the collection's number, and a handle that does not keep it
/// alive.
type InFlight = (u64, WeakShared<BoxFuture<'static, Arc<Collected>>>);

/// Numbers collections, so that one ending removes its own entry from the in-flight map and
/// not that of a successor started after it was abandoned.
static COLLECTIONS: AtomicU64 = AtomicU64::new(0);

/// What 0.14 kept across scrapes, and what was last logged per collector.
#[derive(Default)]
struct History {
    scrapes_total: u64,
    errors_total: BTreeMap<String, u64>,
    last_scrape_error: bool,
    logged_errors: HashMap<String, String>,
}

/// One server watched with one set of credentials.
struct Target {
    module: String,
    endpoint: Endpoint,
    config: ClientConfig,
    /// The pool (and guard), while the server can be reached.
    connector: Mutex<Option<Arc<Connector>>>,
    last_used: Mutex<Instant>,
    /// Collections in flight, by scraper selection; weak, so that a collection nobody waits
    /// for any more is dropped, and with it cancelled.
    in_flight: Mutex<HashMap<u64, InFlight>>,
    history: Mutex<History>,
}

impl Target {
    /// The connector, made when there is none.
    fn connector(&self, options: &ConnectOptions) -> std::io::Result<Arc<Connector>> {
        let mut current = lock(&self.connector);
        if let Some(existing) = current.as_ref() {
            return Ok(existing.clone());
        }
        let made = Arc::new(connector(&self.config, &self.endpoint, options)?);
        if made.is_guarded() {
            tracing::debug!(server = %self.endpoint, "connections go through a guard");
        }
        *current = Some(made.clone());
        Ok(made)
    }

    /// Drops `used` if it is still the current connector: a server that could not be reached
    /// keeps no pool, guard or listening socket until the next scrape.
    fn release(&self, used: &Arc<Connector>) {
        let mut current = lock(&self.connector);
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, used)) {
            *current = None;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// All targets, and the credentials they are built from.
pub struct Collector {
    settings: Arc<Settings>,
    sources: Sources,
    credentials: RwLock<Arc<Credentials>>,
    targets: Mutex<HashMap<(String, Endpoint), Arc<Target>>>,
}

/// Which endpoint answers: `/metrics` adds 0.14's scrape counters, `/probe` only the target's
/// `mysql_*` families (as 0.15+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    Metrics,
    Probe,
}

impl Collector {
    pub fn new(settings: Settings, sources: Sources, credentials: Credentials) -> Self {
        Collector {
            settings: Arc::new(settings),
            sources,
            credentials: RwLock::new(Arc::new(credentials)),
            targets: Mutex::new(HashMap::new()),
        }
    }

    /// Re-reads the credentials (`/-/reload`); on error the old ones stay.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let fresh = load(&self.sources)?;
        tracing::info!(
            origin = %fresh.origin,
            modules = fresh.modules.len(),
            "configuration reloaded"
        );
        *self
            .credentials
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        Ok(())
    }

    fn credentials(&self) -> Arc<Credentials> {
        self.credentials
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Scrapes `target` (or the module's configured server) with `module`'s credentials.
    pub async fn scrape(
        &self,
        module: &str,
        target: Option<&str>,
        request: &ScrapeRequest,
        endpoint_kind: Endpoints,
    ) -> Result<Vec<MetricFamily>, HttpError> {
        let credentials = self.credentials();
        let Some(config) = credentials.module(module) else {
            return Err(HttpError::bad_request(format!(
                "Could not find config section [{module}]"
            )));
        };
        let endpoint = config.endpoint_for(target).map_err(|err| {
            HttpError::bad_request(format!(
                "Error forming dsn from config section [{module}]: {err}"
            ))
        })?;
        if let Some(named) = target.filter(|t| !t.is_empty())
            && !self
                .settings
                .allowed_targets
                .allows(&endpoint.as_probe_target())
        {
            return Err(HttpError::bad_request(format!(
                "target {named:?} is not allowed by --probe.allowed-targets"
            )));
        }
        let target = self.target(module, &endpoint, config);
        let selection = self.selection(request);
        let deadline = Instant::now() + self.budget(request.scrape_timeout);
        let collected = self.collect_shared(&target, selection, deadline).await;
        // The last (usually the only) request that waited takes the families without a copy.
        let mut families = match Arc::try_unwrap(collected) {
            Ok(collected) => collected.families,
            Err(shared) => shared.families.clone(),
        };
        if endpoint_kind == Endpoints::Metrics {
            families.extend(legacy_counters(&lock(&target.history)));
        }
        Ok(families)
    }

    /// The scrape's time budget, as 0.14 computes it (an offset larger than the timeout is
    /// ignored rather than leaving no time at all).
    fn budget(&self, header: Option<Duration>) -> Duration {
        match header {
            None => DEFAULT_BUDGET,
            Some(timeout) => {
                let offset = Duration::from_secs_f64(self.settings.timeout_offset.max(0.0));
                if offset < timeout {
                    timeout - offset
                } else {
                    tracing::warn!(
                        offset = ?offset,
                        prometheus_scrape_timeout = ?timeout,
                        "timeout offset should be lower than prometheus scrape timeout"
                    );
                    timeout
                }
            }
        }
    }

    /// A bit per enabled scraper named in `collect[]`; every scraper when none is named or none
    /// of the names is known (0.15+ behaviour).
    fn selection(&self, request: &ScrapeRequest) -> u64 {
        let all = if self.settings.scrapers.len() >= 64 {
            u64::MAX
        } else {
            (1u64 << self.settings.scrapers.len()) - 1
        };
        let mut mask = 0u64;
        for name in request.query_values("collect[]") {
            if let Some(index) = self.settings.scrapers.iter().position(|s| s.name() == name) {
                mask |= 1 << index;
            }
        }
        if mask == 0 { all } else { mask }
    }

    /// The target for this module and server, created (or replaced when its configuration
    /// changed) as needed. Targets unused for a while are dropped here too, and the least
    /// recently used one when there are [`MAX_TARGETS`].
    fn target(&self, module: &str, endpoint: &Endpoint, config: &ClientConfig) -> Arc<Target> {
        let mut targets = lock(&self.targets);
        let now = Instant::now();
        targets.retain(|_, target| {
            let keep = now.duration_since(*lock(&target.last_used)) < TARGET_IDLE_EXPIRY;
            if !keep {
                tracing::debug!(module = %target.module, server = %target.endpoint, "forgetting idle target");
            }
            keep
        });
        let key = (module.to_owned(), endpoint.clone());
        if let Some(existing) = targets.get(&key)
            && existing.config == *config
        {
            *lock(&existing.last_used) = now;
            return existing.clone();
        }
        if targets.len() >= MAX_TARGETS && !targets.contains_key(&key) {
            let oldest = targets
                .iter()
                .min_by_key(|(_, target)| *lock(&target.last_used))
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                tracing::debug!(server = %oldest.1, auth_module = %oldest.0, "forgetting the least recently used target");
                targets.remove(&oldest);
            }
        }
        // A replaced or forgotten target's connections close when its last collection ends
        // (the connector disconnects its pool when dropped).
        let target = Arc::new(Target {
            module: module.to_owned(),
            endpoint: endpoint.clone(),
            config: config.clone(),
            connector: Mutex::new(None),
            last_used: Mutex::new(now),
            in_flight: Mutex::new(HashMap::new()),
            history: Mutex::new(History::default()),
        });
        targets.insert(key, target.clone());
        target
    }

    /// Joins the collection in flight for this target and selection, or starts one. The
    /// collection runs in a task of its own (a panic in it is a target down, not a dropped
    /// connection), which is aborted when the last request waiting for it goes away.
    async fn collect_shared(
        &self,
        target: &Arc<Target>,
        selection: u64,
        deadline: Instant,
    ) -> Arc<Collected> {
        let collection: Collection = {
            let mut in_flight = lock(&target.in_flight);
            match in_flight
                .get(&selection)
                .and_then(|(_, weak)| weak.upgrade())
            {
                Some(collection) => collection,
                None => {
                    let number = COLLECTIONS.fetch_add(1, Ordering::Relaxed);
                    let task = AbortOnDrop(tokio::spawn(run_collection(
                        target.clone(),
                        self.settings.clone(),
                        (selection, number),
                        deadline,
                    )));
                    let collection = async move {
                        // A panic in the collection: report the target as down.
                        task.await.unwrap_or_else(|_| Arc::new(down()))
                    }
                    .boxed()
                    .shared();
                    match collection.downgrade() {
                        Some(weak) => {
                            in_flight.insert(selection, (number, weak));
                        }
                        None => {
                            in_flight.remove(&selection);
                        }
                    }
                    collection
                }
            }
        };
        collection.await
    }
}

/// What a collection leaves behind, whether it completes or is cancelled: no entry in the
/// target's in-flight map, and no connector if the server could not be reached.
struct CollectionScope {
    target: Arc<Target>,
    /// The scraper selection, and the collection's number.
    key: (u64, u64),
    connector: Option<Arc<Connector>>,
    connected: bool,
}

impl Drop for CollectionScope {
    fn drop(&mut self) {
        let (selection, number) = self.key;
        let mut in_flight = lock(&self.target.in_flight);
        if in_flight.get(&selection).is_some_and(|(n, _)| *n == number) {
            in_flight.remove(&selection);
        }
        drop(in_flight);
        if let Some(connector) = &self.connector
            && !self.connected
        {
            self.target.release(connector);
        }
    }
}

/// One collection, in its own task.
async fn run_collection(
    target: Arc<Target>,
    settings: Arc<Settings>,
    key: (u64, u64),
    deadline: Instant,
) -> Arc<Collected> {
    let selection = key.0;
    let mut scope = CollectionScope {
        target,
        key,
        connector: None,
        connected: false,
    };
    let connector = match scope.target.connector(&settings.connect) {
        Ok(connector) => connector,
        Err(err) => {
            let message = format!("cannot set up the connection: {err}");
            return Arc::new(connection_failed(&scope.target, message, 0.0));
        }
    };
    scope.connector = Some(connector.clone());
    let collected = collect(
        &scope.target,
        &connector.pool,
        &settings,
        selection,
        deadline,
    )
    .await;
    scope.connected = collected.connected;
    Arc::new(collected)
}

fn down() -> Collected {
    Collected {
        families: vec![up_family(false)],
        connected: false,
    }
}

fn up_family(up: bool) -> MetricFamily {
    MetricFamily::gauge("mysql_up", "Whether the MySQL server is up.")
        .with(&[], if up { 1.0 } else { 0.0 })
}

fn outcomes() -> CollectorOutcomes {
    CollectorOutcomes::new(
        "mysql_exporter_collector",
        "Collector time duration.",
        "mysqld_exporter: Whether a collector succeeded.",
    )
}

/// 0.14's scrape counters (dropped upstream in 0.15; alerts on them exist in the wild).
fn legacy_counters(history: &History) -> Vec<MetricFamily> {
    let mut errors = MetricFamily::counter(
        "mysql_exporter_scrape_errors_total",
        "Total number of times an error occurred scraping a MySQL.",
    );
    for (collector, count) in &history.errors_total {
        errors.push(&[("collector", collector)], *count as f64);
    }
    vec![
        MetricFamily::counter(
            "mysql_exporter_scrapes_total",
            "Total number of times MySQL was scraped for metrics.",
        )
        .with(&[], history.scrapes_total as f64),
        MetricFamily::gauge(
            "mysql_exporter_last_scrape_error",
            "Whether the last scrape of metrics from MySQL resulted in an error (1 for error, 0 for success).",
        )
        .with(&[], if history.last_scrape_error { 1.0 } else { 0.0 }),
        errors,
    ]
}

/// Logs an error when it appears or changes, and recovery when it clears: one line per change,
/// not one per scrape.
fn note_outcome(target: &Target, collector: &str, error: Option<String>) {
    let mut history = lock(&target.history);
    match error {
        Some(message) => {
            let changed = history.logged_errors.get(collector) != Some(&message);
            if changed {
                tracing::error!(
                    server = %target.endpoint,
                    auth_module = %target.module,
                    collector,
                    error = %message,
                    "{}",
                    if collector == "connection" { "Error connecting to mysqld" } else { "Error from scraper" }
                );
                history.logged_errors.insert(collector.to_owned(), message);
            } else {
                tracing::debug!(server = %target.endpoint, collector, error = %message, "still failing");
            }
        }
        None => {
            if history.logged_errors.remove(collector).is_some() {
                tracing::info!(
                    server = %target.endpoint,
                    auth_module = %target.module,
                    collector,
                    "recovered"
                );
            }
        }
    }
}

/// Opens a connection (or takes an idle one) and learns the server version, within `deadline`.
async fn connect(
    target: &Target,
    pool: &Pool,
    collection: &Arc<CollectionFacts>,
    deadline: Instant,
) -> Result<Db, String> {
    let budget = deadline.saturating_duration_since(Instant::now());
    let connect_budget = target
        .config
        .connect_timeout
        .map_or(budget, |t| t.min(budget));
    let mut conn = match tokio::time::timeout(connect_budget, pool.get_conn()).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(err)) => return Err(err.to_string()),
        Err(_) => return Err(format!("no connection within {connect_budget:?}")),
    };
    let budget = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(budget, conn.query_first::<String, _>("SELECT @@version")).await {
        Ok(Ok(Some(version))) => Ok(Db {
            server: ServerInfo::from_version(&version),
            conn,
            collection: collection.clone(),
        }),
        Ok(Ok(None)) => Err("SELECT @@version returned nothing".into()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("SELECT @@version took longer than {budget:?}")),
    }
}

/// One collection: connect, then run the selected scrapers on up to
/// `--exporter.max_open_connections` connections, each scraper within the deadline.
async fn collect(
    target: &Target,
    pool: &Pool,
    settings: &Settings,
    selection: u64,
    deadline: Instant,
) -> Collected {
    let started = Instant::now();
    let mut outcomes = outcomes();
    let facts = Arc::new(CollectionFacts::default());
    let first = connect(target, pool, &facts, deadline).await;
    let connect_seconds = started.elapsed().as_secs_f64();
    let first = match first {
        Ok(db) => {
            note_outcome(target, "connection", None);
            db
        }
        Err(message) => return connection_failed(target, message, connect_seconds),
    };
    outcomes.record("connection", connect_seconds, true);
    let server = first.server.clone();
    let jobs: Vec<&EnabledScraper> = settings
        .scrapers
        .iter()
        .enumerate()
        .filter(|(index, _)| *index >= 64 || selection & (1 << index) != 0)
        .map(|(_, scraper)| scraper)
        .filter(|scraper| server.major_minor >= scraper.min_version())
        .collect();
    let lanes = settings
        .connect
        .max_open_connections
        .clamp(1, jobs.len().max(1));
    let shared = Lanes {
        pool,
        settings,
        jobs,
        next_job: AtomicUsize::new(0),
        server,
        facts,
        deadline,
    };
    let mut first = Some(first);
    let lane_futures: Vec<_> = (0..lanes).map(|_| shared.run(first.take())).collect();
    let results = futures_util::future::join_all(lane_futures).await;
    let mut families = vec![up_family(true)];
    let mut any_failed = false;
    let mut failed_names = Vec::new();
    let mut lane_outcomes: Vec<(&'static str, f64, Option<String>)> = Vec::new();
    for (lane_families, lane_results) in results {
        families.extend(lane_families);
        lane_outcomes.extend(lane_results);
    }
    // Same order as upstream's flag order, whatever lane ran them.
    lane_outcomes.sort_by_key(|(name, ..)| shared.jobs.iter().position(|j| j.name() == *name));
    for (name, seconds, error) in lane_outcomes {
        let collector = format!("collect.{name}");
        outcomes.record(collector.clone(), seconds, error.is_none());
        if error.is_some() {
            any_failed = true;
            failed_names.push(collector.clone());
        }
        note_outcome(target, &collector, error);
    }
    {
        let mut history = lock(&target.history);
        history.scrapes_total += 1;
        history.last_scrape_error = any_failed;
        for name in failed_names {
            *history.errors_total.entry(name).or_default() += 1;
        }
    }
    families.extend(outcomes.families());
    Collected {
        families,
        connected: true,
    }
}

/// The collection of a server that could not be reached: `mysql_up 0`, counted and logged.
fn connection_failed(target: &Target, message: String, seconds: f64) -> Collected {
    note_outcome(target, "connection", Some(message));
    let mut history = lock(&target.history);
    history.scrapes_total += 1;
    history.last_scrape_error = true;
    let mut outcomes = outcomes();
    outcomes.record("connection", seconds, false);
    let mut families = vec![up_family(false)];
    families.extend(outcomes.families());
    Collected {
        families,
        connected: false,
    }
}

type LaneResult = (Vec<MetricFamily>, Vec<(&'static str, f64, Option<String>)>);

/// What the lanes of one collection share.
struct Lanes<'a> {
    pool: &'a Pool,
    settings: &'a Settings,
    jobs: Vec<&'a EnabledScraper>,
    next_job: AtomicUsize,
    server: ServerInfo,
    facts: Arc<CollectionFacts>,
    deadline: Instant,
}

impl Lanes<'_> {
    /// Takes scrapers off the shared list until none is left. A lane without a connection gets
    /// one when it picks its first scraper, and a new one after a scraper broke or timed out.
    async fn run(&self, mut db: Option<Db>) -> LaneResult {
        let Lanes {
            pool,
            settings,
            jobs,
            next_job,
            server,
            facts,
            deadline,
        } = self;
        let mut families = Vec::new();
        let mut results = Vec::new();
        loop {
            let index = next_job.fetch_add(1, Ordering::Relaxed);
            let Some(scraper) = jobs.get(index) else {
                break;
            };
            let started = Instant::now();
            let mut connection = match db.take() {
                Some(connection) => connection,
                None => {
                    let budget = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(budget, pool.get_conn()).await {
                        Ok(Ok(conn)) => Db {
                            conn,
                            server: server.clone(),
                            collection: facts.clone(),
                        },
                        Ok(Err(err)) => {
                            results.push((
                                scraper.name(),
                                started.elapsed().as_secs_f64(),
                                Some(err.to_string()),
                            ));
                            continue;
                        }
                        Err(_) => {
                            results.push((
                                scraper.name(),
                                started.elapsed().as_secs_f64(),
                                Some("no connection before the scrape deadline".into()),
                            ));
                            continue;
                        }
                    }
                }
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            let budget = settings
                .query_timeout
                .map_or(remaining, |t| t.min(remaining));
            let mut scratch = Vec::new();
            let outcome =
                tokio::time::timeout(budget, scraper.scrape(&mut connection, &mut scratch)).await;
            let seconds = started.elapsed().as_secs_f64();
            match outcome {
                Ok(Ok(())) => {
                    families.extend(scratch);
                    results.push((scraper.name(), seconds, None));
                    db = Some(connection);
                }
                Ok(Err(err)) => {
                    let keep = !err.breaks_connection();
                    results.push((scraper.name(), seconds, Some(err.to_string())));
                    if keep {
                        db = Some(connection);
                    }
                }
                Err(_) => {
                    // The connection is mid-result: it goes back to the pool, which discards it.
                    results.push((
                        scraper.name(),
                        seconds,
                        Some(format!("timed out after {budget:?}")),
                    ));
                }
            }
        }
        (families, results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::client::{DEFAULT_MODULE, Secret};

    fn collector() -> Collector {
        let settings = Settings {
            scrapers: Vec::new(),
            connect: ConnectOptions {
                lock_wait_timeout: None,
                log_slow_filter: false,
                max_open_connections: 1,
            },
            timeout_offset: 0.25,
            query_timeout: None,
            allowed_targets: AllowedTargets::default(),
        };
        let client = ClientConfig {
            user: "exporter".into(),
            password: Secret::new("pw"),
            ..ClientConfig::default()
        };
        let credentials = Credentials {
            modules: [(DEFAULT_MODULE.to_owned(), client)].into_iter().collect(),
            origin: "test".into(),
        };
        Collector::new(settings, Sources::default(), credentials)
    }

    fn endpoint(i: usize) -> Endpoint {
        Endpoint::Tcp {
            host: format!("10.0.{}.{}", i / 250, i % 250),
            port: 3306,
        }
    }

    #[test]
    fn probe_target_flood_keeps_the_target_map_bounded() {
        let collector = collector();
        let config = ClientConfig::default();
        let first = collector.target("client", &endpoint(0), &config);
        for i in 1..3 * MAX_TARGETS {
            collector.target("client", &endpoint(i), &config);
            if i % 50 == 0 {
                // The first target stays in use: the others give way.
                collector.target("client", &endpoint(0), &config);
            }
        }
        let targets = lock(&collector.targets);
        assert_eq!(targets.len(), MAX_TARGETS);
        let kept = &targets[&("client".to_owned(), endpoint(0))];
        assert!(Arc::ptr_eq(kept, &first));
        assert!(targets.contains_key(&("client".to_owned(), endpoint(3 * MAX_TARGETS - 1))));
        assert!(!targets.contains_key(&("client".to_owned(), endpoint(1))));
    }

    #[tokio::test]
    async fn unreachable_target_keeps_no_connector() {
        let collector = collector();
        // A port nobody listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = listener.local_addr().unwrap().to_string();
        drop(listener);
        let families = collector
            .scrape(
                DEFAULT_MODULE,
                Some(&target),
                &ScrapeRequest::default(),
                Endpoints::Probe,
            )
            .await
            .unwrap();
        assert_eq!(families[0].name, "mysql_up");
        let targets = lock(&collector.targets);
        let kept = targets.values().next().unwrap();
        assert!(lock(&kept.connector).is_none());
        assert!(lock(&kept.in_flight).is_empty());
    }
}
