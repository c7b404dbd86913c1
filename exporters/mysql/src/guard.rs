//! A guard between mysql_async and a server it reaches without TLS, or over a unix socket the
//! operator did not name: it relays the connection and watches the authentication exchange, so
//! that the server never gets the password itself unless the operator allowed it.
//!
//! Why a relay: mysql_async 0.37 answers caching_sha2_password's "perform full authentication"
//! (`0x01 0x04`) by sending the password in clear over a socket, and over plain TCP by asking
//! the *server* for an RSA key (`0x02`) and encrypting the password with whatever key comes
//! back; it has no option to refuse, nor to use a known key (libmysqlclient's
//! `get-server-public-key` / `server-public-key-path`). mysql_async connects to the guard on a
//! loopback port instead, over TCP, so it never sends the password in clear; the guard:
//!
//! - answers a full-authentication request with libmysqlclient's error 2061 ("Authentication
//!   requires secure connection") and hangs up, by default ([`ServerPublicKey::Refuse`]);
//! - lets the key request through with `get-server-public-key` ([`ServerPublicKey::Request`]);
//! - answers the key request itself with the operator's key for `server-public-key-path`
//!   ([`ServerPublicKey::Known`]), so the server only ever gets the password encrypted with it;
//! - refuses a switch to mysql_clear_password (the password in clear text) in every case;
//! - steps aside for TLS (the client asked for it: the password is then inside TLS), and once the
//!   server has accepted or refused the login, relaying bytes as they come.
//!
//! Every wait for the server also watches the client: when mysql_async gives up (the scrape was
//! abandoned or ran out of time), the guard drops the server connection at once.

use std::io;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream, UnixStream};

use crate::config::client::{Endpoint, ServerPublicKey};
use crate::task::AbortOnDrop;

/// The largest packet accepted before the login completes: greetings, auth data and an RSA key
/// are a few hundred bytes; a server sending megabytes here is not a MySQL server.
const MAX_HANDSHAKE_PACKET: usize = 64 * 1024;
/// How long one direction of an established relay may run on after the other has closed.
const LINGER: Duration = Duration::from_secs(5);
/// `CLIENT_SSL` in the capability flags.
const CLIENT_SSL: u32 = 0x800;

const FULL_AUTHENTICATION_REFUSED: &str = "Authentication plugin 'caching_sha2_password' \
    reported error: Authentication requires secure connection. (octo-mysqld-exporter: the server \
    asked for the password itself over a connection without TLS; use TLS, or set \
    server-public-key-path or get-server-public-key for this auth module)";
const CLEAR_PASSWORD_REFUSED: &str = "Authentication plugin 'mysql_clear_password' cannot be \
    loaded: refused without TLS, the password would travel in clear text (octo-mysqld-exporter)";

/// A loopback listener relaying to one server; stops accepting when dropped (relays already
/// running end with their client).
#[derive(Debug)]
pub struct Guard {
    port: u16,
    _accepting: AbortOnDrop<()>,
}

struct Rules {
    upstream: Endpoint,
    public_key: ServerPublicKey,
}

impl Guard {
    /// Starts listening on 127.0.0.1; must run inside the tokio runtime.
    pub fn start(upstream: Endpoint, public_key: ServerPublicKey) -> io::Result<Guard> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let listener = TcpListener::from_std(listener)?;
        let rules = Arc::new(Rules {
            upstream,
            public_key,
        });
        let accepting = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((client, _)) => {
                        tokio::spawn(relay(client, rules.clone()));
                    }
                    Err(err) => {
                        // Out of descriptors, most likely: mysql_async's connect waits and
                        // then fails on its own deadline.
                        tracing::debug!(error = %err, "guard cannot accept");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(Guard {
            port,
            _accepting: AbortOnDrop(accepting),
        })
    }

