//! Security headers on every answer, not only on the pages: the API also answers HTML (the
//! notice, the Art. 15 report), which a browser must never run scripts in, frame, or sniff
//! into another type. The pages set stricter headers of their own, which are kept. Every answer
//! is also counted by its status class for `/metrics`.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// No scripts, no frames, no forms, no foreign content; inline style only (the report's
/// stylesheet is inline so that a downloaded file stays readable on its own).
const API_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
                       form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, API_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    res
}

/// Counts every answer by its status class (the metric `tutela_http_responses_total`).
pub async fn count_responses(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    tutela_runtime::metrics::http_response(res.status().as_u16());
    res
}
