//! Issue 30: HTML answered by the API (the notice, the Art. 15 report) had no CSP, no
//! X-Frame-Options and no nosniff; the pages had them. Now every answer has them, and the
//! pages keep their own stricter policy.

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use crate::support::TestApp;

async fn headers(app: &TestApp, path: &str) -> axum::http::HeaderMap {
    let req = Request::builder()
        .uri(path)
        .body(Body::empty())
        .expect("request");
    let res = app.router.clone().oneshot(req).await.expect("response");
    res.headers().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_forbids_scripts_frames_and_sniffing() {
    let app = TestApp::sqlite().await;
    for path in [
        "/v1/notice?lang=de&format=html",
        "/v1/notice?lang=en&format=md",
        "/v1/requests/req_none/result?format=html",
        "/no-such-route",
    ] {
        let h = headers(&app, path).await;
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("script-src"), "{path}: {csp}");
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{path}"
        );
        assert_eq!(
            h.get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..]),
            "{path}"
        );
    }
    // The pages keep theirs (style from the stylesheet only).
    let h = headers(&app, "/notice").await;
    let csp = h
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(csp.contains("style-src 'self'"), "{csp}");
    app.finish().await;
}
