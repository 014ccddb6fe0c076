//! A test app: the real router over a real store (a fresh SQLite file or PostgreSQL schema).

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use tutela_core::compiled::CompiledPolicy;
use tutela_core::policy::{MemoryLoader, load_policy};
use tutela_runtime::Engine;
use tutela_runtime::requests::RequestSettings;
use tutela_runtime::requests::mailer::{Mailer, NoMailer};
use tutela_server::{AppState, app};
use tutela_store::testing::{PgSchema, temp_dir, vault};
use tutela_store::{AnyStore, PgStore, SqliteStore};

pub const REFERENCE: &str = include_str!("../../../policies/reference.toml");
pub const SCENARIOS: &str = include_str!("../../../tests/scenarios/decisions.toml");
pub type Connectors = tutela_runtime::requests::Fulfilment;

pub const TOKEN: &str = "test-token-0123456789abcdef";

pub fn policy() -> CompiledPolicy {
    let loader = MemoryLoader::new().with("reference.toml", REFERENCE);
    CompiledPolicy::new(load_policy(&loader, "reference.toml").expect("reference policy"))
}

pub struct TestApp {
    pub router: Router,
    pub engine: std::sync::Arc<Engine>,
    pub requests: std::sync::Arc<tutela_runtime::requests::Requests>,
    state: AppState,
    /// The background jobs, as `tutela serve` starts them; stopped when the app is dropped.
    _jobs: tutela_runtime::jobs::Running,
    pg: Option<PgSchema>,
    dir: Option<std::path::PathBuf>,
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with_mailer(std::sync::Arc::new(NoMailer)).await
    }

    pub async fn sqlite_with_mailer(mailer: std::sync::Arc<dyn Mailer>) -> TestApp {
        Self::sqlite_with(mailer, Connectors::default()).await
    }

    pub async fn sqlite_with(
        mailer: std::sync::Arc<dyn Mailer>,
        connectors: Connectors,
    ) -> TestApp {
        Self::sqlite_at(temp_dir("server"), mailer, connectors).await
    }

    /// A server on the SQLite database in `dir`, as after a restart when it existed before.
    pub async fn sqlite_at(
        dir: std::path::PathBuf,
        mailer: std::sync::Arc<dyn Mailer>,
        connectors: Connectors,
    ) -> TestApp {
        let store = SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
            .await
            .expect("sqlite")
            .with_vault(vault(&dir).await);
        Self::with(AnyStore::Sqlite(store), None, Some(dir), mailer, connectors).await
    }

    /// `None` only outside CI when PostgreSQL is unreachable.
    pub async fn postgres() -> Option<TestApp> {
        Self::postgres_full(std::sync::Arc::new(NoMailer), Connectors::default(), |_| {}).await
    }

    /// PostgreSQL with a mailer; `None` only outside CI when PostgreSQL is unreachable.
    pub async fn postgres_with_mailer(mailer: std::sync::Arc<dyn Mailer>) -> Option<TestApp> {
        Self::postgres_full(mailer, Connectors::default(), |_| {}).await
    }

    /// PostgreSQL whose request settings `adjust` changes; `None` only outside CI when
    /// PostgreSQL is unreachable.
    pub async fn postgres_adjusted(adjust: impl FnOnce(&mut RequestSettings)) -> Option<TestApp> {
        Self::postgres_full(std::sync::Arc::new(NoMailer), Connectors::default(), adjust).await
    }

    /// The one PostgreSQL server of the tests: a schema of its own, keys apart, `mailer`,
    /// the operator's databases and request settings `adjust` changes.
    async fn postgres_full(
        mailer: std::sync::Arc<dyn Mailer>,
        connectors: Connectors,
        adjust: impl FnOnce(&mut RequestSettings),
    ) -> Option<TestApp> {
        let pg = PgSchema::create().await?;
        let store = PgStore::connect_in_schema(&pg.url, Some(&pg.schema))
            .await
            .expect("pg")
            .with_vault(vault(&temp_dir("server-keys")).await);
        Some(
            Self::with_adjusted(
                AnyStore::Postgres(store),
                Some(pg),
                None,
                mailer,
                connectors,
                adjust,
            )
            .await,
        )
    }

    /// A server on SQLite whose request settings `adjust` changes (e.g. the datasets whose
    /// retention sweeps are on).
    pub async fn sqlite_adjusted(
        mailer: std::sync::Arc<dyn Mailer>,
        connectors: Connectors,
        adjust: impl FnOnce(&mut RequestSettings),
    ) -> TestApp {
        let dir = temp_dir("server");
        let store = SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
            .await
            .expect("sqlite")
            .with_vault(vault(&dir).await);
        Self::with_adjusted(
            AnyStore::Sqlite(store),
            None,
            Some(dir),
            mailer,
            connectors,
            adjust,
        )
        .await
    }

    async fn with(
        store: AnyStore,
        pg: Option<PgSchema>,
        dir: Option<std::path::PathBuf>,
        mailer: std::sync::Arc<dyn Mailer>,
        connectors: Connectors,
    ) -> TestApp {
        Self::with_adjusted(store, pg, dir, mailer, connectors, |_| {}).await
    }

    async fn with_adjusted(
        store: AnyStore,
        pg: Option<PgSchema>,
        dir: Option<std::path::PathBuf>,
        mailer: std::sync::Arc<dyn Mailer>,
        connectors: Connectors,
        adjust: impl FnOnce(&mut RequestSettings),
    ) -> TestApp {
        let engine = Engine::start(store, policy()).await.expect("engine");
        // Tests drive the worker themselves, one tick at a time.
        let mut settings = RequestSettings {
            worker_interval: std::time::Duration::from_secs(3600),
            worker_wake: false,
            pseudonymised_dirs: tutela_runtime::dataset_files::DatasetDirs::unchecked(vec![
                std::env::temp_dir(),
            ]),
            ..RequestSettings::default()
        };
        adjust(&mut settings);
        let state = AppState::new(engine.clone(), settings, mailer, connectors, TOKEN);
        let requests = state.requests.clone();
        let router = app(state.clone());
        TestApp {
            router,
            _jobs: state.jobs().start(),
            state,
            engine,
            requests,
            pg,
            dir,
        }
    }

    /// The same app, signing the verifiable log's heads with `key` (no background sealer:
    /// tests seal and sign through POST /v1/log/head).
    pub fn with_log_key(mut self, key: tutela_runtime::verifiable_log::LogKey) -> TestApp {
        self.state = self.state.clone().with_log_key(key, None);
        self.router = app(self.state.clone());
        self
    }

    /// The same app with pseudonymisation keys.
    pub fn with_pseudonyms(mut self, keys: tutela_core::pseudonym::PseudonymKeys) -> TestApp {
        self.state = self.state.clone().with_pseudonyms(keys);
        self.router = app(self.state.clone());
        self
    }

    /// The same app with risk checks.
    pub fn with_risk(mut self, risk: tutela_runtime::risk::RiskService) -> TestApp {
        self.state = self.state.clone().with_risk(risk);
        self.router = app(self.state.clone());
        self
    }

    pub async fn finish(self) {
        if let Some(pg) = self.pg {
            pg.drop_schema().await;
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

    /// Posts an agent's action on a request (`/v1/requests/{id}/{action}`), e.g. `extend`.
    pub async fn act(
        &self,
        id: &str,
        action: &str,
        body: serde_json::Value,
    ) -> (StatusCode, String, serde_json::Value) {
        self.call("POST", &format!("/v1/requests/{id}/{action}"), Some(body))
            .await
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

/// A path for a pseudonymised dataset file no other test uses, directly in the directory the
/// test servers keep datasets in (`pseudonymised_dirs` takes files directly in it only).
pub fn dataset_path(name: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("tutela-ds-{}-{n}-{name}", std::process::id()))
}

impl TestApp {
    /// PostgreSQL as tutela's store, fulfilling requests in the operator's databases
    /// `connectors`; `None` only outside CI when PostgreSQL is unreachable.
    pub async fn postgres_with(
        mailer: std::sync::Arc<dyn Mailer>,
        connectors: Connectors,
    ) -> Option<TestApp> {
        Self::postgres_full(mailer, connectors, |_| {}).await
    }
}

/// The request workflow as the tests drive it: one worker tick, a request as the API shows it,
/// a request filed and verified by an agent, one of its steps.
impl TestApp {
    /// One tick of the request worker at `at`.
    pub async fn tick_at(
        &self,
        at: jiff::Timestamp,
    ) -> tutela_runtime::requests::worker::TickReport {
        tutela_runtime::requests::worker::Worker {
            requests: self.requests.clone(),
        }
        .tick(at)
        .await
        .expect("tick")
    }

    /// Ticks at `at` and, when request `id` then waits for approval of its plans for the
    /// operator's databases, approves them as a second agent and ticks again: the flow of a
    /// reviewed erasure or rectification.
    pub async fn tick_approved(&self, id: &str, at: jiff::Timestamp) {
        self.tick_at(at).await;
        if self.request(id).await["status"] == "awaiting_approval" {
            self.approve(id).await;
            self.tick_at(at).await;
        }
    }

    /// A second agent approves the plans request `id` waits with.
    pub async fn approve(&self, id: &str) {
        let (s, _, v) = self
            .act(
                id,
                "approve",
                serde_json::json!({"agent": "agent-2", "note": "plan checked"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }

    /// `GET /v1/requests/{id}`.
    pub async fn request(&self, id: &str) -> serde_json::Value {
        self.call("GET", &format!("/v1/requests/{id}"), None)
            .await
            .2
    }

    /// Files `body` and has an agent verify it; the request's id.
    pub async fn file_verified(&self, body: serde_json::Value) -> String {
        let (s, _, r) = self.call("POST", "/v1/requests", Some(body)).await;
        assert_eq!(s, 201, "{r}");
        let id = r["id"].as_str().expect("id").to_owned();
        let (s, _, v) = self
            .act(
                &id,
                "verify-by-agent",
                serde_json::json!({"note": "identity card checked at the shop", "agent": "agent-1"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        id
    }
}

/// The step `name` of a request as the API shows it.
pub fn step(v: &serde_json::Value, name: &str) -> serde_json::Value {
    v["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no step {name} in {v}"))
}
