//! `nvmesubsystem`: NVMe subsystems and their controller paths (NVMe multipath) from
//! `<sysfs>/class/nvme-subsystem/nvme-subsys<N>/` (`node_nvmesubsystem_*`).
//!
//! Hand-written (procfs-core reads no sysfs), following upstream procfs: every subsystem needs
//! `subsysnqn`, `model`, `serial` and `iopolicy`, every `nvme<N>` controller entry `state`,
//! `transport` and `address`; `nvme<N>n<M>` entries are its namespaces. As upstream wraps the
//! file errors it returns, any absent or unreadable attribute makes the scrape "no data".

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::dir_names;
use crate::sysfs::{go_trim_space, sys_read_file, to_valid_utf8};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(NvmeSubsystem {
            class: context.paths.sys("class/nvme-subsystem"),
        }))
    })
}

struct NvmeSubsystem {
    class: PathBuf,
}

/// Every state `path_state` reports, sorted as upstream.
const STATES: [&str; 7] = [
    "connecting",
    "dead",
    "deleting",
    "live",
    "new",
    "resetting",
    "unknown",
];

/// The kernel's controller state as upstream labels it.
fn normalize_state(raw: &str) -> &'static str {
    match raw {
        "live" => "live",
        "connecting" => "connecting",
        "resetting" => "resetting",
        "dead" => "dead",
        "deleting" | "deleting (no IO)" => "deleting",
        "new" => "new",
        _ => "unknown",
    }
}

struct Controller {
    name: String,
    state: String,
    transport: String,
}

struct Subsystem {
    name: String,
    nqn: String,
    model: String,
    serial: String,
    iopolicy: String,
    controllers: Vec<Controller>,
    namespaces: Vec<String>,
}

fn read_attribute(path: &Path) -> Result<String, CollectorError> {
    match sys_read_file(path) {
        Ok(bytes) => Ok(to_valid_utf8(go_trim_space(&bytes))),
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::NotFound | ErrorKind::PermissionDenied
            ) =>
        {
            tracing::debug!(file = %path.display(), error = %err, "Could not read NVMe subsystem info");
            Err(CollectorError::NoData)
        }
        Err(err) => Err(CollectorError::io(path, err)),
    }
}

/// The entries of `dir`, sorted; a directory that is absent or unreadable is no data.
fn sorted_names(dir: &Path) -> Result<Vec<String>, CollectorError> {
    dir_names(dir).map_err(|err| match &err {
        CollectorError::Io { source, .. }
            if matches!(
                source.kind(),
                ErrorKind::NotFound | ErrorKind::PermissionDenied
            ) =>
        {
            tracing::debug!(dir = %dir.display(), error = %err, "Could not read NVMe subsystem info");
            CollectorError::NoData
        }
        _ => err,
    })
}

