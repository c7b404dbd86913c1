//! The kernel's per-cgroup task counts, as cAdvisor's load reader asks for them: generic
//! netlink family `TASKSTATS`, command `CGROUPSTATS_CMD_GET` with the open cgroup directory's
//! descriptor (`CGROUPSTATS_CMD_ATTR_FD`), answered by one `CGROUPSTATS_CMD_NEW` message whose
//! `CGROUPSTATS_TYPE_CGROUP_STATS` attribute is a `struct cgroupstats` (five `u64`s).
//!
//! The kernel counts the tasks of that cgroup only, not of its descendants, and answers only
//! for a directory of a cgroup v1 hierarchy (`cgroupstats_build` refuses any other with
//! `EINVAL`, the unified v2 tree included).

use std::os::fd::{AsRawFd, BorrowedFd};

use octo_exporter_kit::netlink::{
    self, Connection, GENL_HDRLEN, NetlinkError, attributes, push_attribute, u64_at,
};

const FAMILY_NAME: &str = "TASKSTATS";
const CGROUPSTATS_CMD_GET: u8 = 4;
const CGROUPSTATS_CMD_NEW: u8 = 5;
const CGROUPSTATS_CMD_ATTR_FD: u16 = 1;
const CGROUPSTATS_TYPE_CGROUP_STATS: u16 = 1;
/// `struct cgroupstats`: five `u64` counters.
const CGROUPSTATS_LEN: usize = 40;

/// The tasks of one cgroup by state (`struct cgroupstats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    pub sleeping: u64,
    pub running: u64,
    pub stopped: u64,
    pub uninterruptible: u64,
    pub io_wait: u64,
}

/// A `NETLINK_GENERIC` connection that knows the `TASKSTATS` family's id.
#[derive(Debug)]
pub struct TaskstatsClient {
    connection: Connection,
    family: u16,
}

impl TaskstatsClient {
    /// Opens the connection and looks the family up; `Ok(None)` when the kernel has no
    /// taskstats (built without `CONFIG_TASKSTATS`).
    pub fn open() -> Result<Option<TaskstatsClient>, NetlinkError> {
        let mut connection = Connection::open(nix::libc::NETLINK_GENERIC)?;
        Ok(connection
            .generic_family_id(FAMILY_NAME)?
            .map(|family| TaskstatsClient { connection, family }))
    }

    /// The task counts of the cgroup whose directory `dir` is open.
    pub fn cgroup_stats(&mut self, dir: BorrowedFd<'_>) -> Result<TaskCounts, NetlinkError> {
        let descriptor = u32::try_from(dir.as_raw_fd())
            .map_err(|_| NetlinkError::Malformed("negative descriptor"))?;
        let mut request = Vec::with_capacity(8);
        push_attribute(
            &mut request,
            CGROUPSTATS_CMD_ATTR_FD,
            &descriptor.to_ne_bytes(),
        );
        let body = netlink::generic_body(CGROUPSTATS_CMD_GET, &request);
        let family = self.family;
        let mut counts = None;
        self.connection.request(family, &body, |kind, payload| {
            if kind == family {
                counts = Some(parse_reply(payload)?);
            }
            Ok(())
        })?;
        counts.ok_or(NetlinkError::Malformed("no cgroupstats in the answer"))
    }
}

