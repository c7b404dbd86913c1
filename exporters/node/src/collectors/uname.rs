//! `uname`: `node_uname_info{sysname,release,version,machine,nodename,domainname} 1` from
//! `uname(2)` (the live kernel; `--path.*` do not apply, as upstream). An unset NIS domain
//! reads `(none)`, as the kernel reports it.

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|_| Ok(Box::new(Uname)))
}

struct Uname;

/// The six `uname` fields, in upstream's label order.
#[derive(Debug, PartialEq)]
struct Fields {
    sysname: String,
    release: String,
    version: String,
    machine: String,
    nodename: String,
    domainname: String,
}

fn read() -> Result<Fields, CollectorError> {
    let uts = nix::sys::utsname::uname()
        .map_err(|err| CollectorError::Other(format!("uname failed: {err}")))?;
    let text = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
    Ok(Fields {
        sysname: text(uts.sysname()),
        release: text(uts.release()),
        version: text(uts.version()),
        machine: text(uts.machine()),
        nodename: text(uts.nodename()),
        domainname: text(uts.domainname()),
    })
}

fn family(fields: &Fields) -> MetricFamily {
    MetricFamily::gauge(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
    )
    .with(
        &[
            ("sysname", &fields.sysname),
            ("release", &fields.release),
            ("version", &fields.version),
            ("machine", &fields.machine),
            ("nodename", &fields.nodename),
            ("domainname", &fields.domainname),
        ],
        1.0,
    )
}

impl Collector for Uname {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        out.push(family(&read()?));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uname_command(flag: &str) -> String {
        let output = std::process::Command::new("uname")
            .arg(flag)
            .output()
            .expect("uname(1) runs");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    #[test]
    fn matches_the_uname_command_on_this_machine() {
        let mut out = Vec::new();
        Uname.update(&mut out).unwrap();
        let sample = &out[0].samples[0];
        let label = |name: &str| {
            sample
                .labels
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(sample.value, 1.0);
        assert_eq!(label("sysname"), uname_command("-s"));
        assert_eq!(label("release"), uname_command("-r"));
        assert_eq!(label("version"), uname_command("-v"));
        assert_eq!(label("machine"), uname_command("-m"));
        assert_eq!(label("nodename"), uname_command("-n"));
        let domain = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
        assert_eq!(label("domainname"), domain.trim());
    }
}
