//! Decisions: "may purpose P process categories C of subject S now?", one or a batch. They
//! read the in-memory state only; no database is touched.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use tutela_core::compiled::CompiledPolicy;
use tutela_core::reason::Outcome;

use crate::dto::{BatchRequest, BatchResponse, DecisionRequest, DecisionResponse};
use crate::engine::States;
use crate::extract::{JsonBytes, parse};
use crate::problem::{Code, Problem};
use crate::{AppState, MAX_BATCH, metrics};

fn decide_one<'p>(
    policy: &'p CompiledPolicy,
    states: &States,
    q: &DecisionRequest<'_>,
    now: jiff::Timestamp,
) -> DecisionResponse<'p> {
    let resolved = policy.resolve(
        &q.purpose,
        q.categories.iter().map(|c| c.as_ref()),
        q.channel.as_deref(),
        q.recipient.as_deref(),
        q.country.as_deref(),
    );
    match resolved {
        Err(gap) => {
            metrics::decision(Outcome::Gap, gap.reason);
            DecisionResponse {
                allowed: false,
                outcome: Outcome::Gap.as_str(),
                legal_basis: None,
                reason: gap.reason.code(),
                rule: gap.reason.rule(),
                reasons: vec![gap.reason.code()],
                notice_refs: gap
                    .reason
                    .clause_refs(&policy.policy.rule_refs)
                    .iter()
                    .map(String::as_str)
                    .collect(),
                transfer: None,
                field: Some(gap.field),
                policy_version: policy.policy_version(),
            }
        }
        Ok(query) => {
            let e = policy.explain(states.get(&q.subject), &query, now);
            let d = e.decision;
            metrics::decision(d.outcome, d.reason);
            DecisionResponse {
                allowed: d.allowed(),
                outcome: d.outcome.as_str(),
                legal_basis: d.legal_basis.map(|b| b.dpv_id()),
                reason: d.reason.code(),
                rule: d.reason.rule(),
                reasons: e.reasons().map(|r| r.code()).collect(),
                notice_refs: e.notice_refs().collect(),
                transfer: d.transfer.map(|t| t.code()),
                field: None,
                policy_version: policy.policy_version(),
            }
        }
    }
}

fn check_subject(q: &DecisionRequest<'_>, at: &str) -> Result<(), Problem> {
    super::subject_id(&q.subject).map_err(|p| p.field(format!("{at}subject")))
}

#[utoipa::path(post, path = "/v1/decisions", request_body = DecisionRequest,
    responses((status = 200, body = DecisionResponse), (status = 400, body = crate::problem::ProblemBody), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn single(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, Problem> {
    let q: DecisionRequest<'_> = parse(&body)?;
    check_subject(&q, "")?;
    let policy = &state.engine.policy;
    let now = super::now();
    let response = {
        let states = state.engine.states();
        decide_one(policy, &states, &q, now)
    };
    Ok(Json(response).into_response())
}

#[utoipa::path(post, path = "/v1/decisions/batch", request_body = BatchRequest,
    responses((status = 200, body = BatchResponse), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn batch(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, Problem> {
    let req: BatchRequest<'_> = parse(&body)?;
    if req.queries.len() > MAX_BATCH {
        return Err(Problem::new(
            Code::BatchTooLarge,
            format!(
                "the batch holds {} queries; at most {MAX_BATCH} are allowed",
                req.queries.len()
            ),
        )
        .field("queries")
        .fix("split the batch"));
    }
    for (i, q) in req.queries.iter().enumerate() {
        check_subject(q, &format!("queries[{i}]."))?;
    }
    let policy = &state.engine.policy;
    let now = super::now();
    let results = {
        let states = state.engine.states();
        req.queries
            .iter()
            .map(|q| decide_one(policy, &states, q, now))
            .collect()
    };
    Ok(Json(BatchResponse { results }).into_response())
}