/// The payload of a `CGROUPSTATS_CMD_NEW` message (`genlmsghdr` and attributes): the
/// `CGROUPSTATS_TYPE_CGROUP_STATS` attribute, which must hold the whole struct.
pub fn parse_reply(payload: &[u8]) -> Result<TaskCounts, NetlinkError> {
    let command = *payload
        .first()
        .ok_or(NetlinkError::Malformed("short genlmsghdr"))?;
    if command != CGROUPSTATS_CMD_NEW {
        return Err(NetlinkError::Malformed("not a CGROUPSTATS_CMD_NEW answer"));
    }
    let stats = attributes(payload.get(GENL_HDRLEN..).unwrap_or(&[]))
        .find(|(kind, _)| *kind == CGROUPSTATS_TYPE_CGROUP_STATS)
        .map(|(_, value)| value)
        .ok_or(NetlinkError::Malformed("no CGROUPSTATS_TYPE_CGROUP_STATS"))?;
    if stats.len() < CGROUPSTATS_LEN {
        return Err(NetlinkError::Malformed("short struct cgroupstats"));
    }
    let field = |index: usize| {
        u64_at(stats, index * 8).ok_or(NetlinkError::Malformed("short struct cgroupstats"))
    };
    Ok(TaskCounts {
        sleeping: field(0)?,
        running: field(1)?,
        stopped: field(2)?,
        uninterruptible: field(3)?,
        io_wait: field(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the kernel sends: `genlmsghdr` and the stats attribute.
    fn reply(counts: [u64; 5]) -> Vec<u8> {
        let stats: Vec<u8> = counts.iter().flat_map(|c| c.to_ne_bytes()).collect();
        let mut attrs = Vec::new();
        push_attribute(&mut attrs, CGROUPSTATS_TYPE_CGROUP_STATS, &stats);
        netlink::generic_body(CGROUPSTATS_CMD_NEW, &attrs)
    }

    #[test]
    fn parses_the_five_counts_in_kernel_order() {
        let counts = parse_reply(&reply([5, 2, 0, 1, 3])).unwrap();
        assert_eq!(
            counts,
            TaskCounts {
                sleeping: 5,
                running: 2,
                stopped: 0,
                uninterruptible: 1,
                io_wait: 3,
            }
        );
    }

    #[test]
    fn short_or_foreign_answers_are_errors() {
        let whole = reply([1, 2, 3, 4, 5]);
        // Cut inside the struct: the attribute's length no longer fits, so it is not found.
        assert!(parse_reply(&whole[..whole.len() - 1]).is_err());
        assert!(parse_reply(&[]).is_err());
        let mut other_command = whole.clone();
        other_command[0] = CGROUPSTATS_CMD_GET;
        assert!(parse_reply(&other_command).is_err());
        // An attribute that claims a shorter struct.
        let mut attrs = Vec::new();
        push_attribute(&mut attrs, CGROUPSTATS_TYPE_CGROUP_STATS, &[0; 16]);
        assert!(parse_reply(&netlink::generic_body(CGROUPSTATS_CMD_NEW, &attrs)).is_err());
    }

    #[test]
    fn live_cgroupstats_of_this_process_cgroup() {
        // The v1 cpu hierarchy's root holds most of this VM's tasks; on a host without it
        // (pure v2) the kernel refuses, which is what the exporter reports as nothing.
        let Some(mut client) = TaskstatsClient::open().unwrap() else {
            panic!("this kernel has no TASKSTATS generic netlink family");
        };
        let dir = std::fs::File::open("/sys/fs/cgroup/cpu").unwrap();
        use std::os::fd::AsFd as _;
        let counts = client.cgroup_stats(dir.as_fd()).unwrap();
        assert!(counts.sleeping + counts.running > 0, "{counts:?}");
        let unified = std::fs::File::open("/sys/fs/cgroup/unified").unwrap();
        match client.cgroup_stats(unified.as_fd()) {
            Err(NetlinkError::Kernel(err)) => {
                assert_eq!(err.raw_os_error(), Some(nix::libc::EINVAL))
            }
            other => panic!("the unified tree answered {other:?}"),
        }
    }

    proptest::proptest! {
        #[test]
        fn truncated_or_garbage_answers_never_panic(
            cut in 0usize..80,
            garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..120),
        ) {
            let whole = reply([1, 2, 3, 4, 5]);
            let cut_reply = &whole[..cut.min(whole.len())];
            let parsed = parse_reply(cut_reply);
            proptest::prop_assert!(parsed.is_err() || cut_reply.len() == whole.len());
            let _ = parse_reply(&garbage);
            // The whole message framing too, as the connection walks it.
            let _ = netlink::parse_datagram(&garbage, 1, &mut |_, payload| {
                parse_reply(payload).map(|_| ())
            });
        }
    }
}
