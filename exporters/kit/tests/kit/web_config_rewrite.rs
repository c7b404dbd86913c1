//! Issue 13, item 3: a web config rewritten in place (truncated, then written) must never be
//! taken, even for a moment, for an empty configuration, that is one without authentication.

use std::io::Write as _;
use std::sync::atomic::AtomicBool;

use super::*;

#[tokio::test]
async fn non_atomic_rewrite_of_the_web_config_never_drops_basic_auth() {
    let _shared = PROCESS.read().await;
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("right horse", 4).unwrap();
    let text = format!("basic_auth_users:\n  prometheus: {hash}\n");
    let config = write(dir.path(), "web.yml", &text);
    let mut opts = options(Some(config.clone()));
    opts.max_requests = 0;
    let (server, base) = start(None, opts).await;
    let url = format!("http://{base}/metrics");

    // An editor that saves in place: truncate, pause, write; over and over.
    let stop = Arc::new(AtomicBool::new(false));
    let rewriter = std::thread::spawn({
        let stop = stop.clone();
        let config = config.clone();
        let text = text.clone();
        move || {
            let mut rewrites = 0;
            while !stop.load(Ordering::SeqCst) {
                let mut file = std::fs::File::create(&config).unwrap(); // truncates
                std::thread::sleep(Duration::from_millis(3));
                file.write_all(text.as_bytes()).unwrap();
                drop(file);
                std::thread::sleep(Duration::from_millis(2));
                rewrites += 1;
            }
            rewrites
        }
    });

    let mut scrapers = Vec::new();
    for _ in 0..4 {
        let http = client();
        let url = url.clone();
        let stop = stop.clone();
        scrapers.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                statuses.push(http.get(&url).send().await.unwrap().status().as_u16());
            }
            statuses
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut statuses = Vec::new();
    for scraper in scrapers {
        statuses.extend(scraper.await.unwrap());
    }
    let rewrites = rewriter.join().unwrap();
    assert!(
        rewrites > 50,
        "the file was rewritten only {rewrites} times"
    );
    assert!(statuses.len() > 100, "only {} scrapes", statuses.len());
    let served = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(
        served,
        0,
        "{served} of {} anonymous scrapes were served during {rewrites} rewrites",
        statuses.len()
    );

    // Left empty (the editor died between truncating and writing): the users stay.
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::fs::File::create(&config).unwrap();
    let http = client();
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401, "an empty file removed basic auth");
    let right = http
        .get(&url)
        .basic_auth("prometheus", Some("right horse"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    server.shutdown().await;
}
