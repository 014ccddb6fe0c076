//! AI call summaries (N24): the operator's AI system files a draft for the agent who had the
//! call; only that agent (or a supervisor) sees it, in the console, and only what they approve
//! or edit becomes the person's service history. No system ever reads a draft.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tutela_store::{StoreError, SummaryRecord, SummaryStore, WebStore};
use utoipa::ToSchema;

use super::{now, storage, subject_id};
use crate::AppState;
use crate::extract::Json as Body;
use crate::problem::{Code, Problem};

/// How long a draft waits for its agent's review before it expires unreviewed.
pub const DRAFT_VALIDITY_HOURS: i64 = 24;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryPost {
    /// The operator's id of the person who called.
    pub subject: String,
    /// The telephony system's id of the call; one summary per call.
    pub call_id: String,
    /// The console user name of the agent who had the call.
    pub agent: String,
    /// The AI's draft.
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryFiled {
    pub id: String,
    pub status: &'static str,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryView {
    pub id: String,
    pub subject: String,
    pub call_id: String,
    /// `approved` (as drafted) or `edited`.
    pub status: String,
    pub text: String,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<String>,
}

fn view(s: SummaryRecord) -> SummaryView {
    SummaryView {
        id: s.id,
        subject: s.subject,
        call_id: s.call_id,
        status: s.status,
        text: s.text.unwrap_or_default(),
        reviewed_by: s.reviewed_by,
        reviewed_at: s.reviewed_at.map(|t| t.to_string()),
    }
}

#[utoipa::path(post, path = "/v1/call-summaries", request_body = SummaryPost,
    responses((status = 201, body = SummaryFiled), (status = 422, body = crate::problem::ProblemBody), (status = 409, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Body(body): Body<SummaryPost>,
) -> Result<(StatusCode, Json<SummaryFiled>), Problem> {
    subject_id(&body.subject).map_err(|p| p.field("subject"))?;
    if body.call_id.is_empty() || body.call_id.len() > 200 {
        return Err(Problem::new(
            Code::InvalidField,
            "the call id must have 1 to 200 characters",
        )
        .field("call_id")
        .fix("send the telephony system's id of the call"));
    }
    if body.text.trim().is_empty() || body.text.len() > 20_000 {
        return Err(Problem::new(
            Code::InvalidField,
            "a draft needs 1 to 20,000 characters of text",
        )
        .field("text")
        .fix("send the AI's summary of the call"));
    }
    let store = &state.engine.store;
    let agent = store.operator_by_name(&body.agent).await.map_err(storage)?;
    let Some(agent) = agent.filter(|a| a.disabled_at.is_none() && a.role != "auditor") else {
        return Err(Problem::new(
            Code::InvalidField,
            format!("no active agent `{}`", body.agent),
        )
        .field("agent")
        .fix("name the console user who had the call (tutela operators list)"));
    };
    // The engine decides whether this person's call may be summarised at all.
    let at = now();
    let allowed = {
        let live = state.engine.states();
        let policy = &live.policy;
        let q = policy
            .resolve(
                "call_summary",
                ["customer_number", "service_interaction"],
                None,
                None,
                None,
            )
            .map_err(|gap| {
                Problem::new(
                    Code::NotConfigured,
                    format!("the policy has no `{}`", gap.value),
                )
                .fix("call summaries need the purpose `call_summary` (N24) in the policy")
            })?;
        policy.decide(live.state(&body.subject), &q, at)
    };
    if !allowed.allowed() {
        return Err(Problem::new(
            Code::PolicyViolation,
            format!(
                "the policy does not allow a summary of this person's call now ({})",
                allowed.reason.code()
            ),
        )
        .field("subject")
        .fix("POST /v1/decisions with purpose call_summary explains why"));
    }
    let expires_at = at
        .checked_add(jiff::SignedDuration::from_hours(state.summary_hours))
        .unwrap_or(jiff::Timestamp::MAX);
    let record = SummaryRecord {
        id: format!(
            "cs_{}",
            tutela_runtime::random_hex(12).map_err(|_| storage(StoreError::Conflict))?
        ),
        subject: body.subject,
        call_id: body.call_id,
        agent: agent.id,
        draft: Some(body.text),
        text: None,
        status: "draft".into(),
        created_at: at,
        expires_at,
        reviewed_at: None,
        reviewed_by: None,
    };
    match tutela_runtime::records::summary_draft(&state.engine, &record).await {
        Ok(()) => Ok((
            StatusCode::CREATED,
            Json(SummaryFiled {
                id: record.id,
                status: "draft",
                expires_at: expires_at.to_string(),
            }),
        )),
        Err(StoreError::Conflict) => Err(Problem::new(
            Code::Conflict,
            "this call has a summary already",
        )
        .field("call_id")
        .fix("one summary per call; the agent edits it in the console")),
        Err(e) => Err(storage(e)),
    }
}

#[utoipa::path(get, path = "/v1/call-summaries/{id}",
    params(("id" = String, Path, description = "The summary's id")),
    responses((status = 200, body = SummaryView), (status = 404, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SummaryView>, Problem> {
    let found = state.engine.store.summary(&id).await.map_err(storage)?;
    // A draft, a rejected or an expired summary is as absent as one never made.
    match found {
        Some(s) if s.status == "approved" || s.status == "edited" => Ok(Json(view(s))),
        _ => Err(
            Problem::new(Code::NotFound, "no reviewed summary with this id")
                .field("id")
                .fix("a summary can be read once its agent reviewed it"),
        ),
    }
}

#[utoipa::path(get, path = "/v1/subjects/{id}/call-summaries",
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 200, body = [SummaryView])),
    security(("bearer" = [])))]
pub async fn of_subject(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<SummaryView>>, Problem> {
    subject_id(&id)?;
    let list = state
        .engine
        .store
        .reviewed_summaries(&id)
        .await
        .map_err(storage)?;
    Ok(Json(list.into_iter().map(view).collect()))
}
