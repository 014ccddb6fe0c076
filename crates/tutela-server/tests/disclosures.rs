//! The disclosure log through the API: allowed and refused disclosures, the legal reference of
//! an authority disclosure, a legal bar that keeps it from the person's report until lifted.

use serde_json::json;
use tutela_runtime::requests::worker::Worker;

use crate::support::TestApp;

async fn report(app: &TestApp, subject: &str) -> serde_json::Value {
    let (_, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "access", "subject": subject})),
        )
        .await;
    let id = r["id"].as_str().expect("id").to_owned();
    app.call(
        "POST",
        &format!("/v1/requests/{id}/verify-by-agent"),
        Some(json!({"note": "id card", "agent": "agent-1"})),
    )
    .await;
    Worker {
        requests: app.requests.clone(),
    }
    .tick(jiff::Timestamp::now())
    .await
    .expect("tick");
    app.call("GET", &format!("/v1/requests/{id}/result"), None)
        .await
        .2
}

// covers: N26, N27, N28, N30
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disclosures_are_decided_logged_and_reported() {
    let app = TestApp::sqlite().await;
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/D-7",
            Some(json!({"relationship": "customer", "contract_kind": "telecommunications"})),
        )
        .await;
    assert_eq!(s, 201);
    // A processor in its area (N26).
    let (s, _, d) = app
        .call("POST", "/v1/disclosures", Some(json!({"subject": "D-7", "recipient": "finance_services", "purpose": "contract_performance", "categories": ["identity", "payment"], "country": "DE"})))
        .await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["legal_basis"], "eu-gdpr:A6-1-b");
    // A category the recipient does not get is refused, and the refusal is logged.
    let (s, _, p) = app
        .call("POST", "/v1/disclosures", Some(json!({"subject": "D-7", "recipient": "consulting_firm", "purpose": "consulting", "categories": ["identity"]})))
        .await;
    assert_eq!(
        (s.as_u16(), p["code"].as_str()),
        (422, Some("policy_violation")),
        "{p}"
    );
    // A third country without a ground (N31).
    let (s, _, _) = app
        .call("POST", "/v1/disclosures", Some(json!({"subject": "D-7", "recipient": "finance_services", "purpose": "contract_performance", "categories": ["identity"], "country": "CN"})))
        .await;
    assert_eq!(s, 422);
    // An authority on a court order (N28): the reference is required; a legal bar keeps it
    // from the person until it is lifted.
    let court = json!({"subject": "D-7", "recipient": "rights_holders", "purpose": "authority_disclosure", "categories": ["identity", "traffic"]});
    let (s, _, p) = app
        .call("POST", "/v1/disclosures", Some(court.clone()))
        .await;
    assert_eq!((s.as_u16(), p["field"].as_str()), (422, Some("reference")));
    let mut barred = court.clone();
    barred["reference"] = json!("LG Köln, 14 O 123/26, section 101 UrhG");
    barred["bar"] = json!({"reason": "the court forbids informing the customer for now"});
    let (s, _, b) = app.call("POST", "/v1/disclosures", Some(barred)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["legal_basis"], "eu-gdpr:A6-1-c");
    assert!(b["barred_because"].as_str().is_some());
    let bar_id = b["id"].as_str().expect("id").to_owned();
    let (_, _, list) = app.call("GET", "/v1/subjects/D-7/disclosures", None).await;
    assert_eq!(list["withheld"], 1);
    let shown: Vec<&str> = list["disclosures"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["recipient"].as_str())
        .collect();
    assert!(
        shown.contains(&"finance_services") && shown.contains(&"consulting_firm"),
        "refusals are in the log: {shown:?}"
    );
    assert!(!shown.contains(&"rights_holders"));
    let (_, _, office) = app
        .call(
            "GET",
            "/v1/subjects/D-7/disclosures?include_barred=true",
            None,
        )
        .await;
    assert!(
        office["disclosures"]
            .as_array()
            .expect("list")
            .iter()
            .any(|d| d["barred_because"].is_string())
    );

    let rep = report(&app, "D-7").await;
    let to: Vec<&str> = rep["disclosed_to"]
        .as_array()
        .expect("to")
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert_eq!(
        to,
        ["finance_services"],
        "refused and barred disclosures are not reported"
    );

    let (s, _, lifted) = app
        .call("POST", &format!("/v1/disclosures/{bar_id}/lift-bar"), None)
        .await;
    assert_eq!(s, 200);
    assert!(lifted["barred_because"].is_null());
    let (s, _, _) = app
        .call("POST", &format!("/v1/disclosures/{bar_id}/lift-bar"), None)
        .await;
    assert_eq!(s, 409);
    let rep = report(&app, "D-7").await;
    let to: Vec<&str> = rep["disclosed_to"]
        .as_array()
        .expect("to")
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert_eq!(to, ["finance_services", "rights_holders"]);
    assert!(rep["disclosures"].as_array().expect("d").iter().any(|d| {
        d["reference"]
            .as_str()
            .is_some_and(|r| r.contains("14 O 123/26"))
    }));
    app.finish().await;
}
