//! Consents, objections, restriction and erasure through the API, and what the ledger keeps.

use serde_json::json;

use crate::support::TestApp;

async fn ledger_endpoints(app: &TestApp) {
    let (s, _, _) = app
        .call("PUT", "/v1/subjects/p1", Some(json!({"relationship": "customer", "contract_kind": "telecommunications", "email": "p1@example.org"})))
        .await;
    assert_eq!(s, 201);
    let give = json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "web", "evidence": "double opt-in 2026-02-01"});
    let (s, _, first) = app
        .call("POST", "/v1/subjects/p1/consents", Some(give))
        .await;
    assert_eq!(s, 201, "{first}");
    let (s, _, _) = app
        .call("POST", "/v1/subjects/p1/consents", Some(json!({"purpose": "email_marketing", "channel": "email", "granted": false, "source": "app"})))
        .await;
    assert_eq!(s, 201);

    // Art. 7(1): the full history, oldest first, with evidence and notice version.
    let (s, _, h) = app.call("GET", "/v1/subjects/p1/consents", None).await;
    assert_eq!(s, 200);
    let c = h["consents"].as_array().expect("consents");
    assert_eq!(c.len(), 2);
    assert_eq!(c[0]["granted"], true);
    assert_eq!(c[0]["evidence"], "double opt-in 2026-02-01");
    assert_eq!(c[0]["notice_version"], "2026-01");
    assert_eq!(c[1]["granted"], false);
    assert!(c[0]["seq"].as_i64() < c[1]["seq"].as_i64());

    // ISO/IEC TS 27560 records.
    let (s, _, iso) = app
        .call("GET", "/v1/subjects/p1/consents?format=iso27560", None)
        .await;
    assert_eq!(s, 200);
    let r = &iso["records"][0];
    assert_eq!(r["schema_version"], "ISO/IEC TS 27560:2023");
    assert_eq!(r["pii_principal_id"], "p1");
    assert_eq!(r["processing"]["purpose"], "email_marketing");
    assert_eq!(r["processing"]["lawful_basis"], "eu-gdpr:A6-1-a");
    assert!(
        r["processing"]["pii_types"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "contact"))
    );
    assert!(
        r["processing"]["withdrawal_method"]
            .as_str()
            .is_some_and(|w| w.contains("IoT_Sales_Operations"))
    );
    assert_eq!(r["event"]["event_state"], "dpv:ConsentGiven");
    assert_eq!(iso["records"][1]["event"]["event_type"], "ConsentWithdrawn");

    // N9h: the competent authority follows the kind of contract.
    let (_, _, v) = app.call("GET", "/v1/subjects/p1", None).await;
    assert_eq!(v["competent_authority"]["id"], "bfdi");
    assert_eq!(v["relationship"], "customer");

    // Erasure: personal attributes gone, tombstone kept, legal retention continues.
    let (s, _, e) = app.call("POST", "/v1/subjects/p1/erasure", None).await;
    assert_eq!(s, 201, "{e}");
    let (_, _, h) = app.call("GET", "/v1/subjects/p1/consents", None).await;
    assert!(
        h["consents"]
            .as_array()
            .expect("consents")
            .iter()
            .all(|c| c["evidence"].is_null())
    );
    let rec = app
        .engine
        .store
        .subject("p1")
        .await
        .expect("subject")
        .expect("record");
    assert_eq!(rec.email, None);
    let (_, _, v) = app.call("GET", "/v1/subjects/p1", None).await;
    assert_eq!(v["erased"], true);
    let (s, _, p) = app
        .call("POST", "/v1/subjects/p1/consents", Some(json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "web"})))
        .await;
    assert_eq!(s, 409, "{p}");
    assert_eq!(p["code"], "subject_erased");
    let (_, _, d) = app
        .call(
            "POST",
            "/v1/decisions",
            Some(json!({"subject": "p1", "purpose": "legal_retention", "categories": ["payment"]})),
        )
        .await;
    assert_eq!(d["allowed"], true);
}

use tutela_store::Store;

