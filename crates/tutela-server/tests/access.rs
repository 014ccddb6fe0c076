//! Who may call what (issue 10): every route of the HTTP API, as the OpenAPI document lists
//! it, answers only the system token, whatever cookie or wrong token comes instead; and
//! docs/access.md, the access table, names every API route and every console route.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use tutela_runtime::operators::{self, Role};

use crate::pages::Browser;
use crate::smtp_sink::SmtpSink;
use crate::support::{TOKEN, TestApp};

const ACCESS_DOC: &str = include_str!("../../../docs/access.md");

/// Routes outside the token: the public notice, health, metrics and the OpenAPI document.
const PUBLIC: &[&str] = &["/v1/notice"];

async fn api_routes(app: &TestApp) -> Vec<(String, String)> {
    let (s, _, doc) = app.call("GET", "/openapi.json", None).await;
    assert_eq!(s, 200);
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            if ["get", "post", "put", "delete"].contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(out.len() >= 40, "{out:?}");
    out
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "A-1")
        .replace("{event}", "ledger:1")
        .replace("{format}", "json")
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    auth: Option<&str>,
    cookie: Option<&str>,
) -> StatusCode {
    let mut req = Request::builder()
        .method(method)
        .uri(concrete(path))
        .header("content-type", "application/json");
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let body = if method == "GET" {
        Body::empty()
    } else {
        Body::from("{}")
    };
    app.router
        .clone()
        .oneshot(req.body(body).expect("request"))
        .await
        .expect("response")
        .status()
}

#[tokio::test]
async fn every_api_route_answers_the_system_token_only() {
    let sink = SmtpSink::start().await;
    let app = TestApp::sqlite_with_mailer(sink.mailer())
        .await
        .with_log_key(tutela_runtime::verifiable_log::LogKey::generate().expect("key"));
    let (s, _, _) = app
        .call(
            "PUT",
            "/v1/subjects/A-1",
            Some(serde_json::json!({"relationship": "customer", "email": "a1@example.org"})),
        )
        .await;
    assert_eq!(s, 201);
    // A signed-in person and a signed-in dpo: their cookies open no API route.
    let mut person = Browser::new(&app);
    person.sign_in(&sink, "a1@example.org").await;
    let secret = operators::create(
        &app.engine.store,
        "dora",
        Role::Dpo,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("operator")
    .totp_secret;
    let mut dpo = Browser::new(&app);
    dpo.operator("dora", "correct horse battery", &secret).await;
    let cookies = [person.cookie_header(), dpo.cookie_header()];
    let bearer = format!("Bearer {TOKEN}");
    for (method, path) in api_routes(&app).await {
        if PUBLIC.contains(&path.as_str()) {
            continue;
        }
        let who = |s: StatusCode, caller: &str| {
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{caller}: {method} {path}");
        };
        who(send(&app, &method, &path, None, None).await, "anonymous");
        who(
            send(
                &app,
                &method,
                &path,
                Some("Bearer wrong-token-of-the-right-length-000000000000000000"),
                None,
            )
            .await,
            "a wrong token",
        );
        for c in &cookies {
            who(
                send(&app, &method, &path, None, Some(c)).await,
                "a session cookie",
            );
        }
        // The handler ran: its own answer, which for an unconfigured feature (the risk
        // check without a scorecard) is 501, never a refusal of the caller or a failure.
        let s = send(&app, &method, &path, Some(&bearer), None).await;
        assert!(
            s != StatusCode::UNAUTHORIZED
                && s != StatusCode::FORBIDDEN
                && (!s.is_server_error() || s == StatusCode::NOT_IMPLEMENTED),
            "the system token: {method} {path}: {s}"
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn the_access_table_names_every_route() {
    let app = TestApp::sqlite().await;
    let mut missing: Vec<String> = api_routes(&app)
        .await
        .into_iter()
        .map(|(m, p)| format!("`{m} {p}`"))
        .filter(|r| !ACCESS_DOC.contains(r.as_str()))
        .collect();
    for (m, p, _) in tutela_server::web::console_routes() {
        let r = format!("`{m} {p}`");
        if !ACCESS_DOC.contains(&r) {
            missing.push(r);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/access.md lacks:\n{}",
        missing.join("\n")
    );
    app.finish().await;
}
