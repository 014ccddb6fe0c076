//! The request worker is woken when a request becomes verified, in this process and (on
//! PostgreSQL) from another instance, instead of finding it at its next look; and each
//! transition of a worker pass carries the time it happened.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tutela_core::request::{RequestType, Status};
use tutela_runtime::Engine;
use tutela_runtime::requests::mailer::NoMailer;
use tutela_runtime::requests::worker::Worker;
use tutela_runtime::requests::{Fulfilment, NewRequest, RequestSettings, Requests};
use tutela_store::testing::{PgSchema, temp_dir, vault};
use tutela_store::{AnyStore, PgStore, RequestStore};

use crate::support::{TestApp, policy};

/// With a look every hour, nothing but the wake-up can finish the request in time.
const HOUR: Duration = Duration::from_secs(3600);
/// Generous for a busy 2-core machine; the old worker would take the hour.
const SOON: Duration = Duration::from_secs(10);

fn woken(s: &mut RequestSettings) {
    s.worker_interval = HOUR;
    s.worker_wake = true;
}

async fn verified_access_request(app: &TestApp, subject: &str) -> String {
    let (s, _, b) = app
        .call(
            "PUT",
            &format!("/v1/subjects/{subject}"),
            Some(json!({"relationship": "customer", "contract_kind": "telecommunications", "email": format!("{subject}@example.org")})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "access", "subject": subject})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    // No mailer: the request waits for an agent.
    assert_eq!(r["status"], "awaiting_verification", "{r}");
    let id = r["id"].as_str().expect("id").to_owned();
    let (s, _, v) = app
        .act(
            &id,
            "verify-by-agent",
            json!({"note": "identity card checked at the counter", "agent": "agent-1"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    id
}

async fn until_final(app: &TestApp, id: &str, since: Instant) -> Value {
    loop {
        let (_, _, v) = app.call("GET", &format!("/v1/requests/{id}"), None).await;
        if v["status"] != "verified" && v["status"] != "in_progress" {
            return v;
        }
        assert!(
            since.elapsed() < SOON,
            "not finished {SOON:?} after verification: {v}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The times of the worker's transitions, in order.
fn worker_times(v: &Value) -> Vec<jiff::Timestamp> {
    v["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["actor"] == "worker")
        .map(|e| e["at"].as_str().expect("at").parse().expect("timestamp"))
        .collect()
}

async fn verified_request_is_taken_up_at_once(app: &TestApp) {
    let id = verified_access_request(app, "W-1").await;
    let v = until_final(app, &id, Instant::now()).await;
    assert_eq!(v["status"], "completed", "{v}");
    let times = worker_times(&v);
    assert_eq!(times.len(), 2, "started and completed by the worker: {v}");
    assert!(
        times[0] < times[1],
        "each transition has its own time: {times:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woken_on_verification_sqlite() {
    let app = TestApp::sqlite_adjusted(Arc::new(NoMailer), Fulfilment::default(), woken).await;
    verified_request_is_taken_up_at_once(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woken_on_verification_postgres() {
    let Some(app) = TestApp::postgres_adjusted(woken).await else {
        return;
    };
    verified_request_is_taken_up_at_once(&app).await;
    app.finish().await;
}

/// A tick the test drives at a time it chooses: the transitions start from that time and
/// differ, as the work between them took time.
async fn transitions_carry_their_own_times(app: &TestApp) {
    let id = verified_access_request(app, "T-1").await;
    let start: jiff::Timestamp = "2030-01-02T03:04:05Z".parse().expect("ts");
    let report = Worker {
        requests: app.requests.clone(),
    }
    .tick(start)
    .await
    .expect("tick");
    assert_eq!((report.started, report.completed), (1, 1));
    let (_, _, v) = app.call("GET", &format!("/v1/requests/{id}"), None).await;
    assert_eq!(v["status"], "completed", "{v}");
    let times = worker_times(&v);
    assert_eq!(times.len(), 2, "{v}");
    assert!(times[0] >= start, "the test's clock: {times:?}");
    assert!(
        times[0] < times[1],
        "not the pass's start for both: {times:?}"
    );
    assert!(
        times[1] < start + jiff::SignedDuration::from_secs(60),
        "the test's clock, advanced only by the work: {times:?}"
    );
}

#[tokio::test]
async fn transitions_carry_their_own_times_sqlite() {
    let app = TestApp::sqlite().await;
    transitions_carry_their_own_times(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn transitions_carry_their_own_times_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    transitions_carry_their_own_times(&app).await;
    app.finish().await;
}

/// Two instances on one schema: the request is verified on `b`, whose worker never looks, and
/// `a`'s worker takes it up at once on the store's notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woken_by_another_instance_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let keys = temp_dir("wake-keys");
    let vault = vault(&keys).await;
    let open = || async {
        AnyStore::Postgres(
            PgStore::connect_in_schema(&pg.url, Some(&pg.schema))
                .await
                .expect("pg")
                .with_vault(vault.clone()),
        )
    };
    let instance = |engine: Arc<Engine>, wake: bool| {
        Arc::new(Requests::new(
            engine,
            RequestSettings {
                worker_interval: HOUR,
                worker_wake: wake,
                ..RequestSettings::default()
            },
            Arc::new(NoMailer),
            Fulfilment::default(),
        ))
    };
    let a = instance(
        Engine::start(open().await, policy()).await.expect("a"),
        true,
    );
    let b = instance(
        Engine::start(open().await, policy()).await.expect("b"),
        false,
    );
    let _jobs = tutela_runtime::jobs::Scheduler::new()
        .with(tutela_runtime::jobs::requests::RequestsJob::new(&a))
        .start();
    // The listener connects in the background; give it a moment before the notice.
    let listening = Instant::now();
    while listening.elapsed() < Duration::from_millis(500) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = jiff::Timestamp::now();
    let (r, _) = b
        .create(
            NewRequest {
                request_type: RequestType::Access,
                subject: Some("X-1".into()),
                email: None,
                details: None,
                channel: "api".into(),
                received_at: None,
            },
            "api",
            None,
            now,
        )
        .await
        .expect("filed");
    assert_eq!(r.status, Status::AwaitingVerification);
    b.verify_by_agent(
        &r.id,
        "identity card checked at the counter".into(),
        None,
        "agent-1",
        jiff::Timestamp::now(),
    )
    .await
    .expect("verified");
    let since = Instant::now();
    let store = a.engine.store.clone();
    loop {
        let got = store.request(&r.id).await.expect("read").expect("request");
        if !matches!(got.status, Status::Verified | Status::InProgress) {
            break;
        }
        assert!(
            since.elapsed() < SOON,
            "not taken up by the other instance: {}",
            got.status.as_str()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(a);
    drop(b);
    pg.drop_schema().await;
    let _ = std::fs::remove_dir_all(keys);
}
