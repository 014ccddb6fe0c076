//! Issue 31, rectification by rule and erasure that keeps only what a duty needs, through the
//! API, the privacy center and the worker, against the demo database on PostgreSQL: a request
//! naming an identifier is refused at intake, naming the field; the privacy center offers only
//! fields the person or an agent may change, by their labels; the person's city change reaches
//! the database; an erasure with invoices inside their 8 years leaves the customer row with
//! only what the duty needs, flagged restricted, and tells which fields stay.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tutela_connectors::Connector;
use tutela_connectors::demo::{MAP, SCHEMA};
use tutela_runtime::requests::Fulfilment;
use tutela_runtime::requests::notify::Notifier;
use tutela_runtime::requests::worker::Worker;
use tutela_store::testing::PgSchema;

use crate::pages::Browser;
use crate::smtp_sink::SmtpSink;
use crate::support::{TestApp, policy};

const EMAIL: &str = "rosa@example.org";

async fn tick(app: &TestApp) {
    Worker {
        requests: app.requests.clone(),
    }
    .tick(jiff::Timestamp::now())
    .await
    .expect("tick");
}

async fn customer(pool: &sqlx::PgPool) -> Vec<Option<String>> {
    use sqlx::Row;
    let r = sqlx::query(
        "SELECT customer_no, name, email, birth_date::text, street, city, restricted::text \
         FROM customers WHERE id = 1",
    )
    .fetch_one(pool)
    .await
    .expect("customer row");
    (0..r.len())
        .map(|i| r.try_get::<Option<String>, _>(i).expect("text"))
        .collect()
}