// covers: N9c, N9e, N9h, N4
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_endpoints_on_sqlite() {
    let app = TestApp::sqlite().await;
    ledger_endpoints(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_endpoints_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    ledger_endpoints(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_make_retries_safe() {
    let app = TestApp::sqlite().await;
    let send = |granted: bool| {
        axum::http::Request::builder()
            .method("POST")
            .uri("/v1/subjects/i1/consents")
            .header("authorization", format!("Bearer {}", crate::support::TOKEN))
            .header("content-type", "application/json")
            .header("idempotency-key", "7f1c0c6e-retry")
            .body(axum::body::Body::from(
                json!({"purpose": "advertising_with_usage_data", "granted": granted, "source": "app"}).to_string(),
            ))
            .expect("request")
    };
    let (s1, _, a) = app.send(send(true)).await;
    let (s2, _, b) = app.send(send(true)).await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (201, 200));
    assert_eq!(a["seq"], b["seq"]);
    assert_eq!(b["duplicate"], true);
    let (s3, ct, c) = app.send(send(false)).await;
    assert_eq!(s3, 409, "{c}");
    assert_eq!(ct, "application/problem+json");
    assert_eq!(c["field"], "Idempotency-Key");
    let (_, _, h) = app.call("GET", "/v1/subjects/i1/consents", None).await;
    assert_eq!(h["consents"].as_array().map(Vec::len), Some(1));
    app.finish().await;
}

/// The core's rules on a write's texts answer as the handlers once did: `invalid_field`, the
/// field, the detail and the fix, and nothing is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_write_texts_are_invalid_fields() {
    let app = TestApp::sqlite().await;
    let long = "x".repeat(4001);
    let shorten = "shorten it, or store the document elsewhere and reference it";
    let cases = [
        (
            "/v1/subjects/t1/consents",
            json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": " "}),
            "source",
            "`source` must name where the consent was given, in 1 to 64 characters",
            "e.g. `web`, `app`, `call_center`, `letter`, `privacy_center`",
        ),
        (
            "/v1/subjects/t1/consents",
            json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "x".repeat(65)}),
            "source",
            "`source` must name where the consent was given, in 1 to 64 characters",
            "e.g. `web`, `app`, `call_center`, `letter`, `privacy_center`",
        ),
        (
            "/v1/subjects/t1/consents",
            json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "web", "evidence": long}),
            "evidence",
            "`evidence` is longer than 4000 characters",
            shorten,
        ),
        (
            "/v1/subjects/t1/call-consents",
            json!({"purpose": "call_recording", "call": "call-1", "granted": true, "evidence": long}),
            "evidence",
            "`evidence` is longer than 4000 characters",
            shorten,
        ),
        (
            "/v1/subjects/t1/transfer-consents",
            json!({"country": "IN", "granted": true, "evidence": " "}),
            "evidence",
            "a transfer consent must be explicit (Art. 49(1)(a)); record its evidence",
            "say how and when the person consented after being told the risks",
        ),
        (
            "/v1/subjects/t1/transfer-consents",
            json!({"country": "IN", "granted": true, "evidence": long}),
            "evidence",
            "`evidence` is longer than 4000 characters",
            shorten,
        ),
        (
            "/v1/subjects/t1/transfer-necessities",
            json!({"country": "IN", "active": true}),
            "contract",
            "a transfer is necessary for a contract (Art. 49(1)(b)) only with the contract it serves",
            "name the contract or order, e.g. `roaming order R-2026-0815`",
        ),
        (
            "/v1/subjects/t1/transfer-necessities",
            json!({"country": "IN", "active": true, "contract": long}),
            "contract",
            "`contract` is longer than 4000 characters",
            shorten,
        ),
        (
            "/v1/subjects/t1/restriction",
            json!({"reason": ""}),
            "reason",
            "a restriction needs its reason (Art. 18(1))",
            "say why: accuracy contested, unlawful processing, needed for legal claims, or objection pending",
        ),
    ];
    for (path, body, field, detail, fix) in cases {
        let (s, ct, p) = app.call("POST", path, Some(body.clone())).await;
        assert_eq!(s, 422, "{path}: {p}");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(
            (&p["code"], &p["field"], &p["detail"], &p["fix"]),
            (
                &json!("invalid_field"),
                &json!(field),
                &json!(detail),
                &json!(fix)
            ),
            "{path}"
        );
    }
    let (s, _, p) = app
        .call(
            "PUT",
            "/v1/subjects/t1",
            Some(json!({"relationship": "customer", "email": "a b@example.org"})),
        )
        .await;
    assert_eq!(
        (s.as_u16(), &p["code"], &p["field"], &p["detail"], &p["fix"]),
        (
            422,
            &json!("invalid_field"),
            &json!("email"),
            &json!("not an e-mail address"),
            &json!("send an address like name@example.org, or leave the field out")
        )
    );
    let history = app.engine.store.history("t1").await.expect("history");
    assert!(history.is_empty(), "a refused write leaves nothing behind");
    app.finish().await;
}

