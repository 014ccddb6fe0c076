//! The risk check (N11–N15): the decision engine is asked whether `risk_check` may use the
//! person's data; the scorecard scores the facts; a credit agency is asked only when the
//! group's data is not enough by the policy's rule (N13); the policy's thresholds map the
//! probability to accept, refer or decline; a decline waits for a person (Art. 22(3)); the
//! result is kept one year (N15).

pub mod agency;

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tutela_core::risk::{Score, ScoreError, Scorecard};
use tutela_store::{RiskCheckRecord, RiskStore, StoreError};

use crate::engine::Engine;
use agency::{AgencyClient, AgencyError, AgencyRequest};

/// The categories a risk check reads (N12).
pub const CATEGORIES: [&str; 4] = ["identity", "contract", "payment", "revenue"];

pub struct RiskService {
    engine: Arc<Engine>,
    model: Scorecard,
    /// SHA-256 of the model file, recorded with every check.
    model_hash: String,
    agency: Option<AgencyClient>,
    writer: mpsc::Sender<(RiskCheckRecord, oneshot::Sender<Result<(), String>>)>,
}

/// Commits the checks that are waiting in one transaction, then answers each: under load many
/// checks share one flush to disk, and none is answered before it is durable.
async fn group_commit(
    engine: Arc<Engine>,
    mut rx: mpsc::Receiver<(RiskCheckRecord, oneshot::Sender<Result<(), String>>)>,
) {
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        let (records, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let result = engine
            .store
            .insert_risk_checks(&records)
            .await
            .map_err(|e| e.to_string());
        for reply in replies {
            let _ = reply.send(result.clone());
        }
    }
}

/// A check as asked for.
pub struct CheckInput {
    pub subject: String,
    pub facts: HashMap<String, String>,
    /// Months the person's contracts with the group ran: the group's own data (N12).
    pub group_contract_months: u32,
    /// Sent to the agency only when the group's data is not enough (N13).
    pub identity: Option<AgencyRequest>,
}

#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error("the policy does not allow the risk check for this person: {0}")]
    NotAllowed(String),
    #[error("{0}")]
    Score(#[from] ScoreError),
    #[error(
        "the group's data is not enough and an agency must be asked: name, address, date of birth and IBAN are needed"
    )]
    IdentityNeeded,
    #[error("no risk check with this id")]
    NotFound,
    #[error("the check is not waiting for a review")]
    NotPending,
    #[error("storage failed: {0}")]
    Storage(String),
}

impl From<StoreError> for RiskError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => RiskError::NotPending,
            other => RiskError::Storage(other.to_string()),
        }
    }
}

impl RiskService {
    /// The service on `model` (with the SHA-256 of its file) and an agency, if any.
    pub fn new(
        engine: Arc<Engine>,
        model: Scorecard,
        model_hash: String,
        agency: Option<AgencyClient>,
    ) -> RiskService {
        let (writer, rx) = mpsc::channel(4096);
        tokio::spawn(group_commit(engine.clone(), rx));
        RiskService {
            engine,
            model,
            model_hash,
            agency,
            writer,
        }
    }

    pub async fn check(
        &self,
        input: CheckInput,
        now: Timestamp,
    ) -> Result<RiskCheckRecord, RiskError> {
        let policy = &self.engine.policy();
        let rules = policy
            .policy
            .risk
            .clone()
            .ok_or_else(|| RiskError::NotAllowed("the policy has no [risk] rules".into()))?;
        // The decision engine answers first; its answer is recorded with the check.
        let state = self.engine.subject_state(&input.subject);
        let decision = policy
            .resolve("risk_check", CATEGORIES, None, None, None)
            .map(|q| policy.decide(&state, &q, now));
        let decision = match decision {
            Ok(d) if d.allowed() => json!({
                "allowed": true,
                "legal_basis": d.legal_basis.map(|b| b.dpv_id()),
                "reason": d.reason.code(),
            }),
            Ok(d) => return Err(RiskError::NotAllowed(d.reason.code().to_owned())),
            Err(gap) => return Err(RiskError::NotAllowed(gap.reason.code().to_owned())),
        };
        let score: Score = self.model.score(&input.facts)?;
        let mut outcome = if score.probability >= rules.accept_from {
            "accept"
        } else if score.probability < rules.decline_below {
            "decline"
        } else {
            "refer"
        };
        let mut notes: Vec<&str> = Vec::new();
        let mut agency_queried = false;
        let mut agency_answer = None;
        if input.group_contract_months < rules.agency_below_months {
            let identity = input.identity.as_ref().ok_or(RiskError::IdentityNeeded)?;
            let asked = match &self.agency {
                None => Err(AgencyError::Failed("no agency is configured".into())),
                Some(a) => {
                    agency_queried = true;
                    a.query(identity).await
                }
            };
            match asked {
                Ok(answer) => {
                    if answer.negative_entries > 0 {
                        outcome = "decline";
                        notes.push("agency_negative_entries");
                    }
                    agency_answer = Some(json!(answer).to_string());
                }
                Err(e) => {
                    // Without the agency's answer the check never accepts.
                    if outcome == "accept" {
                        outcome = "refer";
                    }
                    notes.push("agency_unavailable");
                    agency_answer = Some(json!({"error": e.to_string()}).to_string());
                }
            }
        }
        let expires_at = now
            .to_zoned(jiff::tz::TimeZone::UTC)
            .checked_add(jiff::Span::new().years(1))
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX);
        let id = format!(
            "rc_{}",
            crate::random_hex(12).map_err(|_| RiskError::Storage(
                "the operating system gave no randomness".into()
            ))?
        );
        let record = RiskCheckRecord {
            id,
            subject: input.subject,
            created_at: now,
            expires_at,
            outcome: outcome.to_owned(),
            review: (outcome == "decline").then(|| "pending".to_owned()),
            probability: score.probability,
            points: score.points,
            reasons: json!({"reasons": score.reasons, "notes": notes}).to_string(),
            facts: json!(input.facts).to_string(),
            agency_queried,
            agency_answer,
            decision: decision.to_string(),
            reviewer: None,
            review_note: None,
            reviewed_at: None,
            model: self.model_hash.clone(),
        };
        let (reply, done) = oneshot::channel();
        self.writer
            .send((record.clone(), reply))
            .await
            .map_err(|_| RiskError::Storage("the writer has stopped".into()))?;
        done.await
            .map_err(|_| RiskError::Storage("the writer has stopped".into()))?
            .map_err(RiskError::Storage)?;
        Ok(record)
    }

    /// A person decides on a pending decline (Art. 22(3)).
    pub async fn review(
        &self,
        id: &str,
        accept: bool,
        reviewer: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<RiskCheckRecord, RiskError> {
        let store = &self.engine.store;
        store.risk_check(id).await?.ok_or(RiskError::NotFound)?;
        let review = if accept { "accepted" } else { "declined" };
        store
            .review_risk_check(id, review, reviewer, note, now)
            .await?;
        store.risk_check(id).await?.ok_or(RiskError::NotFound)
    }
}
