//! A downstream system reading tutela's event stream (docs/events.md): a durable pull
//! consumer on `TUTELA_EVENTS` that applies each person's ledger events in order and at most
//! once, acknowledging each event only after it was applied.
//!
//! ```sh
//! cargo run -p tutela-server --example events_consumer -- nats://127.0.0.1:4222
//! ```
//!
//! Delivery is at least once: an event comes again when this consumer died before its ack,
//! or when tutela published a row again after a crash (the stream's deduplication window
//! drops most of those, not all after a day). Each event carries its ledger `seq`, and a
//! person's events arrive in ledger order, so keeping the last `seq` applied per person is
//! enough to apply each exactly once. A real system keeps that map in its own database, in
//! the same transaction as the change the event makes there.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "an example that shows what it reads"
)]

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;

fn main() -> Result<(), async_nats::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(consume(&url))
}

async fn consume(url: &str) -> Result<(), async_nats::Error> {
    let js = jetstream::new(async_nats::connect(url).await?);
    let stream = js.get_stream("TUTELA_EVENTS").await?;
    // Durable: a restarted consumer goes on where it stopped.
    let consumer: consumer::PullConsumer = stream
        .get_or_create_consumer(
            "crm-sync",
            consumer::pull::Config {
                durable_name: Some("crm-sync".into()),
                // Ledger events only; `tutela.events.request_*` are request transitions and
                // `tutela.events.request.*` the Art. 19 notifications.
                filter_subject: "tutela.events.>".into(),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            },
        )
        .await?;
    let mut applied: HashMap<String, i64> = HashMap::new();
    let mut messages = consumer.messages().await?;
    while let Some(message) = messages.next().await {
        let message = message?;
        let event: serde_json::Value = serde_json::from_slice(&message.payload)?;
        if event["source"] == "ledger"
            && let (Some(person), Some(seq)) = (event["subject"].as_str(), event["seq"].as_i64())
        {
            let last = applied.entry(person.to_owned()).or_insert(0);
            if seq > *last {
                apply(&event);
                *last = seq;
            }
        }
        message.ack().await?;
    }
    Ok(())
}

/// Where the downstream system acts: a withdrawn consent or an objection stops its
/// campaigns for the person, an erasure removes the person from it.
fn apply(event: &serde_json::Value) {
    match event["kind"].as_str() {
        Some("consent_withdrawn" | "objection_raised" | "restriction_set") => {
            println!("stop using {} for {}", event["subject"], event["event"])
        }
        Some("erased") => println!("erase {}", event["subject"]),
        Some(kind) => println!("{kind} for {}", event["subject"]),
        None => eprintln!("an event without a kind"),
    }
}
