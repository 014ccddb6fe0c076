//! Decision scenarios: a person's ledger events, one question, the expected answer. The same
//! files run through the library, the CLI (`tutela policy test`) and the HTTP API.

use serde::Deserialize;

use crate::basis::{ContractKind, CountryCode, Relationship};
use crate::compiled::CompiledPolicy;
use crate::ledger::{EventKind, LedgerEvent, ObjectionScope};
use crate::query::{Answer, Person, Question, QuestionError};
use crate::state::SubjectState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    #[serde(rename = "case")]
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub covers: Vec<String>,
    /// The case sets event times, which only the library can do.
    #[serde(default)]
    pub library_only: bool,
    pub now: Option<String>,
    pub events: Vec<ScenarioEvent>,
    pub query: ScenarioQuery,
    pub expect: Expect,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ScenarioEvent {
    pub kind: String,
    pub at: Option<String>,
    pub relationship: Option<String>,
    pub contract_kind: Option<String>,
    pub purpose: Option<String>,
    pub channel: Option<String>,
    pub evidence: Option<String>,
    pub scope: Option<String>,
    pub reason: Option<String>,
    pub country: Option<String>,
    /// The call a `call_consent` is for.
    pub call: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ScenarioQuery {
    pub purpose: String,
    pub categories: Vec<String>,
    pub channel: Option<String>,
    pub recipient: Option<String>,
    pub country: Option<String>,
    /// The call a decision about a per-call consent purpose is made during.
    pub call: Option<String>,
}

#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub allowed: bool,
    #[serde(default)]
    pub reason: String,
    pub legal_basis: Option<String>,
    pub outcome: Option<String>,
    /// The reason code of the transfer's ground, when a country or recipient is asked about.
    pub transfer: Option<String>,
    /// The question is refused as malformed, naming this field (e.g. `call` for a purpose
    /// with consent per call asked without the call); nothing else is then expected.
    pub error: Option<String>,
}

/// What a run produced, in the terms of [`Expect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actual {
    pub allowed: bool,
    pub reason: String,
    pub legal_basis: Option<String>,
    pub outcome: String,
    pub transfer: Option<String>,
    /// The field named when the question was refused as malformed (see
    /// [`QuestionError`]); the other fields are then empty.
    pub error: Option<String>,
}

impl Expect {
    /// `None` when `actual` meets the expectation, else what differs.
    pub fn check(&self, actual: &Actual) -> Option<String> {
        if self.error.is_some() || actual.error.is_some() {
            return (self.error != actual.error).then(|| {
                format!(
                    "refused naming: expected {:?}, got {:?}",
                    self.error, actual.error
                )
            });
        }
        let mut diffs = Vec::new();
        if self.allowed != actual.allowed {
            diffs.push(format!(
                "allowed: expected {}, got {}",
                self.allowed, actual.allowed
            ));
        }
        if self.reason != actual.reason {
            diffs.push(format!(
                "reason: expected `{}`, got `{}`",
                self.reason, actual.reason
            ));
        }
        if let Some(lb) = &self.legal_basis
            && Some(lb) != actual.legal_basis.as_ref()
        {
            {
                diffs.push(format!(
                    "legal_basis: expected `{lb}`, got {:?}",
                    actual.legal_basis
                ));
            }
        }
        if let Some(o) = &self.outcome
            && *o != actual.outcome
        {
            {
                diffs.push(format!("outcome: expected `{o}`, got `{}`", actual.outcome));
            }
        }
        if let Some(t) = &self.transfer
            && Some(t) != actual.transfer.as_ref()
        {
            diffs.push(format!(
                "transfer: expected `{t}`, got {:?}",
                actual.transfer
            ));
        }
        (!diffs.is_empty()).then(|| diffs.join("; "))
    }
}

pub const DEFAULT_NOW: &str = "2026-06-01T00:00:00Z";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenario `{case}`: {message}")]
pub struct ScenarioError {
    pub case: String,
    pub message: String,
}

