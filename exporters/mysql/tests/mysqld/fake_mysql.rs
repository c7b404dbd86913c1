//! A hostile "MySQL server" that speaks just enough of the protocol to ask for the password:
//! a handshake v10 offering caching_sha2_password, then "perform full authentication"
//! (`0x01 0x04`), or a switch to mysql_clear_password. It records every packet the client sends
//! and never lets anyone in.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, UnixListener};

/// What the server asks for after the client's handshake response.
#[derive(Debug, Clone, Copy)]
pub enum Challenge {
    /// caching_sha2_password's "perform full authentication": the client must send the password,
    /// in clear over TLS or a socket, else RSA-encrypted with a key it may ask the server for.
    FullAuthentication,
    /// An auth switch to mysql_clear_password: the password in clear text.
    ClearPassword,
}

/// A 2048-bit RSA public key (its private half thrown away): what the server answers to a
/// public key request (`0x02`), so a client that asks goes on to send the encrypted password.
pub const PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqSfhXviB0NGeCSIdL3pd
zD7QrlGZ0LdbH6MYp/clV3hwaomMmV17yunbOQVBiulO0dOq5txqArUVCOgpsfH4
gIayJodZbAiiaEAZOB9x4qfwRhmYUR8P1ZIsZuHXv47X7r/s4x0aV04K041MvXHU
4ljUa7cj6OPJrf4l8eYd/xIYOQnctp+nSlz/bMu5noems/yLBlYAttI9r/O+qLWO
ExmZikxEffRv6355VZJj9qC+HmKZX9WxpNeRMYrsPBsDAIus4P1uOgDy6uja8FKo
uURcjMuuZ7JnoGQ7HrcPyLPWOpBwJsoJs3vbo7n7+mZQQioxRZfIONpakjbCs0Sb
HQIDAQAB
-----END PUBLIC KEY-----
";

/// What the clients sent.
#[derive(Debug, Default)]
pub struct Record {
    pub connections: AtomicUsize,
    /// Every packet payload after the handshake response, in order, from all connections.
    pub after_challenge: Mutex<Vec<Vec<u8>>>,
    /// The handshake responses.
    pub handshake_responses: Mutex<Vec<Vec<u8>>>,
}

impl Record {
    pub fn after_challenge(&self) -> Vec<Vec<u8>> {
        self.after_challenge.lock().unwrap().clone()
    }

    /// Whether any packet holds `secret` in clear.
    pub fn saw_in_clear(&self, secret: &str) -> bool {
        let contains = |packet: &Vec<u8>| {
            packet
                .windows(secret.len())
                .any(|window| window == secret.as_bytes())
        };
        self.after_challenge.lock().unwrap().iter().any(contains)
            || self
                .handshake_responses
                .lock()
                .unwrap()
                .iter()
                .any(contains)
    }

    /// Whether a client asked for the server's public key (`0x02`).
    pub fn saw_key_request(&self) -> bool {
        self.after_challenge()
            .iter()
            .any(|p| p.as_slice() == [0x02])
    }

    /// Whether a client sent an RSA-2048-encrypted block (the password, encrypted).
    pub fn saw_encrypted_password(&self) -> bool {
        self.after_challenge().iter().any(|p| p.len() == 256)
    }
}

/// Listens on 127.0.0.1; returns the port and the record.
pub async fn tcp(challenge: Challenge) -> (u16, Arc<Record>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let record = Arc::new(Record::default());
    let shared = record.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, challenge, shared.clone()));
        }
    });
    (port, record)
}

/// Listens on a unix socket at `path`.
pub fn unix(path: &Path, challenge: Challenge) -> Arc<Record> {
    let listener = UnixListener::bind(path).unwrap();
    let record = Arc::new(Record::default());
    let shared = record.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, challenge, shared.clone()));
        }
    });
    record
}

const NONCE: &[u8; 20] = b"abcdefghijklmnopqrst";

