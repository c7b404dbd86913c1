//! Kubernetes metadata for containerd and CRI-O containers, from the OCI bundle each runtime
//! writes for a container it runs (`config.json`): its annotations carry the pod, namespace,
//! container name and image the kubelet asked for, and its process the environment.
//!
//! Files rather than the runtimes' APIs: containerd and CRI-O answer the CRI over gRPC, which
//! would bring a gRPC stack (tonic, prost, generated protobufs) into an exporter that needs none
//! otherwise, while the bundle holds the same facts, is written once when the container is
//! created, and is read here once per container id.
//!
//! The kubelet's own labels (`io.kubernetes.pod.name`, `io.kubernetes.pod.namespace`,
//! `io.kubernetes.pod.uid`, `io.kubernetes.container.name`), which cAdvisor shows as
//! `container_label_io_kubernetes_*` and from which the `pod`, `namespace` and `container`
//! labels come, are rebuilt from the annotations.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::classify::Runtime;
use crate::docker::{Metadata, whitelisted_envs};
use crate::metadata::IdCache;

/// Bundles larger than this are not read: a runtime's `config.json` is tens of kilobytes.
const MAX_BUNDLE: u64 = 4 * 1024 * 1024;

/// containerd namespaces whose tasks are looked at: the CRI's, then plain containerd's.
const CONTAINERD_NAMESPACES: [&str; 2] = ["k8s.io", "default"];

/// Where the runtimes keep their bundles.
#[derive(Debug, Clone)]
pub struct BundleRoots {
    /// containerd's state directory (`/run/containerd`); bundles are
    /// `<state>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json`.
    pub containerd_state: Option<PathBuf>,
    /// CRI-O's storage roots (`/run/containers/storage`, `/var/lib/containers/storage`);
    /// bundles are `<root>/overlay-containers/<id>/userdata/config.json`.
    pub crio_storage: Vec<PathBuf>,
}

#[derive(Debug)]
pub struct CriBundles {
    roots: BundleRoots,
    env_prefixes: Vec<String>,
    /// By container id (unique across runtimes: 64 hex digits).
    cache: IdCache,
    /// The cgroup tree's generation at the last update: until it changes, only ids waiting
    /// for their bundle need looking at.
    tree_generation: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Spec {
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    process: Option<Process>,
}

#[derive(Debug, Deserialize)]
struct Process {
    #[serde(default)]
    env: Vec<String>,
}

impl CriBundles {
    pub fn new(roots: BundleRoots, env_prefixes: Vec<String>) -> CriBundles {
        CriBundles {
            roots,
            env_prefixes,
            cache: IdCache::default(),
            tree_generation: None,
        }
    }

    /// Bumped whenever cached metadata changes (labels must then be recomputed).
    pub fn generation(&self) -> u64 {
        self.cache.generation()
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Metadata>> {
        self.cache.get(id)
    }

    /// Whether [`update`](Self::update) has anything to do: the cgroups changed since the last
    /// one, or an id without a bundle is due to be looked for again.
    pub fn needs_update(&self, tree_generation: u64) -> bool {
        self.tree_generation != Some(tree_generation) || self.cache.retry_due()
    }

    /// Reads the bundles of ids not seen before and forgets ids no longer present;
    /// `present` is every containerd and CRI-O container with its runtime.
    pub fn update(&mut self, tree_generation: u64, present: &HashMap<&str, Runtime>) {
        self.tree_generation = Some(tree_generation);
        self.cache.retain(|id| present.contains_key(id));
        for (&id, &runtime) in present {
            if self.cache.due(id) {
                let found = self.read(runtime, id);
                self.cache.record(id, found);
            }
        }
    }

    fn bundle_paths(&self, runtime: Runtime, id: &str) -> Vec<PathBuf> {
        match runtime {
            Runtime::Containerd => self
                .roots
                .containerd_state
                .iter()
                .flat_map(|state| {
                    CONTAINERD_NAMESPACES.iter().map(move |namespace| {
                        state
                            .join("io.containerd.runtime.v2.task")
                            .join(namespace)
                            .join(id)
                            .join("config.json")
                    })
                })
                .collect(),
            Runtime::Crio => self
                .roots
                .crio_storage
                .iter()
                .map(|root| {
                    root.join("overlay-containers")
                        .join(id)
                        .join("userdata/config.json")
                })
                .collect(),
            Runtime::Docker | Runtime::Podman => Vec::new(),
        }
    }

    fn read(&self, runtime: Runtime, id: &str) -> Option<Metadata> {
        for path in self.bundle_paths(runtime, id) {
            match read_spec(&path) {
                Ok(Some(spec)) => return Some(metadata(runtime, id, spec, &self.env_prefixes)),
                Ok(None) => {}
                Err(reason) => {
                    tracing::debug!(path = %path.display(), %reason, "unreadable container bundle");
                }
            }
        }
        None
    }
}

/// The bundle's spec, `None` when there is no bundle at `path`.
fn read_spec(path: &Path) -> Result<Option<Spec>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.to_string()),
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_BUNDLE + 1), &mut bytes)
        .map_err(|err| err.to_string())?;
    if bytes.len() as u64 > MAX_BUNDLE {
        return Err(format!("larger than {MAX_BUNDLE} bytes"));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|err| err.to_string())
}

