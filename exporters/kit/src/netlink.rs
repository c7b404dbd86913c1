//! A minimal netlink client shared by the exporters: the socket, request framing, dumps and
//! single-answer requests, the walk over a datagram's messages, attribute iteration, the generic
//! netlink family lookup and bounds-checked byte readers. The message formats of each protocol
//! (links, routes, qdiscs, nl80211, taskstats...) stay with the exporter that reads them.
//!
//! Hand-written because none of the workspace's dependencies speaks netlink (the netlink crates
//! bring their own async runtimes or code generators for a few dozen lines of framing); the
//! socket calls go through nix's safe wrappers in `sys`. Parsing works on byte slices with
//! bounds checks, so a short or garbage message is an error, never a panic.

/// The size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// The size of `struct genlmsghdr` (command, version, reserved).
pub const GENL_HDRLEN: usize = 4;
/// The generic netlink controller's family id (`GENL_ID_CTRL`).
pub const GENL_ID_CTRL: u16 = 0x10;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;

/// Why a netlink exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The socket could not be opened, written or read (a receive timeout included).
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
    /// A reply too short for what it claims, or otherwise not understood.
    #[error("netlink reply: {0}")]
    Malformed(&'static str),
    /// The kernel answered with an error (`NLMSG_ERROR` and a non-zero errno).
    #[error("netlink request refused: {0}")]
    Kernel(std::io::Error),
}

/// A netlink socket of one protocol with its own sequence numbers: requests and dumps on it
/// one after another (a sampler keeps one open instead of a socket per request).
#[derive(Debug)]
pub struct Connection {
    socket: sys::Socket,
    seq: u32,
    buffer: Vec<u8>,
}

