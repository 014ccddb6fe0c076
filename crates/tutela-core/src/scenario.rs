//! Decision scenarios: a person's ledger events, one question, the expected answer. The same
//! files run through the library, the CLI (`tutela policy test`) and the HTTP API.

use serde::Deserialize;

use crate::basis::{ContractKind, CountryCode, Relationship};
use crate::compiled::CompiledPolicy;
use crate::ledger::{EventKind, LedgerEvent, ObjectionScope};
use crate::reason::Outcome;
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
    pub allowed: bool,
    pub reason: String,
    pub legal_basis: Option<String>,
    pub outcome: Option<String>,
    /// The reason code of the transfer's ground, when a country or recipient is asked about.
    pub transfer: Option<String>,
}

/// What a run produced, in the terms of [`Expect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actual {
    pub allowed: bool,
    pub reason: String,
    pub legal_basis: Option<String>,
    pub outcome: String,
    pub transfer: Option<String>,
}

impl Expect {
    /// `None` when `actual` meets the expectation, else what differs.
    pub fn check(&self, actual: &Actual) -> Option<String> {
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

/// Runs one case through the library: every event is checked against the policy as a write
/// would be, folded, and the question decided at `now`.
pub fn run(policy: &CompiledPolicy, case: &Case) -> Result<Actual, ScenarioError> {
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
            subject: "scenario".into(),
            at,
            kind,
        });
    }
    let state = SubjectState::fold(policy, &events, now);
    let mut calls = crate::calls::CallConsents::default();
    for e in events.iter().filter(|e| e.at <= now) {
        calls.apply(policy, &e.subject, &e.kind, e.at);
    }
    let q = &case.query;
    let resolved = policy.resolve(
        &q.purpose,
        q.categories.iter().map(String::as_str),
        q.channel.as_deref(),
        q.recipient.as_deref(),
        q.country.as_deref(),
    );
    Ok(match resolved {
        Err(gap) => Actual {
            allowed: false,
            reason: gap.reason.code().to_owned(),
            legal_basis: None,
            outcome: Outcome::Gap.as_str().to_owned(),
            transfer: None,
        },
        Ok(query) => {
            let state = calls.during_call(
                policy,
                "scenario",
                &state,
                query.purpose,
                q.call.as_deref(),
                now,
            );
            let d = policy.decide(&state, &query, now);
            Actual {
                allowed: d.allowed(),
                reason: d.reason.code().to_owned(),
                legal_basis: d.legal_basis.map(|b| b.dpv_id().to_owned()),
                outcome: d.outcome.as_str().to_owned(),
                transfer: d.transfer.map(|t| t.code().to_owned()),
            }
        }
    })
}