fn greeting() -> Vec<u8> {
    // CLIENT_LONG_PASSWORD, FOUND_ROWS, LONG_FLAG, CONNECT_WITH_DB, PROTOCOL_41, TRANSACTIONS,
    // SECURE_CONNECTION, MULTI_STATEMENTS, MULTI_RESULTS, PLUGIN_AUTH, CONNECT_ATTRS,
    // PLUGIN_AUTH_LENENC_CLIENT_DATA, DEPRECATE_EOF; no SSL, so the client cannot ask for TLS.
    let capabilities: u32 = 0x1
        | 0x2
        | 0x4
        | 0x8
        | 0x200
        | 0x2000
        | 0x8000
        | 0x1_0000
        | 0x2_0000
        | 0x8_0000
        | 0x10_0000
        | 0x20_0000
        | 0x100_0000;
    let mut packet = vec![10];
    packet.extend_from_slice(b"8.0.36\0");
    packet.extend_from_slice(&7u32.to_le_bytes());
    packet.extend_from_slice(&NONCE[..8]);
    packet.push(0);
    packet.extend_from_slice(&(capabilities as u16).to_le_bytes());
    packet.push(255);
    packet.extend_from_slice(&2u16.to_le_bytes());
    packet.extend_from_slice(&((capabilities >> 16) as u16).to_le_bytes());
    packet.push(21);
    packet.extend_from_slice(&[0; 10]);
    packet.extend_from_slice(&NONCE[8..]);
    packet.push(0);
    packet.extend_from_slice(b"caching_sha2_password\0");
    packet
}

async fn write_packet<W: AsyncWrite + Unpin>(w: &mut W, seq: u8, payload: &[u8]) -> bool {
    let len = payload.len() as u32;
    let mut frame = len.to_le_bytes()[..3].to_vec();
    frame.push(seq);
    frame.extend_from_slice(payload);
    w.write_all(&frame).await.is_ok()
}

async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), r.read_exact(&mut header))
        .await
        .ok()?
        .ok()?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut payload = vec![0; len];
    r.read_exact(&mut payload).await.ok()?;
    Some((header[3], payload))
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    challenge: Challenge,
    record: Arc<Record>,
) {
    record.connections.fetch_add(1, Ordering::SeqCst);
    if !write_packet(&mut stream, 0, &greeting()).await {
        return;
    }
    let Some((seq, response)) = read_packet(&mut stream).await else {
        return;
    };
    record.handshake_responses.lock().unwrap().push(response);
    let request = match challenge {
        Challenge::FullAuthentication => vec![0x01, 0x04],
        Challenge::ClearPassword => {
            let mut switch = vec![0xfe];
            switch.extend_from_slice(b"mysql_clear_password\0");
            switch.extend_from_slice(NONCE);
            switch.push(0);
            switch
        }
    };
    if !write_packet(&mut stream, seq + 1, &request).await {
        return;
    }
    while let Some((seq, packet)) = read_packet(&mut stream).await {
        let wants_key = packet.as_slice() == [0x02];
        record.after_challenge.lock().unwrap().push(packet);
        let reply = if wants_key {
            let mut key = vec![0x01];
            key.extend_from_slice(PUBLIC_KEY_PEM.as_bytes());
            key
        } else {
            let mut error = vec![0xff];
            error.extend_from_slice(&1045u16.to_le_bytes());
            error.extend_from_slice(b"#28000Access denied");
            error
        };
        if !write_packet(&mut stream, seq + 1, &reply).await || !wants_key {
            return;
        }
    }
}

/// A server that accepts connections and never says anything; counts the connections still
/// open (the client has not closed them).
pub async fn silent() -> (u16, Arc<AtomicUsize>) {
    // All of 127.0.0.0/8 reaches a socket bound to the unspecified address, so one listener
    // stands for hundreds of distinct targets (127.0.x.y:port).
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let open = Arc::new(AtomicUsize::new(0));
    let counter = open.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut sink = [0u8; 512];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (port, open)
}
