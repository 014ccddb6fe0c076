//! HTTP handlers, one file per resource.

pub mod audiences;
pub mod consents;
pub mod decisions;
pub mod disclosures;
pub mod log;
pub mod meta;
pub mod pseudonyms;
pub mod redactions;
pub mod requests;
pub mod retention;
pub mod risk;
pub mod statistics;
pub mod subjects;
pub mod summaries;

use axum::http::HeaderMap;
use tutela_core::compiled::EventErrorKind;
use tutela_core::ledger::EventKind;
use tutela_store::{Appended, NewEvent};

use crate::AppState;
use crate::dto::Recorded;
use crate::problem::{Code, Problem};
use tutela_runtime::engine::EngineError;

/// The database did not answer: nothing was recorded, and the caller may retry.
pub(crate) fn storage(_: tutela_store::StoreError) -> Problem {
    Problem::new(
        Code::StorageUnavailable,
        "the database did not answer; nothing was recorded",
    )
    .fix("retry")
}

/// A new random id: `prefix` and 24 hex digits.
pub(crate) fn random_id(prefix: &str) -> Result<String, Problem> {
    let hex = tutela_runtime::random_hex(12)
        .map_err(|_| Problem::new(Code::StorageUnavailable, "no randomness").fix("retry"))?;
    Ok(format!("{prefix}_{hex}"))
}

/// Applies `f` to every item; a failure names `field[i]`, the item's place (never its value).
pub(crate) fn each<T, U>(
    items: &[T],
    field: &str,
    fix: &str,
    mut f: impl FnMut(&T) -> Result<U, String>,
) -> Result<Vec<U>, Problem> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            f(item).map_err(|e| {
                Problem::new(Code::InvalidField, e)
                    .field(format!("{field}[{i}]"))
                    .fix(fix)
            })
        })
        .collect()
}

pub(crate) fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// Checks a subject id from the path: 1–128 characters, no control characters.
pub(crate) fn subject_id(id: &str) -> Result<(), Problem> {
    if id.is_empty() || id.chars().count() > 128 || id.chars().any(char::is_control) {
        return Err(Problem::new(
            Code::InvalidField,
            "the subject id must have 1 to 128 characters and no control characters",
        )
        .field("id")
        .fix("use the operator's stable id of the person, e.g. the customer number"));
    }
    Ok(())
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= 200 => Ok(Some(k.to_owned())),
            _ => Err(Problem::new(
                Code::InvalidField,
                "the idempotency key must be 1 to 200 visible ASCII characters",
            )
            .field("Idempotency-Key")
            .fix("send a UUID or another unique string per write")),
        },
    }
}

pub(crate) fn engine_problem(e: EngineError) -> Problem {
    match e {
        EngineError::Rejected(err) if err.field == "subject" => {
            Problem::new(Code::SubjectErased, err.message).field("id")
        }
        EngineError::Rejected(err) => {
            let code = match err.kind {
                EventErrorKind::InvalidField => Code::InvalidField,
                EventErrorKind::PolicyViolation => Code::PolicyViolation,
            };
            Problem::new(code, err.message)
                .field(err.field)
                .fix(err.fix.unwrap_or("see the policy at GET /v1/policy"))
        }
        EngineError::IdempotencyConflict => Problem::new(
            Code::IdempotencyConflict,
            "this idempotency key was used for a different write",
        )
        .field("Idempotency-Key")
        .fix("use a new key for a new write; repeat a key only to retry the same write"),
        EngineError::Storage(_) | EngineError::Closed => Problem::new(
            Code::StorageUnavailable,
            "the write could not be committed; nothing was recorded",
        )
        .fix("retry with the same Idempotency-Key"),
    }
}

/// Builds, commits and reports one ledger event.
pub(crate) async fn record(
    state: &AppState,
    subject: &str,
    kind: EventKind,
    headers: &HeaderMap,
    personal: (Option<String>, Option<String>, Option<String>),
) -> Result<(axum::http::StatusCode, axum::Json<Recorded>), Problem> {
    subject_id(subject)?;
    let name = kind.name();
    let (evidence, reason, email) = personal;
    let event = NewEvent {
        subject: subject.to_owned(),
        at: now(),
        kind,
        evidence,
        reason,
        email,
        idempotency_key: idempotency_key(headers)?,
        policy_version: state.engine.policy().policy_version().to_owned(),
    };
    let Appended { seq, at, duplicate } =
        state.engine.append(event).await.map_err(engine_problem)?;
    let status = if duplicate {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::CREATED
    };
    Ok((
        status,
        axum::Json(Recorded {
            seq,
            at: at.to_string(),
            event: name,
            duplicate,
        }),
    ))
}
