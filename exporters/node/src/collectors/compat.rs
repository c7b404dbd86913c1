//! Options of collectors upstream has and octo-node-exporter does not implement yet: accepted
//! (so an upstream command line or unit file works unchanged), hidden from `--help`, and never
//! read.

use octo_exporter_kit::FlagSet;

const BOOLS: &[&str] = &["collector.ntp.server-is-local"];

const VALUES: &[&str] = &[
    "collector.ntp.ip-ttl",
    "collector.ntp.local-offset-tolerance",
    "collector.ntp.max-distance",
    "collector.ntp.protocol-version",
    "collector.ntp.server",
    "collector.ntp.server-port",
    "collector.runit.servicedir",
    "collector.supervisord.url",
    "runtime.gomaxprocs",
];

const HELP: &str = "Accepted for compatibility.";

/// Declares the hidden flags; their handles are dropped, as nothing reads them.
pub fn declare(set: &mut FlagSet) {
    for name in BOOLS {
        let flag = set.bool(*name, false, HELP);
        set.customize(flag, |arg| arg.hide(true));
    }
    for name in VALUES {
        let flag = set.optional(*name, HELP);
        set.customize(flag, |arg| arg.hide(true));
    }
}
