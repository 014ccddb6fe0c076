//! Issue 31, typed writes, through the request worker: on PostgreSQL, whose `date` column
//! refuses a text, a rectification of the date of birth is written as a date, and one whose
//! value is no date is refused at once, naming the column and not the value, never retried and
//! never called a map mismatch; an erasure that clears the date (the customer row anonymised,
//! as a kept ticket still references it) writes a NULL date.

use std::sync::Arc;

use serde_json::json;
use tutela_connectors::Connector;
use tutela_connectors::demo::{MAP, SCHEMA};
use tutela_runtime::requests::Fulfilment;
use tutela_runtime::requests::notify::Notifier;
use tutela_store::testing::PgSchema;

use crate::support::{TestApp, policy, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_is_written_as_a_date_and_a_bad_one_is_refused_not_retried() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    // Tickets are kept: the customer row they reference is anonymised, not deleted.
    let text = MAP.replace(
        "name = \"tickets\"\n",
        "name = \"tickets\"\nerase = \"keep\"\n",
    );
    let map = tutela_core::datamap::load("demo.toml", &text, &policy().policy).expect("map");
    let c = Connector::open(map, Some(&pg.store_url()), b"test-key-0123456789".to_vec())
        .await
        .expect("open");
    let mut seed: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    seed.extend([
        "INSERT INTO customers (id, customer_no, name, email, birth_date, created_at) VALUES (1, 'T-1', 'Tea Typ', 'tea@example.org', '1970-01-02', '2015-01-01')".to_owned(),
        "INSERT INTO tickets (id, customer_id, opened_at, topic, summary) VALUES (80, 1, '2026-04-01', 'sim', 'SIM not active')".to_owned(),
    ]);
    c.run_statements(&seed).await.expect("seed");
    let c = Arc::new(c);
    let app = TestApp::sqlite_with(
        Arc::new(tutela_runtime::requests::mailer::NoMailer),
        Fulfilment {
            connectors: vec![c.clone()],
            notifier: Notifier::new(Vec::new(), None),
        },
    )
    .await;
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/T-1",
            Some(json!({"relationship": "customer", "email": "tea@example.org"})),
        )
        .await;
    assert_eq!(s, 201);
    let birth_date = |c: Arc<Connector>| async move {
        let rows = c
            .collect(&[("customer_number".to_owned(), vec!["T-1".to_owned()])].into())
            .await
            .expect("collect");
        let customers = c.map.table("customers").expect("customers");
        let field = c.map.tables[customers]
            .fields
            .iter()
            .position(|f| f.name == "birth_date")
            .expect("birth_date");
        rows.get(&customers).map(|r| r[0].values[field].clone())
    };
    let now = jiff::Timestamp::now();

    // Not a date: refused at the first try, with the column and what it takes.
    let id = app.file_verified(json!({"type": "rectification", "subject": "T-1", "details": {"changes": {"date_of_birth": "yesterday"}}})).await;
    app.tick_at(now).await;
    let v = app.request(&id).await;
    let s = step(&v, "40-rectify:operator");
    assert_eq!(
        (s["status"].as_str(), s["attempts"].as_u64()),
        (Some("refused"), Some(1)),
        "{v}"
    );
    let error = s["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("`customers.birth_date`")
            && error.contains("a date (YYYY-MM-DD)")
            && !error.contains("yesterday")
            && !error.contains("does not match its map"),
        "{error}"
    );
    assert_eq!(v["status"], "partially_refused", "{v}");
    // Never tried again.
    app.tick_at(now + jiff::SignedDuration::from_secs(3600))
        .await;
    let s = step(&app.request(&id).await, "40-rectify:operator");
    assert_eq!(s["attempts"].as_u64(), Some(1));
    assert_eq!(
        birth_date(c.clone()).await,
        Some(Some("1970-01-02".to_owned()))
    );

    // A date: written as one.
    let id = app.file_verified(json!({"type": "rectification", "subject": "T-1", "details": {"changes": {"date_of_birth": "1971-03-04"}}})).await;
    app.tick_approved(&id, now).await;
    assert_eq!(app.request(&id).await["status"], "completed");
    assert_eq!(
        birth_date(c.clone()).await,
        Some(Some("1971-03-04".to_owned()))
    );

    // Erasure: the customer row stays for the ticket, its date of birth becomes a NULL date.
    let id = app
        .file_verified(json!({"type": "erasure", "subject": "T-1"}))
        .await;
    app.tick_approved(&id, now).await;
    let v = app.request(&id).await;
    assert_eq!(step(&v, "40-erase:operator")["status"], "done", "{v}");
    let left = c
        .collect(&[("email".to_owned(), vec!["tea@example.org".to_owned()])].into())
        .await
        .expect("collect");
    assert!(left.is_empty(), "the e-mail address is erased");
    let raw = sqlx::PgPool::connect(&pg.store_url()).await.expect("pg");
    let (born, number): (Option<String>, String) =
        sqlx::query_as("SELECT CAST(birth_date AS TEXT), customer_no FROM customers WHERE id = 1")
            .fetch_one(&raw)
            .await
            .expect("row");
    assert_eq!(born, None);
    assert_eq!(number.len(), 32, "the customer number is the keyed hash");
    raw.close().await;
    app.finish().await;
    drop(c);
    pg.drop_schema().await;
}
