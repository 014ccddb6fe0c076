//! The activation job: switches this instance to a policy version whose scheduled activation
//! time has come. Every instance runs it, as each holds the policy in its own memory.

use std::sync::{Arc, Weak};
use std::time::Duration;

use jiff::Timestamp;

use super::{Job, Next, StepFuture};
use crate::Engine;

pub struct ActivationJob {
    engine: Weak<Engine>,
    every: Duration,
}

impl ActivationJob {
    pub fn new(engine: &Arc<Engine>, every: Duration) -> ActivationJob {
        ActivationJob {
            engine: Arc::downgrade(engine),
            every,
        }
    }
}

impl Job for ActivationJob {
    fn name(&self) -> &'static str {
        "activation"
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn step(&self, now: Timestamp, _woken: bool) -> StepFuture<'_> {
        Box::pin(async move {
            let Some(engine) = self.engine.upgrade() else {
                return Next::Stop;
            };
            match crate::activation::tick(&engine, now).await {
                Ok(_) => Next::Interval,
                Err(e) => super::failed(self.name(), &e),
            }
        })
    }
}
