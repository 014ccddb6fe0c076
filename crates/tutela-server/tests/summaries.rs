//! AI call summaries (N24) through every state, and who may read what: the AI system files a
//! draft, only the agent who had the call (or a supervisor) sees and reviews it, no system
//! reads a draft, and an unreviewed draft expires.

use axum::http::StatusCode;
use serde_json::json;
use tutela_runtime::operators::{self, Role};
use tutela_store::SummaryStore;

use crate::pages::Browser;
use crate::support::TestApp;

async fn add(app: &TestApp, name: &str, role: Role) -> String {
    operators::create(
        &app.engine.store,
        name,
        role,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("operator")
    .totp_secret
}

async fn draft(app: &TestApp, call: &str, agent: &str) -> (StatusCode, serde_json::Value) {
    let (s, _, b) = app
        .call(
            "POST",
            "/v1/call-summaries",
            Some(json!({"subject": "K-1", "call_id": call, "agent": agent, "text": "Kunde meldet Störung der SIM 8949…; Austausch veranlasst."})),
        )
        .await;
    (s, b)
}

// covers: N24
#[tokio::test]
async fn a_draft_is_reviewed_by_its_agent_before_it_is_service_history() {
    let app = TestApp::sqlite().await;
    let erika = add(&app, "erika", Role::Agent).await;
    let anton = add(&app, "anton", Role::Agent).await;
    let udo = add(&app, "udo", Role::Auditor).await;
    let dora = add(&app, "dora", Role::Dpo).await;
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/K-1",
            Some(json!({"relationship": "customer"})),
        )
        .await;
    assert_eq!(s, 201);

    // Bad input: clear errors, nothing filed.
    let (s, b) = draft(&app, "call-1", "nobody").await;
    assert_eq!(
        (s, b["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("agent"))
    );
    let (s, b) = draft(&app, "call-1", "udo").await;
    assert_eq!(s, 422, "an auditor has no calls: {b}");
    let (s, _, b) = app
        .call(
            "POST",
            "/v1/call-summaries",
            Some(json!({"subject": "K-1", "call_id": "c", "agent": "erika", "text": " "})),
        )
        .await;
    assert_eq!(
        (s, b["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("text"))
    );

    let (s, filed) = draft(&app, "call-1", "erika").await;
    assert_eq!(s, 201, "{filed}");
    assert_eq!(filed["status"], "draft");
    assert!(
        filed.get("text").is_none(),
        "the answer does not echo the text"
    );
    let id = filed["id"].as_str().expect("id").to_owned();
    let (s, b) = draft(&app, "call-1", "erika").await;
    assert_eq!(s, 409, "one summary per call: {b}");
    // No system reads a draft.
    let (s, _, _) = app
        .call("GET", &format!("/v1/call-summaries/{id}"), None)
        .await;
    assert_eq!(s, 404);
    let (_, _, list) = app
        .call("GET", "/v1/subjects/K-1/call-summaries", None)
        .await;
    assert_eq!(list, json!([]));

    // Only the agent who had the call, and the supervisor, see it.
    let mut e = Browser::new(&app);
    e.operator("erika", "correct horse battery", &erika).await;
    let mut a = Browser::new(&app);
    a.operator("anton", "correct horse battery", &anton).await;
    let mut u = Browser::new(&app);
    u.operator("udo", "correct horse battery", &udo).await;
    let mut d = Browser::new(&app);
    d.operator("dora", "correct horse battery", &dora).await;
    let mine = e.get("/console/summaries").await;
    assert!(mine.body.contains("call-1") && mine.body.contains("Austausch veranlasst"));
    let theirs = a.get("/console/summaries").await;
    assert!(!theirs.body.contains("call-1") && !theirs.body.contains("Austausch"));
    assert!(d.get("/console/summaries").await.body.contains("call-1"));
    assert_eq!(u.get("/console/summaries").await.status, 403);
    // Another agent cannot review it, whatever the URL.
    let csrf = theirs.hidden("csrf");
    let p = a
        .post(
            &format!("/console/summaries/{id}/review"),
            &[("csrf", &csrf), ("action", "approve")],
        )
        .await;
    assert_eq!(p.status, 404);

    // The agent edits it: now it is service history, with who reviewed it.
    let csrf = mine.hidden("csrf");
    let p = e
        .post(
            &format!("/console/summaries/{id}/review"),
            &[
                ("csrf", &csrf),
                ("action", "edit"),
                ("text", "SIM getauscht, Störung behoben."),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let (s, _, v) = app
        .call("GET", &format!("/v1/call-summaries/{id}"), None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "edited");
    assert_eq!(v["text"], "SIM getauscht, Störung behoben.");
    let op = tutela_store::WebStore::operator_by_name(&app.engine.store, "erika")
        .await
        .expect("read")
        .expect("op");
    assert_eq!(v["reviewed_by"], format!("operator:{}", op.id));
    let stored = app
        .engine
        .store
        .summary(&id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(stored.draft, None, "the draft is gone once reviewed");
    // Reviewed once.
    let p = e
        .post(
            &format!("/console/summaries/{id}/review"),
            &[("csrf", &csrf), ("action", "approve")],
        )
        .await;
    assert_eq!(p.status, 409);

    // Approved as drafted; rejected; expired unreviewed.
    let (_, b) = draft(&app, "call-2", "erika").await;
    let approved = b["id"].as_str().expect("id").to_owned();
    let p = e
        .post(
            &format!("/console/summaries/{approved}/review"),
            &[("csrf", &csrf), ("action", "approve")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (_, _, v) = app
        .call("GET", &format!("/v1/call-summaries/{approved}"), None)
        .await;
    assert_eq!(v["status"], "approved");
    assert!(
        v["text"]
            .as_str()
            .expect("text")
            .contains("Austausch veranlasst")
    );
    let (_, b) = draft(&app, "call-3", "erika").await;
    let rejected = b["id"].as_str().expect("id").to_owned();
    let p = e
        .post(
            &format!("/console/summaries/{rejected}/review"),
            &[("csrf", &csrf), ("action", "reject")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (s, _, _) = app
        .call("GET", &format!("/v1/call-summaries/{rejected}"), None)
        .await;
    assert_eq!(s, 404);
    let (_, b) = draft(&app, "call-4", "erika").await;
    let expiring = b["id"].as_str().expect("id").to_owned();
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(25);
    let tick = tutela_runtime::jobs::purges::step(&app.requests, later)
        .await
        .expect("purges");
    assert_eq!(tick.summaries_expired, 1);
    let gone = app
        .engine
        .store
        .summary(&expiring)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!((gone.status.as_str(), gone.draft), ("expired", None));
    assert!(!e.get("/console/summaries").await.body.contains("call-4"));
    let (_, _, list) = app
        .call("GET", "/v1/subjects/K-1/call-summaries", None)
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

    // Erasure takes the summaries with it.
    let (s, _, _) = app.call("POST", "/v1/subjects/K-1/erasure", None).await;
    assert_eq!(s, 201);
    let (_, _, list) = app
        .call("GET", "/v1/subjects/K-1/call-summaries", None)
        .await;
    assert_eq!(list, json!([]));
    // And an erased person's call is not summarised.
    let (s, b) = draft(&app, "call-5", "erika").await;
    assert_eq!(s, 422, "{b}");
    app.finish().await;
}
