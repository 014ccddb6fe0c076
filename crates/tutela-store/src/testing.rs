//! Test support shared by the crates' tests: unique names, temporary directories, and a fresh
//! PostgreSQL schema per test. Under `CI=true` an unreachable PostgreSQL is a failure.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::PgPool;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test in this or another process uses at the same time.
pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A new empty directory under the system's temporary directory.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tutela-{name}-{}", unique()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// `TUTELA_TEST_PG_URL`, or the local server.
pub fn pg_url() -> String {
    std::env::var("TUTELA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own for one test; drop it with [`PgSchema::drop_schema`].
pub struct PgSchema {
    pub url: String,
    pub schema: String,
    pub admin: PgPool,
}

impl PgSchema {
    /// `None` (the test skips) only outside CI when the server is unreachable.
    #[allow(
        clippy::print_stderr,
        clippy::panic,
        reason = "a test helper says why it skips or fails"
    )]
    pub async fn create() -> Option<PgSchema> {
        let url = pg_url();
        let admin = match sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await
        {
            Ok(p) => p,
            Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!(
                    "skipping: PostgreSQL at {url} unreachable ({e}); CI=true makes this a failure"
                );
                return None;
            }
            Err(e) => panic!("PostgreSQL at {url} is required under CI=true: {e}"),
        };
        let schema = format!("tutela_test_{}", unique());
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
        {
            panic!("cannot create schema {schema}: {e}");
        }
        Some(PgSchema { url, schema, admin })
    }

    /// A database URL whose connections use only this schema.
    pub fn store_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.url, self.schema
        )
    }

    /// Another session of the schema that runs `select` (a `SELECT … FOR UPDATE`) in an open
    /// transaction, so the rows it selects stay locked until [`RowLock::release`]: what an
    /// operator's long transaction does to a sweep.
    #[allow(clippy::panic, reason = "a test helper fails by panicking")]
    pub async fn lock_rows(&self, select: &'static str) -> RowLock {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.store_url())
            .await
            .unwrap_or_else(|e| panic!("a second connection: {e}"));
        for sql in ["BEGIN", select] {
            sqlx::query(sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        RowLock { conn }
    }

    pub async fn drop_schema(self) {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(&self.admin)
        .await;
    }
}

/// Rows locked by [`PgSchema::lock_rows`].
pub struct RowLock {
    conn: sqlx::PgConnection,
}

impl RowLock {
    /// Ends the transaction, and with it the locks.
    #[allow(clippy::panic, reason = "a test helper fails by panicking")]
    pub async fn release(mut self) {
        sqlx::query("ROLLBACK")
            .execute(&mut self.conn)
            .await
            .unwrap_or_else(|e| panic!("ROLLBACK: {e}"));
    }
}

/// Runs raw SQL statements against the store, as someone with direct database access would:
/// the tampering tests of the verifiable log use it to change, delete and reorder rows.
pub async fn tamper(store: &crate::AnyStore, statements: &[&str]) -> Result<(), sqlx::Error> {
    for sql in statements {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match store {
            crate::AnyStore::Sqlite(s) => {
                sqlx::raw_sql(sql).execute(&s.pool).await?;
            }
            crate::AnyStore::Postgres(s) => {
                sqlx::raw_sql(sql).execute(&s.pool).await?;
            }
        }
    }
    Ok(())
}

/// A vault whose key file and key store are in `dir`, apart from any data file, as the server
/// sets one up; a second call with the same directory reads the same keys.
#[allow(clippy::panic, reason = "a test helper fails by panicking")]
pub async fn vault(dir: &std::path::Path) -> std::sync::Arc<crate::vault::Vault> {
    use crate::vault::{KeySource, KeyStore, LocalMasterKeys, Vault};
    let master = LocalMasterKeys::open(KeySource::File(dir.join("tutela-master.key")))
        .unwrap_or_else(|e| panic!("master keys in {}: {e}", dir.display()));
    let keys = KeyStore::open(&format!(
        "sqlite://{}",
        dir.join("tutela-keys.db").display()
    ))
    .await
    .unwrap_or_else(|e| panic!("key store in {}: {e}", dir.display()));
    Vault::new(Box::new(master), keys)
}