impl Connection {
    /// An `AF_NETLINK` socket of `protocol` (`libc::NETLINK_ROUTE`, `NETLINK_SOCK_DIAG` or
    /// `NETLINK_GENERIC`), close-on-exec, with a receive timeout.
    pub fn open(protocol: libc::c_int) -> Result<Connection, NetlinkError> {
        Ok(Connection {
            socket: sys::Socket::open(protocol)?,
            seq: 0,
            buffer: Vec::new(),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Sends one dump request (`kind` with `body`) and feeds each reply message's type and
    /// payload to `handle` until `NLMSG_DONE`.
    pub fn dump(
        &mut self,
        kind: u16,
        body: &[u8],
        mut handle: impl FnMut(u16, &[u8]) -> Result<(), NetlinkError>,
    ) -> Result<(), NetlinkError> {
        let seq = self.next_seq();
        self.socket
            .send(&message(kind, NLM_F_REQUEST | NLM_F_DUMP, seq, body))?;
        loop {
            let len = self.socket.receive(&mut self.buffer)?;
            if len == 0 {
                return Err(NetlinkError::Malformed("empty datagram before NLMSG_DONE"));
            }
            if parse_datagram(&self.buffer[..len], seq, &mut handle)? {
                return Ok(());
            }
        }
    }

    /// Sends one request that the kernel answers with a single message (no dump, no
    /// acknowledgement asked) and feeds that answer to `handle`. Datagrams of earlier
    /// sequence numbers (an answer that came after its request timed out) are skipped.
    pub fn request(
        &mut self,
        kind: u16,
        body: &[u8],
        mut handle: impl FnMut(u16, &[u8]) -> Result<(), NetlinkError>,
    ) -> Result<(), NetlinkError> {
        let seq = self.next_seq();
        self.socket.send(&message(kind, NLM_F_REQUEST, seq, body))?;
        loop {
            let len = self.socket.receive(&mut self.buffer)?;
            if len == 0 {
                return Err(NetlinkError::Malformed(
                    "empty datagram instead of an answer",
                ));
            }
            let mut answered = false;
            let done = parse_datagram(&self.buffer[..len], seq, &mut |kind, payload| {
                answered = true;
                handle(kind, payload)
            })?;
            if answered || done {
                return Ok(());
            }
        }
    }
}

/// Sends one dump request with the given body on a new `protocol` netlink socket and feeds
/// each reply message to `handle` until `NLMSG_DONE`.
pub fn dump(
    protocol: libc::c_int,
    request: u16,
    body: &[u8],
    handle: impl FnMut(u16, &[u8]) -> Result<(), NetlinkError>,
) -> Result<(), NetlinkError> {
    Connection::open(protocol)?.dump(request, body, handle)
}

/// A generic netlink dump on a new socket: `command` of `family` with the request's
/// attributes; each reply's attributes (after the 4-byte `genlmsghdr`) go to `handle`.
pub fn generic_dump(
    family: u16,
    command: u8,
    request: &[u8],
    mut handle: impl FnMut(&[u8]) -> Result<(), NetlinkError>,
) -> Result<(), NetlinkError> {
    let body = generic_body(command, request);
    dump(libc::NETLINK_GENERIC, family, &body, |kind, payload| {
        if kind == family {
            handle(payload.get(GENL_HDRLEN..).unwrap_or(&[]))?;
        }
        Ok(())
    })
}

/// A generic netlink message body: the `genlmsghdr` (`command`, version 1) and the
/// request's attributes.
pub fn generic_body(command: u8, attributes: &[u8]) -> Vec<u8> {
    let mut body = vec![command, 1, 0, 0];
    body.extend_from_slice(attributes);
    body
}

/// The id of the generic netlink family `name` (`nl80211` exists only where a wireless driver
/// is loaded), `None` where the kernel does not know it: one `CTRL_CMD_GETFAMILY` request to
/// the controller, on a new socket.
pub fn generic_family_id(name: &str) -> Result<Option<u16>, NetlinkError> {
    Connection::open(libc::NETLINK_GENERIC)?.generic_family_id(name)
}

impl Connection {
    /// [`generic_family_id`] on this (`NETLINK_GENERIC`) connection.
    pub fn generic_family_id(&mut self, name: &str) -> Result<Option<u16>, NetlinkError> {
        const CTRL_CMD_GETFAMILY: u8 = 3;
        const CTRL_ATTR_FAMILY_ID: u16 = 1;
        const CTRL_ATTR_FAMILY_NAME: u16 = 2;
        let mut value = name.as_bytes().to_vec();
        value.push(0);
        let mut request = Vec::new();
        push_attribute(&mut request, CTRL_ATTR_FAMILY_NAME, &value);
        let body = generic_body(CTRL_CMD_GETFAMILY, &request);
        let mut id = None;
        let answer = self.request(GENL_ID_CTRL, &body, |kind, payload| {
            if kind == GENL_ID_CTRL {
                for (attribute, value) in attributes(payload.get(GENL_HDRLEN..).unwrap_or(&[])) {
                    if attribute == CTRL_ATTR_FAMILY_ID {
                        id = u16_at(value, 0);
                    }
                }
            }
            Ok(())
        });
        match answer {
            Ok(()) => Ok(id),
            Err(NetlinkError::Kernel(err)) if err.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// Appends one `nlattr` (length, type, value, padding to 4 bytes) to a message body.
pub fn push_attribute(body: &mut Vec<u8>, kind: u16, value: &[u8]) {
    body.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    body.extend_from_slice(&kind.to_ne_bytes());
    body.extend_from_slice(value);
    body.resize(align(body.len()), 0);
}

/// A netlink message: header (`kind`, `flags`, `seq`, port 0) and body.
pub fn message(kind: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let total = NLMSG_HDRLEN + body.len();
    let mut message = Vec::with_capacity(total);
    message.extend_from_slice(&(total as u32).to_ne_bytes());
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(&flags.to_ne_bytes());
    message.extend_from_slice(&seq.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes());
    message.extend_from_slice(body);
    message
}

/// Walks the messages of one datagram, handing those of sequence number `seq` to `handle`
/// (others are skipped); `Ok(true)` once `NLMSG_DONE` is seen, an error for `NLMSG_ERROR`
/// with a non-zero errno or a message whose length is out of bounds.
pub fn parse_datagram(
    mut data: &[u8],
    seq: u32,
    handle: &mut impl FnMut(u16, &[u8]) -> Result<(), NetlinkError>,
) -> Result<bool, NetlinkError> {
    while data.len() >= NLMSG_HDRLEN {
        let len = u32_at(data, 0).ok_or(NetlinkError::Malformed("short header"))? as usize;
        let kind = u16_at(data, 4).ok_or(NetlinkError::Malformed("short header"))?;
        let message_seq = u32_at(data, 8).ok_or(NetlinkError::Malformed("short header"))?;
        if len < NLMSG_HDRLEN || len > data.len() {
            return Err(NetlinkError::Malformed("message length out of bounds"));
        }
        let payload = &data[NLMSG_HDRLEN..len];
        if message_seq == seq {
            match kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let code =
                        i32_at(payload, 0).ok_or(NetlinkError::Malformed("short error message"))?;
                    if code != 0 {
                        return Err(NetlinkError::Kernel(std::io::Error::from_raw_os_error(
                            code.saturating_neg(),
                        )));
                    }
                }
                _ => handle(kind, payload)?,
            }
        }
        data = data.get(align(len)..).unwrap_or(&[]);
    }
    Ok(false)
}

/// The `rtattr`s/`nlattr`s of a message body: `(type, value)`, stopping at the first
/// malformed one. The type is given without `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER`.
pub fn attributes(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(data, 0)?);
        let kind = u16_at(data, 2)? & 0x3fff;
        if len < 4 || len > data.len() {
            return None;
        }
        let value = &data[4..len];
        data = data.get(align(len)..).unwrap_or(&[]);
        Some((kind, value))
    })
}

/// `len` rounded up to netlink's 4-byte alignment.
pub fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// The `N` bytes at byte `at`, `None` past the end.
fn bytes_at<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The native-endian `u16` at byte `at`, `None` past the end.
pub fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    bytes_at(data, at).map(u16::from_ne_bytes)
}

