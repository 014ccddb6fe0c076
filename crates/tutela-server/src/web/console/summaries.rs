//! AI call-summary drafts for the agent who had the call (N24).

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Operator, chrome};
use crate::AppState;
use crate::routes::now;
use crate::web::center::message;
use crate::web::{Chrome, PageLang, WebForm, date_time, page};
use tutela_runtime::operators::Role;

pub(super) struct DraftRow {
    id: String,
    subject: String,
    call_id: String,
    created: String,
    expires: String,
    draft: String,
}

#[derive(Template)]
#[template(path = "console/summaries.html")]
pub(super) struct SummariesPage {
    c: Chrome,
    drafts: Vec<DraftRow>,
}

/// The drafts this agent has to review (a supervisor, the dpo, sees every agent's).
pub(super) async fn summaries_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Query(q): Query<crate::web::center::FlashQuery>,
) -> Response {
    use tutela_store::SummaryStore;
    let t = crate::web::i18n::texts(lang);
    let mine = (op.role != Role::Dpo).then_some(op.id.as_str());
    let Ok(drafts) = state.engine.store.open_drafts(mine, now()).await else {
        return crate::web::center::unavailable_at(&state, lang, "/console");
    };
    let tz = &state.requests.settings.deadlines.time_zone;
    let mut c = chrome(&state, lang, t.summaries, &op);
    c.flash = crate::web::center::flash_text(t, &q);
    page(&SummariesPage {
        c,
        drafts: drafts
            .into_iter()
            .map(|d| DraftRow {
                id: d.id,
                subject: d.subject,
                call_id: d.call_id,
                created: date_time(d.created_at, tz, lang),
                expires: date_time(d.expires_at, tz, lang),
                draft: d.draft.unwrap_or_default(),
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub(super) struct ReviewForm {
    action: String,
    #[serde(default)]
    text: String,
}

/// The agent approves the draft as it is, saves an edited text, or rejects it; only then is
/// a summary part of the person's service history (N24).
pub(super) async fn review_summary(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<ReviewForm>,
) -> Response {
    use tutela_store::SummaryStore;
    let t = crate::web::i18n::texts(lang);
    let back = "/console/summaries";
    let store = &state.engine.store;
    let found = match store.summary(&id).await {
        Ok(found) => found,
        Err(_) => {
            return crate::web::center::unavailable_at(&state, lang, back);
        }
    };
    // Another agent's draft is as unknown as none.
    let Some(s) = found.filter(|s| s.agent == op.id || op.role == Role::Dpo) else {
        return message(&state, lang, StatusCode::NOT_FOUND, t.not_found, back);
    };
    let (status, text) = match f.action.as_str() {
        "approve" => ("approved", s.draft.clone()),
        "edit" if !f.text.trim().is_empty() => ("edited", Some(f.text.trim().to_owned())),
        "reject" => ("rejected", None),
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
    match tutela_runtime::records::summary_review(
        &state.engine,
        &id,
        status,
        text.as_deref(),
        &op.actor(),
        now(),
    )
    .await
    {
        Ok(()) => Redirect::to("/console/summaries?done=saved").into_response(),
        Err(tutela_store::StoreError::Conflict) => {
            message(&state, lang, StatusCode::CONFLICT, t.draft_gone, back)
        }
        Err(_) => crate::web::center::unavailable_at(&state, lang, back),
    }
}
