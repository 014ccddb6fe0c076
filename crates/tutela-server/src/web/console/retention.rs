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
use crate::retention::Progress;
use crate::web::{PageLang, date_time, page};

pub(super) struct HoldRow {
    id: String,
    what: String,
    reference: String,
    placed_by: String,
    placed_at: String,
}

pub(super) struct SweepRow {
    started: String,
    finished: String,
    deleted: u64,
    tables: String,
    error: String,
}

#[derive(Template)]
#[template(path = "console/retention.html")]
pub(super) struct RetentionPage {
    c: crate::web::Chrome,
    holds: Vec<HoldRow>,
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
    let tz = &state.requests.settings.deadlines.time_zone;
    page(&RetentionPage {
        c: chrome(&state, lang, t.retention_page, &op),
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
                placed_by: h.placed_by,
            })
            .collect(),
        sweeps: sweeps
            .into_iter()
            .map(|s| {
                let p: Progress = serde_json::from_str(&s.progress).unwrap_or_default();
                SweepRow {
                    started: date_time(s.started_at, tz, lang),
                    finished: s
                        .finished_at
                        .map(|f| date_time(f, tz, lang))
                        .unwrap_or_else(|| t.running.to_owned()),
                    deleted: p.deleted(),
                    tables: p
                        .tables
                        .iter()
                        .map(|x| format!("{}.{} ({}): {}", x.dataset, x.table, x.rule, x.deleted))
                        .collect::<Vec<_>>()
                        .join(", "),
                    error: s.error.unwrap_or_default(),
                }
            })
            .collect(),
    })
}
