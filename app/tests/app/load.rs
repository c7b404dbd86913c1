//! 200 concurrent clients create 20,000 distinct users through the API: every 201 is a row,
//! every row had a 201, nothing answers 5xx. Correctness under load, not speed (that is
//! `cargo xtask bench app`).

use std::collections::BTreeMap;
use std::time::Instant;

use super::support::{TestApp, config, create_database, rows, shared_mariadb};

const CLIENTS: usize = 200;
const PER_CLIENT: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_create_twenty_thousand_users() {
    let (database, url) = create_database(shared_mariadb(), "load").await;
    let mut settings = config(&url, "load");
    settings.pool_size = 16;
    let app = TestApp::start_with(settings, database).await;
    let endpoint = app.url("/api/usuarios");
    let started = Instant::now();
    let mut clients = Vec::with_capacity(CLIENTS);
    for client_number in 0..CLIENTS {
        let http = app.client.clone();
        let endpoint = endpoint.clone();
        clients.push(tokio::spawn(async move {
            let mut outcomes = Vec::with_capacity(PER_CLIENT);
            for n in 0..PER_CLIENT {
                let email = format!("load-{client_number}-{n}@example.com");
                let body = format!(r#"{{"nombre":"Carga {client_number} {n}","email":"{email}"}}"#);
                let reply = http
                    .post(&endpoint)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let outcome = match reply {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.bytes().await.unwrap_or_default();
                        let id = serde_json::from_slice::<serde_json::Value>(&body)
                            .ok()
                            .and_then(|v| v["id"].as_u64());
                        (status, id, email)
                    }
                    Err(err) => panic!("request failed: {err}"),
                };
                outcomes.push(outcome);
            }
            outcomes
        }));
    }
    let mut created: BTreeMap<u64, String> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for client in clients {
        for (status, id, email) in client.await.unwrap() {
            *statuses.entry(status).or_default() += 1;
            if status == 201 {
                let id = id.expect("a 201 carries the new id");
                assert!(created.insert(id, email).is_none(), "id {id} given twice");
            }
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "load: {} requests in {elapsed:.1?} ({:.0}/s), statuses {statuses:?}",
        CLIENTS * PER_CLIENT,
        (CLIENTS * PER_CLIENT) as f64 / elapsed.as_secs_f64()
    );
    assert!(
        statuses.keys().all(|status| *status < 500),
        "no 5xx: {statuses:?}"
    );
    assert_eq!(
        statuses.get(&201),
        Some(&(CLIENTS * PER_CLIENT)),
        "{statuses:?}"
    );
    let stored: BTreeMap<u64, String> = rows(&app.sql("SELECT id, email FROM usuarios").await)
        .into_iter()
        .map(|row| (row[0].parse().unwrap(), row[1].clone()))
        .collect();
    assert_eq!(
        stored.len(),
        created.len(),
        "every row had a 201 and every 201 is a row"
    );
    assert!(stored == created, "ids and e-mails agree row by row");
    let metrics = app.get("/metrics").await.body;
    let line = format!(
        "http_requests_total{{method=\"POST\",endpoint=\"/api/usuarios\",status=\"201\"}} {}",
        CLIENTS * PER_CLIENT
    );
    assert!(metrics.contains(&line), "{line}");
    app.stop().await;
}