/// `nvme<digits>`: a controller.
fn is_controller(name: &str) -> bool {
    name.strip_prefix("nvme")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `nvme<digits>n<digits>`: a namespace.
fn is_namespace(name: &str) -> bool {
    name.strip_prefix("nvme")
        .and_then(|rest| rest.split_once('n'))
        .is_some_and(|(controller, namespace)| {
            [controller, namespace]
                .iter()
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

fn read_subsystem(dir: &Path, name: String) -> Result<Subsystem, CollectorError> {
    let nqn = read_attribute(&dir.join("subsysnqn"))?;
    let model = read_attribute(&dir.join("model"))?;
    let serial = read_attribute(&dir.join("serial"))?;
    let iopolicy = read_attribute(&dir.join("iopolicy"))?;
    let mut controllers = Vec::new();
    let mut namespaces = Vec::new();
    for entry in sorted_names(dir)? {
        if is_controller(&entry) {
            let controller = dir.join(&entry);
            let state = read_attribute(&controller.join("state"))?;
            let transport = read_attribute(&controller.join("transport"))?;
            // Not exported, but upstream fails a controller without it.
            read_attribute(&controller.join("address"))?;
            controllers.push(Controller {
                name: entry,
                state,
                transport,
            });
        } else if is_namespace(&entry) {
            namespaces.push(entry);
        }
    }
    Ok(Subsystem {
        name,
        nqn,
        model,
        serial,
        iopolicy,
        controllers,
        namespaces,
    })
}

impl Collector for NvmeSubsystem {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut subsystems = Vec::new();
        for name in sorted_names(&self.class)? {
            if name.starts_with("nvme-subsys") {
                subsystems.push(read_subsystem(&self.class.join(&name), name)?);
            }
        }
        let gauge = MetricFamily::gauge;
        let mut info = gauge(
            "node_nvmesubsystem_info",
            "Non-numeric information about an NVMe subsystem.",
        );
        let mut namespace_info = gauge(
            "node_nvmesubsystem_namespace_info",
            "Maps an NVMe namespace block device to its subsystem.",
        );
        let mut paths = gauge(
            "node_nvmesubsystem_paths",
            "Number of controller paths for an NVMe subsystem.",
        );
        let mut paths_live = gauge(
            "node_nvmesubsystem_paths_live",
            "Number of controller paths in live state for an NVMe subsystem.",
        );
        let mut path_state = gauge(
            "node_nvmesubsystem_path_state",
            "Current NVMe controller path state (1 for the current state, 0 for all others).",
        );
        for subsystem in &subsystems {
            let name = subsystem.name.as_str();
            info.push(
                &[
                    ("subsystem", name),
                    ("nqn", &subsystem.nqn),
                    ("model", &subsystem.model),
                    ("serial", &subsystem.serial),
                    ("iopolicy", &subsystem.iopolicy),
                ],
                1.0,
            );
            for namespace in &subsystem.namespaces {
                namespace_info.push(&[("subsystem", name), ("device", namespace)], 1.0);
            }
            let mut live = 0usize;
            for controller in &subsystem.controllers {
                let state = normalize_state(&controller.state);
                if state == "live" {
                    live += 1;
                }
                for candidate in STATES {
                    path_state.push(
                        &[
                            ("subsystem", name),
                            ("controller", &controller.name),
                            ("transport", &controller.transport),
                            ("state", candidate),
                        ],
                        if candidate == state { 1.0 } else { 0.0 },
                    );
                }
            }
            paths.push(&[("subsystem", name)], subsystem.controllers.len() as f64);
            paths_live.push(&[("subsystem", name)], live as f64);
        }
        out.extend([info, namespace_info, paths, paths_live, path_state]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{run_on_sysfs, write};

    /// A fixture tree as the kernel lays it out: a subsystem with two fabric controllers (one
    /// reconnecting) and a shared namespace, and a PCIe subsystem with one.
    fn fixture(sys: &Path) {
        let class = sys.join("class/nvme-subsystem");
        let subsys0 = class.join("nvme-subsys0");
        write(
            &subsys0.join("subsysnqn"),
            "nqn.2014-08.org.nvmexpress:uuid:0b3d6b27-ffd7-4a6d-8a8e-6b2f3a9e1c10\n",
        );
        write(
            &subsys0.join("model"),
            "Linux                                   \n",
        );
        write(&subsys0.join("serial"), "a1b2c3d4e5f60718    \n");
        write(&subsys0.join("iopolicy"), "numa\n");
        for (controller, state) in [("nvme0", "live"), ("nvme1", "connecting")] {
            write(
                &subsys0.join(controller).join("state"),
                &format!("{state}\n"),
            );
            write(&subsys0.join(controller).join("transport"), "tcp\n");
            write(
                &subsys0.join(controller).join("address"),
                "traddr=192.168.1.10,trsvcid=4420,src_addr=192.168.1.2\n",
            );
        }
        write(&subsys0.join("nvme0n1/size"), "2097152\n");
        write(&subsys0.join("power/control"), "auto\n");
        let subsys1 = class.join("nvme-subsys1");
        write(
            &subsys1.join("subsysnqn"),
            "nqn.2021-09.com.example:nvme:SN123\n",
        );
        write(&subsys1.join("model"), "Example NVMe SSD 1TB\n");
        write(&subsys1.join("serial"), "SN123\n");
        write(&subsys1.join("iopolicy"), "round-robin\n");
        write(&subsys1.join("nvme2/state"), "deleting (no IO)\n");
        write(&subsys1.join("nvme2/transport"), "pcie\n");
        write(&subsys1.join("nvme2/address"), "0000:01:00.0\n");
        write(&subsys1.join("nvme2n1/size"), "1953525168\n");
        write(&subsys1.join("nvme2n2/size"), "1953525168\n");
    }

    #[test]
    fn reads_subsystems_in_the_kernel_layout() {
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path());
        let (result, lines) = run_on_sysfs(declare, dir.path(), &[]);
        result.unwrap();
        for line in [
            "node_nvmesubsystem_info iopolicy=numa,model=Linux,nqn=nqn.2014-08.org.nvmexpress:uuid:0b3d6b27-ffd7-4a6d-8a8e-6b2f3a9e1c10,serial=a1b2c3d4e5f60718,subsystem=nvme-subsys0 1",
            "node_nvmesubsystem_namespace_info device=nvme0n1,subsystem=nvme-subsys0 1",
            "node_nvmesubsystem_namespace_info device=nvme2n2,subsystem=nvme-subsys1 1",
            "node_nvmesubsystem_paths subsystem=nvme-subsys0 2",
            "node_nvmesubsystem_paths_live subsystem=nvme-subsys0 1",
            "node_nvmesubsystem_paths_live subsystem=nvme-subsys1 0",
            "node_nvmesubsystem_path_state controller=nvme1,state=connecting,subsystem=nvme-subsys0,transport=tcp 1",
            "node_nvmesubsystem_path_state controller=nvme1,state=live,subsystem=nvme-subsys0,transport=tcp 0",
            "node_nvmesubsystem_path_state controller=nvme2,state=deleting,subsystem=nvme-subsys1,transport=pcie 1",
        ] {
            assert!(lines.contains(&line.to_owned()), "{line} in {lines:#?}");
        }
        // 2 info, 3 namespaces, 2 + 2 path counts, 3 controllers × 7 states.
        assert_eq!(lines.len(), 2 + 3 + 4 + 21);
    }

    #[test]
    fn missing_pieces_are_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = run_on_sysfs(declare, dir.path(), &[]);
        assert!(matches!(result, Err(CollectorError::NoData)));
        fixture(dir.path());
        std::fs::remove_file(
            dir.path()
                .join("class/nvme-subsystem/nvme-subsys1/nvme2/address"),
        )
        .unwrap();
        let (result, _) = run_on_sysfs(declare, dir.path(), &[]);
        assert!(matches!(result, Err(CollectorError::NoData)));
    }

    #[test]
    fn names_and_states() {
        assert!(is_controller("nvme12") && !is_controller("nvme1n1") && !is_controller("nvme"));
        assert!(is_namespace("nvme0n1") && !is_namespace("nvme0n") && !is_namespace("nvmen1"));
        assert!(!is_namespace("nvme0c0n1"));
        assert_eq!(normalize_state("deleting (no IO)"), "deleting");
        assert_eq!(normalize_state("weird"), "unknown");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn garbage_never_panics(text in ".{0,30}") {
            let _ = is_controller(&text);
            let _ = is_namespace(&text);
            let _ = normalize_state(&text);
        }

        #[test]
        fn garbage_attributes_never_panic(state in ".{0,20}", cut in 0usize..12) {
            let dir = tempfile::tempdir().unwrap();
            fixture(dir.path());
            let controller = dir.path().join("class/nvme-subsystem/nvme-subsys0/nvme0");
            write(&controller.join("state"), &state);
            write(&controller.join("transport"), &"tcp-transport"[..cut]);
            let _ = run_on_sysfs(declare, dir.path(), &[]);
        }
    }
}
