//! The one entry point for a decision question as it is asked: by the HTTP API, by
//! `tutela decide` and by the scenario runners. Each used to resolve the ids, handle the gap,
//! apply the per-call consents and explain on its own, and they drifted apart (the CLI took a
//! per-call purpose without a call for a refusal, the API for a malformed question). Now they
//! all call [`CompiledPolicy::answer`], so they cannot disagree.
//!
//! The rules themselves stay in [`crate::decide`]; this only turns the question as asked into
//! a resolved [`Query`], and the decision into an [`Answer`] every caller writes out alike.
//! Nothing here allocates on the allow/deny path: the answer borrows the policy's tables.

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use crate::calls::CallConsents;
use crate::compiled::{ClauseSet, CompiledPolicy, Query};
use crate::decide::Decision;
use crate::reason::{Reason, ReasonSet};
use crate::state::SubjectState;

/// A decision question as asked: ids as text, not yet resolved against the policy.
#[derive(Clone, Debug)]
pub struct Question<'q, C> {
    pub purpose: &'q str,
    /// The data categories, any iterator of ids (a slice of `String`s mapped to `&str`, …).
    pub categories: C,
    pub channel: Option<&'q str>,
    pub recipient: Option<&'q str>,
    pub country: Option<&'q str>,
    /// The call a decision about a purpose with consent per call (N23) is made during.
    pub call: Option<&'q str>,
}

/// The person a question is about: their compact state and the per-call consents in force
/// (of everyone; looked up by `subject`).
#[derive(Clone, Copy, Debug)]
pub struct Person<'s> {
    pub subject: &'s str,
    pub state: &'s SubjectState,
    pub calls: &'s CallConsents,
}

/// A question that cannot be answered as asked; the caller reports it as a malformed request
/// (HTTP 422, CLI exit code 2), naming [`QuestionError::field`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuestionError<'q> {
    /// Consent to the purpose is given per call (N23): without the call there is no consent
    /// to look for, and a refusal would read as "the person said no".
    #[error("consent to `{purpose}` is given per call; name the call")]
    CallRequired { purpose: &'q str },
}

impl QuestionError<'_> {
    /// The field of the question that is missing or wrong.
    pub fn field(&self) -> &'static str {
        match self {
            QuestionError::CallRequired { .. } => "call",
        }
    }
}

/// The answer to a question: the decision, every reason noted, the notice clauses it rests
/// on, and for a gap in the policy the field naming what it does not know. `Copy`, made
/// without allocating; it serialises to the fields of the API's decision response.
#[derive(Clone, Copy, Debug)]
pub struct Answer<'p> {
    pub decision: Decision,
    pub reasons: ReasonSet,
    pub clauses: ClauseSet,
    /// The query field naming what the policy does not know (gaps only).
    pub field: Option<&'static str>,
    pub policy: &'p CompiledPolicy,
}

impl<'p> Answer<'p> {
    pub fn allowed(&self) -> bool {
        self.decision.allowed()
    }

    /// Every reason noted, the primary first.
    pub fn reasons(&self) -> impl Iterator<Item = Reason> + 'p {
        self.reasons.ordered(self.decision.reason)
    }

    /// The clause ids of the notice the answer rests on, in the notice's order.
    pub fn notice_refs(&self) -> impl Iterator<Item = &'p str> + 'p {
        self.policy.clause_ids(self.clauses)
    }

    pub fn policy_version(&self) -> &'p str {
        self.policy.policy_version()
    }
}

/// The reason codes of an answer, written straight from the bit set.
struct ReasonCodes(ReasonSet, Reason);

impl Serialize for ReasonCodes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.ordered(self.1).map(Reason::code))
    }
}

/// The clause ids of an answer, written straight from the bit set.
struct ClauseIds<'p>(ClauseSet, &'p CompiledPolicy);

impl Serialize for ClauseIds<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.1.clause_ids(self.0))
    }
}

impl Serialize for Answer<'_> {
    /// The fields, names and order of the API's `DecisionResponse`: `transfer` and `field`
    /// only when set.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = &self.decision;
        let transfer = d.transfer.map(Reason::code);
        let len = 8 + usize::from(transfer.is_some()) + usize::from(self.field.is_some());
        let mut st = s.serialize_struct("Answer", len)?;
        st.serialize_field("allowed", &d.allowed())?;
        st.serialize_field("outcome", d.outcome.as_str())?;
        st.serialize_field("legal_basis", &d.legal_basis.map(|b| b.dpv_id()))?;
        st.serialize_field("reason", d.reason.code())?;
        st.serialize_field("rule", d.reason.rule())?;
        st.serialize_field("reasons", &ReasonCodes(self.reasons, d.reason))?;
        st.serialize_field("notice_refs", &ClauseIds(self.clauses, self.policy))?;
        match transfer {
            Some(t) => st.serialize_field("transfer", t)?,
            None => st.skip_field("transfer")?,
        }
        match self.field {
            Some(f) => st.serialize_field("field", f)?,
            None => st.skip_field("field")?,
        }
        st.serialize_field("policy_version", self.policy.policy_version())?;
        st.end()
    }
}

