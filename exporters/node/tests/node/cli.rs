//! The command line and the `collect[]`/`exclude[]` filters, through the real binary.

use octo_testbed::http_get;
use octo_testbed::metrics::parse;

use super::support::{OURS, start};

fn run(args: &[&str]) -> (i32, String) {
    octo_testbed::run_to_exit(OURS, args)
}

#[test]
fn bad_command_lines_exit_1_with_a_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["--collector.nonexistent"], "--collector.nonexistent"),
        (&["--collector.cpu=perhaps"], "collector.cpu"),
        (
            &[
                "--collector.netdev.device-include=(",
                "--web.listen-address=127.0.0.1:0",
            ],
            "netdev",
        ),
        (
            &[
                "--collector.diskstats.device-include=sda",
                "--collector.diskstats.device-exclude=sdb",
                "--web.listen-address=127.0.0.1:0",
            ],
            "device-exclude",
        ),
        (&["--web.listen-address=nonsense"], "nonsense"),
    ];
    for (args, needle) in cases {
        let (code, text) = run(args);
        assert_eq!(code, 1, "{args:?}: {text}");
        assert!(
            text.contains(needle),
            "{args:?} should mention {needle:?}: {text}"
        );
        assert!(!text.contains("panicked"), "{args:?}: {text}");
    }
    let (code, text) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(text.contains("node_exporter"), "{text}");
    let (code, text) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--collector.cpu",
        "--path.procfs",
        "--collector.filesystem.mount-points-exclude",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

#[tokio::test]
async fn collect_and_exclude_filter_as_upstream() {
    let exporter = start(vec![
        "--collector.disable-defaults".into(),
        "--collector.loadavg".into(),
        "--collector.meminfo".into(),
        "--collector.runit".into(),
    ])
    .await;
    let get = |query: &'static str| {
        let url = exporter.url(&format!("/metrics{query}"));
        async move { http_get(&url).await.expect("scrape") }
    };

    let (status, body) = get("").await;
    assert_eq!(status, 200);
    let all = parse(&body).unwrap();
    assert!(
        all.family("node_load1").is_some() && all.family("node_memory_MemTotal_bytes").is_some()
    );
    let collectors: Vec<&str> = all
        .family("node_scrape_collector_success")
        .unwrap()
        .series
        .iter()
        .map(|s| s.labels["collector"].as_str())
        .collect();
    assert_eq!(
        collectors,
        ["loadavg", "meminfo"],
        "runit is not implemented, so not run"
    );

    let (status, body) = get("?collect[]=loadavg").await;
    assert_eq!(status, 200);
    let only = parse(&body).unwrap();
    assert!(only.family("node_load1").is_some());
    assert!(only.family("node_memory_MemTotal_bytes").is_none());

    let (status, body) = get("?exclude[]=loadavg&exclude[]=nosuch").await;
    assert_eq!(status, 200);
    let rest = parse(&body).unwrap();
    assert!(rest.family("node_load1").is_none());
    assert!(rest.family("node_memory_MemTotal_bytes").is_some());

    for (query, message) in [
        (
            "?collect[]=loadavg&exclude[]=meminfo",
            "Combined collect and exclude queries are not allowed.",
        ),
        ("?collect[]=nosuch", "missing collector: nosuch"),
        ("?collect[]=cpu", "disabled collector: cpu"),
        ("?collect[]=runit", "not implemented"),
    ] {
        let (status, body) = get(query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(message), "{query}: {body}");
    }
    let log = exporter.log();
    assert!(
        log.contains("not implemented") && log.contains("runit"),
        "{log}"
    );
}
