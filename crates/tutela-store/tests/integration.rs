//! The store conformance suite: the same checks against SQLite and PostgreSQL.
//!
//! PostgreSQL tests need the server at 127.0.0.1:5432 (or `TUTELA_TEST_PG_URL`). Under
//! `CI=true` they fail when it is unreachable; elsewhere they say so and skip.

#![allow(
    clippy::panic,
    clippy::print_stderr,
    reason = "test helpers fail by panicking and say why they skip"
)]

mod cluster;
mod conformance;
mod disclosures;
mod outbox;
mod pseudonymised;

/// The ledgers refuse updates and deletes, whatever the client (a macro: the two pools differ
/// in type).
macro_rules! append_only {
    ($pool:expr) => {
        for table in ["ledger", "request_events", "audit_events"] {
            let update = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET kind = 'x'"
            )))
            .execute($pool)
            .await;
            assert!(update.is_err(), "{table} must refuse updates");
            let delete = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute($pool)
                .await;
            assert!(delete.is_err(), "{table} must refuse deletes");
        }
    };
}
mod requests;
mod retention;
mod risk;
mod shredding;
mod statistics;
mod vault;
mod web;

use tutela_store::testing::{PgSchema, temp_dir};
use tutela_store::{PgStore, SqliteStore, Store};

/// Every check of the suite, on one store.
async fn suite<S>(store: &S)
where
    S: Store
        + tutela_store::LogStore
        + tutela_store::RequestStore
        + tutela_store::RiskStore
        + tutela_store::DisclosureStore
        + tutela_store::WebStore
        + tutela_store::ActivationStore
        + tutela_store::SummaryStore
        + tutela_store::PseudonymisedStore
        + tutela_store::RetentionStore
        + tutela_store::StatisticsStore
        + tutela_store::OutboxStore
        + tutela_store::ClusterStore,
{
    conformance::run_all(store).await;
    requests::run_all(store).await;
    risk::run_all(store).await;
    disclosures::run_all(store).await;
    web::run_all(store).await;
    web::report_downloads_are_audited(store).await;
    web::activations_are_decided_once(store).await;
    web::summaries_are_reviewed_once_or_expire(store).await;
    pseudonymised::run_all(store).await;
    retention::run_all(store).await;
    statistics::run_all(store).await;
    risk::held_checks_stay(store).await;
    outbox::run_all(store).await;
    cluster::run_all(store).await;
}

// The server always seals personal attributes; the suite runs with a vault on both backends,
// and once without (a library user's plain store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_sqlite() {
    let dir = temp_dir("conformance");
    let store = SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
        .await
        .expect("open sqlite")
        .with_vault(vault::open_vault(&dir).await);
    suite(&store).await;
    append_only!(store.pool());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_sqlite_without_a_vault() {
    let dir = temp_dir("conformance-plain");
    let store = SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
        .await
        .expect("open sqlite");
    suite(&store).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let dir = temp_dir("conformance-pg");
    let store = PgStore::connect_in_schema(&pg.url, Some(&pg.schema))
        .await
        .expect("connect postgres")
        .with_vault(vault::open_vault(&dir).await);
    suite(&store).await;
    append_only!(store.pool());
    drop(store);
    pg.drop_schema().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A second server on the same schema hears of every commit that adds ledger rows, and of
/// none that rolls back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_notices_reach_other_connections_on_the_schema() {
    use tutela_store::ClusterStore;
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let connect = || PgStore::connect_in_schema(&pg.url, Some(&pg.schema));
    let writer = connect().await.expect("connect");
    writer.migrate().await.expect("migrate");
    let follower = connect().await.expect("connect");
    let mut listener = follower.listen_ledger().await.expect("listen");
    // Withdrawn at a stale head: nothing committed, nothing told.
    writer
        .append(&[conformance::consent("n-1", "newsletter", true, None)])
        .await
        .expect("append");
    assert!(notice(&mut listener).await);
    let stale = writer
        .append_at_head(
            &[conformance::consent("n-2", "newsletter", true, None)],
            0,
            |_| vec![false],
        )
        .await
        .expect("stale");
    assert!(stale.is_empty());
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), listener.next()).await;
    assert!(quiet.is_err(), "a refused append sent a notice");
    let at = "2026-03-01T10:00:00Z".parse().expect("time");
    writer.erase("n-1", at, "v1", &[]).await.expect("erase");
    assert!(notice(&mut listener).await);
    drop((writer, follower, listener));
    pg.drop_schema().await;
}

async fn notice(listener: &mut tutela_store::LedgerListener) -> bool {
    tokio::time::timeout(std::time::Duration::from_secs(5), listener.next())
        .await
        .map(|r| r.expect("notice"))
        .unwrap_or(false)
}

#[tokio::test]
async fn migrations_run_twice_without_harm() {
    let dir = temp_dir("migrate");
    let store = SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
        .await
        .expect("open sqlite");
    store.migrate().await.expect("first");
    store.migrate().await.expect("second");
    let _ = std::fs::remove_dir_all(dir);
}
