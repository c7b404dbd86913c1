//! Issue 13, item 2: clients that abort mid-scrape must not leave the exporter's work running,
//! nor sockets open. Each client sends a scrape that the exporter cannot finish (its gate stays
//! shut), then goes away: a third close plainly, a third reset the connection, and a third send
//! a byte after the request first (hyper stops watching for EOF when unread bytes wait).

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::*;

const CLIENTS: usize = 500;

/// This process's open TCP sockets. Other descriptors are left out: a test thread that starts
/// meanwhile (to wait for its turn) opens its runtime's, and dups the signal driver's socket.
fn open_sockets() -> usize {
    let mut tcp_inodes = std::collections::HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            if let Some(inode) = line.split_whitespace().nth(9) {
                tcp_inodes.insert(format!("socket:[{inode}]"));
            }
        }
    }
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| tcp_inodes.contains(target.to_string_lossy().as_ref()))
        .count()
}

#[tokio::test]
async fn aborted_scrapes_cancel_the_collection_and_close_their_sockets() {
    let _alone = PROCESS.write().await;
    let shut = Arc::new(Semaphore::new(0));
    let exporter = Arc::new(TestExporter::new(Some(shut)));
    let mut opts = options(None);
    opts.max_requests = 0; // every client reaches the exporter
    let (server, base) = start_exporter(exporter.clone(), opts).await;
    let sockets_before = open_sockets();

    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let mut stream = TcpStream::connect(&base).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n")
            .await
            .unwrap();
        match i % 3 {
            0 => {}
            1 => stream.set_zero_linger().unwrap(), // closes with a reset
            _ => stream.write_all(b"G").await.unwrap(), // a pipelined byte
        }
        clients.push(stream);
    }
    assert!(
        eventually(Duration::from_secs(20), || exporter.running() == CLIENTS).await,
        "only {} of {CLIENTS} scrapes reached the exporter",
        exporter.running()
    );
    drop(clients);

    let settled = eventually(Duration::from_secs(10), || {
        exporter.running() == 0 && open_sockets() <= sockets_before
    })
    .await;
    assert!(
        settled,
        "after {CLIENTS} clients went away: {} collections still running, {} sockets open \
         (baseline {sockets_before})",
        exporter.running(),
        open_sockets()
    );
    server.shutdown().await;
}