    /// Where mysql_async connects (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
type Upstream = Box<dyn Stream>;

async fn connect(upstream: &Endpoint) -> io::Result<Upstream> {
    Ok(match upstream {
        Endpoint::Tcp { host, port } => {
            let stream = TcpStream::connect((host.as_str(), *port)).await?;
            stream.set_nodelay(true)?;
            Box::new(stream)
        }
        Endpoint::Unix(path) => Box::new(UnixStream::connect(path).await?),
    })
}

/// Resolves when the client hangs up, or says something while it should be listening.
async fn client_gone(client: &TcpStream) {
    let mut byte = [0u8; 1];
    let _ = client.peek(&mut byte).await;
}

async fn relay(mut client: TcpStream, rules: Arc<Rules>) {
    let _ = client.set_nodelay(true);
    let mut server = tokio::select! {
        connected = connect(&rules.upstream) => match connected {
            Ok(server) => server,
            Err(err) => {
                tracing::debug!(server = %rules.upstream, error = %err, "guard cannot connect");
                return;
            }
        },
        () = client_gone(&client) => return,
    };
    match login(&mut client, &mut server, &rules.public_key).await {
        Ok(Verdict::Relay) => pump(client, server).await,
        Ok(Verdict::Refused) => {
            tracing::debug!(server = %rules.upstream, "guard refused to hand over the password");
        }
        Err(err) => tracing::debug!(server = %rules.upstream, error = %err, "guard: login ended"),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Authenticated, refused by the server, or inside TLS: relay whatever comes.
    Relay,
    /// The server asked for the password in a way the operator did not allow.
    Refused,
}

struct Packet {
    seq: u8,
    payload: Vec<u8>,
}

async fn read_packet<R: AsyncRead + Unpin + ?Sized>(reader: &mut R) -> io::Result<Packet> {
    let mut header = [0u8; 4];
    reader.read_exact(&mut header).await?;
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    if len > MAX_HANDSHAKE_PACKET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "oversized packet during login",
        ));
    }
    let mut payload = vec![0; len];
    reader.read_exact(&mut payload).await?;
    Ok(Packet {
        seq: header[3],
        payload,
    })
}

async fn write_packet<W: AsyncWrite + Unpin + ?Sized>(
    writer: &mut W,
    seq: u8,
    payload: &[u8],
) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|len| *len < 1 << 24)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "packet too large"))?;
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&len.to_le_bytes()[..3]);
    frame.push(seq);
    frame.extend_from_slice(payload);
    writer.write_all(&frame).await
}

/// The server's next packet, unless the client leaves first.
async fn from_server(client: &TcpStream, server: &mut Upstream) -> io::Result<Packet> {
    tokio::select! {
        packet = read_packet(server.as_mut()) => packet,
        () = client_gone(client) => Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "the client left or spoke out of turn",
        )),
    }
}

/// An ERR packet to mysql_async, which reports it as `ERROR HY000 (code): message`.
async fn refuse(client: &mut TcpStream, seq: u8, code: u16, message: &str) -> Verdict {
    let mut payload = vec![0xff];
    payload.extend_from_slice(&code.to_le_bytes());
    payload.extend_from_slice(b"#HY000");
    payload.extend_from_slice(message.as_bytes());
    let _ = write_packet(client, seq, &payload).await;
    Verdict::Refused
}

/// The auth plugin an AuthSwitchRequest (`0xfe name\0 data`) asks for.
fn switch_plugin(payload: &[u8]) -> &[u8] {
    let rest = payload.get(1..).unwrap_or_default();
    rest.split(|b| *b == 0).next().unwrap_or_default()
}

/// An SSLRequest: exactly the 32 bytes of capabilities, packet size, charset and filler, with
/// `CLIENT_SSL` set.
fn is_ssl_request(payload: &[u8]) -> bool {
    payload.len() == 32
        && payload
            .first_chunk::<4>()
            .is_some_and(|c| u32::from_le_bytes(*c) & CLIENT_SSL != 0)
}

