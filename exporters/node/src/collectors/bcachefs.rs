//! `bcachefs`: per-filesystem statistics from `<sysfs>/fs/bcachefs/<uuid>/`
//! (`node_bcachefs_*`): btree cache size, compression by algorithm, error counts, every
//! `counters/<name>` since filesystem creation (`node_bcachefs_<name>_total`), btree writes by
//! type, and per device (`dev-<n>/`) its label, state, buckets, durability, IO done and IO
//! errors.
//!
//! Hand-written reader (procfs-core has no bcachefs support) with upstream procfs' rules: sizes
//! are human-readable (`2.05G`, `512k`: powers of 1024), absent files read as empty, the first
//! line of the `compression_stats` and `btree_write_stats` tables is their header, and a value
//! that does not parse fails the collector. No `fs/bcachefs` directory, or no filesystem in it,
//! is "no data".

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use octo_exporter_kit::exposition::sanitize_name;
use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_optional;
use crate::sysfs::parse_go_float;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Bcachefs {
            root: context.paths.sys("fs/bcachefs"),
        }))
    })
}

struct Bcachefs {
    root: PathBuf,
}

/// `2.05G`, `512k`, `720`: a number with an optional power-of-1024 suffix.
fn parse_human_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let exponent = match text.as_bytes().last()? {
        b'k' | b'K' => 1,
        b'm' | b'M' => 2,
        b'g' | b'G' => 3,
        b't' | b'T' => 4,
        b'p' | b'P' => 5,
        b'e' | b'E' => 6,
        _ => 0,
    };
    let number = if exponent == 0 {
        text
    } else {
        &text[..text.len() - 1]
    };
    let value = parse_go_float(number.trim())?;
    Some((value * 1024f64.powi(exponent)) as u64)
}

fn human(text: &str) -> Result<u64, String> {
    parse_human_bytes(text).ok_or_else(|| format!("invalid size {text:?}"))
}

fn unsigned(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not an unsigned integer"))
}

/// A table after its header line: `name: value value [value]` rows of 3+ fields.
fn table_rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .skip(1)
        .map(|line| line.split_ascii_whitespace().collect::<Vec<&str>>())
        .filter(|fields| fields.len() >= 3)
}

/// `compression_stats`: `(algorithm, compressed, uncompressed)`.
fn parse_compression(text: &str) -> Result<Vec<(String, u64, u64)>, String> {
    let mut rows = Vec::new();
    for fields in table_rows(text) {
        let compressed = human(fields[1])?;
        let uncompressed = human(fields[2])?;
        if let Some(average) = fields.get(3) {
            human(average)?;
        }
        let algorithm = fields[0].strip_suffix(':').unwrap_or(fields[0]);
        rows.push((algorithm.to_owned(), compressed, uncompressed));
    }
    Ok(rows)
}

/// `btree_write_stats`: `(type, count, average size)`.
fn parse_btree_writes(text: &str) -> Result<Vec<(String, u64, u64)>, String> {
    let mut rows = Vec::new();
    for fields in table_rows(text) {
        let count = unsigned(fields[1])?;
        let size = human(fields[2])?;
        let kind = fields[0].strip_suffix(':').unwrap_or(fields[0]);
        rows.push((kind.to_owned(), count, size));
    }
    Ok(rows)
}

/// `errors`: `<type> <count> [<timestamp>]`.
fn parse_errors(text: &str) -> Result<Vec<(String, u64)>, String> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 2 {
            continue;
        }
        let count = unsigned(fields[1])?;
        if let Some(timestamp) = fields.get(2) {
            unsigned(timestamp)?;
        }
        rows.push((fields[0].to_owned(), count));
    }
    Ok(rows)
}

/// A `counters/<name>` file: its "since filesystem creation" value (0 when only "since mount"
/// is there).
fn parse_counter(text: &str) -> Result<u64, String> {
    let mut since_creation = None;
    let mut since_mount = None;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("since mount:") {
            since_mount = Some(human(value)?);
        } else if let Some(value) = line.strip_prefix("since filesystem creation:") {
            since_creation = Some(human(value)?);
        }
    }
    match (since_creation, since_mount) {
        (None, None) => Err("counter file format not recognized".into()),
        (creation, _) => Ok(creation.unwrap_or(0)),
    }
}

/// `io_done`: `read:` / `write:` sections of `<data type>: <bytes>` lines.
fn parse_io_done(text: &str) -> Result<Vec<(String, String, u64)>, String> {
    let mut rows = Vec::new();
    let mut operation: Option<&str> = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if line == "read:" || line == "write:" {
            operation = Some(&line[..line.len() - 1]);
            continue;
        }
        let Some(operation) = operation else { continue };
        let Some((data_type, value)) = line.split_once(':') else {
            continue;
        };
        let value = unsigned(value.trim())?;
        let data_type = data_type.trim();
        // A data type listed twice keeps its last value, as upstream's map does.
        rows.retain(|(op, kind, _): &(String, String, u64)| op != operation || kind != data_type);
        rows.push((operation.to_owned(), data_type.to_owned(), value));
    }
    Ok(rows)
}