// covers: N23, N9d, N31
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_the_policy_forbids_are_refused_and_leave_nothing() {
    let app = TestApp::sqlite().await;
    let cases = [
        (
            "/v1/subjects/x1/consents",
            json!({"purpose": "ai_training", "granted": true, "source": "call_center"}),
            "evidence",
        ),
        (
            "/v1/subjects/x1/consents",
            json!({"purpose": "contract_performance", "granted": true, "source": "web"}),
            "purpose",
        ),
        (
            "/v1/subjects/x1/consents",
            json!({"purpose": "phone_marketing", "granted": true, "source": "web"}),
            "channel",
        ),
        (
            "/v1/subjects/x1/consents",
            json!({"purpose": "email_marketing", "channel": "phone", "granted": true, "source": "web"}),
            "channel",
        ),
        (
            "/v1/subjects/x1/consents",
            json!({"purpose": "nope", "granted": true, "source": "web"}),
            "purpose",
        ),
        (
            "/v1/subjects/x1/objections",
            json!({"scope": "legitimate_interest"}),
            "reason",
        ),
        (
            "/v1/subjects/x1/objections",
            json!({"scope": "contract_performance", "reason": "no"}),
            "scope",
        ),
        (
            "/v1/subjects/x1/objections",
            json!({"scope": "whatever", "reason": "no"}),
            "scope",
        ),
        (
            "/v1/subjects/x1/transfer-consents",
            json!({"country": "IN", "granted": true}),
            "evidence",
        ),
        (
            "/v1/subjects/x1/transfer-consents",
            json!({"country": "FR", "granted": true, "evidence": "x"}),
            "country",
        ),
        (
            "/v1/subjects/x1/transfer-consents",
            json!({"country": "ZZ", "granted": true, "evidence": "x"}),
            "country",
        ),
        (
            "/v1/subjects/x1/transfer-necessities",
            json!({"country": "IN", "active": true}),
            "contract",
        ),
        (
            "/v1/subjects/x1/transfer-necessities",
            json!({"country": "IN", "active": true, "contract": "  "}),
            "contract",
        ),
        (
            "/v1/subjects/x1/transfer-necessities",
            json!({"country": "AT", "active": true, "contract": "order 1"}),
            "country",
        ),
        (
            "/v1/subjects/x1/transfer-necessities",
            json!({"country": "I", "active": true, "contract": "order 1"}),
            "country",
        ),
        (
            "/v1/subjects/x1/restriction",
            json!({"reason": " "}),
            "reason",
        ),
    ];
    for (path, body, field) in cases {
        let (s, ct, p) = app.call("POST", path, Some(body.clone())).await;
        assert_eq!(s, 422, "{path} {body}: {p}");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(p["field"], field, "{path} {body}: {p}");
        assert!(p["fix"].is_string() || p["detail"].is_string());
    }
    let history = app.engine.store.history("x1").await.expect("history");
    assert!(history.is_empty(), "a refused write leaves nothing behind");
    app.finish().await;
}

