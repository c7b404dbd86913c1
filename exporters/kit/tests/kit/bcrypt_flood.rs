//! Issue 13, item 4: a flood of wrong passwords must not starve a scraper that knows its
//! password. Wrong passwords are not cached (so they cannot push a success out of the cache), and
//! past a bounded queue of bcrypt checks they are answered 429 at once instead of waiting in line.

use super::*;

const FLOOD: usize = 300;
/// More distinct wrong passwords than the old cache held before it dropped everything.
const CACHE_FILLERS: usize = 1100;

async fn status(http: &reqwest::Client, url: &str, user: &str, password: &str) -> u16 {
    http.get(url)
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn wrong_password_flood_does_not_queue_a_known_scraper_behind_bcrypt() {
    let _shared = PROCESS.read().await;
    let dir = tempfile::tempdir().unwrap();
    // Cost 10 is htpasswd's default; the cheap user's cost 4 makes filling the cache quick.
    let hash = bcrypt::hash("right horse", 10).unwrap();
    let cheap = bcrypt::hash("cheap", 4).unwrap();
    let config = write(
        dir.path(),
        "web.yml",
        &format!("basic_auth_users:\n  prometheus: {hash}\n  cheap: {cheap}\n"),
    );
    let mut opts = options(Some(config));
    opts.max_requests = 0;
    let (server, base) = start(None, opts).await;
    let url = format!("http://{base}/metrics");
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();

    // Prometheus scrapes once: its password is now verified and remembered.
    assert_eq!(status(&http, &url, "prometheus", "right horse").await, 200);

    // Many distinct wrong passwords, a few at a time: none may evict the remembered success.
    let fillers = Arc::new(Semaphore::new(8));
    let mut tasks = Vec::new();
    for i in 0..CACHE_FILLERS {
        let (http, url, fillers) = (http.clone(), url.clone(), fillers.clone());
        tasks.push(tokio::spawn(async move {
            let _turn = fillers.acquire().await.unwrap();
            status(&http, &url, "cheap", &format!("wrong {i}")).await
        }));
    }
    for task in tasks {
        let status = task.await.unwrap();
        assert!(matches!(status, 401 | 429), "a wrong password got {status}");
    }

    // The flood: expensive wrong passwords, all at once.
    let checked = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for i in 0..FLOOD {
        let (http, url, checked) = (http.clone(), url.clone(), checked.clone());
        flood.push(tokio::spawn(async move {
            let status = status(&http, &url, "prometheus", &format!("guess {i}")).await;
            if status == 401 {
                checked.fetch_add(1, Ordering::SeqCst);
            }
            status
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let known = status(&http, &url, "prometheus", "right horse").await;
    let waited = started.elapsed();
    let checked_before = checked.load(Ordering::SeqCst);
    eprintln!("known scraper: {known} after {waited:?}, {checked_before} checks before it");
    assert_eq!(known, 200, "the known scraper was refused during the flood");
    assert!(
        checked_before < FLOOD / 10,
        "the known scraper was answered only after {checked_before} bcrypt checks of the \
         flood ({waited:?}): it waited in their queue"
    );

    let mut statuses = Vec::new();
    for task in flood {
        statuses.push(task.await.unwrap());
    }
    assert!(!statuses.contains(&200), "a wrong password was accepted");
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        refused > 0,
        "all {FLOOD} wrong passwords waited for bcrypt; none was turned away with 429"
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 429)),
        "{statuses:?}"
    );
    eprintln!(
        "known scraper answered in {waited:?} after {checked_before} checks; {refused} of \
         {FLOOD} wrong passwords answered 429"
    );
    assert_eq!(status(&http, &url, "prometheus", "right horse").await, 200);
    server.shutdown().await;
}
