//! `systemd`: unit states and counters from the systemd manager over D-Bus
//! (`org.freedesktop.systemd1`): `node_systemd_unit_state{name,state,type}`,
//! `node_systemd_units{state}`, `node_systemd_system_running`, `node_systemd_version{version}`,
//! `node_systemd_virtualization_info{virtualization_type}`, the socket and timer families, and
//! behind their flags `node_systemd_unit_tasks_{current,max}`,
//! `node_systemd_service_restart_total`, `node_systemd_unit_start_time_seconds`.
//!
//! As upstream: a connection per scrape to the system bus (as root, systemd's private socket
//! when the bus is unreachable; only the private socket with `--collector.systemd.private`);
//! every unit counts in `node_systemd_units`, only loaded units the include/exclude patterns
//! keep get per-unit series; a property that cannot be read leaves its series out.

use octo_exporter_kit::{Flag, FlagSet, Flags, MetricFamily};
use regex_lite::Regex;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::dbus;
use crate::device_filter::compile_regex;

/// The manager's `SystemState` and the timers' `LastTriggerUSec` exist from this version on.
const MIN_VERSION_SYSTEM_STATE: f64 = 212.0;

const UNIT_STATES: [&str; 5] = ["active", "activating", "deactivating", "inactive", "failed"];

const DESTINATION: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// The handles of the collector's flags.
#[derive(Clone, Copy)]
struct Options {
    include: Flag<String>,
    old_include: Flag<Option<String>>,
    exclude: Flag<String>,
    old_exclude: Flag<Option<String>>,
    private: Flag<bool>,
    tasks: Flag<bool>,
    restarts: Flag<bool>,
    start_time: Flag<bool>,
}

pub fn declare(set: &mut FlagSet) -> Builder {
    let options = declare_options(set);
    Box::new(move |context| Ok(Box::new(Systemd::from_flags(context.flags, options)?)))
}

fn declare_options(set: &mut FlagSet) -> Options {
    let options = Options {
        include: set.string(
            "collector.systemd.unit-include",
            ".+",
            "Regexp of systemd units to include. Units must both match include and not match exclude to be included.",
        ),
        old_include: set.optional(
            "collector.systemd.unit-whitelist",
            "DEPRECATED: Use --collector.systemd.unit-include",
        ),
        exclude: set.string(
            "collector.systemd.unit-exclude",
            r".+\.(automount|device|mount|scope|slice)",
            "Regexp of systemd units to exclude. Units must both match include and not match exclude to be included.",
        ),
        old_exclude: set.optional(
            "collector.systemd.unit-blacklist",
            "DEPRECATED: Use collector.systemd.unit-exclude",
        ),
        private: set.bool(
            "collector.systemd.private",
            false,
            "Establish a private, direct connection to systemd without dbus (Strongly discouraged since it requires root. For testing purposes only).",
        ),
        tasks: set.bool(
            "collector.systemd.enable-task-metrics",
            false,
            "Enables service unit tasks metrics unit_tasks_current and unit_tasks_max",
        ),
        restarts: set.bool(
            "collector.systemd.enable-restarts-metrics",
            false,
            "Enables service unit metric service_restart_total",
        ),
        start_time: set.bool(
            "collector.systemd.enable-start-time-metrics",
            false,
            "Enables service unit metric unit_start_time_seconds",
        ),
    };
    for hidden in [options.old_include, options.old_exclude] {
        set.customize(hidden, |arg| arg.hide(true));
    }
    set.customize(options.private, |arg| arg.hide(true));
    options
}

