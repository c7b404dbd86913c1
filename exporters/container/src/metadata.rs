//! Runtime metadata, cached by container id: inspected once when an id first appears, dropped
//! when its cgroup goes. An engine that cannot be reached means "no metadata" (the cgroup is
//! reported by id alone), logged once when that starts and once when it ends, never per scrape.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::classify::Runtime;
use crate::docker::{EngineClient, EngineError, Metadata};

/// How long an id without metadata stays unknown before it is looked up again (a cgroup can
/// appear a moment before its runtime registers the container).
const RETRY_UNKNOWN: Duration = Duration::from_secs(30);
/// How long an unreachable engine is left alone.
const RETRY_UNREACHABLE: Duration = Duration::from_secs(10);

#[derive(Debug)]
enum Cached {
    Known(Arc<Metadata>),
    Unknown(Instant),
}

/// Metadata by container id, as one source (an engine, the CRI bundles) found it: what it
/// knows, and which ids it had nothing for, looked up again after [`RETRY_UNKNOWN`].
#[derive(Debug, Default)]
pub struct IdCache {
    entries: HashMap<String, Cached>,
    generation: u64,
}

impl IdCache {
    /// Bumped whenever what is known changes (labels must then be recomputed).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Metadata>> {
        match self.entries.get(id) {
            Some(Cached::Known(meta)) => Some(meta),
            _ => None,
        }
    }

    /// Whether the source was asked and had nothing for this id.
    pub fn is_unknown(&self, id: &str) -> bool {
        matches!(self.entries.get(id), Some(Cached::Unknown(_)))
    }

    pub fn contains(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    pub fn known(&self) -> impl Iterator<Item = &Arc<Metadata>> {
        self.entries.values().filter_map(|c| match c {
            Cached::Known(meta) => Some(meta),
            Cached::Unknown(_) => None,
        })
    }

    /// Whether an id without metadata is due to be looked up again.
    pub fn retry_due(&self) -> bool {
        self.entries
            .values()
            .any(|c| matches!(c, Cached::Unknown(at) if at.elapsed() >= RETRY_UNKNOWN))
    }

    /// Forgets the ids `present` no longer has.
    pub fn retain(&mut self, present: impl Fn(&str) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|id, _| present(id));
        if self.entries.len() != before {
            self.generation += 1;
        }
    }

    /// Whether `id` needs looking up: never seen, or unknown for long enough.
    pub fn due(&self, id: &str) -> bool {
        match self.entries.get(id) {
            None => true,
            Some(Cached::Unknown(at)) => at.elapsed() >= RETRY_UNKNOWN,
            Some(Cached::Known(_)) => false,
        }
    }

    /// Records what a lookup gave: metadata, or nothing.
    pub fn record(&mut self, id: &str, found: Option<Metadata>) {
        let entry = match found {
            Some(meta) => {
                self.generation += 1;
                Cached::Known(Arc::new(meta))
            }
            None => Cached::Unknown(Instant::now()),
        };
        self.entries.insert(id.to_owned(), entry);
    }
}

#[derive(Debug)]
enum Reachability {
    Untried,
    Up,
    Down(Instant),
}

/// One engine (Docker, or Podman's compatible API) and what it told us.
#[derive(Debug)]
pub struct Engine {
    pub runtime: Runtime,
    client: EngineClient,
    env_prefixes: Vec<String>,
    cache: IdCache,
    reachability: Reachability,
    version: Option<String>,
    healthy: HashSet<String>,
}

impl Engine {
    pub fn new(runtime: Runtime, client: EngineClient, env_prefixes: Vec<String>) -> Engine {
        Engine {
            runtime,
            client,
            env_prefixes,
            cache: IdCache::default(),
            reachability: Reachability::Untried,
            version: None,
            healthy: HashSet::new(),
        }
    }

