//! Runtime metadata, cached by container id: inspected once when an id first appears, dropped
//! when its cgroup goes. An engine that cannot be reached means "no metadata" (the cgroup is
//! reported by id alone), logged once when that starts and once when it ends, never per scrape.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::classify::Runtime;
use crate::docker::{EngineClient, EngineError, Metadata};

/// How long an id the engine did not know stays unknown before it is asked again (a cgroup can
/// appear a moment before its engine registers the container).
const RETRY_UNKNOWN: Duration = Duration::from_secs(30);
/// How long an unreachable engine is left alone.
const RETRY_UNREACHABLE: Duration = Duration::from_secs(10);

#[derive(Debug)]
enum Cached {
    Known(Arc<Metadata>),
    Unknown(Instant),
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
    cache: HashMap<String, Cached>,
    reachability: Reachability,
    version: Option<String>,
    healthy: HashSet<String>,
    generation: u64,
}

impl Engine {
    pub fn new(runtime: Runtime, client: EngineClient, env_prefixes: Vec<String>) -> Engine {
        Engine {
            runtime,
            client,
            env_prefixes,
            cache: HashMap::new(),
            reachability: Reachability::Untried,
            version: None,
            healthy: HashSet::new(),
            generation: 0,
        }
    }

    /// Bumped whenever cached metadata changes (labels must then be recomputed).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The engine's version, once it has answered.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Metadata>> {
        match self.cache.get(id) {
            Some(Cached::Known(meta)) => Some(meta),
            _ => None,
        }
    }

    /// Whether the engine answered that it has no running container with this id.
    pub fn denies(&self, id: &str) -> bool {
        matches!(self.cache.get(id), Some(Cached::Unknown(_)))
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
        let before = self.cache.len();
        self.cache.retain(|id, _| present.contains(id.as_str()));
        self.healthy.retain(|id| present.contains(id.as_str()));
        if self.cache.len() != before {
            self.generation += 1;
        }
        let mut wanted: Vec<&str> = present
            .iter()
            .copied()
            .filter(|id| match self.cache.get(*id) {
                None => true,
                Some(Cached::Unknown(at)) => at.elapsed() >= RETRY_UNKNOWN,
                Some(Cached::Known(_)) => false,
            })
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
                Ok(Some(meta)) => {
                    self.note_up();
                    if meta.healthy_at_inspect == Some(true) {
                        self.healthy.insert(id.to_owned());
                    }
                    self.cache
                        .insert(id.to_owned(), Cached::Known(Arc::new(meta)));
                    self.generation += 1;
                }
                Ok(None) => {
                    self.note_up();
                    self.cache
                        .insert(id.to_owned(), Cached::Unknown(Instant::now()));
                }
                Err(err) => {
                    let unreachable = err.is_unreachable();
                    self.note_error(&err);
                    if unreachable {
                        return;
                    }
                    self.cache
                        .insert(id.to_owned(), Cached::Unknown(Instant::now()));
                }
            }
        }
    }

    /// Refreshes which containers are healthy: one list call, made only while some known
    /// container has a health check.
    pub async fn refresh_health(&mut self) {
        let any = self
            .cache
            .values()
            .any(|c| matches!(c, Cached::Known(m) if m.has_healthcheck));
        if !any || !self.usable() {
            return;
        }
        match self.client.healthy_ids().await {
            Ok(ids) => {
                self.note_up();
                self.healthy = ids
                    .into_iter()
                    .filter(|id| self.cache.contains_key(id))
                    .collect();
            }
            Err(err) => self.note_error(&err),
        }
    }
}
