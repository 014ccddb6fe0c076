//! Plans and their review. Before an erasure or rectification writes to an operator's database,
//! each dataset's plan — every row and field it will delete, anonymise, keep (with the ground
//! and the date it ends), restrict or change (before and after) — is recorded by the step
//! `30-plan:<dataset>`, and the request waits at `35-review` (status `awaiting_approval`) until
//! an agent approves, unless the policy lets the plan run unreviewed (`tutela_core::review`).
//! The write steps then run with the approved plan's digest: a dataset whose rows changed
//! since refuses, and the request is planned and reviewed again, never run stale. A crash
//! after approval resumes the write steps with the approved digests only.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tutela_connectors::{DatasetPlan, FieldEffect};
use tutela_core::policy::Policy;
use tutela_core::request::{
    REVIEW_STEP, RequestType, Status, StepStatus, Transition, TransitionError,
};
use tutela_core::review::{self, Review};
use tutela_store::{RequestRecord, RequestStore, StepRecord};

use super::{RequestError, Requests};

/// The steps that plan a dataset's writes.
pub const PLAN_PREFIX: &str = "30-plan:";

/// The review step's output: who approved which plans (by digest), when and why. `by` is
/// `policy` when the policy let the plans run unreviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    pub at: String,
    pub reason: String,
    /// Dataset id → the digest of the plan approved for it.
    pub plans: BTreeMap<String, String>,
}

/// A dataset's recorded plan: the plan, or the legal hold it gave way to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedPlan {
    #[serde(flatten)]
    pub plan: DatasetPlan,
    /// Under a legal hold nothing is erased: every row is restricted instead (N5a).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<String>,
}

/// The plans recorded so far, in step order.
pub fn recorded_plans(steps: &[StepRecord]) -> Vec<RecordedPlan> {
    steps
        .iter()
        .filter(|s| s.step.starts_with(PLAN_PREFIX) && s.status == StepStatus::Done)
        .filter_map(|s| s.output.as_deref())
        .filter_map(|o| serde_json::from_str(o).ok())
        .collect()
}

/// The digests of the recorded plans, by dataset.
pub fn digests(plans: &[RecordedPlan]) -> BTreeMap<String, String> {
    plans
        .iter()
        .map(|p| (p.plan.dataset.clone(), p.plan.digest.clone()))
        .collect()
}

/// Whether the plans of a request of `request_type` need an agent's approval.
pub fn decide(
    policy: &Policy,
    request_type: Option<RequestType>,
    plans: &[RecordedPlan],
) -> Review {
    let tables = plans
        .iter()
        .filter(|p| p.legal_hold.is_none())
        .flat_map(|p| &p.plan.tables);
    if request_type == Some(RequestType::Rectification) {
        return review::rectification(
            tables
                .flat_map(|t| &t.fields)
                .filter(|f| f.effect == FieldEffect::Changed)
                .filter_map(|f| f.rectify),
        );
    }
    let erased: Vec<&str> = tables
        .flat_map(|t| &t.fields)
        .filter(|f| f.effect != FieldEffect::Kept)
        .map(|f| f.category.as_str())
        .collect();
    review::erasure(policy, erased)
}

/// The approval recorded by the review step, if it is done.
pub fn approval(steps: &[StepRecord]) -> Option<Approval> {
    steps
        .iter()
        .find(|s| s.step == REVIEW_STEP && s.status == StepStatus::Done)
        .and_then(|s| s.output.as_deref())
        .and_then(|o| serde_json::from_str(o).ok())
}

/// The digest approved for `dataset`: `None` for a request planned before reviews existed
/// (its steps have no review), which runs as it did then.
pub fn approved_digest(steps: &[StepRecord], dataset: &str) -> Option<String> {
    approval(steps).and_then(|a| a.plans.get(dataset).cloned())
}

