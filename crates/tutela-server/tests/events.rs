//! The event stream for downstream systems (issue 9) on the real NATS: every ledger event and
//! request transition once, in order per person, with its id; two publishers on one store
//! still store each row once; no personal free text and no person's id in a subject.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tutela_runtime::events::{EventSettings, Publisher};

use crate::support::TestApp;

fn nats_url() -> String {
    std::env::var("TUTELA_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

fn settings(run: &str) -> EventSettings {
    let mut s = EventSettings::new(&nats_url());
    s.stream = format!("EV_{run}");
    s.prefix = format!("{run}.events");
    s.cursor_stream = format!("OB_{run}");
    // Small pages, so that the steps page through the ledgers.
    s.batch = 7;
    s
}

fn run_id(tag: &str) -> String {
    format!(
        "{tag}{}",
        jiff::Timestamp::now()
            .as_microsecond()
            .rem_euclid(1_000_000_000)
    )
}

async fn client() -> Option<async_nats::Client> {
    match async_nats::connect(nats_url().as_str()).await {
        Ok(c) => Some(c),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("NATS is required under CI=true: {e}")
        }
        Err(e) => {
            eprintln!("skipping: no NATS ({e})");
            None
        }
    }
}

/// Consents, an objection, a restriction and an access request of three persons.
async fn write(app: &TestApp) {
    for p in ["E-1", "E-2", "E-3"] {
        let (s, _, b) = app
            .call(
                "PUT",
                &format!("/v1/subjects/{p}"),
                Some(json!({"relationship": "customer", "email": format!("{p}@example.org")})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    for (p, granted) in [("E-1", true), ("E-1", false), ("E-2", true), ("E-1", true)] {
        let (s, _, b) = app
            .call(
                "POST",
                &format!("/v1/subjects/{p}/consents"),
                Some(json!({"purpose": "email_marketing", "channel": "email", "granted": granted, "source": "web", "evidence": "double opt-in at /newsletter"})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let (s, _, b) = app
        .call(
            "POST",
            "/v1/subjects/E-3/objections",
            Some(json!({"scope": "direct_marketing"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, _, b) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "access", "subject": "E-2", "details": {"lang": "en"}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

/// Every message of the stream, in stream order.
async fn read(js: &jetstream::Context, stream: &str) -> Vec<(String, Value)> {
    let s = js.get_stream(stream).await.expect("events stream");
    let c: consumer::PullConsumer = s
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("reader");
    let mut out = Vec::new();
    loop {
        let mut batch = c
            .fetch()
            .max_messages(1000)
            .expires(Duration::from_millis(300))
            .messages()
            .await
            .expect("fetch");
        let before = out.len();
        while let Some(m) = batch.next().await {
            let m = m.expect("message");
            let v: Value = serde_json::from_slice(&m.payload).expect("a JSON event");
            out.push((m.subject.to_string(), v));
        }
        if out.len() == before {
            return out;
        }
    }
}

async fn drain(p: &Publisher, app: &TestApp) {
    for _ in 0..100 {
        if p.step(&app.engine.store).await.expect("step") == 0 {
            return;
        }
    }
    panic!("the publisher did not catch up");
}

/// Checks the stream against both ledgers: each row once, each person's events in ledger
/// order, and nothing personal beyond the person's id in the body.
async fn check(app: &TestApp, messages: &[(String, Value)], prefix: &str) {
    use tutela_store::{OutboxSource, OutboxStore};
    let ledger = app
        .engine
        .store
        .outbox_rows(OutboxSource::Ledger, 0, i64::MAX)
        .await
        .expect("ledger");
    let requests = app
        .engine
        .store
        .outbox_rows(OutboxSource::Request, 0, i64::MAX)
        .await
        .expect("requests");
    let ids: Vec<&str> = messages
        .iter()
        .map(|(_, v)| v["id"].as_str().expect("id"))
        .collect();
    let distinct: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "duplicated: {ids:?}");
    assert_eq!(ids.len(), ledger.len() + requests.len(), "{ids:?}");
    let mut per_person: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (subject, v) in messages {
        let text = v.to_string();
        assert!(!text.contains("double opt-in"), "{text}");
        assert!(!text.contains("@example.org"), "{text}");
        assert!(
            !subject.contains("E-"),
            "a person's id in a subject: {subject}"
        );
        match v["source"].as_str() {
            Some("ledger") => {
                assert_eq!(
                    subject,
                    &format!("{prefix}.{}", v["kind"].as_str().unwrap_or(""))
                );
                per_person
                    .entry(v["subject"].as_str().expect("subject"))
                    .or_default()
                    .push(v["seq"].as_i64().expect("seq"));
            }
            Some("request") => {
                assert!(
                    subject.starts_with(&format!("{prefix}.request_")),
                    "{subject}"
                );
                assert!(v["request"].is_string());
            }
            other => panic!("source {other:?}"),
        }
    }
    for (person, seqs) in &per_person {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{person}: {seqs:?}");
    }
    let consents: Vec<&Value> = messages
        .iter()
        .map(|(_, v)| v)
        .filter(|v| {
            v["subject"] == "E-1"
                && v["kind"]
                    .as_str()
                    .is_some_and(|k| k.starts_with("consent_"))
        })
        .collect();
    let kinds: Vec<&str> = consents.iter().filter_map(|v| v["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["consent_given", "consent_withdrawn", "consent_given"]
    );
    assert_eq!(consents[0]["event"]["purpose"], "email_marketing");
}

/// A test's own streams on the real NATS, and a server whose ledgers hold [`write`]'s rows.
struct Run {
    client: async_nats::Client,
    settings: EventSettings,
    app: TestApp,
}

impl Run {
    async fn start(tag: &str) -> Option<Run> {
        let client = client().await?;
        let app = TestApp::sqlite().await;
        write(&app).await;
        Some(Run {
            client,
            settings: settings(&run_id(tag)),
            app,
        })
    }

    async fn publisher(&self) -> Publisher {
        Publisher::open(self.client.clone(), self.settings.clone())
            .await
            .expect("open a publisher")
    }

    /// Checks the stream against the ledgers, then removes the streams.
    async fn check_and_finish(self) {
        let js = jetstream::new(self.client);
        let messages = read(&js, &self.settings.stream).await;
        check(&self.app, &messages, &self.settings.prefix).await;
        let _ = js.delete_stream(&self.settings.stream).await;
        let _ = js.delete_stream(&self.settings.cursor_stream).await;
        self.app.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ledger_row_reaches_the_stream_once_in_order() {
    let Some(run) = Run::start("ev").await else {
        return;
    };
    drain(&run.publisher().await, &run.app).await;
    // What comes later follows; a publisher started afresh (a restart) resumes at the cursor.
    let (s, _, _) = run
        .app
        .call(
            "POST",
            "/v1/subjects/E-2/consents",
            Some(json!({"purpose": "email_marketing", "channel": "email", "granted": false, "source": "web"})),
        )
        .await;
    assert_eq!(s, 201);
    drain(&run.publisher().await, &run.app).await;
    run.check_and_finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_publishers_on_one_store_store_each_row_once() {
    let Some(run) = Run::start("ew").await else {
        return;
    };
    let (a, b) = (run.publisher().await, run.publisher().await);
    let store = &run.app.engine.store;
    // Both step at once until neither finds anything new (as two server instances would).
    for _ in 0..100 {
        let (x, y) = tokio::join!(a.step(store), b.step(store));
        if x.expect("a") == 0 && y.expect("b") == 0 {
            break;
        }
    }
    run.check_and_finish().await;
}
