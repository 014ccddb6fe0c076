//! The retention engine end to end, on the demo schema in a real operator database, with an
//! injected clock: the worker's tick sweeps on schedule, a legal hold keeps a person's rows
//! until lifted, the counts per rule reach the audit log, and a sweep whose process died is
//! resumed by another at its cursor with nothing deleted twice or left behind.

use std::sync::Arc;

use tutela_connectors::Connector;
use tutela_connectors::demo::{MAP, SCHEMA};
use tutela_runtime::requests::Fulfilment;
use tutela_runtime::requests::worker::Worker;
use tutela_runtime::retention::{SweepSettings, Sweeper};
use tutela_store::testing::temp_dir;
use tutela_store::{HoldRecord, LogSource, LogStore, RetentionStore};

use crate::support::{TestApp, policy};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().expect("time")
}

/// each with one SIM: usage records before and after the 3-month cutoff of
/// 2026-12-01 (2026-09-01), and an invoice and payment of 2016 (past the 8 years).
fn rows() -> Vec<String> {
    let mut s: Vec<String> = SCHEMA.iter().map(|x| (*x).to_owned()).collect();
    for (c, no) in [(1, "R-1"), (2, "R-2")] {
        s.push(format!("INSERT INTO customers (id, customer_no, name, email, created_at) VALUES ({c}, '{no}', 'Name {c}', 'r{c}@example.org', '2015-01-01')"));
        s.push(format!("INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES ({c}, {c}, 'IoT', '2015-01-01', '2025-06-30')"));
        s.push(format!(
            "INSERT INTO sims (id, contract_id, iccid) VALUES ({c}, {c}, '894901000000000{c}')"
        ));
        for i in 0..30 {
            let id = c * 1000 + i;
            let day = if i < 20 {
                format!("2026-06-15T10:00:{i:02}Z")
            } else {
                format!("2026-11-01T10:00:{i:02}Z")
            };
            s.push(format!("INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES ({id}, {c}, '{day}', 1)"));
        }
        s.push(format!("INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES ({c}, {c}, '2016-03-01', 100, 'DE89370400440532013000')"));
        s.push(format!("INSERT INTO payments (id, invoice_id, paid_at, amount_cents) VALUES ({c}, {c}, '2016-03-10', 100)"));
    }
    s
}

async fn operator_db() -> (Arc<Connector>, std::path::PathBuf) {
    let dir = temp_dir("retention-operator");
    let file = dir.join("operator.db");
    std::fs::File::create(&file).expect("file");
    let text = MAP.replace("connector = \"postgres\"", "connector = \"sqlite\"");
    let map = tutela_core::datamap::load("demo.toml", &text, &policy().policy).expect("map");
    let c = Connector::open(
        map,
        Some(&format!("sqlite://{}", file.display())),
        b"k".to_vec(),
    )
    .await
    .expect("open");
    c.run_statements(&rows()).await.expect("seed");
    (Arc::new(c), dir)
}

async fn usage_of(c: &Connector, who: &str) -> usize {
    let ids =
        std::collections::BTreeMap::from([("customer_number".to_owned(), vec![who.to_owned()])]);
    let rows = c.collect(&ids).await.expect("collect");
    let t = c.map.table("usage_records").expect("table");
    rows.get(&t).map_or(0, Vec::len)
}

/// Sweeps of the demo dataset turned on, as `retention_sweeps = true` does.
fn sweeping() -> std::collections::BTreeSet<String> {
    std::collections::BTreeSet::from(["operator".to_owned()])
}

/// Approves the open sweep's plan as a DPO would (its first sweep of each rule waits).
async fn approve_open(app: &TestApp) -> String {
    let open = app
        .engine
        .store
        .sweeps(1)
        .await
        .expect("sweeps")
        .into_iter()
        .find(|s| s.finished_at.is_none())
        .expect("an open sweep");
    tutela_runtime::retention::approve(
        &app.engine.store,
        &open.id,
        "dpo-1",
        at("2026-12-01T02:00:00Z"),
    )
    .await
    .expect("approve");
    open.id
}

