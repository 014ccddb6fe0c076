//! Issue 31, plans reviewed before anything is written: an erasure or rectification in the
//! operator's database (the demo schema on SQLite) is planned, shown with every row and field,
//! and runs only after a second agent approved it (four-eyes); a plan older than its data is
//! planned and approved again, never run stale; an active customer's running contract is kept
//! whole, the request partially refused with that ground; contact data the person may change
//! runs unreviewed, with its before and after recorded.

use std::sync::Arc;

use serde_json::{Value, json};
use tutela_connectors::Connector;
use tutela_connectors::demo::{MAP, SCHEMA};
use tutela_runtime::requests::Fulfilment;
use tutela_runtime::requests::notify::Notifier;
use tutela_store::testing::temp_dir;

use crate::support::{TestApp, policy, step};

/// P-1 with an ended (or, `running`, a running) contract, a SIM and its device, a ticket and a
/// 2025 invoice (kept 8 years); P-2 beside her.
async fn operator(running: bool) -> (Arc<Connector>, sqlx::SqlitePool) {
    let dir = temp_dir("plans-operator");
    let file = dir.join("operator.db");
    std::fs::File::create(&file).expect("file");
    let url = format!("sqlite://{}", file.display());
    let text = MAP.replace("connector = \"postgres\"", "connector = \"sqlite\"");
    let map = tutela_core::datamap::load("demo.toml", &text, &policy().policy).expect("map");
    let c = Connector::open(map, Some(&url), b"test-key-0123456789".to_vec())
        .await
        .expect("open");
    let ended = if running { "NULL" } else { "'2025-06-30'" };
    let mut seed: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    seed.extend([
        "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (1, 'P-1', 'Paula Plan', 'paula@example.org', '1970-01-02', 'Am Markt 3', 'Bonn', '2015-01-01')".to_owned(),
        "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (2, 'P-2', 'Peter Plan', 'peter@example.org', '1971-01-02', 'Am Markt 4', 'Bonn', '2015-01-01')".to_owned(),
        format!("INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (20, 1, 'IoT M2M 1GB', '2015-01-01', {ended})"),
        "INSERT INTO sims (id, contract_id, iccid, imsi, msisdn) VALUES (30, 20, '8949010000000000011', '262011234567890', '4915112345678')".to_owned(),
        "INSERT INTO devices (id, sim_id, imei, model) VALUES (40, 30, '356938035643809', 'Tracker T1')".to_owned(),
        "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (60, 1, '2025-03-01', 1999, 'DE89370400440532013000')".to_owned(),
        "INSERT INTO tickets (id, customer_id, opened_at, topic, summary) VALUES (80, 1, '2026-04-01', 'sim', 'SIM not active')".to_owned(),
    ]);
    c.run_statements(&seed).await.expect("seed");
    let raw = sqlx::SqlitePool::connect(&url).await.expect("raw");
    (Arc::new(c), raw)
}

async fn app(c: &Arc<Connector>) -> TestApp {
    app_with(c, Arc::new(tutela_runtime::requests::mailer::NoMailer)).await
}