/// Relays the connection phase, packet by packet, until the server accepts or refuses the
/// login. The phase is strictly one packet at a time, which is what makes it checkable.
async fn login(
    client: &mut TcpStream,
    server: &mut Upstream,
    public_key: &ServerPublicKey,
) -> io::Result<Verdict> {
    let greeting = from_server(client, server).await?;
    write_packet(client, greeting.seq, &greeting.payload).await?;
    if greeting.payload.first() == Some(&0xff) {
        return Ok(Verdict::Relay);
    }
    let response = read_packet(client).await?;
    write_packet(server.as_mut(), response.seq, &response.payload).await?;
    if is_ssl_request(&response.payload) {
        return Ok(Verdict::Relay);
    }
    // Packets the guard answered itself, which the server never saw: the sequence numbers of
    // the two sides differ by this much from then on.
    let mut answered: u8 = 0;
    loop {
        let packet = from_server(client, server).await?;
        let to_client = packet.seq.wrapping_add(answered);
        match packet.payload.as_slice() {
            [0x00, ..] | [0xff, ..] => {
                write_packet(client, to_client, &packet.payload).await?;
                return Ok(Verdict::Relay);
            }
            // Fast authentication succeeded; the OK packet follows without an answer.
            [0x01, 0x03] => {
                write_packet(client, to_client, &packet.payload).await?;
                continue;
            }
            [0x01, 0x04] => match public_key {
                ServerPublicKey::Refuse => {
                    return Ok(refuse(client, to_client, 2061, FULL_AUTHENTICATION_REFUSED).await);
                }
                ServerPublicKey::Request => {}
                ServerPublicKey::Known(pem) => {
                    write_packet(client, to_client, &packet.payload).await?;
                    let request = read_packet(client).await?;
                    if request.payload.as_slice() != [0x02] {
                        // Over the guard's TCP mysql_async always asks for the key first;
                        // anything else is not a password encrypted with the operator's key.
                        return Ok(Verdict::Refused);
                    }
                    let mut key = vec![0x01];
                    key.extend_from_slice(pem.as_bytes());
                    write_packet(client, request.seq.wrapping_add(1), &key).await?;
                    answered = answered.wrapping_add(2);
                    let encrypted = read_packet(client).await?;
                    let to_server = encrypted.seq.wrapping_sub(answered);
                    write_packet(server.as_mut(), to_server, &encrypted.payload).await?;
                    continue;
                }
            },
            [0xfe, ..] if switch_plugin(&packet.payload) == b"mysql_clear_password" => {
                return Ok(refuse(client, to_client, 2059, CLEAR_PASSWORD_REFUSED).await);
            }
            _ => {}
        }
        // Everything else (an auth switch, the server's key, other plugins' data) expects the
        // client's answer.
        write_packet(client, to_client, &packet.payload).await?;
        let answer = read_packet(client).await?;
        let to_server = answer.seq.wrapping_sub(answered);
        write_packet(server.as_mut(), to_server, &answer.payload).await?;
    }
}

/// Relays bytes both ways until one side closes, then gives the other [`LINGER`] to finish.
async fn pump(client: TcpStream, server: Upstream) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let upstream = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let downstream = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::pin!(upstream, downstream);
    tokio::select! {
        () = &mut upstream => { let _ = tokio::time::timeout(LINGER, downstream).await; }
        () = &mut downstream => { let _ = tokio::time::timeout(LINGER, upstream).await; }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_shapes() {
        assert_eq!(
            switch_plugin(b"\xfemysql_clear_password\0abc"),
            b"mysql_clear_password"
        );
        assert_eq!(switch_plugin(b"\xfe"), b"");
        let mut ssl = vec![0u8; 32];
        ssl[1] = 0x08;
        assert!(is_ssl_request(&ssl));
        ssl[1] = 0;
        assert!(!is_ssl_request(&ssl));
        assert!(!is_ssl_request(&[0x00, 0x08, 0, 0]));
    }
}
