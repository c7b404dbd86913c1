//! `dmmultipath`: device-mapper multipath devices and their paths, from
//! `<sysfs>/block/dm-*/{dm/{uuid,name,suspended},size,slaves/}` and each path's
//! `<sysfs>/block/<path>/device/state` (`node_dmmultipath_*`).
//!
//! Hand-written (procfs-core reads no sysfs), following upstream procfs: a `dm-*` device is a
//! multipath device when its `dm/uuid` starts with `mpath-`; a path is active when its SCSI state
//! is `running` or its NVMe state `live`. No `block` directory (or no permission) is "no data".

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::sysfs::{go_trim_space, sys_read_file, to_valid_utf8};

/// Sector size of the block `size` attribute.
const SECTOR_SIZE: u64 = 512;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(DmMultipath {
            block: context.paths.sys("block"),
        }))
    })
}

struct DmMultipath {
    block: PathBuf,
}

struct Device {
    name: String,
    sysfs_name: String,
    uuid: String,
    suspended: bool,
    size_bytes: u64,
    paths: Vec<(String, String)>,
}

fn read_text(path: &Path) -> std::io::Result<String> {
    sys_read_file(path).map(|bytes| to_valid_utf8(go_trim_space(&bytes)))
}

fn read_uint(path: &Path) -> Result<u64, CollectorError> {
    let text = read_text(path).map_err(|err| CollectorError::io(path, err))?;
    text.parse()
        .map_err(|_| CollectorError::parse(path, format!("{text:?} is not an unsigned integer")))
}

fn sorted_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

fn is_path_active(state: &str) -> bool {
    state == "running" || state == "live"
}

impl DmMultipath {
    fn paths(&self, device: &str) -> Result<Vec<(String, String)>, CollectorError> {
        let slaves = self.block.join(device).join("slaves");
        let names = match sorted_names(&slaves) {
            Ok(names) => names,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(CollectorError::io(&slaves, err)),
        };
        let mut paths = Vec::with_capacity(names.len());
        for name in names {
            let state_path = self.block.join(&name).join("device/state");
            let state =
                read_text(&state_path).map_err(|err| CollectorError::io(&state_path, err))?;
            paths.push((name, state));
        }
        Ok(paths)
    }

    fn devices(&self) -> Result<Vec<Device>, CollectorError> {
        let names = match sorted_names(&self.block) {
            Ok(names) => names,
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::NotFound | ErrorKind::PermissionDenied
                ) =>
            {
                tracing::debug!(error = %err, "Could not read DM-multipath devices");
                return Err(CollectorError::NoData);
            }
            Err(err) => return Err(CollectorError::io(&self.block, err)),
        };
        let mut devices = Vec::new();
        for sysfs_name in names.into_iter().filter(|name| name.starts_with("dm-")) {
            let dm = self.block.join(&sysfs_name).join("dm");
            let uuid_path = dm.join("uuid");
            let uuid = match read_text(&uuid_path) {
                Ok(uuid) => uuid,
                Err(err) if err.kind() == ErrorKind::NotFound => continue,
                Err(err) => return Err(CollectorError::io(&uuid_path, err)),
            };
            if !uuid.starts_with("mpath-") {
                continue;
            }
            let name_path = dm.join("name");
            let name = read_text(&name_path).map_err(|err| CollectorError::io(&name_path, err))?;
            let suspended = read_uint(&dm.join("suspended"))? == 1;
            let sectors = read_uint(&self.block.join(&sysfs_name).join("size"))?;
            let paths = self.paths(&sysfs_name)?;
            devices.push(Device {
                name,
                sysfs_name,
                uuid,
                suspended,
                size_bytes: sectors.wrapping_mul(SECTOR_SIZE),
                paths,
            });
        }
        Ok(devices)
    }
}

