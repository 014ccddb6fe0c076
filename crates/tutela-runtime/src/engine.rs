//! The engine behind the API: the compiled policy, every person's compact decision state in
//! memory, and the single writer through which every ledger write passes.

pub mod follow;
mod writer;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tutela_core::calls::CallConsents;
use tutela_core::compiled::{CompiledPolicy, EventError};
use tutela_core::index::StateIndex;
use tutela_core::ledger::EventKind;
use tutela_core::snapshot;
use tutela_core::state::SubjectState;
use tutela_core::write_rules::WriteTexts;
use tutela_store::{AnyStore, Appended, NewEvent, Snapshot, Store, StoreError};

/// Every person's decision state, by id.
pub type States = StateIndex;

/// The policy in force and every person's state folded under it: the states' bits mean
/// something only with the policy that folded them, so the two are read and swapped together.
pub struct Live {
    pub policy: Arc<CompiledPolicy>,
    pub states: States,
    /// Consents given for one call (N23), outside the compact states.
    pub calls: CallConsents,
}

impl std::ops::Deref for Live {
    type Target = States;
    fn deref(&self) -> &States {
        &self.states
    }
}

impl std::ops::DerefMut for Live {
    fn deref_mut(&mut self) -> &mut States {
        &mut self.states
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Rejected(EventError),
    #[error("the idempotency key was already used for a different write")]
    IdempotencyConflict,
    #[error("storage failed: {0}")]
    Storage(String),
    #[error("the writer has stopped")]
    Closed,
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::IdempotencyConflict => EngineError::IdempotencyConflict,
            other => EngineError::Storage(other.to_string()),
        }
    }
}

/// One ledger write waiting for the writer.
pub(crate) enum Job {
    Append {
        event: Box<NewEvent>,
        reply: oneshot::Sender<Result<Appended, EngineError>>,
    },
    /// Switch to another policy: fold every person's state under it, then swap.
    Activate {
        policy: Box<CompiledPolicy>,
        reply: oneshot::Sender<Result<LoadStats, EngineError>>,
    },
    Erase {
        subject: String,
        at: jiff::Timestamp,
        reply: oneshot::Sender<Result<Appended, EngineError>>,
    },
    /// Fold the ledger rows after the applied position: other instances' writes.
    CatchUp {
        reply: oneshot::Sender<Result<usize, EngineError>>,
    },
}

/// How the engine keeps its snapshot of the decision states.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    /// Take a new snapshot once this many ledger events were applied after the last one.
    pub snapshot_every: i64,
    /// How often the engine looks whether a snapshot is due.
    pub snapshot_check: Duration,
    /// How the engine follows other instances' writes on a shared PostgreSQL.
    pub follow: follow::FollowSettings,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            snapshot_every: 100_000,
            snapshot_check: Duration::from_secs(10),
            follow: follow::FollowSettings::default(),
        }
    }
}

/// Persons per snapshot chunk: about 3 MB per row.
const SNAPSHOT_CHUNK: usize = 65_536;

pub struct Engine {
    pub store: AnyStore,
    pub(crate) live: RwLock<Live>,
    /// The highest ledger sequence number folded into `states`; changed only under its lock.
    pub(crate) applied_seq: AtomicI64,
    /// The sequence number the stored snapshot includes.
    snapshot_seq: AtomicI64,
    writer: mpsc::Sender<Job>,
    ready: AtomicBool,
    /// Set while the engine cannot tell that it has folded every other instance's writes
    /// (see [`follow`]); `/readyz` answers not ready meanwhile.
    lagging: AtomicBool,
    /// How the states were loaded at start.
    pub loaded: LoadStats,
    /// This process among the instances on one database: the owner of its leases.
    pub instance: String,
    /// The mailer whose kept copies of a person's mails (the outbox) an erasure removes.
    mail_copies: std::sync::OnceLock<Arc<dyn crate::requests::mailer::Mailer>>,
}

