//! Addresses that lead nowhere, outside the API: a person who types or reloads an address gets a
//! page in their language with a way back, not the API's problem JSON. The API's paths keep
//! their RFC 9457 answers.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};

use crate::AppState;

/// The API's own paths, whose errors stay problem JSON.
fn is_api(path: &str) -> bool {
    path == "/v1"
        || path.starts_with("/v1/")
        || matches!(path, "/openapi.json" | "/healthz" | "/readyz" | "/metrics")
}

/// Where a page's way back leads: the console's start or the privacy center's.
fn home_of(path: &str) -> &'static str {
    if path.starts_with("/console") {
        "/console"
    } else {
        "/"
    }
}

pub(crate) async fn not_found(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if is_api(uri.path()) {
        return crate::routes::meta::not_found().await.into_response();
    }
    let lang = super::lang_of_headers(uri.query(), &headers);
    let text = super::i18n::texts(lang).not_found;
    super::center::message(
        &state,
        lang,
        StatusCode::NOT_FOUND,
        text,
        home_of(uri.path()),
    )
}

pub(crate) async fn method_not_allowed(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if is_api(uri.path()) {
        return crate::routes::meta::method_not_allowed()
            .await
            .into_response();
    }
    // A form's address opened in the address bar (`GET /signin`): back to the form's page.
    if method == Method::GET {
        return Redirect::to(home_of(uri.path())).into_response();
    }
    let lang = super::lang_of_headers(uri.query(), &headers);
    let text = super::i18n::texts(lang).not_found;
    super::center::message(
        &state,
        lang,
        StatusCode::METHOD_NOT_ALLOWED,
        text,
        home_of(uri.path()),
    )
}
