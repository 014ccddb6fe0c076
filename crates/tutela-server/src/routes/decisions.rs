//! Decisions: "may purpose P process categories C of subject S now?", one or a batch. They
//! read the in-memory state only; no database is touched.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use tutela_core::compiled::CompiledPolicy;
use tutela_core::reason::Outcome;

use tutela_core::reason::ReasonSet;

use crate::dto::{
    BatchRequest, BatchResponse, ClauseRefs, DecisionRequest, DecisionResponse, ReasonCodes,
};
use crate::extract::{JsonBytes, parse};
use crate::problem::{Code, Problem};
use crate::{AppState, MAX_BATCH};
use tutela_core::state::SubjectState;
use tutela_runtime::metrics::Tally;

use tutela_runtime::engine::Live;

fn decide_one<'p>(
    policy: &'p CompiledPolicy,
    live: &Live,
    state: &SubjectState,
    q: &DecisionRequest<'_>,
    now: jiff::Timestamp,
    tally: &mut Tally,
) -> Result<DecisionResponse<'p>, Problem> {
    let resolved = policy.resolve(
        &q.purpose,
        q.categories.iter().map(|c| c.as_ref()),
        q.channel.as_deref(),
        q.recipient.as_deref(),
        q.country.as_deref(),
    );
    Ok(match resolved {
        Err(gap) => {
            tally.record(Outcome::Gap, gap.reason);
            let mut set = ReasonSet::default();
            set.insert(gap.reason);
            DecisionResponse {
                allowed: false,
                outcome: Outcome::Gap.as_str(),
                legal_basis: None,
                reason: gap.reason.code(),
                rule: gap.reason.rule(),
                reasons: ReasonCodes {
                    set,
                    primary: gap.reason,
                },
                notice_refs: ClauseRefs {
                    set: policy.reason_clauses(gap.reason),
                    policy,
                },
                transfer: None,
                field: Some(gap.field),
                policy_version: policy.policy_version(),
            }
        }
        Ok(query) => {
            // A purpose with consent per call (N23) is decided on the consent for this call.
            let during;
            let state = if policy.takes_consent_per_call(query.purpose) {
                let Some(call) = q.call.as_deref() else {
                    return Err(Problem::new(
                        Code::InvalidField,
                        format!(
                            "consent to `{}` is given per call; name the call",
                            q.purpose
                        ),
                    )
                    .field("call")
                    .fix("send the telephony system's id of the call in `call`"));
                };
                during = live.calls.during_call(
                    policy,
                    &q.subject,
                    state,
                    query.purpose,
                    Some(call),
                    now,
                );
                &during
            } else {
                state
            };
            let e = policy.explain(state, &query, now);
            let d = e.decision;
            tally.record(d.outcome, d.reason);
            DecisionResponse {
                allowed: d.allowed(),
                outcome: d.outcome.as_str(),
                legal_basis: d.legal_basis.map(|b| b.dpv_id()),
                reason: d.reason.code(),
                rule: d.reason.rule(),
                reasons: ReasonCodes {
                    set: e.reasons,
                    primary: d.reason,
                },
                notice_refs: ClauseRefs {
                    set: e.clauses,
                    policy,
                },
                transfer: d.transfer.map(|t| t.code()),
                field: None,
                policy_version: policy.policy_version(),
            }
        }
    })
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
    let now = super::now();
    // Policy and states from one read: a policy switch cannot fall between them. The answer
    // borrows the policy's tables, so the policy is held past the read.
    let policy;
    let response = {
        let states = state.engine.states();
        policy = states.policy.clone();
        let policy = &*policy;
        let mut tally = Tally::default();
        let r = decide_one(
            policy,
            &states,
            states.state(&q.subject),
            &q,
            now,
            &mut tally,
        );
        tally.flush();
        r?
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
        super::subject_id(&q.subject).map_err(|p| p.field(format!("queries[{i}].subject")))?;
    }
    let now = super::now();
    let policy;
    let results = {
        let states = state.engine.states();
        policy = states.policy.clone();
        let policy = &*policy;
        let mut tally = Tally::default();
        // All lookups first: they are independent, so their cache misses overlap.
        let found: Vec<&SubjectState> = req
            .queries
            .iter()
            .map(|q| states.state(&q.subject))
            .collect();
        let results = req
            .queries
            .iter()
            .zip(found)
            .enumerate()
            .map(|(i, (q, s))| {
                decide_one(policy, &states, s, q, now, &mut tally)
                    .map_err(|p| p.field(format!("queries[{i}].call")))
            })
            .collect::<Result<Vec<_>, Problem>>();
        tally.flush();
        results?
    };
    Ok(Json(BatchResponse { results }).into_response())
}
