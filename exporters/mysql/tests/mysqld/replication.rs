//! Two MariaDB servers replicating on loopback: `mysql_slave_status_*` as upstream.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use octo_testbed::metrics::Exposition;
use octo_testbed::{MariaDb, MariaDbOptions};

use super::common::{MONITOR_GRANTS, debian, dsn, ours, scrape, scrape_until, user};

const LABELS: [&str; 4] = [
    "channel_name",
    "connection_name",
    "master_host",
    "master_uuid",
];

fn slave_families(e: &Exposition) -> BTreeMap<String, (String, BTreeSet<String>)> {
    e.families
        .values()
        .filter(|f| f.name.starts_with("mysql_slave_status_"))
        .map(|f| (f.name.clone(), (f.kind.clone(), f.label_names())))
        .collect()
}

#[tokio::test]
async fn replica_status_as_upstream() {
    let source = MariaDb::start_with(MariaDbOptions {
        server_id: Some(1),
        ..MariaDbOptions::default()
    })
    .await
    .expect("source MariaDB");
    let replica = MariaDb::start_with(MariaDbOptions {
        server_id: Some(2),
        ..MariaDbOptions::default()
    })
    .await
    .expect("replica MariaDB");
    source
        .sql("CREATE USER 'repl'@'%' IDENTIFIED BY 'repl-pw'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';")
        .await
        .expect("replication user");
    replica
        .sql(&format!(
            "CHANGE MASTER 'feed' TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='repl', \
             MASTER_PASSWORD='repl-pw', MASTER_USE_GTID=slave_pos; START SLAVE 'feed';",
            source.port
        ))
        .await
        .expect("replication starts");
    user(&replica, "mon", "mon-pw", MONITOR_GRANTS).await;
    let dsn = dsn(&replica, "mon", "mon-pw");
    let ours = ours(&[], &[("DATA_SOURCE_NAME", &dsn)]).await;
    let feed = [("connection_name", "feed")];
    let running = scrape_until(&ours, "/metrics", Duration::from_secs(30), |e| {
        e.value("mysql_slave_status_slave_io_running", &feed) == Some(1.0)
            && e.value("mysql_slave_status_slave_sql_running", &feed) == Some(1.0)
    })
    .await;
    assert_eq!(
        running.value("mysql_slave_status_slave_io_running", &feed),
        Some(1.0),
        "replication did not start"
    );

    // A write on the source shows in the replica's GTID position and log positions.
    source
        .sql("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t VALUES (1);")
        .await
        .expect("writes on the source");
    // The GTID's server id is the last writer in domain 0: the source, or the replica itself
    // when the monitoring user created above was logged after the source's writes.
    let domain_position = |e: &Exposition| {
        e.series()
            .filter(|s| {
                s.name == "mysql_slave_status_gtid_slave_pos"
                    && s.labels.get("connection_name").map(String::as_str) == Some("feed")
                    && s.labels.get("domain_id").map(String::as_str) == Some("0")
            })
            .map(|s| s.value)
            .fold(0.0, f64::max)
    };
    let caught_up = scrape_until(&ours, "/metrics", Duration::from_secs(60), |e| {
        domain_position(e) >= 3.0
    })
    .await;
    assert!(
        domain_position(&caught_up) >= 3.0,
        "GTID position did not advance: {:?}\n{}",
        caught_up
            .series()
            .filter(|s| s.name.starts_with("mysql_slave_status_"))
            .map(|s| format!("{} {}", s.key(), s.value))
            .collect::<Vec<_>>(),
        replica
            .sql("SHOW ALL SLAVES STATUS\\G")
            .await
            .unwrap_or_default()
    );
    let series = caught_up
        .series()
        .find(|s| s.name == "mysql_slave_status_master_server_id")
        .expect("master_server_id");
    assert_eq!(series.value, 1.0);
    let labels: Vec<&str> = series.labels.keys().map(String::as_str).collect();
    assert_eq!(labels, LABELS);
    assert_eq!(series.labels["master_host"], "127.0.0.1");
    assert_eq!(series.labels["connection_name"], "feed");
    assert_eq!(
        caught_up.value("mysql_slave_status_master_port", &feed),
        Some(f64::from(source.port))
    );
    assert_eq!(
        caught_up.value("mysql_slave_status_seconds_behind_master", &feed),
        Some(0.0)
    );
    assert_eq!(
        caught_up
            .family("mysql_slave_status_slave_io_running")
            .map(|f| f.kind.as_str()),
        Some("untyped")
    );

    // The source lists its replica (SHOW SLAVE HOSTS), under upstream's odd family name.
    user(
        &source,
        "srcmon",
        "srcmon-pw",
        "REPLICATION MASTER ADMIN, PROCESS, SELECT",
    )
    .await;
    let source_dsn = super::common::dsn(&source, "srcmon", "srcmon-pw");
    let on_source = super::common::ours(
        &["--collect.slave_hosts".into()],
        &[("DATA_SOURCE_NAME", &source_dsn)],
    )
    .await;
    let (_, hosts) = scrape(&on_source, "/metrics").await;
    assert_eq!(
        hosts.value(
            "mysql_heartbeat_mysql_slave_hosts_info",
            &[("server_id", "2"), ("master_id", "1")]
        ),
        Some(1.0),
        "{:?}",
        hosts.family("mysql_heartbeat_mysql_slave_hosts_info")
    );
    let debian_on_source = debian(&source_dsn, &["--collect.slave_hosts".into()]).await;
    let (_, their_hosts) = scrape(&debian_on_source, "/metrics").await;
    assert_eq!(
        hosts
            .family("mysql_heartbeat_mysql_slave_hosts_info")
            .map(|f| (f.kind.clone(), f.label_names())),
        their_hosts
            .family("mysql_heartbeat_mysql_slave_hosts_info")
            .map(|f| (f.kind.clone(), f.label_names()))
    );

    // Debian's 0.14 on the same replica: same families, types and labels, except the GTID
    // gauges that 0.18 added.
    let theirs = debian(&dsn, &[]).await;
    let (_, upstream) = scrape(&theirs, "/metrics").await;
    let (_, mine) = scrape(&ours, "/metrics").await;
    let mut mine = slave_families(&mine);
    for added in [
        "mysql_slave_status_gtid_io_pos",
        "mysql_slave_status_gtid_slave_pos",
    ] {
        assert!(mine.remove(added).is_some(), "{added}");
    }
    assert_eq!(mine, slave_families(&upstream));
    assert_eq!(
        upstream.value("mysql_slave_status_master_server_id", &feed),
        Some(1.0)
    );
}
