//! The console shows an erasure's plan for the operator's database (the demo schema on SQLite)
//! and an agent approves it there: with the digests of the plan shown, so that a plan changed
//! meanwhile is refused, and not by the agent who verified the identity when four-eyes is on.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;
use tutela_connectors::Connector;
use tutela_connectors::demo::{MAP, SCHEMA};
use tutela_core::request::Status;
use tutela_runtime::operators::{self, Role};
use tutela_runtime::requests::Fulfilment;
use tutela_runtime::requests::notify::Notifier;
use tutela_store::RequestStore;
use tutela_store::testing::temp_dir;

use crate::pages::{Browser, Page};
use crate::support::{TestApp, policy};

const PERSON: &[&str] = &[
    "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (1, 'P-1', 'Paula Plan', 'paula@example.org', '1970-01-02', 'Am Markt 1', 'Bonn', '2015-01-01')",
    "INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (20, 1, 'IoT M2M 1GB', '2015-01-01', '2020-01-01')",
    "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (60, 1, '2025-03-01', 1999, 'DE89370400440532013000')",
    "INSERT INTO tickets (id, customer_id, opened_at, topic, summary) VALUES (80, 1, '2026-04-01', 'sim', 'SIM not active')",
];

/// The demo operator database on SQLite with one former customer.
async fn operator_db() -> Arc<Connector> {
    demo_db("console-plans", PERSON).await
}

/// The demo operator database on SQLite (in a directory named after `name`) with `rows`.
pub async fn demo_db(name: &str, rows: &[&str]) -> Arc<Connector> {
    let text = MAP.replace("connector = \"postgres\"", "connector = \"sqlite\"");
    let map = tutela_core::datamap::load("demo.toml", &text, &policy().policy).expect("map");
    let file = temp_dir(name).join("operator.db");
    std::fs::File::create(&file).expect("file");
    let c = Connector::open(
        map,
        Some(&file.to_string_lossy()),
        b"test-key-0123456789".to_vec(),
    )
    .await
    .expect("open");
    let mut all: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    all.extend(rows.iter().map(|s| (*s).to_owned()));
    c.run_statements(&all).await.expect("seed");
    Arc::new(c)
}

async fn signed_in<'a>(app: &'a TestApp, name: &str) -> Browser<'a> {
    let secret = operators::create(
        &app.engine.store,
        name,
        Role::Agent,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("operator")
    .totp_secret;
    let mut b = Browser::new(app);
    let p = b.operator(name, "correct horse battery", &secret).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    b
}

async fn status(app: &TestApp, id: &str) -> Status {
    app.engine
        .store
        .request(id)
        .await
        .expect("read")
        .expect("request")
        .status
}

/// The hidden digest fields of the approval form, as (name, value).
fn digests(body: &str) -> Vec<(String, String)> {
    body.match_indices("name=\"digest:")
        .map(|(i, _)| {
            let name_start = i + "name=\"".len();
            let name_end = body[name_start..].find('"').expect("quote") + name_start;
            let v = body[name_end..].find("value=\"").expect("value") + name_end + 7;
            let v_end = body[v..].find('"').expect("quote") + v;
            (
                body[name_start..name_end].to_owned(),
                body[v..v_end].to_owned(),
            )
        })
        .collect()
}