async fn app_with(c: &Arc<Connector>) -> TestApp {
    TestApp::sqlite_adjusted(
        Arc::new(tutela_runtime::requests::mailer::NoMailer),
        Fulfilment {
            connectors: vec![c.clone()],
            ..Fulfilment::default()
        },
        |s| s.retention.enabled = sweeping(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_sweeps_on_schedule_and_holds_keep_rows_until_lifted() {
    // covers: N5a, N6, N7b
    let (c, dir) = operator_db().await;
    let app = app_with(&c).await;
    let store = &app.engine.store;
    store
        .place_hold(&HoldRecord {
            id: "lh-1".into(),
            subject: Some("R-2".into()),
            dataset: None,
            table_name: None,
            record_key: None,
            reference: "claim 2026-17".into(),
            placed_by: "dpo-1".into(),
            placed_at: at("2026-11-30T00:00:00Z"),
            lifted_by: None,
            lifted_at: None,
        })
        .await
        .expect("hold");
    let t0 = at("2026-12-01T03:00:00Z");
    let first = tutela_runtime::jobs::retention::step(&app.requests, t0).await;
    assert_eq!(first.deleted, 0, "a rule's first sweep waits: {first:?}");
    approve_open(&app).await;
    let report = tutela_runtime::jobs::retention::step(&app.requests, t0).await;
    assert!(report.finished && report.error.is_none(), "{report:?}");
    // 20 usage records, the payment, then the invoice; R-2 is held.
    assert_eq!(report.deleted, 22, "{report:?}");
    assert_eq!(usage_of(&c, "R-1").await, 10);
    assert_eq!(usage_of(&c, "R-2").await, 30, "held rows stay");

    // Within the interval no new sweep opens, even after the hold is lifted.
    assert!(
        store
            .lift_hold("lh-1", "dpo-1", at("2026-12-01T09:00:00Z"))
            .await
            .expect("lift")
    );
    let soon =
        tutela_runtime::jobs::retention::step(&app.requests, at("2026-12-01T12:00:00Z")).await;
    assert_eq!(soon.deleted, 0);
    assert_eq!(usage_of(&c, "R-2").await, 30);
    let next =
        tutela_runtime::jobs::retention::step(&app.requests, at("2026-12-02T03:00:00Z")).await;
    assert!(next.finished, "{next:?}");
    assert_eq!(next.deleted, 22);
    assert_eq!(usage_of(&c, "R-2").await, 10);

    // Each sweep's counts per rule are audit rows (leaves of the verifiable log); no values.
    let audit = store
        .log_contents(LogSource::Audit, 0, 1_000_000)
        .await
        .expect("audit");
    let sweeps: Vec<String> = audit
        .iter()
        .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
        .filter(|t| t.contains("\nretention_sweep\n"))
        .collect();
    assert_eq!(sweeps.len(), 2, "{sweeps:?}");
    assert!(
        sweeps[0].contains("\"service_quality_data\":{\"operator.usage_records\":20}"),
        "{}",
        sweeps[0]
    );
    assert!(
        sweeps[0]
            .contains("\"booking_vouchers\":{\"operator.invoices\":1,\"operator.payments\":1}")
    );
    assert!(
        !sweeps
            .iter()
            .any(|s| s.contains("example.org") || s.contains("DE89"))
    );
    app.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_whose_process_died_is_resumed_by_another() {
    // covers: N7b
    let (c, dir) = operator_db().await;
    let app = app_with(&c).await;
    let compiled = policy();
    let settings = SweepSettings {
        batch: tutela_core::retention::BatchSize {
            rows: 3,
            min: 3,
            max: 3,
            target_ms: 25,
            lock_limit_ms: 80,
        },
        enabled: sweeping(),
        ..SweepSettings::default()
    };
    let connectors = vec![c.clone()];
    let sweeper = |owner: &'static str| Sweeper {
        store: &app.engine.store,
        policy: &compiled.policy,
        connectors: &connectors,
        owner,
        settings: &settings,
    };
    let t0 = at("2026-12-01T03:00:00Z");
    let plan = sweeper("a").preview(t0).await.expect("preview");
    let usage = plan
        .iter()
        .find(|p| p.table == "usage_records")
        .expect("usage");
    assert_eq!((usage.due, usage.cutoff.as_str()), (Some(40), "2026-09-01"));
    assert!(sweeper("a").open(t0, false).await.expect("open").is_some());
    assert!(
        sweeper("b").open(t0, true).await.expect("open").is_none(),
        "one open sweep"
    );
    approve_open(&app).await;
    // Process a deletes two batches of about three rows (a batch takes every row of the
    // instant it ends at), then dies without a word.
    let mut deleted = 0;
    for _ in 0..2 {
        let r = sweeper("a")
            .step(t0, std::time::Duration::ZERO, |_| {})
            .await
            .expect("step");
        assert!(r.deleted > 0 && !r.finished, "{r:?}");
        deleted += r.deleted;
    }
    // b cannot take it while a's lease runs; once it has run out, b resumes at a's cursor.
    let r = sweeper("b")
        .step(t0, std::time::Duration::ZERO, |_| {})
        .await
        .expect("step");
    assert_eq!(r.sweep, None);
    let later = at("2026-12-01T03:05:00Z");
    let mut batches = 0;
    loop {
        let r = sweeper("b")
            .step(later, std::time::Duration::ZERO, |_| {})
            .await
            .expect("step");
        deleted += r.deleted;
        batches += 1;
        if r.finished {
            break;
        }
        assert!(batches < 100);
    }
    // 40 usage records (neither held nor in their 3 months), 2 payments, 2 invoices.
    assert_eq!(deleted, 44);
    assert_eq!(usage_of(&c, "R-1").await + usage_of(&c, "R-2").await, 20);
    // a, back, finds its lease gone and stops.
    assert!(
        sweeper("a")
            .step(later, std::time::Duration::ZERO, |_| {})
            .await
            .expect("step")
            .sweep
            .is_none()
    );
    let sweeps = app.engine.store.sweeps(5).await.expect("sweeps");
    assert_eq!(sweeps.len(), 1);
    assert!(sweeps[0].finished_at.is_some());
    let progress: tutela_runtime::retention::Progress =
        serde_json::from_str(&sweeps[0].progress).expect("progress");
    assert_eq!(
        progress.deleted(),
        44,
        "the counts of both processes add up"
    );
    assert!(
        progress
            .tables
            .iter()
            .all(|t| t.done && t.longest_batch_ms < 100)
    );
    app.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_plans_opens_sweeps_and_places_and_lifts_holds() {
    // covers: N5a, N6, N7b
    use axum::http::StatusCode;
    use serde_json::json;
    let (c, dir) = operator_db().await;
    let app = app_with(&c).await;
    let usage = |plan: &serde_json::Value| {
        plan["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .find(|t| t["table"] == "usage_records")
            .cloned()
            .expect("usage_records")
    };
    let (s, _, plan) = app
        .call("GET", "/v1/retention/plan?at=2026-12-01T03:00:00Z", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    let u = usage(&plan);
    assert_eq!(
        (
            u["rule"].clone(),
            u["delete_before"].clone(),
            u["due"].clone()
        ),
        (
            json!("service_quality_data"),
            json!("2026-09-01"),
            json!(40)
        ),
        "{plan}"
    );
    assert_eq!(u["notice_refs"], json!(["N7b"]));

    let (s, _, hold) = app
        .call(
            "POST",
            "/v1/legal-holds",
            Some(json!({"subject": "R-1", "reference": "claim 2026-17", "placed_by": "dpo-1"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hold}");
    let id = hold["id"].as_str().expect("id").to_owned();
    let (_, _, plan) = app
        .call("GET", "/v1/retention/plan?at=2026-12-01T03:00:00Z", None)
        .await;
    assert_eq!(
        (usage(&plan)["due"].clone(), usage(&plan)["held"].clone()),
        (json!(20), json!(30)),
        "R-1's 30 usage records are held: {plan}"
    );
    for (body, field) in [
        (
            json!({"subject": "R-1", "dataset": "operator", "reference": "c", "placed_by": "d"}),
            "subject",
        ),
        (
            json!({"dataset": "crm", "table": "invoices", "record_key": "1", "reference": "c", "placed_by": "d"}),
            "dataset",
        ),
        (
            json!({"dataset": "operator", "table": "letters", "record_key": "1", "reference": "c", "placed_by": "d"}),
            "table",
        ),
        (
            json!({"subject": "R-1", "reference": " ", "placed_by": "d"}),
            "reference",
        ),
    ] {
        let (s, _, p) = app.call("POST", "/v1/legal-holds", Some(body)).await;
        assert_eq!(
            (s, p["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!(field)),
            "{p}"
        );
    }
    let (s, _, p) = app
        .call("GET", "/v1/retention/plan?at=yesterday", None)
        .await;
    assert_eq!(
        (s, p["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("at"))
    );

    // A sweep opened now, run by the worker; a second call names the open one.
    let (s, _, opened) = app.call("POST", "/v1/retention/sweeps", None).await;
    assert_eq!(
        (s, opened["opened"].clone()),
        (StatusCode::ACCEPTED, json!(true)),
        "{opened}"
    );
    let (_, _, again) = app.call("POST", "/v1/retention/sweeps", None).await;
    assert_eq!(
        (again["opened"].clone(), again["sweep"].clone()),
        (json!(false), opened["sweep"].clone())
    );
    approve_open(&app).await;
    let report = tutela_runtime::jobs::retention::step(&app.requests, jiff::Timestamp::now()).await;
    assert!(report.finished, "{report:?}");
    let (_, _, list) = app.call("GET", "/v1/retention/sweeps", None).await;
    let done = &list[0];
    assert_eq!(done["id"], opened["sweep"]);
    assert!(done["finished_at"].is_string(), "{done}");
    let tables = done["tables"].as_array().expect("tables");
    let swept_usage = tables
        .iter()
        .find(|t| t["table"] == "usage_records")
        .expect("usage");
    assert_eq!(
        (swept_usage["deleted"].clone(), swept_usage["done"].clone()),
        (json!(20), json!(true))
    );
    assert_eq!(usage_of(&c, "R-1").await, 30, "held");
    assert_eq!(usage_of(&c, "R-2").await, 10);

    let (s, _, lifted) = app
        .call(
            "POST",
            &format!("/v1/legal-holds/{id}/lift"),
            Some(json!({"lifted_by": "dpo-2"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{lifted}");
    assert!(lifted["lifted_at"].is_string());
    let (s, _, p) = app
        .call(
            "POST",
            &format!("/v1/legal-holds/{id}/lift"),
            Some(json!({"lifted_by": "dpo-2"})),
        )
        .await;
    assert_eq!(
        (s, p["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("id"))
    );
    let (_, _, active) = app.call("GET", "/v1/legal-holds", None).await;
    let (_, _, all) = app.call("GET", "/v1/legal-holds?all=true", None).await;
    assert_eq!((active, all[0]["id"].clone()), (json!([]), json!(id)));
    app.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_persons_erasure_restricts_instead_and_erases_once_the_hold_is_lifted() {
    // covers: N5a, N9e
    use axum::http::StatusCode;
    use serde_json::json;
    let (c, dir) = operator_db().await;
    let app = app_with(&c).await;
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/R-1",
            Some(json!({"relationship": "customer"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, _, hold) = app
        .call(
            "POST",
            "/v1/legal-holds",
            Some(json!({"subject": "R-1", "reference": "claim 2026-17", "placed_by": "dpo-1"})),
        )
        .await;
    let erase = || async {
        let (s, _, r) = app
            .call(
                "POST",
                "/v1/requests",
                Some(json!({"type": "erasure", "subject": "R-1"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        let id = r["id"].as_str().expect("id").to_owned();
        let (s, _, v) = app
            .act(
                &id,
                "verify-by-agent",
                json!({"note": "identity card checked", "agent": "agent-1"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        app.tick_approved(&id, jiff::Timestamp::now()).await;
        app.call("GET", &format!("/v1/requests/{id}"), None).await.2
    };
    let v = erase().await;
    assert_eq!(v["status"], "partially_refused", "{v}");
    tutela_runtime::jobs::retention::step(&app.requests, jiff::Timestamp::now()).await;
    // The console shows the active hold and the sweep the retention job ran, to any signed-in
    // operator.
    let secret = tutela_runtime::operators::create(
        &app.engine.store,
        "audrey",
        tutela_runtime::operators::Role::Auditor,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("auditor")
    .totp_secret;
    let mut audrey = crate::pages::Browser::new(&app);
    audrey
        .operator("audrey", "correct horse battery", &secret)
        .await;
    let page = audrey.get("/console/retention").await;
    assert!(
        page.body.contains("claim 2026-17")
            && page.body.contains("R-1")
            && page.body.contains("operator.usage_records"),
        "{}",
        page.body
    );
    let result = |v: serde_json::Value| {
        let app = &app;
        async move {
            let id = v["id"].as_str().expect("id").to_owned();
            app.call("GET", &format!("/v1/requests/{id}/result"), None)
                .await
                .2
        }
    };
    let r = result(v).await;
    let why = r["datasets"][0]["result"]["restricted"][0]["why"].clone();
    assert!(
        why.as_str()
            .is_some_and(|w| w.contains("legal hold claim 2026-17") && w.contains("17(3)(e)")),
        "{r}"
    );
    assert_eq!(
        usage_of(&c, "R-1").await,
        30,
        "nothing of a held person is erased"
    );
    let history = tutela_store::Store::history(&app.engine.store, "R-1")
        .await
        .expect("history");
    let kinds: Vec<_> = history.iter().map(|e| e.event.kind.clone()).collect();
    assert!(
        kinds.contains(&tutela_core::ledger::EventKind::Restriction { active: true }),
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&tutela_core::ledger::EventKind::Erasure),
        "{kinds:?}"
    );

    let id = hold["id"].as_str().expect("id");
    let (s, _, _) = app
        .call(
            "POST",
            &format!("/v1/legal-holds/{id}/lift"),
            Some(json!({"lifted_by": "dpo-1"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let v = erase().await;
    // The 2016 invoice and payment are past their eight years: everything goes.
    assert_eq!(v["status"], "completed", "{v}");
    let r = result(v).await;
    assert!(!r.to_string().contains("legal hold"), "{r}");
    assert_eq!(usage_of(&c, "R-1").await, 0);
    app.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// On PostgreSQL a batch held up past the lock limit (here by another transaction's row lock)
/// is cancelled and tried again smaller, and the sweep still deletes everything due, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_cancelled_at_the_lock_limit_is_retried_and_the_sweep_completes() {
    // covers: N7b
    let Some(pg) = tutela_store::testing::PgSchema::create().await else {
        return;
    };
    let map = tutela_core::datamap::load("demo.toml", MAP, &policy().policy).expect("map");
    let c = Connector::open(map, Some(&pg.store_url()), b"k".to_vec())
        .await
        .expect("open");
    c.run_statements(&rows()).await.expect("seed");
    let c = Arc::new(c);
    let app = app_with(&c).await;
    let compiled = policy();
    let settings = SweepSettings {
        batch: tutela_core::retention::BatchSize {
            rows: 8,
            min: 2,
            max: 8,
            target_ms: 25,
            lock_limit_ms: 50,
        },
        enabled: sweeping(),
        ..SweepSettings::default()
    };
    let connectors = vec![c.clone()];
    let sweeper = Sweeper {
        store: &app.engine.store,
        policy: &compiled.policy,
        connectors: &connectors,
        owner: "a",
        settings: &settings,
    };
    // A due usage record of R-1 is locked by another transaction for 300 ms.
    let blocker = pg
        .lock_rows("SELECT id FROM usage_records WHERE id = 1000 FOR UPDATE")
        .await;
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        blocker.release().await;
    });
    let t0 = at("2026-12-01T03:00:00Z");
    assert!(sweeper.open(t0, false).await.expect("open").is_some());
    approve_open(&app).await;
    let mut deleted = 0;
    for _ in 0..100 {
        let r = sweeper
            .step(t0, std::time::Duration::from_secs(60), |_| {})
            .await
            .expect("step");
        assert!(r.error.is_none(), "{r:?}");
        deleted += r.deleted;
        if r.finished {
            break;
        }
    }
    release.await.expect("released");
    assert_eq!(deleted, 44, "40 usage records, 2 payments, 2 invoices");
    assert_eq!(usage_of(&c, "R-1").await + usage_of(&c, "R-2").await, 20);
    let sweeps = app.engine.store.sweeps(5).await.expect("sweeps");
    let progress: tutela_runtime::retention::Progress =
        serde_json::from_str(&sweeps[0].progress).expect("progress");
    let usage = progress
        .tables
        .iter()
        .find(|t| t.table == "usage_records")
        .expect("usage");
    assert!(usage.cancelled >= 1, "{usage:?}");
    assert!(
        usage.longest_batch_ms < 250,
        "no batch held its locks until the row was released: {usage:?}"
    );
    assert_eq!(progress.deleted(), 44);
    app.finish().await;
    pg.drop_schema().await;
}

/// Issue 31: a `[[dataset]]` alone never deletes from the operator's database. Its sweeps are
/// off until its configuration turns them on; the plan still says what would be due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_is_never_swept_unless_its_sweeps_are_on() {
    // covers: N6, N7b
    use axum::http::StatusCode;
    let (c, dir) = operator_db().await;
    // The settings of a server whose [[dataset]] says nothing about sweeps.
    let app = TestApp::sqlite_with(
        Arc::new(tutela_runtime::requests::mailer::NoMailer),
        Fulfilment {
            connectors: vec![c.clone()],
            ..Fulfilment::default()
        },
    )
    .await;
    for t in [
        "2026-12-01T03:00:00Z",
        "2026-12-02T03:00:00Z",
        "2027-06-01T03:00:00Z",
    ] {
        let r = tutela_runtime::jobs::retention::step(&app.requests, at(t)).await;
        assert_eq!(r.deleted, 0, "{r:?}");
        assert!(r.error.is_none(), "{r:?}");
    }
    assert_eq!(usage_of(&c, "R-1").await, 30);
    assert_eq!(usage_of(&c, "R-2").await, 30);
    assert!(
        app.engine.store.sweeps(5).await.expect("sweeps").is_empty(),
        "no sweep was even opened"
    );
    let (s, _, plan) = app
        .call("GET", "/v1/retention/plan?at=2026-12-01T03:00:00Z", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    let usage = plan["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["table"] == "usage_records")
        .cloned()
        .expect("usage_records");
    assert_eq!(
        (usage["due"].clone(), usage["sweeps"].clone()),
        (serde_json::json!(40), serde_json::json!(false)),
        "{plan}"
    );
    let (s, _, body) = app.call("POST", "/v1/retention/sweeps", None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("retention_sweeps"), "{body}");
    assert_eq!(usage_of(&c, "R-1").await, 30);
    app.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 31: the server reported that a map did not match its database and swept it all the
/// same. A dataset whose check at start fails is marked broken: never swept, never written,
/// its requests' steps refused naming the column (not retried forever), and `/readyz` and the
/// console say which dataset and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_whose_map_fails_its_check_is_never_swept_or_written() {
    // covers: N6, N7b, N9e
    use axum::http::StatusCode;
    use serde_json::json;
    let (good, dir) = operator_db().await;
    // The same database under a map naming a column it does not have.
    let text = MAP
        .replace("connector = \"postgres\"", "connector = \"sqlite\"")
        .replace("name = \"birth_date\"", "name = \"date_of_birth\"");
    let map = tutela_core::datamap::load("demo.toml", &text, &policy().policy).expect("map");
    let c = Connector::open(
        map,
        Some(&format!("sqlite://{}", dir.join("operator.db").display())),
        b"k".to_vec(),
    )
    .await
    .expect("open");
    // What the server does at start.
    let e = c.check().await.expect_err("the map does not match");
    assert!(e.to_string().contains("`customers.date_of_birth`"), "{e}");
    let c = Arc::new(c);
    let app = TestApp::sqlite_adjusted(
        Arc::new(tutela_runtime::requests::mailer::NoMailer),
        Fulfilment {
            connectors: vec![c.clone()],
            ..Fulfilment::default()
        },
        // Sweeps are on: the broken map alone keeps them off.
        |s| s.retention.enabled = sweeping(),
    )
    .await;
    let worker = Worker {
        requests: app.requests.clone(),
    };
    for t in ["2026-12-01T03:00:00Z", "2026-12-02T03:00:00Z"] {
        let r = tutela_runtime::jobs::retention::step(&app.requests, at(t)).await;
        assert_eq!(r.deleted, 0, "{r:?}");
    }
    assert_eq!(usage_of(&good, "R-1").await, 30);
    assert!(app.engine.store.sweeps(5).await.expect("sweeps").is_empty());

    let (s, _, ready) = app.call("GET", "/readyz", None).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "a broken map does not stop decisions: {ready}"
    );
    assert_eq!(ready["datasets"][0]["id"], "operator", "{ready}");
    assert_eq!(ready["datasets"][0]["status"], "broken", "{ready}");
    assert!(
        ready["datasets"][0]["why"]
            .as_str()
            .is_some_and(|w| w.contains("`customers.date_of_birth` does not exist")),
        "{ready}"
    );

    // An erasure writes nothing there and ends; its step names the dataset and the column.
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/R-1",
            Some(json!({"relationship": "customer"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "erasure", "subject": "R-1"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let id = r["id"].as_str().expect("id").to_owned();
    let (s, _, v) = app
        .act(
            &id,
            "verify-by-agent",
            json!({"note": "identity card checked", "agent": "agent-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for _ in 0..2 {
        worker.tick(jiff::Timestamp::now()).await.expect("tick");
    }
    let v = app.call("GET", &format!("/v1/requests/{id}"), None).await.2;
    let step = v["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == "30-plan:operator")
        .cloned()
        .expect("plan step");
    // The dataset is never touched, not even planned: the request waits, visibly, with the
    // dataset and the column named, and is tried again once the map is fixed.
    assert_eq!(step["status"], "failed", "{v}");
    assert_eq!(step["attempts"], 1, "not retried before its backoff: {v}");
    assert!(step["next_attempt_at"].is_string(), "{v}");
    assert!(
        step["last_error"].as_str().is_some_and(
            |e| e.contains("dataset `operator`") && e.contains("`customers.date_of_birth`")
        ),
        "{v}"
    );
    assert_eq!(v["status"], "in_progress", "{v}");
    assert_eq!(usage_of(&good, "R-1").await, 30, "nothing erased");
    // No later step reports the person erased while the dataset still holds them.
    let (_, _, subject) = app.call("GET", "/v1/subjects/R-1", None).await;
    assert_ne!(subject["erased"], true, "{subject}");

    // The console's retention page says why.
    let secret = tutela_runtime::operators::create(
        &app.engine.store,
        "audrey",
        tutela_runtime::operators::Role::Auditor,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("auditor")
    .totp_secret;
    let mut audrey = crate::pages::Browser::new(&app);
    audrey
        .operator("audrey", "correct horse battery", &secret)
        .await;
    let page = audrey.get("/console/retention").await;
    assert!(
        page.body.contains("passt nicht zu ihrer Zuordnung")
            && page
                .body
                .contains("`customers.date_of_birth` does not exist"),
        "{}",
        page.body
    );
    app.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 31: the first sweep of each rule, and any sweep above `sweep_approval_rows`, waits
/// for a DPO's approval of its plan (tables, rule, cutoff, counted rows); nothing is deleted
/// without it; the approval is audited with the operator's name; a plan older than the data
/// (more rows due at run time than it counted) is planned anew and waits again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_runs_only_after_a_dpo_approved_its_plan() {
    // covers: N6, N7b
    use serde_json::json;
    let (c, dir) = operator_db().await;
    let app = app_with(&c).await;
    let store = &app.engine.store;
    let t0 = at("2026-12-01T03:00:00Z");
    for _ in 0..3 {
        let r = tutela_runtime::jobs::retention::step(&app.requests, t0).await;
        assert_eq!(r.deleted, 0, "no run without approval: {r:?}");
    }
    assert_eq!(usage_of(&c, "R-1").await + usage_of(&c, "R-2").await, 60);
    let (_, _, list) = app.call("GET", "/v1/retention/sweeps", None).await;
    let plan = list[0].clone();
    assert_eq!(plan["awaiting_approval"], json!(true), "{plan}");
    assert!(
        plan["approval_reasons"]
            .to_string()
            .contains("first sweep of rule `service_quality_data` on operator.usage_records"),
        "{plan}"
    );
    let usage = |v: &serde_json::Value| {
        v["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .find(|t| t["table"] == "usage_records")
            .cloned()
            .expect("usage")
    };
    assert_eq!(
        (
            usage(&plan)["planned"].clone(),
            usage(&plan)["delete_before"].clone()
        ),
        (json!(40), json!("2026-09-01")),
        "{plan}"
    );
    let id = plan["id"].as_str().expect("id").to_owned();
    let when = at("2026-12-01T04:00:00Z");
    assert!(
        tutela_runtime::retention::approve(store, &id, " ", when)
            .await
            .is_err(),
        "an approval names its operator"
    );
    assert!(
        tutela_runtime::retention::approve(store, "rs_unknown", "dpo-1", when)
            .await
            .is_err()
    );

    // Approved, but the data grew before the run: one more usage record is due. The plan is
    // older than the data: planned anew, waiting again, nothing deleted.
    c.run_statements(&["INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES (9001, 1, '2026-06-20T00:00:00Z', 1)".to_owned()])
        .await
        .expect("insert");
    tutela_runtime::retention::approve(store, &id, "dpo-1", when)
        .await
        .expect("approve");
    assert!(
        tutela_runtime::retention::approve(store, &id, "dpo-1", when)
            .await
            .is_err(),
        "approved once"
    );
    let r = tutela_runtime::jobs::retention::step(&app.requests, t0).await;
    assert_eq!(r.deleted, 0, "{r:?}");
    let (_, _, list) = app.call("GET", "/v1/retention/sweeps", None).await;
    let plan = list[0].clone();
    assert_eq!(plan["awaiting_approval"], json!(true), "{plan}");
    assert_eq!(usage(&plan)["planned"], json!(41), "{plan}");
    assert!(
        plan["approval_reasons"].to_string().contains(
            "the data changed since the plan (operator.usage_records: 40 planned, 41 due now)"
        ),
        "{plan}"
    );
    assert_eq!(usage_of(&c, "R-1").await, 31);

    // A DPO approves it in the console; the worker runs exactly it.
    let secret = tutela_runtime::operators::create(
        store,
        "dora",
        tutela_runtime::operators::Role::Dpo,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("dpo")
    .totp_secret;
    let mut dora = crate::pages::Browser::new(&app);
    dora.operator("dora", "correct horse battery", &secret)
        .await;
    let page = dora.get("/console/retention").await;
    assert!(
        page.body
            .contains(&format!("/console/retention/sweeps/{id}/approve")),
        "{}",
        page.body
    );
    let csrf = page.hidden("csrf");
    let done = dora
        .post(
            &format!("/console/retention/sweeps/{id}/approve"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/console/retention"),
        "{}",
        done.body
    );
    let r = tutela_runtime::jobs::retention::step(&app.requests, t0).await;
    assert!(r.finished, "{r:?}");
    assert_eq!(r.deleted, 45, "41 usage records, 2 payments, 2 invoices");
    let audit = store
        .log_contents(LogSource::Audit, 0, 1_000_000)
        .await
        .expect("audit");
    let approvals: Vec<String> = audit
        .iter()
        .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
        .filter(|c| c.contains("retention_sweep_approved"))
        .collect();
    assert_eq!(approvals.len(), 2, "{approvals:?}");
    assert!(
        approvals[0].contains("dpo-1") && approvals[1].contains("dora"),
        "{approvals:?}"
    );
    assert!(
        approvals[1].contains("\"operator.usage_records\":41"),
        "{approvals:?}"
    );

    // The rules ran before, and the next sweep is small: it runs without waiting.
    c.run_statements(&["INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES (9002, 2, '2026-06-20T00:00:00Z', 1)".to_owned()])
        .await
        .expect("insert");
    let next =
        tutela_runtime::jobs::retention::step(&app.requests, at("2026-12-02T03:00:00Z")).await;
    assert!(next.finished, "{next:?}");
    assert_eq!(next.deleted, 1);
    app.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 31: a sweep above `sweep_approval_rows` waits for approval even when its rules ran
/// before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_above_the_approval_size_waits_even_for_known_rules() {
    // covers: N7b
    let (c, dir) = operator_db().await;
    let app = app_with(&c).await;
    let compiled = policy();
    let settings = SweepSettings {
        enabled: sweeping(),
        approval_rows: 10,
        ..SweepSettings::default()
    };
    let connectors = vec![c.clone()];
    let sweeper = Sweeper {
        store: &app.engine.store,
        policy: &compiled.policy,
        connectors: &connectors,
        owner: "a",
        settings: &settings,
    };
    let run = |t: jiff::Timestamp| {
        let sweeper = &sweeper;
        async move {
            let mut deleted = 0;
            for _ in 0..100 {
                let r = sweeper
                    .step(t, std::time::Duration::from_secs(60), |_| {})
                    .await
                    .expect("step");
                deleted += r.deleted;
                if r.finished || r.awaiting_approval {
                    return (deleted, r.awaiting_approval);
                }
            }
            panic!("the sweep did not end");
        }
    };
    // The first sweep: approved, run.
    let t0 = at("2026-12-01T03:00:00Z");
    assert!(sweeper.open(t0, false).await.expect("open").is_some());
    assert_eq!(run(t0).await, (0, true));
    approve_open(&app).await;
    assert_eq!(run(t0).await, (44, false));
    // Eleven rows due the next day: more than 10, so it waits though every rule ran before.
    let rows: Vec<String> = (0..11)
        .map(|i| format!("INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES ({}, 1, '2026-06-20T00:00:{i:02}Z', 1)", 9100 + i))
        .collect();
    c.run_statements(&rows).await.expect("insert");
    let t1 = at("2026-12-02T03:00:00Z");
    assert!(sweeper.open(t1, false).await.expect("open").is_some());
    assert_eq!(run(t1).await, (0, true));
    let open = app.engine.store.sweeps(1).await.expect("sweeps");
    assert!(
        open[0]
            .progress
            .contains("11 rows due, more than sweep_approval_rows = 10"),
        "{}",
        open[0].progress
    );
    app.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 31: the plan counted only invoices without a payment left, and the run deleted the
/// invoices freed by deleting their payments first as well, more than the DPO approved. The
/// plan over the API and the plan approved now count those, leave out a held payment and the
/// invoice it references, and the run deletes exactly what they say, table by table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approved_plan_is_what_the_sweep_deletes_cascades_included() {
    // covers: N5a, N6, N7b
    use serde_json::json;
    let (c, dir) = operator_db().await;
    let app = app_with(&c).await;
    let per_table = |v: &serde_json::Value,
                     field: &str|
     -> std::collections::BTreeMap<String, serde_json::Value> {
        v["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .map(|t| {
                (
                    t["table"].as_str().unwrap_or_default().to_owned(),
                    t[field].clone(),
                )
            })
            .collect()
    };
    // Both invoices of 2016 go once their payments went first, in the same sweep.
    let (_, _, plan) = app
        .call("GET", "/v1/retention/plan?at=2026-12-01T03:00:00Z", None)
        .await;
    let due = per_table(&plan, "due");
    assert_eq!(
        (due["invoices"].clone(), due["payments"].clone()),
        (json!(2), json!(2)),
        "{plan}"
    );
    // Payment 2 is held: it stays, and so does invoice 2, which it references.
    let (s, _, hold) = app
        .call(
            "POST",
            "/v1/legal-holds",
            Some(json!({"dataset": "operator", "table": "payments", "record_key": "2", "reference": "audit 2027", "placed_by": "dpo-1"})),
        )
        .await;
    assert_eq!(s, axum::http::StatusCode::CREATED, "{hold}");
    let (_, _, plan) = app
        .call("GET", "/v1/retention/plan?at=2026-12-01T03:00:00Z", None)
        .await;
    let due = per_table(&plan, "due");
    assert_eq!(
        (
            due["usage_records"].clone(),
            due["invoices"].clone(),
            due["payments"].clone()
        ),
        (json!(40), json!(1), json!(1)),
        "{plan}"
    );

    let t0 = at("2026-12-01T03:00:00Z");
    let r = tutela_runtime::jobs::retention::step(&app.requests, t0).await;
    assert_eq!(r.deleted, 0, "waits for approval: {r:?}");
    let (_, _, list) = app.call("GET", "/v1/retention/sweeps", None).await;
    assert_eq!(
        per_table(&list[0], "planned"),
        due,
        "the plan shown for approval: {list}"
    );
    approve_open(&app).await;
    let r = tutela_runtime::jobs::retention::step(&app.requests, t0).await;
    assert!(r.finished, "runs what was approved, no new plan: {r:?}");
    assert_eq!(r.deleted, 42);
    let (_, _, list) = app.call("GET", "/v1/retention/sweeps", None).await;
    assert_eq!(
        per_table(&list[0], "deleted"),
        per_table(&list[0], "planned"),
        "the plan is what ran: {list}"
    );
    app.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}
