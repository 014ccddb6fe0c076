//! The policy over time: a version scheduled with its files, validated again when it takes
//! effect, switched to atomically while decisions go on, refused when invalid, and kept in
//! force across a restart.

use serde_json::json;
use tutela_core::policy::RecordedSource;
use tutela_runtime::activation::{self, ActivationError};
use tutela_store::{ActivationRecord, ActivationStore};

use crate::support::{REFERENCE, TestApp};

/// The reference policy as notice version 2026-07, with phone marketing widened to contract
/// data; `until_renewed` says what earlier consents still cover (`None`: nothing declared).
pub fn widened_with(until_renewed: Option<&str>) -> String {
    let renewal = match until_renewed {
        Some("old_scope") => {
            "[purpose.renewal]\nsince = \"2026-07\"\nuntil_renewed = \"old_scope\"\nold_categories = [\"identity\", \"contact\"]\n"
        }
        Some(_) => "[purpose.renewal]\nsince = \"2026-07\"\nuntil_renewed = \"suspend\"\n",
        None => "",
    };
    let text = REFERENCE
        .replacen("version = \"2026-01\"", "version = \"2026-07\"", 1)
        .replacen(
            "categories = [\"identity\", \"contact\"]\nchannels = [\"phone\"]",
            "categories = [\"identity\", \"contact\", \"contract\"]\nchannels = [\"phone\"]",
            1,
        );
    let anchor = "consent_evidence_kept = \"P5Y\"\nnotice_ref = [\"N18\"]\n";
    assert!(
        text.contains(anchor),
        "the reference policy changed; update the test"
    );
    text.replacen(anchor, &format!("{anchor}{renewal}"), 1)
}

pub fn widened() -> String {
    widened_with(Some("old_scope"))
}

pub fn files(text: &str) -> Vec<RecordedSource> {
    vec![RecordedSource {
        from: None,
        path: "reference.toml".into(),
        name: "reference.toml".into(),
        text: text.to_owned(),
    }]
}

async fn decide(app: &TestApp, categories: serde_json::Value) -> serde_json::Value {
    let (s, _, d) = app
        .call(
            "POST",
            "/v1/decisions",
            Some(json!({"subject": "V-1", "purpose": "phone_marketing", "channel": "phone", "categories": categories})),
        )
        .await;
    assert_eq!(s, 200, "{d}");
    d
}

