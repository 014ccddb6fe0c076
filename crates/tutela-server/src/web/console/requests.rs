//! The request queue and a request's page: verify, extend, refuse, classify, retry, approve
//! the plan (shown by `plan.rs`).

use std::collections::BTreeMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tutela_core::render::Lang;

use super::plan::{PlanView, approver_name, plan_views};
use super::{Operator, chrome};
use crate::AppState;
use crate::routes::now;
use crate::web::center::message;
use crate::web::{Chrome, PageLang, WebForm, date, date_time, page, page_with};
use tutela_core::request::{RequestType, Status, StepStatus};
use tutela_runtime::operators::Permission;
use tutela_store::RequestStore;

use crate::web::center::{channel_label, request_label, status_label};
use tutela_runtime::requests::{RequestDetails, RequestError, request_type, state_of};

mod words;

pub(super) struct QueueRow {
    id: String,
    /// The person by their customer number (the operator's id of them), or that none is
    /// known yet; never tutela's internal id of the request.
    person: String,
    kind: String,
    status: String,
    channel: String,
    received: String,
    due: String,
    overdue: bool,
    due_soon: bool,
    /// A plan waits for the office's approval.
    awaiting_approval: bool,
}

#[derive(Template)]
#[template(path = "console/queue.html")]
pub(super) struct Queue {
    c: Chrome,
    rows: Vec<QueueRow>,
    /// The completed requests are shown (`?view=done`), not the open ones.
    done: bool,
}

/// The statuses of the completed requests' view.
const DONE: [Status; 4] = [
    Status::Completed,
    Status::PartiallyRefused,
    Status::Refused,
    Status::NoDataHeld,
];

#[derive(Deserialize)]
pub(super) struct QueueQuery {
    /// `done` for the completed requests; anything else, or nothing, the open ones.
    view: Option<String>,
}

pub(super) const OPEN: [Status; 5] = [
    Status::Received,
    Status::AwaitingVerification,
    Status::Verified,
    Status::InProgress,
    Status::AwaitingApproval,
];

/// A status as the console names it: as the privacy center does, except that the office
/// sees a plan waiting for its approval (the person sees "in progress").
fn console_status(status: Status, lang: Lang) -> String {
    match status {
        Status::AwaitingApproval => crate::web::i18n::texts(lang).plan_awaiting.to_owned(),
        other => status_label(other.as_str(), lang),
    }
}

pub(super) async fn queue(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Query(q): Query<QueueQuery>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let done = q.view.as_deref() == Some("done");
    let statuses: &[Status] = if done { &DONE } else { &OPEN };
    let Ok(mut list) = state.engine.store.list_requests(statuses, 500).await else {
        return crate::web::center::unavailable_at(&state, lang, "/console");
    };
    // The store sorts by due date, so overdue open requests come first by themselves; the
    // completed ones are read newest first.
    if done {
        list.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
    }
    let at = now();
    let settings = &state.requests.settings;
    let tz = &settings.deadlines.time_zone;
    let rows = list
        .into_iter()
        .map(|r| {
            let s = state_of(&r);
            QueueRow {
                overdue: !done && s.as_ref().is_some_and(|s| s.is_overdue(at)),
                due_soon: !done
                    && s.as_ref()
                        .is_some_and(|s| s.is_due_soon(at, &settings.deadlines)),
                person: r
                    .subject
                    .clone()
                    .unwrap_or_else(|| t.subject_unknown.to_owned()),
                kind: request_label(&r.request_type, lang),
                status: console_status(r.status, lang),
                awaiting_approval: r.status == Status::AwaitingApproval,
                channel: channel_label(&r.channel, lang),
                received: date(r.received_at, tz, lang),
                due: date(r.due_at, tz, lang),
                id: r.id,
            }
        })
        .collect();
    page(&Queue {
        c: chrome(&state, lang, t.queue, &op),
        rows,
        done,
    })
}

pub(super) struct EventRow {
    at: String,
    actor: String,
    kind: String,
    note: String,
}

pub(super) struct StepRow {
    step: String,
    status: String,
    attempts: i64,
    error: String,
}