/// The pattern of a flag pair where the deprecated name may stand in for the new one.
fn pattern(
    flags: &Flags,
    new: Flag<String>,
    old: Flag<Option<String>>,
) -> Result<(&str, &str), BuildError> {
    match flags.get(old).filter(|p| !p.is_empty()) {
        Some(_) if flags.was_given(new) => Err(BuildError::Invalid(format!(
            "--{} and --{} are mutually exclusive",
            flags.name(old),
            flags.name(new)
        ))),
        Some(old_pattern) => {
            tracing::warn!(
                "--{} is DEPRECATED and will be removed in 2.0.0, use --{}",
                flags.name(old),
                flags.name(new)
            );
            Ok((flags.name(old), old_pattern))
        }
        None => Ok((flags.name(new), flags.get(new))),
    }
}

struct Systemd {
    include: Regex,
    exclude: Regex,
    version_pattern: Regex,
    private: bool,
    tasks: bool,
    restarts: bool,
    start_time: bool,
}

impl Systemd {
    fn from_flags(flags: &Flags, options: Options) -> Result<Self, BuildError> {
        let anchored = |(flag, pattern): (&str, &str)| {
            tracing::info!(flag = pattern, "Parsed flag --{flag}");
            compile_regex(flag, &format!("^(?:{pattern})$"))
        };
        Ok(Systemd {
            include: anchored(pattern(flags, options.include, options.old_include)?)?,
            exclude: anchored(pattern(flags, options.exclude, options.old_exclude)?)?,
            version_pattern: Regex::new(r"[0-9]{3,}(\.[0-9]+)?")
                .map_err(|err| BuildError::Invalid(err.to_string()))?,
            private: flags.get(options.private),
            tasks: flags.get(options.tasks),
            restarts: flags.get(options.restarts),
            start_time: flags.get(options.start_time),
        })
    }
}

/// One entry of the manager's `ListUnits`.
#[derive(Debug, Clone, PartialEq)]
struct Unit {
    name: String,
    load_state: String,
    active_state: String,
    path: String,
}

type ListedUnit = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

/// `node_systemd_units`: every listed unit by active state; the five usual states always.
fn summarize(units: &[Unit]) -> Vec<(String, f64)> {
    let mut counts: Vec<(String, f64)> =
        UNIT_STATES.iter().map(|s| ((*s).to_owned(), 0.0)).collect();
    for unit in units {
        match counts
            .iter_mut()
            .find(|(state, _)| *state == unit.active_state)
        {
            Some((_, count)) => *count += 1.0,
            None => counts.push((unit.active_state.clone(), 1.0)),
        }
    }
    counts
}

/// The version number upstream derives from the manager's `Version` (`252.38-1~deb12u1` →
/// 252.38), 0 when there is none.
fn parse_version(pattern: &Regex, version: &str) -> f64 {
    pattern
        .find(version)
        .and_then(|found| found.as_str().parse().ok())
        .unwrap_or(0.0)
}

fn as_string(value: OwnedValue) -> Option<String> {
    String::try_from(value).ok()
}

fn as_u32(value: OwnedValue) -> Option<u32> {
    u32::try_from(value).ok()
}

fn as_u64(value: OwnedValue) -> Option<u64> {
    u64::try_from(value).ok()
}

/// The families of one scrape, filled as the answers come.
struct Families {
    unit_state: MetricFamily,
    start_time: MetricFamily,
    tasks_current: MetricFamily,
    tasks_max: MetricFamily,
    restarts: MetricFamily,
    timer_last_trigger: MetricFamily,
    socket_accepted: MetricFamily,
    socket_current: MetricFamily,
    socket_refused: MetricFamily,
}

