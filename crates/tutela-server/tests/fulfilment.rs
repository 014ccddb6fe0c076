//! Requests fulfilled across the operator's databases: the demo schema on real PostgreSQL,
//! MariaDB and SQLite at once, every request type end to end, and a database that goes away in
//! the middle of an erasure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tutela_connectors::Connector;
use tutela_connectors::demo::{MAP, SCHEMA};
use tutela_runtime::requests::Fulfilment;
use tutela_runtime::requests::notify::{NatsSettings, Notifier, Webhook};
use tutela_store::testing::{PgSchema, temp_dir, unique};

use crate::support::{TestApp, policy};

const PERSON: &[&str] = &[
    "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (1, 'F-1', 'Frieda Fuchs', 'frieda@example.org', '1970-01-02', 'Am Markt 3', 'Bonn', '2015-01-01')",
    "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (2, 'F-2', 'Gustav Gans', 'gustav@example.org', '1971-01-02', 'Am Markt 4', 'Bonn', '2015-01-01')",
    "INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (20, 1, 'IoT M2M 1GB', '2015-01-01', '2025-06-30')",
    "INSERT INTO sims (id, contract_id, iccid, imsi, msisdn) VALUES (30, 20, '8949010000000000011', '262011234567890', '4915112345678')",
    "INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES (50, 30, '2026-05-01T00:00:00Z', 4096)",
    "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (60, 1, '2025-03-01', 1999, 'DE89370400440532013000')",
    "INSERT INTO tickets (id, customer_id, opened_at, topic, summary) VALUES (80, 1, '2026-04-01', 'sim', 'SIM not active')",
];

fn map(id: &str, connector: &str) -> tutela_core::datamap::DatasetMap {
    let text = MAP
        .replace("id = \"operator\"", &format!("id = \"{id}\""))
        .replace(
            "connector = \"postgres\"",
            &format!("connector = \"{connector}\""),
        );
    tutela_core::datamap::load("demo.toml", &text, &policy().policy).expect("map")
}

/// A week before today, at midnight UTC: when the usage record of the tests was recorded.
fn recent_usage() -> String {
    let day = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(7 * 24))
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    format!("{day}T00:00:00Z")
}

async fn seeded(id: &str, connector: &str, url: &str) -> Arc<Connector> {
    let c = Connector::open(
        map(id, connector),
        Some(url),
        b"test-key-0123456789".to_vec(),
    )
    .await
    .expect("open");
    let mut all: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    // The usage record is a week old: inside its 3 months, so the worker's retention sweep
    // (which runs in the same ticks) leaves it for the requests to find.
    let recent = recent_usage();
    all.extend(
        PERSON
            .iter()
            .map(|s| s.replace("2026-05-01T00:00:00Z", &recent)),
    );
    c.run_statements(&all).await.expect("seed");
    Arc::new(c)
}

