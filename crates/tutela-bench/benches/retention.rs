//! `cargo bench -p tutela-bench --bench retention`: a retention sweep over expired usage
//! records in PostgreSQL against the plain `DELETE … WHERE recorded_at < cutoff` it is made of,
//! on the same table refilled with the same rows, in one run.
//!
//! Both run while a probe asks for a SHARE lock on the table every 20 ms (what `CREATE INDEX`
//! or a `LOCK TABLE` needs; it conflicts with the ROW EXCLUSIVE lock a DELETE holds until it
//! commits): the longest wait is the longest the table was locked against it.
//!
//! The sweep is tutela's own path: `Sweeper::step` with the progress saved in a SQLite tutela
//! store after every batch, as `tutela retention run` does.
//!
//! Environment: `TUTELA_BENCH_ROWS` (expired rows, default 10,000,000; a tenth as many recent
//! rows stay), `TUTELA_BENCH_TARGET_MS`, `TUTELA_BENCH_MAX_ROWS` and `TUTELA_BENCH_LOCK_LIMIT_MS`
//! (the batch's target time, largest size, and the lock limit at which PostgreSQL cancels a
//! batch; 0 for none), `TUTELA_TEST_PG_URL`.

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tutela_bench::reference;
use tutela_connectors::Connector;
use tutela_runtime::retention::{SweepSettings, Sweeper};
use tutela_store::{AnyStore, SqliteStore, Store};

