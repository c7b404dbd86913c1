//! Against the same MariaDB as Debian's prometheus-mysqld-exporter 0.14, default scrapers.

use std::collections::{BTreeMap, BTreeSet};

use octo_testbed::metrics::{Exposition, promtool_check};

use super::common::{MONITOR_GRANTS, debian, dsn, ours, scrape, shared, user};

/// Families of ours that Debian's 0.14 does not have, by design: 0.15+ added the per-collector
/// success gauge, and we keep it next to 0.14's counters.
const OURS_ONLY: [&str; 1] = ["mysql_exporter_collector_success"];

fn mysql_families(exposition: &Exposition) -> BTreeMap<String, (String, BTreeSet<String>)> {
    exposition
        .families
        .values()
        .filter(|f| f.name.starts_with("mysql"))
        .map(|f| (f.name.clone(), (f.kind.clone(), f.label_names())))
        .collect()
}

#[tokio::test]
async fn side_by_side_with_debian_exporter() {
    let db = shared();
    user(db, "sbs", "sbs-pw", MONITOR_GRANTS).await;
    let dsn = dsn(db, "sbs", "sbs-pw");
    let ours = ours(&[], &[("DATA_SOURCE_NAME", &dsn)]).await;
    let theirs = debian(&dsn, &[]).await;

    // Warm both up, then ours, theirs, ours: counters read by theirs lie between our two.
    scrape(&ours, "/metrics").await;
    let (their_text, _) = scrape(&theirs, "/metrics").await;
    let (_, before) = scrape(&ours, "/metrics").await;
    let (_, upstream) = scrape(&theirs, "/metrics").await;
    let (our_text, after) = scrape(&ours, "/metrics").await;

    assert_eq!(after.value("mysql_up", &[]), Some(1.0));
    assert_eq!(upstream.value("mysql_up", &[]), Some(1.0));

    // Same family names, types and label names (except ours-only families listed above).
    let mine = mysql_families(&after);
    let them = mysql_families(&upstream);
    let missing: Vec<&String> = them.keys().filter(|n| !mine.contains_key(*n)).collect();
    let extra: Vec<&String> = mine
        .keys()
        .filter(|n| !them.contains_key(*n) && !OURS_ONLY.contains(&n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "families only upstream has: {missing:?}"
    );
    assert!(extra.is_empty(), "families only we have: {extra:?}");
    for (name, shape) in &them {
        if name == "mysqld_exporter_build_info" {
            // The kit writes the 0.15+ label set, which adds `tags` to 0.14's.
            assert!(mine[name].1.is_superset(&shape.1), "{name}");
            continue;
        }
        assert_eq!(&mine[name], shape, "type and label names of {name}");
        assert_eq!(
            after.family(name).map(|f| &f.help),
            upstream.family(name).map(|f| &f.help),
            "help of {name}"
        );
    }
    assert!(
        them.len() > 300,
        "upstream gave only {} families",
        them.len()
    );

    // Identical global variables, series by series.
    let variables = |e: &Exposition| -> BTreeMap<String, f64> {
        e.series()
            .filter(|s| s.name.starts_with("mysql_global_variables_"))
            .map(|s| (s.key(), s.value))
            .collect()
    };
    assert_eq!(variables(&after), variables(&upstream));
    assert_eq!(
        after
            .family("mysql_version_info")
            .map(|f| &f.series[0].labels),
        upstream
            .family("mysql_version_info")
            .map(|f| &f.series[0].labels)
    );

    // Consistent counters: every counter series upstream read lies between our two readings.
    let mut checked = 0;
    for family in upstream.families.values() {
        if family.kind != "counter" || !family.name.starts_with("mysql_global_status") {
            continue;
        }
        for series in &family.series {
            let labels: Vec<(&str, &str)> = series
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let (b, a) = (
                before.value(&series.name, &labels),
                after.value(&series.name, &labels),
            );
            let (Some(b), Some(a)) = (b, a) else {
                panic!("{} missing from our output", series.key());
            };
            assert!(
                b <= series.value && series.value <= a,
                "{}: ours {b}, theirs {}, ours {a}",
                series.key(),
                series.value
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} counter series compared");

    // 0.14's scrape counters are there on both sides.
    for name in [
        "mysql_exporter_scrapes_total",
        "mysql_exporter_last_scrape_error",
    ] {
        assert!(after.family(name).is_some(), "{name}");
        assert!(upstream.family(name).is_some(), "{name}");
    }
    assert_eq!(
        after.value("mysql_exporter_last_scrape_error", &[]),
        Some(0.0)
    );
    assert_eq!(
        after.value(
            "mysql_exporter_collector_success",
            &[("collector", "collect.slave_status")]
        ),
        Some(1.0)
    );
    assert!(after.family("mysqld_exporter_build_info").is_some());

    // promtool reads ours; its lint findings are ones upstream's names cause too.
    let our_lints = promtool_check(&our_text).expect("promtool parses our output");
    let their_lints = promtool_check(&their_text).expect("promtool parses upstream output");
    for lint in &our_lints {
        assert!(their_lints.contains(lint), "lint {lint:?} is ours alone");
    }
}

/// Every scraper implemented here that MariaDB can serve, on a server with performance_schema,
/// userstat and a binary log, next to Debian's 0.14 with the same flags.
#[tokio::test]
async fn every_scraper_side_by_side_with_debian_exporter() {
    let db = octo_testbed::MariaDb::start_with(octo_testbed::MariaDbOptions {
        server_id: Some(7),
        extra_args: vec!["--performance-schema=ON".into(), "--userstat=1".into()],
        ..octo_testbed::MariaDbOptions::default()
    })
    .await
    .expect("MariaDB with performance_schema and userstat");
    db.sql(
        "CREATE DATABASE heartbeat; \
         CREATE TABLE heartbeat.heartbeat (ts varchar(26) NOT NULL, server_id int unsigned NOT NULL PRIMARY KEY); \
         INSERT INTO heartbeat.heartbeat VALUES (DATE_FORMAT(NOW(6), '%Y-%m-%dT%H:%i:%s.%f'), 7); \
         CREATE DATABASE shop; \
         CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT, KEY note_prefix (note(10))); \
         INSERT INTO shop.orders (note) VALUES ('a'), ('b'), ('c'); \
         SELECT COUNT(*) FROM shop.orders WHERE note = 'b';",
    )
    .await
    .expect("fixtures");
    user(
        &db,
        "all",
        "all-pw",
        "PROCESS, REPLICATION CLIENT, SLAVE MONITOR, BINLOG MONITOR, SELECT",
    )
    .await;
    let scrapers = [
        "auto_increment.columns",
        "binlog_size",
        "engine_innodb_status",
        "heartbeat",
        "info_schema.clientstats",
        "info_schema.innodb_metrics",
        "info_schema.processlist",
        "info_schema.schemastats",
        "info_schema.tables",
        "info_schema.tablestats",
        "info_schema.userstats",
        "mysql.user",
        "perf_schema.eventsstatements",
        "perf_schema.eventsstatementssum",
        "perf_schema.eventswaits",
        "perf_schema.file_events",
        "perf_schema.file_instances",
        "perf_schema.indexiowaits",
        "perf_schema.memory_events",
        "perf_schema.tableiowaits",
        "perf_schema.tablelocks",
    ];
    let mut args: Vec<String> = scrapers.iter().map(|s| format!("--collect.{s}")).collect();
    args.push("--collect.mysql.user.privileges".into());
    let dsn = dsn(&db, "all", "all-pw");
    let ours = ours(&args, &[("DATA_SOURCE_NAME", &dsn)]).await;
    let theirs = debian(&dsn, &args).await;
    scrape(&ours, "/metrics").await;
    scrape(&theirs, "/metrics").await;
    let (text, mine) = scrape(&ours, "/metrics").await;
    let (_, upstream) = scrape(&theirs, "/metrics").await;

    for scraper in scrapers {
        let collector = format!("collect.{scraper}");
        assert_eq!(
            mine.value(
                "mysql_exporter_collector_success",
                &[("collector", &collector)]
            ),
            Some(1.0),
            "{collector} failed:\n{}",
            ours.log()
        );
    }
    let mine_shapes = mysql_families(&mine);
    let their_shapes = mysql_families(&upstream);
    let missing: Vec<&String> = their_shapes
        .keys()
        .filter(|n| !mine_shapes.contains_key(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "families only upstream has: {missing:?}"
    );
    let extra: Vec<&String> = mine_shapes
        .keys()
        .filter(|n| !their_shapes.contains_key(*n) && !OURS_ONLY.contains(&n.as_str()))
        .collect();
    assert!(extra.is_empty(), "families only we have: {extra:?}");
    for (name, shape) in &their_shapes {
        if name == "mysqld_exporter_build_info" {
            continue;
        }
        assert_eq!(&mine_shapes[name], shape, "type and label names of {name}");
        assert_eq!(
            mine.family(name).map(|f| &f.help),
            upstream.family(name).map(|f| &f.help),
            "help of {name}"
        );
    }
    // A few values that cannot drift between the two scrapes.
    let both = |name: &str, labels: &[(&str, &str)]| {
        (mine.value(name, labels), upstream.value(name, labels))
    };
    let max = both(
        "mysql_info_schema_auto_increment_column_max",
        &[("schema", "shop"), ("table", "orders"), ("column", "id")],
    );
    assert_eq!(max, (Some(2147483647.0), Some(2147483647.0)), "{text}");
    let stored = both(
        "mysql_heartbeat_stored_timestamp_seconds",
        &[("server_id", "7")],
    );
    assert!(stored.0.is_some() && stored.0 == stored.1, "{stored:?}");
    assert_eq!(
        both("mysql_binlog_files", &[]).0,
        both("mysql_binlog_files", &[]).1
    );
    assert_eq!(
        both(
            "mysql_mysql_select_priv",
            &[("mysql_user", "all"), ("hostmask", "%")]
        ),
        (Some(1.0), Some(1.0))
    );
}
