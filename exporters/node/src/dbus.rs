//! A small blocking face over zbus for the collectors that ask a D-Bus service (systemd,
//! logind): connect to the system bus (or systemd's private socket), call a method, read a
//! property. Collectors run on a blocking thread of the exporter's tokio runtime; the calls
//! run on that runtime (or, outside one, as in unit tests, on a runtime of their own).

use std::future::Future;
use std::os::fd::OwnedFd;
use std::time::Duration;

use zbus::connection::socket::ReadHalf;
use zbus::zvariant::{DynamicDeserialize, DynamicType, OwnedValue};

use crate::collector::CollectorError;
use crate::dbus_header;

/// How long one method call may take before the scrape gives up on it: a wedged bus must not
/// hang the collector for ever.
const METHOD_TIMEOUT: Duration = Duration::from_secs(10);

/// systemd's private socket: D-Bus without a bus daemon, root only.
pub const SYSTEMD_PRIVATE_SOCKET: &str = "/run/systemd/private";

fn error(what: &str, err: impl std::fmt::Display) -> CollectorError {
    CollectorError::Other(format!("{what}: {err}"))
}

/// Runs `future` to completion from synchronous collector code.
pub fn block_on<F: Future>(future: F) -> Result<F::Output, CollectorError> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => Ok(handle.block_on(future)),
        Err(_) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| error("cannot start a runtime for D-Bus", err))?;
            Ok(runtime.block_on(future))
        }
    }
}

/// A connection to the system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket).
pub async fn system_bus() -> Result<zbus::Connection, CollectorError> {
    zbus::connection::Builder::system()
        .map_err(|err| error("couldn't get dbus connection", err))?
        .method_timeout(METHOD_TIMEOUT)
        .build()
        .await
        .map_err(|err| error("couldn't get dbus connection", err))
}

/// A peer-to-peer connection to systemd's private socket: no bus daemon, so no `Hello` and no
/// unique names. systemd marks every message it sends there with its well-known name as the
/// sender (sd-bus's `sd_bus_set_sender`, so that clients expecting a bus see who answers); zbus
/// only accepts unique names (`:1.42`) in that header field and drops the connection on the first
/// reply. The read half below takes that field out of each message before zbus parses it; it
/// says nothing zbus needs (replies are matched by their reply serial, and only systemd is on
/// the other end).
pub async fn systemd_private() -> Result<zbus::Connection, CollectorError> {
    let connect = |err: &dyn std::fmt::Display| {
        error(
            &format!("couldn't connect to {SYSTEMD_PRIVATE_SOCKET}"),
            err,
        )
    };
    let stream = tokio::net::UnixStream::connect(SYSTEMD_PRIVATE_SOCKET)
        .await
        .map_err(|err| connect(&err))?;
    let (read, write) = stream.into_split();
    let socket = zbus::connection::socket::Split::new(
        Box::new(SenderlessReader { inner: read }) as Box<dyn ReadHalf>,
        Box::new(write) as Box<dyn zbus::connection::socket::WriteHalf>,
    );
    zbus::connection::Builder::socket(socket)
        .p2p()
        .auth_mechanism(zbus::AuthMechanism::External)
        .method_timeout(METHOD_TIMEOUT)
        .build()
        .await
        .map_err(|err| connect(&err))
}

/// systemd's private socket, read message by message with the sender field taken out.
#[derive(Debug)]
struct SenderlessReader {
    inner: tokio::net::unix::OwnedReadHalf,
}

impl SenderlessReader {
    /// Reads from the socket until `bytes` holds `len` bytes (never more).
    async fn fill(&mut self, bytes: &mut Vec<u8>, len: usize) -> zbus::Result<()> {
        let mut pos = bytes.len();
        bytes.resize(len, 0);
        while pos < len {
            let (read, _fds) = self.inner.recvmsg(&mut bytes[pos..]).await?;
            if read == 0 {
                return Err(zbus::Error::InputOutput(std::sync::Arc::new(
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "systemd closed its private socket",
                    ),
                )));
            }
            pos += read;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ReadHalf for SenderlessReader {
    async fn receive_message(
        &mut self,
        seq: u64,
        already_received_bytes: &mut Vec<u8>,
        already_received_fds: &mut Vec<OwnedFd>,
    ) -> zbus::Result<zbus::Message> {
        let mut bytes = std::mem::take(already_received_bytes);
        if bytes.len() < dbus_header::FIXED_LEN {
            self.fill(&mut bytes, dbus_header::FIXED_LEN).await?;
        }
        let Some(total) = dbus_header::message_len(&bytes) else {
            return Err(zbus::Error::ExcessData);
        };
        if bytes.len() > total {
            *already_received_bytes = bytes.split_off(total);
        }
        self.fill(&mut bytes, total).await?;
        let mut message = dbus_header::without_sender(&bytes).unwrap_or(bytes);
        // zbus's own framing and parsing, on a message that is already complete.
        Complete
            .receive_message(seq, &mut message, already_received_fds)
            .await
    }

    async fn recvmsg(&mut self, buf: &mut [u8]) -> std::io::Result<(usize, Vec<OwnedFd>)> {
        // The authentication handshake reads through here.
        self.inner.recvmsg(buf).await
    }

    async fn peer_credentials(&mut self) -> std::io::Result<zbus::fdo::ConnectionCredentials> {
        self.inner.peer_credentials().await
    }
}

/// A read half with nothing more to read: handed a complete message as "already received", zbus's
/// default `receive_message` parses it without reading.
#[derive(Debug)]
struct Complete;

#[async_trait::async_trait]
impl ReadHalf for Complete {
    async fn recvmsg(&mut self, _buf: &mut [u8]) -> std::io::Result<(usize, Vec<OwnedFd>)> {
        Ok((0, Vec::new()))
    }
}

/// Calls `interface.method(args)` on `path` of `destination` and returns the reply's body.
pub async fn call<A, R>(
    connection: &zbus::Connection,
    destination: &str,
    path: &str,
    interface: &str,
    method: &str,
    args: &A,
) -> Result<R, zbus::Error>
where
    A: zbus::export::serde::Serialize + DynamicType,
    R: for<'d> DynamicDeserialize<'d>,
{
    let reply = connection
        .call_method(Some(destination), path, Some(interface), method, args)
        .await?;
    reply.body().deserialize::<R>()
}

/// Reads one property through `org.freedesktop.DBus.Properties.Get`.
pub async fn property(
    connection: &zbus::Connection,
    destination: &str,
    path: &str,
    interface: &str,
    name: &str,
) -> Result<OwnedValue, zbus::Error> {
    call(
        connection,
        destination,
        path,
        "org.freedesktop.DBus.Properties",
        "Get",
        &(interface, name),
    )
    .await
}
