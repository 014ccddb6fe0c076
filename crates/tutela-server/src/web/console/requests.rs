//! The request queue and a request's page: verify, extend, refuse, classify, retry.

use std::collections::BTreeMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tutela_core::render::Lang;

use super::{Operator, chrome};
use crate::AppState;
use crate::requests::review::RecordedPlan;
use crate::routes::now;
use crate::web::center::message;
use crate::web::operators::Permission;
use crate::web::{Chrome, PageLang, Texts, WebForm, civil_date, date, date_time, page, page_with};
use tutela_connectors::{FieldEffect, PlanAction, TablePlan};
use tutela_core::request::RequestType;
use tutela_store::RequestStore;

use crate::requests::{RequestError, state_of};
use crate::web::center::{request_label, status_label};

pub(super) struct QueueRow {
    id: String,
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
}

pub(super) const OPEN: [&str; 6] = [
    "received",
    "awaiting_verification",
    "verified",
    "in_progress",
    "awaiting_approval",
    "unclassified",
];

/// A status as the console names it: as the privacy center does, except that the office
/// sees a plan waiting for its approval (the person sees "in progress").
fn console_status(status: &str, lang: Lang) -> String {
    match status {
        "awaiting_approval" => crate::web::i18n::texts(lang).plan_awaiting.to_owned(),
        other => status_label(other, lang),
    }
}