    /// Bumped whenever cached metadata changes (labels must then be recomputed).
    pub fn generation(&self) -> u64 {
        self.cache.generation()
    }

    /// The engine's version, once it has answered.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Metadata>> {
        self.cache.get(id)
    }

    /// Whether the engine answered that it has no running container with this id.
    pub fn denies(&self, id: &str) -> bool {
        self.cache.is_unknown(id)
    }

    /// Whether the container's health check passes: `None` without a health check.
    pub fn healthy(&self, id: &str) -> Option<bool> {
        let meta = self.get(id)?;
        meta.has_healthcheck.then(|| self.healthy.contains(id))
    }

    fn usable(&mut self) -> bool {
        !matches!(self.reachability, Reachability::Down(since) if since.elapsed() < RETRY_UNREACHABLE)
    }

    fn note_error(&mut self, err: &EngineError) {
        if err.is_unreachable() {
            match self.reachability {
                Reachability::Up => tracing::warn!(
                    runtime = self.runtime.as_str(),
                    error = %err,
                    "container engine unreachable; its containers are reported by cgroup id only until it is back"
                ),
                Reachability::Untried => tracing::info!(
                    runtime = self.runtime.as_str(),
                    error = %err,
                    "no container engine at this endpoint; its containers are reported by cgroup id only"
                ),
                Reachability::Down(_) => {}
            }
            self.reachability = Reachability::Down(Instant::now());
        } else {
            tracing::warn!(runtime = self.runtime.as_str(), error = %err, "container engine request failed");
        }
    }

    fn note_up(&mut self) {
        if matches!(self.reachability, Reachability::Down(_)) {
            tracing::info!(
                runtime = self.runtime.as_str(),
                "container engine reachable again"
            );
        }
        self.reachability = Reachability::Up;
    }

    /// Asks for the engine's version (for `cadvisor_version_info`), logging whether the engine
    /// is there.
    pub async fn probe(&mut self) {
        if self.version.is_some() || !self.usable() {
            return;
        }
        match self.client.version().await {
            Ok(version) => {
                self.note_up();
                tracing::info!(runtime = self.runtime.as_str(), version = %version, "container engine found");
                self.version = Some(version);
            }
            Err(err) => self.note_error(&err),
        }
    }

    /// Inspects ids not seen before and forgets ids no longer present.
    pub async fn update(&mut self, present: &HashSet<&str>) {
        self.cache.retain(|id| present.contains(id));
        self.healthy.retain(|id| present.contains(id.as_str()));
        let mut wanted: Vec<&str> = present
            .iter()
            .copied()
            .filter(|id| self.cache.due(id))
            .collect();
        if wanted.is_empty() || !self.usable() {
            return;
        }
        wanted.sort_unstable();
        if self.version.is_none() {
            self.probe().await;
            if self.version.is_none() {
                return;
            }
        }
        for id in wanted {
            match self.client.inspect(id, &self.env_prefixes).await {
                Ok(found) => {
                    self.note_up();
                    if found
                        .as_ref()
                        .is_some_and(|m| m.healthy_at_inspect == Some(true))
                    {
                        self.healthy.insert(id.to_owned());
                    }
                    self.cache.record(id, found);
                }
                Err(err) => {
                    let unreachable = err.is_unreachable();
                    self.note_error(&err);
                    if unreachable {
                        return;
                    }
                    self.cache.record(id, None);
                }
            }
        }
    }

    /// Refreshes which containers are healthy: one list call, made only while some known
    /// container has a health check.
    pub async fn refresh_health(&mut self) {
        let any = self.cache.known().any(|m| m.has_healthcheck);
        if !any || !self.usable() {
            return;
        }
        match self.client.healthy_ids().await {
            Ok(ids) => {
                self.note_up();
                self.healthy = ids
                    .into_iter()
                    .filter(|id| self.cache.contains(id))
                    .collect();
            }
            Err(err) => self.note_error(&err),
        }
    }
}
