//! `--web.listen-address` given more than once serves every address at once, and
//! `--web.systemd-socket` without sockets from systemd is refused with a message saying why
//! (the hand-off itself is tested with the exporters' binaries under `systemd-socket-activate`,
//! in `xtask/tests/stack/packages.rs`).

use std::sync::Arc;

use super::{INFO, PROCESS, TestExporter, client, options};

#[tokio::test]
async fn every_listen_address_is_served_at_once() {
    let _shared = PROCESS.read().await;
    let mut web = options(None);
    web.listen_addresses = vec!["127.0.0.1:0".into(), "127.0.0.1:0".into()];
    octo_exporter_kit::install_crypto_provider();
    let server = octo_exporter_kit::start(&INFO, web, Arc::new(TestExporter::new(None)))
        .await
        .expect("server starts on both addresses");
    assert_eq!(
        server.local_addresses.len(),
        2,
        "{:?}",
        server.local_addresses
    );
    assert_ne!(server.local_addresses[0], server.local_addresses[1]);
    let http = client();
    for address in &server.local_addresses {
        let response = http
            .get(format!("http://{address}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{address}");
        assert!(response.text().await.unwrap().contains("test_events_total"));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn one_unusable_listen_address_stops_start_up() {
    let _shared = PROCESS.read().await;
    let mut web = options(None);
    web.listen_addresses = vec!["127.0.0.1:0".into(), "127.0.0.1:notaport".into()];
    let err = octo_exporter_kit::start(&INFO, web, Arc::new(TestExporter::new(None)))
        .await
        .expect_err("a bad second address is refused")
        .to_string();
    assert!(err.contains("127.0.0.1:notaport"), "{err}");
}

#[tokio::test]
async fn systemd_socket_without_sockets_from_systemd_is_refused() {
    let _shared = PROCESS.read().await;
    assert!(
        std::env::var_os("LISTEN_FDS").is_none(),
        "the test runner must not itself be socket-activated"
    );
    let mut web = options(None);
    web.systemd_socket = true;
    let err = octo_exporter_kit::start(&INFO, web, Arc::new(TestExporter::new(None)))
        .await
        .expect_err("no LISTEN_FDS, no server")
        .to_string();
    assert!(err.contains("--web.systemd-socket"), "{err}");
    assert!(err.contains("LISTEN_FDS"), "{err}");
}
