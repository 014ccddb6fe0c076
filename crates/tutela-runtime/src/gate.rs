//! `tutela gate` at run time: routes of NATS JetStream events through the pure
//! [`tutela_core::gate::Gate`], exactly once.
//!
//! Per route, one durable pull consumer on the source stream, shared by every gate process of
//! the route (scale out; any of them can die). For each fetched batch the gate first folds the
//! ledger events written since the last batch, so a consent withdrawal or objection recorded
//! before an event was fetched applies to it; then it transforms the batch (a message may
//! carry several events as JSON lines, and gives one output per destination), publishes every
//! output with the message id `<route>:<source sequence>:<day or "dead">`, waits until
//! JetStream has stored each one, and only then acknowledges the source messages. A gate that dies before its acks
//! leaves the messages to be redelivered, and JetStream's deduplication on the target stores
//! their outputs once.
//!
//! Retention companion: events are filed under `<target>.<YYYYMMDD>`, the day they expire
//! (dead letters under `<dead_letter>.<YYYYMMDD>`, counted from when the gate filed them), and
//! the gate purges every day in the stream whose date has come, whichever process filed it.
//! The stream's `max_age` is a backstop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use tutela_core::compiled::CompiledPolicy;
use tutela_core::gate::{Gate, GateCounts, IdentifierIndex, Outputs, Route, World};
use tutela_core::index::StateIndex;
use tutela_core::pseudonym::PseudonymKeys;
use tutela_store::{AnyStore, Store, StoreError};

/// How the gate talks to NATS.
#[derive(Debug, Clone)]
pub struct GateSettings {
    /// One NATS URL, or several separated by commas (the servers of a cluster; the client
    /// learns the rest from them and fails over between them).
    pub nats_url: String,
    /// Copies JetStream keeps of the streams the gate creates: 1 on a single server, 3 on a
    /// three-node cluster so a node can die without losing or stalling the route. A stream
    /// that exists already keeps its own setting.
    pub replicas: usize,
    /// Messages per fetch.
    pub batch: usize,
    /// How long the target stream remembers message ids. A redelivery after a crash must
    /// come within it (it does: the ack wait is far shorter).
    pub duplicate_window: Duration,
    /// How often the expired days are purged from the target stream.
    pub purge_every: Duration,
    /// How long a fetched message waits for its ack before JetStream delivers it again (to
    /// another gate process when this one died).
    pub ack_wait: Duration,
}