/// After a dataset refused a stale plan: the plans of the datasets not yet written, and the
/// review, are made pending again, so that they are planned and reviewed anew. Returns the
/// steps changed.
pub fn replan(steps: &mut [StepRecord], why: &str) -> Vec<StepRecord> {
    let written: Vec<String> = steps
        .iter()
        .filter(|s| s.step.starts_with("40-") && s.status == StepStatus::Done)
        .filter_map(|s| s.step.split_once(':').map(|(_, d)| d.to_owned()))
        .collect();
    let mut changed = Vec::new();
    for s in steps.iter_mut() {
        let again = s.step == REVIEW_STEP
            || s.step
                .strip_prefix(PLAN_PREFIX)
                .is_some_and(|d| !written.iter().any(|w| w == d));
        if again {
            s.status = StepStatus::Pending;
            s.output = None;
            s.next_at = None;
            s.last_error = Some(why.to_owned());
            changed.push(s.clone());
        }
    }
    changed
}

/// What an agent sees before approving: the plans and whether and why they need approval.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReview {
    pub plans: Vec<RecordedPlan>,
    /// Whether every dataset is planned (false while a plan step waits or failed, and for a
    /// request that plans nothing: see `reason`).
    pub planned: bool,
    pub review_needed: bool,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// The decision behind `reason`, for pages that tell it in their reader's language.
    #[serde(skip)]
    pub decision: Option<Review>,
}

impl Requests {
    /// The request's plans for the operator's databases and their review.
    pub async fn plan_review(&self, id: &str) -> Result<PlanReview, RequestError> {
        let r = self.get(id).await?;
        let steps = self.store().steps(id).await?;
        let plans = recorded_plans(&steps);
        let approval = approval(&steps);
        let mut plan_steps = steps.iter().filter(|s| s.step.starts_with(PLAN_PREFIX));
        // Only what there is: no plan is never "a plan that erases nothing".
        if steps.iter().all(|s| !s.step.starts_with(PLAN_PREFIX)) {
            return Ok(PlanReview {
                plans,
                planned: false,
                review_needed: false,
                reason: format!(
                    "a {} request has no plan: it writes nothing to the operator's databases that an agent reviews",
                    r.request_type
                ),
                approval,
                decision: None,
            });
        }
        if let Some(waiting) = plan_steps.find(|s| s.status != StepStatus::Done) {
            return Ok(PlanReview {
                plans,
                planned: false,
                review_needed: false,
                reason: format!(
                    "not planned yet: step {} is {}{}",
                    waiting.step,
                    waiting.status.as_str(),
                    waiting
                        .last_error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ),
                approval,
                decision: None,
            });
        }
        let decision = decide(
            &self.engine.policy().policy,
            super::request_type(&r),
            &plans,
        );
        Ok(PlanReview {
            planned: true,
            review_needed: decision.is_needed(),
            reason: decision.reason(),
            plans,
            approval,
            decision: Some(decision),
        })
    }

