//! What a cgroup is, from its path alone, following cAdvisor's container factories (the path
//! schemes are listed in docs/container-exporter.md): runtimes claim cgroups whose last path
//! element carries a 64-character container id; `.mount` units are ignored; everything else is
//! a raw cgroup.

/// The container runtime a path scheme belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    Docker,
    Containerd,
    Crio,
    Podman,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "crio",
            Runtime::Podman => "podman",
        }
    }
}

/// How a cgroup is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `/`, the machine.
    Root,
    /// A container of a known path scheme.
    Container { runtime: Runtime, id: String },
    /// A bare 64-character id whose runtime only the runtime itself can confirm (Docker's
    /// cgroupfs driver under `/kubepods/...`, or an unusual parent): Docker if it knows the id,
    /// otherwise a CRI container (containerd) under `/kubepods`, otherwise raw.
    Candidate { id: String },
    /// A systemd unit, slice, or any other cgroup.
    Raw,
    /// Not reported at all: systemd `.mount` units, CRI-O sandboxes under the systemd driver.
    Ignored,
}

const ID_LEN: usize = 64;

fn is_id(text: &str) -> bool {
    text.len() == ID_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The first run of 64 `[a-z0-9]` characters, as cAdvisor's `([a-z0-9]{64})`.
fn find_id(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start + ID_LEN <= bytes.len() {
        let run = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            .count();
        if run >= ID_LEN {
            return Some(&text[start..start + ID_LEN]);
        }
        start += run + 1;
    }
    None
}

/// Classifies a cgroup path (`/`, `/docker/<id>`, `/system.slice/docker-<id>.scope`, ...).
pub fn classify(path: &str) -> Kind {
    if path == "/" {
        return Kind::Root;
    }
    let (parent, base) = path.rsplit_once('/').unwrap_or(("", path));
    if base.ends_with(".mount") {
        return Kind::Ignored;
    }
    let scoped = |prefix: &str| {
        base.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(".scope"))
            .filter(|id| is_id(id))
    };
    let container = |runtime, id: &str| Kind::Container {
        runtime,
        id: id.to_owned(),
    };
    if let Some(id) = scoped("docker-") {
        return container(Runtime::Docker, id);
    }
    if let Some(id) = scoped("cri-containerd-") {
        return container(Runtime::Containerd, id);
    }
    if let Some(id) = scoped("libpod-") {
        return container(Runtime::Podman, id);
    }
    // Rootless podman puts the container's processes in `libpod-<id>.scope/container`.
    if base == "container"
        && let Some(id) = parent
            .rsplit('/')
            .next()
            .and_then(|p| p.strip_prefix("libpod-"))
            .and_then(|p| p.strip_suffix(".scope"))
            .filter(|id| is_id(id))
    {
        return container(Runtime::Podman, id);
    }
    if base.starts_with("crio-conmon-") {
        return Kind::Raw;
    }
    if let Some(rest) = base.strip_prefix("crio-") {
        if let Some(id) = rest.strip_suffix(".scope").filter(|id| is_id(id)) {
            return container(Runtime::Crio, id);
        }
        if is_id(rest) {
            // Under the systemd driver a bare `crio-<id>` is the pod sandbox, which cAdvisor
            // does not report; under cgroupfs it is the container.
            return if path.contains(".slice/") {
                Kind::Ignored
            } else {
                container(Runtime::Crio, rest)
            };
        }
    }
    if is_id(base) {
        if parent == "/docker" || parent.ends_with("/docker") {
            return container(Runtime::Docker, base);
        }
        return Kind::Candidate {
            id: base.to_owned(),
        };
    }
    if let Some(id) = find_id(base) {
        return Kind::Candidate { id: id.to_owned() };
    }
    Kind::Raw
}

/// Whether a path is under a Kubernetes pod hierarchy (`/kubepods`, `/kubepods.slice`).
pub fn under_kubepods(path: &str) -> bool {
    path.starts_with("/kubepods")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1b9c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b";

    fn c(runtime: Runtime) -> Kind {
        Kind::Container {
            runtime,
            id: ID.to_owned(),
        }
    }

    #[test]
    fn path_schemes_of_every_runtime() {
        assert_eq!(classify("/"), Kind::Root);
        assert_eq!(classify(&format!("/docker/{ID}")), c(Runtime::Docker));
        assert_eq!(
            classify(&format!("/system.slice/docker-{ID}.scope")),
            c(Runtime::Docker)
        );
        assert_eq!(
            classify(&format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-{ID}.scope"
            )),
            c(Runtime::Containerd)
        );
        assert_eq!(
            classify(&format!(
                "/kubepods.slice/kubepods-pod12.slice/crio-{ID}.scope"
            )),
            c(Runtime::Crio)
        );
        assert_eq!(
            classify(&format!("/kubepods.slice/kubepods-pod12.slice/crio-{ID}")),
            Kind::Ignored
        );
        assert_eq!(
            classify(&format!("/kubepods/besteffort/pod12/crio-{ID}")),
            c(Runtime::Crio)
        );
        assert_eq!(
            classify(&format!(
                "/kubepods.slice/kubepods-pod12.slice/crio-conmon-{ID}.scope"
            )),
            Kind::Raw
        );
        assert_eq!(
            classify(&format!("/machine.slice/libpod-{ID}.scope")),
            c(Runtime::Podman)
        );
        assert_eq!(
            classify(&format!(
                "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"
            )),
            c(Runtime::Podman)
        );
        assert_eq!(
            classify(&format!("/kubepods/burstable/pod12/{ID}")),
            Kind::Candidate { id: ID.into() }
        );
        assert_eq!(
            classify(&format!("/lxc/prefix-{ID}-suffix")),
            Kind::Candidate { id: ID.into() }
        );
        assert_eq!(classify("/system.slice/ssh.service"), Kind::Raw);
        assert_eq!(classify("/system.slice"), Kind::Raw);
        assert_eq!(
            classify("/user.slice/user-1000.slice/session-3.scope"),
            Kind::Raw
        );
        assert_eq!(
            classify("/system.slice/var-lib-docker-overlay2.mount"),
            Kind::Ignored
        );
        assert_eq!(classify("/docker"), Kind::Raw);
        assert_eq!(classify("/docker/ABC"), Kind::Raw);
        assert!(under_kubepods("/kubepods.slice/x"));
        assert!(!under_kubepods("/docker/x"));
    }
}
