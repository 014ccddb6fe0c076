//! Data subject requests through the API: intake, a code read from a real SMTP sink, the
//! lifecycle, the worker's steps, the Art. 15 report and the Art. 20 export, field by field.

use serde_json::{Value, json};
use tutela_runtime::requests::worker::Worker;
use tutela_store::Store;

use crate::smtp_sink::SmtpSink;
use crate::support::TestApp;

async fn tick(app: &TestApp) -> tutela_runtime::requests::worker::TickReport {
    Worker {
        requests: app.requests.clone(),
    }
    .tick(jiff::Timestamp::now())
    .await
    .expect("tick")
}

async fn customer(app: &TestApp, id: &str, email: &str) {
    let (s, _, b) = app
        .call(
            "PUT",
            &format!("/v1/subjects/{id}"),
            Some(json!({"relationship": "customer", "contract_kind": "telecommunications", "email": email})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

async fn file(app: &TestApp, body: Value) -> Value {
    let (s, _, b) = app.call("POST", "/v1/requests", Some(body)).await;
    assert_eq!(s, 201, "{b}");
    b
}

async fn verified(app: &TestApp, sink: &SmtpSink, body: Value, email: &str) -> String {
    let r = file(app, body).await;
    assert_eq!(r["status"], "awaiting_verification");
    let id = r["id"].as_str().expect("id").to_owned();
    let code = sink.code_for(email).expect("a code was mailed");
    let (s, _, v) = app.act(&id, "verify", json!({"code": code})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "verified");
    id
}

/// The files of a request's ZIP export.
pub async fn zip_files(app: &TestApp, id: &str) -> Vec<(String, String)> {
    let res = app
        .router
        .clone()
        .oneshot_get(&format!("/v1/requests/{id}/result?format=zip"))
        .await;
    assert_eq!(res.0, 200);
    assert_eq!(res.1, "application/zip");
    unzip(&res.2)
}

/// A stored ZIP's files, read back (the export writes the "stored" method).
pub fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut at = 0;
    while at + 30 <= bytes.len() && bytes[at..at + 4] == [0x50, 0x4b, 3, 4] {
        let u16_at = |i: usize| usize::from(u16::from_le_bytes([bytes[i], bytes[i + 1]]));
        let u32_at = |i: usize| {
            u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize
        };
        assert_eq!(u16_at(at + 8), 0, "stored");
        let size = u32_at(at + 18);
        let name_len = u16_at(at + 26);
        let extra = u16_at(at + 28);
        let name = String::from_utf8(bytes[at + 30..at + 30 + name_len].to_vec()).expect("utf-8");
        let start = at + 30 + name_len + extra;
        let data = String::from_utf8(bytes[start..start + size].to_vec()).expect("utf-8 data");
        files.push((name, data));
        at = start + size;
    }
    assert_eq!(
        &bytes[at..at + 4],
        &[0x50, 0x4b, 1, 2],
        "central directory follows"
    );
    files
}

/// RFC 4180, enough to read the export back: quoted fields, doubled quotes, CRLF.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

// covers: N9a, N9h, N10
async fn access_request_end_to_end(app: &TestApp, sink: &SmtpSink) {
    customer(app, "A-1", "a1@example.org").await;
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/subjects/A-1/consents",
            Some(json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "web", "evidence": "double opt-in"})),
        )
        .await;
    assert_eq!(s, 201);
    let r = file(
        app,
        json!({"type": "access", "subject": "A-1", "details": {"lang": "en"}}),
    )
    .await;
    let id = r["id"].as_str().expect("id").to_owned();
    assert_eq!(r["status"], "awaiting_verification");
    let received: jiff::Timestamp = r["received_at"]
        .as_str()
        .expect("received")
        .parse()
        .expect("ts");
    let due: jiff::Timestamp = r["due_at"].as_str().expect("due").parse().expect("ts");
    let days = (due - received).total(jiff::Unit::Hour).expect("span") / 24.0;
    assert!((27.0..=32.0).contains(&days), "one month: {days} days");

    // Nothing is released before the identity is verified.
    let (s, _, p) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    assert_eq!(
        (s.as_u16(), p["code"].as_str()),
        (403, Some("not_verified"))
    );
    let code = sink
        .code_for("a1@example.org")
        .expect("code mailed to the address on file");
    assert_eq!(code.len(), 8);
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let (s, _, p) = app.act(&id, "verify", json!({"code": wrong})).await;
    assert_eq!(
        (s.as_u16(), p["code"].as_str()),
        (422, Some("code_invalid"))
    );
    assert_eq!(p["field"], "code");
    let (s, _, v) = app.act(&id, "verify", json!({"code": code})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["verification"], "code");

    let t = tick(app).await;
    assert!(t.started >= 1 && t.completed >= 1, "{t:?}");
    let (_, _, v) = app.call("GET", &format!("/v1/requests/{id}"), None).await;
    assert_eq!(v["status"], "completed", "{v}");
    assert!(
        v["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["status"] == "done")
    );
    let events: Vec<&str> = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        events,
        [
            "received",
            "awaiting_verification",
            "verified",
            "started",
            "completed"
        ]
    );
    assert_eq!(v["events"][2]["actor"], "requester");

    // The report, item by item of Art. 15.
    let (s, ct, rep) = app
        .call(
            "GET",
            &format!("/v1/requests/{id}/result?format=json"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(ct, "application/json");
    assert_eq!(rep["language"], "en");
    assert_eq!(rep["subject"], "A-1");
    assert_eq!(rep["processed"], true);
    let purposes = rep["purposes"].as_array().expect("purposes");
    let email = purposes
        .iter()
        .find(|p| p["id"] == "email_marketing")
        .expect("email marketing listed");
    assert_eq!(email["legal_basis"], "eu-gdpr:A6-1-a");
    assert!(
        purposes
            .iter()
            .any(|p| p["id"] == "contract_performance" && p["legal_basis"] == "eu-gdpr:A6-1-b")
    );
    assert!(
        !purposes.iter().any(|p| p["id"] == "phone_marketing"),
        "no consent, not listed"
    );
    assert!(
        rep["categories"]
            .as_array()
            .expect("cats")
            .iter()
            .any(|c| c["id"] == "contact")
    );
    assert!(
        rep["recipients"]
            .as_array()
            .expect("recipients")
            .iter()
            .any(|r| r["id"] == "it_services")
    );
    assert!(
        rep["retention"]
            .as_array()
            .expect("retention")
            .iter()
            .any(|r| r["period"] == "P8Y")
    );
    assert!(rep["rights"].as_array().expect("rights").len() >= 7);
    assert_eq!(
        rep["complaint"]["name"],
        "Federal Commissioner for Data Protection and Freedom of Information (BfDI)"
    );
    assert!(
        rep["automated_decisions"]
            .as_array()
            .expect("adm")
            .iter()
            .any(|a| a["purpose"] == "risk_check")
    );
    assert!(
        rep["transfer_safeguards"]
            .as_array()
            .expect("transfers")
            .iter()
            .any(|t| t["country"] == "IN")
    );
    let history = rep["copy"]["tutela"]["history"]
        .as_array()
        .expect("history");
    assert!(
        history
            .iter()
            .any(|h| h["event"] == "consent_given" && h["evidence"] == "double opt-in")
    );
    assert_eq!(rep["copy"]["tutela"]["email"], "a1@example.org");
    // Each consent links the notice in force when it was given (N33).
    let given = history
        .iter()
        .find(|h| h["event"] == "consent_given")
        .expect("given");
    let version = given["policy_version"].as_str().expect("policy version");
    assert_eq!(version, app.engine.policy().policy_version());
    let (_, _, page) = app
        .call(
            "GET",
            &format!("/v1/requests/{id}/result?format=html"),
            None,
        )
        .await;
    assert!(
        page.as_str()
            .is_some_and(|h| h.contains(&format!("/v1/notice?version={version}")))
    );
    let (s, ct, html) = app
        .call(
            "GET",
            &format!("/v1/requests/{id}/result?format=html"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(ct.starts_with("text/html"));
    let html = html.as_str().expect("html");
    assert!(html.contains("<html lang=\"en\">") && html.contains("Art. 15(1)(h)"));
    let (s, _, p) = app
        .call("GET", &format!("/v1/requests/{id}/result?format=zip"), None)
        .await;
    assert_eq!(
        (s.as_u16(), p["code"].as_str()),
        (410, Some("result_gone")),
        "an access request has no zip"
    );
}

// covers: N9g
async fn portability_export_is_a_zip_of_csv(app: &TestApp, sink: &SmtpSink) {
    customer(app, "P-1", "p1@example.org").await;
    for (purpose, channel) in [("email_marketing", Some("email")), ("ai_training", None)] {
        let mut body = json!({"purpose": purpose, "granted": true, "source": "app, \"v2\"", "evidence": "tap"});
        if let Some(c) = channel {
            body["channel"] = json!(c);
        }
        let (s, _, b) = app
            .call("POST", "/v1/subjects/P-1/consents", Some(body))
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let id = verified(
        app,
        sink,
        json!({"type": "portability", "email": "p1@example.org"}),
        "p1@example.org",
    )
    .await;
    tick(app).await;
    let res = app
        .router
        .clone()
        .oneshot_get(&format!("/v1/requests/{id}/result?format=zip"))
        .await;
    assert_eq!(res.0, 200);
    assert_eq!(res.1, "application/zip");
    let files = unzip(&res.2);
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        ["tutela/person.csv", "tutela/consents.csv", "data.json"]
    );
    let person = parse_csv(&files[0].1);
    assert_eq!(person[0], ["id", "email", "relationship"]);
    assert_eq!(person[1], ["P-1", "p1@example.org", "customer"]);
    let consents = parse_csv(&files[1].1);
    assert_eq!(
        consents[0],
        [
            "at",
            "event",
            "purpose",
            "channel",
            "source",
            "notice_version"
        ]
    );
    assert_eq!(consents.len(), 3);
    assert_eq!(consents[1][1], "consent_given");
    assert_eq!(consents[1][2], "email_marketing");
    assert_eq!(consents[1][3], "email");
    assert_eq!(consents[1][4], "app, \"v2\"", "quoted field read back");
    assert_eq!(consents[2][2], "ai_training");
    let json: Value = serde_json::from_str(&files[2].1).expect("json");
    assert_eq!(json["tutela"]["person"]["email"], "p1@example.org");
    assert_eq!(json["tutela"]["consents"].as_array().map(Vec::len), Some(2));
}

// covers: N9c, N9d, N9e, N9f, N17
async fn requests_change_what_decisions_allow(app: &TestApp, sink: &SmtpSink) {
    customer(app, "D-1", "d1@example.org").await;
    let decide = |purpose: &'static str, channel: Option<&'static str>| {
        let mut q = json!({"subject": "D-1", "purpose": purpose, "categories": ["contact"]});
        if let Some(c) = channel {
            q["channel"] = json!(c);
        }
        async move {
            let (_, _, d) = app.call("POST", "/v1/decisions", Some(q)).await;
            d
        }
    };
    let (s, _, _) = app
        .call("POST", "/v1/subjects/D-1/consents", Some(json!({"purpose": "phone_marketing", "channel": "phone", "granted": true, "source": "call"})))
        .await;
    assert_eq!(s, 201);
    assert_eq!(
        decide("phone_marketing", Some("phone")).await["allowed"],
        true
    );
    assert_eq!(
        decide("email_marketing", Some("email")).await["allowed"],
        true,
        "section 7(3) UWG"
    );

    verified(
        app,
        sink,
        json!({"type": "withdraw_consent", "subject": "D-1"}),
        "d1@example.org",
    )
    .await;
    tick(app).await;
    assert_eq!(
        decide("phone_marketing", Some("phone")).await["reason"],
        "consent_withdrawn"
    );

    verified(
        app,
        sink,
        json!({"type": "objection", "subject": "D-1", "details": {"scope": "direct_marketing"}}),
        "d1@example.org",
    )
    .await;
    tick(app).await;
    assert_eq!(
        decide("email_marketing", Some("email")).await["allowed"],
        false
    );

    verified(app, sink, json!({"type": "restriction", "subject": "D-1", "details": {"reason": "accuracy contested"}}), "d1@example.org").await;
    tick(app).await;
    assert_eq!(decide("customer_survey", None).await["allowed"], false);
    let (_, _, v) = app.call("GET", "/v1/subjects/D-1", None).await;
    assert_eq!(v["restricted"], true);

    verified(
        app,
        sink,
        json!({"type": "erasure", "subject": "D-1"}),
        "d1@example.org",
    )
    .await;
    let t = tick(app).await;
    assert_eq!(t.completed, 1);
    let (_, _, v) = app.call("GET", "/v1/subjects/D-1", None).await;
    assert_eq!(v["erased"], true);
    // Running the same step again changes nothing (the worker resumes without doing it twice).
    let before = app
        .engine
        .store
        .history("D-1")
        .await
        .expect("history")
        .len();
    let t = tick(app).await;
    assert_eq!(t.started, 0);
    assert_eq!(
        app.engine
            .store
            .history("D-1")
            .await
            .expect("history")
            .len(),
        before
    );
}

// covers: N10
async fn unknown_requesters_wait_for_an_agent(app: &TestApp) {
    let r = file(app, json!({"type": "unclassified", "email": "stranger@example.org", "channel": "email", "details": {"text": "Hallo?"}})).await;
    let id = r["id"].as_str().expect("id").to_owned();
    assert_eq!(r["status"], "awaiting_verification");
    let (s, _, p) = app.act(&id, "verify", json!({"code": "12345678"})).await;
    assert_eq!(
        (s.as_u16(), p["code"].as_str()),
        (409, Some("invalid_transition")),
        "no code was sent: {p}"
    );
    let (s, _, p) = app.act(&id, "verify-by-agent", json!({"note": " "})).await;
    assert_eq!((s.as_u16(), p["field"].as_str()), (422, Some("note")));
    // Issue 31: an agent names only a person the request found or one who exists; X-9 is
    // neither (the old code took any id and completed an access about nobody).
    let (s, _, p) = app.act(&id, "verify-by-agent", json!({"note": "letter with signature matching the contract", "agent": "agent-7", "subject": "X-9"})).await;
    assert_eq!(
        (s.as_u16(), p["field"].as_str()),
        (422, Some("subject")),
        "{p}"
    );
    // Nobody was found for the address: verified without a name.
    let (s, _, v) = app
        .act(
            &id,
            "verify-by-agent",
            json!({"note": "letter with signature matching the contract", "agent": "agent-7"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["verification"], "agent");
    assert!(v.get("subject").is_none(), "{v}");
    // Unclassified: the worker leaves it for the agent.
    assert_eq!(tick(app).await.started, 0);
    let (s, _, v) = app.act(&id, "classify", json!({"type": "access"})).await;
    assert_eq!(s, 200, "{v}");
    tick(app).await;
    let (_, _, v) = app.call("GET", &format!("/v1/requests/{id}"), None).await;
    // Nothing about the stranger is held anywhere: that is the answer, not a completed access.
    assert_eq!(v["status"], "no_data_held", "{v}");
    assert_eq!(v["events"][2]["actor"], "agent-7");
    let (_, _, rep) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    assert_eq!(rep["outcome"], "no_data_held", "{rep}");
}

// covers: N9h
async fn extension_refusal_and_listing(app: &TestApp) {
    let r = file(app, json!({"type": "access", "subject": "nobody-1"})).await;
    let id = r["id"].as_str().expect("id").to_owned();
    let (s, _, v) = app
        .act(
            &id,
            "extend",
            json!({"months": 2, "reason": "data in many systems"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["extended_months"], 2);
    assert!(v["due_at"].as_str() > r["due_at"].as_str());
    let (s, _, p) = app
        .act(&id, "extend", json!({"months": 1, "reason": "more"}))
        .await;
    assert_eq!((s.as_u16(), p["field"].as_str()), (422, Some("months")));
    let (s, _, p) = app.act(&id, "refuse", json!({"reason": ""})).await;
    assert_eq!((s.as_u16(), p["field"].as_str()), (422, Some("reason")));
    let (s, _, v) = app
        .act(
            &id,
            "refuse",
            json!({"reason": "fifth identical request this month"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "refused");
    assert_eq!(
        v["complaint_authority"]["id"], "ldi_nrw",
        "no telecommunication contract known"
    );
    let (s, _, p) = app.act(&id, "refuse", json!({"reason": "again"})).await;
    assert_eq!(
        (s.as_u16(), p["code"].as_str()),
        (409, Some("invalid_transition"))
    );

    let (s, _, l) = app.call("GET", "/v1/requests?status=refused", None).await;
    assert_eq!(s, 200);
    assert!(
        l["requests"]
            .as_array()
            .expect("list")
            .iter()
            .all(|r| r["status"] == "refused")
    );
    assert!(
        l["requests"]
            .as_array()
            .expect("list")
            .iter()
            .any(|r| r["id"] == id.as_str())
    );
    let (_, _, l) = app.call("GET", "/v1/requests?overdue=true", None).await;
    assert_eq!(l["requests"].as_array().map(Vec::len), Some(0));
    let (s, _, p) = app.call("GET", "/v1/requests?status=lost", None).await;
    assert_eq!((s.as_u16(), p["field"].as_str()), (422, Some("status")));
}

async fn bad_requests_name_the_field(app: &TestApp) {
    for (body, field) in [
        (json!({"type": "gossip", "subject": "x"}), "type"),
        (json!({"type": "access"}), "subject"),
        (json!({"type": "access", "email": "no-at-sign"}), "email"),
        (
            json!({"type": "access", "subject": "x", "channel": "pigeon"}),
            "channel",
        ),
        (
            json!({"type": "objection", "subject": "x", "details": {"scope": "legitimate_interest"}}),
            "details.reason",
        ),
        (
            json!({"type": "objection", "subject": "x", "details": {"scope": "astrology"}}),
            "details.scope",
        ),
        (
            json!({"type": "withdraw_consent", "subject": "x", "details": {"purpose": "astrology"}}),
            "details.purpose",
        ),
        (
            json!({"type": "rectification", "subject": "x", "details": {}}),
            "details.changes",
        ),
        (
            json!({"type": "access", "subject": "x", "details": {"lang": "fr"}}),
            "details.lang",
        ),
        // A known key of another type is refused at intake, naming it.
        (
            json!({"type": "access", "subject": "x", "details": {"lang": 5}}),
            "details.lang",
        ),
        (
            json!({"type": "rectification", "subject": "x", "details": {"changes": {"city": 5}}}),
            "details.changes.city",
        ),
        (
            json!({"type": "access", "subject": "x", "details": {"identities": {"msisdn": 4915}}}),
            "details.identities.msisdn",
        ),
        (
            json!({"type": "access", "subject": "x", "details": "please"}),
            "details",
        ),
        (
            json!({"type": "access", "subject": "x", "extra": 1}),
            "extra",
        ),
    ] {
        let (s, ct, p) = app.call("POST", "/v1/requests", Some(body.clone())).await;
        assert_eq!(s, 422, "{body}: {p}");
        assert_eq!(ct, "application/problem+json");
        assert!(
            p["field"].as_str().unwrap_or("").contains(field),
            "{body}: {p}"
        );
    }
    let (s, _, _) = app.call("GET", "/v1/requests/req_missing", None).await;
    assert_eq!(s, 404);
    let (s, _, _) = app
        .call("GET", "/v1/requests/req_missing/result?format=pdf", None)
        .await;
    assert_eq!(s, 422);
}

// covers: N10
async fn codes_expire_and_lock(app: &TestApp, sink: &SmtpSink) {
    customer(app, "B-1", "b1@example.org").await;
    let r = file(app, json!({"type": "access", "subject": "B-1"})).await;
    let id = r["id"].as_str().expect("id").to_owned();
    let code = sink.code_for("b1@example.org").expect("code");
    // 16 minutes later the code is no good.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(16 * 60);
    assert!(matches!(
        app.requests.verify_code(&id, &code, later).await,
        Err(tutela_runtime::requests::RequestError::CodeExpired)
    ));
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    for left in (1..5).rev() {
        let (s, _, p) = app.act(&id, "verify", json!({"code": wrong})).await;
        assert_eq!(s, 422);
        assert!(
            p["detail"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("{left} attempts left")),
            "{p}"
        );
    }
    let (s, _, p) = app.act(&id, "verify", json!({"code": wrong})).await;
    assert_eq!((s.as_u16(), p["code"].as_str()), (423, Some("code_locked")));
    // Locked: even the right code no longer works.
    let (s, _, _) = app.act(&id, "verify", json!({"code": code})).await;
    assert_eq!(s, 423);
    let (_, _, v) = app.call("GET", &format!("/v1/requests/{id}"), None).await;
    assert_eq!(v["status"], "awaiting_verification");
    // The code is stored only as a salted hash.
    let stored = tutela_store::RequestStore::code(&app.engine.store, &id)
        .await
        .expect("code")
        .expect("row");
    assert_ne!(stored.code_hash, code);
    assert!(!stored.code_hash.contains(&code));

    // Guesses sent at once get no more tries between them than one person typing: of twenty
    // wrong codes at the same moment, four are told how many tries are left, the rest find the
    // code locked, and then the right one is locked out too.
    customer(app, "B-2", "b2@example.org").await;
    let r = file(app, json!({"type": "access", "subject": "B-2"})).await;
    let id = r["id"].as_str().expect("id").to_owned();
    let code = sink.code_for("b2@example.org").expect("code");
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let now = jiff::Timestamp::now();
    let guesses = (0..20).map(|_| app.requests.verify_code(&id, wrong, now));
    let outcomes = futures_util::future::join_all(guesses).await;
    let invalid = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                Err(tutela_runtime::requests::RequestError::CodeInvalid { .. })
            )
        })
        .count();
    let locked = outcomes
        .iter()
        .filter(|o| matches!(o, Err(tutela_runtime::requests::RequestError::CodeLocked)))
        .count();
    assert_eq!((invalid, locked), (4, 16), "{outcomes:?}");
    assert!(matches!(
        app.requests.verify_code(&id, &code, now).await,
        Err(tutela_runtime::requests::RequestError::CodeLocked)
    ));
}

// covers: N9h
async fn extension_and_refusal_are_told_to_the_person(app: &TestApp, sink: &SmtpSink) {
    customer(app, "E-1", "e1@example.org").await;
    let r = file(app, json!({"type": "access", "subject": "E-1"})).await;
    let id = r["id"].as_str().expect("id").to_owned();
    let before = sink.mails().len();
    let (s, _, _) = app
        .act(
            &id,
            "extend",
            json!({"months": 1, "reason": "many systems"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = app
        .act(
            &id,
            "refuse",
            json!({"reason": "identical to last week's request"}),
        )
        .await;
    assert_eq!(s, 200);
    let mails = sink.mails();
    assert_eq!(mails.len(), before + 2);
    let extension = &mails[before];
    assert_eq!(extension.to, ["e1@example.org"]);
    assert!(
        extension.data.contains("many systems"),
        "{}",
        extension.data
    );
    let refusal = &mails[before + 1];
    assert!(
        refusal.data.contains("identical to last week"),
        "{}",
        refusal.data
    );
    assert!(
        refusal.data.contains("Graurheindorfer"),
        "the competent authority: {}",
        refusal.data
    );
    let (_, _, v) = app.call("GET", &format!("/v1/requests/{id}"), None).await;
    let events: Vec<&str> = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(
        events,
        [
            "received",
            "awaiting_verification",
            "extended",
            "person_told",
            "refused",
            "person_told"
        ]
    );
}

async fn results_are_deleted_after_their_retention(app: &TestApp, sink: &SmtpSink) {
    customer(app, "R-1", "r1@example.org").await;
    let id = verified(
        app,
        sink,
        json!({"type": "access", "subject": "R-1"}),
        "r1@example.org",
    )
    .await;
    tick(app).await;
    let (s, _, _) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    assert_eq!(s, 200);
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(31 * 24);
    tutela_runtime::jobs::purges::step(&app.requests, later)
        .await
        .expect("purges");
    let (s, _, p) = app
        .call("GET", &format!("/v1/requests/{id}/result"), None)
        .await;
    assert_eq!((s.as_u16(), p["code"].as_str()), (410, Some("result_gone")));
    let (_, _, v) = app.call("GET", &format!("/v1/requests/{id}"), None).await;
    assert_eq!(
        v["status"], "completed",
        "the request itself stays as proof"
    );
    let stored = tutela_store::RequestStore::request(&app.engine.store, &id)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(stored.email, None);
    assert_eq!(stored.details, None);
}

async fn all(app: &TestApp, sink: &SmtpSink) {
    access_request_end_to_end(app, sink).await;
    portability_export_is_a_zip_of_csv(app, sink).await;
    requests_change_what_decisions_allow(app, sink).await;
    unknown_requesters_wait_for_an_agent(app).await;
    extension_refusal_and_listing(app).await;
    bad_requests_name_the_field(app).await;
    codes_expire_and_lock(app, sink).await;
    extension_and_refusal_are_told_to_the_person(app, sink).await;
    results_are_deleted_after_their_retention(app, sink).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_on_sqlite() {
    let sink = SmtpSink::start().await;
    let app = TestApp::sqlite_with_mailer(sink.mailer()).await;
    all(&app, &sink).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_on_postgres() {
    let sink = SmtpSink::start().await;
    let Some(app) = TestApp::postgres_with_mailer(sink.mailer()).await else {
        return;
    };
    all(&app, &sink).await;
    app.finish().await;
}

/// Raw bytes of a GET, for binary results.
trait RawGet {
    async fn oneshot_get(self, path: &str) -> (u16, String, Vec<u8>);
}

impl RawGet for axum::Router {
    async fn oneshot_get(self, path: &str) -> (u16, String, Vec<u8>) {
        use tower::ServiceExt;
        let req = axum::http::Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {}", crate::support::TOKEN))
            .body(axum::body::Body::empty())
            .expect("request");
        let res = self.oneshot(req).await.expect("response");
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = axum::body::to_bytes(res.into_body(), 64 << 20)
            .await
            .expect("body");
        (status, ct, bytes.to_vec())
    }
}
