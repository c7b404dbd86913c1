//! `slabinfo`: per-slab object counts and sizes from `/proc/slabinfo` (version 2.1), filtered
//! by `--collector.slabinfo.slabs-include` / `--collector.slabinfo.slabs-exclude`.
//!
//! Hand-written: procfs-core 0.18 does not parse `/proc/slabinfo`.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::device_filter::compile_regex;
use crate::field_filter::FieldFilter;
use crate::read::read_string;

pub fn declare(set: &mut FlagSet) -> Builder {
    let include = set.string(
        "collector.slabinfo.slabs-include",
        ".*",
        "Regexp of slabs to include in slabinfo collector.",
    );
    let exclude = set.string(
        "collector.slabinfo.slabs-exclude",
        "",
        "Regexp of slabs to exclude in slabinfo collector.",
    );
    Box::new(move |context| {
        let flags = context.flags;
        // Unlike the device filters, upstream applies both patterns when both are given.
        let compile = |flag, pattern: &str| -> Result<Option<FieldFilter>, BuildError> {
            // `.*` (the default) matches every name: no need to ask the regex.
            if pattern.is_empty() || pattern == ".*" {
                return Ok(None);
            }
            Ok(Some(FieldFilter::new(compile_regex(flag, pattern)?)))
        };
        Ok(Box::new(Slabinfo {
            path: context.paths.proc("slabinfo"),
            include: compile(flags.name(include), flags.get(include))?,
            exclude: compile(flags.name(exclude), flags.get(exclude))?,
        }))
    })
}

struct Slabinfo {
    path: PathBuf,
    include: Option<FieldFilter>,
    exclude: Option<FieldFilter>,
}

/// The columns upstream reports, from one `/proc/slabinfo` line.
#[derive(Debug, PartialEq, Eq)]
struct Slab<'a> {
    name: &'a str,
    active_objects: i64,
    objects: i64,
    object_size: i64,
    objects_per_slab: i64,
    pages_per_slab: i64,
}

/// Parses slabinfo 2.1 as procfs does: the version and header lines are skipped, every other
/// line must have exactly 16 space-separated fields (white space runs collapsed, so leading or
/// trailing white space counts as an empty field), and every number column must be an integer.
fn parse(text: &str) -> Result<Vec<Slab<'_>>, String> {
    let mut slabs = Vec::new();
    for line in text.lines() {
        if line.contains("slabinfo -") || line.contains("# name") {
            continue;
        }
        let fields = collapsed_fields(line);
        if fields.len() != 16 {
            return Err(format!("unable to parse: {line:?}"));
        }
        let number = |i: usize| {
            fields[i]
                .parse::<i64>()
                .map_err(|_| format!("{:?} is not an integer in {line:?}", fields[i]))
        };
        // The tunables and slabdata columns are not reported, but procfs rejects the line when
        // they are not numbers.
        for i in [8, 9, 10, 13, 14, 15] {
            number(i)?;
        }
        slabs.push(Slab {
            name: fields[0],
            active_objects: number(1)?,
            objects: number(2)?,
            object_size: number(3)?,
            objects_per_slab: number(4)?,
            pages_per_slab: number(5)?,
        });
    }
    Ok(slabs)
}

/// Go's `strings.Split(regexp(`\s+`).ReplaceAllString(line, " "), " ")`.
fn collapsed_fields(line: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        match rest.find(|c: char| c.is_ascii_whitespace()) {
            Some(start) => {
                fields.push(&rest[..start]);
                let after = &rest[start..];
                let run = after
                    .find(|c: char| !c.is_ascii_whitespace())
                    .unwrap_or(after.len());
                rest = &after[run..];
            }
            None => {
                fields.push(rest);
                return fields;
            }
        }
    }
}

impl Slabinfo {
    fn ignored(&self, name: &str) -> bool {
        self.exclude.as_ref().is_some_and(|re| re.is_match(name))
            || self.include.as_ref().is_some_and(|re| !re.is_match(name))
    }
}

impl Collector for Slabinfo {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let slabs = parse(&text).map_err(|reason| CollectorError::parse(&self.path, reason))?;
        let mut families = [
            (
                "node_slabinfo_active_objects",
                "The number of objects that are currently active (i.e., in use).",
            ),
            (
                "node_slabinfo_objects",
                "The total number of allocated objects (i.e., objects that are both in use and not in use).",
            ),
            (
                "node_slabinfo_object_size_bytes",
                "The size of objects in this slab, in bytes.",
            ),
            (
                "node_slabinfo_objects_per_slab",
                "The number of objects stored in each slab.",
            ),
            (
                "node_slabinfo_pages_per_slab",
                "The number of pages allocated for each slab.",
            ),
        ]
        .map(|(name, help)| MetricFamily::gauge(name, help));
        for slab in slabs.iter().filter(|slab| !self.ignored(slab.name)) {
            let values = [
                slab.active_objects,
                slab.objects,
                slab.object_size,
                slab.objects_per_slab,
                slab.pages_per_slab,
            ];
            for (family, value) in families.iter_mut().zip(values) {
                family.push(&[("slab", slab.name)], value as f64);
            }
        }
        out.extend(families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{build, lines, write};
    use crate::paths::Paths;
    use proptest::prelude::*;

    const SAMPLE: &str = "slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
tw_sock_TCP          704    864    256   32    2 : tunables    0    0    0 : slabdata     27     27      0
kmalloc-8192         132    148   8192    4    8 : tunables    0    0    0 : slabdata     37     37      0
";

    #[test]
    fn parses_version_2_1() {
        let slabs = parse(SAMPLE).unwrap();
        assert_eq!(slabs.len(), 2);
        assert_eq!(
            slabs[1],
            Slab {
                name: "kmalloc-8192",
                active_objects: 132,
                objects: 148,
                object_size: 8192,
                objects_per_slab: 4,
                pages_per_slab: 8
            }
        );
        assert!(parse(" tw 1 2 3 4 5 : t 0 0 0 : s 1 1 0").is_err());
        assert!(parse("tw 1 2 3 4 5 : t 0 0 x : s 1 1 0").is_err());
        assert!(parse("\n").is_err());
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn filters_and_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            procfs: dir.path().to_owned(),
            ..Paths::default()
        };
        let collector = build(
            declare,
            &paths,
            &[
                "--collector.slabinfo.slabs-include=^(tw|km)",
                "--collector.slabinfo.slabs-exclude=TCP",
            ],
        )
        .unwrap();
        assert!(collector.update(&mut Vec::new()).is_err());
        write(&dir.path().join("slabinfo"), SAMPLE);
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let lines = lines(&out, "/nowhere");
        assert_eq!(lines.len(), 5);
        assert!(lines.iter().all(|l| l.contains("slab=kmalloc-8192")));
        write(&dir.path().join("slabinfo"), "garbage\n");
        assert!(collector.update(&mut Vec::new()).is_err());
        assert!(build(declare, &paths, &["--collector.slabinfo.slabs-exclude=("]).is_err());
    }

    proptest! {
        #[test]
        fn truncated_or_garbage_never_panics(cut in 0usize..500, noise in "\\PC{0,80}") {
            let cut = SAMPLE.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(SAMPLE.len());
            let _ = parse(&SAMPLE[..cut]);
            let _ = parse(&format!("{}{noise}", &SAMPLE[..cut]));
            let _ = parse(&noise);
        }
    }
}
