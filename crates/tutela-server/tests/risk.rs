//! The risk check end to end through the API: group data, a credit agency on loopback that
//! answers, answers slowly or fails, the scorecard, a decline to review, the agent's decision,
//! the one-year deletion, and the person's report.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tutela_core::risk::{self, TrainOptions};
use tutela_runtime::requests::worker::Worker;
use tutela_runtime::risk::RiskService;
use tutela_runtime::risk::agency::{AgencyClient, AgencySettings};

use crate::support::TestApp;

const GERMAN_CREDIT: &str = include_str!("../../../data/german-credit/germancredit.csv");

/// A credit agency on loopback: `ok`, `negative`, `slow` or `error`, and the bodies it got.
struct Agency {
    port: u16,
    mode: Arc<Mutex<&'static str>>,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Agency {
    async fn start() -> Agency {
        use axum::routing::post;
        let mode = Arc::new(Mutex::new("ok"));
        let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
        let (m, s) = (mode.clone(), seen.clone());
        let router = axum::Router::new().route(
            "/score",
            post(move |body: axum::body::Bytes| {
                let (m, s) = (m.clone(), s.clone());
                async move {
                    s.lock()
                        .expect("lock")
                        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    let mode = *m.lock().expect("lock");
                    match mode {
                        "slow" => {
                            tokio::time::sleep(std::time::Duration::from_millis(600)).await;
                            (
                                axum::http::StatusCode::OK,
                                r#"{"negative_entries":0}"#.to_owned(),
                            )
                        }
                        "error" => (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            "{}".to_owned(),
                        ),
                        "negative" => (
                            axum::http::StatusCode::OK,
                            r#"{"negative_entries":2,"rating":"E"}"#.to_owned(),
                        ),
                        _ => (
                            axum::http::StatusCode::OK,
                            r#"{"negative_entries":0,"rating":"A"}"#.to_owned(),
                        ),
                    }
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Agency { port, mode, seen }
    }

    fn set(&self, mode: &'static str) {
        *self.mode.lock().expect("lock") = mode;
    }
}

/// A scorecard trained on German Credit, and the best and the worst applicant of the file.
fn model() -> (
    risk::Scorecard,
    HashMap<String, String>,
    HashMap<String, String>,
) {
    let mut rows = tutela_core::csv::parse(GERMAN_CREDIT).expect("csv");
    let header = rows.remove(0);
    let opts = TrainOptions {
        target: "creditability".into(),
        positive_class: Some("bad".into()),
        drop: vec!["personal_status_and_sex".into(), "foreign_worker".into()],
        ..TrainOptions::default()
    };
    let card = risk::train(&header, &rows, &opts, None)
        .expect("train")
        .scorecard;
    let applicant = |row: &Vec<String>| -> HashMap<String, String> {
        header
            .iter()
            .zip(row)
            .filter(|(h, _)| card.features.iter().any(|f| &f.name == *h))
            .map(|(h, v)| (h.clone(), v.clone()))
            .collect()
    };
    let mut scored: Vec<(f64, HashMap<String, String>)> = rows
        .iter()
        .map(|r| {
            let a = applicant(r);
            (card.score(&a).expect("score").probability, a)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let worst = scored[0].1.clone();
    let best = scored[scored.len() - 1].1.clone();
    (card, best, worst)
}

fn identity() -> Value {
    json!({"name": "Rita Risiko", "address": "Weg 1, 53227 Bonn", "date_of_birth": "1980-01-01", "iban": "DE89370400440532013000"})
}

// covers: N11, N12, N13, N14, N15
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_risk_check_end_to_end() {
    let agency = Agency::start().await;
    let (card, best, worst) = model();
    let app = TestApp::sqlite().await;
    let mut settings = AgencySettings::new(&format!("http://127.0.0.1:{}/score", agency.port));
    settings.timeout = std::time::Duration::from_millis(200);
    settings.backoff = std::time::Duration::from_millis(10);
    settings.breaker_failures = 3;
    let service = RiskService::new(
        app.engine.clone(),
        card,
        "test-model".into(),
        Some(AgencyClient::new(settings)),
    );
    let app = app.with_risk(service);
    for id in ["K-1", "K-2", "K-3"] {
        let (s, _, _) = app
            .call(
                "PUT",
                &format!("/v1/subjects/{id}"),
                Some(json!({"relationship": "customer", "email": format!("{id}@example.org")})),
            )
            .await;
        assert_eq!(s, 201);
    }

    // Group data enough: no agency; the best applicant is accepted.
    let (s, _, c) = app
        .call(
            "POST",
            "/v1/risk-checks",
            Some(json!({"subject": "K-1", "facts": best, "group_contract_months": 36})),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["outcome"], "accept");
    assert_eq!(c["agency_queried"], false);
    assert!(c["probability"].as_f64().is_some_and(|p| p >= 0.8));
    assert!(agency.seen.lock().expect("lock").is_empty());
    let created: jiff::Timestamp = c["created_at"]
        .as_str()
        .expect("created")
        .parse()
        .expect("ts");
    let expires: jiff::Timestamp = c["expires_at"]
        .as_str()
        .expect("expires")
        .parse()
        .expect("ts");
    let days = (expires - created).total(jiff::Unit::Hour).expect("span") / 24.0;
    assert!(
        (365.0..=366.0).contains(&days),
        "kept one year (N15): {days}"
    );

    // Group data not enough: the agency is needed, and gets only the four fields (N13).
    let (s, _, p) = app
        .call(
            "POST",
            "/v1/risk-checks",
            Some(json!({"subject": "K-2", "facts": best})),
        )
        .await;
    assert_eq!((s.as_u16(), p["field"].as_str()), (422, Some("identity")));
    let (s, _, c) = app
        .call(
            "POST",
            "/v1/risk-checks",
            Some(json!({"subject": "K-2", "facts": best, "identity": identity()})),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["agency_queried"], true);
    assert_eq!(c["outcome"], "accept");
    let sent = agency
        .seen
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("the agency was asked");
    let mut keys: Vec<&str> = sent
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["address", "date_of_birth", "iban", "name"]);

    // Negative entries at the agency: a decline, which waits for a person (Art. 22(3)).
    agency.set("negative");
    let (_, _, declined) = app
        .call(
            "POST",
            "/v1/risk-checks",
            Some(json!({"subject": "K-2", "facts": best, "identity": identity()})),
        )
        .await;
    assert_eq!(declined["outcome"], "decline");
    assert_eq!(declined["review"], "pending");
    assert!(
        declined["reasons"]["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x == "agency_negative_entries"))
    );
    // The worst applicant of the file is declined by the scorecard alone, with its reasons.
    let (_, _, low) = app
        .call(
            "POST",
            "/v1/risk-checks",
            Some(json!({"subject": "K-3", "facts": worst, "group_contract_months": 36})),
        )
        .await;
    assert_eq!(low["outcome"], "decline");
    let reasons = low["reasons"]["reasons"].as_array().expect("reasons");
    assert!(!reasons.is_empty() && reasons.len() <= 3);
    assert!(
        reasons[0]["points_lost"].as_f64() >= reasons[reasons.len() - 1]["points_lost"].as_f64()
    );
    let (_, _, queue) = app.call("GET", "/v1/risk-reviews", None).await;
    assert_eq!(queue["pending"].as_array().map(Vec::len), Some(2));
    let id = declined["id"].as_str().expect("id");
    let (s, _, p) = app
        .call(
            "POST",
            &format!("/v1/risk-checks/{id}/review"),
            Some(json!({"decision": "accept", "note": "", "agent": "a-1"})),
        )
        .await;
    assert_eq!((s.as_u16(), p["field"].as_str()), (422, Some("note")));
    let (s, _, r) = app
        .call("POST", &format!("/v1/risk-checks/{id}/review"), Some(json!({"decision": "accept", "note": "entries settled, proof seen", "agent": "a-1"})))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["review"].as_str(), r["reviewer"].as_str()),
        (Some("accepted"), Some("a-1"))
    );
    let (s, _, _) = app
        .call(
            "POST",
            &format!("/v1/risk-checks/{id}/review"),
            Some(json!({"decision": "decline", "note": "again", "agent": "a-2"})),
        )
        .await;
    assert_eq!(s, 409, "reviewed once");

    // The other decline is reviewed in the console, by a signed-in agent.
    let secret = tutela_runtime::operators::create(
        &app.engine.store,
        "erika",
        tutela_runtime::operators::Role::Agent,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("agent")
    .totp_secret;
    let mut erika = crate::pages::Browser::new(&app);
    erika
        .operator("erika", "correct horse battery", &secret)
        .await;
    let low_id = low["id"].as_str().expect("id");
    let page = erika.get("/console/reviews").await;
    assert!(page.body.contains(low_id), "{}", page.body);
    let csrf = page.hidden("csrf");
    let p = erika
        .post(
            &format!("/console/reviews/{low_id}"),
            &[
                ("csrf", &csrf),
                ("decision", "decline"),
                ("note", "score confirmed with the customer file"),
            ],
        )
        .await;
    assert_eq!(p.status, axum::http::StatusCode::SEE_OTHER, "{}", p.body);
    let (_, _, r) = app
        .call("GET", &format!("/v1/risk-checks/{low_id}"), None)
        .await;
    assert_eq!(r["review"], "declined", "{r}");
    assert!(
        r["reviewer"]
            .as_str()
            .is_some_and(|x| x.starts_with("operator:op_")),
        "{r}"
    );
    assert!(!erika.get("/console/reviews").await.body.contains(low_id));

    // An agency that answers too slowly: the check completes as refer, never as accept.
    agency.set("slow");
    let (_, _, c) = app
        .call(
            "POST",
            "/v1/risk-checks",
            Some(json!({"subject": "K-2", "facts": best, "identity": identity()})),
        )
        .await;
    assert_eq!(c["outcome"], "refer", "{c}");
    assert!(
        c["reasons"]["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x == "agency_unavailable"))
    );
    // Failing again and again opens the circuit: the agency is left alone for a while.
    agency.set("error");
    for _ in 0..2 {
        let (_, _, c) = app
            .call(
                "POST",
                "/v1/risk-checks",
                Some(json!({"subject": "K-2", "facts": best, "identity": identity()})),
            )
            .await;
        assert_eq!(c["outcome"], "refer");
    }
    let before = agency.seen.lock().expect("lock").len();
    let (_, _, c) = app
        .call(
            "POST",
            "/v1/risk-checks",
            Some(json!({"subject": "K-2", "facts": best, "identity": identity()})),
        )
        .await;
    assert_eq!(c["outcome"], "refer");
    assert_eq!(
        agency.seen.lock().expect("lock").len(),
        before,
        "the open circuit sends nothing"
    );

    // Bad input names the field; the policy refuses an erased person.
    let mut odd = best.clone();
    odd.insert("shoe_size".into(), "44".into());
    let (s, _, p) = app
        .call(
            "POST",
            "/v1/risk-checks",
            Some(json!({"subject": "K-1", "facts": odd, "group_contract_months": 36})),
        )
        .await;
    assert_eq!(
        (s.as_u16(), p["field"].as_str()),
        (422, Some("facts.shoe_size"))
    );
    let (s, _, _) = app.call("POST", "/v1/subjects/K-3/erasure", None).await;
    assert_eq!(s, 201);
    let (s, _, p) = app
        .call(
            "POST",
            "/v1/risk-checks",
            Some(json!({"subject": "K-3", "facts": best, "group_contract_months": 36})),
        )
        .await;
    assert_eq!(
        (s.as_u16(), p["code"].as_str()),
        (422, Some("policy_violation")),
        "{p}"
    );

    // The person's access report shows the checks, their logic and the agency reached.
    let (_, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "access", "subject": "K-2"})),
        )
        .await;
    let rid = r["id"].as_str().expect("id").to_owned();
    app.call(
        "POST",
        &format!("/v1/requests/{rid}/verify-by-agent"),
        Some(json!({"note": "id card", "agent": "agent-1"})),
    )
    .await;
    let worker = Worker {
        requests: app.requests.clone(),
    };
    worker.tick(jiff::Timestamp::now()).await.expect("tick");
    let (_, _, rep) = app
        .call("GET", &format!("/v1/requests/{rid}/result"), None)
        .await;
    assert!(
        rep["risk_checks"].as_array().is_some_and(|c| c.len() >= 5),
        "{}",
        rep["risk_checks"]
    );
    assert!(
        rep["disclosed_to"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "credit_agency"))
    );
    assert!(
        rep["automated_decisions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["used_for_this_person"] == true))
    );

    // One year on, the checks and their inputs are gone (N15).
    let first = c["id"].as_str().expect("id").to_owned();
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(367 * 24);
    let t = tutela_runtime::jobs::purges::step(&app.requests, later)
        .await
        .expect("purges");
    assert!(t.risk_checks >= 8, "{t:?}");
    let (s, _, _) = app
        .call("GET", &format!("/v1/risk-checks/{first}"), None)
        .await;
    assert_eq!(s, 404);
    app.finish().await;
}
