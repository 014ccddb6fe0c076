//! `cargo bench -p tutela-bench --bench pages`: how long the privacy center takes to render a
//! person's page (consents, requests, the whole ledger history) for a person with 1,000 ledger
//! events, server-side through the real router and store (SQLite file, as `tutela serve` runs
//! by default; PostgreSQL too when reachable). Side by side in the same run, the JSON API that
//! reads the same history (`GET /v1/subjects/{id}/consents`): the page must cost no more than
//! the data it shows.
//!
//! Target (issue 5): p95 under 5 ms. Environment: `TUTELA_BENCH_SAMPLES` (default 2000),
//! `TUTELA_BENCH_EVENTS` (default 1000), `TUTELA_TEST_PG_URL`.

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;
use tutela_bench::{env, reference};
use tutela_core::ledger::EventKind;
use tutela_runtime::Engine;
use tutela_runtime::requests::mailer::NoMailer;
use tutela_runtime::requests::{Fulfilment, RequestSettings};
use tutela_server::AppState;
use tutela_store::{AnyStore, NewEvent, PgStore, SessionRecord, SqliteStore, WebStore};

const TOKEN: &str = "bench-token-0123456789abcdef";
const COOKIE: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

async fn setup(store: AnyStore, events: usize) -> axum::Router {
    let policy = reference().unwrap();
    let version = policy.policy_version().to_owned();
    let notice = policy.policy.version.clone();
    let engine = Engine::start(store, policy).await.unwrap();
    let state = AppState::new(
        engine.clone(),
        RequestSettings {
            worker_interval: std::time::Duration::from_secs(3600),
            ..RequestSettings::default()
        },
        std::sync::Arc::new(NoMailer),
        Fulfilment::default(),
        TOKEN,
    );
    let now = jiff::Timestamp::now();
    engine
        .append(NewEvent {
            subject: "P-1".into(),
            at: now,
            kind: EventKind::Relationship {
                relationship: tutela_core::basis::Relationship::Customer,
                contract_kind: tutela_core::basis::ContractKind::Telecommunications,
            },
            evidence: None,
            reason: None,
            email: Some("p1@example.org".into()),
            idempotency_key: None,
            policy_version: version.clone(),
        })
        .await
        .unwrap();
    for i in 1..events {
        let (purpose, channel) = match i % 3 {
            0 => ("email_marketing", Some("email".to_owned())),
            1 => ("sms_marketing", Some("sms".to_owned())),
            _ => ("ai_training", None),
        };
        engine
            .append(NewEvent {
                subject: "P-1".into(),
                at: now,
                kind: EventKind::Consent {
                    purpose: purpose.into(),
                    channel,
                    granted: i % 2 == 0,
                    source: "bench".into(),
                    notice_version: notice.clone(),
                },
                evidence: Some("bench".into()),
                reason: None,
                email: None,
                idempotency_key: None,
                policy_version: version.clone(),
            })
            .await
            .unwrap();
    }
    engine
        .store
        .insert_session(&SessionRecord {
            id_hash: tutela_server::web::session_hash(COOKIE),
            kind: "person".into(),
            principal: "P-1".into(),
            csrf: "c".into(),
            created_at: now,
            expires_at: now + jiff::SignedDuration::from_hours(24),
        })
        .await
        .unwrap();
    tutela_server::app(state)
}

/// Latencies of `samples` sequential requests, sorted, in microseconds.
async fn measure(
    router: &axum::Router,
    samples: usize,
    make: impl Fn() -> Request<Body>,
) -> Vec<u128> {
    for _ in 0..50 {
        let res = router.clone().oneshot(make()).await.unwrap();
        assert_eq!(res.status(), 200);
        axum::body::to_bytes(res.into_body(), 64 << 20)
            .await
            .unwrap();
    }
    let mut t = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        let res = router.clone().oneshot(make()).await.unwrap();
        let body = axum::body::to_bytes(res.into_body(), 64 << 20)
            .await
            .unwrap();
        t.push(start.elapsed().as_micros());
        assert!(!body.is_empty());
    }
    t.sort_unstable();
    t
}

fn pct(t: &[u128], p: f64) -> f64 {
    let i = ((t.len() as f64 * p).ceil() as usize)
        .saturating_sub(1)
        .min(t.len() - 1);
    t[i] as f64 / 1000.0
}

async fn run(backend: &str, store: AnyStore, samples: usize, events: usize) {
    let router = setup(store, events).await;
    let page = measure(&router, samples, || {
        Request::get("/")
            .header("cookie", format!("tutela_session={COOKIE}"))
            .body(Body::empty())
            .unwrap()
    })
    .await;
    let api = measure(&router, samples, || {
        Request::get("/v1/subjects/P-1/consents")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap()
    })
    .await;
    println!(
        "| {backend} | privacy center page `GET /` | {events} | {:.2} | {:.2} | {:.2} |",
        pct(&page, 0.5),
        pct(&page, 0.95),
        pct(&page, 0.99)
    );
    println!(
        "| {backend} | JSON history `GET /v1/subjects/{{id}}/consents` (baseline) | {events} | {:.2} | {:.2} | {:.2} |",
        pct(&api, 0.5),
        pct(&api, 0.95),
        pct(&api, 0.99)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let samples = env("TUTELA_BENCH_SAMPLES", 2000);
    let events = env("TUTELA_BENCH_EVENTS", 1000);
    println!("{samples} sequential requests per row, server-side (router and store, no network)\n");
    println!("| store | page | ledger events | p50 ms | p95 ms | p99 ms |");
    println!("|---|---|---|---|---|---|");
    let dir = tutela_store::testing::temp_dir("bench-pages");
    let sqlite = SqliteStore::open(&dir.join("t.db").to_string_lossy())
        .await
        .unwrap();
    run("SQLite", AnyStore::Sqlite(sqlite), samples, events).await;
    // As `tutela serve` runs: personal attributes sealed (encryption at rest).
    let sealed = SqliteStore::open(&dir.join("sealed.db").to_string_lossy())
        .await
        .unwrap()
        .with_vault(tutela_store::testing::vault(&dir).await);
    run("SQLite, sealed", AnyStore::Sqlite(sealed), samples, events).await;
    let _ = std::fs::remove_dir_all(&dir);
    let url = std::env::var("TUTELA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("tutela_bench_pages_{}", std::process::id());
    let created = match PgStore::connect(&url).await {
        Ok(admin) => sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(admin.pool())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match created.and(
        PgStore::connect_in_schema(&url, Some(&schema))
            .await
            .map_err(|e| e.to_string()),
    ) {
        Ok(pg) => {
            run(
                "PostgreSQL",
                AnyStore::Postgres(pg.clone()),
                samples,
                events,
            )
            .await;
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(pg.pool())
                .await;
        }
        Err(e) => println!("(PostgreSQL skipped: {e})"),
    }
}
