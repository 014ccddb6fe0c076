//! Retention over the API (N5a, N6, N7b, N15): the plan of a sweep (what is due, by which rule,
//! what is held), sweeps opened now and listed with their progress, and legal holds placed and
//! lifted. The worker runs an open sweep, one slice per tick, resumable under its lease.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tutela_store::{HoldRecord, RetentionStore, SweepRecord};
use utoipa::ToSchema;

use super::{now, random_id, storage};
use crate::AppState;
use crate::extract::Json as Body;
use crate::problem::{Code, Problem};
use tutela_runtime::retention::{PlannedTable, Progress, Sweeper};

#[derive(Debug, Deserialize)]
pub struct PlanQuery {
    at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedTableView {
    pub dataset: String,
    pub table: String,
    /// The retention rule and the clauses it rests on.
    pub rule: String,
    pub notice_refs: Vec<String>,
    /// Rows recorded before this day are due.
    pub delete_before: String,
    /// The rows a sweep deletes: due, not under a legal hold, and referenced by no row that
    /// stays (rows freed by their children going earlier in the same sweep included);
    /// `null` when the database could not be asked.
    pub due: Option<u64>,
    /// Rows of the table kept by an active legal hold (on the row or on its person).
    pub held: usize,
    pub error: Option<String>,
    /// Whether sweeps of the dataset are on (`retention_sweeps = true`); when off, `due` is
    /// what would go once they are, and nothing is deleted.
    pub sweeps: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotSweptView {
    pub dataset: String,
    pub table: String,
    pub rule: String,
    /// Why the table is not swept (a rule that keeps, a table without a time column).
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    pub at: String,
    pub tables: Vec<PlannedTableView>,
    pub not_swept: Vec<NotSweptView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SweepTableView {
    pub dataset: String,
    pub table: String,
    pub rule: String,
    pub delete_before: String,
    pub deleted: u64,
    pub batches: u64,
    /// The longest batch: the longest this sweep held locks on the table.
    pub longest_batch_ms: u64,
    pub done: bool,
    /// The rows counted due when the sweep was planned (what an approval approves).
    pub planned: Option<u64>,
    /// Why the table was left alone (sweeps turned off, a broken map).
    pub skipped: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SweepView {
    pub id: String,
    /// The day the cutoffs were computed for; a resumed sweep keeps them.
    pub plan_day: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub deleted: u64,
    pub tables: Vec<SweepTableView>,
    /// Why the last step stopped; the sweep resumes at the worker's next tick.
    pub error: Option<String>,
    /// The plan waits for a DPO's approval (console or `tutela retention approve`); nothing
    /// is deleted until then.
    pub awaiting_approval: bool,
    /// Why the plan needs approval.
    pub approval_reasons: Vec<String>,
    pub approved_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SweepOpened {
    /// The sweep the worker runs next: the new one, or the one already open.
    pub sweep: Option<String>,
    /// `false` when a sweep was open already (at most one is).
    pub opened: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldPost {
    /// The person whose rows are held everywhere; or name one row with dataset, table and
    /// record_key.
    pub subject: Option<String>,
    pub dataset: Option<String>,
    pub table: Option<String>,
    pub record_key: Option<String>,
    /// The case, claim or dispute the hold serves (1 to 100 characters; a reference, not a
    /// description).
    pub reference: String,
    /// Who places it: an operator id.
    pub placed_by: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftPost {
    pub lifted_by: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldView {
    pub id: String,
    pub subject: Option<String>,
    pub dataset: Option<String>,
    pub table: Option<String>,
    pub record_key: Option<String>,
    pub reference: String,
    pub placed_by: String,
    pub placed_at: String,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct HoldsQuery {
    all: Option<bool>,
}

fn hold_view(h: HoldRecord) -> HoldView {
    HoldView {
        id: h.id,
        subject: h.subject,
        dataset: h.dataset,
        table: h.table_name,
        record_key: h.record_key,
        reference: h.reference,
        placed_by: h.placed_by,
        placed_at: h.placed_at.to_string(),
        lifted_by: h.lifted_by,
        lifted_at: h.lifted_at.map(|t| t.to_string()),
    }
}

fn sweep_view(s: SweepRecord) -> SweepView {
    let progress: Progress = serde_json::from_str(&s.progress).unwrap_or_default();
    SweepView {
        awaiting_approval: progress.awaiting_approval(),
        approval_reasons: progress
            .approval
            .as_ref()
            .map(|a| a.reasons.clone())
            .unwrap_or_default(),
        approved_by: progress
            .approval
            .as_ref()
            .and_then(|a| a.approved_by.clone()),
        deleted: progress.deleted(),
        tables: progress
            .tables
            .into_iter()
            .map(|t| SweepTableView {
                dataset: t.dataset,
                table: t.table,
                rule: t.rule,
                delete_before: t.cutoff,
                deleted: t.deleted,
                batches: t.batches,
                longest_batch_ms: t.longest_batch_ms,
                done: t.done,
                planned: t.planned,
                skipped: t.skipped,
            })
            .collect(),
        id: s.id,
        plan_day: s.plan_day,
        started_at: s.started_at.to_string(),
        finished_at: s.finished_at.map(|t| t.to_string()),
        error: s.error,
    }
}

fn sweep_failed(e: tutela_runtime::retention::SweepError) -> Problem {
    match e {
        tutela_runtime::retention::SweepError::Store(_) => Problem::new(
            Code::StorageUnavailable,
            "the database did not answer; nothing was changed",
        )
        .fix("retry"),
        other => Problem::new(Code::Conflict, other.to_string()).fix("retry later"),
    }
}

/// 1 to `max` characters, none a control character.
fn text_field(v: &str, field: &str, max: usize, fix: &str) -> Result<String, Problem> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(Problem::new(
            Code::InvalidField,
            format!("{field} must have 1 to {max} characters"),
        )
        .field(field)
        .fix(fix));
    }
    Ok(t.to_owned())
}

#[utoipa::path(get, path = "/v1/retention/plan",
    params(("at" = Option<String>, Query, description = "An RFC 3339 time to plan for (default: now)")),
    responses((status = 200, body = PlanView), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn plan(
    State(state): State<AppState>,
    q: Result<Query<PlanQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PlanView>, Problem> {
    let Query(q) = q.map_err(|e| {
        Problem::new(Code::InvalidField, e.body_text())
            .field("query")
            .fix("use ?at=2026-12-01T03:00:00Z")
    })?;
    let at = match q.at.as_deref() {
        None => now(),
        Some(t) => t.parse().map_err(|_| {
            Problem::new(Code::InvalidField, "not an RFC 3339 time")
                .field("at")
                .fix("e.g. 2026-12-01T03:00:00Z")
        })?,
    };
    let compiled = state.engine.policy();
    let sweeper = Sweeper {
        store: &state.engine.store,
        policy: &compiled.policy,
        connectors: &state.requests.connectors,
        owner: "plan",
        settings: &state.requests.settings.retention,
    };
    let tables = sweeper.preview(at).await.map_err(sweep_failed)?;
    let not_swept = sweeper
        .plan(at.to_zoned(jiff::tz::TimeZone::UTC).date())
        .not_swept
        .into_iter()
        .map(|n| NotSweptView {
            dataset: n.dataset,
            table: n.table_name,
            rule: n.rule,
            reason: n.reason.to_string(),
        })
        .collect();
    Ok(Json(PlanView {
        at: at.to_string(),
        tables: tables
            .into_iter()
            .map(|t: PlannedTable| PlannedTableView {
                dataset: t.dataset,
                table: t.table,
                rule: t.rule,
                notice_refs: t.notice_refs,
                delete_before: t.cutoff,
                due: t.due,
                held: t.held,
                error: t.error,
                sweeps: t.sweeps,
            })
            .collect(),
        not_swept,
    }))
}

#[utoipa::path(post, path = "/v1/retention/sweeps",
    responses((status = 202, body = SweepOpened), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn open(
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<SweepOpened>), Problem> {
    if state.requests.connectors.is_empty() {
        return Err(Problem::new(
            Code::PolicyViolation,
            "no operator database is configured: there is nothing to sweep",
        )
        .fix("configure a [[dataset]] with its map and URL"));
    }
    if state.requests.settings.retention.enabled.is_empty() {
        return Err(Problem::new(
            Code::PolicyViolation,
            "sweeps are off for every dataset: nothing is deleted from the operator's databases",
        )
        .fix("set `retention_sweeps = true` in the [[dataset]] to sweep and restart"));
    }
    let compiled = state.engine.policy();
    let sweeper = state.requests.sweeper(&compiled.policy);
    let opened = sweeper.open(now(), true).await.map_err(sweep_failed)?;
    let sweep = match &opened {
        Some(id) => Some(id.clone()),
        None => state
            .engine
            .store
            .sweeps(20)
            .await
            .map_err(storage)?
            .into_iter()
            .find(|s| s.finished_at.is_none())
            .map(|s| s.id),
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(SweepOpened {
            sweep,
            opened: opened.is_some(),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/retention/sweeps",
    responses((status = 200, body = Vec<SweepView>)),
    security(("bearer" = [])))]
pub async fn sweeps(State(state): State<AppState>) -> Result<Json<Vec<SweepView>>, Problem> {
    let list = state.engine.store.sweeps(50).await.map_err(storage)?;
    Ok(Json(list.into_iter().map(sweep_view).collect()))
}

#[utoipa::path(post, path = "/v1/legal-holds", request_body = HoldPost,
    responses((status = 201, body = HoldView), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn place(
    State(state): State<AppState>,
    Body(body): Body<HoldPost>,
) -> Result<(StatusCode, Json<HoldView>), Problem> {
    let reference = text_field(
        &body.reference,
        "reference",
        100,
        "name the case, claim or dispute",
    )?;
    let placed_by = text_field(&body.placed_by, "placed_by", 100, "send the operator's id")?;
    let row = (&body.dataset, &body.table, &body.record_key);
    let (subject, dataset, table, record_key) = match (&body.subject, row) {
        (Some(s), (None, None, None)) => {
            super::subject_id(s).map_err(|p| p.field("subject"))?;
            (Some(s.clone()), None, None, None)
        }
        (None, (Some(d), Some(t), Some(k))) => {
            let mapped = state
                .requests
                .connectors
                .iter()
                .find(|c| c.map.id == *d)
                .ok_or_else(|| {
                    Problem::new(
                        Code::UnknownId,
                        format!("no dataset map `{d}` is configured"),
                    )
                    .field("dataset")
                    .fix("name the id of a configured dataset map")
                })?;
            if !mapped.map.tables.iter().any(|x| x.name == *t) {
                return Err(Problem::new(
                    Code::UnknownId,
                    format!("the dataset map `{d}` maps no table `{t}`"),
                )
                .field("table")
                .fix("name a table of the dataset map"));
            }
            let k = text_field(
                k,
                "record_key",
                200,
                "send the row's key as the map names it",
            )?;
            (None, Some(d.clone()), Some(t.clone()), Some(k))
        }
        _ => {
            return Err(Problem::new(
                Code::InvalidField,
                "a hold names a subject, or one row by dataset, table and record_key",
            )
            .field("subject")
            .fix("send either subject, or dataset, table and record_key"));
        }
    };
    let record = HoldRecord {
        id: random_id("lh")?,
        subject,
        dataset,
        table_name: table,
        record_key,
        reference,
        placed_by,
        placed_at: now(),
        lifted_by: None,
        lifted_at: None,
    };
    tutela_runtime::records::place_hold(&state.engine, &record)
        .await
        .map_err(storage)?;
    Ok((StatusCode::CREATED, Json(hold_view(record))))
}

#[utoipa::path(get, path = "/v1/legal-holds",
    params(("all" = Option<bool>, Query, description = "Lifted holds too (default: active ones only)")),
    responses((status = 200, body = Vec<HoldView>), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn holds(
    State(state): State<AppState>,
    q: Result<Query<HoldsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<HoldView>>, Problem> {
    let Query(q) = q.map_err(|e| {
        Problem::new(Code::InvalidField, e.body_text())
            .field("all")
            .fix("use ?all=true or leave it out")
    })?;
    let list = state
        .engine
        .store
        .holds(!q.all.unwrap_or(false))
        .await
        .map_err(storage)?;
    Ok(Json(list.into_iter().map(hold_view).collect()))
}

#[utoipa::path(post, path = "/v1/legal-holds/{id}/lift", request_body = LiftPost,
    params(("id" = String, Path, description = "The hold's id")),
    responses((status = 200, body = HoldView), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn lift(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<LiftPost>,
) -> Result<Json<HoldView>, Problem> {
    let by = text_field(&body.lifted_by, "lifted_by", 100, "send the operator's id")?;
    let lifted = tutela_runtime::records::lift_hold(&state.engine, &id, &by, now())
        .await
        .map_err(storage)?;
    if !lifted {
        return Err(
            Problem::new(Code::UnknownId, "no active legal hold has this id")
                .field("id")
                .fix("name an active hold of GET /v1/legal-holds"),
        );
    }
    let all = state.engine.store.holds(false).await.map_err(storage)?;
    let h = all.into_iter().find(|h| h.id == id).ok_or_else(|| {
        Problem::new(Code::StorageUnavailable, "the hold could not be read back").fix("retry")
    })?;
    Ok(Json(hold_view(h)))
}
