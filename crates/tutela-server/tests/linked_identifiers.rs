//! Issue 31, "a request finds its person or says so", through the identifiers tutela's own
//! ledger links to persons (`POST /v1/subjects/{id}/identifiers`): a request whose only
//! identifier anyone knows is an IMSI finds the person it is linked to, is verified naming them
//! and completes; once the link ends, the same IMSI finds nobody and the request ends "no data
//! about you is held".
//! Links made before a key rotation keep being found while their key stays in the key file.

use serde_json::{Value, json};
use tutela_core::pseudonym::PseudonymKeys;

use crate::support::TestApp;

const IMSI: &str = "262011234567890";

fn keys() -> PseudonymKeys {
    PseudonymKeys::new("pk-old", [5; 32])
}

fn rotated() -> PseudonymKeys {
    let mut k = keys();
    k.rotate("pk-new", [6; 32]);
    k
}

async fn person(app: &TestApp, id: &str) {
    let (s, _, b) = app
        .call(
            "PUT",
            &format!("/v1/subjects/{id}"),
            Some(json!({"relationship": "customer"})),
        )
        .await;
    assert!(s.is_success(), "{b}");
}

async fn link(app: &TestApp, id: &str, kind: &str, value: &str, active: bool) {
    let (s, _, b) = app
        .call(
            "POST",
            &format!("/v1/subjects/{id}/identifiers"),
            Some(json!({"kind": kind, "value": value, "active": active})),
        )
        .await;
    assert!(s.is_success(), "{b}");
}

/// Files an access request carrying `identities` and an address no one has on file (no id):
/// only the identities can find the person; its id.
async fn file(app: &TestApp, identities: Value) -> String {
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({
                "type": "access",
                "channel": "email",
                "email": "new-address@example.org",
                "details": {"identities": identities},
            })),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["status"], "awaiting_verification", "{r}");
    r["id"].as_str().expect("id").to_owned()
}

async fn verify(app: &TestApp, id: &str, subject: Option<&str>) -> (u16, Value) {
    let mut body = json!({"note": "letter with signature compared", "agent": "agent-1"});
    if let Some(s) = subject {
        body["subject"] = json!(s);
    }
    let (s, _, v) = app.act(id, "verify-by-agent", body).await;
    (s.as_u16(), v)
}

// covers: N9e
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_finds_the_person_the_ledger_links_its_imsi_to() {
    let sqlite = TestApp::sqlite().await.with_pseudonyms(keys());
    linked_imsi(sqlite).await;
    if let Some(pg) = TestApp::postgres().await {
        linked_imsi(pg.with_pseudonyms(keys())).await;
    }
}

async fn linked_imsi(app: TestApp) {
    person(&app, "P-9").await;
    link(&app, "P-9", "imsi", IMSI, true).await;

    let id = file(&app, json!({"imsi": IMSI})).await;
    let v = app.request(&id).await;
    assert_eq!(
        v["candidates"],
        json!([{"subject": "P-9", "found_in": ["tutela"]}]),
        "{v}"
    );
    // Found: the agent must name the person the check was about.
    let (s, p) = verify(&app, &id, None).await;
    assert_eq!((s, p["field"].as_str()), (422, Some("subject")), "{p}");
    let (s, v) = verify(&app, &id, Some("P-9")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["subject"], "P-9");
    app.tick_at(jiff::Timestamp::now()).await;
    let v = app.request(&id).await;
    assert_eq!(v["status"], "completed", "not no_data_held: {v}");
    let (s, _, r) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    assert_eq!(s, 200, "{r}");
    assert_ne!(r["outcome"], "no_data_held", "{r}");

    // The value, grouped as a person may write it, finds the same person.
    let id = file(&app, json!({"imsi": ["262 01 1234567890"]})).await;
    assert_eq!(
        app.request(&id).await["candidates"],
        json!([{"subject": "P-9", "found_in": ["tutela"]}])
    );

    // The SIM left the contract: the same IMSI finds nobody.
    link(&app, "P-9", "imsi", IMSI, false).await;
    let id = file(&app, json!({"imsi": IMSI})).await;
    let v = app.request(&id).await;
    assert!(v.get("candidates").is_none(), "nobody found: {v}");
    let (s, v) = verify(&app, &id, None).await;
    assert_eq!(s, 200, "{v}");
    app.tick_at(jiff::Timestamp::now()).await;
    assert_eq!(app.request(&id).await["status"], "no_data_held");

    // Reassigned to another person: the latest link wins.
    person(&app, "Q-7").await;
    link(&app, "P-9", "imsi", IMSI, true).await;
    link(&app, "Q-7", "imsi", IMSI, true).await;
    let id = file(&app, json!({"imsi": IMSI})).await;
    assert_eq!(
        app.request(&id).await["candidates"],
        json!([{"subject": "Q-7", "found_in": ["tutela"]}])
    );
    // A candidate found through the ledger is the only one an agent may name.
    let (s, p) = verify(&app, &id, Some("P-9")).await;
    assert_eq!((s, p["field"].as_str()), (422, Some("subject")), "{p}");

    app.finish().await;
}

// covers: N9e
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_made_before_a_key_rotation_are_found_and_without_keys_nothing_is() {
    let app = TestApp::sqlite().await.with_pseudonyms(keys());
    person(&app, "R-1").await;
    person(&app, "R-2").await;
    link(&app, "R-1", "msisdn", "+4915112345678", true).await;
    // The key file gets a new active key; R-1's link was made under the old one.
    let app = app.with_pseudonyms(rotated());
    link(&app, "R-2", "iccid", "8949010000000000011", true).await;
    let id = file(
        &app,
        json!({"msisdn": "4915112345678", "iccid": "8949010000000000011", "imei": "not-an-imei"}),
    )
    .await;
    assert_eq!(
        app.request(&id).await["candidates"],
        json!([
            {"subject": "R-2", "found_in": ["tutela"]},
            {"subject": "R-1", "found_in": ["tutela"]},
        ])
    );
    // The answer names no identifier.
    let (s, p) = verify(&app, &id, None).await;
    assert_eq!(s, 422, "{p}");
    assert!(!p.to_string().contains("4915112345678"), "{p}");
    // Unlinked after the rotation: the link made under the old key ends too.
    link(&app, "R-1", "msisdn", "+4915112345678", false).await;
    let id = file(&app, json!({"msisdn": "4915112345678"})).await;
    assert!(
        app.request(&id).await.get("candidates").is_none(),
        "{}",
        app.request(&id).await
    );
    app.finish().await;

    // Without pseudonymisation keys no token can exist: nobody is found, nothing fails.
    let plain = TestApp::sqlite().await;
    person(&plain, "R-1").await;
    let id = file(&plain, json!({"imsi": IMSI})).await;
    assert!(plain.request(&id).await.get("candidates").is_none());
    plain.finish().await;
}