impl Collector for DmMultipath {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let devices = self.devices()?;
        let gauge = MetricFamily::gauge;
        let mut info = gauge(
            "node_dmmultipath_device_info",
            "Non-numeric information about a DM-multipath device.",
        );
        let mut active = gauge(
            "node_dmmultipath_device_active",
            "Whether the multipath device-mapper device is active (1) or suspended (0).",
        );
        let mut size = gauge(
            "node_dmmultipath_device_size_bytes",
            "Size of the multipath device in bytes, read from /sys/block/<dm>/size.",
        );
        let mut paths = gauge(
            "node_dmmultipath_device_paths",
            "Number of paths for a multipath device.",
        );
        let mut paths_active = gauge(
            "node_dmmultipath_device_paths_active",
            "Number of paths in active state (SCSI running or NVMe live) for a multipath device.",
        );
        let mut paths_failed = gauge(
            "node_dmmultipath_device_paths_failed",
            "Number of paths not in active state for a multipath device.",
        );
        let mut path_state = gauge(
            "node_dmmultipath_path_state",
            "Reports the underlying device state for a multipath path, as read from /sys/block/<dev>/device/state.",
        );
        for device in &devices {
            let labels = [
                ("device", device.name.as_str()),
                ("sysfs_name", device.sysfs_name.as_str()),
            ];
            info.push(
                &[
                    ("device", device.name.as_str()),
                    ("sysfs_name", device.sysfs_name.as_str()),
                    ("uuid", device.uuid.as_str()),
                ],
                1.0,
            );
            active.push(&labels, if device.suspended { 0.0 } else { 1.0 });
            size.push(&labels, device.size_bytes as f64);
            let live = device
                .paths
                .iter()
                .filter(|(_, state)| is_path_active(state))
                .count();
            for (path, state) in &device.paths {
                path_state.push(
                    &[
                        ("device", device.name.as_str()),
                        ("path", path),
                        ("state", state),
                    ],
                    1.0,
                );
            }
            paths.push(&labels, device.paths.len() as f64);
            paths_active.push(&labels, live as f64);
            paths_failed.push(&labels, (device.paths.len() - live) as f64);
        }
        out.extend([
            info,
            active,
            size,
            paths,
            paths_active,
            paths_failed,
            path_state,
        ]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{run_on_sysfs, write};

    #[test]
    fn reads_multipath_devices() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        write(&sys.join("block/dm-0/dm/uuid"), "LVM-abc\n");
        write(&sys.join("block/dm-1/dm/uuid"), "mpath-3600\n");
        write(&sys.join("block/dm-1/dm/name"), "mpatha\n");
        write(&sys.join("block/dm-1/dm/suspended"), "0\n");
        write(&sys.join("block/dm-1/size"), "4\n");
        write(&sys.join("block/dm-1/slaves/sda"), "");
        write(&sys.join("block/dm-1/slaves/nvme0n1"), "");
        write(&sys.join("block/sda/device/state"), "offline\n");
        write(&sys.join("block/nvme0n1/device/state"), "live\n");
        let (result, lines) = run_on_sysfs(declare, sys, &[]);
        result.unwrap();
        assert_eq!(
            lines,
            [
                "node_dmmultipath_device_active device=mpatha,sysfs_name=dm-1 1",
                "node_dmmultipath_device_info device=mpatha,sysfs_name=dm-1,uuid=mpath-3600 1",
                "node_dmmultipath_device_paths device=mpatha,sysfs_name=dm-1 2",
                "node_dmmultipath_device_paths_active device=mpatha,sysfs_name=dm-1 1",
                "node_dmmultipath_device_paths_failed device=mpatha,sysfs_name=dm-1 1",
                "node_dmmultipath_device_size_bytes device=mpatha,sysfs_name=dm-1 2048",
                "node_dmmultipath_path_state device=mpatha,path=nvme0n1,state=live 1",
                "node_dmmultipath_path_state device=mpatha,path=sda,state=offline 1",
            ]
        );
        write(&sys.join("block/dm-1/dm/suspended"), "maybe\n");
        let (result, _) = run_on_sysfs(declare, sys, &[]);
        assert!(matches!(result, Err(CollectorError::Parse { .. })));
    }

    #[test]
    fn no_block_directory_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = run_on_sysfs(declare, dir.path(), &[]);
        assert!(matches!(result, Err(CollectorError::NoData)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        #[test]
        fn garbage_attributes_never_panic(uuid in ".{0,20}", number in ".{0,12}", state in ".{0,12}") {
            let dir = tempfile::tempdir().unwrap();
            let sys = dir.path();
            write(&sys.join("block/dm-1/dm/uuid"), &format!("mpath-{uuid}"));
            write(&sys.join("block/dm-1/dm/name"), &uuid);
            write(&sys.join("block/dm-1/dm/suspended"), &number);
            write(&sys.join("block/dm-1/size"), &number);
            write(&sys.join("block/dm-1/slaves/sda"), "");
            write(&sys.join("block/sda/device/state"), &state);
            let _ = run_on_sysfs(declare, sys, &[]);
        }
    }
}
