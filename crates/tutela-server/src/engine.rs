//! The engine behind the API: the compiled policy, every person's compact decision state in
//! memory, and the single writer through which every ledger write passes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use tokio::sync::{mpsc, oneshot};
use tutela_core::compiled::{CompiledPolicy, EventError};
use tutela_core::index::StateIndex;
use tutela_core::ledger::EventKind;
use tutela_core::state::SubjectState;
use tutela_store::{AnyStore, Appended, NewEvent, Store, StoreError};

use crate::writer;

/// Every person's decision state, by id.
pub type States = StateIndex;

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
    Erase {
        subject: String,
        at: jiff::Timestamp,
        reply: oneshot::Sender<Result<Appended, EngineError>>,
    },
}

pub struct Engine {
    pub policy: Arc<CompiledPolicy>,
    pub store: AnyStore,
    pub(crate) states: RwLock<States>,
    writer: mpsc::Sender<Job>,
    ready: AtomicBool,
}

impl Engine {
    /// Migrates the store, loads every person's state from the ledger and starts the writer.
    pub async fn start(store: AnyStore, policy: CompiledPolicy) -> Result<Arc<Engine>, StoreError> {
        store.migrate().await?;
        let policy = Arc::new(policy);
        let states = load_states(&store, &policy).await?;
        let (tx, rx) = mpsc::channel(4096);
        let engine = Arc::new(Engine {
            policy,
            store,
            states: RwLock::new(states),
            writer: tx,
            ready: AtomicBool::new(false),
        });
        tokio::spawn(writer::run(Arc::downgrade(&engine), rx));
        engine.ready.store(true, Ordering::Release);
        Ok(engine)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Read access to the decision states. Never held across an await.
    pub fn states(&self) -> RwLockReadGuard<'_, States> {
        self.states.read().unwrap_or_else(|e| e.into_inner())
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

    /// Erases the person's personal attributes and records the tombstone.
    pub async fn erase(
        &self,
        subject: String,
        at: jiff::Timestamp,
    ) -> Result<Appended, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job::Erase { subject, at, reply })
            .await
            .map_err(|_| EngineError::Closed)?;
        rx.await.map_err(|_| EngineError::Closed)?
    }
}

/// Folds the whole ledger into decision states.
pub async fn load_states(store: &AnyStore, policy: &CompiledPolicy) -> Result<States, StoreError> {
    let events = store.all_events().await?;
    let mut states = States::with_capacity(events.len() / 2);
    for e in &events {
        states.get_or_insert(&e.subject).apply(policy, &e.kind);
    }
    Ok(states)
}

/// Whether an event kind is checked with evidence or reasons present.
pub(crate) fn check(
    policy: &CompiledPolicy,
    state: &SubjectState,
    event: &NewEvent,
) -> Result<(), EventError> {
    policy.check_event(
        state,
        &event.kind,
        event
            .evidence
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty()),
        event
            .reason
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty()),
    )
}

pub(crate) fn is_erasure(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Erasure)
}