async fn approve(b: &mut Browser<'_>, id: &str, csrf: &str, field: &str, digest: &str) -> Page {
    b.post(
        &format!("/console/requests/{id}/approve"),
        &[("csrf", csrf), ("note", "rows checked"), (field, digest)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reviews_and_approves_an_erasure_plan_in_the_console() {
    let c = operator_db().await;
    let app = TestApp::sqlite_adjusted(
        Arc::new(tutela_runtime::requests::mailer::NoMailer),
        Fulfilment {
            connectors: vec![c.clone()],
            notifier: Notifier::new(Vec::new(), None),
        },
        |s| s.four_eyes = true,
    )
    .await;
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/P-1",
            Some(json!({"relationship": "customer", "email": "paula@example.org"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "erasure", "subject": "P-1"})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().expect("id").to_owned();

    // Erika verifies the identity in the console; the worker plans and waits for approval.
    let mut erika = signed_in(&app, "erika").await;
    let page = erika.get(&format!("/console/requests/{id}")).await;
    let csrf = page.hidden("csrf");
    let p = erika
        .post(
            &format!("/console/requests/{id}/verify"),
            &[("csrf", &csrf), ("note", "identity card checked")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    app.tick_at(jiff::Timestamp::now()).await;
    assert_eq!(status(&app, &id).await, Status::AwaitingApproval);

    // The queue lists it as waiting for approval.
    let queue = erika.get("/console").await;
    assert!(queue.body.contains(&id), "{}", queue.body);
    assert!(
        queue.body.contains("Plan wartet auf Freigabe"),
        "{}",
        queue.body
    );

    // The page shows the plan in words: per table what happens, rows and keys, per field
    // its label and effect; whether it needs approval and why; and the approval form.
    let page = erika.get(&format!("/console/requests/{id}")).await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains("<h2 id=\"plan-heading\">Plan</h2>"), "{body}");
    assert!(body.contains("<code>operator</code>"), "{body}");
    assert!(body.contains("Plan wartet auf Freigabe"), "{body}");
    // The channel in words, not `api`.
    assert!(body.contains("<dd>Schnittstelle (API)</dd>"), "{body}");
    assert!(body.contains("<code>tickets</code>: löschen"), "{body}");
    assert!(
        body.contains("aufbewahren und sperren bis "),
        "the invoice is kept for its retention period: {body}"
    );
    assert!(body.contains("Zeilen: 1"), "{body}");
    assert!(body.contains("Geburtsdatum"), "labels from the map: {body}");
    assert!(body.contains("gelöscht"), "{body}");
    assert!(
        body.contains("Der Plan muss von einer Sachbearbeiterin"),
        "{body}"
    );
    // Why, in German with the policy's words, and the agent's actions under their own heading.
    assert!(
        body.contains("Grund: Der Plan löscht Kontaktdaten (Postanschrift"),
        "{body}"
    );
    assert!(
        body.contains("Anfrage bearbeiten") && !body.contains("Ihre Rechte"),
        "{body}"
    );
    assert!(
        body.contains(&format!("action=\"/console/requests/{id}/approve\"")),
        "{body}"
    );
    let seen = digests(body);
    assert_eq!(seen.len(), 1, "one dataset, one digest: {seen:?}");
    assert_eq!(seen[0].0, "digest:operator");
    let english = erika.get(&format!("/console/requests/{id}?lang=en")).await;
    assert!(
        english.body.contains("Plan awaiting approval"),
        "{}",
        english.body
    );
    assert!(
        english.body.contains("<code>tickets</code>: delete"),
        "{}",
        english.body
    );
    assert!(
        english.body.contains("keep restricted until "),
        "{}",
        english.body
    );
    assert!(english.body.contains("Date of birth"), "{}", english.body);
    let _ = erika.get(&format!("/console/requests/{id}?lang=de")).await;

    // Four-eyes: the agent who verified cannot approve; nothing changes.
    let (field, digest) = &seen[0];
    let csrf = page.hidden("csrf");
    let p = approve(&mut erika, &id, &csrf, field, digest).await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(p.body.contains("Vier-Augen-Prinzip"), "{}", p.body);
    assert_eq!(status(&app, &id).await, Status::AwaitingApproval);

    // Otto was shown another plan (a stale digest): refused, the page shows the plan again.
    let mut otto = signed_in(&app, "otto").await;
    let page = otto.get(&format!("/console/requests/{id}")).await;
    let csrf = page.hidden("csrf");
    let p = approve(&mut otto, &id, &csrf, field, "0000").await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(p.body.contains("Der Plan hat sich geändert"), "{}", p.body);
    assert!(p.body.contains("plan-heading"), "{}", p.body);
    assert_eq!(status(&app, &id).await, Status::AwaitingApproval);

    // With the digests he was shown, Otto approves: the request moves on.
    let p = approve(&mut otto, &id, &csrf, field, digest).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some(format!("/console/requests/{id}?done=saved").as_str())
    );
    assert_ne!(status(&app, &id).await, Status::AwaitingApproval);
    let page = otto.get(&format!("/console/requests/{id}")).await;
    assert!(page.body.contains("Freigegeben von otto"), "{}", page.body);
    assert!(
        !page.body.contains("/approve\""),
        "no approval form once approved: {}",
        page.body
    );

    // Approving again is refused in words: it no longer waits.
    let csrf = page.hidden("csrf");
    let p = approve(&mut otto, &id, &csrf, field, digest).await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(
        p.body.contains("wartet nicht (mehr) auf Freigabe"),
        "{}",
        p.body
    );

    // The worker runs the approved plan.
    app.tick_at(jiff::Timestamp::now()).await;
    let v = app.request(&id).await;
    assert_ne!(v["status"], "awaiting_approval", "{v}");
    app.finish().await;
}
