//! The request job: takes verified requests up and runs their steps ([`Worker`]). It runs
//! every `worker_interval` and, unless the settings say otherwise, as soon as a request
//! becomes workable in this process or (PostgreSQL) on another instance; one instance of
//! several holds its lease.

use std::sync::{Arc, Weak};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Notify;
use tutela_store::AnyStore;

use super::{Job, Lease, Listener, Next, StepFuture};
use crate::requests::Requests;
use crate::requests::worker::Worker;

pub struct RequestsJob {
    requests: Weak<Requests>,
    every: Duration,
    wake: Option<Arc<Notify>>,
}

impl RequestsJob {
    pub fn new(requests: &Arc<Requests>) -> RequestsJob {
        RequestsJob {
            requests: Arc::downgrade(requests),
            every: requests.settings.worker_interval,
            wake: requests.settings.worker_wake.then(|| requests.wake.clone()),
        }
    }
}

impl Job for RequestsJob {
    fn name(&self) -> &'static str {
        "requests"
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn lease(&self) -> Option<(Lease, AnyStore, String)> {
        super::service_lease(&self.requests, crate::lease::REQUEST_WORKER, self.every)
    }

    fn wake(&self) -> Option<Arc<Notify>> {
        self.wake.clone()
    }

    fn listener(&self) -> Option<Listener> {
        let wake = self.wake.clone()?;
        let requests = self.requests.clone();
        Some(Box::pin(other_instances(requests, wake)))
    }

    fn step(&self, now: Timestamp, woken: bool) -> StepFuture<'_> {
        Box::pin(async move {
            let Some(requests) = self.requests.upgrade() else {
                return Next::Stop;
            };
            let worker = Worker { requests };
            let done = match (&self.wake, woken) {
                (Some(wake), true) => worker.follow(wake).await,
                _ => worker.tick(now).await,
            };
            match done {
                Ok(_) => Next::Interval,
                Err(e) => super::failed(self.name(), &e),
            }
        })
    }
}

/// Wakes this process's request job on other instances' notices (PostgreSQL), so that whichever
/// instance holds the job's lease takes a request up at once wherever it was verified.
async fn other_instances(requests: Weak<Requests>, wake: Arc<Notify>) {
    const RETRY: Duration = Duration::from_secs(5);
    let mut listener: Option<tutela_store::RequestListener> = None;
    loop {
        let Some(r) = requests.upgrade() else {
            return;
        };
        if listener.is_none() {
            match r.engine.store.request_listener().await {
                Ok(Some(l)) => listener = Some(l),
                // SQLite: one process, woken directly.
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "listening for other instances' requests failed; the worker polls");
                    drop(r);
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            }
        }
        drop(r);
        let Some(l) = listener.as_mut() else {
            continue;
        };
        // Bounded, so that the task ends soon after the requests service.
        match tokio::time::timeout(Duration::from_secs(30), l.next()).await {
            // A notice, or a reconnection after which missed notices are caught up by a pass.
            Ok(Ok(_)) => wake.notify_one(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the connection for other instances' requests failed");
                listener = None;
                tokio::time::sleep(RETRY).await;
            }
            Err(_) => {}
        }
    }
}
