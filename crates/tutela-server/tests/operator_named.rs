//! Issue 31: `verify-by-agent` without `agent` recorded the actor `api`; a verification now
//! always names the operator who made it.

use serde_json::json;

use crate::support::TestApp;

// covers: N10
#[tokio::test]
async fn verify_by_agent_without_the_agent_is_refused_and_names_the_field() {
    let app = TestApp::sqlite().await;
    let (s, _, b) = app
        .call(
            "PUT",
            "/v1/subjects/N-1",
            Some(json!({"relationship": "customer", "email": "someone@example.org"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "access", "email": "someone@example.org", "channel": "letter"})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().expect("id").to_owned();
    let before = r["status"].clone();
    for body in [
        json!({"note": "letter with signature matching the contract"}),
        json!({"note": "letter with signature matching the contract", "agent": "  "}),
        json!({"note": "letter with signature matching the contract", "agent": null}),
    ] {
        let (s, _, p) = app.act(&id, "verify-by-agent", body.clone()).await;
        assert_eq!(
            (s.as_u16(), p["code"].as_str(), p["field"].as_str()),
            (422, Some("invalid_field"), Some("agent")),
            "{body}: {p}"
        );
    }
    let (_, _, v) = app.call("GET", &format!("/v1/requests/{id}"), None).await;
    assert_eq!(v["status"], before, "nothing was verified: {v}");
    assert!(
        !v.to_string().contains("\"event\":\"verified\""),
        "no verification recorded: {v}"
    );

    let (s, _, v) = app
        .act(
            &id,
            "verify-by-agent",
            json!({"note": "letter with signature matching the contract", "agent": "a.schmidt", "subject": "N-1"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, _, v) = app.call("GET", &format!("/v1/requests/{id}"), None).await;
    let actors: Vec<&str> = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["actor"].as_str())
        .collect();
    assert!(actors.contains(&"a.schmidt"), "{v}");
    // Only the filing itself came through the API; the verification is the agent's.
    let verified = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["event"] == "verified")
        .expect("a verification");
    assert_eq!(verified["actor"], "a.schmidt", "{v}");

    // The API description says so too.
    let (_, _, doc) = app.call("GET", "/openapi.json", None).await;
    let required = &doc["components"]["schemas"]["AgentVerifyPost"]["required"];
    assert!(
        required
            .as_array()
            .is_some_and(|r| r.iter().any(|f| f == "agent")),
        "{required}"
    );
    app.finish().await;
}

// Issue 31: a version every server would refuse at its effective time (a widened consent
// purpose without a renewal rule, while no version had been activated) was stored as
// "scheduled". The checks of activation run before it is stored, in the CLI and the console.
// covers: N33
#[tokio::test]
async fn a_version_the_servers_would_refuse_is_refused_before_it_is_stored() {
    use tutela_runtime::activation::{self, ActivationError};
    use tutela_store::ActivationStore;

    use crate::versions::{files, widened, widened_with};
    let app = TestApp::sqlite().await;
    let store = &app.engine.store;
    let now = jiff::Timestamp::now();
    let running = app.engine.policy();
    match activation::preflight(
        store,
        &files(&widened_with(None)),
        "reference.toml",
        None,
        &running,
        now,
    )
    .await
    {
        Err(ActivationError::RenewalUndeclared(p)) => {
            assert_eq!(p, vec!["phone_marketing".to_owned()])
        }
        other => panic!("{:?}", other.map(|p| p.policy.hash.clone())),
    }
    activation::preflight(
        store,
        &files(&widened()),
        "reference.toml",
        None,
        &running,
        now,
    )
    .await
    .expect("with its renewal rule it passes");

    // The console's versions page makes the same checks.
    let secret = tutela_runtime::operators::create(
        store,
        "dora",
        tutela_runtime::operators::Role::Dpo,
        "correct horse battery",
        now,
    )
    .await
    .expect("operator")
    .totp_secret;
    let mut dora = crate::pages::Browser::new(&app);
    dora.operator("dora", "correct horse battery", &secret)
        .await;
    let page = dora.get("/console/versions").await;
    let csrf = page.hidden("csrf");
    let p = dora
        .post(
            "/console/versions",
            &[
                ("csrf", &csrf),
                ("policy", &widened_with(None)),
                ("effective_at", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("phone_marketing"), "{}", p.body);
    assert!(
        store.activations().await.expect("list").is_empty(),
        "nothing stored"
    );
    app.finish().await;
}