/// The native-endian `u32` at byte `at`, `None` past the end.
pub fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    bytes_at(data, at).map(u32::from_ne_bytes)
}

/// The native-endian `u64` at byte `at`, `None` past the end.
pub fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    bytes_at(data, at).map(u64::from_ne_bytes)
}

/// The native-endian `i32` at byte `at`, `None` past the end.
pub fn i32_at(data: &[u8], at: usize) -> Option<i32> {
    bytes_at(data, at).map(i32::from_ne_bytes)
}

/// The netlink socket, through nix's safe wrappers (its `socket` feature): no `unsafe` here.
mod sys {
    use std::io;
    use std::os::fd::{AsRawFd, OwnedFd};

    use nix::sys::socket::{
        AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, recv, send, setsockopt, socket,
        sockopt,
    };
    use nix::sys::time::{TimeVal, TimeValLike};

    /// How long an answer may take before the caller gives up on it.
    const RECEIVE_TIMEOUT_SECONDS: i64 = 5;
    const INITIAL_BUFFER: usize = 32 * 1024;

    #[derive(Debug)]
    pub struct Socket(OwnedFd);

    impl Socket {
        /// An `AF_NETLINK` socket of the given protocol (`NETLINK_ROUTE`,
        /// `NETLINK_SOCK_DIAG`, `NETLINK_GENERIC`), close-on-exec, with a receive timeout.
        pub fn open(protocol: libc::c_int) -> io::Result<Socket> {
            let protocol = match protocol {
                libc::NETLINK_ROUTE => SockProtocol::NetlinkRoute,
                libc::NETLINK_SOCK_DIAG => SockProtocol::NetlinkSockDiag,
                libc::NETLINK_GENERIC => SockProtocol::NetlinkGeneric,
                other => {
                    return Err(io::Error::other(format!(
                        "unsupported netlink protocol {other}"
                    )));
                }
            };
            let fd = socket(
                AddressFamily::Netlink,
                SockType::Raw,
                SockFlag::SOCK_CLOEXEC,
                protocol,
            )?;
            setsockopt(
                &fd,
                sockopt::ReceiveTimeout,
                &TimeVal::seconds(RECEIVE_TIMEOUT_SECONDS),
            )?;
            Ok(Socket(fd))
        }

        /// Sends one whole message to the kernel (port 0, the default destination).
        pub fn send(&self, message: &[u8]) -> io::Result<()> {
            let sent = send(self.0.as_raw_fd(), message, MsgFlags::empty())?;
            if sent != message.len() {
                return Err(io::Error::other("short netlink send"));
            }
            Ok(())
        }

