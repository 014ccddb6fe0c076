//! Issue 30, defect 2 and item 7: an erasure ends everything of the person at once. Their
//! earlier reports and exports are destroyed (rows and keys), `result` answers
//! `410 result_erased`, their privacy-center sessions end and their pending sign-in codes stop
//! working; their requests stay as proof, with their events and without personal data. Both
//! ways to erase (the API and an erasure request's step) on SQLite and PostgreSQL.

use axum::http::StatusCode;
use serde_json::{Value, json};
use tutela_runtime::requests::worker::Worker;
use tutela_store::RequestStore;

use crate::pages::Browser;
use crate::smtp_sink::SmtpSink;
use crate::support::TestApp;

const EMAIL: &str = "erin@example.org";
const EVIDENCE: &str = "signed form 4711 of Erin";
const REASON: &str = "I am a journalist and my address is secret";

async fn tick(app: &TestApp) {
    Worker {
        requests: app.requests.clone(),
    }
    .tick(jiff::Timestamp::now())
    .await
    .expect("tick");
}

async fn ok(app: &TestApp, method: &str, path: &str, body: Value) {
    let (s, _, b) = app.call(method, path, Some(body)).await;
    assert_eq!(s, 201, "{path}: {b}");
}

/// A person with an address, a consent with evidence and an objection with its reason.
async fn person(app: &TestApp, id: &str) {
    ok(
        app,
        "PUT",
        &format!("/v1/subjects/{id}"),
        json!({"relationship": "customer", "contract_kind": "telecommunications", "email": EMAIL}),
    )
    .await;
    ok(app, "POST", &format!("/v1/subjects/{id}/consents"), json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "shop", "notice_version": "2026-01", "evidence": EVIDENCE})).await;
    ok(
        app,
        "POST",
        &format!("/v1/subjects/{id}/objections"),
        json!({"scope": "product_analytics", "reason": REASON}),
    )
    .await;
}

