//! Issue 31, "a request finds its person or says so": a request is resolved to a person through
//! every identifier the datasets and the ledger know before it is verified; an agent verifies
//! only by naming the person found; a request about nobody ends "no data about you is held",
//! never as a completed access or erasure; no step reports work it did not do. The operator's
//! database is real PostgreSQL (the demo schema), tutela's store SQLite, as in fulfilment.rs.

use std::sync::Arc;

use serde_json::{Value, json};
use tutela_connectors::Connector;
use tutela_connectors::demo::{MAP, SCHEMA};
use tutela_runtime::requests::Fulfilment;
use tutela_runtime::requests::notify::Notifier;
use tutela_runtime::requests::worker::Worker;
use tutela_store::testing::PgSchema;

use crate::support::{TestApp, policy, step};

/// Frieda is in the operator's database only (tutela's ledger has never heard of her): a
/// contract with a SIM, a service ticket and an invoice kept 8 years. Gustav is there too.
const ROWS: &[&str] = &[
    "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (1, 'F-1', 'Frieda Fuchs', 'frieda@example.org', '1970-01-02', 'Am Markt 3', 'Bonn', '2015-01-01')",
    "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (2, 'G-2', 'Gustav Gans', 'gustav@example.org', '1971-01-02', 'Am Markt 4', 'Bonn', '2015-01-01')",
    "INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (20, 1, 'IoT M2M 1GB', '2015-01-01', '2025-06-30')",
    "INSERT INTO sims (id, contract_id, iccid, imsi, msisdn) VALUES (30, 20, '8949010000000000011', '262011234567890', '4915112345678')",
    "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (60, 1, '2025-03-01', 1999, 'DE89370400440532013000')",
    "INSERT INTO tickets (id, customer_id, opened_at, topic, summary) VALUES (80, 1, '2026-04-01', 'sim', 'SIM not active')",
    "INSERT INTO tickets (id, customer_id, opened_at, topic, summary) VALUES (81, 2, '2026-04-01', 'bill', 'Invoice unclear')",
];

async fn operator(pg: &PgSchema) -> Arc<Connector> {
    let text = MAP.replace("id = \"operator\"", "id = \"pg\"");
    let map = tutela_core::datamap::load("demo.toml", &text, &policy().policy).expect("map");
    let c = Connector::open(map, Some(&pg.store_url()), b"test-key-0123456789".to_vec())
        .await
        .expect("open");
    let mut all: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    all.extend(ROWS.iter().map(|s| (*s).to_owned()));
    c.run_statements(&all).await.expect("seed");
    Arc::new(c)
}

async fn app_with(c: &Arc<Connector>) -> TestApp {
    app_mailing(c, Arc::new(tutela_runtime::requests::mailer::NoMailer)).await
}

async fn app_mailing(
    c: &Arc<Connector>,
    mailer: Arc<dyn tutela_runtime::requests::mailer::Mailer>,
) -> TestApp {
    TestApp::sqlite_with(
        mailer,
        Fulfilment {
            connectors: vec![c.clone()],
            notifier: Notifier::default(),
        },
    )
    .await
}

async fn file(app: &TestApp, body: Value) -> String {
    let (s, _, r) = app.call("POST", "/v1/requests", Some(body)).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["status"], "awaiting_verification", "{r}");
    assert!(
        r.get("candidates").is_none(),
        "the requester's answer never shows who was found: {r}"
    );
    r["id"].as_str().expect("id").to_owned()
}

async fn tick(app: &TestApp) {
    Worker {
        requests: app.requests.clone(),
    }
    .tick(jiff::Timestamp::now())
    .await
    .expect("tick");
}

/// The rows a table holds for a customer number, straight from the operator's database.
async fn rows_of(c: &Connector, customer: &str, table: &str) -> usize {
    let rows = c
        .collect(&[("customer_number".to_owned(), vec![customer.to_owned()])].into())
        .await
        .expect("collect");
    c.tables(&rows, false)
        .iter()
        .find(|t| t.table == table)
        .map_or(0, |t| t.rows.len())
}

// covers: N9e
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_filed_by_email_alone_is_resolved_named_and_erases_in_the_operator_database() {
    // tutela's store on SQLite, then on PostgreSQL (the candidates are kept with the request).
    for postgres_store in [false, true] {
        let Some(pg) = PgSchema::create().await else {
            return;
        };
        let c = operator(&pg).await;
        let app = if postgres_store {
            let Some(app) = TestApp::postgres_with(
                Arc::new(tutela_runtime::requests::mailer::NoMailer),
                Fulfilment {
                    connectors: vec![c.clone()],
                    notifier: Notifier::default(),
                },
            )
            .await
            else {
                return;
            };
            app
        } else {
            app_with(&c).await
        };
        erasure_by_email(&app, &c).await;
        app.finish().await;
        drop(c);
        pg.drop_schema().await;
    }
}