impl Families {
    fn new() -> Self {
        Families {
            unit_state: MetricFamily::gauge("node_systemd_unit_state", "Systemd unit"),
            start_time: MetricFamily::gauge(
                "node_systemd_unit_start_time_seconds",
                "Start time of the unit since unix epoch in seconds.",
            ),
            tasks_current: MetricFamily::gauge(
                "node_systemd_unit_tasks_current",
                "Current number of tasks per Systemd unit",
            ),
            tasks_max: MetricFamily::gauge(
                "node_systemd_unit_tasks_max",
                "Maximum number of tasks per Systemd unit",
            ),
            restarts: MetricFamily::counter(
                "node_systemd_service_restart_total",
                "Service unit count of Restart triggers",
            ),
            timer_last_trigger: MetricFamily::gauge(
                "node_systemd_timer_last_trigger_seconds",
                "Seconds since epoch of last trigger.",
            ),
            socket_accepted: MetricFamily::counter(
                "node_systemd_socket_accepted_connections_total",
                "Total number of accepted socket connections",
            ),
            socket_current: MetricFamily::gauge(
                "node_systemd_socket_current_connections",
                "Current number of socket connections",
            ),
            // A gauge, as upstream declares it.
            socket_refused: MetricFamily::gauge(
                "node_systemd_socket_refused_connections_total",
                "Total number of refused socket connections",
            ),
        }
    }

    fn into_vec(self) -> Vec<MetricFamily> {
        vec![
            self.unit_state,
            self.start_time,
            self.tasks_current,
            self.tasks_max,
            self.restarts,
            self.timer_last_trigger,
            self.socket_accepted,
            self.socket_current,
            self.socket_refused,
        ]
    }
}

/// A property of a unit; a failure is logged at debug level and leaves the series out.
async fn unit_property(
    connection: &zbus::Connection,
    unit: &Unit,
    interface: &str,
    name: &str,
) -> Option<OwnedValue> {
    let interface = format!("org.freedesktop.systemd1.{interface}");
    match dbus::property(connection, DESTINATION, &unit.path, &interface, name).await {
        Ok(value) => Some(value),
        Err(err) => {
            tracing::debug!(unit = %unit.name, property = name, err = %err, "couldn't get unit property");
            None
        }
    }
}

async fn manager_property(
    connection: &zbus::Connection,
    name: &str,
) -> Result<OwnedValue, zbus::Error> {
    dbus::property(connection, DESTINATION, MANAGER_PATH, MANAGER, name).await
}

impl Systemd {
    async fn connect(&self) -> Result<zbus::Connection, CollectorError> {
        if self.private {
            return dbus::systemd_private().await;
        }
        // As go-systemd's `New`: root falls back to the private socket when the bus is down.
        match dbus::system_bus().await {
            Err(err) if nix::unistd::geteuid().is_root() => {
                tracing::debug!(err = %err, "no system bus; trying systemd's private socket");
                dbus::systemd_private().await
            }
            result => result,
        }
    }

    async fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let connection = self.connect().await?;
        let (version, full_version) = match manager_property(&connection, "Version")
            .await
            .ok()
            .and_then(as_string)
        {
            Some(full) => (parse_version(&self.version_pattern, &full), full),
            None => {
                tracing::debug!("Unable to get systemd version property, defaulting to 0");
                (0.0, String::new())
            }
        };
        out.push(
            MetricFamily::gauge("node_systemd_version", "Detected systemd version")
                .with(&[("version", &full_version)], version),
        );
        let virtualization = match manager_property(&connection, "Virtualization")
            .await
            .ok()
            .and_then(as_string)
        {
            Some(virt) if virt.is_empty() => "none".to_owned(),
            Some(virt) => virt,
            None => "unknown".to_owned(),
        };
        out.push(
            MetricFamily::gauge(
                "node_systemd_virtualization_info",
                "Detected virtualization technology",
            )
            .with(&[("virtualization_type", &virtualization)], 1.0),
        );

        let listed: Vec<ListedUnit> = dbus::call(
            &connection,
            DESTINATION,
            MANAGER_PATH,
            MANAGER,
            "ListUnits",
            &(),
        )
        .await
        .map_err(|err| CollectorError::Other(format!("couldn't get units: {err}")))?;
        let units: Vec<Unit> = listed
            .into_iter()
            .map(|(name, _, load_state, active_state, _, _, path, ..)| Unit {
                name,
                load_state,
                active_state,
                path: path.as_str().to_owned(),
            })
            .collect();
        let mut summary =
            MetricFamily::gauge("node_systemd_units", "Summary of systemd unit states");
        for (state, count) in summarize(&units) {
            summary.push(&[("state", &state)], count);
        }
        out.push(summary);