/// What loading the states at start did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Persons read from the stored snapshot (0 when there was none for this policy).
    pub from_snapshot: usize,
    /// The ledger position the snapshot included, when one was used.
    pub snapshot_seq: Option<i64>,
    /// Ledger events folded on top of the snapshot (all of them without one).
    pub events_folded: usize,
    /// The highest ledger sequence number folded.
    pub up_to_seq: i64,
}

impl Engine {
    /// Migrates the store, loads every person's state (from the snapshot and the ledger events
    /// after it) and starts the writer.
    pub async fn start(store: AnyStore, policy: CompiledPolicy) -> Result<Arc<Engine>, StoreError> {
        Self::start_with(store, policy, EngineOptions::default()).await
    }

    pub async fn start_with(
        store: AnyStore,
        policy: CompiledPolicy,
        options: EngineOptions,
    ) -> Result<Arc<Engine>, StoreError> {
        store.migrate().await?;
        let policy = Arc::new(policy);
        archive(&store, &policy, "serve").await?;
        let (states, loaded) = load_states(&store, &policy).await?;
        let calls = load_call_consents(&store, &policy, jiff::Timestamp::now()).await?;
        let (tx, rx) = mpsc::channel(4096);
        // Without a snapshot every event counts as "since the snapshot", so a large ledger gets
        // one at the first check.
        let snapshot_seq = loaded.snapshot_seq.unwrap_or(0);
        let engine = Arc::new(Engine {
            store,
            live: RwLock::new(Live {
                policy,
                states,
                calls,
            }),
            applied_seq: AtomicI64::new(loaded.up_to_seq),
            snapshot_seq: AtomicI64::new(snapshot_seq),
            writer: tx,
            ready: AtomicBool::new(false),
            lagging: AtomicBool::new(false),
            loaded,
            instance: format!(
                "{}-{}",
                std::process::id(),
                crate::random_hex(6).unwrap_or_default()
            ),
            mail_copies: std::sync::OnceLock::new(),
        });
        tokio::spawn(writer::run(Arc::downgrade(&engine), rx));
        tokio::spawn(snapshots(Arc::downgrade(&engine), options));
        tokio::spawn(follow::run(Arc::downgrade(&engine), options.follow));
        engine.ready.store(true, Ordering::Release);
        Ok(engine)
    }

    /// Writes a snapshot of every person's state to the store, replacing the one before.
    /// Returns the number of persons it holds.
    pub async fn snapshot(&self) -> Result<usize, StoreError> {
        let (snap, persons, version) = {
            let live = self.states();
            let up_to_seq = self.applied_seq.load(Ordering::Acquire);
            let chunks = snapshot::encode(&live.states, SNAPSHOT_CHUNK);
            let version = live.policy.policy_version().to_owned();
            (Snapshot { up_to_seq, chunks }, live.len(), version)
        };
        self.store.save_snapshot(&version, &snap).await?;
        self.snapshot_seq
            .fetch_max(snap.up_to_seq, Ordering::AcqRel);
        Ok(persons)
    }

