//! Test support: temporary directories and fresh PostgreSQL schemas.

use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique() -> String {
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

pub fn temp_dir(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("tutela-store-{name}-{}", unique()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.to_string_lossy().into_owned()
}

pub fn pg_url() -> String {
    std::env::var("TUTELA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own for one test, dropped at the end.
pub struct PgSchema {
    pub url: String,
    pub schema: String,
    admin: sqlx::PgPool,
}

impl PgSchema {
    /// `None` (skip) only outside CI when the server is unreachable.
    pub async fn create() -> Option<PgSchema> {
        let url = pg_url();
        let admin = match sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(5))
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
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create schema");
        Some(PgSchema { url, schema, admin })
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
