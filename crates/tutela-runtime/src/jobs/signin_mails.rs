//! The sign-in mails job: sends the privacy center's sign-in mails left behind (a failed send,
//! a delay, a crash) or held back by the mail ceiling, and removes this instance's outbox
//! copies whose codes can no longer be used. Every instance runs it: a mail is claimed by a
//! row lease of its own, and the outbox is a directory of this instance.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::{Job, Next, StepFuture};
use crate::requests::Requests;
use crate::signin::MailCeiling;

/// How often the outbox is cleared of mails whose codes expired.
const CLEAR_OUTBOX_EVERY: Duration = Duration::from_secs(60);

pub struct SigninMailsJob {
    requests: Weak<Requests>,
    /// Shared with the pages' settings, which may change it after the job was made.
    ceiling: Arc<RwLock<MailCeiling>>,
    outbox_cleared: std::sync::Mutex<Option<Instant>>,
}

impl SigninMailsJob {
    pub fn new(requests: &Arc<Requests>, ceiling: Arc<RwLock<MailCeiling>>) -> SigninMailsJob {
        SigninMailsJob {
            requests: Arc::downgrade(requests),
            ceiling,
            outbox_cleared: std::sync::Mutex::new(None),
        }
    }
}

impl Job for SigninMailsJob {
    fn name(&self) -> &'static str {
        "signin-mails"
    }

    fn every(&self) -> Duration {
        Duration::from_secs(2)
    }

    fn step(&self, now: Timestamp, _woken: bool) -> StepFuture<'_> {
        Box::pin(async move {
            let Some(r) = self.requests.upgrade() else {
                return Next::Stop;
            };
            let ceiling = match self.ceiling.read() {
                Ok(c) => *c,
                Err(poisoned) => *poisoned.into_inner(),
            };
            if let Err(e) = r.deliver_signin_mails(None, now, ceiling).await {
                tracing::warn!(error = %e, "sign-in mails could not be swept");
            }
            let clear = {
                let mut last = self
                    .outbox_cleared
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let due = last.is_none_or(|t| t.elapsed() >= CLEAR_OUTBOX_EVERY);
                if due {
                    *last = Some(Instant::now());
                }
                due
            };
            if clear {
                r.remove_old_outbox_mails(now).await;
            }
            Next::Interval
        })
    }
}
