//! `tutela events tail`: the event stream the server publishes for downstream systems
//! (docs/events.md), one JSON object per line.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, consumer};
use clap::Subcommand;
use futures_util::StreamExt;

use crate::config::Config;

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Prints the events of the stream as JSON lines: every stored one, or only new ones.
    Tail {
        /// NATS: one URL or a cluster's URLs separated by commas (default: `nats_url` of the
        /// config file, else nats://127.0.0.1:4222).
        #[arg(long, env = "TUTELA_NATS_URL")]
        nats: Option<String>,
        /// Only events published from now on.
        #[arg(long)]
        new: bool,
        /// Only these subjects (`tutela.events.consent_*` style wildcards are NATS's `*`
        /// and `>`), default every event.
        #[arg(long, default_value = "tutela.events.>")]
        subject: String,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
        /// Stop when no event came for this many seconds (default: wait for more).
        #[arg(long)]
        idle_seconds: Option<u64>,
        #[arg(long, default_value = "TUTELA_EVENTS")]
        stream: String,
    },
}

pub async fn run(command: EventsCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let EventsCommand::Tail {
        nats,
        new,
        subject,
        count,
        idle_seconds,
        stream,
    } = command;
    let client =
        crate::gate_cmd::async_nats_connect(&crate::gate_cmd::nats_url(config, &nats)).await?;
    let js = jetstream::new(client);
    let stream = js
        .get_stream(&stream)
        .await
        .with_context(|| format!("the stream {stream} (does a server publish events?)"))?;
    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: subject,
            deliver_policy: if new {
                consumer::DeliverPolicy::New
            } else {
                consumer::DeliverPolicy::All
            },
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .context("creating a reader of the stream")?;
    let mut printed = 0;
    let mut quiet_since = std::time::Instant::now();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .context("reading the stream")?;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| anyhow::anyhow!("reading the stream: {e}"))?;
            say!("{}", String::from_utf8_lossy(&m.payload));
            printed += 1;
            quiet_since = std::time::Instant::now();
            if count.is_some_and(|c| printed >= c) {
                return Ok(ExitCode::SUCCESS);
            }
        }
        if idle_seconds.is_some_and(|s| quiet_since.elapsed() >= Duration::from_secs(s)) {
            return Ok(ExitCode::SUCCESS);
        }
    }
}