    /// Ledger events applied since the stored snapshot.
    pub fn events_since_snapshot(&self) -> i64 {
        self.applied_seq.load(Ordering::Acquire) - self.snapshot_seq.load(Ordering::Acquire)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Whether the states may miss writes made on other instances: the follower lost its
    /// notices or could not read the ledger.
    pub fn is_lagging(&self) -> bool {
        self.lagging.load(Ordering::Acquire)
    }

    pub(crate) fn set_lagging(&self, lagging: bool) {
        self.lagging.store(lagging, Ordering::Release);
    }

    /// The highest ledger sequence number folded into the states.
    pub fn applied_seq(&self) -> i64 {
        self.applied_seq.load(Ordering::Acquire)
    }

    /// Folds the ledger rows committed after the applied position (by other instances on the
    /// same database) into the states, through the writer so that it never races a commit.
    /// Returns how many were folded.
    pub async fn catch_up(&self) -> Result<usize, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job::CatchUp { reply })
            .await
            .map_err(|_| EngineError::Closed)?;
        rx.await.map_err(|_| EngineError::Closed)?
    }

    /// Read access to the policy in force and the decision states folded under it, together.
    /// Never held across an await.
    pub fn states(&self) -> RwLockReadGuard<'_, Live> {
        self.live.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The policy in force now. A caller that also reads states takes both from [`states`]
    /// instead, so a switch between the two reads cannot pair a state with another policy.
    ///
    /// [`states`]: Engine::states
    pub fn policy(&self) -> Arc<CompiledPolicy> {
        self.states().policy.clone()
    }

    /// Validated and compiled elsewhere, `policy` becomes the one in force: the writer stops
    /// taking writes, every person's state is folded under the new policy (decisions go on
    /// under the old one meanwhile), then policy and states are swapped at once and the new
    /// version is archived as activated by `by`.
    pub async fn activate(
        &self,
        policy: CompiledPolicy,
        by: &str,
    ) -> Result<LoadStats, EngineError> {
        let (reply, rx) = oneshot::channel();
        let version = policy.clone();
        self.writer
            .send(Job::Activate {
                policy: Box::new(policy),
                reply,
            })
            .await
            .map_err(|_| EngineError::Closed)?;
        let stats = rx.await.map_err(|_| EngineError::Closed)??;
        archive(&self.store, &version, by).await?;
        Ok(stats)
    }

    pub fn subject_state(&self, id: &str) -> SubjectState {
        *self.states().state(id)
    }

    /// Checks, commits and applies one event; returns once it is durable.
    pub async fn append(&self, event: NewEvent) -> Result<Appended, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job::Append {
                event: Box::new(event),
                reply,
            })
            .await
            .map_err(|_| EngineError::Closed)?;
        rx.await.map_err(|_| EngineError::Closed)?
    }

    /// Erases the person's personal attributes and records the tombstone; then removes this
    /// instance's kept copies of mails to the person's address (see
    /// [`Engine::keep_mail_copies_in`]).
    pub async fn erase(
        &self,
        subject: String,
        at: jiff::Timestamp,
    ) -> Result<Appended, EngineError> {
        // The address on file, read before the erasure clears it.
        let address = match self.mail_copies.get() {
            Some(_) => self.store.subject(&subject).await?.and_then(|s| s.email),
            None => None,
        };
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job::Erase { subject, at, reply })
            .await
            .map_err(|_| EngineError::Closed)?;
        let done = rx.await.map_err(|_| EngineError::Closed)??;
        if let (Some(mailer), Some(address)) = (self.mail_copies.get(), address)
            && let Err(e) = mailer.forget(&address).await
        {
            // The sweep removes them when their codes expire; the error names no address.
            tracing::warn!(error = %e, "an erased person's outbox mails could not be removed");
        }
        Ok(done)
    }

    /// Erasures remove the copies `mailer` keeps of the person's mails (the outbox); the
    /// first mailer given stays.
    pub fn keep_mail_copies_in(&self, mailer: Arc<dyn crate::requests::mailer::Mailer>) {
        let _ = self.mail_copies.set(mailer);
    }
}

/// Keeps the policy in force and its rendered notices in the archive (N33), once per version.
async fn archive(store: &AnyStore, policy: &CompiledPolicy, by: &str) -> Result<(), StoreError> {
    use tutela_core::render::{Format, Lang, render_notice};
    use tutela_store::PolicyArchive;
    let p = &policy.policy;
    store
        .archive_policy(&tutela_store::PolicyVersionRecord {
            hash: p.hash.clone(),
            policy_id: p.id.clone(),
            notice_version: p.version.clone(),
            first_loaded_at: jiff::Timestamp::now(),
            activated_by: by.to_owned(),
            notice_de_html: render_notice(p, Lang::De, Format::Html),
            notice_en_html: render_notice(p, Lang::En, Format::Html),
            notice_de_md: render_notice(p, Lang::De, Format::Markdown),
            notice_en_md: render_notice(p, Lang::En, Format::Markdown),
        })
        .await
}

