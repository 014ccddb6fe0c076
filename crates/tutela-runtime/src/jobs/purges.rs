//! The purges job: removes what has outlived its time — requests and their results past their
//! retention, risk checks after their year (N15), call-summary drafts left unreviewed (N24),
//! and expired sessions, sign-ins and rate-limit windows. Each delete is idempotent; one instance of several runs them under the job's lease.

use std::sync::{Arc, Weak};
use std::time::Duration;

use jiff::Timestamp;
use tutela_store::{AnyStore, RequestStore, RiskStore, StoreError, SummaryStore, WebStore};

use super::{Job, Lease, Next, StepFuture};
use crate::requests::Requests;

/// The job's lease.
pub const LEASE: &str = "purges";

/// What one step removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub requests: u64,
    /// Risk checks deleted after their year (N15).
    pub risk_checks: u64,
    /// Call-summary drafts that expired unreviewed (N24).
    pub summaries_expired: u64,
}

pub struct PurgesJob {
    requests: Weak<Requests>,
    every: Duration,
}

impl PurgesJob {
    pub fn new(requests: &Arc<Requests>) -> PurgesJob {
        PurgesJob {
            requests: Arc::downgrade(requests),
            every: requests.settings.worker_interval,
        }
    }
}

/// The single step: removes what is past its time at `now`.
pub async fn step(requests: &Requests, now: Timestamp) -> Result<Purged, StoreError> {
    let store = &requests.engine.store;
    let purged = Purged {
        requests: store.purge_requests(now).await?,
        risk_checks: store.purge_risk_checks(now).await?,
        summaries_expired: store.expire_summaries(now).await?,
    };
    store.purge_web(now).await?;
    Ok(purged)
}

impl Job for PurgesJob {
    fn name(&self) -> &'static str {
        "purges"
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
            match step(&requests, now).await {
                Ok(_) => Next::Interval,
                Err(e) => super::failed(self.name(), &e),
            }
        })
    }
}
