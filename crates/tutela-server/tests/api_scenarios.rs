//! The decision scenarios of tests/scenarios/decisions.toml, through the HTTP API: events
//! are recorded with the real endpoints, the question asked at POST /v1/decisions.

use serde_json::json;
use tutela_core::scenario::{self, Actual, ScenarioFile};

use crate::support::{SCENARIOS, TestApp};

async fn run_scenarios(app: &TestApp) {
    let file: ScenarioFile = toml::from_str(SCENARIOS).expect("scenarios");
    let policy = crate::support::policy();
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in file.cases.iter().filter(|c| !c.library_only) {
        ran += 1;
        let subject = format!("scenario-{}", case.name);
        for e in &case.events {
            let (method, path, body) = match e.kind.as_str() {
                "relationship" => (
                    "PUT",
                    format!("/v1/subjects/{subject}"),
                    Some(json!({
                    "relationship": e.relationship, "contract_kind": e.contract_kind.as_deref().unwrap_or("other")})),
                ),
                "consent" | "withdraw" => (
                    "POST",
                    format!("/v1/subjects/{subject}/consents"),
                    Some(json!({
                    "purpose": e.purpose, "channel": e.channel, "granted": e.kind == "consent",
                    "source": "scenario", "evidence": e.evidence})),
                ),
                "objection" => (
                    "POST",
                    format!("/v1/subjects/{subject}/objections"),
                    Some(json!({"scope": e.scope, "reason": e.reason})),
                ),
                "restriction" => (
                    "POST",
                    format!("/v1/subjects/{subject}/restriction"),
                    Some(json!({"reason": "accuracy contested"})),
                ),
                "lift_restriction" => (
                    "DELETE",
                    format!("/v1/subjects/{subject}/restriction"),
                    None,
                ),
                "transfer_consent" => (
                    "POST",
                    format!("/v1/subjects/{subject}/transfer-consents"),
                    Some(json!({
                    "country": e.country, "granted": true, "evidence": "signed form"})),
                ),
                "call_consent" | "call_withdraw" => (
                    "POST",
                    format!("/v1/subjects/{subject}/call-consents"),
                    Some(json!({
                    "purpose": e.purpose, "call": e.call,
                    "granted": e.kind == "call_consent", "evidence": e.evidence})),
                ),
                "transfer_necessity" => (
                    "POST",
                    format!("/v1/subjects/{subject}/transfer-necessities"),
                    Some(json!({
                    "country": e.country, "active": true, "contract": "roaming order R-1"})),
                ),
                "erasure" => ("POST", format!("/v1/subjects/{subject}/erasure"), None),
                other => panic!("unknown event kind {other}"),
            };
            let (status, _, body) = app.call(method, &path, body).await;
            assert!(
                status.is_success(),
                "{}: {method} {path} -> {status} {body}",
                case.name
            );
        }
        let q = &case.query;
        let (status, _, d) = app
            .call(
                "POST",
                "/v1/decisions",
                Some(json!({
                "subject": subject, "purpose": q.purpose, "categories": q.categories,
                "channel": q.channel, "recipient": q.recipient, "country": q.country,
                "call": q.call})),
            )
            .await;
        // The library's answer to the same case, from the same entry point: the API must
        // write it out field for field, or refuse the question naming the same field.
        let library = scenario::prepare(&policy, case)
            .unwrap_or_else(|e| panic!("{e}"))
            .ask(&policy, case);
        let actual = match library {
            Err(e) => {
                assert_eq!(status, 422, "{}: {d}", case.name);
                assert_eq!(d["field"], e.field(), "{}: {d}", case.name);
                assert_eq!(d["code"], "invalid_field", "{}: {d}", case.name);
                Actual::refused(d["field"].as_str().unwrap_or(""))
            }
            Ok(answer) => {
                assert_eq!(status, 200, "{}: {d}", case.name);
                assert_eq!(
                    d,
                    serde_json::to_value(answer).expect("answer"),
                    "{}: the API and the library disagree",
                    case.name
                );
                assert!(
                    d["notice_refs"].as_array().is_some_and(|a| !a.is_empty())
                        || d["outcome"] == "not_configured"
                );
                assert_eq!(d["policy_version"].as_str().map(str::len), Some(64));
                Actual {
                    allowed: d["allowed"].as_bool().unwrap_or(false),
                    reason: d["reason"].as_str().unwrap_or("").to_owned(),
                    legal_basis: d["legal_basis"].as_str().map(str::to_owned),
                    outcome: d["outcome"].as_str().unwrap_or("").to_owned(),
                    transfer: d["transfer"].as_str().map(str::to_owned),
                    error: None,
                }
            }
        };
        if let Some(diff) = case.expect.check(&actual) {
            failures.push(format!("{}: {diff}", case.name));
        }
    }
    assert!(ran >= 50, "only {ran} scenarios ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// covers: N3, N4, N9c, N9d, N9e, N9f, N17, N18, N19, N23, N30, N31
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_through_the_api_on_sqlite() {
    let app = TestApp::sqlite().await;
    run_scenarios(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_through_the_api_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    run_scenarios(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_answers_in_the_same_order() {
    let app = TestApp::sqlite().await;
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/b1",
            Some(json!({"relationship": "customer"})),
        )
        .await;
    assert_eq!(s, 201);
    let queries: Vec<_> = (0..300)
        .map(|i| match i % 3 {
            0 => json!({"subject": "b1", "purpose": "contract_performance", "categories": ["contact"]}),
            1 => json!({"subject": "b1", "purpose": "phone_marketing", "categories": ["contact"], "channel": "phone"}),
            _ => json!({"subject": "b1", "purpose": "nonsense", "categories": ["contact"]}),
        })
        .collect();
    let (s, _, body) = app
        .call(
            "POST",
            "/v1/decisions/batch",
            Some(json!({"queries": queries})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), 300);
    for (i, r) in results.iter().enumerate() {
        let expect = ["contract", "consent_missing", "unknown_purpose"][i % 3];
        assert_eq!(r["reason"], expect, "query {i}");
    }
    assert_eq!(results[2]["field"], "purpose");
    app.finish().await;
}

// covers: N9c
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_is_visible_to_the_very_next_decision() {
    let app = TestApp::sqlite().await;
    let ask =
        json!({"subject": "w1", "purpose": "advertising_with_usage_data", "categories": ["usage"]});
    app.call(
        "PUT",
        "/v1/subjects/w1",
        Some(json!({"relationship": "customer"})),
    )
    .await;
    let give = json!({"purpose": "advertising_with_usage_data", "granted": true, "source": "app"});
    let withdraw =
        json!({"purpose": "advertising_with_usage_data", "granted": false, "source": "app"});
    for _ in 0..20 {
        let (s, _, _) = app
            .call("POST", "/v1/subjects/w1/consents", Some(give.clone()))
            .await;
        assert_eq!(s, 201);
        let (_, _, d) = app.call("POST", "/v1/decisions", Some(ask.clone())).await;
        assert_eq!(d["allowed"], true);
        let (s, _, _) = app
            .call("POST", "/v1/subjects/w1/consents", Some(withdraw.clone()))
            .await;
        assert_eq!(s, 201);
        let (_, _, d) = app.call("POST", "/v1/decisions", Some(ask.clone())).await;
        assert_eq!(d["allowed"], false);
        assert_eq!(d["reason"], "consent_withdrawn");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart() {
    let dir = tutela_store::testing::temp_dir("restart");
    let path = dir.join("tutela.db").to_string_lossy().into_owned();
    {
        let store = tutela_store::SqliteStore::open(&path).await.expect("open");
        let engine = tutela_runtime::Engine::start(
            tutela_store::AnyStore::Sqlite(store),
            crate::support::policy(),
        )
        .await
        .expect("engine");
        let ev = tutela_store::NewEvent {
            subject: "r1".into(),
            at: jiff::Timestamp::now(),
            kind: tutela_core::ledger::EventKind::Restriction { active: true },
            evidence: None,
            reason: Some("disputed".into()),
            email: None,
            idempotency_key: None,
            policy_version: "v".into(),
        };
        engine.append(ev).await.expect("append");
    }
    let store = tutela_store::SqliteStore::open(&path)
        .await
        .expect("reopen");
    let engine = tutela_runtime::Engine::start(
        tutela_store::AnyStore::Sqlite(store),
        crate::support::policy(),
    )
    .await
    .expect("engine");
    assert!(
        engine
            .subject_state("r1")
            .has(tutela_core::state::RESTRICTED)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reads_the_snapshot_and_the_events_after_it() {
    use tutela_core::ledger::EventKind;
    use tutela_store::Store;

    let dir = tutela_store::testing::temp_dir("snapshot");
    let path = dir.join("tutela.db").to_string_lossy().into_owned();
    let open = || async {
        let store = tutela_store::SqliteStore::open(&path).await.expect("open");
        tutela_runtime::Engine::start(
            tutela_store::AnyStore::Sqlite(store),
            crate::support::policy(),
        )
        .await
        .expect("engine")
    };
    let consent = |subject: &str, granted: bool| tutela_store::NewEvent {
        subject: subject.into(),
        at: jiff::Timestamp::now(),
        kind: EventKind::Consent {
            purpose: "phone_marketing".into(),
            channel: Some("phone".into()),
            granted,
            source: "test".into(),
            notice_version: "2026-01".into(),
        },
        evidence: Some("recorded call".into()),
        reason: None,
        email: None,
        idempotency_key: None,
        policy_version: "v".into(),
    };
    {
        let engine = open().await;
        for i in 0..50 {
            engine
                .append(consent(&format!("s{i}"), true))
                .await
                .expect("append");
        }
        assert_eq!(engine.snapshot().await.expect("snapshot"), 50);
        assert_eq!(engine.events_since_snapshot(), 0);
        // After the snapshot: a withdrawal of a person in it, and a new person.
        engine.append(consent("s7", false)).await.expect("append");
        engine.append(consent("new", true)).await.expect("append");
        engine
            .erase("s8".into(), jiff::Timestamp::now())
            .await
            .expect("erase");
        assert_eq!(engine.events_since_snapshot(), 3);
    }
    let engine = open().await;
    assert_eq!(engine.loaded.from_snapshot, 50);
    assert_eq!(engine.loaded.events_folded, 3);
    // The same states as folding the whole ledger.
    let policy = crate::support::policy();
    let all = engine.store.all_events().await.expect("all");
    let mut subjects: Vec<&str> = all.iter().map(|e| e.subject.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    assert_eq!(subjects.len(), 51);
    for s in subjects {
        let folded = tutela_core::state::SubjectState::fold(
            &policy,
            all.iter().filter(|e| e.subject == s),
            jiff::Timestamp::MAX,
        );
        assert_eq!(engine.subject_state(s), folded, "{s}");
    }
    assert!(engine.subject_state("s7").consents == 0);
    assert!(engine.subject_state("s8").has(tutela_core::state::ERASED));
    let _ = std::fs::remove_dir_all(dir);
}

// covers: N33
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notice_in_force_is_archived_and_served_by_version() {
    use tutela_core::compiled::CompiledPolicy;
    use tutela_core::policy::{MemoryLoader, load_policy};

    let dir = tutela_store::testing::temp_dir("archive");
    let path = dir.join("tutela.db").to_string_lossy().into_owned();
    let start = |policy: CompiledPolicy| {
        let path = path.clone();
        async move {
            let store = tutela_store::SqliteStore::open(&path).await.expect("open");
            let engine =
                tutela_runtime::Engine::start(tutela_store::AnyStore::Sqlite(store), policy)
                    .await
                    .expect("engine");
            tutela_server::app(tutela_server::AppState::new(
                engine,
                tutela_runtime::requests::RequestSettings::default(),
                std::sync::Arc::new(tutela_runtime::requests::mailer::NoMailer),
                tutela_runtime::requests::Fulfilment::default(),
                crate::support::TOKEN,
            ))
        }
    };
    let get = |router: axum::Router, uri: String| async move {
        use tower::ServiceExt;
        let req = axum::http::Request::get(uri)
            .header("authorization", format!("Bearer {}", crate::support::TOKEN))
            .body(axum::body::Body::empty())
            .expect("request");
        let res = router.oneshot(req).await.expect("response");
        let status = res.status().as_u16();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 24)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&bytes).into_owned())
    };
    let old = crate::support::policy();
    let old_hash = old.policy_version().to_owned();
    let router = start(old).await;
    let (_, current) = get(router.clone(), "/v1/notice?lang=en&format=md".into()).await;
    let (s, archived) = get(
        router.clone(),
        "/v1/notice?lang=en&format=md&version=2026-01".into(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(archived, current);
    // A new notice text comes into force; the old one stays readable by its hash.
    let text = crate::support::REFERENCE.replace(
        "We call you for advertising only with your consent.",
        "We call you for advertising only with your express consent.",
    );
    let new = CompiledPolicy::new(
        load_policy(
            &MemoryLoader::new().with("reference.toml", &text),
            "reference.toml",
        )
        .expect("policy"),
    );
    let router = start(new).await;
    let (_, versions) = get(router.clone(), "/v1/policy/versions".into()).await;
    let v: serde_json::Value = serde_json::from_str(&versions).expect("json");
    let list = v["versions"].as_array().expect("versions");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["hash"], old_hash.as_str());
    assert_eq!(list[0]["in_force"], false);
    assert_eq!(list[1]["in_force"], true);
    let (_, now) = get(router.clone(), "/v1/notice?lang=en&format=md".into()).await;
    assert!(now.contains("express consent"));
    let (_, then) = get(
        router.clone(),
        format!("/v1/notice?lang=en&format=md&version={old_hash}"),
    )
    .await;
    assert!(then.contains("only with your consent.") && !then.contains("express consent"));
    let (s, p) = get(router, "/v1/notice?version=1999-01".into()).await;
    assert_eq!(s, 404);
    assert!(p.contains("\"field\":\"version\""), "{p}");
    let _ = std::fs::remove_dir_all(dir);
}
