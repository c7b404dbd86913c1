//! `bonding`: `node_bonding_slaves{master}` and `node_bonding_active{master}` from
//! `<sysfs>/class/net/bonding_masters`, each master's `bonding/slaves`, and each slave's
//! `lower_<slave>/bonding_slave/mii_status` (`slave_<slave>/...` on older kernels).

use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Bonding {
        class_net: paths.sys("class/net"),
    }))
}

struct Bonding {
    class_net: PathBuf,
}

/// `(configured slaves, slaves whose MII status is up)` per master.
fn read_bonding(class_net: &Path) -> Result<Vec<(String, u32, u32)>, CollectorError> {
    let masters = read_string(&class_net.join("bonding_masters"))?;
    let mut out = Vec::new();
    for master in masters.split_ascii_whitespace() {
        let slaves = read_string(&class_net.join(master).join("bonding/slaves"))?;
        let (mut configured, mut active) = (0, 0);
        for slave in slaves.split_ascii_whitespace() {
            let status = mii_status(class_net, master, slave)?;
            configured += 1;
            if status.trim() == "up" {
                active += 1;
            }
        }
        out.push((master.to_owned(), configured, active));
    }
    Ok(out)
}

fn mii_status(class_net: &Path, master: &str, slave: &str) -> Result<String, CollectorError> {
    let current = class_net
        .join(master)
        .join(format!("lower_{slave}"))
        .join("bonding_slave/mii_status");
    match read_string(&current) {
        Err(err) if err.is_not_found() => {
            let older = class_net
                .join(master)
                .join(format!("slave_{slave}"))
                .join("bonding_slave/mii_status");
            read_string(&older)
        }
        other => other,
    }
}

impl Collector for Bonding {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let masters = read_bonding(&self.class_net).map_err(|err| {
            if err.is_not_found() {
                tracing::debug!(err = %err, "Not collecting bonding, file does not exist");
            }
            err.not_found_as_no_data()
        })?;
        let mut slaves = MetricFamily::gauge(
            "node_bonding_slaves",
            "Number of configured slaves per bonding interface.",
        );
        let mut active = MetricFamily::gauge(
            "node_bonding_active",
            "Number of active slaves per bonding interface.",
        );
        for (master, configured, up) in &masters {
            slaves.push(&[("master", master)], f64::from(*configured));
            active.push(&[("master", master)], f64::from(*up));
        }
        out.push(slaves);
        out.push(active);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        crate::collectors::testing::write(&root.join(rel), text);
    }

    #[test]
    fn counts_configured_and_active_slaves() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "bonding_masters", "bond0 dmz\n");
        write(root, "bond0/bonding/slaves", "\n");
        write(root, "dmz/bonding/slaves", "eth0 eth4 eth5\n");
        write(root, "dmz/lower_eth0/bonding_slave/mii_status", "up\n");
        write(root, "dmz/slave_eth4/bonding_slave/mii_status", "down\n");
        write(root, "dmz/lower_eth5/bonding_slave/mii_status", "up\n");
        let masters = read_bonding(root).unwrap();
        assert_eq!(
            masters,
            vec![("bond0".to_owned(), 0, 0), ("dmz".to_owned(), 3, 2)]
        );
    }

    #[test]
    fn no_bonding_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let collector = Bonding {
            class_net: dir.path().to_owned(),
        };
        let mut out = Vec::new();
        assert!(matches!(
            collector.update(&mut out),
            Err(CollectorError::NoData)
        ));
    }
}
