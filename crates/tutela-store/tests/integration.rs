//! The store conformance suite: the same checks against SQLite and PostgreSQL.
//!
//! PostgreSQL tests need the server at 127.0.0.1:5432 (or `TUTELA_TEST_PG_URL`). Under
//! `CI=true` they fail when it is unreachable; elsewhere they say so and skip.

#![allow(
    clippy::panic,
    clippy::print_stderr,
    reason = "test helpers fail by panicking and say why they skip"
)]

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
        + tutela_store::OutboxStore,
{
    conformance::run_all(store).await;
    requests::run_all(store).await;
    risk::run_all(store).await;
    disclosures::run_all(store).await;
    web::run_all(store).await;
    web::activations_are_decided_once(store).await;
    web::summaries_are_reviewed_once_or_expire(store).await;
    pseudonymised::run_all(store).await;
    retention::run_all(store).await;
    statistics::run_all(store).await;
    risk::held_checks_stay(store).await;
    outbox::run_all(store).await;
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
