//! The log sealing job: seals new rows into the verifiable log every second and signs a tree
//! head every `head_every` when the log grew. One instance of several seals (two would race for
//! the same leaf indices), under the job's lease.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tutela_store::{AnyStore, StoreError};

use super::{Job, Lease, Next, StepFuture};
use crate::Engine;
use crate::verifiable_log::{LogKey, seal, sign_head};

pub struct LogSealingJob {
    engine: Weak<Engine>,
    key: Arc<LogKey>,
    head_every: Duration,
    last_head: Mutex<Instant>,
}

impl LogSealingJob {
    pub fn new(engine: &Arc<Engine>, key: Arc<LogKey>, head_every: Duration) -> LogSealingJob {
        LogSealingJob {
            engine: Arc::downgrade(engine),
            key,
            head_every,
            last_head: Mutex::new(Instant::now()),
        }
    }

    async fn seal_and_sign(&self, store: &AnyStore, now: Timestamp) -> Result<(), StoreError> {
        seal(store).await?;
        let due = self
            .last_head
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
            >= self.head_every;
        if due {
            sign_head(store, &self.key, now).await?;
            *self.last_head.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
        Ok(())
    }
}

impl Job for LogSealingJob {
    fn name(&self) -> &'static str {
        "log-sealing"
    }

    fn every(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn lease(&self) -> Option<(Lease, AnyStore, String)> {
        let engine = self.engine.upgrade()?;
        let lease = Lease {
            name: crate::lease::LOG_SEALER,
            ttl: Duration::from_secs(15),
        };
        Some((lease, engine.store.clone(), engine.instance.clone()))
    }

    fn step(&self, now: Timestamp, _woken: bool) -> StepFuture<'_> {
        Box::pin(async move {
            let Some(engine) = self.engine.upgrade() else {
                return Next::Stop;
            };
            let store = engine.store.clone();
            drop(engine);
            match self.seal_and_sign(&store, now).await {
                Ok(()) => Next::Interval,
                Err(e) => super::failed(self.name(), &e),
            }
        })
    }
}