// covers: N18
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_consent_evidence_outlives_an_erasure_for_five_years() {
    let app = crate::support::TestApp::sqlite().await;
    app.call(
        "PUT",
        "/v1/subjects/ph-1",
        Some(json!({"relationship": "customer"})),
    )
    .await;
    // A use without a consent is refused: the call must not happen.
    let (s, _, p) = app
        .call(
            "POST",
            "/v1/subjects/ph-1/consent-uses",
            Some(json!({"purpose": "phone_marketing", "channel": "phone"})),
        )
        .await;
    assert_eq!((s.as_u16(), p["field"].as_str()), (422, Some("purpose")));
    let (s, _, _) = app
        .call("POST", "/v1/subjects/ph-1/consents", Some(json!({"purpose": "phone_marketing", "channel": "phone", "granted": true, "source": "call", "evidence": "recording 2026-02-01 #4711"})))
        .await;
    assert_eq!(s, 201);
    app.call("POST", "/v1/subjects/ph-1/consents", Some(json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "web", "evidence": "double opt-in"}))).await;
    let (s, _, _) = app
        .call("POST", "/v1/subjects/ph-1/consent-uses", Some(json!({"purpose": "phone_marketing", "channel": "phone", "campaign": "spring tariffs"})))
        .await;
    assert_eq!(s, 201);
    let (_, _, h) = app.call("GET", "/v1/subjects/ph-1/consents", None).await;
    assert_eq!(h["uses"][0]["purpose"], "phone_marketing");
    let (s, _, _) = app.call("POST", "/v1/subjects/ph-1/erasure", None).await;
    assert_eq!(s, 201);
    let (_, _, h) = app.call("GET", "/v1/subjects/ph-1/consents", None).await;
    let consents = h["consents"].as_array().expect("consents");
    let phone = consents
        .iter()
        .find(|c| c["purpose"] == "phone_marketing")
        .expect("phone");
    let email = consents
        .iter()
        .find(|c| c["purpose"] == "email_marketing")
        .expect("email");
    assert_eq!(
        phone["evidence"], "recording 2026-02-01 #4711",
        "section 7a UWG: kept 5 years"
    );
    assert!(email["evidence"].is_null(), "other evidence is erased");
    app.finish().await;
}

#[test]
fn evidence_is_kept_five_years_from_the_last_use_only() {
    let policy = crate::support::policy();
    let at = |s: &str| -> jiff::Timestamp { s.parse().expect("time") };
    let event =
        |seq: i64, when: &str, kind: tutela_core::ledger::EventKind| tutela_store::StoredEvent {
            event: tutela_core::ledger::LedgerEvent {
                seq,
                subject: "x".into(),
                at: at(when),
                kind,
            },
            evidence: Some("e".into()),
            reason: None,
            policy_version: "v".into(),
        };
    let history = [
        event(
            1,
            "2020-01-10T00:00:00Z",
            tutela_core::ledger::EventKind::Consent {
                purpose: "phone_marketing".into(),
                channel: Some("phone".into()),
                granted: true,
                source: "call".into(),
                notice_version: "2026-01".into(),
            },
        ),
        event(
            2,
            "2022-06-01T00:00:00Z",
            tutela_core::ledger::EventKind::ConsentUse {
                purpose: "phone_marketing".into(),
                channel: Some("phone".into()),
            },
        ),
    ];
    let keep = |now: &str| {
        tutela_core::write_rules::evidence_to_keep(
            &policy.policy,
            history.iter().map(|e| (&e.event, e.reason.as_deref())),
            at(now),
        )
    };
    assert_eq!(
        keep("2027-05-31T00:00:00Z"),
        vec![1, 2],
        "five years from the last use"
    );
    assert!(keep("2027-06-02T00:00:00Z").is_empty());
}

// covers: N19, N20
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banners_tc_string_becomes_consent_events() {
    let app = crate::support::TestApp::sqlite().await;
    app.call(
        "PUT",
        "/v1/subjects/web-1",
        Some(json!({"relationship": "customer"})),
    )
    .await;
    let decide = || async {
        app.call("POST", "/v1/decisions", Some(json!({"subject": "web-1", "purpose": "advertising_with_usage_data", "categories": ["usage"]})))
            .await
            .2
    };
    assert_eq!(decide().await["allowed"], false);
    // Made with the reference library: purposes 1, 2, 3, 7 consented (not 4).
    let partial = "CQuf10AQuf10AAKACBENCWEoAOIAAEJAAAYgH0QA4AAgAEAvMB9AAJAB_wAA.IAAA.YAAAAAAAAAAA";
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/subjects/web-1/tcf",
            Some(json!({"tc_string": partial})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["refused"], json!(["advertising_with_usage_data"]));
    assert_eq!(r["tcf_purposes"], json!([1, 2, 3, 7]));
    assert_eq!(decide().await["allowed"], false);
    let (_, _, h) = app.call("GET", "/v1/subjects/web-1/consents", None).await;
    let last = h["consents"]
        .as_array()
        .and_then(|c| c.last().cloned())
        .expect("recorded");
    assert_eq!(last["source"], "tcf_banner");
    assert_eq!(last["evidence"], partial, "the string is the evidence");
    // Purposes 1, 3 and 4 consented: usage data may now be used for advertising (N19).
    let full = "CQuf10AQuf10AAKACBENCWEoALAAAEJAAAYgH0QA4AAgAEAvMB9AAJAB_wAA.IAAA.YAAAAAAAAAAA";
    let (_, _, r) = app
        .call(
            "POST",
            "/v1/subjects/web-1/tcf",
            Some(json!({"tc_string": full})),
        )
        .await;
    assert_eq!(r["granted"], json!(["advertising_with_usage_data"]));
    assert_eq!(decide().await["allowed"], true);
    let (s, _, p) = app
        .call(
            "POST",
            "/v1/subjects/web-1/tcf",
            Some(json!({"tc_string": "not*a*string"})),
        )
        .await;
    assert_eq!((s.as_u16(), p["field"].as_str()), (422, Some("tc_string")));
    app.finish().await;
}

