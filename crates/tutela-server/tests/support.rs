//! A test app: the real router over a real store (a fresh SQLite file or PostgreSQL schema).

use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use tutela_core::compiled::CompiledPolicy;
use tutela_core::policy::{MemoryLoader, load_policy};
use tutela_server::{AppState, Engine, app};
use tutela_store::{AnyStore, PgStore, SqliteStore};

pub const REFERENCE: &str = include_str!("../../../policies/reference.toml");
pub const SCENARIOS: &str = include_str!("../../../tests/scenarios/decisions.toml");
pub const TOKEN: &str = "test-token-0123456789abcdef";

static COUNTER: AtomicU32 = AtomicU32::new(0);

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

pub fn policy() -> CompiledPolicy {
    let loader = MemoryLoader::new().with("reference.toml", REFERENCE);
    CompiledPolicy::new(load_policy(&loader, "reference.toml").expect("reference policy"))
}

pub struct TestApp {
    pub router: Router,
    pub engine: std::sync::Arc<Engine>,
    cleanup: Option<(sqlx::PgPool, String)>,
    dir: Option<std::path::PathBuf>,
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        let dir = std::env::temp_dir().join(format!("tutela-server-{}", unique()));
        std::fs::create_dir_all(&dir).expect("dir");
        let store = SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
            .await
            .expect("sqlite");
        Self::with(AnyStore::Sqlite(store), None, Some(dir)).await
    }

    /// `None` only outside CI when PostgreSQL is unreachable.
    pub async fn postgres() -> Option<TestApp> {
        let url = std::env::var("TUTELA_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let admin = match sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&url)
            .await
        {
            Ok(p) => p,
            Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("skipping: PostgreSQL unreachable ({e}); CI=true makes this a failure");
                return None;
            }
            Err(e) => panic!("PostgreSQL is required under CI=true: {e}"),
        };
        let schema = format!("tutela_srv_{}", unique());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("schema");
        let store = PgStore::connect_in_schema(&url, Some(&schema))
            .await
            .expect("pg");
        Some(Self::with(AnyStore::Postgres(store), Some((admin, schema)), None).await)
    }

    async fn with(
        store: AnyStore,
        cleanup: Option<(sqlx::PgPool, String)>,
        dir: Option<std::path::PathBuf>,
    ) -> TestApp {
        let engine = Engine::start(store, policy()).await.expect("engine");
        let router = app(AppState {
            engine: engine.clone(),
            token: TOKEN.into(),
        });
        TestApp {
            router,
            engine,
            cleanup,
            dir,
        }
    }

    pub async fn finish(self) {
        if let Some((admin, schema)) = self.cleanup {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await;
        }
        if let Some(dir) = self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Sends a request with the token; returns the status, content type and body as JSON
    /// (or as a JSON string when the body is not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, String, serde_json::Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {TOKEN}"));
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        self.send(req).await
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, String, serde_json::Value) {
        let res = self.router.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = axum::body::to_bytes(res.into_body(), 64 << 20)
            .await
            .expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        });
        (status, ct, json)
    }
}
