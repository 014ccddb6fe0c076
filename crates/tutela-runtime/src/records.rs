//! The writes of the HTTP edge that are neither ledger events (the engine's writer) nor request
//! transitions (the request service): disclosures, legal holds, call-summary drafts and their
//! review, pseudonym reversals and the dataset register, privacy budgets, policy versions
//! cancelled, operator changes, report downloads, sessions and rate-limit hits.
//!
//! Each is one function here, so that a route or a page never writes to the store itself
//! (`architecture.rs` checks the server's sources for the store's writing methods): when a
//! write gains a rule or an audit row, it gains it in one place.

use jiff::{SignedDuration, Timestamp};
use tutela_store::{
    ActivationStore, BudgetLimit, BudgetSpend, DatasetRecord, DisclosureRecord, DisclosureStore,
    HoldRecord, OperatorChange, OperatorChanged, PseudonymisedStore, RateCount, RetentionStore,
    Reversal, SessionRecord, SpendOutcome, StatisticsStore, StoreError, SummaryRecord,
    SummaryStore, WebStore,
};

use crate::Engine;

/// Records a disclosure to an authority or a refusal of one (Art. 6(1)(c), section 24 BDSG).
pub async fn disclosure(engine: &Engine, d: &DisclosureRecord) -> Result<(), StoreError> {
    engine.store.insert_disclosure(d).await
}

/// Lifts the bar on telling the person of disclosure `id`.
pub async fn lift_disclosure_bar(
    engine: &Engine,
    id: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    engine.store.lift_disclosure_bar(id, at).await
}

/// Places a legal hold.
pub async fn place_hold(engine: &Engine, h: &HoldRecord) -> Result<(), StoreError> {
    engine.store.place_hold(h).await
}

/// Lifts hold `id`; `false` when there is no active hold of that id.
pub async fn lift_hold(
    engine: &Engine,
    id: &str,
    by: &str,
    at: Timestamp,
) -> Result<bool, StoreError> {
    engine.store.lift_hold(id, by, at).await
}

/// Files an AI call-summary draft; [`StoreError::Conflict`] when the call has one already.
pub async fn summary_draft(engine: &Engine, s: &SummaryRecord) -> Result<(), StoreError> {
    engine.store.insert_summary(s).await
}

/// Ends an open draft as `status` with the reviewed text (N24).
pub async fn summary_review(
    engine: &Engine,
    id: &str,
    status: &str,
    text: Option<&str>,
    by: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    engine.store.review_summary(id, status, text, by, at).await
}

/// Records a reversal of pseudonyms (who, why, how many; never the values).
pub async fn reversal(engine: &Engine, r: &Reversal) -> Result<(), StoreError> {
    engine.store.record_reversal(r).await
}

/// Registers a pseudonymised dataset for its deletion when its purpose ends (N7b).
pub async fn dataset(engine: &Engine, d: &DatasetRecord) -> Result<(), StoreError> {
    engine.store.register_dataset(d).await
}

/// Spends privacy budget on a dataset, unless it would pass `limit`.
pub async fn budget_spend(
    engine: &Engine,
    spend: &BudgetSpend,
    limit: BudgetLimit,
) -> Result<SpendOutcome, StoreError> {
    engine.store.spend_budget(spend, limit).await
}

/// Cancels scheduled policy version `id`; [`StoreError::Conflict`] when it is no longer
/// scheduled.
pub async fn cancel_version(
    engine: &Engine,
    id: &str,
    actor: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    engine
        .store
        .decide_activation(id, "scheduled", "cancelled", at, None, actor)
        .await
}

/// Changes an operator account (disable, enable, remove, reset the second factor).
pub async fn operator_change(
    engine: &Engine,
    id: &str,
    change: OperatorChange,
    actor: &str,
    at: Timestamp,
) -> Result<OperatorChanged, StoreError> {
    engine.store.change_operator(id, change, actor, at).await
}

/// Records in the audit trail that an operator downloaded a person's report (Art. 5(2), 30).
pub async fn report_download(
    engine: &Engine,
    actor: &str,
    request: &str,
    subject: &str,
    lang: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    engine
        .store
        .record_report_download(actor, request, subject, lang, at)
        .await
}

/// Opens a session (stored by the hash of its cookie).
pub async fn session(engine: &Engine, s: &SessionRecord) -> Result<(), StoreError> {
    engine.store.insert_session(s).await
}

/// Ends the session stored as `id_hash`.
pub async fn session_end(engine: &Engine, id_hash: &str) -> Result<(), StoreError> {
    engine.store.delete_session(id_hash).await
}

/// Counts one hit of the rate-limit key `key_hash` in its window.
pub async fn rate_hit(
    engine: &Engine,
    key_hash: &str,
    now: Timestamp,
    window: SignedDuration,
) -> Result<RateCount, StoreError> {
    engine.store.count_hit(key_hash, now, window).await
}
