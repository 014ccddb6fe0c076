//! The single writer: takes the writes that are waiting, checks each against the policy and
//! the state it would meet, commits them in one transaction (group commit), applies them to the
//! in-memory state, and only then answers. A failed commit answers every write in it with an
//! error and changes no state.

use std::sync::Weak;
use std::sync::atomic::Ordering;

use rustc_hash::FxHashMap;
use tokio::sync::{mpsc, oneshot};
use tutela_core::compiled::EventError;
use tutela_core::ledger::LedgerEvent;
use tutela_core::state::SubjectState;
use tutela_core::write_rules::evidence_to_keep;
use tutela_store::{Appended, ClusterStore, NewEvent, Store, StoreError};

use crate::engine::{Engine, EngineError, Job, check, is_erasure};
use crate::metrics;

/// The most writes committed in one transaction.
const MAX_GROUP: usize = 512;

type Reply = oneshot::Sender<Result<Appended, EngineError>>;

pub(crate) async fn run(engine: Weak<Engine>, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut jobs, MAX_GROUP).await > 0 {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let mut appends: Vec<(NewEvent, Reply)> = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Append { event, reply } => appends.push((*event, reply)),
                Job::Activate { policy, reply } => {
                    // Everything before the switch is committed under the old policy.
                    commit(&engine, std::mem::take(&mut appends)).await;
                    let _ = reply.send(switch(&engine, *policy).await);
                }
                Job::Erase { subject, at, reply } => {
                    // Erasures are rare: commit what is pending first, keeping ledger order.
                    commit(&engine, std::mem::take(&mut appends)).await;
                    let policy = engine.policy();
                    let keep = match engine.store.history(&subject).await {
                        Ok(history) => evidence_to_keep(
                            &policy.policy,
                            history.iter().map(|e| (&e.event, e.reason.as_deref())),
                            at,
                        ),
                        Err(e) => {
                            let _ = reply.send(Err(EngineError::from(e)));
                            continue;
                        }
                    };
                    let result = engine
                        .store
                        .erase(&subject, at, policy.policy_version(), &keep)
                        .await
                        .map_err(EngineError::from);
                    // The tombstone is folded from the ledger with anything another instance
                    // committed before it, so the applied position has no gap.
                    if result.is_ok()
                        && let Err(e) = fold_new(&engine).await
                    {
                        tracing::warn!(error = %e, "folding after an erasure failed; the follower retries");
                        engine.set_lagging(true);
                    }
                    let _ = reply.send(result);
                }
                Job::CatchUp { reply } => {
                    commit(&engine, std::mem::take(&mut appends)).await;
                    let _ = reply.send(fold_new(&engine).await.map_err(EngineError::from));
                }
            }
        }
        commit(&engine, appends).await;
    }
}

/// Folds every person's state under `policy` and swaps it in with the states. The writer runs
/// this itself, so no write lands between the fold and the swap; decisions read the old pair
/// until the swap.
async fn switch(
    engine: &Engine,
    policy: tutela_core::compiled::CompiledPolicy,
) -> Result<crate::engine::LoadStats, EngineError> {
    let policy = std::sync::Arc::new(policy);
    let (states, stats) = crate::engine::load_states(&engine.store, &policy).await?;
    let calls =
        crate::engine::load_call_consents(&engine.store, &policy, jiff::Timestamp::now()).await?;
    let mut live = engine.live.write().unwrap_or_else(|e| e.into_inner());
    live.policy = policy;
    live.states = states;
    live.calls = calls;
    engine.applied_seq.store(stats.up_to_seq, Ordering::Release);
    Ok(stats)
}

/// Folds the ledger rows after the applied position into the states and the per-call
/// consents, in ledger order. Only the writer calls it, so no commit of this instance
/// interleaves. Returns how many rows were folded.
pub(crate) async fn fold_new(engine: &Engine) -> Result<usize, StoreError> {
    let after = engine.applied_seq.load(Ordering::Acquire);
    let events = engine.store.events_after(after).await?;
    fold_events(engine, &events);
    Ok(events.len())
}

/// Folds rows another instance wrote (read after the applied position, in ledger order).
fn fold_events(engine: &Engine, events: &[LedgerEvent]) {
    let Some(last) = events.last() else {
        return;
    };
    let mut live = engine.live.write().unwrap_or_else(|e| e.into_inner());
    let policy = live.policy.clone();
    for e in events {
        live.get_or_insert(&e.subject).apply(&policy, &e.kind);
        live.calls.apply(&policy, &e.subject, &e.kind, e.at);
        if is_erasure(&e.kind)
            && let Some(vault) = engine.store.vault()
        {
            vault.forget_cached(tutela_store::vault::OwnerKind::Subject, &e.subject);
        }
    }
    engine.applied_seq.fetch_max(last.seq, Ordering::AcqRel);
    drop(live);
    metrics::ledger_followed(events.len());
}