/// A TCP relay in front of PostgreSQL that can cut every connection: the database "goes away".
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Relay {
    async fn start(target: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, watch) = tokio::sync::watch::channel(0u64);
        let up2 = up.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let mut watch = watch.clone();
                // Only a cut after this connection was made ends it.
                watch.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.changed() => {}
                    }
                });
            }
        });
        Relay { port, up, cut }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn nats_url() -> String {
    std::env::var("TUTELA_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// A recipient's webhook on loopback: answers 500 to the first call, then 204, and keeps the
/// bodies it accepted.
struct Hook {
    port: u16,
    calls: Arc<std::sync::Mutex<Vec<Value>>>,
}

impl Hook {
    async fn start() -> Hook {
        use axum::routing::post;
        let calls: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = calls.clone();
        let router = axum::Router::new().route(
            "/art19",
            post(move |body: axum::body::Bytes| {
                let c = c.clone();
                let seen = seen.clone();
                async move {
                    if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    c.lock().expect("lock").push(v);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Hook { port, calls }
    }
}

// covers: N9a, N9b, N9e, N9f, N9g, N6
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_type_across_postgres_mariadb_and_sqlite() {
    // PostgreSQL behind a relay that can cut it.
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let relay = Relay::start(5432).await;
    let pg_url = pg
        .store_url()
        .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", relay.port));
    // MariaDB in a database of its own.
    let maria_admin = std::env::var("TUTELA_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let admin = match sqlx::MySqlPool::connect(&maria_admin).await {
        Ok(a) => a,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipping: MariaDB unreachable ({e})");
            pg.drop_schema().await;
            return;
        }
        Err(e) => panic!("MariaDB is required under CI=true: {e}"),
    };
    let maria_db = format!("tutela_test_{}", unique());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {maria_db}")))
        .execute(&admin)
        .await
        .expect("create database");
    let maria_url = format!(
        "{}/{maria_db}",
        maria_admin
            .rsplit_once('/')
            .map_or(maria_admin.as_str(), |(b, _)| b)
    );
    let dir = temp_dir("fulfilment");
    let lite_file = dir.join("operator.db");
    std::fs::File::create(&lite_file).expect("file");
    let connectors = vec![
        seeded("pg", "postgres", &pg_url).await,
        seeded("maria", "mysql", &maria_url).await,
        seeded("lite", "sqlite", &lite_file.to_string_lossy()).await,
    ];
    // Art. 19: a recipient's webhook that fails once, and events on NATS JetStream.
    let hook = Hook::start().await;
    let stream = format!("TUTELA_TEST_{}", unique());
    let prefix = format!("tutela.test{}", unique().replace('_', ""));
    let notifier = Notifier::new(
        vec![
            Webhook {
                recipient: "marketing_agency".into(),
                url: format!("http://127.0.0.1:{}/art19", hook.port),
            },
            // Never reached the person's data: never told (its endpoint would answer 404 and
            // keep the requests from finishing).
            Webhook {
                recipient: "finance_services".into(),
                url: format!("http://127.0.0.1:{}/nowhere", hook.port),
            },
        ],
        Some(NatsSettings {
            url: nats_url(),
            stream: stream.clone(),
            prefix: prefix.clone(),
        }),
    );
    let app = TestApp::sqlite_with(
        Arc::new(tutela_runtime::requests::mailer::NoMailer),
        Fulfilment {
            connectors: connectors.clone(),
            notifier,
        },
    )
    .await;
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/F-1",
            Some(json!({"relationship": "customer", "email": "frieda@example.org"})),
        )
        .await;
    assert_eq!(s, 201);
    // The marketing agency received her data (so Art. 19 is owed to it); the finance
    // services did not and hear nothing.
    let (s, _, d) = app
        .call(
            "POST",
            "/v1/disclosures",
            Some(json!({"subject": "F-1", "recipient": "marketing_agency", "purpose": "email_marketing", "channel": "email", "categories": ["contact"]})),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let now = jiff::Timestamp::now();

    // Access: the report carries the person's rows from all three databases.
    let id = app
        .file_verified(json!({"type": "access", "subject": "F-1"}))
        .await;
    app.tick_at(now).await;
    assert_eq!(app.request(&id).await["status"], "completed");
    let (_, _, rep) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    let tables = rep["copy"]["tables"].as_array().expect("tables");
    for ds in ["pg", "maria", "lite"] {
        let sims = tables
            .iter()
            .find(|t| t["dataset"] == ds && t["table"] == "sims")
            .unwrap_or_else(|| panic!("sims of {ds} in the report"));
        assert_eq!(sims["rows"][0][1], "8949010000000000011");
        assert!(
            tables
                .iter()
                .any(|t| t["dataset"] == ds && t["table"] == "invoices")
        );
    }
    assert!(
        !tables
            .iter()
            .any(|t| t["rows"].to_string().contains("Gustav")),
        "nothing of anyone else"
    );
    assert!(
        rep["categories"]
            .as_array()
            .expect("cats")
            .iter()
            .any(|c| c["id"] == "usage")
    );
    let (_, _, html) = app
        .call(
            "GET",
            &format!("/v1/requests/{id}/result?format=html"),
            None,
        )
        .await;
    assert!(html.as_str().is_some_and(|h| h.contains("SIM not active")));

    // Portability: one CSV per portable table and dataset, no invoices.
    let id = app
        .file_verified(json!({"type": "portability", "subject": "F-1"}))
        .await;
    app.tick_at(now).await;
    let files = crate::requests::zip_files(&app, &id).await;
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for ds in ["pg", "maria", "lite"] {
        assert!(
            names.contains(&format!("{ds}/customers.csv").as_str()),
            "{names:?}"
        );
        assert!(
            names.contains(&format!("{ds}/usage_records.csv").as_str()),
            "{names:?}"
        );
        assert!(
            !names.contains(&format!("{ds}/invoices.csv").as_str()),
            "{names:?}"
        );
    }
    let usage = &files
        .iter()
        .find(|(n, _)| n == "maria/usage_records.csv")
        .expect("usage")
        .1;
    let rows = crate::requests::parse_csv(usage);
    assert_eq!(rows[0], ["id", "recorded_at", "bytes"]);
    assert_eq!(
        rows[1],
        ["50".to_owned(), recent_usage(), "4096".to_owned()]
    );

    // Rectification names fields; unknown names are refused at intake.
    let (s, _, p) = app
        .call("POST", "/v1/requests", Some(json!({"type": "rectification", "subject": "F-1", "details": {"changes": {"shoe_size": "44"}}})))
        .await;
    assert_eq!(
        (s.as_u16(), p["field"].as_str()),
        (422, Some("details.changes.shoe_size"))
    );
    let id = app.file_verified(json!({"type": "rectification", "subject": "F-1", "details": {"changes": {"street": "Am Markt 5", "email": "frieda.fuchs@example.org"}}})).await;
    app.tick_approved(&id, now).await;
    // The recipient's webhook failed once: the request waits on that step, visibly.
    let v = app.request(&id).await;
    assert_eq!(v["status"], "in_progress", "{v}");
    let hook_step = v["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == "70-notify:marketing_agency")
        .cloned()
        .expect("notify step");
    assert_eq!(hook_step["status"], "failed");
    assert!(
        hook_step["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("answered 500"))
    );
    app.tick_at(now + jiff::SignedDuration::from_secs(6)).await;
    assert_eq!(app.request(&id).await["status"], "completed");
    for c in &connectors {
        let rows = c
            .collect(&[("customer_number".to_owned(), vec!["F-1".to_owned()])].into())
            .await
            .expect("collect");
        let t = c.tables(&rows, false);
        let customers = t
            .iter()
            .find(|t| t.table == "customers")
            .expect("customers");
        assert_eq!(
            customers.rows[0][5].as_deref(),
            Some("Am Markt 5"),
            "{}",
            c.map.id
        );
        assert_eq!(
            customers.rows[0][3].as_deref(),
            Some("frieda.fuchs@example.org")
        );
    }
    let (_, _, summary) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    assert_eq!(summary["datasets"].as_array().map(Vec::len), Some(3));

    // Restriction: tutela and the flags in every database.
    let id = app.file_verified(json!({"type": "restriction", "subject": "F-1", "details": {"reason": "accuracy contested"}})).await;
    app.tick_at(now).await;
    assert_eq!(app.request(&id).await["status"], "completed");
    let (_, _, v) = app.call("GET", "/v1/subjects/F-1", None).await;
    assert_eq!(v["restricted"], true);
    let (_, _, summary) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    assert!(
        summary["datasets"]
            .as_array()
            .expect("datasets")
            .iter()
            .all(|d| d["result"]["rows_flagged"] == 3)
    );

    // Erasure with PostgreSQL gone: the step fails visibly, nothing is reported done, the
    // other databases go on; when it is back, the retry finishes the job.
    let id = app
        .file_verified(json!({"type": "erasure", "subject": "F-1"}))
        .await;
    app.tick_at(now).await;
    // Planned in every database, then nothing is written until an agent approves.
    assert_eq!(app.request(&id).await["status"], "awaiting_approval");
    app.approve(&id).await;
    relay.down();
    app.tick_at(now).await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "in_progress", "{v}");
    let steps = v["steps"].as_array().expect("steps");
    let failed = steps
        .iter()
        .find(|s| s["step"] == "40-erase:pg")
        .expect("pg step");
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("`pg`")),
        "{failed}"
    );
    assert!(
        !failed["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("frieda"),
        "no personal data in errors"
    );
    assert!(failed["next_attempt_at"].is_string());
    let (s, _, p) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    assert_eq!(
        (s.as_u16(), p["code"].as_str()),
        (409, Some("result_not_ready"))
    );
    let (_, _, subj) = app.call("GET", "/v1/subjects/F-1", None).await;
    assert_eq!(
        subj["erased"], false,
        "tutela's own tombstone waits for the databases"
    );
    // Before the backoff is over nothing is tried.
    app.tick_at(now).await;
    let v = app.request(&id).await;
    let pg_step = v["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == "40-erase:pg")
        .cloned();
    assert_eq!(pg_step.map(|s| s["attempts"].clone()), Some(json!(1)));
    relay.restore();
    app.tick_at(now + jiff::SignedDuration::from_secs(6)).await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "partially_refused", "{v}");
    assert!(
        v["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["status"] == "done")
    );
    let (_, _, subj) = app.call("GET", "/v1/subjects/F-1", None).await;
    assert_eq!(subj["erased"], true);
    let (_, _, summary) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    for d in summary["datasets"].as_array().expect("datasets") {
        let r = &d["result"];
        assert_eq!(r["deleted"]["usage_records"], 1, "{d}");
        assert_eq!(r["deleted"]["tickets"], 1, "{d}");
        let kept: Vec<&str> = r["restricted"]
            .as_array()
            .expect("restricted")
            .iter()
            .filter_map(|k| k["table"].as_str())
            .collect();
        assert!(
            kept.contains(&"invoices") && kept.contains(&"customers"),
            "{d}"
        );
    }
    // Partly refused, and the person told why (Art. 12(4)).
    let events: Vec<&str> = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert!(
        events.ends_with(&["partially_refused", "person_told"])
            || events.ends_with(&["partially_refused", "person_not_told"]),
        "{events:?}"
    );

    // Art. 19: the webhook got the rectification (after its one failure, retried) with the
    // new values, the restriction and the erasure; NATS holds each event once.
    let calls = hook.calls.lock().expect("lock").clone();
    let kinds: Vec<&str> = calls.iter().filter_map(|c| c["type"].as_str()).collect();
    assert_eq!(kinds, ["rectification", "restriction", "erasure"]);
    assert_eq!(calls[0]["changes"]["street"], "Am Markt 5");
    assert!(
        calls
            .iter()
            .all(|c| c["subject"] == "F-1" && c["article"] == "Art. 19 GDPR")
    );
    let client = async_nats::connect(nats_url()).await.expect("nats");
    let js = async_nats::jetstream::new(client);
    let mut st = js.get_stream(&stream).await.expect("stream");
    let last = st
        .get_last_raw_message_by_subject(&format!("{prefix}.request.erasure"))
        .await
        .expect("erasure event");
    let event: Value = serde_json::from_slice(&last.payload).expect("json");
    assert_eq!(event["subject"], "F-1");
    assert_eq!(event["results"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        st.info().await.expect("info").state.messages,
        3,
        "one event per request"
    );
    let _ = js.delete_stream(&stream).await;
    // The other person is untouched everywhere.
    for c in &connectors {
        let rows = c
            .collect(&[("customer_number".to_owned(), vec!["F-2".to_owned()])].into())
            .await
            .expect("collect");
        assert_eq!(rows.len(), 1, "{}", c.map.id);
    }

    app.finish().await;
    drop(connectors);
    pg.drop_schema().await;
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {maria_db}")))
        .execute(&admin)
        .await;
    let _ = std::fs::remove_dir_all(dir);
}

// covers: N9e
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_the_worker_resumes_without_doing_a_step_twice() {
    let dir = temp_dir("resume");
    let one = dir.join("one.db");
    let two = dir.join("two.db");
    std::fs::File::create(&one).expect("file");
    std::fs::File::create(&two).expect("file");
    let db_one = seeded("one", "sqlite", &one.to_string_lossy()).await;
    // `two` has no tables yet: its step fails as a database that does not match its map.
    let db_two = Arc::new(
        Connector::open(
            map("two", "sqlite"),
            Some(&two.to_string_lossy()),
            b"test-key-0123456789".to_vec(),
        )
        .await
        .expect("open"),
    );
    let tutela_dir = dir.join("tutela");
    std::fs::create_dir_all(&tutela_dir).expect("dir");
    let id = {
        let app = TestApp::sqlite_at(
            tutela_dir.clone(),
            Arc::new(tutela_runtime::requests::mailer::NoMailer),
            Fulfilment {
                connectors: vec![db_one.clone(), db_two.clone()],
                notifier: Notifier::default(),
            },
        )
        .await;
        let (s, _, _) = app
            .call(
                "PUT",
                "/v1/subjects/F-1",
                Some(json!({"relationship": "customer"})),
            )
            .await;
        assert_eq!(s, 201);
        let id = app
            .file_verified(json!({"type": "erasure", "subject": "F-1"}))
            .await;
        app.tick_at(jiff::Timestamp::now()).await;
        let v = app.request(&id).await;
        let steps = v["steps"].as_array().expect("steps");
        // Planned in `one`; `two` cannot be planned, so nothing is reviewed or written yet.
        assert_eq!(steps[0]["step"], "30-plan:one");
        assert_eq!(steps[0]["status"], "done");
        assert_eq!(steps[1]["status"], "failed");
        assert!(
            steps[1]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("does not match its map"))
        );
        id
        // The server stops here, in the middle of the request.
    };
    // The database is fixed; a new server starts on the same store and picks the request up.
    let mut schema: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    schema.extend(PERSON.iter().map(|s| (*s).to_owned()));
    db_two.run_statements(&schema).await.expect("seed two");
    let app = TestApp::sqlite_at(
        tutela_dir,
        Arc::new(tutela_runtime::requests::mailer::NoMailer),
        Fulfilment {
            connectors: vec![db_one.clone(), db_two.clone()],
            notifier: Notifier::default(),
        },
    )
    .await;
    app.tick_approved(
        &id,
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(6),
    )
    .await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "partially_refused", "{v}");
    let steps = v["steps"].as_array().expect("steps");
    assert_eq!(
        steps[0]["attempts"], 1,
        "the finished step was not run again"
    );
    assert_eq!(steps[1]["attempts"], 2);
    assert_eq!(steps[1]["status"], "done");
    let history = tutela_store::Store::history(&app.engine.store, "F-1")
        .await
        .expect("history");
    assert_eq!(
        history
            .iter()
            .filter(|e| e.event.kind == tutela_core::ledger::EventKind::Erasure)
            .count(),
        1,
        "one tombstone"
    );
    let started = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"] == "started")
        .count();
    assert_eq!(started, 1, "the request was not started twice");
    app.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}
