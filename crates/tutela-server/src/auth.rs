//! Bearer-token authentication for system clients.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::problem::{Code, Problem};

pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(t) if tutela_runtime::same_secret(t.trim().as_bytes(), state.token.as_bytes()) => next.run(req).await,
        Some(_) => Problem::new(Code::Unauthorized, "the bearer token is not valid")
            .field("Authorization")
            .fix("send the token from TUTELA_API_TOKEN or the tutela.token file")
            .into_response(),
        None => Problem::new(Code::Unauthorized, "no bearer token was sent")
            .field("Authorization")
            .fix("send `Authorization: Bearer <token>`; the token is in TUTELA_API_TOKEN or the tutela.token file")
            .into_response(),
    }
}
