//! `cargo bench -p tutela-bench --bench requests`: data subject requests against the demo
//! operator database (`tutela demo seed`) in PostgreSQL: access and erasure latency, one
//! request at a time, and how fast 10,000 queued requests drain.
//!
//! Environment: `TUTELA_BENCH_DEMO` (comma-separated `schema:persons`, default
//! `tutela_demo_100000:100000,tutela_demo_1000000:1000000`: schemas seeded with
//! `tutela demo seed`), `TUTELA_BENCH_SAMPLES` (default 200), `TUTELA_BENCH_QUEUE` (default
//! 10000), `TUTELA_TEST_PG_URL`.

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::sync::Arc;
use std::time::Instant;

use tutela_bench::{Rng, reference};
use tutela_connectors::Connector;
use tutela_core::request::{RequestType, Status};
use tutela_runtime::Engine;
use tutela_runtime::requests::mailer::NoMailer;
use tutela_runtime::requests::worker::Worker;
use tutela_runtime::requests::{Fulfilment, NewRequest, RequestSettings, Requests};
use tutela_store::{AnyStore, PgStore, RequestStore};

fn pg_url() -> String {
    std::env::var("TUTELA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

async fn file(requests: &Requests, t: RequestType, subject: String) -> String {
    let now = jiff::Timestamp::now();
    let (r, _) = requests
        .create(
            NewRequest {
                request_type: t,
                subject: Some(subject),
                email: None,
                details: None,
                channel: "api".into(),
                received_at: None,
            },
            "bench",
            None,
            now,
        )
        .await
        .unwrap();
    requests
        .verify_by_agent(&r.id, "bench".into(), None, "bench", now)
        .await
        .unwrap();
    r.id
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn one_at_a_time(
    requests: &Arc<Requests>,
    t: RequestType,
    persons: u64,
    samples: usize,
    rng: &mut Rng,
) -> (f64, f64, f64) {
    let worker = Worker {
        requests: requests.clone(),
    };
    let mut ms = Vec::with_capacity(samples);
    for _ in 0..samples {
        let who = format!("C{:08}", rng.below(persons as usize) + 1);
        let id = file(requests, t, who).await;
        let start = Instant::now();
        worker.tick(jiff::Timestamp::now()).await.unwrap();
        ms.push(start.elapsed().as_secs_f64() * 1e3);
        let r = requests.get(&id).await.unwrap();
        assert!(
            matches!(r.status, Status::Completed | Status::PartiallyRefused),
            "{} ended {}",
            id,
            r.status.as_str()
        );
    }
    ms.sort_by(f64::total_cmp);
    (
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        ms[ms.len() - 1],
    )
}

async fn bench(schema: &str, persons: u64, samples: usize, queue: usize) {
    let url = pg_url();
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT (SELECT count(*) FROM {schema}.customers) + (SELECT count(*) FROM {schema}.contact_persons) \
         + (SELECT count(*) FROM {schema}.contracts) + (SELECT count(*) FROM {schema}.sims) \
         + (SELECT count(*) FROM {schema}.devices) + (SELECT count(*) FROM {schema}.usage_records) \
         + (SELECT count(*) FROM {schema}.invoices) + (SELECT count(*) FROM {schema}.payments) \
         + (SELECT count(*) FROM {schema}.tickets)"
    )))
    .fetch_one(&admin)
    .await
    .unwrap_or_else(|e| panic!("seed {schema} first with `tutela demo seed`: {e}"));
    // tutela's own store: a fresh PostgreSQL schema.
    let store_schema = format!("tutela_bench_store_{}", std::process::id());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {store_schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let store = PgStore::connect_in_schema(&url, Some(&store_schema))
        .await
        .unwrap();
    let engine = Engine::start(AnyStore::Postgres(store), reference().unwrap())
        .await
        .unwrap();
    let map = tutela_core::datamap::load(
        "demo-operator.toml",
        tutela_connectors::demo::MAP,
        &engine.policy().policy,
    )
    .unwrap();
    let connector = Connector::open(map, Some(&with_schema(&url, schema)), b"bench-key".to_vec())
        .await
        .unwrap();
    let requests = Arc::new(Requests::new(
        engine.clone(),
        RequestSettings::default(),
        Arc::new(NoMailer),
        Fulfilment {
            connectors: vec![Arc::new(connector)],
            notifier: Default::default(),
        },
    ));
    let mut rng = Rng::new(7);
    let (a50, a95, amax) =
        one_at_a_time(&requests, RequestType::Access, persons, samples, &mut rng).await;
    let (e50, e95, emax) =
        one_at_a_time(&requests, RequestType::Erasure, persons, samples, &mut rng).await;

    // Drain: queue requests (verified), then let the worker take them all.
    for _ in 0..queue {
        let who = format!("C{:08}", rng.below(persons as usize) + 1);
        file(&requests, RequestType::Access, who).await;
    }
    let worker = Worker {
        requests: requests.clone(),
    };
    let start = Instant::now();
    loop {
        worker.tick(jiff::Timestamp::now()).await.unwrap();
        let open = engine
            .store
            .list_requests(&[Status::Verified, Status::InProgress], 1)
            .await
            .unwrap();
        if open.is_empty() {
            break;
        }
    }
    let drain = queue as f64 / start.elapsed().as_secs_f64();
    println!(
        "| {persons} | {rows} | {a50:.1} / {a95:.1} / {amax:.1} ms | {e50:.1} / {e95:.1} / {emax:.1} ms | {queue} in {:.1} s = **{drain:.0}/s** |",
        queue as f64 / drain
    );
    drop(requests);
    drop(engine);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA {store_schema} CASCADE"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let demo = std::env::var("TUTELA_BENCH_DEMO")
        .unwrap_or_else(|_| "tutela_demo_100000:100000,tutela_demo_1000000:1000000".to_owned());
    let samples = std::env::var("TUTELA_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let queue = std::env::var("TUTELA_BENCH_QUEUE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    println!(
        "| persons | rows in the operator database | access p50 / p95 / max | erasure p50 / p95 / max | drain of queued access requests |"
    );
    println!("|---|---|---|---|---|");
    for entry in demo.split(',') {
        let (schema, persons) = entry.split_once(':').unwrap();
        bench(schema, persons.parse().unwrap(), samples, queue).await;
    }
}