// covers: N33
#[tokio::test]
async fn a_scheduled_version_takes_effect_at_its_time_without_dropping_requests() {
    let app = TestApp::sqlite().await;
    let store = &app.engine.store;
    let old = app.engine.policy().policy.hash.clone();
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/V-1",
            Some(json!({"relationship": "customer"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _, b) = app
        .call(
            "POST",
            "/v1/subjects/V-1/consents",
            Some(json!({"purpose": "phone_marketing", "channel": "phone", "granted": true, "source": "call", "notice_version": "2026-01"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(decide(&app, json!(["contact"])).await["allowed"], true);

    let now = jiff::Timestamp::now();
    // Bad input: a time in the past, a policy that does not validate. Nothing is stored.
    let past = now - jiff::SignedDuration::from_hours(1);
    assert!(matches!(
        activation::schedule(
            store,
            files(&widened()),
            "reference.toml",
            Some(past),
            "cli:test",
            now
        )
        .await,
        Err(ActivationError::InThePast(_))
    ));
    let broken = widened().replacen("consent_per_channel = true", "consent_per_channel = 7", 1);
    match activation::schedule(
        store,
        files(&broken),
        "reference.toml",
        None,
        "cli:test",
        now,
    )
    .await
    {
        Err(ActivationError::Invalid(e)) => assert!(e.contains("reference.toml:"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(store.activations().await.expect("list").is_empty());

    let at = now + jiff::SignedDuration::from_hours(1);
    let scheduled = activation::schedule(
        store,
        files(&widened()),
        "reference.toml",
        Some(at),
        "cli:dpo",
        now,
    )
    .await
    .expect("scheduled");
    assert_eq!(scheduled.status, "scheduled");
    let t = activation::tick(&app.engine, now).await.expect("tick");
    assert_eq!(t, activation::Tick::default(), "not yet");
    assert_eq!(app.engine.policy().policy.hash, old);

    // Decisions go on while the switch folds every state.
    let before = decide(&app, json!(["contact"])).await;
    assert_eq!(before["policy_version"], old.as_str());
    let deciding = async {
        let mut answered = 0;
        for _ in 0..200 {
            let d = decide(&app, json!(["contact"])).await;
            assert!(d["allowed"].is_boolean());
            answered += 1;
        }
        answered
    };
    let (t, answered) = tokio::join!(
        activation::tick(&app.engine, at + jiff::SignedDuration::from_secs(1)),
        deciding
    );
    let t = t.expect("tick");
    assert_eq!(answered, 200);
    assert_eq!(t.activated, vec![scheduled.hash.clone()]);
    assert_eq!(t.switched_to.as_deref(), Some(scheduled.hash.as_str()));
    let after = decide(&app, json!(["contact"])).await;
    assert_eq!(
        after["policy_version"],
        scheduled.hash.as_str(),
        "decisions name the version"
    );
    // The consent folded under the new policy still stands for what it covered.
    assert_eq!(after["allowed"], true);
    // The archive knows who activated it; a restart starts with it, not with the file.
    let (_, _, versions) = app.call("GET", "/v1/policy/versions", None).await;
    assert!(versions.to_string().contains("cli:dpo"), "{versions}");
    let (kept, record) = activation::in_force(store)
        .await
        .expect("read")
        .expect("one");
    assert_eq!(kept.policy.hash, scheduled.hash);
    assert_eq!(record.status, "active");
    // The notice in force is the new one.
    let (_, _, notice) = app.call("GET", "/v1/notice?format=md", None).await;
    assert!(
        notice.to_string().contains("Juli 2026"),
        "the new version's month, in words: {notice}"
    );
    app.finish().await;
}

// covers: N33
#[tokio::test]
async fn a_version_that_no_longer_validates_is_refused_and_the_old_one_stays() {
    let app = TestApp::sqlite().await;
    let store = &app.engine.store;
    let old = app.engine.policy().policy.hash.clone();
    let now = jiff::Timestamp::now();
    // Stored by an older build, or tampered with: it must not take effect.
    store
        .insert_activation(&ActivationRecord {
            id: "act-bad".into(),
            hash: "0000".into(),
            notice_version: "2026-09".into(),
            sources: serde_json::to_string(&files("[policy]\nid = 1")).expect("json"),
            root: "reference.toml".into(),
            effective_at: now,
            requested_by: "cli:test".into(),
            requested_at: now,
            status: "scheduled".into(),
            decided_at: None,
            error: None,
        })
        .await
        .expect("insert");
    let t = activation::tick(&app.engine, now).await.expect("tick");
    assert_eq!(t.refused.len(), 1);
    assert_eq!(t.switched_to, None);
    assert_eq!(app.engine.policy().policy.hash, old);
    let a = &store.activations().await.expect("list")[0];
    assert_eq!(a.status, "refused");
    assert!(
        a.error
            .as_deref()
            .is_some_and(|e| e.contains("does not validate"))
    );
    app.finish().await;
}

// covers: N33, N18
#[tokio::test]
async fn a_widened_consent_purpose_needs_renewal_and_the_person_renews_it() {
    use crate::smtp_sink::SmtpSink;
    let sink = SmtpSink::start().await;
    let app = TestApp::sqlite_with_mailer(sink.mailer()).await;
    let store = &app.engine.store;
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/V-1",
            Some(json!({"relationship": "customer", "email": "v1@example.org"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/subjects/V-1/consents",
            Some(json!({"purpose": "phone_marketing", "channel": "phone", "granted": true, "source": "call", "notice_version": "2026-01"})),
        )
        .await;
    assert_eq!(s, 201);
    let now = jiff::Timestamp::now();

    // Without a renewal rule the widening is refused, and the old version stays.
    activation::schedule(
        store,
        files(&widened_with(None)),
        "reference.toml",
        None,
        "cli:dpo",
        now,
    )
    .await
    .expect("stored: nothing is in force yet to compare with");
    let t = activation::tick(&app.engine, now).await.expect("tick");
    assert_eq!(t.refused.len(), 1, "{t:?}");
    assert!(
        t.refused[0].1.contains("phone_marketing"),
        "{:?}",
        t.refused
    );
    assert_eq!(decide(&app, json!(["contact"])).await["allowed"], true);

    // Suspended until renewed: the old consent covers nothing now.
    activation::schedule(
        store,
        files(&widened_with(Some("suspend"))),
        "reference.toml",
        None,
        "cli:dpo",
        now,
    )
    .await
    .expect("scheduled");
    let t = activation::tick(&app.engine, now).await.expect("tick");
    assert!(t.switched_to.is_some(), "{t:?}");
    let d = decide(&app, json!(["contact"])).await;
    assert_eq!(
        (d["allowed"].clone(), d["reason"].clone()),
        (json!(false), json!("consent_renewal_needed"))
    );

    // The person's page asks for renewal; renewing there records a consent under 2026-07.
    let mut page = crate::pages::Browser::new(&app);
    page.sign_in(&sink, "v1@example.org").await;
    let home = page.get("/").await;
    assert!(
        home.body.contains("id=\"renewal\""),
        "the page asks to renew"
    );
    assert!(home.body.contains("Erneuerung nötig"));
    let csrf = home.hidden("csrf");
    // The access report says so too.
    let p = page
        .post("/requests", &[("csrf", &csrf), ("type", "access")])
        .await;
    assert_eq!(p.status, axum::http::StatusCode::SEE_OTHER);
    tutela_runtime::requests::worker::Worker {
        requests: app.requests.clone(),
    }
    .tick(jiff::Timestamp::now())
    .await
    .expect("tick");
    let id = tutela_store::RequestStore::requests_of(store, "V-1", 1)
        .await
        .expect("list")[0]
        .id
        .clone();
    let report = page.get(&format!("/requests/{id}")).await;
    assert!(
        report.body.contains("muss erneuert werden"),
        "{}",
        report.body
    );
    let p = page
        .post(
            "/consents",
            &[
                ("csrf", &csrf),
                ("purpose", "phone_marketing"),
                ("channel", "phone"),
                ("granted", "true"),
            ],
        )
        .await;
    assert_eq!(p.status, axum::http::StatusCode::SEE_OTHER, "{}", p.body);
    let d = decide(&app, json!(["contact", "contract"])).await;
    assert_eq!(d["allowed"], true, "{d}");
    assert!(!page.get("/").await.body.contains("id=\"renewal\""));
    let (_, _, history) = app.call("GET", "/v1/subjects/V-1/consents", None).await;
    assert!(history.to_string().contains("2026-07"), "{history}");
    app.finish().await;
}
