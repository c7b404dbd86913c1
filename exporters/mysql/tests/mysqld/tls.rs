//! TLS to the server from my.cnf: `ssl-ca` verified against a MariaDB serving a certificate from
//! a test CA, to an account that requires SSL.

use octo_testbed::{MariaDb, MariaDbOptions};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

use super::common::{ours, scrape};

struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    other_ca: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("server key");
    let server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("server params")
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    let other_key = KeyPair::generate().expect("other CA key");
    let mut other_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other = other_params.self_signed(&other_key).expect("other CA");
    Pki {
        ca: ca.pem(),
        server_cert: server.pem(),
        server_key: server_key.serialize_pem(),
        other_ca: other.pem(),
    }
}

#[tokio::test]
async fn tls_from_my_cnf_is_verified() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = |name: &str| dir.path().join(name).display().to_string();
    for (name, contents) in [
        ("ca.pem", &pki.ca),
        ("server.pem", &pki.server_cert),
        ("server-key.pem", &pki.server_key),
        ("other-ca.pem", &pki.other_ca),
    ] {
        std::fs::write(dir.path().join(name), contents).expect("writing PEM");
    }
    let db = MariaDb::start_with(MariaDbOptions {
        extra_args: vec![
            format!("--ssl-ca={}", path("ca.pem")),
            format!("--ssl-cert={}", path("server.pem")),
            format!("--ssl-key={}", path("server-key.pem")),
        ],
        ..MariaDbOptions::default()
    })
    .await
    .expect("MariaDB with TLS");
    db.sql(
        "CREATE USER 'secure'@'%' IDENTIFIED BY 'secure-pw' REQUIRE SSL; \
         GRANT PROCESS, SELECT ON *.* TO 'secure'@'%';",
    )
    .await
    .expect("an account that requires TLS");
    let cnf = dir.path().join("exporter.cnf");
    std::fs::write(
        &cnf,
        format!(
            "[client]\nuser = secure\npassword = secure-pw\nhost = 127.0.0.1\nport = {port}\n\
             ssl-ca = {ca}\n\n[client.wrongca]\nssl-ca = {other}\n\n\
             [client.plain]\nssl-ca =\nuser = secure\n",
            port = db.port,
            ca = path("ca.pem"),
            other = path("other-ca.pem"),
        ),
    )
    .expect("writing my.cnf");
    let exporter = ours(&[format!("--config.my-cnf={}", cnf.display())], &[]).await;

    let (text, e) = scrape(&exporter, "/metrics").await;
    assert_eq!(
        e.value("mysql_up", &[]),
        Some(1.0),
        "{text}\n{}",
        exporter.log()
    );
    assert!(
        e.value("mysql_global_status_ssl_accepts", &[])
            .is_some_and(|v| v >= 1.0)
    );

    let target = format!("127.0.0.1:{}", db.port);
    let (_, wrong) = scrape(
        &exporter,
        &format!("/probe?target={target}&auth_module=client.wrongca"),
    )
    .await;
    assert_eq!(
        wrong.value("mysql_up", &[]),
        Some(0.0),
        "an unknown CA must be refused"
    );
    let (_, plain) = scrape(
        &exporter,
        &format!("/probe?target={target}&auth_module=client.plain"),
    )
    .await;
    assert_eq!(
        plain.value("mysql_up", &[]),
        Some(0.0),
        "REQUIRE SSL refuses plain text"
    );
}