// covers: N6, N9b
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifiers_never_change_and_erasure_keeps_only_what_the_duty_needs() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let map = tutela_core::datamap::load("demo.toml", MAP, &policy().policy).expect("map");
    let c = Connector::open(map, Some(&pg.store_url()), b"test-key-0123456789".to_vec())
        .await
        .expect("open");
    let mut seed: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    seed.extend([
        format!("INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (1, 'R-1', 'Rosa Rot', '{EMAIL}', '1970-01-02', 'Am Markt 3', 'Bonn', '2015-01-01')"),
        "INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (20, 1, 'IoT M2M 1GB', '2015-01-01', '2025-06-30')".to_owned(),
        "INSERT INTO sims (id, contract_id, iccid, imsi, msisdn) VALUES (30, 20, '8949010000000000011', '262011234567890', '4915112345678')".to_owned(),
        "INSERT INTO sims (id, contract_id, iccid, imsi, msisdn) VALUES (31, 20, '8949010000000000029', '262011234567891', '4915112345679')".to_owned(),
        "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (60, 1, '2025-03-01', 1999, 'DE89370400440532013000')".to_owned(),
    ]);
    c.run_statements(&seed).await.expect("seed");
    let raw = sqlx::PgPool::connect(&pg.store_url()).await.expect("pg");
    let sink = SmtpSink::start().await;
    let app = TestApp::sqlite_with(
        sink.mailer(),
        Fulfilment {
            connectors: vec![Arc::new(c)],
            notifier: Notifier::new(Vec::new(), None),
        },
    )
    .await;
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/R-1",
            Some(json!({"relationship": "customer", "contract_kind": "telecommunications", "email": EMAIL})),
        )
        .await;
    assert_eq!(s, 201);

    // Intake refuses identifiers, naming the field; nothing reaches the database.
    for (name, value) in [("customer_number", "X-EVIL-1"), ("imsi", "262019999999999")] {
        let (s, _, p) = app
            .call(
                "POST",
                "/v1/requests",
                Some(json!({"type": "rectification", "subject": "R-1", "details": {"changes": {name: value, "city": "Köln"}}})),
            )
            .await;
        assert_eq!(s, 422, "{p}");
        assert_eq!(
            p["field"].as_str(),
            Some(format!("details.changes.{name}").as_str()),
            "{p}"
        );
        assert!(
            p["detail"].as_str().is_some_and(|d| !d.contains(value)),
            "{p}"
        );
    }

    // The privacy center offers the fields by their labels, and no identifier.
    let mut rosa = Browser::new(&app);
    rosa.sign_in(&sink, EMAIL).await;
    let home = rosa.get("/?lang=en").await;
    let select = home
        .body
        .split("id=\"rect-field\"")
        .nth(1)
        .and_then(|s| s.split("</select>").next())
        .expect("the rectification list")
        .to_owned();
    for offered in [
        "<option value=\"city\">City</option>",
        "<option value=\"email\">E-mail address</option>",
        "<option value=\"date_of_birth\">Date of birth</option>",
    ] {
        assert!(select.contains(offered), "{select}");
    }
    for never in [
        "customer_number",
        "customer_no",
        "imsi",
        "iccid",
        "msisdn",
        "imei",
    ] {
        assert!(
            !select.contains(&format!("\"{never}\"")),
            "{never}: {select}"
        );
    }
    // Filed from the page anyway, an identifier is refused there too.
    let csrf = rosa.get("/").await.hidden("csrf");
    let p = rosa
        .post(
            "/requests",
            &[
                ("csrf", &csrf),
                ("type", "rectification"),
                ("field", "imsi"),
                ("value", "262019999999999"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);

    // The person's city change reaches the database once an agent approved it (the map says
    // `rectify = "agent"` for the address); the SIMs are untouched.
    let csrf = rosa.get("/").await.hidden("csrf");
    let p = rosa
        .post(
            "/requests",
            &[
                ("csrf", &csrf),
                ("type", "rectification"),
                ("field", "city"),
                ("value", "Köln"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    tick(&app).await;
    assert_eq!(
        customer(&raw).await[5].as_deref(),
        Some("Bonn"),
        "not before review"
    );
    let (_, _, waiting) = app
        .call("GET", "/v1/requests?status=awaiting_approval", None)
        .await;
    let city = waiting["requests"][0]["id"]
        .as_str()
        .expect("a request awaiting approval")
        .to_owned();
    app.approve(&city).await;
    tick(&app).await;
    assert_eq!(customer(&raw).await[5].as_deref(), Some("Köln"));
    let imsis: Vec<String> = sqlx::query_scalar("SELECT imsi FROM sims ORDER BY id")
        .fetch_all(&raw)
        .await
        .expect("sims");
    assert_eq!(imsis, ["262011234567890", "262011234567891"]);

    // Erasure: the 2025 invoice must be kept 8 years, so it and the customer row it names
    // stay with only what the duty needs, flagged restricted; the person is told which.
    let id = app
        .file_verified(json!({"type": "erasure", "subject": "R-1"}))
        .await;
    app.tick_approved(&id, jiff::Timestamp::now()).await;
    for _ in 0..2 {
        tick(&app).await;
    }
    assert_eq!(
        customer(&raw).await,
        vec![
            Some("R-1".to_owned()),
            Some("Rosa Rot".to_owned()),
            None,
            None,
            Some("Am Markt 3".to_owned()),
            Some("Köln".to_owned()),
            Some("1".to_owned()),
        ]
    );
    let iban: Option<String> = sqlx::query_scalar("SELECT iban FROM invoices WHERE id = 60")
        .fetch_one(&raw)
        .await
        .expect("invoice");
    assert_eq!(iban.as_deref(), Some("erased"));
    let v: Value = app.call("GET", &format!("/v1/requests/{id}"), None).await.2;
    assert_eq!(v["status"], "partially_refused", "{v}");
    let refusal = {
        use tutela_store::RequestStore;
        app.engine
            .store
            .request_events(&id)
            .await
            .expect("events")
            .into_iter()
            .find(|e| e.kind == "partially_refused")
            .and_then(|e| e.note)
            .unwrap_or_default()
    };
    assert!(
        refusal.contains(
            "1 rows of operator.customers kept until 2033-12-31 (referenced_by_retained_record: booking_vouchers), fields kept: customer_no, name, street, city"
        ),
        "the person is told which data stays: {refusal}"
    );
    let (_, _, summary) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    let out = summary["datasets"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["result"]["dataset"] == "operator"))
        .map(|d| d["result"].clone())
        .unwrap_or_else(|| panic!("no result of the operator dataset: {summary}"));
    let kept = out["restricted"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["table"] == "customers"))
        .cloned()
        .unwrap_or_else(|| panic!("the customer row is reported kept: {out}"));
    assert_eq!(
        kept["kept"],
        json!(["customer_no", "name", "street", "city"])
    );
    assert_eq!(kept["erased"], json!(["email", "birth_date"]));
    // tutela's ledger marks the kept records restricted, naming ground, date and fields.
    let history = {
        use tutela_store::Store;
        app.engine.store.history("R-1").await.expect("history")
    };
    let restriction = history
        .iter()
        .filter(|e| {
            matches!(
                e.event.kind,
                tutela_core::ledger::EventKind::Restriction { active: true }
            )
        })
        .find_map(|e| e.reason.clone())
        .unwrap_or_else(|| panic!("no restriction in the ledger: {history:?}"));
    assert!(
        restriction.contains(
            "operator.customers: 1 rows kept until 2033-12-31 (booking_vouchers: referenced_by_retained_record), fields kept: customer_no, name, street, city"
        ),
        "{restriction}"
    );
    assert!(!restriction.contains("Rosa"), "{restriction}");
    raw.close().await;
    app.finish().await;
    pg.drop_schema().await;
}