        /// Receives one datagram into `buffer` (grown to fit it) and returns its length.
        pub fn receive(&self, buffer: &mut Vec<u8>) -> io::Result<usize> {
            if buffer.len() < INITIAL_BUFFER {
                buffer.resize(INITIAL_BUFFER, 0);
            }
            loop {
                // Peek with MSG_TRUNC to learn the datagram's real size first, so a large
                // dump message is never cut.
                let size = match recv(
                    self.0.as_raw_fd(),
                    buffer,
                    MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
                ) {
                    Ok(size) => size,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(err) => return Err(err.into()),
                };
                if size > buffer.len() {
                    buffer.resize(size, 0);
                }
                match recv(self.0.as_raw_fd(), buffer, MsgFlags::empty()) {
                    Ok(got) => return Ok(got),
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(err) => return Err(err.into()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_datagram_ends_at_done_and_reports_kernel_errors() {
        let mut datagram = message(40, 0, 1, &[1, 2, 3]);
        datagram.resize(align(datagram.len()), 0);
        datagram.extend(message(40, 0, 2, &[9])); // another request's: skipped
        datagram.resize(align(datagram.len()), 0);
        datagram.extend(message(NLMSG_DONE, 0, 1, &[]));
        let mut seen = Vec::new();
        let done = parse_datagram(&datagram, 1, &mut |kind, payload| {
            seen.push((kind, payload.to_vec()));
            Ok(())
        })
        .unwrap();
        assert!(done);
        assert_eq!(seen, vec![(40, vec![1, 2, 3])]);
        let error = message(NLMSG_ERROR, 0, 1, &(-libc::EINVAL).to_ne_bytes());
        match parse_datagram(&error, 1, &mut |_, _| Ok(())) {
            Err(NetlinkError::Kernel(err)) => assert_eq!(err.raw_os_error(), Some(libc::EINVAL)),
            other => panic!("{other:?}"),
        }
        let mut long = message(40, 0, 1, &[]);
        long[0] = 200;
        assert!(parse_datagram(&long, 1, &mut |_, _| Ok(())).is_err());
    }

    #[test]
    fn attributes_stop_at_the_first_malformed_one() {
        let mut body = Vec::new();
        push_attribute(&mut body, 1, &7u32.to_ne_bytes());
        push_attribute(&mut body, 2 | 0x8000, b"ab");
        let whole: Vec<(u16, Vec<u8>)> = attributes(&body).map(|(k, v)| (k, v.to_vec())).collect();
        assert_eq!(
            whole,
            vec![(1, 7u32.to_ne_bytes().to_vec()), (2, b"ab".to_vec())]
        );
        assert_eq!(attributes(&body[..10]).count(), 1);
        assert_eq!(u32_at(&body, 4), Some(7));
        assert_eq!(u64_at(&body, 9), None);
        assert_eq!(u32_at(&body, usize::MAX), None);
    }

    #[test]
    fn live_generic_family_lookup() {
        // The controller always knows itself; no family has this name.
        assert_eq!(generic_family_id("octo_nofamily").unwrap(), None);
        assert_eq!(generic_family_id("nlctrl").unwrap(), Some(GENL_ID_CTRL));
        // One connection answers several requests in turn.
        let mut connection = Connection::open(libc::NETLINK_GENERIC).unwrap();
        assert_eq!(
            connection.generic_family_id("nlctrl").unwrap(),
            Some(GENL_ID_CTRL)
        );
        assert_eq!(connection.generic_family_id("octo_nofamily").unwrap(), None);
        // A generic dump: the controller lists every family, itself included.
        let mut names = Vec::new();
        generic_dump(GENL_ID_CTRL, 3, &[], |message| {
            for (kind, value) in attributes(message) {
                if kind == 2 {
                    names.push(
                        String::from_utf8_lossy(value)
                            .trim_end_matches('\0')
                            .to_owned(),
                    );
                }
            }
            Ok(())
        })
        .unwrap();
        assert!(names.iter().any(|n| n == "nlctrl"), "{names:?}");
    }

    proptest::proptest! {
        #[test]
        fn garbage_datagrams_never_panic(
            garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            seq in 0u32..3,
        ) {
            let _ = parse_datagram(&garbage, seq, &mut |_, payload| {
                let _ = attributes(payload).count();
                Ok(())
            });
        }
    }
}