impl CompiledPolicy {
    /// Answers a question about `person` at `now`: resolves its ids (anything the policy does
    /// not know is a gap, answered `not_configured`, never an allow), applies the consent for
    /// the call to a purpose with consent per call, and decides and explains. A per-call
    /// purpose asked without a call is an error naming the field `call`.
    #[inline]
    pub fn answer<'q, C>(
        &self,
        question: Question<'q, C>,
        person: Person<'_>,
        now: jiff::Timestamp,
    ) -> Result<Answer<'_>, QuestionError<'q>>
    where
        C: IntoIterator<Item = &'q str>,
    {
        let resolved = self.resolve(
            question.purpose,
            question.categories,
            question.channel,
            question.recipient,
            question.country,
        );
        let query = match resolved {
            Ok(query) => query,
            Err(gap) => return Ok(self.gap_answer(gap.reason, gap.field)),
        };
        self.answer_resolved(&query, question.purpose, question.call, person, now)
    }

    fn gap_answer(&self, reason: Reason, field: &'static str) -> Answer<'_> {
        let mut reasons = ReasonSet::default();
        reasons.insert(reason);
        Answer {
            decision: Decision::gap(reason),
            reasons,
            clauses: self.reason_clauses(reason),
            field: Some(field),
            policy: self,
        }
    }

    #[inline]
    fn answer_resolved<'q>(
        &self,
        query: &Query,
        purpose: &'q str,
        call: Option<&str>,
        person: Person<'_>,
        now: jiff::Timestamp,
    ) -> Result<Answer<'_>, QuestionError<'q>> {
        // A purpose with consent per call (N23) is decided on the consent for this call; the
        // person's state is copied (it is `Copy`) only then.
        let during;
        let state = if self.takes_consent_per_call(query.purpose) {
            let Some(call) = call else {
                return Err(QuestionError::CallRequired { purpose });
            };
            during = person.calls.during_call(
                self,
                person.subject,
                person.state,
                query.purpose,
                Some(call),
                now,
            );
            &during
        } else {
            person.state
        };
        let e = self.explain(state, query, now);
        Ok(Answer {
            decision: e.decision,
            reasons: e.reasons,
            clauses: e.clauses,
            field: None,
            policy: self,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::{ContractKind, Relationship};
    use crate::ledger::EventKind;
    use crate::policy::{MemoryLoader, load_policy};

    const REFERENCE: &str = include_str!("../../../policies/reference.toml");

    fn policy() -> CompiledPolicy {
        let loader = MemoryLoader::new().with("reference.toml", REFERENCE);
        CompiledPolicy::new(
            load_policy(&loader, "reference.toml").unwrap_or_else(|e| unreachable!("{e}")),
        )
    }

    fn customer(policy: &CompiledPolicy) -> SubjectState {
        let mut s = SubjectState::UNKNOWN;
        s.apply(
            policy,
            &EventKind::Relationship {
                relationship: Relationship::Customer,
                contract_kind: ContractKind::Other,
            },
        );
        s
    }

    fn question<'q>(
        purpose: &'q str,
        categories: &'q [&'q str],
        call: Option<&'q str>,
    ) -> Question<'q, impl IntoIterator<Item = &'q str>> {
        Question {
            purpose,
            categories: categories.iter().copied(),
            channel: None,
            recipient: None,
            country: None,
            call,
        }
    }

    fn now() -> jiff::Timestamp {
        "2026-06-01T00:00:00Z"
            .parse()
            .unwrap_or_else(|e| unreachable!("{e}"))
    }

    // covers: N23
    #[test]
    fn a_per_call_purpose_without_a_call_is_an_error_naming_call() {
        let policy = policy();
        let state = customer(&policy);
        let calls = CallConsents::default();
        let person = Person {
            subject: "s",
            state: &state,
            calls: &calls,
        };
        let err = policy
            .answer(
                question("call_recording", &["call_audio"], None),
                person,
                now(),
            )
            .err();
        assert_eq!(
            err,
            Some(QuestionError::CallRequired {
                purpose: "call_recording"
            })
        );
        assert_eq!(err.map(|e| e.field()), Some("call"));
        // With the call it is an answer: no consent for this call, a refusal.
        let a = policy
            .answer(
                question("call_recording", &["call_audio"], Some("c-1")),
                person,
                now(),
            )
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(!a.allowed());
    }

    #[test]
    fn a_gap_is_an_answer_naming_the_field() {
        let policy = policy();
        let state = customer(&policy);
        let calls = CallConsents::default();
        let person = Person {
            subject: "s",
            state: &state,
            calls: &calls,
        };
        let a = policy
            .answer(question("telepathy", &["contact"], None), person, now())
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(a.decision.outcome.as_str(), "not_configured");
        assert_eq!(a.field, Some("purpose"));
        assert_eq!(
            a.reasons().map(Reason::code).collect::<Vec<_>>(),
            ["unknown_purpose"]
        );
    }

    #[test]
    fn an_answer_serialises_to_the_decision_response_fields() {
        let policy = policy();
        let state = customer(&policy);
        let calls = CallConsents::default();
        let person = Person {
            subject: "s",
            state: &state,
            calls: &calls,
        };
        let a = policy
            .answer(
                question("contract_performance", &["contact"], None),
                person,
                now(),
            )
            .unwrap_or_else(|e| unreachable!("{e}"));
        let v = serde_json::to_value(a).unwrap_or_else(|e| unreachable!("{e}"));
        let mut keys: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "allowed",
                "legal_basis",
                "notice_refs",
                "outcome",
                "policy_version",
                "reason",
                "reasons",
                "rule"
            ]
        );
        assert_eq!(v["allowed"], true);
        assert_eq!(v["reason"], "contract");
        assert_eq!(v["reasons"][0], "contract");
        assert_eq!(v["policy_version"], policy.policy_version());
        let gap = policy
            .answer(question("telepathy", &["contact"], None), person, now())
            .unwrap_or_else(|e| unreachable!("{e}"));
        let v = serde_json::to_value(gap).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(v["field"], "purpose");
        assert_eq!(v["legal_basis"], serde_json::Value::Null);
    }
}
