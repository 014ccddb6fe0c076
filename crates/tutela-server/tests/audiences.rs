//! Marketing audiences through the API: who may be contacted, why not the others, and the
//! objection notice section 7(3) UWG asks for.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use crate::support::{TOKEN, TestApp};

// covers: N16, N17, N18, N19
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audiences_follow_the_ledger() {
    let app = TestApp::sqlite().await;
    for (id, rel) in [
        ("cust", "customer"),
        ("cons", "customer"),
        ("obj", "customer"),
        ("pros", "prospect"),
        ("restr", "customer"),
        ("gone", "customer"),
    ] {
        let (s, _, _) = app
            .call(
                "PUT",
                &format!("/v1/subjects/{id}"),
                Some(json!({"relationship": rel})),
            )
            .await;
        assert_eq!(s, 201);
    }
    app.call("POST", "/v1/subjects/cons/consents", Some(json!({"purpose": "phone_marketing", "channel": "phone", "granted": true, "source": "call", "evidence": "recorded opt-in"}))).await;
    app.call(
        "POST",
        "/v1/subjects/obj/objections",
        Some(json!({"scope": "direct_marketing"})),
    )
    .await;
    app.call(
        "POST",
        "/v1/subjects/restr/restriction",
        Some(json!({"reason": "accuracy contested"})),
    )
    .await;
    app.call("POST", "/v1/subjects/gone/erasure", None).await;
    let all = json!(["cust", "cons", "obj", "pros", "restr", "gone", "never-seen"]);

    // E-mail: existing customers without objection, under section 7(3) UWG: notice required.
    let (s, _, a) = app
        .call("POST", "/v1/audiences", Some(json!({"campaign": {"purpose": "email_marketing", "channel": "email", "categories": ["contact"]}, "subjects": all})))
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["contactable"], json!(["cust", "cons"]));
    let reason = |who: &str| {
        a["excluded"]
            .as_array()
            .expect("excluded")
            .iter()
            .find(|e| e["subject"] == who)
            .map(|e| e["reason"].clone())
    };
    assert_eq!(reason("obj"), Some(json!("objection")));
    assert_eq!(reason("pros"), Some(json!("not_an_existing_customer")));
    assert_eq!(reason("restr"), Some(json!("restricted")));
    assert_eq!(reason("gone"), Some(json!("erased")));
    assert_eq!(
        reason("never-seen"),
        Some(json!("not_an_existing_customer"))
    );
    assert_eq!(a["objection_notice"]["required"], true);
    assert!(
        a["objection_notice"]["de"]
            .as_str()
            .is_some_and(|t| t.contains("widersprechen"))
    );
    assert_eq!(a["counts"]["objection"], 1);

    // Phone: only with consent (N18), and no notice duty.
    let (_, _, p) = app
        .call("POST", "/v1/audiences", Some(json!({"campaign": {"purpose": "phone_marketing", "channel": "phone", "categories": ["contact"]}, "subjects": all})))
        .await;
    assert_eq!(p["contactable"], json!(["cons"]));
    assert_eq!(p["objection_notice"]["required"], false);
    assert_eq!(p["counts"]["no_consent"], 5, "{p}");
    assert_eq!(p["counts"]["erased"], 1);

    // A CSV upload, the campaign in headers.
    let req = Request::post("/v1/audiences")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "text/csv")
        .header("tutela-campaign-purpose", "advertising_with_usage_data")
        .header("tutela-campaign-categories", "usage,device")
        .body(Body::from("subject,segment\r\ncust,a\r\ncons,b\r\n"))
        .expect("request");
    let (s, _, c) = app.send(req).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(
        c["contactable"],
        json!([]),
        "usage data for advertising only with consent (N19)"
    );
    assert_eq!(c["counts"]["no_consent"], 2);
    let bad = Request::post("/v1/audiences")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "text/csv")
        .header("tutela-campaign-purpose", "email_marketing")
        .body(Body::from("subject\ncust\n\"broken\n"))
        .expect("request");
    let (s, _, e) = app.send(bad).await;
    assert_eq!(
        (s.as_u16(), e["field"].as_str()),
        (422, Some("line 3")),
        "{e}"
    );

    // Bad campaigns name the field.
    let (s, _, e) = app
        .call("POST", "/v1/audiences", Some(json!({"campaign": {"purpose": "contract_performance", "categories": ["contact"]}, "subjects": ["cust"]})))
        .await;
    assert_eq!(
        (s.as_u16(), e["field"].as_str()),
        (422, Some("campaign.purpose"))
    );
    let (s, _, e) = app
        .call("POST", "/v1/audiences", Some(json!({"campaign": {"purpose": "email_marketing", "channel": "fax", "categories": ["contact"]}, "subjects": ["cust"]})))
        .await;
    assert_eq!(
        (s.as_u16(), e["field"].as_str()),
        (422, Some("campaign.channel"))
    );
    app.finish().await;
}

// covers: N18
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_objection_notice_speaks_the_language_asked_for() {
    let app = TestApp::sqlite().await;
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/cust",
            Some(json!({"relationship": "customer"})),
        )
        .await;
    assert_eq!(s, 201);
    let campaign = json!({"campaign": {"purpose": "email_marketing", "channel": "email", "categories": ["contact"]}, "subjects": ["cust"]});

    // German unless asked otherwise: the notice is German.
    let (s, _, de) = app
        .call("POST", "/v1/audiences", Some(campaign.clone()))
        .await;
    assert_eq!(s, 200, "{de}");
    let n = &de["objection_notice"];
    assert_eq!(
        (n["required"].clone(), n["lang"].clone()),
        (json!(true), json!("de"))
    );
    let text = n["text"].as_str().expect("text");
    assert!(
        text.starts_with(
            "Sie können der Verwendung Ihrer Daten für Werbung jederzeit widersprechen"
        ),
        "{text}"
    );
    assert!(text.ends_with(n["link"].as_str().expect("link")));

    let (s, _, en) = app
        .call("POST", "/v1/audiences?lang=en", Some(campaign.clone()))
        .await;
    assert_eq!(s, 200, "{en}");
    let n = &en["objection_notice"];
    assert_eq!(n["lang"], "en");
    let text = n["text"].as_str().expect("text");
    assert!(
        text.starts_with("You can object to the use of your data for advertising at any time"),
        "{text}"
    );
    assert_eq!(n["text"], n["en"]);
    assert_eq!(de["objection_notice"]["text"], n["de"]);

    let (s, _, e) = app
        .call("POST", "/v1/audiences?lang=fr", Some(campaign))
        .await;
    assert_eq!(
        (s.as_u16(), e["field"].as_str()),
        (422, Some("lang")),
        "{e}"
    );
    app.finish().await;
}