fn metadata(runtime: Runtime, id: &str, spec: Spec, env_prefixes: &[String]) -> Metadata {
    let annotation = |key: &str| spec.annotations.get(key).filter(|v| !v.is_empty()).cloned();
    let mut labels: Vec<(String, String)> = Vec::new();
    let (name, image, pod, namespace, uid, container, is_container) = match runtime {
        Runtime::Crio => {
            // CRI-O keeps the kubelet's labels whole, as JSON in one annotation.
            if let Some(text) = annotation("io.kubernetes.cri-o.Labels")
                && let Ok(kubelet) = serde_json::from_str::<HashMap<String, String>>(&text)
            {
                labels.extend(kubelet);
            }
            (
                annotation("io.kubernetes.cri-o.Name").unwrap_or_else(|| id.to_owned()),
                annotation("io.kubernetes.cri-o.ImageName"),
                annotation("io.kubernetes.pod.name"),
                annotation("io.kubernetes.pod.namespace"),
                annotation("io.kubernetes.pod.uid"),
                annotation("io.kubernetes.container.name"),
                annotation("io.kubernetes.cri-o.ContainerType").as_deref() != Some("sandbox"),
            )
        }
        // containerd: its aliases are [id, name], so the name stays the id, as without
        // metadata.
        _ => (
            id.to_owned(),
            annotation("io.kubernetes.cri.image-name"),
            annotation("io.kubernetes.cri.sandbox-name"),
            annotation("io.kubernetes.cri.sandbox-namespace"),
            annotation("io.kubernetes.cri.sandbox-uid"),
            annotation("io.kubernetes.cri.container-name"),
            annotation("io.kubernetes.cri.container-type").as_deref() != Some("sandbox"),
        ),
    };
    for (key, value) in [
        ("io.kubernetes.pod.name", pod),
        ("io.kubernetes.pod.namespace", namespace),
        ("io.kubernetes.pod.uid", uid),
        // A pod's sandbox (its pause container) belongs to the pod, not to a container.
        (
            "io.kubernetes.container.name",
            container.filter(|_| is_container),
        ),
    ] {
        if let Some(value) = value
            && !labels.iter().any(|(k, _)| k == key)
        {
            labels.push((key.to_owned(), value));
        }
    }
    labels.sort();
    let envs = whitelisted_envs(
        spec.process
            .iter()
            .flat_map(|p| p.env.iter())
            .map(String::as_str),
        env_prefixes,
    );
    Metadata {
        name,
        image: image.unwrap_or_default(),
        labels,
        envs,
        ..Metadata::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    const CONTAINERD_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const CRIO_ID: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    fn bundles(dir: &Path) -> CriBundles {
        CriBundles::new(
            BundleRoots {
                containerd_state: Some(dir.join("run/containerd")),
                crio_storage: vec![
                    dir.join("run/containers/storage"),
                    dir.join("var/lib/containers/storage"),
                ],
            },
            vec!["APP_".to_owned()],
        )
    }

    #[test]
    fn containerd_and_crio_bundles_give_kubernetes_labels() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join(format!(
                "run/containerd/io.containerd.runtime.v2.task/k8s.io/{CONTAINERD_ID}/config.json"
            )),
            r#"{"ociVersion":"1.1.0","process":{"env":["PATH=/bin","APP_MODE=prod"]},
                "annotations":{"io.kubernetes.cri.container-type":"container",
                "io.kubernetes.cri.container-name":"octo-app",
                "io.kubernetes.cri.sandbox-name":"octo-app-7d9f-x2x",
                "io.kubernetes.cri.sandbox-namespace":"octo",
                "io.kubernetes.cri.sandbox-uid":"5f0c",
                "io.kubernetes.cri.image-name":"registry.local/octo/app:1.0"}}"#,
        );
        write(
            &dir.path().join(format!(
                "var/lib/containers/storage/overlay-containers/{CRIO_ID}/userdata/config.json"
            )),
            r#"{"annotations":{"io.kubernetes.cri-o.ContainerType":"container",
                "io.kubernetes.cri-o.Name":"k8s_nginx_web-0_octo_1a2b_0",
                "io.kubernetes.cri-o.ImageName":"docker.io/library/nginx:1.25",
                "io.kubernetes.cri-o.Labels":"{\"io.kubernetes.container.name\":\"nginx\",\"io.kubernetes.pod.name\":\"web-0\",\"io.kubernetes.pod.namespace\":\"octo\",\"io.kubernetes.pod.uid\":\"1a2b\"}",
                "io.kubernetes.pod.name":"web-0","io.kubernetes.pod.namespace":"octo",
                "io.kubernetes.container.name":"nginx"}}"#,
        );
        let mut cri = bundles(dir.path());
        let present: HashMap<&str, Runtime> = [
            (CONTAINERD_ID, Runtime::Containerd),
            (CRIO_ID, Runtime::Crio),
        ]
        .into_iter()
        .collect();
        cri.update(1, &present);
        assert!(!cri.needs_update(1));
        let app = cri.get(CONTAINERD_ID).unwrap();
        assert_eq!(app.name, CONTAINERD_ID);
        assert_eq!(app.image, "registry.local/octo/app:1.0");
        assert_eq!(
            app.label("io.kubernetes.pod.name"),
            Some("octo-app-7d9f-x2x")
        );
        assert_eq!(app.label("io.kubernetes.pod.namespace"), Some("octo"));
        assert_eq!(app.label("io.kubernetes.container.name"), Some("octo-app"));
        assert_eq!(app.envs, vec![("app_mode".to_owned(), "prod".to_owned())]);
        let web = cri.get(CRIO_ID).unwrap();
        assert_eq!(web.name, "k8s_nginx_web-0_octo_1a2b_0");
        assert_eq!(web.image, "docker.io/library/nginx:1.25");
        assert_eq!(web.label("io.kubernetes.pod.uid"), Some("1a2b"));
        assert_eq!(web.label("io.kubernetes.container.name"), Some("nginx"));

        // Gone from the cgroups, gone from the cache.
        let generation = cri.generation();
        assert!(cri.needs_update(2));
        cri.update(2, &HashMap::new());
        assert!(cri.get(CRIO_ID).is_none());
        assert!(cri.generation() > generation);
    }

    #[test]
    fn a_sandbox_belongs_to_its_pod_only() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join(format!(
                "run/containerd/io.containerd.runtime.v2.task/k8s.io/{CONTAINERD_ID}/config.json"
            )),
            r#"{"annotations":{"io.kubernetes.cri.container-type":"sandbox",
                "io.kubernetes.cri.container-name":"POD",
                "io.kubernetes.cri.sandbox-name":"web-0",
                "io.kubernetes.cri.sandbox-namespace":"octo"}}"#,
        );
        let mut cri = bundles(dir.path());
        cri.update(
            1,
            &[(CONTAINERD_ID, Runtime::Containerd)].into_iter().collect(),
        );
        let pause = cri.get(CONTAINERD_ID).unwrap();
        assert_eq!(pause.label("io.kubernetes.pod.name"), Some("web-0"));
        assert_eq!(pause.label("io.kubernetes.container.name"), None);
    }

    #[test]
    fn missing_garbage_and_huge_bundles_leave_the_id_alone() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = |id: &str| {
            dir.path().join(format!(
                "run/containers/storage/overlay-containers/{id}/userdata/config.json"
            ))
        };
        write(&bundle("garbage"), "{\"annotations\": [1, 2");
        write(&bundle("wrong-type"), r#"{"annotations": {"a": 1}}"#);
        write(
            &bundle("huge"),
            &" ".repeat(usize::try_from(MAX_BUNDLE).unwrap() + 10),
        );
        let mut cri = bundles(dir.path());
        let present: HashMap<&str, Runtime> = ["garbage", "wrong-type", "huge", "absent"]
            .into_iter()
            .map(|id| (id, Runtime::Crio))
            .collect();
        cri.update(1, &present);
        for id in present.keys() {
            assert!(cri.get(id).is_none(), "{id}");
        }
        // Docker's and Podman's ids have no bundle here: their engines answer for them.
        cri.update(2, &[("x", Runtime::Docker)].into_iter().collect());
        assert!(cri.get("x").is_none());
    }
}