fn pg_url() -> String {
    std::env::var("TUTELA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

const MAP: &str = r#"
[dataset]
id = "net"
connector = "postgres"
url_env = "UNUSED"
person_table = "sims"

[[table]]
name = "sims"
[[table.field]]
name = "iccid"
category = "device"
identifies = "iccid"

[[table]]
name = "usage_records"
references = [{ column = "sim_id", table = "sims" }]
retention = "service_quality_data"
retention_from = "recorded_at"
[[table.field]]
name = "bytes"
category = "usage"
"#;

async fn exec(pool: &sqlx::PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap();
}

/// Empties the table and fills it: `rows` expired usage records (a second apart, before the
/// cutoff of 2026-09-01) and a tenth as many after it.
async fn fill(pool: &sqlx::PgPool, rows: u64) -> Duration {
    let t = Instant::now();
    exec(pool, "TRUNCATE usage_records").await;
    exec(
        pool,
        &format!(
            "INSERT INTO usage_records (id, sim_id, recorded_at, bytes) \
             SELECT g, g % 100000, TIMESTAMPTZ '2026-08-31 23:59:59+00' - g * INTERVAL '1 second', g % 65536 \
             FROM generate_series(1, {rows}) g"
        ),
    )
    .await;
    exec(
        pool,
        &format!(
            "INSERT INTO usage_records (id, sim_id, recorded_at, bytes) \
             SELECT {rows} + g, g % 100000, TIMESTAMPTZ '2026-09-01 00:00:00+00' + g * INTERVAL '1 second', 1 \
             FROM generate_series(1, {}) g",
            rows / 10
        ),
    )
    .await;
    exec(pool, "VACUUM ANALYZE usage_records").await;
    exec(pool, "CHECKPOINT").await;
    t.elapsed()
}

/// What the probe saw: the longest wait, how many probes, the 99th percentile, and how many
/// waited longer than 100 ms.
struct Waits {
    longest: Duration,
    n: usize,
    p99: Duration,
    over_100ms: usize,
}

fn waits(mut all: Vec<Duration>) -> Waits {
    all.sort();
    let n = all.len();
    Waits {
        longest: all.last().copied().unwrap_or_default(),
        n,
        p99: all
            .get((n * 99 / 100).min(n.saturating_sub(1)))
            .copied()
            .unwrap_or_default(),
        over_100ms: all
            .iter()
            .filter(|w| **w > Duration::from_millis(100))
            .count(),
    }
}

/// Asks for a SHARE lock every 20 ms until stopped; returns every wait.
/// The probe's waits (the `LOCK TABLE` statement alone), and for every wait past 100 ms what
/// held a lock on the table at that moment (backend type, lock mode, the start of its query).
fn probe(
    url: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Vec<Duration>, Vec<String>)> {
    tokio::spawn(async move {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .unwrap();
        let mut all = Vec::new();
        let mut holders = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("SET LOCAL lock_timeout = '100ms'")
                .execute(&mut *tx)
                .await
                .unwrap();
            let t = Instant::now();
            let first = sqlx::query("LOCK TABLE usage_records IN SHARE MODE")
                .execute(&mut *tx)
                .await;
            match first {
                Ok(_) => tx.commit().await.unwrap(),
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
                    let held: Vec<(String, String, String)> = sqlx::query_as(
                        "SELECT coalesce(a.backend_type, '') || ' ' || coalesce(a.state, '') || ' ' || coalesce(a.wait_event_type || ':' || a.wait_event, 'no wait'), l.mode, coalesce(left(a.query, 40), '') \
                         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                         WHERE l.relation = 'usage_records'::regclass AND l.granted",
                    )
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                    holders.push(
                        held.iter()
                            .map(|(b, m, q)| format!("{b} {m} `{q}`"))
                            .collect::<Vec<_>>()
                            .join("; "),
                    );
                    tx.rollback().await.unwrap();
                    let mut tx = pool.begin().await.unwrap();
                    sqlx::query("SET LOCAL lock_timeout = '600s'")
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    sqlx::query("LOCK TABLE usage_records IN SHARE MODE")
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
                Err(e) => panic!("probe: {e}"),
            }
            all.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (all, holders)
    })
}

async fn count(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM usage_records")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: u64 = std::env::var("TUTELA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let schema = format!("bench_retention_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&pg_url()).await.unwrap();
    exec(
        &admin,
        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
    )
    .await;
    let url = with_schema(&pg_url(), &schema);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    exec(
        &pool,
        "CREATE TABLE sims (id BIGINT PRIMARY KEY, iccid TEXT)",
    )
    .await;
    exec(
        &pool,
        "CREATE TABLE usage_records (id BIGINT PRIMARY KEY, sim_id BIGINT NOT NULL, \
         recorded_at TIMESTAMPTZ NOT NULL, bytes BIGINT)",
    )
    .await;
    exec(
        &pool,
        "CREATE INDEX usage_records_by_time ON usage_records (recorded_at)",
    )
    .await;
    let cutoff = "2026-09-01T00:00:00Z";
    println!(
        "retention sweep vs plain DELETE, PostgreSQL, {rows} expired rows + {} recent",
        rows / 10
    );

    // 1. The plain DELETE.
    let filled = fill(&pool, rows).await;
    println!("  fill: {:.1} s", filled.as_secs_f64());
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = probe(url.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    let deleted =
        sqlx::query("DELETE FROM usage_records WHERE recorded_at < CAST($1 AS TIMESTAMPTZ)")
            .bind(cutoff)
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected();
    let plain = t.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (plain_waits, _) = watcher.await.unwrap();
    let plain_waits = waits(plain_waits);
    assert_eq!(deleted, rows);
    assert_eq!(count(&pool).await, i64::try_from(rows / 10).unwrap());
    let plain_rate = rows as f64 / plain.as_secs_f64();

    // 2. The sweep, on the same rows.
    let filled = fill(&pool, rows).await;
    println!("  fill: {:.1} s", filled.as_secs_f64());
    let compiled = reference().unwrap();
    let map = tutela_core::datamap::load("net.toml", MAP, &compiled.policy).unwrap();
    let connector = Arc::new(
        Connector::open(map, Some(&url), b"k".to_vec())
            .await
            .unwrap(),
    );
    let dir = std::env::temp_dir().join(format!("tutela-bench-retention-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = AnyStore::Sqlite(
        SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
            .await
            .unwrap(),
    );
    store.migrate().await.unwrap();
    let mut settings = SweepSettings::default();
    if let Some(ms) = std::env::var("TUTELA_BENCH_TARGET_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        settings.batch.target_ms = ms;
    }
    if let Some(rows) = std::env::var("TUTELA_BENCH_MAX_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        settings.batch.max = rows;
    }
    if let Some(ms) = std::env::var("TUTELA_BENCH_LOCK_LIMIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        settings.batch.lock_limit_ms = ms;
    }
    // The bench sweeps its own database: sweeps on for it (they are off by default).
    settings.enabled.insert(connector.map.id.clone());
    let connectors = vec![connector];
    let sweeper = Sweeper {
        store: &store,
        policy: &compiled.policy,
        connectors: &connectors,
        owner: "bench",
        settings: &settings,
    };
    let now: jiff::Timestamp = "2026-12-01T03:00:00Z".parse().unwrap();
    // The first sweep of a rule waits for a DPO's approval of its plan (issue 31): opened
    // (which counts the due rows) and approved before the timed run, which recounts once
    // before its first batch.
    let id = sweeper.open(now, true).await.unwrap().unwrap();
    tutela_runtime::retention::approve(&store, &id, "bench", now)
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = probe(url.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    let mut swept = 0;
    // Each batch's time (between progress callbacks) and its place, for the slowest ones.
    let mut last = Instant::now();
    let mut batch_times: Vec<(Duration, u64)> = Vec::new();
    loop {
        let r = sweeper
            .step(now, Duration::from_secs(3600), |p| {
                let n = p.tables.iter().map(|t| t.batches).sum::<u64>();
                batch_times.push((last.elapsed(), n));
                last = Instant::now();
            })
            .await
            .unwrap();
        assert!(r.error.is_none(), "{r:?}");
        swept += r.deleted;
        if r.finished {
            break;
        }
    }
    let sweep = t.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (sweep_waits, holders) = watcher.await.unwrap();
    let sweep_waits = waits(sweep_waits);
    assert_eq!(swept, rows);
    assert_eq!(count(&pool).await, i64::try_from(rows / 10).unwrap());
    let done = tutela_store::RetentionStore::sweeps(&store, 1)
        .await
        .unwrap();
    let progress: tutela_runtime::retention::Progress =
        serde_json::from_str(&done[0].progress).unwrap();
    let t0 = &progress.tables[0];
    let sweep_rate = rows as f64 / sweep.as_secs_f64();

    println!(
        "  plain DELETE: {:>8.2} s  {:>10.0} rows/s  longest wait for a table lock {:>8.0} ms ({} probes)",
        plain.as_secs_f64(),
        plain_rate,
        plain_waits.longest.as_secs_f64() * 1e3,
        plain_waits.n
    );
    println!(
        "  tutela sweep: {:>8.2} s  {:>10.0} rows/s  waits for a table lock: longest {:.0} ms, p99 {:.0} ms, {} of {} over 100 ms; {} batches (target {} ms, at most {} rows), longest {} ms; {} cancelled at the lock limit of {} ms",
        sweep.as_secs_f64(),
        sweep_rate,
        sweep_waits.longest.as_secs_f64() * 1e3,
        sweep_waits.p99.as_secs_f64() * 1e3,
        sweep_waits.over_100ms,
        sweep_waits.n,
        t0.batches,
        settings.batch.target_ms,
        settings.batch.max,
        t0.longest_batch_ms,
        t0.cancelled,
        settings.batch.lock_limit_ms
    );
    for h in &holders {
        println!("  a probe waited past 100 ms; holding locks on the table then: {h}");
    }
    batch_times.sort_by_key(|b| std::cmp::Reverse(b.0));
    println!(
        "  slowest batches (time including saving the progress, batch number): {}",
        batch_times
            .iter()
            .take(5)
            .map(|(d, n)| format!("{:.0} ms #{n}", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  sweep rate / plain rate: {:.0}% (target >= 80%); longest lock {} (target <= 100 ms)",
        sweep_rate / plain_rate * 100.0,
        if sweep_waits.longest <= Duration::from_millis(100) {
            "met"
        } else {
            "NOT met"
        }
    );
    exec(&admin, &format!("DROP SCHEMA {schema} CASCADE")).await;
    let _ = std::fs::remove_dir_all(dir);
}
