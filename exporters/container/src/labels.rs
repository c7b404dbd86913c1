//! The labels of a reported cgroup, from its path and its runtime's metadata.

use octo_exporter_kit::exposition::sanitize_name;

use crate::classify::Runtime;
use crate::docker::Metadata;
use crate::options::Options;

/// The labels cAdvisor gives a container (all of them, or the base ones and whitelisted labels
/// with `-store_container_labels=false`), plus `container`, `pod` and `namespace` as the
/// kubelet adds them; for plain Docker and Podman containers `container` is the container name,
/// so dashboards grouping by `container` work without Kubernetes.
pub fn container_labels(
    path: &str,
    runtime: Option<&(Runtime, String)>,
    meta: Option<&Metadata>,
    opts: &Options,
) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = vec![("id".to_owned(), path.to_owned())];
    let add = |labels: &mut Vec<(String, String)>, name: String, value: &str| {
        if !labels.iter().any(|(k, _)| *k == name) {
            labels.push((name, value.to_owned()));
        }
    };
    match (runtime, meta) {
        (Some(_), Some(meta)) => {
            if !meta.name.is_empty() {
                add(&mut labels, "name".to_owned(), &meta.name);
            }
            if !meta.image.is_empty() {
                add(&mut labels, "image".to_owned(), &meta.image);
            }
            for (key, value) in &meta.labels {
                if opts.store_labels || opts.label_whitelist.iter().any(|w| w == key) {
                    add(
                        &mut labels,
                        format!("container_label_{}", sanitize_name(key)),
                        value,
                    );
                }
            }
            for (key, value) in &meta.envs {
                add(
                    &mut labels,
                    format!("container_env_{}", sanitize_name(key)),
                    value,
                );
            }
            let pod = meta.label("io.kubernetes.pod.name");
            let namespace = meta.label("io.kubernetes.pod.namespace");
            let container = meta.label("io.kubernetes.container.name");
            if pod.is_some() || namespace.is_some() || container.is_some() {
                for (name, value) in [
                    ("pod", pod),
                    ("namespace", namespace),
                    ("container", container),
                ] {
                    if let Some(value) = value.filter(|v| !v.is_empty()) {
                        add(&mut labels, name.to_owned(), value);
                    }
                }
            } else if !meta.name.is_empty() {
                add(&mut labels, "container".to_owned(), &meta.name);
            }
        }
        // containerd's aliases are [id, name]: without its metadata the name is the id.
        (Some((Runtime::Containerd, id)), None) => {
            add(&mut labels, "name".to_owned(), id);
        }
        (None, _) if opts.raw_name_labels && path != "/" => {
            let base = path.rsplit('/').next().unwrap_or(path);
            add(&mut labels, "name".to_owned(), base);
            add(&mut labels, "container".to_owned(), base);
        }
        _ => {}
    }
    labels
}