impl GateSettings {
    pub fn new(nats_url: &str) -> GateSettings {
        GateSettings {
            nats_url: nats_url.to_owned(),
            replicas: 1,
            batch: 1000,
            duplicate_window: Duration::from_secs(3600),
            purge_every: Duration::from_secs(60),
            ack_wait: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("pseudonymisation keys: {0}")]
    Keys(String),
}

/// The servers of a comma-separated NATS URL list.
pub fn server_urls(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

fn nats<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> GateError {
    move |e| GateError::Nats(format!("{what}: {e}"))
}

/// The names the gate gives its JetStream objects for a route.
pub fn target_stream(route: &Route) -> String {
    format!("TUTELA_GATE_{}", route.id.to_uppercase().replace('-', "_"))
}

pub fn durable_name(route: &Route) -> String {
    format!("tutela-gate-{}", route.id)
}

/// The person states and identifier index the gate decides with, folded from the ledger.
struct Ledger {
    states: StateIndex,
    index: IdentifierIndex,
    seq: i64,
}

impl Ledger {
    async fn load(store: &AnyStore, policy: &CompiledPolicy) -> Result<Ledger, StoreError> {
        let mut l = Ledger {
            states: StateIndex::default(),
            index: IdentifierIndex::default(),
            seq: 0,
        };
        l.fold(policy, store.all_events().await?);
        Ok(l)
    }

    fn fold(&mut self, policy: &CompiledPolicy, events: Vec<tutela_core::ledger::LedgerEvent>) {
        for e in events {
            self.states.get_or_insert(&e.subject).apply(policy, &e.kind);
            self.index.apply(&e.subject, &e.kind);
            self.seq = self.seq.max(e.seq);
        }
    }

    async fn catch_up(
        &mut self,
        store: &AnyStore,
        policy: &CompiledPolicy,
    ) -> Result<(), StoreError> {
        let events = store.events_after(self.seq).await?;
        self.fold(policy, events);
        Ok(())
    }
}

fn day_of(t: jiff::Timestamp) -> String {
    t.strftime("%Y%m%d").to_string()
}

/// The shortest the route's period can be, for the stream's `max_age` backstop: a month
/// counts 28 days, a year 365.
fn shortest(route: &Route) -> Duration {
    let p = route.period;
    let days = u64::from(p.years) * 365 + u64::from(p.months) * 28 + u64::from(p.days);
    Duration::from_secs(days.max(1) * 86_400)
}

/// Creates the target stream of a route (events and dead letters) if it is missing, and the
/// source stream if no stream holds the source subject yet; returns both, target first.
pub async fn ensure_streams(
    js: &jetstream::Context,
    route: &Route,
    settings: &GateSettings,
) -> Result<(stream::Stream, stream::Stream), GateError> {
    let target = js
        .get_or_create_stream(stream::Config {
            name: target_stream(route),
            subjects: vec![
                format!("{}.*", route.target),
                format!("{}.*", route.dead_letter),
            ],
            duplicate_window: settings.duplicate_window,
            max_age: shortest(route),
            num_replicas: settings.replicas.max(1),
            ..Default::default()
        })
        .await
        .map_err(nats("creating the target stream"))?;
    let source = match js.stream_by_subject(route.source.clone()).await {
        Ok(name) => name,
        Err(_) => {
            let name = format!("{}_SOURCE", target_stream(route));
            js.get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![route.source.clone()],
                num_replicas: settings.replicas.max(1),
                ..Default::default()
            })
            .await
            .map_err(nats("creating the source stream"))?;
            name
        }
    };
    let source = js
        .get_stream(source)
        .await
        .map_err(nats("opening the source stream"))?;
    Ok((target, source))
}

/// Counters of every route, readable while the gate runs.
pub type SharedCounts = Arc<Mutex<Vec<(String, GateCounts)>>>;

/// Runs every route until `stop` resolves; returns the counts.
pub async fn run(
    store: AnyStore,
    policy: Arc<CompiledPolicy>,
    routes: Vec<Route>,
    keys: PseudonymKeys,
    settings: GateSettings,
    counts: SharedCounts,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), GateError> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .retry_on_initial_connect()
        .connect(server_urls(&settings.nats_url).as_slice())
        .await
        .map_err(nats("connecting"))?;
    {
        let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
        *c = routes
            .iter()
            .map(|r| (r.id.clone(), GateCounts::default()))
            .collect();
    }
    let mut tasks = Vec::new();
    for (i, route) in routes.into_iter().enumerate() {
        let gate = Gate::new(route, keys.clone()).map_err(|e| GateError::Keys(e.to_string()))?;
        // Every output of a batch is in flight before the first ack is awaited: the context
        // must allow that many, or publishing would wait for acks no one awaits yet.
        let js = jetstream::context::ContextBuilder::new()
            .max_ack_inflight(settings.batch.max(1) + 16)
            .build(client.clone());
        let job = RouteJob {
            store: store.clone(),
            policy: policy.clone(),
            settings: settings.clone(),
            counts: counts.clone(),
            slot: i,
        };
        tasks.push(tokio::spawn(job.run(js, gate, stop.clone())));
    }
    let mut first_error = None;
    for t in tasks {
        let result = t
            .await
            .map_err(|e| GateError::Nats(format!("a route's task ended: {e}")))
            .and_then(|r| r);
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    // Everything that matters is acknowledged already; a flush towards a dying cluster node
    // must not keep a stopping gate alive.
    match tokio::time::timeout(Duration::from_secs(5), client.flush()).await {
        Ok(flushed) => flushed.map_err(nats("flushing"))?,
        Err(_) => tracing::warn!("flushing the connection timed out; stopping anyway"),
    }
    first_error.map_or(Ok(()), Err)
}

