//! `drm`: amdgpu cards under `<sysfs>/class/drm/card[0-9]/device` (`node_drm_card_info`,
//! `node_drm_gpu_busy_percent`, `node_drm_memory_{gtt,vram,vis_vram}_{size,used}_bytes`).
//!
//! Follows upstream's procfs library (`ClassDRMCardAMDGPUStats`): only `card` plus one digit is a
//! card (not `card0-DP-1`, not `renderD128`, not `card10`); a card whose `device/uevent` does not
//! name `DRIVER=amdgpu` is skipped; an attribute that cannot be read reads as 0 (or ""). Where
//! upstream fails the whole collector, so does this one: a `device/uevent` that cannot be read
//! (other than `ENODATA`, which skips the card) or a `device` link that does not resolve. An
//! attribute that is there but is not a number makes upstream dereference a nil pointer and
//! crash the exporter; here only the collector fails (success 0).
//!
//! Cost: the driver binding, the totals of VRAM, visible VRAM and GTT, the VRAM vendor and the
//! unique id are fixed when the driver binds the card, so they are read once per card and kept
//! until the card's entry in `class/drm` is replaced (a hotplug or a rebind creates a new sysfs
//! node, with a new inode, which the directory listing gives without an extra call). Each scrape
//! then lists `class/drm` and reads the five attributes that move.

use std::collections::HashMap;
use std::os::unix::fs::DirEntryExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::sysfs::{go_trim_space, parse_go_uint, sys_read_file, to_valid_utf8};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Drm {
            class: context.paths.sys("class/drm"),
            known: Mutex::new(HashMap::new()),
        }))
    })
}

struct Drm {
    class: PathBuf,
    /// What was learnt of each card, by name, with the inode of its `class/drm` entry.
    known: Mutex<HashMap<String, Known>>,
}

struct Known {
    inode: u64,
    /// `None`: not an amdgpu card.
    amdgpu: Option<FixedAttributes>,
}

/// What an amdgpu card reports once, when its driver binds it.
#[derive(Debug, Clone, PartialEq)]
struct FixedAttributes {
    gtt_size: u64,
    vis_vram_size: u64,
    vram_size: u64,
    vram_vendor: String,
    unique_id: String,
}

/// What moves between scrapes.
#[derive(Debug, PartialEq)]
struct Reading {
    gpu_busy_percent: u64,
    gtt_used: u64,
    vis_vram_used: u64,
    vram_used: u64,
    power_performance_level: String,
}

/// A `device/<name>` attribute as procfs' `SysReadFile` gives it, `None` when it cannot be read
/// (upstream ignores those errors and leaves the value at its zero).
fn attribute(device: &Path, name: &str) -> Option<String> {
    let bytes = sys_read_file(&device.join(name)).ok()?;
    Some(to_valid_utf8(go_trim_space(&bytes)))
}

/// A numeric attribute: absent reads as 0; present, it must parse (with Go's base prefixes, as
/// upstream's `ParseUint(v, 0, 64)`).
fn number(device: &Path, name: &str) -> Result<u64, CollectorError> {
    match attribute(device, name) {
        None => Ok(0),
        Some(text) => parse_go_uint(&text).ok_or_else(|| {
            CollectorError::parse(
                &device.join(name),
                format!("{text:?} is not an unsigned integer"),
            )
        }),
    }
}

/// Whether a card's `uevent` names the amdgpu driver (upstream matches the text anywhere).
fn is_amdgpu(uevent: &str) -> bool {
    uevent.contains("DRIVER=amdgpu")
}

/// Looks at a card for the first time: `Ok(None)` when the card is to be skipped this scrape.
fn discover(card: &Path) -> Result<Option<Known>, CollectorError> {
    let uevent_path = card.join("device/uevent");
    let uevent = match sys_read_file(&uevent_path) {
        Ok(bytes) => to_valid_utf8(go_trim_space(&bytes)),
        Err(err) if err.raw_os_error() == Some(libc::ENODATA) => return Ok(None),
        Err(err) => return Err(CollectorError::io(&uevent_path, err)),
    };
    if !is_amdgpu(&uevent) {
        return Ok(Some(Known {
            inode: 0,
            amdgpu: None,
        }));
    }
    let device = card.join("device");
    // Upstream resolves the link for the device's name and type and fails on a broken one.
    std::fs::canonicalize(&device).map_err(|err| CollectorError::io(&device, err))?;
    let fixed = FixedAttributes {
        gtt_size: number(&device, "mem_info_gtt_total")?,
        vis_vram_size: number(&device, "mem_info_vis_vram_total")?,
        vram_size: number(&device, "mem_info_vram_total")?,
        vram_vendor: attribute(&device, "mem_info_vram_vendor").unwrap_or_default(),
        unique_id: attribute(&device, "unique_id").unwrap_or_default(),
    };
    Ok(Some(Known {
        inode: 0,
        amdgpu: Some(fixed),
    }))
}

