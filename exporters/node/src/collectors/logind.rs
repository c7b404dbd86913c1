//! `logind`: `node_logind_sessions{seat,remote,type,class}`, the sessions systemd-logind
//! (`org.freedesktop.login1` on the system bus) has registered, counted for every seat (plus
//! the empty seat of remote sessions) and every known remote/type/class value, as upstream:
//! unknown types and classes count as "other", sessions whose properties cannot be read are
//! left out.

use std::collections::HashMap;

use octo_exporter_kit::{FlagSet, MetricFamily};
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use crate::collector::{Builder, Collector, CollectorError};
use crate::dbus;

const DESTINATION: &str = "org.freedesktop.login1";
const MANAGER_PATH: &str = "/org/freedesktop/login1";
const MANAGER: &str = "org.freedesktop.login1.Manager";
const SESSION: &str = "org.freedesktop.login1.Session";

/// logind's values as of systemd 229; "other" stands for anything newer.
const REMOTE_VALUES: [&str; 2] = ["true", "false"];
const TYPE_VALUES: [&str; 7] = [
    "other",
    "unspecified",
    "tty",
    "x11",
    "wayland",
    "mir",
    "web",
];
const CLASS_VALUES: [&str; 5] = ["other", "user", "greeter", "lock-screen", "background"];

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|_context| Ok(Box::new(Logind)))
}

struct Logind;

/// What a session is counted by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Session {
    seat: String,
    remote: &'static str,
    kind: String,
    class: String,
}

fn known_or_other(value: &str, known: &[&str]) -> String {
    if known.contains(&value) {
        value.to_owned()
    } else {
        "other".to_owned()
    }
}

/// The family: one series per seat and known value combination, 0 where no session is.
fn sessions_family(seats: &[String], sessions: &[Session]) -> MetricFamily {
    let mut counts: HashMap<&Session, f64> = HashMap::new();
    for session in sessions {
        *counts.entry(session).or_default() += 1.0;
    }
    let mut family = MetricFamily::gauge(
        "node_logind_sessions",
        "Number of sessions registered in logind.",
    );
    for remote in REMOTE_VALUES {
        for kind in TYPE_VALUES {
            for class in CLASS_VALUES {
                for seat in seats {
                    let key = Session {
                        seat: seat.clone(),
                        remote,
                        kind: kind.to_owned(),
                        class: class.to_owned(),
                    };
                    let count = counts.get(&key).copied().unwrap_or(0.0);
                    family.push(
                        &[
                            ("seat", seat),
                            ("remote", remote),
                            ("type", kind),
                            ("class", class),
                        ],
                        count,
                    );
                }
            }
        }
    }
    family
}

async fn session_property(
    connection: &zbus::Connection,
    path: &str,
    name: &str,
) -> Option<OwnedValue> {
    dbus::property(connection, DESTINATION, path, SESSION, name)
        .await
        .ok()
}

async fn collect() -> Result<MetricFamily, CollectorError> {
    let connection = dbus::system_bus()
        .await
        .map_err(|err| CollectorError::Other(format!("unable to connect to dbus: {err}")))?;
    let seats: Vec<(String, OwnedObjectPath)> = dbus::call(
        &connection,
        DESTINATION,
        MANAGER_PATH,
        MANAGER,
        "ListSeats",
        &(),
    )
    .await
    .map_err(|err| CollectorError::Other(format!("unable to get seats: {err}")))?;
    // The empty seat is where remote sessions (SSH) sit.
    let seats: Vec<String> = seats
        .into_iter()
        .map(|(seat, _)| seat)
        .chain([String::new()])
        .collect();
    let listed: Vec<(String, u32, String, String, OwnedObjectPath)> = dbus::call(
        &connection,
        DESTINATION,
        MANAGER_PATH,
        MANAGER,
        "ListSessions",
        &(),
    )
    .await
    .map_err(|err| CollectorError::Other(format!("unable to get sessions: {err}")))?;
    let mut sessions = Vec::with_capacity(listed.len());
    for (_, _, _, seat, path) in listed {
        let path = path.as_str();
        let Some(remote) = session_property(&connection, path, "Remote")
            .await
            .and_then(|value| bool::try_from(value).ok())
        else {
            continue;
        };
        let Some(kind) = session_property(&connection, path, "Type")
            .await
            .and_then(|value| String::try_from(value).ok())
        else {
            continue;
        };
        let Some(class) = session_property(&connection, path, "Class")
            .await
            .and_then(|value| String::try_from(value).ok())
        else {
            continue;
        };
        sessions.push(Session {
            seat,
            remote: if remote { "true" } else { "false" },
            kind: known_or_other(&kind, &TYPE_VALUES),
            class: known_or_other(&class, &CLASS_VALUES),
        });
    }
    Ok(sessions_family(&seats, &sessions))
}

impl Collector for Logind {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        out.push(dbus::block_on(collect())??);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sessions_per_seat_and_known_values() {
        let seats = vec!["seat0".to_owned(), String::new()];
        let session = |seat: &str, remote, kind: &str, class: &str| Session {
            seat: seat.into(),
            remote,
            kind: known_or_other(kind, &TYPE_VALUES),
            class: known_or_other(class, &CLASS_VALUES),
        };
        let sessions = [
            session("seat0", "false", "x11", "user"),
            session("", "true", "tty", "user"),
            session("", "true", "tty", "user"),
            session("", "true", "teleport", "manager"),
        ];
        let family = sessions_family(&seats, &sessions);
        assert_eq!(family.samples.len(), 2 * 7 * 5 * 2);
        let count = |seat: &str, remote: &str, kind: &str, class: &str| {
            family
                .samples
                .iter()
                .find(|s| {
                    let labels: Vec<(&str, &str)> = s.label_pairs().collect();
                    labels.contains(&("seat", seat))
                        && labels.contains(&("remote", remote))
                        && labels.contains(&("type", kind))
                        && labels.contains(&("class", class))
                })
                .unwrap()
                .value
        };
        assert_eq!(count("seat0", "false", "x11", "user"), 1.0);
        assert_eq!(count("", "true", "tty", "user"), 2.0);
        assert_eq!(count("", "true", "other", "other"), 1.0);
        assert_eq!(count("seat0", "true", "tty", "user"), 0.0);
    }
}