struct RouteJob {
    store: AnyStore,
    policy: Arc<CompiledPolicy>,
    settings: GateSettings,
    counts: SharedCounts,
    slot: usize,
}

impl RouteJob {
    /// The route's target stream and its durable consumer on the source stream.
    async fn open(
        &self,
        js: &jetstream::Context,
        route: &Route,
    ) -> Result<(stream::Stream, consumer::PullConsumer), GateError> {
        let (target, source) = ensure_streams(js, route, &self.settings).await?;
        let consumer = source
            .get_or_create_consumer(
                &durable_name(route),
                consumer::pull::Config {
                    durable_name: Some(durable_name(route)),
                    filter_subject: route.source.clone(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: self.settings.ack_wait,
                    max_ack_pending: 100_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(nats("creating the consumer"))?;
        Ok((target, consumer))
    }

    async fn run(
        self,
        js: jetstream::Context,
        mut gate: Gate,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), GateError> {
        let route = gate.route().clone();
        let mut ledger = Ledger::load(&self.store, &self.policy).await?;
        let missing = gate.missing_keys(&ledger.index);
        if !missing.is_empty() {
            tracing::warn!(route = %route.id, keys = ?missing, "identifiers linked under keys the key file lacks are unknown to this gate");
        }
        // NATS may be down or electing leaders (a cluster node just died): the gate waits for
        // it rather than exiting, as it waits for the connection.
        let (target, consumer) = loop {
            match self.open(&js, &route).await {
                Ok(opened) => break opened,
                Err(e) => {
                    tracing::warn!(route = %route.id, error = %e, "opening the streams failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => {}
                    }
                    if *stop.borrow() {
                        return Ok(());
                    }
                }
            }
        };
        tracing::info!(route = %route.id, persons = ledger.states.len(), identifiers = ledger.index.len(), "gate running");
        let mut last_purge = std::time::Instant::now();
        let mut outputs = Outputs::default();
        let mut published = Vec::with_capacity(self.settings.batch);
        let mut last_report = std::time::Instant::now();
        while !*stop.borrow() {
            let fetched = consumer
                .fetch()
                .max_messages(self.settings.batch)
                .expires(Duration::from_millis(500))
                .messages()
                .await;
            let mut batch = match fetched {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(route = %route.id, error = %e, "fetch failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            };
            let mut messages = Vec::with_capacity(self.settings.batch);
            while let Some(m) = batch.next().await {
                match m {
                    Ok(m) => messages.push(m),
                    Err(e) => {
                        tracing::warn!(route = %route.id, error = %e, "a fetch ended early");
                        break;
                    }
                }
            }
            if !messages.is_empty() {
                ledger.catch_up(&self.store, &self.policy).await?;
                let now = jiff::Timestamp::now();
                let dead_day = now
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .checked_add(route.period.to_span())
                    .map(|z| day_of(z.timestamp()))
                    .unwrap_or_else(|_| day_of(now));
                let world = World {
                    policy: &self.policy,
                    states: &ledger.states,
                    index: &ledger.index,
                    now,
                };
                published.clear();
                let mut failed = false;
                for m in &messages {
                    let (seq, delivered) = m
                        .info()
                        .map(|i| (i.stream_sequence, i.delivered))
                        .unwrap_or((0, 1));
                    if delivered > 1 {
                        gate.counts.redelivered += 1;
                    }
                    gate.transform_message(&m.payload, &world, &mut outputs);
                    for (destination, body) in outputs.groups() {
                        // One output per destination and message: the id names both, so a
                        // redelivered message stores each of its outputs once.
                        let (subject, id) = match destination.expiry_day() {
                            Some(day) => (
                                format!("{}.{day}", route.target),
                                format!("{}:{seq}:{day}", route.id),
                            ),
                            None => (
                                format!("{}.{dead_day}", route.dead_letter),
                                format!("{}:{seq}:dead", route.id),
                            ),
                        };
                        // The context allows `batch + 16` acks in flight; a message of several
                        // events can have several outputs, so settle before that is reached.
                        if published.len() >= self.settings.batch && !settle(&mut published).await {
                            failed = true;
                            break;
                        }
                        let mut headers = async_nats::HeaderMap::new();
                        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
                        match js
                            .publish_with_headers(subject, headers, body.to_vec().into())
                            .await
                        {
                            Ok(ack) => published.push(ack),
                            Err(e) => {
                                tracing::warn!(route = %route.id, error = %e, "publish failed; the batch will be redelivered");
                                failed = true;
                                break;
                            }
                        }
                    }
                    if failed {
                        break;
                    }
                }
                if !settle(&mut published).await {
                    failed = true;
                }
                if failed {
                    // Not acknowledged: the messages come again after the ack wait, and the
                    // target's deduplication keeps what was stored once.
                    continue;
                }
                for m in &messages {
                    if let Err(e) = m.ack().await {
                        tracing::warn!(route = %route.id, error = %e, "ack failed; the message will be redelivered and deduplicated");
                    }
                }
                let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((_, slot)) = c.get_mut(self.slot) {
                    *slot = gate.counts.clone();
                }
            }
            if last_purge.elapsed() >= self.settings.purge_every {
                last_purge = std::time::Instant::now();
                let today = jiff::Timestamp::now()
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .date();
                // A failed purge is tried again at the next round.
                if let Err(e) = purge_due(&target, &route, today).await {
                    tracing::warn!(route = %route.id, error = %e, "purging the expired days failed; trying again later");
                }
            }
            if last_report.elapsed() >= Duration::from_secs(10) {
                last_report = std::time::Instant::now();
                let c = &gate.counts;
                tracing::info!(route = %route.id, passed = c.passed, expired = c.expired, dropped = ?c.dropped, dead = ?c.dead, "gate counts");
            }
        }
        tracing::info!(route = %route.id, "gate stopping");
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, slot)) = c.get_mut(self.slot) {
            *slot = gate.counts.clone();
        }
        Ok(())
    }
}

/// Awaits the publish acks together (an ack's timeout starts when it is awaited, and acks lost
/// with a dying NATS node would otherwise time out one after another); false when any output
/// was not stored.
async fn settle(published: &mut Vec<jetstream::context::PublishAckFuture>) -> bool {
    let mut stored = true;
    for result in futures_util::future::join_all(
        published
            .drain(..)
            .map(std::future::IntoFuture::into_future),
    )
    .await
    {
        if let Err(e) = result {
            if stored {
                tracing::warn!(error = %e, "publish not stored; the batch will be redelivered");
            }
            stored = false;
        }
    }
    stored
}

/// Purges every day before or on `today` from the route's target stream, whichever gate
/// process filed it: the retention companion's sweep (`tutela gate purge`). Returns the
/// messages purged.
pub async fn purge_expired(
    js: &jetstream::Context,
    route: &Route,
    today: jiff::civil::Date,
) -> Result<u64, GateError> {
    let target = js
        .get_stream(target_stream(route))
        .await
        .map_err(nats("opening the target stream"))?;
    purge_due(&target, route, today).await
}

/// Purges the days on or before `today` from the route's `target` stream: every day it holds,
/// listed from the stream's subjects.
async fn purge_due(
    target: &stream::Stream,
    route: &Route,
    today: jiff::civil::Date,
) -> Result<u64, GateError> {
    let today = today.strftime("%Y%m%d").to_string();
    let mut purged = 0;
    for prefix in [&route.target, &route.dead_letter] {
        // The stream lists its subjects: every day filed, by whichever gate process.
        let mut subjects = target
            .info_with_subjects(format!("{prefix}.*"))
            .await
            .map_err(nats("listing the stream's days"))?;
        let mut due = Vec::new();
        while let Some(s) = subjects.next().await {
            let (subject, _) = s.map_err(nats("listing the stream's days"))?;
            if let Some(day) = subject
                .strip_prefix(prefix.as_str())
                .and_then(|d| d.strip_prefix('.'))
                && day.len() == 8
                && day <= today.as_str()
            {
                due.push(subject);
            }
        }
        for subject in due {
            purged += target
                .purge()
                .filter(subject)
                .await
                .map_err(nats("purging"))?
                .purged;
        }
    }
    Ok(purged)
}
