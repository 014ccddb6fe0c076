//! Risk checks (N11–N15) and the human review of declines (Art. 22(3)).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tutela_store::{RiskCheckRecord, RiskStore};

use super::{now, subject_id};
use crate::AppState;
use crate::dto::{RiskCheckPost, RiskCheckView, RiskReviewList, RiskReviewPost};
use crate::extract::Json as Body;
use crate::problem::{Code, Problem};
use tutela_runtime::risk::{CheckInput, RiskError, RiskService};

fn service(state: &AppState) -> Result<&RiskService, Problem> {
    state.risk.as_deref().ok_or_else(|| {
        Problem::new(
            Code::NotConfigured,
            "no scorecard is configured on this server",
        )
        .fix("set `risk_model` to a model file trained with `tutela risk train`")
    })
}

fn problem(e: RiskError) -> Problem {
    match e {
        RiskError::NotAllowed(reason) => Problem::new(
            Code::PolicyViolation,
            format!("the policy does not allow the risk check for this person ({reason})"),
        )
        .field("subject")
        .fix("see the decision for purpose risk_check at POST /v1/decisions"),
        RiskError::Score(s) => {
            let field = match &s {
                tutela_core::risk::ScoreError::Missing(f)
                | tutela_core::risk::ScoreError::Unknown(f) => format!("facts.{f}"),
                tutela_core::risk::ScoreError::NotNumeric { feature, .. } => format!("facts.{feature}"),
            };
            Problem::new(Code::InvalidField, s.to_string())
                .field(field)
                .fix("send exactly the features of the model; `tutela risk explain` lists them")
        }
        RiskError::IdentityNeeded => Problem::new(Code::InvalidField, e.to_string())
            .field("identity")
            .fix("send identity {name, address, date_of_birth, iban}, or the group's contract months"),
        RiskError::NotFound => Problem::new(Code::NotFound, "no risk check with this id").field("id"),
        RiskError::NotPending => Problem::new(Code::InvalidTransition, e.to_string())
            .fix("only a decline waiting for review can be reviewed, once"),
        RiskError::Storage(_) => Problem::new(
            Code::StorageUnavailable,
            "the database did not answer; nothing was recorded",
        )
        .fix("retry"),
    }
}

fn view(r: RiskCheckRecord) -> RiskCheckView {
    RiskCheckView {
        id: r.id,
        subject: r.subject,
        outcome: r.outcome,
        review: r.review,
        probability: (r.probability * 10_000.0).round() / 10_000.0,
        points: r.points,
        reasons: serde_json::from_str(&r.reasons).unwrap_or(serde_json::Value::Null),
        agency_queried: r.agency_queried,
        created_at: r.created_at.to_string(),
        expires_at: r.expires_at.to_string(),
        reviewer: r.reviewer,
    }
}

#[utoipa::path(post, path = "/v1/risk-checks", request_body = RiskCheckPost,
    responses((status = 201, body = RiskCheckView), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Body(body): Body<RiskCheckPost>,
) -> Result<(StatusCode, Json<RiskCheckView>), Problem> {
    let svc = service(&state)?;
    subject_id(&body.subject).map_err(|p| p.field("subject"))?;
    let facts = body
        .facts
        .into_iter()
        .map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                other => {
                    return Err(
                        Problem::new(Code::InvalidField, "a fact is a string or a number")
                            .field(format!("facts.{k}"))
                            .fix(format!("send `{k}` as a string or number, not {other}")),
                    );
                }
            };
            Ok((k, s))
        })
        .collect::<Result<_, _>>()?;
    let r = svc
        .check(
            CheckInput {
                subject: body.subject,
                facts,
                group_contract_months: body.group_contract_months,
                identity: body.identity.map(Into::into),
            },
            now(),
        )
        .await
        .map_err(problem)?;
    Ok((StatusCode::CREATED, Json(view(r))))
}

#[utoipa::path(get, path = "/v1/risk-checks/{id}",
    params(("id" = String, Path, description = "The risk check id")),
    responses((status = 200, body = RiskCheckView), (status = 404, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RiskCheckView>, Problem> {
    let r = state
        .engine
        .store
        .risk_check(&id)
        .await
        .map_err(|e| problem(e.into()))?
        .ok_or_else(|| problem(RiskError::NotFound))?;
    Ok(Json(view(r)))
}

#[utoipa::path(get, path = "/v1/risk-reviews",
    responses((status = 200, body = RiskReviewList)),
    security(("bearer" = [])))]
pub async fn reviews(State(state): State<AppState>) -> Result<Json<RiskReviewList>, Problem> {
    let pending = state
        .engine
        .store
        .pending_risk_reviews(1000)
        .await
        .map_err(|e| problem(e.into()))?
        .into_iter()
        .map(view)
        .collect();
    Ok(Json(RiskReviewList { pending }))
}

#[utoipa::path(post, path = "/v1/risk-checks/{id}/review", request_body = RiskReviewPost,
    params(("id" = String, Path, description = "The risk check id")),
    responses((status = 200, body = RiskCheckView), (status = 409, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<RiskReviewPost>,
) -> Result<Json<RiskCheckView>, Problem> {
    let svc = service(&state)?;
    let accept = match body.decision.as_str() {
        "accept" => true,
        "decline" => false,
        other => {
            return Err(
                Problem::new(Code::InvalidField, format!("unknown decision `{other}`"))
                    .field("decision")
                    .fix("use accept or decline"),
            );
        }
    };
    if body.note.trim().is_empty() || body.agent.trim().is_empty() {
        return Err(
            Problem::new(Code::InvalidField, "a review names the agent and says why")
                .field(if body.agent.trim().is_empty() {
                    "agent"
                } else {
                    "note"
                })
                .fix("send agent and note"),
        );
    }
    let r = svc
        .review(&id, accept, &body.agent, &body.note, now())
        .await
        .map_err(problem)?;
    Ok(Json(view(r)))
}