// covers: N31
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_necessary_for_the_contract_is_recorded_per_person_and_ended() {
    let app = crate::support::TestApp::sqlite().await;
    app.call(
        "PUT",
        "/v1/subjects/r-1",
        Some(json!({"relationship": "customer"})),
    )
    .await;
    let decide = |purpose: &'static str| {
        let app = &app;
        async move {
            let (s, _, d) = app
                .call(
                    "POST",
                    "/v1/decisions",
                    Some(json!({"subject": "r-1", "purpose": purpose, "categories": ["usage"], "country": "IN"})),
                )
                .await;
            assert_eq!(s, 200, "{d}");
            d
        }
    };
    assert_eq!(
        decide("contract_performance").await["reason"],
        "transfer_not_permitted"
    );
    let (s, _, b) = app
        .call(
            "POST",
            "/v1/subjects/r-1/transfer-necessities",
            Some(json!({"country": "IN", "active": true, "contract": "roaming order R-2026-0815"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (_, _, v) = app.call("GET", "/v1/subjects/r-1", None).await;
    assert_eq!(v["transfer_necessities"], json!(["IN"]));
    assert_eq!(v["transfer_consents"], json!([]));
    let d = decide("contract_performance").await;
    assert_eq!(
        (d["allowed"].clone(), d["transfer"].clone()),
        (json!(true), json!("transfer_contract_necessity")),
        "{d}"
    );
    assert!(
        d["notice_refs"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("N31"))),
        "{d}"
    );
    // The derogation serves the contract only.
    assert_eq!(
        decide("abuse_detection").await["reason"],
        "transfer_not_permitted"
    );
    // The contract reference is the event's evidence.
    let history = app.engine.store.history("r-1").await.expect("history");
    let recorded = history
        .iter()
        .find(|e| e.event.kind.name() == "transfer_necessity_recorded")
        .expect("recorded");
    assert_eq!(
        recorded.evidence.as_deref(),
        Some("roaming order R-2026-0815")
    );
    // The console shows it on the person's page.
    let secret = tutela_runtime::operators::create(
        &app.engine.store,
        "erika",
        tutela_runtime::operators::Role::Agent,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("operator")
    .totp_secret;
    let mut agent = crate::pages::Browser::new(&app);
    agent
        .operator("erika", "correct horse battery", &secret)
        .await;
    let search = agent.get("/console/subject?lang=en").await;
    let page = agent
        .post(
            "/console/subject",
            &[("csrf", &search.hidden("csrf")), ("subject", "r-1")],
        )
        .await;
    assert!(
        page.body.contains("IN: necessary for the contract"),
        "{}",
        page.body
    );
    // The console speaks of the person, not to them.
    assert!(
        page.body.contains("Consents of the person") && !page.body.contains("Your consents"),
        "{}",
        page.body
    );
    // Ended: no ground any more.
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/subjects/r-1/transfer-necessities",
            Some(json!({"country": "IN", "active": false})),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(
        decide("contract_performance").await["reason"],
        "transfer_not_permitted"
    );
    let (_, _, v) = app.call("GET", "/v1/subjects/r-1", None).await;
    assert_eq!(v["transfer_necessities"], json!([]));
    app.finish().await;
}

// covers: N23
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_consent_holds_for_its_call_only_and_survives_a_restart() {
    use crate::support::TestApp;
    let dir = tutela_store::testing::temp_dir("calls");
    let open = || {
        TestApp::sqlite_at(
            dir.clone(),
            std::sync::Arc::new(tutela_runtime::requests::mailer::NoMailer),
            crate::support::Connectors::default(),
        )
    };
    let recording = |call: Option<&'static str>| json!({"subject": "c-1", "purpose": "call_recording", "categories": ["call_audio"], "call": call});
    let app = open().await;
    app.call(
        "PUT",
        "/v1/subjects/c-1",
        Some(json!({"relationship": "customer"})),
    )
    .await;
    // Bad input names the field; nothing is recorded.
    for (body, field) in [
        (
            json!({"purpose": "call_recording", "call": "call-1", "granted": true}),
            "evidence",
        ),
        (
            json!({"purpose": "call_recording", "call": " ", "granted": true, "evidence": "IVR 1"}),
            "call",
        ),
        (
            json!({"purpose": "email_marketing", "call": "call-1", "granted": true, "evidence": "IVR 1"}),
            "purpose",
        ),
    ] {
        let (s, _, p) = app
            .call("POST", "/v1/subjects/c-1/call-consents", Some(body.clone()))
            .await;
        assert_eq!(
            (s.as_u16(), p["field"].as_str()),
            (422, Some(field)),
            "{body}: {p}"
        );
    }
    let (s, _, p) = app
        .call(
            "POST",
            "/v1/subjects/c-1/consents",
            Some(json!({"purpose": "call_recording", "granted": true, "source": "web", "evidence": "form"})),
        )
        .await;
    assert_eq!(s, 422, "a standing consent to recording is refused: {p}");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("one call only")),
        "{p}"
    );
    let (s, _, p) = app
        .call("POST", "/v1/decisions", Some(recording(None)))
        .await;
    assert_eq!(
        (s.as_u16(), p["field"].as_str()),
        (422, Some("call")),
        "{p}"
    );
    let (s, _, p) = app
        .call(
            "POST",
            "/v1/decisions/batch",
            Some(json!({"queries": [recording(Some("call-1")), recording(None)]})),
        )
        .await;
    assert_eq!(
        (s.as_u16(), p["field"].as_str()),
        (422, Some("queries[1].call")),
        "{p}"
    );

    async fn decide(app: &TestApp, call: &str) -> String {
        let body = json!({"subject": "c-1", "purpose": "call_recording", "categories": ["call_audio"], "call": call});
        let (s, _, d) = app.call("POST", "/v1/decisions", Some(body)).await;
        assert_eq!(s, 200, "{d}");
        d["reason"].as_str().unwrap_or_default().to_owned()
    }
    assert_eq!(decide(&app, "call-1").await, "consent_missing");
    let (s, _, b) = app
        .call(
            "POST",
            "/v1/subjects/c-1/call-consents",
            Some(json!({"purpose": "call_recording", "call": "call-1", "granted": true, "evidence": "IVR: pressed 1 for yes"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(decide(&app, "call-1").await, "consent_given");
    assert_eq!(
        decide(&app, "call-2").await,
        "consent_missing",
        "the next call asks again"
    );
    // A snapshot of the compact states does not hold per-call consents; a restart still knows.
    app.engine.snapshot().await.expect("snapshot");
    drop(app);
    let app = open().await;
    assert!(app.engine.loaded.snapshot_seq.is_some());
    assert_eq!(decide(&app, "call-1").await, "consent_given");
    // Withdrawn during the call (or the call ended): no more recording.
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/subjects/c-1/call-consents",
            Some(json!({"purpose": "call_recording", "call": "call-1", "granted": false})),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(decide(&app, "call-1").await, "consent_missing");
    // An erasure ends every consent of the person.
    app.call(
        "POST",
        "/v1/subjects/c-1/call-consents",
        Some(json!({"purpose": "call_recording", "call": "call-3", "granted": true, "evidence": "IVR 1"})),
    )
    .await;
    assert_eq!(decide(&app, "call-3").await, "consent_given");
    let (s, _, _) = app.call("POST", "/v1/subjects/c-1/erasure", None).await;
    assert_eq!(s, 201);
    assert_ne!(decide(&app, "call-3").await, "consent_given");
    app.finish().await;
}