        let mut families = Families::new();
        for unit in units.iter().filter(|unit| self.keeps(unit)) {
            self.collect_unit(&connection, unit, version, &mut families)
                .await;
        }
        out.extend(families.into_vec());

        if version >= MIN_VERSION_SYSTEM_STATE {
            let state = manager_property(&connection, "SystemState")
                .await
                .map_err(|err| {
                    CollectorError::Other(format!("couldn't get system state: {err}"))
                })?;
            let running = as_string(state).is_some_and(|state| state == "running");
            out.push(
                MetricFamily::gauge(
                    "node_systemd_system_running",
                    "Whether the system is operational (see 'systemctl is-system-running')",
                )
                .with(&[], if running { 1.0 } else { 0.0 }),
            );
        }
        Ok(())
    }

    fn keeps(&self, unit: &Unit) -> bool {
        let keep = self.include.is_match(&unit.name)
            && !self.exclude.is_match(&unit.name)
            && unit.load_state == "loaded";
        tracing::debug!(unit = %unit.name, keep, "filtering unit");
        keep
    }

    async fn collect_unit(
        &self,
        connection: &zbus::Connection,
        unit: &Unit,
        version: f64,
        families: &mut Families,
    ) {
        let name = unit.name.as_str();
        let labels = [("name", name)];
        let kind = if name.ends_with(".service") {
            Some("Service")
        } else if name.ends_with(".mount") {
            Some("Mount")
        } else {
            None
        };
        let mut unit_type = String::new();
        if let Some(kind) = kind
            && let Some(value) = unit_property(connection, unit, kind, "Type")
                .await
                .and_then(as_string)
        {
            unit_type = value;
        }
        for state in UNIT_STATES {
            let value = if unit.active_state == state { 1.0 } else { 0.0 };
            families.unit_state.push(
                &[("name", name), ("state", state), ("type", &unit_type)],
                value,
            );
        }
        let service = name.ends_with(".service");
        if self.restarts
            && service
            && let Some(restarts) = unit_property(connection, unit, "Service", "NRestarts")
                .await
                .and_then(as_u32)
        {
            families.restarts.push(&labels, f64::from(restarts));
        }
        if self.start_time {
            let started = if unit.active_state == "active" {
                unit_property(connection, unit, "Unit", "ActiveEnterTimestamp")
                    .await
                    .and_then(as_u64)
            } else {
                Some(0)
            };
            if let Some(microseconds) = started {
                families.start_time.push(&labels, microseconds as f64 / 1e6);
            }
        }
        if self.tasks && service {
            for (property, family) in [
                ("TasksCurrent", &mut families.tasks_current),
                ("TasksMax", &mut families.tasks_max),
            ] {
                // u64::MAX is systemd's "no value".
                if let Some(value) = unit_property(connection, unit, "Service", property)
                    .await
                    .and_then(as_u64)
                    && value != u64::MAX
                {
                    family.push(&labels, value as f64);
                }
            }
        }
        if version >= MIN_VERSION_SYSTEM_STATE
            && name.ends_with(".timer")
            && let Some(last) = unit_property(connection, unit, "Timer", "LastTriggerUSec")
                .await
                .and_then(as_u64)
        {
            families.timer_last_trigger.push(&labels, last as f64 / 1e6);
        }
        if name.ends_with(".socket") {
            self.collect_socket(connection, unit, families).await;
        }
    }

    async fn collect_socket(
        &self,
        connection: &zbus::Connection,
        unit: &Unit,
        families: &mut Families,
    ) {
        let labels = [("name", unit.name.as_str())];
        let Some(accepted) = unit_property(connection, unit, "Socket", "NAccepted")
            .await
            .and_then(as_u32)
        else {
            return;
        };
        families.socket_accepted.push(&labels, f64::from(accepted));
        let Some(current) = unit_property(connection, unit, "Socket", "NConnections")
            .await
            .and_then(as_u32)
        else {
            return;
        };
        families.socket_current.push(&labels, f64::from(current));
        // NRefused exists from systemd 239 on.
        if let Some(refused) = unit_property(connection, unit, "Socket", "NRefused")
            .await
            .and_then(as_u32)
        {
            families.socket_refused.push(&labels, f64::from(refused));
        }
    }
}