/// Files a request of `kind` in the person's privacy center; returns its id.
async fn file(app: &TestApp, browser: &mut Browser<'_>, subject: &str, kind: &str) -> String {
    let csrf = browser.get("/").await.hidden("csrf");
    let before: Vec<String> = app
        .engine
        .store
        .requests_of(subject, 100)
        .await
        .expect("requests")
        .into_iter()
        .map(|r| r.id)
        .collect();
    let p = browser
        .post("/requests", &[("csrf", &csrf), ("type", kind)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    app.engine
        .store
        .requests_of(subject, 100)
        .await
        .expect("requests")
        .into_iter()
        .map(|r| r.id)
        .find(|id| !before.contains(id))
        .expect("the new request")
}

/// Starts a sign-in for `EMAIL` in `browser`; returns the mailed code and the code form's token.
/// The mail leaves after the answer, so this waits for it.
async fn start_sign_in(browser: &mut Browser<'_>, sink: &SmtpSink) -> (String, String) {
    let before = sink.mails().len();
    let token = browser.get("/").await.hidden("csrf");
    let p = browser
        .post("/signin", &[("csrf", &token), ("email", EMAIL)])
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    for _ in 0..200 {
        if sink.mails()[before..]
            .iter()
            .any(|m| m.to.iter().any(|t| t == EMAIL))
        {
            let code = sink.code_for(EMAIL).expect("a code in the mail");
            return (code, p.hidden("csrf"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no sign-in code was mailed");
}

async fn sign_in(browser: &mut Browser<'_>, sink: &SmtpSink) {
    let (code, token) = start_sign_in(browser, sink).await;
    let p = browser
        .post("/signin/code", &[("csrf", &token), ("code", &code)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(browser.cookie_header().contains("tutela_session="));
}

async fn result(app: &TestApp, id: &str, format: &str) -> (StatusCode, Value) {
    let (s, _, b) = app
        .call(
            "GET",
            &format!("/v1/requests/{id}/result?format={format}"),
            None,
        )
        .await;
    (s, b)
}

/// How the person is erased in a run.
#[derive(Clone, Copy, Debug)]
enum Via {
    Api,
    ErasureRequest,
}

async fn erasure_ends_everything(app: &TestApp, sink: &SmtpSink, subject: &str, via: Via) {
    person(app, subject).await;
    let mut erin = Browser::new(app);
    sign_in(&mut erin, sink).await;
    let access = file(app, &mut erin, subject, "access").await;
    let export = file(app, &mut erin, subject, "portability").await;
    tick(app).await;

    // Before: the report holds the address, the evidence and the reason, on the API and on the
    // person's page.
    let (s, report) = result(app, &access, "json").await;
    assert_eq!(s, 200, "{report}");
    let text = report.to_string();
    for secret in [EMAIL, EVIDENCE, REASON] {
        assert!(text.contains(secret), "{secret} in the report: {text}");
    }
    assert_eq!(result(app, &export, "zip").await.0, 200);
    let page = erin.get(&format!("/requests/{access}/download/json")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(EMAIL), "{}", page.body);
    let session_cookie = erin.cookie_header();
    assert!(session_cookie.contains("tutela_session="));

    // A sign-in half done in another browser: the code was mailed, not yet entered.
    let mut other = Browser::new(app);
    let (code, code_token) = start_sign_in(&mut other, sink).await;

    match via {
        Via::Api => {
            let (s, _, b) = app
                .call("POST", &format!("/v1/subjects/{subject}/erasure"), None)
                .await;
            assert_eq!(s, 201, "{b}");
        }
        Via::ErasureRequest => {
            let erasure = file(app, &mut erin, subject, "erasure").await;
            tick(app).await;
            let (_, _, v) = app
                .call("GET", &format!("/v1/requests/{erasure}"), None)
                .await;
            assert_eq!(v["status"], "completed", "{v}");
            // The erasure request's own summary is written after the erasure and stays.
            assert_eq!(result(app, &erasure, "json").await.0, 200);
        }
    }
    let (_, _, v) = app
        .call("GET", &format!("/v1/subjects/{subject}"), None)
        .await;
    assert_eq!(v["erased"], true, "{v}");

    // The results are destroyed, and say so.
    for (id, format) in [(&access, "json"), (&access, "html"), (&export, "zip")] {
        let (s, p) = result(app, id, format).await;
        assert_eq!(
            (s.as_u16(), p["code"].as_str()),
            (410, Some("result_erased")),
            "{id} {format}: {}",
            p["code"]
        );
        assert!(!p.to_string().contains(EMAIL));
        assert_eq!(
            app.engine.store.result(id, format).await.expect("read"),
            None,
            "no row left"
        );
    }
    // A format the request never had is still only gone.
    let (s, p) = result(app, &export, "json").await;
    assert_eq!((s.as_u16(), p["code"].as_str()), (410, Some("result_gone")));

    // The requests stay as proof, without personal data, and their keys are destroyed.
    let vault = app.engine.store.vault().expect("a vault").clone();
    for id in [&access, &export] {
        let (s, _, v) = app.call("GET", &format!("/v1/requests/{id}"), None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "completed", "{v}");
        assert!(!v.to_string().contains(EMAIL), "{v}");
        let events = app.engine.store.request_events(id).await.expect("events");
        let erased = events
            .iter()
            .find(|e| e.kind == tutela_store::PERSON_ERASED)
            .expect("the erasure is recorded on the request");
        assert!(!erased.body.contains(EMAIL));
        assert!(events.iter().any(|e| e.kind == "completed"));
        let stored = app
            .engine
            .store
            .request(id)
            .await
            .expect("read")
            .expect("row");
        assert_eq!((stored.email, stored.details), (None, None));
        let steps = app.engine.store.steps(id).await.expect("steps");
        assert!(steps.iter().all(|s| s.output.is_none()), "{steps:?}");
        let key = vault
            .key_store()
            .get(&format!("q:{id}"))
            .await
            .expect("key store")
            .expect("a tombstone");
        assert_eq!(key.wrapped, None, "the request's key is destroyed");
    }

    // The session cookie opens nothing: neither the page nor the download.
    let page = erin.get(&format!("/requests/{access}/download/json")).await;
    assert_ne!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains(EMAIL));
    assert_eq!(page.location.as_deref(), Some("/"));
    let home = erin.get("/").await;
    assert!(
        home.body.contains("action=\"/signin\""),
        "signed out: {}",
        home.body
    );
    assert!(!home.body.contains(&access));
    // The pending sign-in's code no longer signs anyone in.
    let p = other
        .post("/signin/code", &[("csrf", &code_token), ("code", &code)])
        .await;
    assert_ne!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(!other.cookie_header().contains("tutela_session="));
    assert!(other.get("/").await.body.contains("action=\"/signin\""));
}

async fn both(app: &TestApp, sink: &SmtpSink) {
    erasure_ends_everything(app, sink, "ER-API", Via::Api).await;
    erasure_ends_everything(app, sink, "ER-REQ", Via::ErasureRequest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_ends_results_sessions_and_codes_on_sqlite() {
    let sink = SmtpSink::start().await;
    let app = TestApp::sqlite_with_mailer(sink.mailer()).await;
    both(&app, &sink).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_ends_results_sessions_and_codes_on_postgres() {
    let sink = SmtpSink::start().await;
    let Some(app) = TestApp::postgres_with_mailer(sink.mailer()).await else {
        return;
    };
    both(&app, &sink).await;
    app.finish().await;
}
