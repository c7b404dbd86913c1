//! `/probe?target=&auth_module=`: one exporter watching two servers with different auth modules,
//! and `/-/reload`.

use octo_testbed::{MariaDb, http_get};

use super::common::{MONITOR_GRANTS, ours, scrape, shared, user};

fn my_cnf(beta_password_line: &str) -> String {
    format!(
        "# monitoring credentials\n[client]\nuser = nobody\npassword = none\n\n\
         [client.alpha]\nuser = alpha\npassword = alpha#pw\n\n\
         [client.beta]\nuser = beta\n{beta_password_line}\n"
    )
}

#[tokio::test]
async fn probe_two_servers_with_different_auth_modules() {
    let first = shared();
    let second = MariaDb::start().await.expect("second MariaDB");
    user(first, "alpha", "alpha#pw", MONITOR_GRANTS).await;
    user(&second, "beta", "beta-pw", MONITOR_GRANTS).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let cnf = dir.path().join("exporter.cnf");
    std::fs::write(&cnf, my_cnf("password = ${BETA_PASSWORD}")).expect("writing my.cnf");
    let exporter = ours(
        &[format!("--config.my-cnf={}", cnf.display())],
        &[("BETA_PASSWORD", "beta-pw")],
    )
    .await;

    let probe =
        |port: u16, module: &str| format!("/probe?target=127.0.0.1:{port}&auth_module={module}");
    let (text, alpha) = scrape(&exporter, &probe(first.port, "client.alpha")).await;
    assert_eq!(alpha.value("mysql_up", &[]), Some(1.0), "{text}");
    assert_eq!(
        alpha.value("mysql_global_variables_port", &[]),
        Some(f64::from(first.port))
    );
    let (_, beta) = scrape(&exporter, &probe(second.port, "client.beta")).await;
    assert_eq!(beta.value("mysql_up", &[]), Some(1.0));
    assert_eq!(
        beta.value("mysql_global_variables_port", &[]),
        Some(f64::from(second.port))
    );
    // Only the target's mysql_* families on /probe, as 0.15+.
    assert!(
        beta.families.keys().all(|name| name.starts_with("mysql_")),
        "{:?}",
        beta.families.keys()
    );
    assert!(beta.family("mysql_exporter_scrapes_total").is_none());

    // Wrong credentials for a server: 200 with mysql_up 0.
    let (_, crossed) = scrape(&exporter, &probe(second.port, "client.alpha")).await;
    assert_eq!(crossed.value("mysql_up", &[]), Some(0.0));
    assert!(crossed.family("mysql_global_status_uptime").is_none());

    // Bad requests are 400s with upstream's messages.
    let (status, body) = http_get(&exporter.url("/probe")).await.unwrap();
    assert_eq!((status, body.trim()), (400, "target is required"));
    let (status, body) = http_get(&exporter.url(&probe(first.port, "client.nope")))
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("[client.nope]"), "{body}");
    let (status, _) = http_get(&exporter.url("/probe?target=no-port&auth_module=client.alpha"))
        .await
        .unwrap();
    assert_eq!(status, 400);

    // /-/reload: a new password in the file takes effect without a restart.
    second
        .sql("ALTER USER 'beta'@'%' IDENTIFIED BY 'beta-pw-2';")
        .await
        .expect("changing the password");
    // Open sessions survive a password change; end them so the next scrape logs in again.
    let ids = second
        .sql("SELECT id FROM information_schema.processlist WHERE user = 'beta';")
        .await
        .expect("processlist");
    for id in ids.split_whitespace() {
        let _ = second.sql(&format!("KILL {id};")).await;
    }
    let (_, stale) = scrape(&exporter, &probe(second.port, "client.beta")).await;
    assert_eq!(stale.value("mysql_up", &[]), Some(0.0));
    std::fs::write(&cnf, my_cnf("password = beta-pw-2")).expect("rewriting my.cnf");
    let (status, body) = http_get(&exporter.url("/-/reload")).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (_, fresh) = scrape(&exporter, &probe(second.port, "client.beta")).await;
    assert_eq!(fresh.value("mysql_up", &[]), Some(1.0));

    // A broken file is refused and the running configuration stays.
    std::fs::write(&cnf, "[client.beta\nuser = beta\n").expect("breaking my.cnf");
    let (status, body) = http_get(&exporter.url("/-/reload")).await.unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("line 1"), "{body}");
    let (_, still) = scrape(&exporter, &probe(second.port, "client.beta")).await;
    assert_eq!(still.value("mysql_up", &[]), Some(1.0));

    // Passwords never reach the log.
    let log = exporter.log();
    for secret in ["alpha#pw", "beta-pw"] {
        assert!(!log.contains(secret), "the log shows a password:\n{log}");
    }
}
