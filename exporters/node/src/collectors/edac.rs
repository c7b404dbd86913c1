//! `edac`: memory error counters from `/sys/devices/system/edac/mc/mcN` as
//! `node_edac_{correctable,uncorrectable}_errors_total{controller}`,
//! `node_edac_csrow_{correctable,uncorrectable}_errors_total{controller,csrow}` (with
//! `csrow="unknown"` for the controller's `*_noinfo_count`) and, as node_exporter 1.12,
//! `node_edac_channel_{correctable,uncorrectable}_errors_total{controller,csrow,channel,dimm_label}`.
//!
//! No EDAC directory means no series and success 1, as upstream. A counter that cannot be read
//! fails the collector (series already read stay exported); a channel without `chN_ue_count`
//! only lacks that series.

use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::{read_trimmed, read_u64};
use crate::sysfs::numbered_entries;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Edac {
        mc_dir: paths.sys("devices/system/edac/mc"),
    }))
}

struct Edac {
    mc_dir: PathBuf,
}

/// The leading digits of what follows `mc`/`csrow` (upstream's `([0-9]*)` capture).
fn leading_digits(text: &str) -> &str {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    &text[..end]
}

/// The channel number of a `ch<N>_ce_count` file.
fn ce_count_channel(file: &str) -> Option<&str> {
    let digits = file.strip_prefix("ch")?.strip_suffix("_ce_count")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// `ch0_dimm_label` as upstream labels it: `#` removed, `_` before `csrow` and `channel`;
/// `unknown` when the file cannot be read.
fn dimm_label(csrow: &Path, channel: &str) -> String {
    match read_trimmed(&csrow.join(format!("ch{channel}_dimm_label"))) {
        Ok(text) => text
            .replace('#', "")
            .replace("csrow", "_csrow")
            .replace("channel", "_channel"),
        Err(_) => "unknown".to_owned(),
    }
}

struct EdacFamilies {
    ce: MetricFamily,
    ue: MetricFamily,
    csrow_ce: MetricFamily,
    csrow_ue: MetricFamily,
    channel_ce: MetricFamily,
    channel_ue: MetricFamily,
}

impl EdacFamilies {
    fn new() -> Self {
        EdacFamilies {
            ce: MetricFamily::counter(
                "node_edac_correctable_errors_total",
                "Total correctable memory errors.",
            ),
            ue: MetricFamily::counter(
                "node_edac_uncorrectable_errors_total",
                "Total uncorrectable memory errors.",
            ),
            csrow_ce: MetricFamily::counter(
                "node_edac_csrow_correctable_errors_total",
                "Total correctable memory errors for this csrow.",
            ),
            csrow_ue: MetricFamily::counter(
                "node_edac_csrow_uncorrectable_errors_total",
                "Total uncorrectable memory errors for this csrow.",
            ),
            channel_ce: MetricFamily::counter(
                "node_edac_channel_correctable_errors_total",
                "Total correctable memory errors for this channel.",
            ),
            channel_ue: MetricFamily::counter(
                "node_edac_channel_uncorrectable_errors_total",
                "Total uncorrectable memory errors for this channel.",
            ),
        }
    }

    fn into_vec(self) -> [MetricFamily; 6] {
        [
            self.ce,
            self.ue,
            self.csrow_ce,
            self.csrow_ue,
            self.channel_ce,
            self.channel_ue,
        ]
    }
}

impl Edac {
    fn controller(
        &self,
        f: &mut EdacFamilies,
        dir: &Path,
        controller: &str,
    ) -> Result<(), CollectorError> {
        let count = |file: &str| read_u64(&dir.join(file)).map(|v| v as f64);
        f.ce.push(&[("controller", controller)], count("ce_count")?);
        f.csrow_ce.push(
            &[("controller", controller), ("csrow", "unknown")],
            count("ce_noinfo_count")?,
        );
        f.ue.push(&[("controller", controller)], count("ue_count")?);
        f.csrow_ue.push(
            &[("controller", controller), ("csrow", "unknown")],
            count("ue_noinfo_count")?,
        );
        for (rest, csrow_dir) in numbered_entries(dir, "csrow") {
            let csrow = leading_digits(&rest);
            let labels = [("controller", controller), ("csrow", csrow)];
            f.csrow_ce
                .push(&labels, read_u64(&csrow_dir.join("ce_count"))? as f64);
            f.csrow_ue
                .push(&labels, read_u64(&csrow_dir.join("ue_count"))? as f64);
            let mut files: Vec<String> = std::fs::read_dir(&csrow_dir)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .filter_map(|e| e.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            for (file, channel) in files
                .iter()
                .filter_map(|file| Some((file, ce_count_channel(file)?)))
            {
                let label = dimm_label(&csrow_dir, channel);
                let labels = [
                    ("controller", controller),
                    ("csrow", csrow),
                    ("channel", channel),
                    ("dimm_label", label.as_str()),
                ];
                f.channel_ce
                    .push(&labels, read_u64(&csrow_dir.join(file))? as f64);
                match read_u64(&csrow_dir.join(format!("ch{channel}_ue_count"))) {
                    Ok(value) => f.channel_ue.push(&labels, value as f64),
                    Err(err) => tracing::debug!(%err, "no uncorrectable count for this channel"),
                }
            }
        }
        Ok(())
    }
}

impl Collector for Edac {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut families = EdacFamilies::new();
        let mut result = Ok(());
        for (rest, dir) in numbered_entries(&self.mc_dir, "mc") {
            let controller = leading_digits(&rest).to_owned();
            if let Err(err) = self.controller(&mut families, &dir, &controller) {
                result = Err(err);
                break;
            }
        }
        out.extend(families.into_vec());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::collectors::testing::write;

    fn run(sys: &Path) -> (Result<(), CollectorError>, Vec<String>) {
        crate::collectors::testing::run_on_sysfs(declare, sys, &[])
    }

    #[test]
    fn reads_controllers_csrows_and_channels() {
        let root = tempfile::tempdir().unwrap();
        let mc = root.path().join("devices/system/edac/mc/mc0");
        for (file, value) in [
            ("ce_count", "1"),
            ("ce_noinfo_count", "2"),
            ("ue_count", "5"),
            ("ue_noinfo_count", "6"),
            ("csrow0/ce_count", "3"),
            ("csrow0/ue_count", "4"),
            ("csrow0/ch0_ce_count", "0"),
            ("csrow0/ch0_ue_count", "2"),
            ("csrow0/ch0_dimm_label", "mc#0csrow#0channel#0"),
            ("csrow0/ch1_ce_count", "7"),
        ] {
            write(&mc.join(file), &format!("{value}\n"));
        }
        let (result, lines) = run(root.path());
        result.unwrap();
        assert_eq!(
            lines,
            vec![
                "node_edac_channel_correctable_errors_total channel=0,controller=0,csrow=0,dimm_label=mc0_csrow0_channel0 0",
                "node_edac_channel_correctable_errors_total channel=1,controller=0,csrow=0,dimm_label=unknown 7",
                "node_edac_channel_uncorrectable_errors_total channel=0,controller=0,csrow=0,dimm_label=mc0_csrow0_channel0 2",
                "node_edac_correctable_errors_total controller=0 1",
                "node_edac_csrow_correctable_errors_total controller=0,csrow=0 3",
                "node_edac_csrow_correctable_errors_total controller=0,csrow=unknown 2",
                "node_edac_csrow_uncorrectable_errors_total controller=0,csrow=0 4",
                "node_edac_csrow_uncorrectable_errors_total controller=0,csrow=unknown 6",
                "node_edac_uncorrectable_errors_total controller=0 5",
            ]
        );
        write(&mc.join("csrow0/ue_count"), "many\n");
        let (result, lines) = run(root.path());
        assert!(matches!(result, Err(CollectorError::Parse { .. })));
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn no_edac_is_empty_success() {
        let root = tempfile::tempdir().unwrap();
        let (result, lines) = run(root.path());
        result.unwrap();
        assert!(lines.is_empty());
    }
}