pub(super) async fn queue(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let Ok(list) = state.engine.store.list_requests(&OPEN, 500).await else {
        return crate::web::center::unavailable_at(&state, lang, "/console");
    };
    let at = now();
    let settings = &state.requests.settings;
    let tz = &settings.deadlines.time_zone;
    // The store sorts by due date, so overdue requests come first by themselves.
    let rows = list
        .into_iter()
        .map(|r| {
            let s = state_of(&r);
            QueueRow {
                overdue: s.as_ref().is_some_and(|s| s.is_overdue(at)),
                due_soon: s
                    .as_ref()
                    .is_some_and(|s| s.is_due_soon(at, &settings.deadlines)),
                kind: request_label(&r.request_type, lang),
                status: console_status(&r.status, lang),
                awaiting_approval: r.status == "awaiting_approval",
                channel: r.channel,
                received: date(r.received_at, tz, lang),
                due: date(r.due_at, tz, lang),
                id: r.id,
            }
        })
        .collect();
    page(&Queue {
        c: chrome(&state, lang, t.queue, &op),
        rows,
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
    details: String,
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
    let open = OPEN.contains(&r.status.as_str());
    let failed = steps.iter().any(|s| s.status == "failed");
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
    page_with(
        status,
        &RequestDetail {
            c,
            kind: request_label(&r.request_type, lang),
            status: console_status(&r.status, lang),
            channel: r.channel.clone(),
            received: date_time(r.received_at, tz, lang),
            due: date(r.due_at, tz, lang),
            overdue: state_of(&r).is_some_and(|s| s.is_overdue(now())),
            has_subject: r.subject.is_some(),
            details: r.details.clone().unwrap_or_default(),
            events: events
                .into_iter()
                .map(|e| EventRow {
                    at: date_time(e.at, tz, lang),
                    actor: e.actor,
                    kind: e.kind,
                    note: e.note.unwrap_or_default(),
                })
                .collect(),
            steps: steps
                .into_iter()
                .map(|s| StepRow {
                    step: s.step,
                    status: s.status,
                    attempts: s.attempts,
                    error: s.last_error.unwrap_or_default(),
                })
                .collect(),
            may_act: op.role.may(Permission::HandleRequests),
            open,
            awaiting: r.status == "awaiting_verification",
            unclassified: r.request_type == "unclassified",
            failed,
            types: RequestType::ALL
                .iter()
                .filter(|t| **t != RequestType::Unclassified)
                .map(|t| (t.as_str(), request_label(t.as_str(), lang)))
                .collect(),
            awaiting_approval: r.status == "awaiting_approval",
            plans: plan_views(&review.plans, lang),
            review_needed: review.review_needed,
            review_reason: review.reason,
            approved,
            id: r.id,
        },
    )
}

/// Who approved a plan, as the office knows them: an operator by name, the policy in words.
async fn approver_name(state: &AppState, by: &str, t: &Texts) -> String {
    if by == "policy" {
        return t.plan_by_policy.to_owned();
    }
    if let Some(op_id) = by.strip_prefix("operator:")
        && let Ok(Some(o)) = tutela_store::WebStore::operator(&state.engine.store, op_id).await
    {
        return format!("{} ({by})", o.name);
    }
    by.to_owned()
}

/// One dataset's plan as the page shows it.
pub(super) struct PlanView {
    dataset: String,
    digest: String,
    /// The legal hold it gave way to, in words; empty when none.
    held: String,
    tables: Vec<TableView>,
}

pub(super) struct TableView {
    table: String,
    /// What happens to the rows, in words.
    action: String,
    rows: usize,
    keys: String,
    fields: Vec<FieldView>,
}

pub(super) struct FieldView {
    /// The map's label in the page's language, else the column name.
    label: String,
    /// The column, shown beside a label that differs from it.
    name: String,
    effect: String,
    /// Per row: `key: before → after`.
    changes: Vec<String>,
}

/// The recorded plans in plain words of `lang`.
fn plan_views(plans: &[RecordedPlan], lang: Lang) -> Vec<PlanView> {
    let t = crate::web::i18n::texts(lang);
    plans
        .iter()
        .map(|p| PlanView {
            dataset: p.plan.dataset.clone(),
            digest: p.plan.digest.clone(),
            held: p
                .legal_hold
                .as_deref()
                .map(|h| t.plan_held.replace("{reference}", h))
                .unwrap_or_default(),
            tables: p
                .plan
                .tables
                .iter()
                .map(|tp| table_view(tp, lang))
                .collect(),
        })
        .collect()
}

fn table_view(tp: &TablePlan, lang: Lang) -> TableView {
    let t = crate::web::i18n::texts(lang);
    let until = |u: &Option<String>| u.as_deref().map(|u| civil_date(u, lang));
    let action = match tp.action {
        PlanAction::Delete => t.plan_delete.to_owned(),
        PlanAction::Anonymise => t.plan_anonymise.to_owned(),
        PlanAction::Restrict => {
            let rule = tp.rule.clone().unwrap_or_default();
            let why = match tp.why.as_deref() {
                Some("legal_retention") => format!("; {}", t.plan_why_legal),
                Some("referenced_by_retained_record") => format!("; {}", t.plan_why_referenced),
                _ => String::new(),
            };
            t.plan_restrict
                .replace("{until}", &until(&tp.until).unwrap_or_else(|| "?".into()))
                .replace("{rule}", &format!("{rule}{why}"))
        }
        PlanAction::KeepForContract => match until(&tp.until) {
            Some(u) => t.plan_keep_contract_until.replace("{until}", &u),
            None => t.plan_keep_contract.to_owned(),
        },
        PlanAction::Change => t.plan_change.to_owned(),
    };
    let value = |v: &Option<String>| v.clone().unwrap_or_else(|| t.plan_empty_value.to_owned());
    TableView {
        table: tp.table.clone(),
        action,
        rows: tp.keys.len(),
        keys: tp.keys.join(", "),
        fields: tp
            .fields
            .iter()
            .map(|f| FieldView {
                label: f
                    .label
                    .as_ref()
                    .map(|l| match lang {
                        Lang::De => l.de.clone(),
                        Lang::En => l.en.clone(),
                    })
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| f.name.clone()),
                name: f.name.clone(),
                effect: match f.effect {
                    FieldEffect::Deleted => t.effect_deleted,
                    FieldEffect::Nulled => t.effect_nulled,
                    FieldEffect::Hashed => t.effect_hashed,
                    FieldEffect::Fixed => t.effect_fixed,
                    FieldEffect::Kept => t.effect_kept,
                    FieldEffect::Changed => t.effect_changed,
                }
                .to_owned(),
                changes: f
                    .changes
                    .iter()
                    .map(|c| format!("{}: {} → {}", c.key, value(&c.before), value(&c.after)))
                    .collect(),
            })
            .collect(),
    }
}

/// After an action: back to the request, with its outcome.
fn acted(
    state: &AppState,
    lang: Lang,
    id: &str,
    result: Result<(), crate::requests::RequestError>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let back = format!("/console/requests/{id}");
    match result {
        Ok(()) => Redirect::to(&format!("{back}?done=saved")).into_response(),
        Err(crate::requests::RequestError::NotFound) => {
            message(state, lang, StatusCode::NOT_FOUND, t.not_found, "/console")
        }
        Err(crate::requests::RequestError::Storage(_)) => {
            crate::web::center::unavailable_at(state, lang, &back)
        }
        Err(e) => {
            let text = format!("{} ({e})", t.bad_input);
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

#[cfg(test)]
mod tests {
    use tutela_connectors::{DatasetPlan, FieldChange, FieldPlan};
    use tutela_core::datamap::Label;

    use super::*;

    fn field(name: &str, effect: FieldEffect, changes: Vec<FieldChange>) -> FieldPlan {
        FieldPlan {
            name: name.into(),
            category: "identity".into(),
            label: (name == "name").then(|| Label {
                de: "Name der Person".into(),
                en: "Person's name".into(),
            }),
            effect,
            rectify: None,
            changes,
        }
    }

    fn table(name: &str, action: PlanAction, fields: Vec<FieldPlan>) -> TablePlan {
        TablePlan {
            table: name.into(),
            action,
            keys: vec!["1".into(), "2".into()],
            fields,
            rule: (action == PlanAction::Restrict).then(|| "hgb_257".into()),
            until: (action == PlanAction::Restrict).then(|| "2034-12-31".into()),
            why: (action == PlanAction::Restrict).then(|| "legal_retention".into()),
        }
    }

    #[test]
    fn a_plan_is_shown_in_plain_words() {
        let plans = vec![
            RecordedPlan {
                plan: DatasetPlan {
                    dataset: "crm".into(),
                    digest: "abc".into(),
                    tables: vec![
                        table(
                            "invoices",
                            PlanAction::Restrict,
                            vec![field("iban", FieldEffect::Kept, vec![])],
                        ),
                        table(
                            "customers",
                            PlanAction::Change,
                            vec![field(
                                "name",
                                FieldEffect::Changed,
                                vec![FieldChange {
                                    key: "1".into(),
                                    before: Some("Erika Musterman".into()),
                                    after: Some("Erika Mustermann".into()),
                                }],
                            )],
                        ),
                        table(
                            "tickets",
                            PlanAction::Anonymise,
                            vec![field("summary", FieldEffect::Hashed, vec![])],
                        ),
                    ],
                },
                legal_hold: None,
            },
            RecordedPlan {
                plan: DatasetPlan {
                    dataset: "shop".into(),
                    digest: String::new(),
                    tables: vec![],
                },
                legal_hold: Some("LH-7".into()),
            },
        ];
        let de = plan_views(&plans, Lang::De);
        let t = &de[0].tables;
        assert_eq!(
            t[0].action,
            "aufbewahren und sperren bis 31.12.2034 (hgb_257; gesetzliche Aufbewahrungspflicht)"
        );
        assert_eq!((t[0].rows, t[0].keys.as_str()), (2, "1, 2"));
        assert_eq!(
            (
                t[0].fields[0].label.as_str(),
                t[0].fields[0].effect.as_str()
            ),
            ("iban", "bleibt")
        );
        assert_eq!(t[1].action, "ändern");
        assert_eq!(t[1].fields[0].label, "Name der Person");
        assert_eq!(t[1].fields[0].effect, "geändert");
        assert_eq!(
            t[1].fields[0].changes,
            vec!["1: Erika Musterman → Erika Mustermann"]
        );
        assert_eq!(
            (t[2].action.as_str(), t[2].fields[0].effect.as_str()),
            ("anonymisieren", "durch Hash ersetzt")
        );
        assert!(de[0].held.is_empty());
        assert!(de[1].held.contains("LH-7"), "{}", de[1].held);
        let en = plan_views(&plans, Lang::En);
        assert_eq!(
            en[0].tables[0].action,
            "keep restricted until 2034-12-31 (hgb_257; legal retention duty)"
        );
        assert_eq!(en[0].tables[1].fields[0].label, "Person's name");
        assert_eq!(en[0].tables[2].fields[0].effect, "replaced by a hash");
    }

    #[test]
    fn calendar_dates_are_written_as_the_pages_write_dates() {
        assert_eq!(civil_date("2034-12-31", Lang::De), "31.12.2034");
        assert_eq!(civil_date("2034-12-31", Lang::En), "2034-12-31");
        assert_eq!(civil_date("someday", Lang::De), "someday");
    }
}
