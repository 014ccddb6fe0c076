//! Declined risk checks waiting for a person (Art. 22(3), N14): the agent sees the score, its
//! reasons and the facts, and accepts or confirms the decline with a note.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tutela_store::RiskStore;

use super::{Operator, chrome};
use crate::AppState;
use crate::routes::now;
use crate::web::center::message;
use crate::web::{PageLang, WebForm, date_time, page};

pub(super) struct ReviewRow {
    id: String,
    subject: String,
    at: String,
    probability: String,
    reasons: String,
    facts: String,
    agency: bool,
}

#[derive(Template)]
#[template(path = "console/reviews.html")]
pub(super) struct ReviewsPage {
    c: crate::web::Chrome,
    configured: bool,
    rows: Vec<ReviewRow>,
}

pub(super) async fn reviews_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Query(q): Query<crate::web::center::FlashQuery>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let Ok(pending) = state.engine.store.pending_risk_reviews(500).await else {
        return crate::web::center::unavailable_at(&state, lang, "/console");
    };
    let tz = &state.requests.settings.deadlines.time_zone;
    let mut c = chrome(&state, lang, t.risk_reviews, &op);
    c.flash = crate::web::center::flash_text(t, &q);
    page(&ReviewsPage {
        c,
        configured: state.risk.is_some(),
        rows: pending
            .into_iter()
            .map(|r| ReviewRow {
                at: date_time(r.created_at, tz, lang),
                probability: format!("{:.2}", r.probability),
                reasons: r.reasons,
                facts: r.facts,
                agency: r.agency_queried,
                subject: r.subject,
                id: r.id,
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub(super) struct ReviewForm {
    decision: String,
    note: String,
}

pub(super) async fn review(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<ReviewForm>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let back = "/console/reviews";
    let Some(svc) = state.risk.as_deref() else {
        return message(&state, lang, StatusCode::NOT_IMPLEMENTED, t.not_found, back);
    };
    let accept = match f.decision.as_str() {
        "accept" => true,
        "decline" => false,
        _ => {
            return message(
                &state,
                lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                t.bad_input,
                back,
            );
        }
    };
    if f.note.trim().is_empty() {
        return message(
            &state,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.bad_input,
            back,
        );
    }
    match svc.review(&id, accept, &op.actor(), &f.note, now()).await {
        Ok(_) => Redirect::to("/console/reviews?done=saved").into_response(),
        // The engine's errors are in English; the reviewer reads what it means for them.
        Err(tutela_runtime::risk::RiskError::NotFound) => {
            message(&state, lang, StatusCode::NOT_FOUND, t.not_found, back)
        }
        Err(tutela_runtime::risk::RiskError::Storage(_)) => {
            crate::web::center::unavailable_at(&state, lang, back)
        }
        Err(_) => message(&state, lang, StatusCode::CONFLICT, t.review_gone, back),
    }
}