impl ScenarioEvent {
    /// The ledger event kind this scenario event stands for.
    pub fn kind(&self) -> Result<EventKind, String> {
        let need = |v: &Option<String>, what: &str| {
            v.clone()
                .ok_or_else(|| format!("event `{}` needs `{what}`", self.kind))
        };
        Ok(match self.kind.as_str() {
            "relationship" => EventKind::Relationship {
                relationship: need(&self.relationship, "relationship")?
                    .parse::<Relationship>()
                    .map_err(|()| "bad relationship".to_owned())?,
                contract_kind: self
                    .contract_kind
                    .as_deref()
                    .unwrap_or("other")
                    .parse::<ContractKind>()
                    .map_err(|()| "bad contract_kind".to_owned())?,
            },
            "consent" | "withdraw" => EventKind::Consent {
                purpose: need(&self.purpose, "purpose")?,
                channel: self.channel.clone(),
                granted: self.kind == "consent",
                source: "scenario".into(),
                notice_version: String::new(),
            },
            "objection" => EventKind::Objection {
                scope: ObjectionScope::parse(&need(&self.scope, "scope")?),
            },
            "restriction" => EventKind::Restriction { active: true },
            "lift_restriction" => EventKind::Restriction { active: false },
            "transfer_consent" => EventKind::TransferConsent {
                country: CountryCode::parse(&need(&self.country, "country")?)
                    .ok_or_else(|| "bad country".to_owned())?,
                granted: true,
            },
            "transfer_necessity" => EventKind::TransferNecessity {
                country: CountryCode::parse(&need(&self.country, "country")?)
                    .ok_or_else(|| "bad country".to_owned())?,
                active: true,
            },
            "call_consent" | "call_withdraw" => EventKind::CallConsent {
                purpose: need(&self.purpose, "purpose")?,
                call: need(&self.call, "call")?,
                granted: self.kind == "call_consent",
            },
            "erasure" => EventKind::Erasure,
            other => return Err(format!("unknown event kind `{other}`")),
        })
    }
}

fn timestamp(s: &str) -> Result<jiff::Timestamp, String> {
    s.parse().map_err(|e| format!("bad time `{s}`: {e}"))
}

/// The subject id the library gives a case's person.
const SUBJECT: &str = "scenario";

/// Runs one case through the library: every event is checked against the policy as a write
/// would be, folded, and the question asked at `now`.
pub fn run(policy: &CompiledPolicy, case: &Case) -> Result<Actual, ScenarioError> {
    let person = prepare(policy, case)?;
    Ok(Actual::of(person.ask(policy, case)))
}

/// Sets up a case's person through the library: every event is checked against the policy as
/// a write would be and folded at the case's `now`.
pub fn prepare(policy: &CompiledPolicy, case: &Case) -> Result<Prepared, ScenarioError> {
    let fail = |message: String| ScenarioError {
        case: case.name.clone(),
        message,
    };
    let now = timestamp(case.now.as_deref().unwrap_or(DEFAULT_NOW)).map_err(fail)?;
    let mut events = Vec::new();
    let mut state = SubjectState::UNKNOWN;
    for (i, e) in case.events.iter().enumerate() {
        let kind = e.kind().map_err(fail)?;
        policy
            .check_event(&state, &kind, e.evidence.is_some(), e.reason.is_some())
            .map_err(|err| fail(format!("event {i} refused: {err}")))?;
        state.apply(policy, &kind);
        let at = match &e.at {
            Some(at) => timestamp(at).map_err(fail)?,
            None => now,
        };
        events.push(LedgerEvent {
            seq: i64::try_from(i).unwrap_or(i64::MAX),
            subject: SUBJECT.into(),
            at,
            kind,
        });
    }
    let state = SubjectState::fold(policy, &events, now);
    let mut calls = crate::calls::CallConsents::default();
    for e in events.iter().filter(|e| e.at <= now) {
        calls.apply(policy, &e.subject, &e.kind, e.at);
    }
    Ok(Prepared { now, state, calls })
}

/// A case's person, set up: their state and per-call consents at the case's `now`.
pub struct Prepared {
    pub now: jiff::Timestamp,
    pub state: SubjectState,
    pub calls: crate::calls::CallConsents,
}

impl Prepared {
    /// Asks the case's question through the one entry point the API and the CLI use.
    pub fn ask<'p, 'c>(
        &self,
        policy: &'p CompiledPolicy,
        case: &'c Case,
    ) -> Result<Answer<'p>, QuestionError<'c>> {
        let q = &case.query;
        policy.answer(
            Question {
                purpose: &q.purpose,
                categories: q.categories.iter().map(String::as_str),
                channel: q.channel.as_deref(),
                recipient: q.recipient.as_deref(),
                country: q.country.as_deref(),
                call: q.call.as_deref(),
            },
            Person {
                subject: SUBJECT,
                state: &self.state,
                calls: &self.calls,
            },
            self.now,
        )
    }
}

impl Actual {
    /// What an answer or a refused question amounts to, in the terms of [`Expect`].
    pub fn of(result: Result<Answer<'_>, QuestionError<'_>>) -> Actual {
        match result {
            Ok(a) => Actual {
                allowed: a.allowed(),
                reason: a.decision.reason.code().to_owned(),
                legal_basis: a.decision.legal_basis.map(|b| b.dpv_id().to_owned()),
                outcome: a.decision.outcome.as_str().to_owned(),
                transfer: a.decision.transfer.map(|t| t.code().to_owned()),
                error: None,
            },
            Err(e) => Actual::refused(e.field()),
        }
    }

    /// A question refused as malformed, naming `field`.
    pub fn refused(field: &str) -> Actual {
        Actual {
            allowed: false,
            reason: String::new(),
            legal_basis: None,
            outcome: String::new(),
            transfer: None,
            error: Some(field.to_owned()),
        }
    }
}