/// Checks each write against the state it will meet, including the writes before it in the
/// group; the states are read at the applied position.
fn check_group(engine: &Engine, events: &[NewEvent]) -> Vec<Result<(), EventError>> {
    let policy = engine.policy();
    let mut scratch: FxHashMap<String, SubjectState> = FxHashMap::default();
    let states = engine.states();
    events
        .iter()
        .map(|event| {
            let state = scratch
                .entry(event.subject.clone())
                .or_insert_with(|| *states.state(&event.subject));
            let verdict = check(&policy, state, event);
            if verdict.is_ok() && !is_erasure(&event.kind) {
                state.apply(&policy, &event.kind);
            }
            verdict
        })
        .collect()
}

/// Checks the writes against the states folded up to the applied position and commits the
/// accepted ones. When another instance wrote after that position, the store hands its rows
/// over under the appends' lock; they are folded and the accepted writes checked again
/// before the commit, in the same turn at the lock.
async fn commit(engine: &Engine, appends: Vec<(NewEvent, Reply)>) {
    if appends.is_empty() {
        return;
    }
    let policy = engine.policy();
    let (events, replies): (Vec<NewEvent>, Vec<Reply>) = appends
        .into_iter()
        .map(|(mut event, reply)| {
            // The version that checked the write is the one it records.
            event.policy_version = policy.policy_version().to_owned();
            (event, reply)
        })
        .unzip();
    // Only this writer moves the states and the applied position, so the checks saw `head`.
    let head = engine.applied_seq.load(Ordering::Acquire);
    let mut verdicts = check_group(engine, &events);
    // The accepted writes move on as the candidates; `accepted[j]` is candidate j's place.
    let (accepted, candidates): (Vec<usize>, Vec<NewEvent>) = events
        .into_iter()
        .enumerate()
        .filter(|(i, _)| verdicts[*i].is_ok())
        .unzip();
    if accepted.is_empty() {
        answer(verdicts, replies, Vec::new());
        return;
    }
    let mut rechecked: Option<Vec<Result<(), EventError>>> = None;
    let recheck = |missed: &[LedgerEvent]| -> Vec<bool> {
        fold_events(engine, missed);
        let again = check_group(engine, &candidates);
        let keep = again.iter().map(Result::is_ok).collect();
        rechecked = Some(again);
        keep
    };
    let outcome = engine
        .store
        .append_at_head(&candidates, head, recheck)
        .await;
    if let Some(again) = rechecked {
        for (&i, verdict) in accepted.iter().zip(again) {
            verdicts[i] = verdict;
        }
    }
    let standing: Vec<&NewEvent> = accepted
        .iter()
        .zip(&candidates)
        .filter(|(i, _)| verdicts[**i].is_ok())
        .map(|(_, event)| event)
        .collect();
    match outcome {
        Ok(results) => {
            {
                let mut states = engine.live.write().unwrap_or_else(|e| e.into_inner());
                for (event, result) in standing.iter().zip(&results) {
                    if let Ok(Appended {
                        duplicate: false,
                        seq,
                        ..
                    }) = result
                    {
                        states
                            .get_or_insert(&event.subject)
                            .apply(&policy, &event.kind);
                        states
                            .calls
                            .apply(&policy, &event.subject, &event.kind, event.at);
                        engine.applied_seq.fetch_max(*seq, Ordering::AcqRel);
                    }
                }
            }
            metrics::ledger_writes(results.iter().filter(|r| r.is_ok()).count());
            answer(verdicts, replies, results);
        }
        Err(e) => {
            tracing::error!(error = %e, writes = standing.len(), "ledger commit failed; nothing recorded");
            let msg = e.to_string();
            for (verdict, reply) in verdicts.into_iter().zip(replies) {
                let _ = reply.send(match verdict {
                    Ok(()) => Err(EngineError::Storage(msg.clone())),
                    Err(e) => Err(EngineError::Rejected(e)),
                });
            }
        }
    }
}

/// Answers every write: the store's result for a standing one (in order), the refusal
/// otherwise.
fn answer(
    verdicts: Vec<Result<(), EventError>>,
    replies: Vec<Reply>,
    results: Vec<Result<Appended, StoreError>>,
) {
    let mut results = results.into_iter();
    for (verdict, reply) in verdicts.into_iter().zip(replies) {
        let _ = reply.send(match verdict {
            Ok(()) => results
                .next()
                .unwrap_or(Err(StoreError::Conflict))
                .map_err(EngineError::from),
            Err(e) => Err(EngineError::Rejected(e)),
        });
    }
}
