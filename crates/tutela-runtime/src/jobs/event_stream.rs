//! The event stream job: publishes every ledger event and request transition to NATS JetStream
//! (docs/events.md). A step publishes one batch per ledger; it runs again at once while there is
//! more, waits the settings' `idle` when nothing is new, and waits and tries again while NATS
//! is down (the ledgers keep everything meanwhile). The cursors live in NATS and the messages
//! are deduplicated by id, so every instance may run it.

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Mutex;
use tutela_store::AnyStore;

use super::{Next, StepFuture};
use crate::events::{EventSettings, Publisher};

pub struct EventStreamJob {
    store: AnyStore,
    settings: EventSettings,
    client: Mutex<Option<async_nats::Client>>,
    publisher: Mutex<Option<Publisher>>,
}

impl EventStreamJob {
    pub fn new(store: AnyStore, settings: EventSettings) -> EventStreamJob {
        EventStreamJob {
            store,
            settings,
            client: Mutex::new(None),
            publisher: Mutex::new(None),
        }
    }

    /// The NATS client, connected once; it reconnects in the background.
    async fn client(&self) -> Option<async_nats::Client> {
        let mut client = self.client.lock().await;
        if client.is_none() {
            // Returns at once; the client connects (and reconnects) in the background.
            match async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(5))
                .retry_on_initial_connect()
                .connect(crate::gate::server_urls(&self.settings.nats_url).as_slice())
                .await
            {
                Ok(c) => *client = Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "the event stream's NATS URL is unusable; no events are published");
                    return None;
                }
            }
        }
        client.clone()
    }
}

impl super::Job for EventStreamJob {
    fn name(&self) -> &'static str {
        "event-stream"
    }

    fn every(&self) -> Duration {
        self.settings.idle
    }

    fn step(&self, _now: Timestamp, _woken: bool) -> StepFuture<'_> {
        Box::pin(async move {
            let Some(client) = self.client().await else {
                return Next::Stop;
            };
            let mut publisher = self.publisher.lock().await;
            let Some(p) = publisher.as_ref() else {
                return match Publisher::open(client, self.settings.clone()).await {
                    Ok(p) => {
                        *publisher = Some(p);
                        Next::Again
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the event stream is not available; retrying");
                        Next::After(Duration::from_secs(1))
                    }
                };
            };
            match p.step(&self.store).await {
                Ok(0) => Next::Interval,
                Ok(_) => Next::Again,
                Err(e) => {
                    crate::metrics::events_failed();
                    tracing::warn!(error = %e, "publishing events failed; retrying");
                    Next::After(Duration::from_secs(1))
                }
            }
        })
    }
}
