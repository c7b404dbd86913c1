//! A small blocking face over zbus for the collectors that ask a D-Bus service (systemd,
//! logind): connect to the system bus (or systemd's private socket), call a method, read a
//! property. Collectors run on a blocking thread of the exporter's tokio runtime; the calls
//! run on that runtime (or, outside one, as in unit tests, on a runtime of their own).

use std::future::Future;
use std::time::Duration;

use zbus::zvariant::{DynamicDeserialize, DynamicType, OwnedValue};

use crate::collector::CollectorError;

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
