//! Persistence for tutela's ledger behind one [`Store`] trait, with two implementations that
//! share their SQL: embedded SQLite (the default) and PostgreSQL.
//!
//! Stores persist; they never decide. What a write may contain is checked by the core before
//! it reaches a store. The ledger table is append-only (a trigger refuses updates and
//! deletes); personal free text lives in `ledger_personal` and `subjects`, which erasure clears.
//! `ledger_personal` is append-only too, except below an erasure of its person in the ledger.

/// Runs `$e` with `$s` bound to the store inside an `AnyStore`: one line per trait method.
macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            AnyStore::Postgres($s) => $e,
        }
    };
}

/// Appends a disclosure or an operator action to `audit_events` inside the transaction `$tx`,
/// so that the action and its leaf-to-be commit together. `$body` is JSON without free text.
macro_rules! audit {
    ($tx:expr, $at_us:expr, $actor:expr, $kind:expr, $object:expr, $subject:expr, $body:expr) => {
        sqlx::query(
            "INSERT INTO audit_events (at_us, actor, kind, object, subject, body) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind($at_us)
        .bind($actor)
        .bind($kind)
        .bind($object)
        .bind($subject)
        .bind($body)
        .execute(&mut *$tx)
        .await?
    };
}

mod activations;
mod cluster;
mod codec;
mod disclosures;
mod erasure;
mod error;
mod log;
mod migrations;
mod outbox;
mod pseudonymised;
mod requests;
mod retention;
mod risk;
mod sql;
mod statistics;
mod summaries;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vault;
mod versions;
mod web;

use std::future::Future;

pub use activations::{ActivationRecord, ActivationStore};
pub use cluster::{ClusterStore, LedgerListener, RequestListener};
pub use disclosures::{DisclosureRecord, DisclosureStore};
pub use erasure::PERSON_ERASED;
pub use error::StoreError;
pub use log::{LogLeaf, LogSource, LogStore, SignedHead};
pub use outbox::{OutboxRow, OutboxSource, OutboxStore};
pub use pseudonymised::{DatasetRecord, PseudonymisedStore, Reversal};
pub use requests::{
    CodeRecord, RequestEvent, RequestEventNew, RequestHead, RequestRecord, RequestStore, StepRecord,
};
pub use retention::{HoldRecord, RetentionStore, SweepRecord};
pub use risk::{RiskCheckRecord, RiskStore};
pub use sql::{AnyStore, PgStore, Replayed, SqliteStore};
pub use statistics::{BudgetLimit, BudgetSpend, BudgetUse, SpendOutcome, StatisticsStore};
pub use summaries::{SummaryRecord, SummaryStore};
use tutela_core::ledger::{EventKind, LedgerEvent};
pub use versions::{PolicyArchive, PolicyVersionRecord};
pub use web::{
    OperatorChange, OperatorChanged, OperatorRecord, RateCount, SessionRecord, SigninMail,
    SigninRecord, WebStore,
};

/// An event to append, with the personal attributes kept apart from the ledger row.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub subject: String,
    pub at: jiff::Timestamp,
    pub kind: EventKind,
    /// Evidence of a consent (free text; personal).
    pub evidence: Option<String>,
    /// The reasons of an objection or a restriction (free text; personal).
    pub reason: Option<String>,
    /// The person's e-mail address, set on the subject record.
    pub email: Option<String>,
    /// A client-chosen key: the same key with the same content appends once.
    pub idempotency_key: Option<String>,
    /// The policy version (hash) in force when the write was accepted.
    pub policy_version: String,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub seq: i64,
    pub at: jiff::Timestamp,
    /// The idempotency key was seen before with the same content; nothing new was written.
    pub duplicate: bool,
}

/// An event as stored, with its personal attributes unless erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub event: LedgerEvent,
    pub evidence: Option<String>,
    pub reason: Option<String>,
    pub policy_version: String,
}

/// The subject record: what tutela keeps about a person besides the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRecord {
    pub id: String,
    pub email: Option<String>,
    pub erased_at: Option<jiff::Timestamp>,
}

/// A stored snapshot of the decision states (see [`tutela_core::snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The states include every ledger event up to and including this sequence number.
    pub up_to_seq: i64,
    pub chunks: Vec<Vec<u8>>,
}

/// One storage interface; the conformance suite in `tests/` runs against every implementation.
pub trait Store: Send + Sync {
    /// Creates or upgrades the schema.
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Appends events in one transaction and returns once it is durably committed. Each event
    /// gets its own result: an idempotency conflict fails that event only.
    fn append(
        &self,
        events: &[NewEvent],
    ) -> impl Future<Output = Result<Vec<Result<Appended, StoreError>>, StoreError>> + Send;

    /// A person's full history, oldest first.
    fn history(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// A person's latest events, newest first: at most `limit`, all before `before_seq` when
    /// given (the next page of a long history).
    fn recent_history(
        &self,
        subject: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Every event of every person, in ledger order, without personal attributes.
    fn all_events(&self) -> impl Future<Output = Result<Vec<LedgerEvent>, StoreError>> + Send;

    /// Events after `seq`, in ledger order, without personal attributes.
    fn events_after(
        &self,
        seq: i64,
    ) -> impl Future<Output = Result<Vec<LedgerEvent>, StoreError>> + Send;

    /// Per-call consents, their withdrawals and erasures recorded at or after `at`, in ledger
    /// order: what a snapshot of the compact states does not hold.
    fn call_consents_since(
        &self,
        at: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<LedgerEvent>, StoreError>> + Send;

    /// Replaces any stored snapshot with this one, atomically.
    fn save_snapshot(
        &self,
        policy_version: &str,
        snapshot: &Snapshot,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The snapshot taken under `policy_version`, if there is one.
    fn load_snapshot(
        &self,
        policy_version: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send;

    fn subject(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Option<SubjectRecord>, StoreError>> + Send;

    /// Removes the person's personal attributes and appends the erasure tombstone, atomically.
    /// The evidence of the ledger rows in `keep` stays: a legal duty to keep it outlasts the
    /// erasure (section 7a UWG for phone-marketing consents). In the same transaction it ends
    /// everything else of the person: the results of their requests and the personal parts of
    /// the finished ones (their keys destroyed after the commit), their sessions and pending
    /// sign-ins; the requests and their events stay, without personal data.
    fn erase(
        &self,
        subject: &str,
        at: jiff::Timestamp,
        policy_version: &str,
        keep: &[i64],
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// Whether the database answers.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
