//! `/probe` pointed at a hostile server: the exporter's password must not reach it, neither in
//! clear nor encrypted with a key the server handed out, unless the operator said so
//! (`get-server-public-key`, `server-public-key-path`, or the server's own unix socket named in
//! my.cnf); and `--probe.allowed-targets` keeps the exporter from connecting anywhere else.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use octo_testbed::{ExporterProcess, http_get};

use super::common::{ours, scrape};
use super::fake_mysql::{self, Challenge, PUBLIC_KEY_PEM};

const PASSWORD: &str = "s3cret-Pa55word";

fn my_cnf(dir: &Path) -> String {
    let key = dir.join("server-key.pem");
    std::fs::write(&key, PUBLIC_KEY_PEM).unwrap();
    format!(
        "[client]\nuser = exporter\npassword = {PASSWORD}\n\n\
         [client.getkey]\nget-server-public-key = true\n\n\
         [client.keyfile]\nserver-public-key-path = {key}\n\n\
         [client.clear]\nenable-cleartext-plugin = true\n\n\
         [client.named]\nsocket = {socket}\n",
        key = key.display(),
        socket = dir.join("named.sock").display(),
    )
}

async fn exporter(dir: &Path, extra: &[String]) -> ExporterProcess {
    let cnf = dir.join("exporter.cnf");
    std::fs::write(&cnf, my_cnf(dir)).unwrap();
    let mut args = vec![format!("--config.my-cnf={}", cnf.display())];
    args.extend_from_slice(extra);
    ours(&args, &[]).await
}

/// Probes and expects `mysql_up 0`: the hostile server never lets anyone in.
async fn probe_down(exporter: &ExporterProcess, target: &str, module: &str) {
    let (text, e) = scrape(
        exporter,
        &format!("/probe?target={target}&auth_module={module}"),
    )
    .await;
    assert_eq!(e.value("mysql_up", &[]), Some(0.0), "{text}");
    // The server records what it got as it reads; give its task a moment to finish.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn hostile_server_asking_for_full_authentication_gets_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = exporter(dir.path(), &[]).await;
    let (port, record) = fake_mysql::tcp(Challenge::FullAuthentication).await;
    probe_down(&exporter, &format!("127.0.0.1:{port}"), "client").await;
    assert_eq!(record.connections.load(Ordering::SeqCst), 1);
    assert!(
        !record.saw_key_request(),
        "the exporter asked a server it does not trust for its public key: {:?}",
        record.after_challenge()
    );
    assert!(
        !record.saw_encrypted_password(),
        "{:?}",
        record.after_challenge()
    );
    assert!(!record.saw_in_clear(PASSWORD));
    let log = exporter.log();
    assert!(log.contains("secure connection"), "{log}");
    assert!(!log.contains(PASSWORD), "{log}");
}

#[tokio::test]
async fn hostile_unix_socket_gets_no_cleartext_password() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = exporter(dir.path(), &[]).await;
    let socket = dir.path().join("hostile.sock");
    let record = fake_mysql::unix(&socket, Challenge::FullAuthentication);
    probe_down(&exporter, &format!("unix://{}", socket.display()), "client").await;
    assert_eq!(record.connections.load(Ordering::SeqCst), 1);
    assert!(
        !record.saw_in_clear(PASSWORD),
        "the password went in clear to a socket the operator never named"
    );
    assert!(!record.saw_key_request());
    assert!(!record.saw_encrypted_password());
}

#[tokio::test]
async fn hostile_server_switching_to_clear_password_gets_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = exporter(dir.path(), &[]).await;
    let (port, record) = fake_mysql::tcp(Challenge::ClearPassword).await;
    // Even with enable-cleartext-plugin: not over plain TCP.
    for module in ["client", "client.clear"] {
        probe_down(&exporter, &format!("127.0.0.1:{port}"), module).await;
    }
    assert_eq!(record.connections.load(Ordering::SeqCst), 2);
    assert!(
        !record.saw_in_clear(PASSWORD),
        "{:?}",
        record.after_challenge()
    );
}

#[tokio::test]
async fn operator_enabled_key_exchange_and_named_socket_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = exporter(dir.path(), &[]).await;
    let (port, record) = fake_mysql::tcp(Challenge::FullAuthentication).await;
    let target = format!("127.0.0.1:{port}");

    // get-server-public-key: the client asks for the key and sends the password encrypted.
    probe_down(&exporter, &target, "client.getkey").await;
    assert!(record.saw_key_request());
    assert!(record.saw_encrypted_password());
    assert!(!record.saw_in_clear(PASSWORD));

    // server-public-key-path: encrypted with the operator's key, without asking the server.
    let (port, record) = fake_mysql::tcp(Challenge::FullAuthentication).await;
    probe_down(&exporter, &format!("127.0.0.1:{port}"), "client.keyfile").await;
    assert!(!record.saw_key_request(), "{:?}", record.after_challenge());
    assert!(
        record.saw_encrypted_password(),
        "{:?}",
        record.after_challenge()
    );
    assert!(!record.saw_in_clear(PASSWORD));

    // The socket named in my.cnf is trusted as libmysqlclient trusts it: the password in clear.
    let named = dir.path().join("named.sock");
    let record = fake_mysql::unix(&named, Challenge::FullAuthentication);
    probe_down(
        &exporter,
        &format!("unix://{}", named.display()),
        "client.named",
    )
    .await;
    assert!(record.saw_in_clear(PASSWORD));
}

#[tokio::test]
async fn probe_outside_the_allowed_targets_is_refused_and_connects_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let (port, record) = fake_mysql::tcp(Challenge::FullAuthentication).await;
    let exporter = exporter(
        dir.path(),
        &[
            format!("--probe.allowed-targets=db-*.example.com:3306,127.0.0.1:{port}"),
            "--probe.allowed-targets=10.0.0.0/8".into(),
        ],
    )
    .await;
    for path in [
        format!("/probe?target=127.0.0.2:{port}"),
        format!("/probe?target=localhost:{port}"),
        "/probe?target=db-1.example.com.evil:3306".to_owned(),
        "/probe?target=unix:///run/mysqld/mysqld.sock".to_owned(),
        format!("/metrics?target=127.0.0.2:{port}"),
    ] {
        let (status, body) = http_get(&exporter.url(&path)).await.unwrap();
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("--probe.allowed-targets"), "{path}: {body}");
    }
    assert_eq!(record.connections.load(Ordering::SeqCst), 0);
    // An allowed target is probed (and still gets no password).
    probe_down(&exporter, &format!("127.0.0.1:{port}"), "client").await;
    assert_eq!(record.connections.load(Ordering::SeqCst), 1);
    assert!(!record.saw_key_request());
}