/// Loads the per-call consents that may still hold at `now` (N23): the ledger's call consents
/// from the longest `consent_per_call` period back, whether or not a snapshot covers them.
pub async fn load_call_consents(
    store: &AnyStore,
    policy: &CompiledPolicy,
    now: jiff::Timestamp,
) -> Result<CallConsents, StoreError> {
    let mut calls = CallConsents::default();
    if let Some(since) = CallConsents::lookback(policy, now) {
        for e in store.call_consents_since(since).await? {
            calls.apply(policy, &e.subject, &e.kind, e.at);
        }
        calls.prune(now);
    }
    Ok(calls)
}

/// Loads every person's decision state: the stored snapshot taken under this policy, if there
/// is one, then the ledger events after it. Without a snapshot, the whole ledger is folded.
pub async fn load_states(
    store: &AnyStore,
    policy: &CompiledPolicy,
) -> Result<(States, LoadStats), StoreError> {
    let mut stats = LoadStats::default();
    let mut states = States::default();
    let mut after = 0;
    if let Some(snap) = store.load_snapshot(policy.policy_version()).await? {
        match decode_snapshot(&snap) {
            Ok(decoded) => {
                stats.from_snapshot = decoded.len();
                stats.snapshot_seq = Some(snap.up_to_seq);
                states = decoded;
                after = snap.up_to_seq;
            }
            // A snapshot of another build's format is a cache miss, not an error.
            Err(e) => {
                tracing::warn!(error = %e, "ignoring the stored snapshot; folding the ledger")
            }
        }
    }
    let events = if stats.snapshot_seq.is_some() {
        store.events_after(after).await?
    } else {
        store.all_events().await?
    };
    if states.is_empty() {
        states = States::with_capacity(events.len() / 2);
    }
    stats.up_to_seq = after;
    for e in &events {
        states.get_or_insert(&e.subject).apply(policy, &e.kind);
        stats.up_to_seq = stats.up_to_seq.max(e.seq);
    }
    stats.events_folded = events.len();
    Ok((states, stats))
}

fn decode_snapshot(snap: &Snapshot) -> Result<States, snapshot::SnapshotError> {
    let mut states = States::with_capacity(snap.chunks.len() * SNAPSHOT_CHUNK);
    for chunk in &snap.chunks {
        snapshot::decode_into(&mut states, chunk)?;
    }
    Ok(states)
}

/// Takes a snapshot whenever enough events were applied since the last one.
async fn snapshots(engine: Weak<Engine>, options: EngineOptions) {
    loop {
        tokio::time::sleep(options.snapshot_check).await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        // Lapsed per-call consents answer no decision; drop them while few exist.
        if !engine.states().calls.is_empty() {
            let mut live = engine.live.write().unwrap_or_else(|e| e.into_inner());
            live.calls.prune(jiff::Timestamp::now());
        }
        if engine.events_since_snapshot() < options.snapshot_every {
            continue;
        }
        let started = std::time::Instant::now();
        match engine.snapshot().await {
            Ok(persons) => tracing::info!(
                persons,
                ms = started.elapsed().as_millis() as u64,
                "snapshot of the decision states written"
            ),
            Err(e) => tracing::warn!(error = %e, "snapshot failed; the ledger stays the source"),
        }
    }
}

/// Checks a write, its texts included, against the policy and the state it would meet: every
/// rule lives in the core ([`tutela_core::write_rules`]).
pub(crate) fn check(
    policy: &CompiledPolicy,
    state: &SubjectState,
    event: &NewEvent,
) -> Result<(), EventError> {
    let texts = WriteTexts {
        evidence: event.evidence.as_deref(),
        reason: event.reason.as_deref(),
        email: event.email.as_deref(),
    };
    policy.check_write(state, &event.kind, texts)
}

pub(crate) fn is_erasure(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Erasure)
}
