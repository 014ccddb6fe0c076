//! Retention at a glance (N5a, N6, N7b, N15): the active legal holds and the latest sweeps with
//! what they deleted, for the privacy office. Holds are placed and lifted through the API or
//! `tutela retention hold`, so each carries its operator and case reference.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use tutela_store::RetentionStore;

use super::{Operator, chrome};
use crate::AppState;
use crate::web::{PageLang, date_time, page};
use tutela_runtime::retention::Progress;

pub(super) struct HoldRow {
    id: String,
    what: String,
    reference: String,
    placed_by: String,
    placed_at: String,
}

pub(super) struct SweepRow {
    id: String,
    /// The plan waits for a DPO's approval.
    awaiting: bool,
    /// Why it needs approval, and who gave it.
    reasons: String,
    approved_by: String,
    started: String,
    finished: String,
    deleted: u64,
    tables: String,
    error: String,
}

/// One operator database: whether its map matched at start, and whether it is swept.
pub(super) struct DatasetRow {
    id: String,
    checked: bool,
    /// Why the dataset is blocked (the missing table or column); empty when it is not.
    broken: String,
    sweeps: bool,
}

#[derive(Template)]
#[template(path = "console/retention.html")]
pub(super) struct RetentionPage {
    c: crate::web::Chrome,
    holds: Vec<HoldRow>,
    datasets: Vec<DatasetRow>,
    sweeps: Vec<SweepRow>,
}

pub(super) async fn retention_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let store = &state.engine.store;
    let (Ok(holds), Ok(sweeps)) = (store.holds(true).await, store.sweeps(20).await) else {
        return crate::web::center::unavailable_at(&state, lang, "/console");
    };
    // Who placed a hold by name, not by operator id (issue 32).
    let Ok(names) = tutela_runtime::operators::ActorNames::load(store).await else {
        return crate::web::center::unavailable_at(&state, lang, "/console");
    };
    let tz = &state.requests.settings.deadlines.time_zone;
    let datasets = state
        .requests
        .connectors
        .iter()
        .map(|c| {
            let status = c.status();
            DatasetRow {
                id: c.map.id.clone(),
                checked: status != tutela_connectors::MapStatus::Unchecked,
                broken: match status {
                    tutela_connectors::MapStatus::Broken(why) => why,
                    _ => String::new(),
                },
                sweeps: state.requests.settings.retention.sweeps(&c.map.id),
            }
        })
        .collect();
    page(&RetentionPage {
        c: chrome(&state, lang, t.retention_page, &op),
        datasets,
        holds: holds
            .into_iter()
            .map(|h| HoldRow {
                what: match (&h.subject, &h.dataset, &h.table_name, &h.record_key) {
                    (Some(s), _, _, _) => s.clone(),
                    (None, Some(d), Some(tb), Some(k)) => format!("{d}.{tb} = {k}"),
                    _ => String::new(),
                },
                placed_at: date_time(h.placed_at, tz, lang),
                id: h.id,
                reference: h.reference,
                placed_by: names.name(&h.placed_by, lang),
            })
            .collect(),
        sweeps: sweeps
            .into_iter()
            .map(|s| {
                let p: Progress = serde_json::from_str(&s.progress).unwrap_or_default();
                SweepRow {
                    id: s.id.clone(),
                    awaiting: p.awaiting_approval(),
                    reasons: p
                        .approval
                        .as_ref()
                        .map(|a| a.reasons.join("; "))
                        .unwrap_or_default(),
                    approved_by: p
                        .approval
                        .as_ref()
                        .and_then(|a| a.approved_by.clone())
                        .unwrap_or_default(),
                    started: date_time(s.started_at, tz, lang),
                    finished: s
                        .finished_at
                        .map(|f| date_time(f, tz, lang))
                        .unwrap_or_else(|| t.running.to_owned()),
                    deleted: p.deleted(),
                    tables: p
                        .tables
                        .iter()
                        .map(|x| {
                            let planned =
                                x.planned.map_or_else(|| "?".to_owned(), |n| n.to_string());
                            format!(
                                "{}.{} ({}, < {}): {} / {planned}",
                                x.dataset, x.table, x.rule, x.cutoff, x.deleted
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    error: s.error.unwrap_or_default(),
                }
            })
            .collect(),
    })
}

/// A DPO approves a sweep's plan (route permission: administer, the DPO's alone). The audit
/// row names the operator; a plan changed meanwhile is refused and shown again.
pub(super) async fn approve_sweep(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    use axum::response::IntoResponse;
    let t = crate::web::i18n::texts(lang);
    match tutela_runtime::retention::approve(
        &state.engine.store,
        &id,
        &op.name,
        crate::routes::now(),
    )
    .await
    {
        Ok(_) => axum::response::Redirect::to("/console/retention").into_response(),
        Err(tutela_runtime::retention::SweepError::Store(_)) => {
            crate::web::center::unavailable_at(&state, lang, "/console/retention")
        }
        Err(_) => crate::web::center::message(
            &state,
            lang,
            axum::http::StatusCode::CONFLICT,
            t.plan_changed,
            "/console/retention",
        ),
    }
}