#[derive(Template)]
#[template(path = "console/request.html")]
pub(super) struct RequestDetail {
    c: Chrome,
    id: String,
    kind: String,
    status: String,
    channel: String,
    received: String,
    due: String,
    overdue: bool,
    has_subject: bool,
    /// The person the request is about (their customer number), or that none is known yet.
    person: String,
    /// What the requester gave about themselves, as given (label, value).
    requester: Vec<(String, String)>,
    /// What the request asks for beyond its type (label, value).
    asks: Vec<(String, String)>,
    events: Vec<EventRow>,
    steps: Vec<StepRow>,
    may_act: bool,
    open: bool,
    awaiting: bool,
    unclassified: bool,
    failed: bool,
    types: Vec<(&'static str, String)>,
    awaiting_approval: bool,
    /// The plans for the operator's databases (empty: none recorded).
    plans: Vec<PlanView>,
    review_needed: bool,
    review_reason: String,
    /// "Approved by … on …", empty until approved.
    approved: String,
}

pub(super) async fn request_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    Query(q): Query<crate::web::center::FlashQuery>,
) -> Response {
    let flash = crate::web::center::flash_text(crate::web::i18n::texts(lang), &q);
    render_request(&state, lang, &op, &id, flash, None, StatusCode::OK).await
}

/// A request's page, with a message after an action (`flash`) or why it was refused (`error`).
async fn render_request(
    state: &AppState,
    lang: Lang,
    op: &Operator,
    id: &str,
    flash: Option<String>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let store = &state.engine.store;
    let r = match store.request(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return message(state, lang, StatusCode::NOT_FOUND, t.not_found, "/console"),
        Err(_) => {
            return crate::web::center::unavailable_at(state, lang, "/console");
        }
    };
    let (Ok(events), Ok(steps), Ok(review)) = (
        store.request_events(id).await,
        store.steps(id).await,
        state.requests.plan_review(id).await,
    ) else {
        return crate::web::center::unavailable_at(state, lang, "/console");
    };
    let tz = &state.requests.settings.deadlines.time_zone;
    let details = RequestDetails::from_stored(r.details.as_deref());
    let open = OPEN.contains(&r.status);
    let failed = steps.iter().any(|s| s.status == StepStatus::Failed);
    let mut c = chrome(state, lang, &request_label(&r.request_type, lang), op);
    c.flash = flash;
    c.error = error.map(str::to_owned);
    let approved = match &review.approval {
        Some(a) => {
            let by = approver_name(state, &a.by, t).await;
            let at =
                a.at.parse::<jiff::Timestamp>()
                    .map_or_else(|_| a.at.clone(), |at| date_time(at, tz, lang));
            t.plan_approved.replace("{by}", &by).replace("{at}", &at)
        }
        None => String::new(),
    };
    // The reason a plan waits, in the reader's words (the recorded note is English).
    let review_reason = match &review.decision {
        Some(d) => d.words(&state.engine.policy().policy, lang),
        None => review.reason.clone(),
    };
    page_with(
        status,
        &RequestDetail {
            c,
            kind: request_label(&r.request_type, lang),
            status: console_status(r.status, lang),
            channel: channel_label(&r.channel, lang),
            received: date_time(r.received_at, tz, lang),
            due: date(r.due_at, tz, lang),
            overdue: state_of(&r).is_some_and(|s| s.is_overdue(now())),
            has_subject: r.subject.is_some(),
            person: r
                .subject
                .clone()
                .unwrap_or_else(|| t.subject_unknown.to_owned()),
            requester: words::requester(r.email.as_deref(), &details, t, lang),
            asks: words::asks(state, &details, lang),
            events: event_rows(state, events, &review_reason, tz, lang).await,
            steps: steps
                .into_iter()
                .map(|s| StepRow {
                    error: words::step_note(&s.step, s.last_error, &review_reason),
                    step: words::step(&s.step, lang),
                    status: words::step_status(s.status, lang).to_owned(),
                    attempts: s.attempts,
                })
                .collect(),
            may_act: op.role.may(Permission::HandleRequests),
            open,
            awaiting: r.status == Status::AwaitingVerification,
            unclassified: request_type(&r) == Some(RequestType::Unclassified),
            failed,
            types: RequestType::ALL
                .iter()
                .filter(|t| **t != RequestType::Unclassified)
                .map(|t| (t.as_str(), request_label(t.as_str(), lang)))
                .collect(),
            awaiting_approval: r.status == Status::AwaitingApproval,
            plans: plan_views(&review.plans, lang, Some(&state.engine.policy().policy)),
            review_needed: review.review_needed,
            review_reason,
            approved,
            id: r.id,
        },
    )
}