/// `io_errors`: the "since filesystem creation" section's `<type>: <count>` lines.
fn parse_io_errors(text: &str) -> Result<Vec<(String, u64)>, String> {
    let mut rows: Vec<(String, u64)> = Vec::new();
    let mut in_section = false;
    for line in text.lines() {
        if line.starts_with("IO errors since filesystem creation") {
            in_section = true;
            continue;
        }
        if line.starts_with("IO errors since ") {
            break;
        }
        if !in_section {
            continue;
        }
        let Some((kind, value)) = line.trim().split_once(':') else {
            continue;
        };
        let value = unsigned(value.trim())?;
        let kind = kind.trim();
        rows.retain(|(known, _)| known != kind);
        rows.push((kind.to_owned(), value));
    }
    Ok(rows)
}

/// A file's text, or `None` when it does not exist.
fn read(path: &Path) -> Result<Option<String>, CollectorError> {
    read_optional(path)
}

fn parsed<T>(
    path: &Path,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, CollectorError> {
    match read(path)? {
        None => Ok(None),
        Some(text) => parse(&text)
            .map(Some)
            .map_err(|reason| CollectorError::parse(path, reason)),
    }
}

/// The families of one scrape, created as samples arrive.
#[derive(Default)]
struct Out {
    families: Vec<MetricFamily>,
}

impl Out {
    fn family(&mut self, name: &str, help: &str, counter: bool) -> &mut MetricFamily {
        let index = match self.families.iter().position(|f| f.name == name) {
            Some(index) => index,
            None => {
                self.families.push(if counter {
                    MetricFamily::counter(name.to_owned(), help.to_owned())
                } else {
                    MetricFamily::gauge(name.to_owned(), help.to_owned())
                });
                self.families.len() - 1
            }
        };
        &mut self.families[index]
    }

    fn gauge(&mut self, name: &str, help: &str, labels: &[(&'static str, &str)], value: f64) {
        self.family(name, help, false).push(labels, value);
    }

    fn counter(&mut self, name: &str, help: &str, labels: &[(&'static str, &str)], value: f64) {
        self.family(name, help, true).push(labels, value);
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, bool)>, std::io::Error> {
    let mut entries: Vec<(String, bool)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| {
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            (entry.file_name().to_string_lossy().into_owned(), is_dir)
        })
        .collect();
    entries.sort();
    Ok(entries)
}

fn read_filesystem(dir: &Path, uuid: &str, out: &mut Out) -> Result<(), CollectorError> {
    let cache_path = dir.join("btree_cache_size");
    let cache_size = match read(&cache_path)? {
        Some(text) if !text.trim().is_empty() => {
            human(&text).map_err(|reason| CollectorError::parse(&cache_path, reason))?
        }
        _ => 0,
    };
    let compression = parsed(&dir.join("compression_stats"), parse_compression)?;
    let errors = parsed(&dir.join("errors"), parse_errors)?;
    let mut counters = Vec::new();
    let counters_dir = dir.join("counters");
    match sorted_entries(&counters_dir) {
        Ok(entries) => {
            for (name, is_dir) in entries {
                if is_dir {
                    continue;
                }
                if let Some(value) = parsed(&counters_dir.join(&name), parse_counter)? {
                    counters.push((name, value));
                }
            }
        }
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => return Err(CollectorError::io(&counters_dir, err)),
    }
    let writes = parsed(&dir.join("btree_write_stats"), parse_btree_writes)?;

    let by_uuid = [("uuid", uuid)];
    out.gauge(
        "node_bcachefs_info",
        "Filesystem information.",
        &by_uuid,
        1.0,
    );
    out.gauge(
        "node_bcachefs_btree_cache_size_bytes",
        "Btree cache memory usage in bytes.",
        &by_uuid,
        cache_size as f64,
    );
    for (algorithm, compressed, uncompressed) in compression.unwrap_or_default() {
        let labels = [("uuid", uuid), ("algorithm", algorithm.as_str())];
        out.gauge(
            "node_bcachefs_compression_compressed_bytes",
            "Compressed size by algorithm.",
            &labels,
            compressed as f64,
        );
        out.gauge(
            "node_bcachefs_compression_uncompressed_bytes",
            "Uncompressed size by algorithm.",
            &labels,
            uncompressed as f64,
        );
    }
    for (kind, count) in errors.unwrap_or_default() {
        out.counter(
            "node_bcachefs_errors_total",
            "Error count by error type.",
            &[("uuid", uuid), ("error_type", &kind)],
            count as f64,
        );
    }
    for (name, value) in counters {
        out.counter(
            &format!("node_bcachefs_{}_total", sanitize_name(&name)),
            &format!("Bcachefs counter {name} since filesystem creation."),
            &by_uuid,
            value as f64,
        );
    }
    for (kind, count, size) in writes.unwrap_or_default() {
        let labels = [("uuid", uuid), ("type", kind.as_str())];
        out.counter(
            "node_bcachefs_btree_writes_total",
            "Number of btree writes by type.",
            &labels,
            count as f64,
        );
        out.gauge(
            "node_bcachefs_btree_write_average_size_bytes",
            "Average btree write size by type.",
            &labels,
            size as f64,
        );
    }
    read_devices(dir, uuid, out)
}

/// A device attribute as upstream's `readSysfsFile`: any failure reads as empty.
fn read_lenient(path: &Path) -> String {
    read(path)
        .ok()
        .flatten()
        .map(|text| text.trim().to_owned())
        .unwrap_or_default()
}

fn read_uint(path: &Path) -> Result<u64, CollectorError> {
    match read(path)? {
        None => Ok(0),
        Some(text) => unsigned(text.trim()).map_err(|reason| CollectorError::parse(path, reason)),
    }
}

fn read_devices(dir: &Path, uuid: &str, out: &mut Out) -> Result<(), CollectorError> {
    let entries = sorted_entries(dir).map_err(|err| CollectorError::io(dir, err))?;
    for (entry, is_dir) in entries {
        let Some(device) = entry.strip_prefix("dev-").filter(|_| is_dir) else {
            continue;
        };
        let dev = dir.join(&entry);
        let label = read_lenient(&dev.join("label"));
        let state = read_lenient(&dev.join("state"));
        let bucket_size_text = read_lenient(&dev.join("bucket_size"));
        let bucket_size = if bucket_size_text.is_empty() {
            0
        } else {
            human(&bucket_size_text)
                .map_err(|reason| CollectorError::parse(&dev.join("bucket_size"), reason))?
        };
        let buckets = read_uint(&dev.join("nbuckets"))?;
        let durability = read_uint(&dev.join("durability"))?;
        let io_done = parsed(&dev.join("io_done"), parse_io_done)?;
        let io_errors = parsed(&dev.join("io_errors"), parse_io_errors)?;

        out.gauge(
            "node_bcachefs_device_info",
            "Device information.",
            &[
                ("uuid", uuid),
                ("device", device),
                ("label", &label),
                ("state", &state),
            ],
            1.0,
        );
        let labels = [("uuid", uuid), ("device", device)];
        out.gauge(
            "node_bcachefs_device_bucket_size_bytes",
            "Bucket size in bytes.",
            &labels,
            bucket_size as f64,
        );
        out.gauge(
            "node_bcachefs_device_buckets",
            "Total number of buckets.",
            &labels,
            buckets as f64,
        );
        out.gauge(
            "node_bcachefs_device_durability",
            "Device durability setting.",
            &labels,
            durability as f64,
        );
        for (operation, data_type, value) in io_done.unwrap_or_default() {
            out.counter(
                "node_bcachefs_device_io_done_bytes_total",
                "IO bytes by operation type and data type.",
                &[
                    ("uuid", uuid),
                    ("device", device),
                    ("operation", &operation),
                    ("data_type", &data_type),
                ],
                value as f64,
            );
        }
        for (kind, value) in io_errors.unwrap_or_default() {
            out.counter(
                "node_bcachefs_device_io_errors_total",
                "IO errors by error type.",
                &[("uuid", uuid), ("device", device), ("type", &kind)],
                value as f64,
            );
        }
    }
    Ok(())
}

impl Collector for Bcachefs {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let entries = match sorted_entries(&self.root) {
            Ok(entries) => entries,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                tracing::debug!(path = %self.root.display(), "bcachefs sysfs path does not exist");
                return Err(CollectorError::NoData);
            }
            Err(err) => return Err(CollectorError::io(&self.root, err)),
        };
        let filesystems: Vec<String> = entries
            .into_iter()
            .filter(|(_, is_dir)| *is_dir)
            .map(|(name, _)| name)
            .collect();
        if filesystems.is_empty() {
            return Err(CollectorError::NoData);
        }
        let mut families = Out::default();
        for uuid in &filesystems {
            read_filesystem(&self.root.join(uuid), uuid, &mut families)?;
        }
        out.extend(families.families);
        Ok(())
    }
}

#[cfg(test)]
#[path = "bcachefs_tests.rs"]
mod tests;
