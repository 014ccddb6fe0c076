//! Decisions: "may purpose P process categories C of subject S now?", one or a batch. They
//! read the in-memory state only; no database is touched.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use tutela_core::compiled::CompiledPolicy;
use tutela_core::query::{Person, Question, QuestionError};

use crate::dto::{
    BatchRequest, BatchResponse, ClauseRefs, DecisionRequest, DecisionResponse, ReasonCodes,
};
use crate::extract::{JsonBytes, parse};
use crate::problem::{Code, Problem};
use crate::{AppState, MAX_BATCH};
use tutela_core::state::SubjectState;
use tutela_runtime::metrics::Tally;

use tutela_runtime::engine::Live;

/// Answers one question through the core's one entry point, the same the CLI and the
/// scenarios use; the answer is written out as the API's `DecisionResponse`.
fn decide_one<'p>(
    policy: &'p CompiledPolicy,
    live: &Live,
    state: &SubjectState,
    q: &DecisionRequest<'_>,
    now: jiff::Timestamp,
    tally: &mut Tally,
) -> Result<DecisionResponse<'p>, Problem> {
    let question = Question {
        purpose: &q.purpose,
        categories: q.categories.iter().map(|c| c.as_ref()),
        channel: q.channel.as_deref(),
        recipient: q.recipient.as_deref(),
        country: q.country.as_deref(),
        call: q.call.as_deref(),
    };
    let person = Person {
        subject: &q.subject,
        state,
        calls: &live.calls,
    };
    let answer = policy.answer(question, person, now).map_err(refused)?;
    let d = answer.decision;
    tally.record(d.outcome, d.reason);
    Ok(DecisionResponse {
        allowed: d.allowed(),
        outcome: d.outcome.as_str(),
        legal_basis: d.legal_basis.map(|b| b.dpv_id()),
        reason: d.reason.code(),
        rule: d.reason.rule(),
        reasons: ReasonCodes {
            set: answer.reasons,
            primary: d.reason,
        },
        notice_refs: ClauseRefs {
            set: answer.clauses,
            policy,
        },
        transfer: d.transfer.map(|t| t.code()),
        field: answer.field,
        policy_version: policy.policy_version(),
    })
}

/// A question the core cannot answer as asked: a 422 naming the field.
fn refused(e: QuestionError<'_>) -> Problem {
    let fix = match e {
        QuestionError::CallRequired { .. } => {
            "send the telephony system's id of the call in `call`"
        }
    };
    Problem::new(Code::InvalidField, e.to_string())
        .field(e.field())
        .fix(fix)
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
