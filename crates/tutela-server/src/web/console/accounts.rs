//! The operator accounts, for the data-protection officer: who may sign in, and offboarding a
//! leaver (issue 32): disable (sessions end at once), enable, reset the second factor, remove.
//! Every step is recorded in the audit trail with who did it; the last active DPO stays.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tutela_core::render::Lang;
use tutela_store::{OperatorChange, OperatorChanged, OperatorRecord, WebStore};

use super::{Operator, chrome};
use crate::AppState;
use crate::routes::now;
use crate::web::{Chrome, PageLang, WebForm, date, page_with};
use tutela_runtime::operators::{Role, change_outcome};

pub(super) struct OperatorRow {
    id: String,
    name: String,
    role: String,
    state: String,
    created: String,
    disabled: bool,
    removed: bool,
    /// The second factor was reset and is not set up again yet.
    enrolling: bool,
}

#[derive(Template)]
#[template(path = "console/operators.html")]
pub(super) struct OperatorsPage {
    c: Chrome,
    operators: Vec<OperatorRow>,
}

fn row(o: OperatorRecord, state: &AppState, lang: Lang) -> OperatorRow {
    let t = crate::web::i18n::texts(lang);
    let tz = &state.requests.settings.deadlines.time_zone;
    let status = match (o.removed_at, o.disabled_at) {
        (Some(at), _) => format!("{} {}", t.op_state_removed, date(at, tz, lang)),
        (None, Some(at)) => format!("{} {}", t.op_state_disabled, date(at, tz, lang)),
        (None, None) => t.op_state_active.to_owned(),
    };
    OperatorRow {
        role: Role::parse(&o.role).map_or_else(|| o.role.clone(), |r| r.label(lang).to_owned()),
        state: status,
        created: date(o.created_at, tz, lang),
        disabled: o.disabled_at.is_some(),
        removed: o.removed_at.is_some(),
        enrolling: o.totp_secret.is_empty() && o.removed_at.is_none(),
        id: o.id,
        name: o.name,
    }
}

async fn view(
    state: &AppState,
    lang: Lang,
    op: &Operator,
    status: StatusCode,
    flash: Option<String>,
    error: Option<String>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let Ok(list) = state.engine.store.operators().await else {
        return crate::web::center::unavailable_at(state, lang, "/console");
    };
    let mut c = chrome(state, lang, t.operators, op);
    c.flash = flash;
    c.error = error;
    page_with(
        status,
        &OperatorsPage {
            c,
            operators: list.into_iter().map(|o| row(o, state, lang)).collect(),
        },
    )
}

pub(super) async fn operators_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    view(&state, lang, &op, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub(super) struct ChangeForm {
    /// Removing asks for a tick in a box: it cannot be undone.
    #[serde(default)]
    confirm: String,
}

async fn change(
    state: &AppState,
    lang: Lang,
    op: &Operator,
    id: &str,
    change: OperatorChange,
    confirmed: bool,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let store = &state.engine.store;
    let name = match store.operator(id).await {
        Ok(Some(o)) => o.name,
        Ok(None) => {
            let text = change_outcome(OperatorChanged::NotFound, change, id, lang);
            return view(state, lang, op, StatusCode::NOT_FOUND, None, Some(text)).await;
        }
        Err(_) => return crate::web::center::unavailable_at(state, lang, "/console/operators"),
    };
    if change == OperatorChange::Remove && !confirmed {
        let text = t.op_confirm_remove.replace("{name}", &name);
        return view(
            state,
            lang,
            op,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(text),
        )
        .await;
    }
    let outcome = match tutela_runtime::records::operator_change(
        &state.engine,
        id,
        change,
        &op.actor(),
        now(),
    )
    .await
    {
        Ok(o) => o,
        Err(_) => return crate::web::center::unavailable_at(state, lang, "/console/operators"),
    };
    tracing::info!(operator = %id, by = %op.id, kind = change.audit_kind(), ?outcome, "operator changed");
    let text = change_outcome(outcome, change, &name, lang);
    match outcome {
        // Their own session just ended: back to the sign-in page.
        OperatorChanged::Done if id == op.id && change != OperatorChange::Enable => {
            Redirect::to("/console").into_response()
        }
        OperatorChanged::Done | OperatorChanged::Unchanged => {
            view(state, lang, op, StatusCode::OK, Some(text), None).await
        }
        OperatorChanged::NotFound => {
            view(state, lang, op, StatusCode::NOT_FOUND, None, Some(text)).await
        }
        OperatorChanged::Removed | OperatorChanged::LastDpo => {
            view(state, lang, op, StatusCode::CONFLICT, None, Some(text)).await
        }
    }
}

pub(super) async fn disable(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
) -> Response {
    change(&state, lang, &op, &id, OperatorChange::Disable, false).await
}

pub(super) async fn enable(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
) -> Response {
    change(&state, lang, &op, &id, OperatorChange::Enable, false).await
}

pub(super) async fn reset_totp(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
) -> Response {
    change(&state, lang, &op, &id, OperatorChange::ResetTotp, false).await
}

pub(super) async fn remove(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<ChangeForm>,
) -> Response {
    let confirmed = f.confirm == "yes";
    change(&state, lang, &op, &id, OperatorChange::Remove, confirmed).await
}