impl Collector for Systemd {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        dbus::block_on(self.collect(out))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str, load: &str, active: &str) -> Unit {
        Unit {
            name: name.into(),
            load_state: load.into(),
            active_state: active.into(),
            path: String::new(),
        }
    }

    #[test]
    fn summary_counts_every_unit_and_always_the_five_states() {
        let units = [
            unit("a.service", "loaded", "active"),
            unit("b.service", "not-found", "inactive"),
            unit("c.service", "loaded", "reloading"),
        ];
        let summary = summarize(&units);
        assert_eq!(summary.len(), 6);
        assert!(summary.contains(&("active".into(), 1.0)));
        assert!(summary.contains(&("inactive".into(), 1.0)));
        assert!(summary.contains(&("failed".into(), 0.0)));
        assert!(summary.contains(&("reloading".into(), 1.0)));
    }

    fn build(args: &[&str]) -> Result<Systemd, BuildError> {
        let mut set = FlagSet::new("t", "t", "0".into());
        let options = declare_options(&mut set);
        let flags = set.parse_args(args).unwrap();
        Systemd::from_flags(&flags, options)
    }

    #[test]
    fn filters_are_anchored_and_deprecated_names_stand_in() {
        let systemd = build(&[]).unwrap();
        assert!(systemd.keeps(&unit("ssh.service", "loaded", "active")));
        assert!(!systemd.keeps(&unit("ssh.service", "not-found", "active")));
        assert!(!systemd.keeps(&unit("-.mount", "loaded", "active")));
        assert!(!systemd.keeps(&unit("user.slice", "loaded", "active")));
        let systemd = build(&["--collector.systemd.unit-include=ssh"]).unwrap();
        assert!(!systemd.keeps(&unit("ssh.service", "loaded", "active")));
        let systemd = build(&["--collector.systemd.unit-whitelist=ssh.*"]).unwrap();
        assert!(systemd.keeps(&unit("ssh.service", "loaded", "active")));
        assert!(!systemd.keeps(&unit("cron.service", "loaded", "active")));
        let systemd = build(&["--collector.systemd.unit-blacklist=cron.*"]).unwrap();
        assert!(systemd.keeps(&unit("-.mount", "loaded", "active")));
        assert!(!systemd.keeps(&unit("cron.service", "loaded", "active")));
        assert!(
            build(&[
                "--collector.systemd.unit-whitelist=a",
                "--collector.systemd.unit-include=b"
            ])
            .is_err()
        );
        assert!(build(&["--collector.systemd.unit-exclude=("]).is_err());
    }

    #[test]
    fn version_number_as_upstream() {
        let pattern = Regex::new(r"[0-9]{3,}(\.[0-9]+)?").unwrap();
        assert_eq!(parse_version(&pattern, "252.38-1~deb12u1"), 252.38);
        assert_eq!(parse_version(&pattern, "v249"), 249.0);
        assert_eq!(parse_version(&pattern, "42"), 0.0);
    }

    proptest::proptest! {
        #[test]
        fn garbage_versions_never_panic(text in ".{0,40}") {
            let pattern = Regex::new(r"[0-9]{3,}(\.[0-9]+)?").unwrap();
            let _ = parse_version(&pattern, &text);
        }
    }
}