async fn app_with(
    c: &Arc<Connector>,
    mailer: Arc<dyn tutela_runtime::requests::mailer::Mailer>,
) -> TestApp {
    let app = TestApp::sqlite_adjusted(
        mailer,
        Fulfilment {
            connectors: vec![c.clone()],
            notifier: Notifier::new(Vec::new(), None),
        },
        |s| s.four_eyes = true,
    )
    .await;
    let (s, _, v) = app
        .call(
            "PUT",
            "/v1/subjects/P-1",
            Some(json!({"relationship": "customer", "email": "paula@example.org"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // With four-eyes on, the agents who verify and approve are operators tutela knows.
    for name in ["agent-1", "agent-2"] {
        tutela_runtime::operators::create(
            &app.engine.store,
            name,
            tutela_runtime::operators::Role::Agent,
            "correct horse battery",
            jiff::Timestamp::now(),
        )
        .await
        .expect("operator");
    }
    app
}

async fn count(raw: &sqlx::SqlitePool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(raw).await.expect(sql)
}

async fn email_of_p1(raw: &sqlx::SqlitePool) -> Option<String> {
    sqlx::query_scalar("SELECT email FROM customers WHERE id = 1")
        .fetch_one(raw)
        .await
        .expect("customer")
}

fn table<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["plans"][0]["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["table"] == name))
        .unwrap_or_else(|| panic!("no table {name} in {plan}"))
}

fn effect(t: &Value, field: &str) -> String {
    t["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == field))
        .map(|f| f["effect"].as_str().unwrap_or("").to_owned())
        .unwrap_or_else(|| panic!("no field {field} in {t}"))
}

// covers: N9e, N6
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_waits_for_a_second_agent_and_runs_exactly_its_plan() {
    let (c, raw) = operator(false).await;
    let app = app(&c).await;
    let now = jiff::Timestamp::now();
    let id = app
        .file_verified(json!({"type": "erasure", "subject": "P-1"}))
        .await;
    app.tick_at(now).await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "awaiting_approval", "{v}");
    assert_eq!(step(&v, "40-erase:operator")["status"], "pending");
    // Nothing written while the plan waits.
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM tickets").await, 1);
    assert_eq!(
        email_of_p1(&raw).await.as_deref(),
        Some("paula@example.org")
    );
    assert_eq!(
        app.tick_at(now).await.steps_done,
        0,
        "a waiting plan never runs"
    );

    // The plan names every row and field, with the ground and the date of what is kept.
    let (s, _, plan) = app
        .call("GET", &format!("/v1/requests/{id}/plan"), None)
        .await;
    assert_eq!(s, 200, "{plan}");
    assert_eq!(plan["review_needed"], true, "{plan}");
    assert!(
        plan["reason"]
            .as_str()
            .is_some_and(|r| r.contains("identity")),
        "{plan}"
    );
    let tickets = table(&plan, "tickets");
    assert_eq!(tickets["action"], "delete");
    assert_eq!(tickets["keys"], json!(["80"]));
    let invoices = table(&plan, "invoices");
    assert_eq!(invoices["action"], "restrict");
    assert_eq!(invoices["until"], "2033-12-31", "{invoices}");
    assert_eq!(effect(invoices, "iban"), "fixed");
    assert_eq!(effect(invoices, "amount_cents"), "kept");
    let customers = table(&plan, "customers");
    assert_eq!(customers["why"], "referenced_by_retained_record");
    assert_eq!(effect(customers, "email"), "nulled");
    assert_eq!(effect(customers, "name"), "kept");
    assert_eq!(table(&plan, "devices")["action"], "delete");
    let digest = plan["plans"][0]["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    assert_eq!(digest.len(), 64);

    // Four-eyes: the agent who verified cannot approve, however they are named (another
    // case, their operator id, their console actor); an unknown name or one of tutela's own
    // is refused; an unseen plan is not approved.
    let verifier = tutela_store::WebStore::operator_by_name(&app.engine.store, "agent-1")
        .await
        .expect("store")
        .expect("agent-1")
        .id;
    for me in [
        "agent-1".to_owned(),
        "AGENT-1".to_owned(),
        verifier.clone(),
        format!("operator:{verifier}"),
    ] {
        let (s, _, p) = app.act(&id, "approve", json!({"agent": me})).await;
        assert_eq!(
            (s.as_u16(), p["code"].as_str()),
            (409, Some("four_eyes")),
            "{me}: {p}"
        );
    }
    for nobody in ["bob", "policy", "Worker"] {
        let (s, _, p) = app.act(&id, "approve", json!({"agent": nobody})).await;
        assert_eq!(
            (s.as_u16(), p["field"].as_str()),
            (422, Some("agent")),
            "{nobody}: {p}"
        );
    }
    let (s, _, p) = app
        .act(
            &id,
            "approve",
            json!({"agent": "agent-2", "plans": {"operator": "0".repeat(64)}}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), p["code"].as_str()),
        (409, Some("plan_changed")),
        "{p}"
    );
    let (s, _, p) = app.act(&id, "approve", json!({"note": "ok"})).await;
    assert_eq!(
        (s.as_u16(), p["field"].as_str()),
        (422, Some("agent")),
        "{p}"
    );
    let (s, _, v) = app
        .act(
            &id,
            "approve",
            json!({"agent": "agent-2", "note": "checked", "plans": {"operator": digest}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "in_progress");
    // Approving twice is refused.
    let (s, _, _) = app.act(&id, "approve", json!({"agent": "agent-3"})).await;
    assert_eq!(s, 409);

    app.tick_at(now).await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "partially_refused", "{v}");
    // Exactly the plan: the ticket and device gone, the invoice and customer kept restricted
    // with only what the duty needs, Peter untouched.
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM tickets").await, 0);
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM devices").await, 0);
    assert_eq!(
        count(
            &raw,
            "SELECT COUNT(*) FROM invoices WHERE restricted = 1 AND iban = 'erased'"
        )
        .await,
        1
    );
    assert_eq!(email_of_p1(&raw).await, None);
    assert_eq!(
        count(
            &raw,
            "SELECT COUNT(*) FROM customers WHERE id = 2 AND email = 'peter@example.org'"
        )
        .await,
        1
    );
    let approved = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["event"] == "approved")
        .cloned()
        .expect("approved event");
    // Recorded as the operator it is, by id.
    let approver = tutela_store::WebStore::operator_by_name(&app.engine.store, "agent-2")
        .await
        .expect("store")
        .expect("agent-2")
        .id;
    assert_eq!(approved["actor"], format!("operator:{approver}"));
}

// covers: N9e
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_older_than_its_data_is_planned_and_approved_again() {
    let (c, raw) = operator(false).await;
    let app = app(&c).await;
    let now = jiff::Timestamp::now();
    let id = app
        .file_verified(json!({"type": "erasure", "subject": "P-1"}))
        .await;
    app.tick_at(now).await;
    app.approve(&id).await;
    // The operator's data changes after the approval: a new ticket for her.
    sqlx::query("INSERT INTO tickets (id, customer_id, opened_at, topic, summary) VALUES (81, 1, '2026-05-01', 'bill', 'Invoice unclear')")
        .execute(&raw)
        .await
        .expect("insert");
    app.tick_at(now).await;
    app.tick_at(now).await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "awaiting_approval", "planned again: {v}");
    assert_eq!(
        count(&raw, "SELECT COUNT(*) FROM tickets").await,
        2,
        "nothing run stale"
    );
    let erase = step(&v, "40-erase:operator");
    assert!(
        erase["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("changed since the plan was approved")),
        "{erase}"
    );
    let waits = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"] == "awaiting_approval")
        .count();
    assert_eq!(waits, 2, "{v}");
    let (_, _, plan) = app
        .call("GET", &format!("/v1/requests/{id}/plan"), None)
        .await;
    assert_eq!(
        table(&plan, "tickets")["keys"],
        json!(["80", "81"]),
        "{plan}"
    );
    app.approve(&id).await;
    app.tick_at(now).await;
    assert_eq!(app.request(&id).await["status"], "partially_refused");
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM tickets").await, 0);
}

// covers: N9e, N4
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_customers_erasure_keeps_the_running_contract_and_says_so() {
    let (c, raw) = operator(true).await;
    let sink = crate::smtp_sink::SmtpSink::start().await;
    let app = app_with(&c, sink.mailer()).await;
    let (s, _, v) = app
        .call(
            "POST",
            "/v1/subjects/P-1/consents",
            Some(json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "shop", "notice_version": "2026-01", "evidence": "form 12 ticked"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let now = jiff::Timestamp::now();
    let id = app
        .file_verified(json!({"type": "erasure", "subject": "P-1"}))
        .await;
    app.tick_approved(&id, now).await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "partially_refused", "{v}");
    // The contract, its SIM and device, and the customer row stay whole.
    assert_eq!(
        count(&raw, "SELECT COUNT(*) FROM contracts WHERE restricted = 0").await,
        1
    );
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM sims").await, 1);
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM devices").await, 1);
    assert_eq!(
        email_of_p1(&raw).await.as_deref(),
        Some("paula@example.org")
    );
    // The ticket was not needed for the contract: gone.
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM tickets").await, 0);
    // The person stays a customer in tutela, her consents end, and she is told why.
    let (_, _, subject) = app.call("GET", "/v1/subjects/P-1", None).await;
    assert_eq!(subject["erased"], false, "{subject}");
    let (_, _, d) = app
        .call(
            "POST",
            "/v1/decisions",
            Some(json!({"subject": "P-1", "purpose": "email_marketing", "channel": "email", "categories": ["contact"]})),
        )
        .await;
    assert_eq!(d["allowed"], false, "consent withdrawn: {d}");
    // She is told which data stays, on which ground, until when.
    let note = tutela_store::RequestStore::request_events(&app.engine.store, &id)
        .await
        .expect("events")
        .into_iter()
        .find(|e| e.kind == "partially_refused")
        .and_then(|e| e.note)
        .unwrap_or_default();
    assert!(
        note.contains("operator.contracts kept for the running contract (Art. 6(1)(b) GDPR) until the contract ends"),
        "{note}"
    );
    let (_, _, summary) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    let kept = &summary["datasets"][0]["result"]["kept_for_contract"];
    assert!(
        kept.as_array()
            .is_some_and(|k| k.iter().any(|t| t["table"] == "contracts")),
        "{summary}"
    );
    // The privacy center tells her, in her words, what stays, on which ground, until when;
    // no table name, and nothing "still being processed".
    let mut paula = crate::pages::Browser::new(&app);
    paula.sign_in(&sink, "paula@example.org").await;
    let page = paula.get(&format!("/requests/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("solange Ihr Vertrag läuft")
            && page.body.contains("Art. 6 Abs. 1 lit. b DSGVO")
            && page.body.contains("bis zum 31.12.2033")
            && page
                .body
                .contains("Buchungsbelege und Rechnungen werden 8 Jahre")
            && page.body.contains("Sie enthalten: ")
            && page.body.contains("Identitätsdaten (Name, Geburtsdatum)"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("contracts") && !page.body.contains("Noch in Bearbeitung"));
}

// covers: N9b
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_data_runs_unreviewed_and_an_agents_field_waits_with_before_and_after() {
    let (c, raw) = operator(false).await;
    let app = app(&c).await;
    let now = jiff::Timestamp::now();
    // The e-mail address: the person may change it, no review.
    let id = app
        .file_verified(json!({"type": "rectification", "subject": "P-1", "details": {"changes": {"email": "paula.plan@example.org"}}}))
        .await;
    app.tick_at(now).await;
    assert_eq!(app.request(&id).await["status"], "completed");
    assert_eq!(
        email_of_p1(&raw).await.as_deref(),
        Some("paula.plan@example.org")
    );
    let (_, _, plan) = app
        .call("GET", &format!("/v1/requests/{id}/plan"), None)
        .await;
    assert_eq!(plan["approval"]["by"], "policy", "{plan}");
    let change = &table(&plan, "customers")["fields"][0]["changes"][0];
    assert_eq!(
        (change["before"].as_str(), change["after"].as_str()),
        (Some("paula@example.org"), Some("paula.plan@example.org")),
        "{plan}"
    );

    // The name: an agent reviews it first.
    let id = app
        .file_verified(json!({"type": "rectification", "subject": "P-1", "details": {"changes": {"name": "Paula Plan-Berg"}}}))
        .await;
    app.tick_at(now).await;
    assert_eq!(app.request(&id).await["status"], "awaiting_approval");
    assert_eq!(
        count(
            &raw,
            "SELECT COUNT(*) FROM customers WHERE name = 'Paula Plan'"
        )
        .await,
        1
    );
    app.approve(&id).await;
    app.tick_at(now).await;
    assert_eq!(app.request(&id).await["status"], "completed");
    assert_eq!(
        count(
            &raw,
            "SELECT COUNT(*) FROM customers WHERE name = 'Paula Plan-Berg'"
        )
        .await,
        1
    );
}

// covers: N9e
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_the_approved_plan_runs_and_only_it() {
    let (c, raw) = operator(false).await;
    let dir = temp_dir("plans-restart");
    let start = || {
        TestApp::sqlite_at(
            dir.clone(),
            Arc::new(tutela_runtime::requests::mailer::NoMailer),
            Fulfilment {
                connectors: vec![c.clone()],
                notifier: Notifier::new(Vec::new(), None),
            },
        )
    };
    let now = jiff::Timestamp::now();
    let id = {
        let app = start().await;
        let (s, _, v) = app
            .call(
                "PUT",
                "/v1/subjects/P-1",
                Some(json!({"relationship": "customer", "email": "paula@example.org"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let id = app
            .file_verified(json!({"type": "erasure", "subject": "P-1"}))
            .await;
        app.tick_at(now).await;
        app.approve(&id).await;
        id
        // The server stops between the approval and the run.
    };
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM tickets").await, 1);
    let app = start().await;
    app.tick_at(now).await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "partially_refused", "{v}");
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM tickets").await, 0);
    let approvals = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"] == "approved")
        .count();
    assert_eq!(
        approvals, 1,
        "run on the approval given before the restart: {v}"
    );
    app.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}
