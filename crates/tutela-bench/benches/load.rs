//! `cargo bench -p tutela-bench --bench load`: how long `tutela serve` takes to load every
//! person's decision state, for 1,000,000 persons on SQLite and PostgreSQL: by folding the
//! whole ledger, and from the stored snapshot plus the ledger events after it.
//!
//! Environment: `TUTELA_BENCH_PERSONS` (default 1000000), `TUTELA_TEST_PG_URL`.

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::time::Instant;

use tutela_bench::{Rng, random_events, reference, seed};
use tutela_core::compiled::CompiledPolicy;
use tutela_runtime::engine::{LoadStats, load_states};
use tutela_store::{AnyStore, PgStore, Snapshot, SqliteStore, Store};

async fn seed(store: &AnyStore, persons: usize) -> usize {
    let policy = reference().unwrap();
    seed::random_histories(store, &policy, persons, &mut Rng::new(5), |_| {})
        .await
        .unwrap()
}

async fn best_load(store: &AnyStore, policy: &CompiledPolicy) -> (f64, LoadStats) {
    let mut best = f64::MAX;
    let mut stats = LoadStats::default();
    for _ in 0..3 {
        let t = Instant::now();
        let (_, s) = load_states(store, policy).await.unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        stats = s;
    }
    (best, stats)
}

async fn measure(label: &str, store: AnyStore, persons: usize) {
    store.migrate().await.unwrap();
    let t = Instant::now();
    let events = seed(&store, persons).await;
    let seeded = t.elapsed();
    let policy = reference().unwrap();

    // Without a snapshot: the whole ledger is folded.
    let (fold, stats) = best_load(&store, &policy).await;
    assert_eq!(stats.events_folded, events);
    let (states, _) = load_states(&store, &policy).await.unwrap();
    let loaded = states.len();

    // With a snapshot and 10,000 events after it, as after a crash between snapshots.
    let t = Instant::now();
    let snap = Snapshot {
        up_to_seq: stats.up_to_seq,
        chunks: tutela_core::snapshot::encode(&states, 65_536),
    };
    let bytes: usize = snap.chunks.iter().map(Vec::len).sum();
    store
        .save_snapshot(policy.policy_version(), &snap)
        .await
        .unwrap();
    let written = t.elapsed();
    let tail = seed_tail(&store, &policy, 10_000).await;
    let (from_snapshot, stats) = best_load(&store, &policy).await;
    assert_eq!(stats.from_snapshot, loaded);
    assert_eq!(stats.events_folded, tail);
    println!(
        "| {label} | {loaded} | {events} | {:.0} s | {:.0} ms | {:.0} ms ({:.1} MB, written in {:.0} ms) + {tail} events |",
        seeded.as_secs_f64(),
        fold * 1e3,
        from_snapshot * 1e3,
        bytes as f64 / 1e6,
        written.as_secs_f64() * 1e3,
    );
}

/// Events for persons already in the snapshot, appended after it.
async fn seed_tail(store: &AnyStore, policy: &CompiledPolicy, n: usize) -> usize {
    let mut rng = Rng::new(11);
    let at: jiff::Timestamp = "2026-04-01T00:00:00Z".parse().unwrap();
    let mut batch = Vec::with_capacity(n);
    while batch.len() < n {
        let who = seed::subject(rng.below(1_000));
        for kind in random_events(policy, &mut rng) {
            batch.push(seed::event(who.clone(), at, kind));
        }
    }
    batch.truncate(n);
    for r in store.append(&batch).await.unwrap() {
        r.unwrap();
    }
    n
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let persons: usize = std::env::var("TUTELA_BENCH_PERSONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    println!(
        "| store | persons | ledger events | seeding | load, whole ledger folded (best of 3) | load, snapshot + events after it (best of 3) |"
    );
    println!("|---|---|---|---|---|---|");
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