    /// An agent approves the plans the request waits with. `seen`, when given, are the
    /// digests the agent was shown: plans changed since are refused, never approved unseen.
    /// With four-eyes on, the agent who verified the identity cannot approve.
    pub async fn approve(
        &self,
        id: &str,
        agent: &str,
        note: Option<String>,
        seen: Option<&BTreeMap<String, String>>,
        now: Timestamp,
    ) -> Result<RequestRecord, RequestError> {
        let r = self.get(id).await?;
        if r.status != Status::AwaitingApproval {
            return Err(TransitionError::NotAllowed {
                from: r.status.as_str(),
                to: "approved",
            }
            .into());
        }
        let steps = self.store().steps(id).await?;
        let plans = digests(&recorded_plans(&steps));
        if seen.is_some_and(|seen| *seen != plans) {
            return Err(RequestError::PlanChanged);
        }
        if is_reserved(agent) {
            return Err(RequestError::AgentReserved);
        }
        let approver = self.identity(agent).await?;
        if self.settings.four_eyes {
            // Compared as persons, not strings: an operator by name, id or console actor, in
            // any case; an approver tutela does not know cannot be told apart, so is refused.
            if !matches!(approver, Identity::Operator(_)) {
                return Err(RequestError::AgentUnknown);
            }
            let verifier = self
                .store()
                .request_events(id)
                .await?
                .into_iter()
                .rev()
                .find(|e| e.kind == "verified")
                .map(|e| e.actor);
            if let Some(v) = verifier
                && self.identity(&v).await? == approver
            {
                return Err(RequestError::FourEyes);
            }
        }
        // Recorded as the person it is: an operator by their id.
        let agent = approver.actor(agent);
        let agent = agent.as_str();
        let reason = note
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "approved by the agent".to_owned());
        // The approval is recorded while the request still waits (no worker takes a waiting
        // request up), then the transition lets the worker run it: a worker can never find
        // the request running with its review not yet done.
        let approval = Approval {
            by: agent.to_owned(),
            at: now.to_string(),
            reason,
            plans: plans.clone(),
        };
        self.record_review(id, &steps, Some(approval)).await?;
        let r = match self
            .transition(
                r,
                Transition::Approve,
                agent,
                note,
                json!({"plans": plans}),
                now,
                |_| {},
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                // Changed at the same time (refused, approved by another agent): the review
                // is put back as it was.
                self.record_review(id, &steps, None).await?;
                return Err(e);
            }
        };
        self.wake_worker().await;
        Ok(r)
    }

    /// Records the review step as approved, or (`None`) as it was read.
    async fn record_review(
        &self,
        id: &str,
        steps: &[StepRecord],
        approval: Option<Approval>,
    ) -> Result<(), RequestError> {
        let Some(mut step) = steps.iter().find(|s| s.step == REVIEW_STEP).cloned() else {
            return Err(RequestError::Storage(
                "the request has no review step".into(),
            ));
        };
        if let Some(approval) = approval {
            step.status = StepStatus::Done;
            step.last_error = None;
            step.next_at = None;
            step.output = Some(json!(approval).to_string());
        }
        self.store().put_step(id, &step).await?;
        Ok(())
    }
}

/// Names no person signs with: tutela's own actors (an approval by `policy` is the policy's).
const RESERVED: [&str; 6] = ["policy", "worker", "system", "api", "cli", "tutela"];

/// Whether `agent` is one of tutela's own actor names.
pub fn is_reserved(agent: &str) -> bool {
    RESERVED.contains(&agent.trim().to_lowercase().as_str())
}

/// Who an actor is: an operator of tutela, or a name tutela does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// By operator id.
    Operator(String),
    /// Lowercased.
    Named(String),
}

impl Identity {
    /// How it is recorded: `operator:<id>`, or the name as given.
    fn actor(&self, given: &str) -> String {
        match self {
            Identity::Operator(id) => format!("operator:{id}"),
            Identity::Named(_) => given.trim().to_owned(),
        }
    }
}

impl Requests {
    /// Who `actor` is: `operator:<id>`, an operator id or an operator name (any case) is that
    /// operator.
    pub async fn identity(&self, actor: &str) -> Result<Identity, RequestError> {
        use tutela_store::WebStore;
        let actor = actor.trim();
        let id = actor.strip_prefix("operator:").unwrap_or(actor);
        if let Some(o) = self.store().operator(id).await? {
            return Ok(Identity::Operator(o.id));
        }
        let lower = actor.to_lowercase();
        let found = self
            .store()
            .operators()
            .await?
            .into_iter()
            .find(|o| o.name.to_lowercase() == lower);
        Ok(match found {
            Some(o) => Identity::Operator(o.id),
            None => Identity::Named(lower),
        })
    }
}

/// The review step as the worker runs it: approved by the policy when no review is needed,
/// else the request waits for an agent.
pub fn run(
    policy: &Policy,
    request_type: Option<RequestType>,
    steps: &[StepRecord],
    now: Timestamp,
) -> Result<String, String> {
    let plans = recorded_plans(steps);
    match decide(policy, request_type, &plans) {
        r @ Review::Needed(_) => Err(r.reason()),
        r @ Review::NotNeeded(_) => Ok(json!(Approval {
            by: "policy".into(),
            at: now.to_string(),
            reason: r.reason(),
            plans: digests(&plans),
        })
        .to_string()),
    }
}

/// The plan of a dataset under a legal hold: nothing erased, every row restricted.
pub fn held(dataset: &str, reference: &str) -> Value {
    json!({
        "dataset": dataset,
        "tables": [],
        "digest": "",
        "legal_hold": reference,
    })
}
