//! Filling a store with the random population: persons `C00000000`, `C00000001`, … with the
//! ledger histories of [`crate::random_events`], appended in batches as a bulk import would.

use tutela_core::compiled::CompiledPolicy;
use tutela_core::ledger::EventKind;
use tutela_store::{AnyStore, NewEvent, Store, StoreError};

use crate::{Rng, random_events};

/// The id of the `i`th seeded person.
pub fn subject(i: usize) -> String {
    format!("C{i:08}")
}

/// A ledger event of the benchmarks: no personal attributes, no idempotency key.
pub fn event(subject: String, at: jiff::Timestamp, kind: EventKind) -> NewEvent {
    NewEvent {
        subject,
        at,
        kind,
        evidence: None,
        reason: None,
        email: None,
        idempotency_key: None,
        policy_version: "bench".into(),
    }
}

/// Appends the histories of `persons` persons drawn from `rng`, in batches of 20,000 events;
/// `progress` is told how many persons are in after each batch. Returns the events appended.
pub async fn random_histories(
    store: &AnyStore,
    policy: &CompiledPolicy,
    persons: usize,
    rng: &mut Rng,
    mut progress: impl FnMut(usize),
) -> Result<usize, StoreError> {
    let at: jiff::Timestamp = "2026-03-01T00:00:00Z"
        .parse()
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut batch = Vec::with_capacity(20_000);
    let mut total = 0;
    for i in 0..persons {
        for kind in random_events(policy, rng) {
            batch.push(event(subject(i), at, kind));
        }
        if batch.len() >= 20_000 || i + 1 == persons {
            total += batch.len();
            for r in store.append(&batch).await? {
                r?;
            }
            batch.clear();
            progress(i + 1);
        }
    }
    Ok(total)
}
