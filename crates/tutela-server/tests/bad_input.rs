//! Bad input: every error is RFC 9457 problem+json naming the field and the fix, and no input
//! makes the server answer 500 or panic.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use crate::support::{TOKEN, TestApp};

fn raw(
    method: &str,
    path: &str,
    ct: Option<&str>,
    token: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(ct) = ct {
        r = r.header("content-type", ct);
    }
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    r.body(body.into()).expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_problems_that_name_the_field() {
    let app = TestApp::sqlite().await;
    let j = Some("application/json");
    let cases: Vec<(Request<Body>, u16, &str, Option<&str>)> = vec![
        (
            raw("POST", "/v1/decisions", j, None, "{}"),
            401,
            "unauthorized",
            Some("Authorization"),
        ),
        (
            raw(
                "POST",
                "/v1/decisions",
                j,
                Some("wrong-token-wrong-token"),
                "{}",
            ),
            401,
            "unauthorized",
            Some("Authorization"),
        ),
        (
            raw("POST", "/v1/decisions", j, Some(TOKEN), "{\"subject\": "),
            400,
            "invalid_json",
            None,
        ),
        (
            raw(
                "POST",
                "/v1/decisions",
                j,
                Some(TOKEN),
                "{\"subject\":\"a\",\"categories\":[]}",
            ),
            422,
            "invalid_field",
            Some("purpose"),
        ),
        (
            raw(
                "POST",
                "/v1/decisions",
                j,
                Some(TOKEN),
                "{\"subject\":\"a\",\"purpose\":\"x\",\"categories\":[],\"colour\":1}",
            ),
            422,
            "invalid_field",
            Some("colour"),
        ),
        (
            raw(
                "POST",
                "/v1/decisions",
                j,
                Some(TOKEN),
                "{\"subject\":\"a\",\"purpose\":7,\"categories\":[]}",
            ),
            422,
            "invalid_field",
            Some("purpose"),
        ),
        (
            raw(
                "POST",
                "/v1/decisions",
                Some("text/plain"),
                Some(TOKEN),
                "{}",
            ),
            415,
            "unsupported_media_type",
            Some("Content-Type"),
        ),
        (
            raw(
                "POST",
                "/v1/decisions",
                j,
                Some(TOKEN),
                json!({"subject": "", "purpose": "x", "categories": []}).to_string(),
            ),
            422,
            "invalid_field",
            Some("subject"),
        ),
        (
            raw(
                "PUT",
                "/v1/subjects/a",
                j,
                Some(TOKEN),
                json!({"relationship": "friend"}).to_string(),
            ),
            422,
            "invalid_field",
            Some("relationship"),
        ),
        (
            raw(
                "PUT",
                "/v1/subjects/a",
                j,
                Some(TOKEN),
                json!({"relationship": "customer", "contract_kind": "x"}).to_string(),
            ),
            422,
            "invalid_field",
            Some("contract_kind"),
        ),
        (
            raw(
                "PUT",
                "/v1/subjects/a",
                j,
                Some(TOKEN),
                json!({"relationship": "customer", "email": "nope"}).to_string(),
            ),
            422,
            "invalid_field",
            Some("email"),
        ),
        (
            raw(
                "GET",
                &format!("/v1/subjects/{}", "x".repeat(200)),
                None,
                Some(TOKEN),
                "",
            ),
            422,
            "invalid_field",
            Some("id"),
        ),
        (
            raw(
                "GET",
                "/v1/subjects/a/consents?format=pdf",
                None,
                Some(TOKEN),
                "",
            ),
            422,
            "invalid_field",
            Some("format"),
        ),
        (
            raw("GET", "/v1/notice?lang=fr", None, None, ""),
            422,
            "invalid_field",
            Some("lang"),
        ),
        (
            raw("GET", "/v1/nothing", None, Some(TOKEN), ""),
            404,
            "not_found",
            None,
        ),
        (
            raw("DELETE", "/v1/decisions", None, Some(TOKEN), ""),
            405,
            "method_not_allowed",
            None,
        ),
    ];
    for (req, status, code, field) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (s, ct, p) = app.send(req).await;
        assert_eq!(s.as_u16(), status, "{what}: {p}");
        assert_eq!(ct, "application/problem+json", "{what}");
        assert_eq!(p["code"], code, "{what}: {p}");
        assert_eq!(p["status"], status);
        assert!(p["type"].as_str().is_some_and(|t| t.ends_with(code)));
        assert!(p["title"].is_string() && p["detail"].is_string());
        if let Some(f) = field {
            assert_eq!(p["field"], f, "{what}: {p}");
        }
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_batches_and_bodies_are_refused() {
    let app = TestApp::sqlite().await;
    let q = json!({"subject": "a", "purpose": "statistics", "categories": ["usage"]});
    let queries: Vec<_> = std::iter::repeat_n(q, 10_001).collect();
    let (s, _, p) = app
        .call(
            "POST",
            "/v1/decisions/batch",
            Some(json!({"queries": queries})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(p["code"], "batch_too_large");
    assert_eq!(p["field"], "queries");
    let huge = format!("{{\"queries\": [\"{}\"]}}", "x".repeat(9 << 20));
    let (s, _, p) = app
        .send(raw(
            "POST",
            "/v1/decisions/batch",
            Some("application/json"),
            Some(TOKEN),
            huge,
        ))
        .await;
    assert_eq!(s, 413, "{p}");
    assert_eq!(p["code"], "payload_too_large");
    let (s, _, p) = app
        .call("POST", "/v1/decisions/batch", Some(json!({"queries": [{"subject": "a", "purpose": "x", "categories": []}, {"subject": "", "purpose": "x", "categories": []}]})))
        .await;
    assert_eq!(s, 422);
    assert_eq!(p["field"], "queries[1].subject");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_input_makes_the_server_answer_500() {
    let app = TestApp::sqlite().await;
    let paths = [
        ("POST", "/v1/decisions"),
        ("POST", "/v1/decisions/batch"),
        ("PUT", "/v1/subjects/f1"),
        ("POST", "/v1/subjects/f1/consents"),
        ("POST", "/v1/subjects/f1/objections"),
        ("POST", "/v1/subjects/f1/restriction"),
        ("POST", "/v1/subjects/f1/transfer-consents"),
    ];
    let seeds = [
        "",
        "null",
        "[]",
        "{}",
        "1e999",
        "\"\\ud800\"",
        "{\"a\":",
        "{\"subject\":\"\\u0000\"}",
        "{\"subject\":\"a\",\"purpose\":\"statistics\",\"categories\":[\"usage\"],\"country\":\"D\"}",
        "{\"relationship\":\"customer\",\"email\":\"a@b\"}",
        "{\"queries\":[{}]}",
        "{\"queries\":null}",
        "{\"purpose\":\"email_marketing\",\"granted\":\"yes\",\"source\":\"web\"}",
        "{\"scope\":\"\",\"reason\":\"\"}",
        "{\"country\":\"\",\"granted\":true,\"evidence\":\"\"}",
    ];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut sent = 0;
    for (method, path) in paths {
        for seed in seeds {
            for round in 0..6 {
                let mut body = seed.as_bytes().to_vec();
                for _ in 0..round {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if !body.is_empty() {
                        let i = (x % body.len() as u64) as usize;
                        body[i] = (x >> 56) as u8;
                    }
                }
                let (s, _, p) = app
                    .send(raw(
                        method,
                        path,
                        Some("application/json"),
                        Some(TOKEN),
                        body,
                    ))
                    .await;
                assert!(
                    s.as_u16() < 500,
                    "{method} {path} {seed:?} round {round}: {s} {p}"
                );
                sent += 1;
            }
        }
    }
    assert!(sent > 500);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_is_3_1_and_lists_the_contract() {
    let app = TestApp::sqlite().await;
    let (s, _, doc) = app.send(raw("GET", "/openapi.json", None, None, "")).await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/v1/subjects/{id}",
        "/v1/subjects/{id}/consents",
        "/v1/subjects/{id}/objections",
        "/v1/subjects/{id}/restriction",
        "/v1/subjects/{id}/erasure",
        "/v1/decisions",
        "/v1/decisions/batch",
        "/v1/policy",
        "/v1/notice",
        "/v1/record",
        "/v1/audiences",
        "/v1/disclosures",
        "/v1/risk-checks",
        "/v1/subjects/{id}/tcf",
        "/v1/requests",
        "/v1/requests/{id}",
        "/v1/requests/{id}/verify",
        "/v1/requests/{id}/verify-by-agent",
        "/v1/requests/{id}/extend",
        "/v1/requests/{id}/refuse",
        "/v1/requests/{id}/classify",
        "/v1/requests/{id}/result",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let (s, _, h) = app.send(raw("GET", "/healthz", None, None, "")).await;
    assert_eq!((s.as_u16(), h["status"].as_str()), (200, Some("ok")));
    let (s, _, r) = app.send(raw("GET", "/readyz", None, None, "")).await;
    assert_eq!((s.as_u16(), r["ready"].as_bool()), (200, Some(true)));
    let (s, ct, m) = app.send(raw("GET", "/metrics", None, None, "")).await;
    assert_eq!(s, 200);
    assert!(ct.starts_with("text/plain"));
    assert!(
        m.as_str()
            .is_some_and(|m| m.contains("tutela_decisions_total{outcome=\"allow\"}"))
    );
    let (s, ct, n) = app
        .send(raw("GET", "/v1/notice?lang=en&format=md", None, None, ""))
        .await;
    assert_eq!(s, 200);
    assert!(ct.starts_with("text/markdown"));
    assert!(
        n.as_str()
            .is_some_and(|n| n.starts_with("# Privacy notice"))
    );
    app.finish().await;
}

#[test]
fn every_problem_code_is_documented() {
    let docs = include_str!("../../../docs/api.md");
    for code in tutela_server::problem::CATALOG {
        let cell = format!("| `{}` | {} |", code.as_str(), code.status().as_u16());
        assert!(docs.contains(&cell), "docs/api.md lacks the row {cell}");
    }
}

#[tokio::test]
async fn the_record_of_processing_comes_in_three_formats() {
    let app = TestApp::sqlite().await;
    for (format, ct) in [
        ("json", "application/json"),
        ("csv", "text/csv; charset=utf-8"),
        ("jsonld", "application/ld+json"),
    ] {
        let (s, got, _) = app
            .call("GET", &format!("/v1/record?format={format}&lang=en"), None)
            .await;
        assert_eq!((s.as_u16(), got.as_str()), (200, ct));
    }
    let (s, _, p) = app.call("GET", "/v1/record?format=pdf", None).await;
    assert_eq!((s.as_u16(), p["field"].as_str()), (422, Some("format")));
    app.finish().await;
}
