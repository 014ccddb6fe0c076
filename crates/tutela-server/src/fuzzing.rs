//! Entry points for the fuzz targets in `fuzz/` (issue 10): the HTTP bodies are parsed and
//! checked exactly as the handlers do, without a server around them. Nothing here may panic on
//! any input.

use tutela_core::compiled::CompiledPolicy;
use tutela_core::state::SubjectState;

use crate::dto::{BatchRequest, DecisionRequest, RequestPost};
use crate::extract::parse;

/// `POST /v1/decisions` and `/v1/decisions/batch`: parse, check the subject, resolve and
/// decide for a person tutela does not know. Returns how many queries were decided.
pub fn decision_body(policy: &CompiledPolicy, bytes: &[u8]) -> usize {
    let decide = |q: &DecisionRequest<'_>| {
        if crate::routes::subject_id(&q.subject).is_err() {
            return 0;
        }
        match policy.resolve(
            &q.purpose,
            q.categories.iter().map(|c| c.as_ref()),
            q.channel.as_deref(),
            q.recipient.as_deref(),
            q.country.as_deref(),
        ) {
            Ok(query) => {
                let e = policy.explain(&SubjectState::UNKNOWN, &query, jiff::Timestamp::UNIX_EPOCH);
                usize::from(e.decision.allowed()) + 1
            }
            Err(_) => 1,
        }
    };
    if let Ok(q) = parse::<DecisionRequest<'_>>(bytes) {
        return decide(&q);
    }
    match parse::<BatchRequest<'_>>(bytes) {
        Ok(b) => b.queries.iter().map(decide).sum(),
        Err(_) => 0,
    }
}

/// `POST /v1/requests`: parse the body; `true` when it would be accepted for checking.
pub fn request_body(bytes: &[u8]) -> bool {
    parse::<RequestPost>(bytes).is_ok_and(|r| {
        r.subject
            .as_deref()
            .is_none_or(|s| crate::routes::subject_id(s).is_ok())
    })
}
