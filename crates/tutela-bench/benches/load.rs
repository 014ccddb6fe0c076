//! `cargo bench -p tutela-bench --bench load`: how long `tutela serve` takes to load every
//! person's decision state from the ledger, for 1,000,000 persons on SQLite and PostgreSQL.
//!
//! Environment: `TUTELA_BENCH_PERSONS` (default 1000000), `TUTELA_TEST_PG_URL`.

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::time::Instant;

use tutela_bench::{Rng, random_events, reference};
use tutela_server::engine::load_states;
use tutela_store::{AnyStore, NewEvent, PgStore, SqliteStore, Store};

async fn seed(store: &AnyStore, persons: usize) -> usize {
    let policy = reference().unwrap();
    let mut rng = Rng::new(5);
    let at: jiff::Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let mut batch = Vec::with_capacity(20_000);
    let mut total = 0;
    for i in 0..persons {
        for kind in random_events(&policy, &mut rng) {
            batch.push(NewEvent {
                subject: format!("C{i:08}"),
                at,
                kind,
                evidence: None,
                reason: None,
                email: None,
                idempotency_key: None,
                policy_version: "bench".into(),
            });
        }
        if batch.len() >= 20_000 || i + 1 == persons {
            total += batch.len();
            for r in store.append(&batch).await.unwrap() {
                r.unwrap();
            }
            batch.clear();
        }
    }
    total
}

async fn measure(label: &str, store: AnyStore, persons: usize) {
    store.migrate().await.unwrap();
    let t = Instant::now();
    let events = seed(&store, persons).await;
    let seeded = t.elapsed();
    let policy = reference().unwrap();
    let mut best = f64::MAX;
    let mut loaded = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let states = load_states(&store, &policy).await.unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        loaded = states.len();
    }
    println!(
        "| {label} | {loaded} | {events} | {:.2} s | {:.0} ms |",
        seeded.as_secs_f64(),
        best * 1e3
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let persons: usize = std::env::var("TUTELA_BENCH_PERSONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    println!("| store | persons loaded | ledger events | seeding | load (best of 3) |");
    println!("|---|---|---|---|---|");
    let dir = std::env::temp_dir().join(format!("tutela-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = SqliteStore::open(&dir.join("load.db").to_string_lossy())
        .await
        .unwrap();
    measure("SQLite", AnyStore::Sqlite(sqlite), persons).await;
    let _ = std::fs::remove_dir_all(&dir);

    let url = std::env::var("TUTELA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("tutela_load_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let pg = PgStore::connect_in_schema(&url, Some(&schema))
        .await
        .unwrap();
    measure("PostgreSQL", AnyStore::Postgres(pg), persons).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
}
