//! The retention job: opens the retention sweep when it is due and runs a slice of it
//! (`retention.tick_budget` rows) each interval, under its own lease. A failure is kept with
//! the sweep, which resumes at the next step; a plan that waits for a DPO's approval deletes
//! nothing (N6, N7b).

use std::sync::{Arc, Weak};
use std::time::Duration;

use jiff::Timestamp;
use tutela_store::AnyStore;

use super::{Job, Lease, Next, StepFuture};
use crate::requests::Requests;
use crate::retention::{StepReport, Sweeper};

/// The retention job's lease.
pub const LEASE: &str = "retention";

pub struct RetentionJob {
    requests: Weak<Requests>,
    every: Duration,
}

impl RetentionJob {
    pub fn new(requests: &Arc<Requests>) -> RetentionJob {
        RetentionJob {
            requests: Arc::downgrade(requests),
            every: requests.settings.worker_interval,
        }
    }
}

/// The single step: opens the sweep when due and runs a slice of it at `now`.
pub async fn step(requests: &Requests, now: Timestamp) -> StepReport {
    let compiled = requests.engine.policy();
    let settings = &requests.settings.retention;
    let sweeper = requests.sweeper(&compiled.policy);
    let outcome = match sweeper.open(now, false).await {
        Ok(_) => sweeper.step(now, settings.tick_budget, |_| {}).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(r) => {
            if let Some(e) = &r.error {
                tracing::warn!(error = %e, "retention sweep step stopped; it resumes at the next step");
            }
            r
        }
        Err(e) => {
            tracing::warn!(error = %e, "retention sweep step failed");
            StepReport {
                error: Some(e.to_string()),
                ..Default::default()
            }
        }
    }
}

impl Requests {
    /// The retention sweeper on this instance's datasets, under `policy`.
    pub fn sweeper<'a>(&'a self, policy: &'a tutela_core::policy::Policy) -> Sweeper<'a> {
        Sweeper {
            store: &self.engine.store,
            policy,
            connectors: &self.connectors,
            owner: &self.owner,
            settings: &self.settings.retention,
        }
    }
}

impl Job for RetentionJob {
    fn name(&self) -> &'static str {
        "retention"
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn lease(&self) -> Option<(Lease, AnyStore, String)> {
        super::service_lease(&self.requests, LEASE, self.every)
    }

    fn step(&self, now: Timestamp, _woken: bool) -> StepFuture<'_> {
        Box::pin(async move {
            let Some(requests) = self.requests.upgrade() else {
                return Next::Stop;
            };
            step(&requests, now).await;
            Next::Interval
        })
    }
}