/// The request's transitions, each with who made it and what it was in words.
async fn event_rows(
    state: &AppState,
    events: Vec<tutela_store::RequestEvent>,
    review_reason: &str,
    tz: &jiff::tz::TimeZone,
    lang: Lang,
) -> Vec<EventRow> {
    let t = crate::web::i18n::texts(lang);
    let policy = state.engine.policy();
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        rows.push(EventRow {
            at: date_time(e.at, tz, lang),
            actor: words::actor(state, &e.actor, t, lang).await,
            kind: words::event(&e.kind, lang).to_owned(),
            note: words::event_note(&e.kind, e.note, review_reason, lang, Some(&policy.policy)),
        });
    }
    rows
}

/// After an action: back to the request, with its outcome.
fn acted(
    state: &AppState,
    lang: Lang,
    id: &str,
    result: Result<(), tutela_runtime::requests::RequestError>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let back = format!("/console/requests/{id}");
    match result {
        Ok(()) => Redirect::to(&format!("{back}?done=saved")).into_response(),
        Err(tutela_runtime::requests::RequestError::NotFound) => {
            message(state, lang, StatusCode::NOT_FOUND, t.not_found, "/console")
        }
        Err(tutela_runtime::requests::RequestError::Storage(_)) => {
            crate::web::center::unavailable_at(state, lang, &back)
        }
        Err(e) => {
            let text = words::refusal(&e, lang);
            message(state, lang, StatusCode::UNPROCESSABLE_ENTITY, &text, &back)
        }
    }
}

#[derive(Deserialize)]
pub(super) struct VerifyForm {
    note: String,
    #[serde(default)]
    subject: String,
}

pub(super) async fn verify(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<VerifyForm>,
) -> Response {
    let subject = (!f.subject.trim().is_empty()).then(|| f.subject.trim().to_owned());
    let r = state
        .requests
        .verify_by_agent(&id, f.note, subject, &op.actor(), now())
        .await;
    acted(&state, lang, &id, r.map(|_| ()))
}

#[derive(Deserialize)]
pub(super) struct ExtendForm {
    months: u8,
    reason: String,
}

pub(super) async fn extend(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<ExtendForm>,
) -> Response {
    let r = state
        .requests
        .extend(&id, f.months, f.reason, &op.actor(), now())
        .await;
    acted(&state, lang, &id, r.map(|_| ()))
}

#[derive(Deserialize)]
pub(super) struct ReasonForm {
    reason: String,
}

pub(super) async fn refuse(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<ReasonForm>,
) -> Response {
    let r = state
        .requests
        .refuse(&id, f.reason, &op.actor(), now())
        .await;
    acted(&state, lang, &id, r.map(|_| ()))
}

#[derive(Deserialize)]
pub(super) struct ClassifyForm {
    #[serde(rename = "type")]
    request_type: String,
}

pub(super) async fn classify(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<ClassifyForm>,
) -> Response {
    let Some(t) = RequestType::parse(&f.request_type) else {
        let text = crate::web::i18n::texts(lang).bad_input;
        return message(
            &state,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            text,
            "/console",
        );
    };
    let r = state.requests.classify(&id, t, &op.actor(), now()).await;
    acted(&state, lang, &id, r.map(|_| ()))
}

pub(super) async fn retry(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
) -> Response {
    let r = state.requests.retry_failed(&id, &op.actor(), now()).await;
    acted(&state, lang, &id, r.map(|_| ()))
}

/// An agent approves the request's plans as shown: the form carries each plan's digest
/// (`digest:<dataset>`), so a plan changed since the page was opened is refused, never
/// approved unseen. A refusal shows the page again, with the current plan and why.
pub(super) async fn approve(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<BTreeMap<String, String>>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let note = f
        .get("note")
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let seen: BTreeMap<String, String> = f
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("digest:")?.to_owned(), v.clone())))
        .collect();
    let refused = match state
        .requests
        .approve(&id, &op.actor(), note, Some(&seen), now())
        .await
    {
        Ok(_) => return acted(&state, lang, &id, Ok(())),
        Err(RequestError::FourEyes) => t.plan_four_eyes,
        Err(RequestError::PlanChanged) => t.plan_changed_since,
        Err(RequestError::Transition(_) | RequestError::Conflict) => t.plan_not_awaiting,
        Err(e) => return acted(&state, lang, &id, Err(e)),
    };
    render_request(
        &state,
        lang,
        &op,
        &id,
        None,
        Some(refused),
        StatusCode::CONFLICT,
    )
    .await
}