fn read_moving(device: &Path) -> Result<Reading, CollectorError> {
    Ok(Reading {
        gpu_busy_percent: number(device, "gpu_busy_percent")?,
        gtt_used: number(device, "mem_info_gtt_used")?,
        vis_vram_used: number(device, "mem_info_vis_vram_used")?,
        vram_used: number(device, "mem_info_vram_used")?,
        power_performance_level: attribute(device, "power_dpm_force_performance_level")
            .unwrap_or_default(),
    })
}

/// The `card[0-9]` entries of `class/drm` (Go's `filepath.Glob`: exactly one digit), sorted, with
/// their inodes. A directory that cannot be listed has no cards, as a glob finds none.
fn cards(class: &Path) -> Vec<(String, u64)> {
    let Ok(entries) = std::fs::read_dir(class) else {
        return Vec::new();
    };
    let mut cards: Vec<(String, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let digit = name.strip_prefix("card")?;
            (digit.len() == 1 && digit.as_bytes()[0].is_ascii_digit()).then(|| (name, entry.ino()))
        })
        .collect();
    cards.sort();
    cards
}

struct Families {
    info: MetricFamily,
    busy: MetricFamily,
    gtt_size: MetricFamily,
    gtt_used: MetricFamily,
    vis_vram_size: MetricFamily,
    vis_vram_used: MetricFamily,
    vram_size: MetricFamily,
    vram_used: MetricFamily,
}

impl Families {
    fn new() -> Self {
        let gauge = MetricFamily::gauge;
        Families {
            info: gauge("node_drm_card_info", "Card information"),
            busy: gauge(
                "node_drm_gpu_busy_percent",
                "How busy the GPU is as a percentage.",
            ),
            gtt_size: gauge(
                "node_drm_memory_gtt_size_bytes",
                "The size of the graphics translation table (GTT) block in bytes.",
            ),
            gtt_used: gauge(
                "node_drm_memory_gtt_used_bytes",
                "The used amount of the graphics translation table (GTT) block in bytes.",
            ),
            vis_vram_size: gauge(
                "node_drm_memory_vis_vram_size_bytes",
                "The size of visible VRAM in bytes.",
            ),
            vis_vram_used: gauge(
                "node_drm_memory_vis_vram_used_bytes",
                "The used amount of visible VRAM in bytes.",
            ),
            vram_size: gauge(
                "node_drm_memory_vram_size_bytes",
                "The size of VRAM in bytes.",
            ),
            vram_used: gauge(
                "node_drm_memory_vram_used_bytes",
                "The used amount of VRAM in bytes.",
            ),
        }
    }

    fn add(&mut self, card: &str, fixed: &FixedAttributes, reading: &Reading) {
        self.info.push(
            &[
                ("card", card),
                ("memory_vendor", &fixed.vram_vendor),
                ("power_performance_level", &reading.power_performance_level),
                ("unique_id", &fixed.unique_id),
                ("vendor", "amd"),
            ],
            1.0,
        );
        let by_card = [("card", card)];
        self.busy.push(&by_card, reading.gpu_busy_percent as f64);
        self.gtt_size.push(&by_card, fixed.gtt_size as f64);
        self.gtt_used.push(&by_card, reading.gtt_used as f64);
        self.vram_size.push(&by_card, fixed.vram_size as f64);
        self.vram_used.push(&by_card, reading.vram_used as f64);
        self.vis_vram_size
            .push(&by_card, fixed.vis_vram_size as f64);
        self.vis_vram_used
            .push(&by_card, reading.vis_vram_used as f64);
    }

    fn into_array(self) -> [MetricFamily; 8] {
        [
            self.info,
            self.busy,
            self.gtt_size,
            self.gtt_used,
            self.vram_size,
            self.vram_used,
            self.vis_vram_size,
            self.vis_vram_used,
        ]
    }
}

impl Collector for Drm {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let listed = cards(&self.class);
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.retain(|name, card| {
            listed
                .iter()
                .any(|(n, ino)| n == name && *ino == card.inode)
        });
        let mut families = Families::new();
        for (name, inode) in &listed {
            let card = self.class.join(name);
            if !known.contains_key(name) {
                let Some(mut found) = discover(&card)? else {
                    continue;
                };
                found.inode = *inode;
                known.insert(name.clone(), found);
            }
            let Some(fixed) = known.get(name).and_then(|card| card.amdgpu.as_ref()) else {
                continue;
            };
            let reading = read_moving(&card.join("device"))?;
            families.add(name, fixed, &reading);
        }
        out.extend(families.into_array());
        Ok(())
    }
}

#[cfg(test)]
#[path = "drm_tests.rs"]
mod tests;
