//! Issue 13, item 5: clients that ask for a large exposition and never read it must not pin one
//! exposition each in memory. A scrape keeps its slot of `--web.max-requests` until its body is
//! written, so at most that many bodies wait for slow readers; the others are answered 503.
//!
//! The bound is (max-requests + 1) × body size: the max-requests bodies that may rightly wait for
//! their readers (each is held whole until written), and one body's worth for everything else
//! 500 connections cost (their buffers, the allocator's slack). Before the fix, every reader
//! pinned a body: the test stops as soon as the bound is crossed.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

use super::*;

const READERS: usize = 500;
const MAX_REQUESTS: usize = 4;
/// Samples of 64 KiB: an exposition of 8 MiB, more than loopback's socket buffers take in.
const PAD: usize = 128;
const BODY_BYTES: usize = PAD * PAD_SAMPLE_BYTES;

fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap();
    let kib: usize = line.trim().trim_end_matches("kB").trim().parse().unwrap();
    kib * 1024
}

/// Sends a scrape and reads only its status line's first bytes; the rest is never read.
async fn never_reading_scrape(base: &str) -> (TcpStream, u16) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(base.parse().unwrap()).await.unwrap();
    stream
        .write_all(format!("GET /metrics?pad={PAD} HTTP/1.1\r\nHost: exporter\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = [0u8; 12]; // "HTTP/1.1 200"
    tokio::time::timeout(Duration::from_secs(30), stream.read_exact(&mut head))
        .await
        .expect("the server answers")
        .unwrap();
    let status = std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap();
    (stream, status)
}

#[tokio::test]
async fn slow_readers_cannot_pin_more_than_max_requests_expositions() {
    let _alone = PROCESS.write().await;
    let mut opts = options(None);
    opts.max_requests = MAX_REQUESTS;
    let (server, base) = start(None, opts).await;
    let url = format!("http://{base}/metrics?pad={PAD}");
    let http = client();
    // A first large scrape read in full: the allocator has grown for one exposition already.
    let body = http.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert!(body.len() > BODY_BYTES, "{}", body.len());
    drop(body);
    let before = resident_bytes();
    let bound = (MAX_REQUESTS + 1) * BODY_BYTES;

    let mut readers = Vec::with_capacity(READERS);
    let mut served = 0;
    let mut growth = 0;
    for i in 0..READERS {
        let (stream, status) = never_reading_scrape(&base).await;
        assert!(matches!(status, 200 | 503), "status {status}");
        served += usize::from(status == 200);
        readers.push(stream);
        growth = resident_bytes().saturating_sub(before);
        // Stop early rather than let a regression eat gigabytes.
        if growth >= bound {
            panic!(
                "resident memory grew by {} MiB after {} readers ({served} served), beyond \
                 (max-requests + 1) × body size = {} MiB",
                growth >> 20,
                i + 1,
                bound >> 20
            );
        }
    }
    eprintln!(
        "{READERS} never-reading scrapes: {served} served, resident memory +{} MiB (bound {} MiB)",
        growth >> 20,
        bound >> 20
    );
    assert!(
        (1..=MAX_REQUESTS).contains(&served),
        "{served} scrapes served to readers that do not read"
    );
    // The slots are taken by readers that do not read: a normal scrape is turned away.
    let busy = http.get(&url).send().await.unwrap();
    assert_eq!(busy.status(), 503);

    drop(readers);
    let mut status = 0;
    for _ in 0..100 {
        status = http.get(&url).send().await.unwrap().status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status, 200,
        "the slots were not given back once the readers left"
    );
    server.shutdown().await;
}
