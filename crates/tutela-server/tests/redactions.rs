//! Redaction over the API (N24, N25): replaced, masked or pseudonymised in a domain, known names
//! found without context, and bad input named by field.

use axum::http::StatusCode;
use serde_json::json;
use tutela_core::pseudonym::PseudonymKeys;

use crate::support::TestApp;

const TEXT: &str = "Frau Anna Schmidt, KD-0012345, anna@example.org, Am Anger 3a, 04109 Leipzig. Schmidt ruft zurück.";

#[tokio::test]
async fn texts_are_redacted_by_type_mask_or_pseudonym() {
    // covers: N24, N25
    let app = TestApp::sqlite()
        .await
        .with_pseudonyms(PseudonymKeys::new("pk-test", [3; 32]));
    let (s, _, b) = app
        .call("POST", "/v1/redactions", Some(json!({"text": TEXT})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The family name found after "Frau" is redacted where it recurs without a title too.
    assert_eq!(
        b["text"],
        "Frau <PERSON>, <CUSTOMER_NUMBER>, <EMAIL>, <ADDRESS>. <PERSON> ruft zurück."
    );
    let kinds: Vec<_> = b["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["entity"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            json!("PERSON"),
            json!("CUSTOMER_NUMBER"),
            json!("EMAIL"),
            json!("ADDRESS"),
            json!("PERSON")
        ]
    );
    assert_eq!(
        (
            b["findings"][0]["start"].clone(),
            b["findings"][0]["end"].clone()
        ),
        (json!(5), json!(17))
    );

    // A name the caller knows is found without a title, the family name alone too.
    let (_, _, b) = app
        .call(
            "POST",
            "/v1/redactions",
            Some(json!({"text": TEXT, "names": ["Anna Schmidt"], "operator": "mask"})),
        )
        .await;
    assert_eq!(b["operator"], "mask");
    assert!(
        b["text"]
            .as_str()
            .is_some_and(|t| t.ends_with("******* ruft zurück.") && !t.contains("anna@")),
        "{b}"
    );

    let (s, _, b) = app
        .call(
            "POST",
            "/v1/redactions",
            Some(json!({"text": TEXT, "operator": "pseudonym", "domain": "ai_training"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let t = b["text"].as_str().expect("text");
    assert!(
        t.contains("<EMAIL:") && !t.contains("anna@example.org"),
        "{t}"
    );
    let (_, _, again) = app
        .call(
            "POST",
            "/v1/redactions",
            Some(json!({"text": TEXT, "operator": "pseudonym", "domain": "ai_training"})),
        )
        .await;
    assert_eq!(
        again["text"], b["text"],
        "the same value, the same pseudonym"
    );

    for (body, field) in [
        (json!({"text": TEXT, "operator": "shred"}), "operator"),
        (json!({"text": TEXT, "operator": "pseudonym"}), "domain"),
        (
            json!({"text": TEXT, "operator": "pseudonym", "domain": "nowhere"}),
            "domain",
        ),
        (json!({"text": TEXT, "names": [""]}), "names"),
        (json!({"text": "x".repeat((1 << 20) + 1)}), "text"),
    ] {
        let (s, _, p) = app.call("POST", "/v1/redactions", Some(body)).await;
        assert_eq!(
            (s, p["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!(field)),
            "{p}"
        );
    }
    app.finish().await;

    let plain = TestApp::sqlite().await;
    let (s, _, p) = plain
        .call(
            "POST",
            "/v1/redactions",
            Some(json!({"text": TEXT, "operator": "pseudonym", "domain": "ai_training"})),
        )
        .await;
    assert_eq!(
        (s, p["code"].clone()),
        (StatusCode::NOT_IMPLEMENTED, json!("not_configured"))
    );
    plain.finish().await;
}