async fn erasure_by_email(app: &TestApp, c: &Connector) {
    assert_eq!(rows_of(c, "F-1", "tickets").await, 1);

    let id = file(
        app,
        json!({"type": "erasure", "email": "frieda@example.org", "channel": "email"}),
    )
    .await;
    // Resolved before verification through the map's e-mail identifier: the agent sees her.
    let v = app.request(&id).await;
    assert_eq!(
        v["candidates"],
        json!([{"subject": "F-1", "found_in": ["pg"]}]),
        "{v}"
    );
    assert!(v.get("subject").is_none(), "not yet named: {v}");

    // Without naming the person found, no verification (the old code verified and then
    // erased nothing, reporting every step done).
    let (s, _, p) = app
        .act(
            &id,
            "verify-by-agent",
            json!({"note": "letter with signature compared", "agent": "agent-1"}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), p["field"].as_str()),
        (422, Some("subject")),
        "{p}"
    );
    assert_eq!(app.request(&id).await["status"], "awaiting_verification");
    // Someone neither found nor known anywhere cannot be named either.
    let (s, _, p) = app
        .act(
            &id,
            "verify-by-agent",
            json!({"note": "letter with signature compared", "agent": "agent-1", "subject": "Z-404"}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), p["field"].as_str()),
        (422, Some("subject")),
        "{p}"
    );
    // Nor another known customer than the one found (a review erased customer 99 by a typo).
    let (s, _, p) = app
        .act(
            &id,
            "verify-by-agent",
            json!({"note": "letter with signature compared", "agent": "agent-1", "subject": "G-2"}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), p["field"].as_str()),
        (422, Some("subject")),
        "{p}"
    );
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not among them")),
        "{p}"
    );
    assert_eq!(app.request(&id).await["status"], "awaiting_verification");
    let (s, _, v) = app
        .act(
            &id,
            "verify-by-agent",
            json!({"note": "letter with signature compared", "agent": "agent-1", "subject": "F-1"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["subject"], "F-1");

    // Nothing is written before a second agent approved the plan.
    tick(app).await;
    assert_eq!(app.request(&id).await["status"], "awaiting_approval");
    assert_eq!(rows_of(c, "F-1", "tickets").await, 1);
    app.approve(&id).await;
    tick(app).await;
    let v = app.request(&id).await;
    // The invoice is kept under its retention duty: partially refused, never `completed`
    // with nothing done.
    assert_eq!(v["status"], "partially_refused", "{v}");
    let erase = step(&v, "40-erase:pg");
    assert_eq!(erase["status"], "done", "{v}");
    assert!(erase["found"].as_u64().is_some_and(|n| n > 0), "{erase}");
    // Erased in the operator's database: her ticket is gone, Gustav's stays.
    assert_eq!(rows_of(c, "F-1", "tickets").await, 0);
    assert_eq!(rows_of(c, "G-2", "tickets").await, 1);
    let (_, _, subj) = app.call("GET", "/v1/subjects/F-1", None).await;
    assert_eq!(subj["erased"], true, "{subj}");
}

// covers: N9a, N9e
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_about_nobody_ends_no_data_held_never_completed() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let c = operator(&pg).await;
    let mail = Arc::new(Recorder::default());
    let app = app_mailing(&c, mail.clone()).await;

    for t in ["erasure", "access"] {
        let id = file(
            &app,
            json!({"type": t, "email": "stranger@example.org", "channel": "email", "details": {"lang": "en"}}),
        )
        .await;
        let v = app.request(&id).await;
        assert!(v.get("candidates").is_none(), "nobody found: {v}");
        // Nobody to name: the agent verifies the identity without a subject.
        let (s, _, v) = app
            .act(
                &id,
                "verify-by-agent",
                json!({"note": "called back on the number given", "agent": "agent-1"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        tick(&app).await;
        let v = app.request(&id).await;
        assert_eq!(v["status"], "no_data_held", "{t}: {v}");
        assert!(
            v.get("subject").is_none(),
            "never a request for subject \"\": {v}"
        );
        assert!(v.get("steps").is_none(), "no step claims work: {v}");
        assert_eq!(
            v["events"]
                .as_array()
                .and_then(|e| e.last())
                .map(|e| &e["event"]),
            Some(&json!("person_told")),
            "{v}"
        );
        assert!(
            v["events"]
                .as_array()
                .expect("events")
                .iter()
                .any(|e| e["event"] == "no_data_held" && e["actor"] == "worker"),
            "{v}"
        );
        // The answer, in German and English.
        let (s, _, r) = app
            .call("GET", &format!("/v1/requests/{id}/result"), None)
            .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["outcome"], "no_data_held");
        assert!(
            r["answer"]["en"]
                .as_str()
                .is_some_and(|a| a.contains("no data about you is held")),
            "{r}"
        );
        assert!(
            r["answer"]["de"]
                .as_str()
                .is_some_and(|a| a.contains("keine personenbezogenen Daten")),
            "{r}"
        );
        assert_eq!(r["searched"]["datasets"], json!(["pg"]));
    }
    // The person was told, in German and English, at the address the request came from.
    let told = mail.to("stranger@example.org");
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told.iter()
            .all(|m| m.contains("keine personenbezogenen Daten")
                && m.contains("no data about you is held")),
        "{told:?}"
    );

    // A request naming an id that nothing anywhere holds: the same answer.
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "access", "subject": "X-404"})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().expect("id").to_owned();
    let (s, _, v) = app
        .act(
            &id,
            "verify-by-agent",
            json!({"note": "identity card", "agent": "agent-1"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    tick(&app).await;
    assert_eq!(app.request(&id).await["status"], "no_data_held");
    // Nobody in the operator's database was touched.
    assert_eq!(rows_of(&c, "F-1", "tickets").await, 1);
    assert_eq!(rows_of(&c, "G-2", "tickets").await, 1);

    // Verified without a name while nobody was found, and then a customer with that address
    // appears: the worker never runs steps for nobody, nor answers "no data": refused.
    let id = file(
        &app,
        json!({"type": "erasure", "email": "late@example.org", "channel": "email"}),
    )
    .await;
    let (s, _, v) = app
        .act(
            &id,
            "verify-by-agent",
            json!({"note": "called back on the number given", "agent": "agent-1"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    c.run_statements(&["INSERT INTO customers (id, customer_no, name, email, created_at) VALUES (3, 'H-3', 'Hanna Huhn', 'late@example.org', '2026-01-01')".to_owned()])
        .await
        .expect("insert");
    tick(&app).await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "refused", "{v}");
    assert_eq!(mail.to("late@example.org").len(), 1, "told of the refusal");
    assert!(v.get("steps").is_none(), "{v}");
    let rows = c
        .collect(&[("customer_number".to_owned(), vec!["H-3".to_owned()])].into())
        .await
        .expect("collect");
    assert_eq!(rows.len(), 1, "nothing of H-3 was erased");

    app.finish().await;
    drop(c);
    pg.drop_schema().await;
}

// covers: N9a, N9b
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_that_find_nothing_say_so_and_the_request_does_not_claim_work() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let c = operator(&pg).await;
    let app = app_with(&c).await;

    // Any identifier the map knows finds the person: an MSISDN in `details.identities`.
    let id = file(
        &app,
        json!({"type": "access", "email": "other@example.org", "details": {"identities": {"msisdn": "4915112345678"}}}),
    )
    .await;
    assert_eq!(
        app.request(&id).await["candidates"],
        json!([{"subject": "F-1", "found_in": ["pg"]}])
    );

    // L-1 is in tutela's ledger only: the dataset steps find nothing and say so.
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/L-1",
            Some(json!({"relationship": "customer"})),
        )
        .await;
    assert_eq!(s, 201);
    let id = app
        .file_verified(json!({"type": "access", "subject": "L-1"}))
        .await;
    tick(&app).await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(step(&v, "10-collect:pg")["found"], 0, "{v}");
    assert!(
        step(&v, "10-collect:tutela")["found"].as_u64() > Some(0),
        "{v}"
    );

    // A rectification of a field no dataset holds for L-1: nothing corrected, not `completed`.
    let id = app.file_verified(json!({"type": "rectification", "subject": "L-1", "details": {"changes": {"street": "Am Markt 5"}}})).await;
    tick(&app).await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "partially_refused", "{v}");
    assert_eq!(step(&v, "40-rectify:pg")["found"], 0, "{v}");
    assert_eq!(step(&v, "50-rectify:tutela")["found"], 0, "{v}");

    app.finish().await;
    drop(c);
    pg.drop_schema().await;
}

/// A mail server that keeps every mail: (to, body).
#[derive(Default)]
struct Recorder {
    mails: std::sync::Mutex<Vec<(String, String)>>,
}

impl tutela_runtime::requests::mailer::Mailer for Recorder {
    fn send<'a>(
        &'a self,
        to: &'a str,
        _: &'a str,
        body: &'a str,
    ) -> tutela_runtime::requests::mailer::MailFuture<'a> {
        Box::pin(async move {
            self.mails
                .lock()
                .expect("lock")
                .push((to.to_owned(), body.to_owned()));
            Ok(())
        })
    }
}

impl Recorder {
    fn to(&self, to: &str) -> Vec<String> {
        self.mails
            .lock()
            .expect("lock")
            .iter()
            .filter(|(t, _)| t == to)
            .map(|(_, b)| b.clone())
            .collect()
    }
}
