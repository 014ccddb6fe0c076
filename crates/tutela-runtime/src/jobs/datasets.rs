//! The pseudonymised-datasets job: deletes the registered pseudonymised datasets whose
//! purpose's retention ended (N7b), from the configured directories only, under its own lease.

use std::sync::{Arc, Weak};
use std::time::Duration;

use jiff::Timestamp;
use tutela_store::{AnyStore, StoreError};

use super::{Job, Lease, Next, StepFuture};
use crate::pseudonymised::Swept;
use crate::requests::Requests;

/// The job's lease.
pub const LEASE: &str = "pseudonymised_datasets";

pub struct DatasetsJob {
    requests: Weak<Requests>,
    every: Duration,
}

impl DatasetsJob {
    pub fn new(requests: &Arc<Requests>) -> DatasetsJob {
        DatasetsJob {
            requests: Arc::downgrade(requests),
            every: requests.settings.worker_interval,
        }
    }
}

/// The single step: deletes what is due at `now`.
pub async fn step(requests: &Requests, now: Timestamp) -> Result<Swept, StoreError> {
    crate::pseudonymised::sweep(
        &requests.engine.store,
        &requests.settings.pseudonymised_dirs,
        now,
    )
    .await
}

impl Job for DatasetsJob {
    fn name(&self) -> &'static str {
        "pseudonymised-datasets"
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
