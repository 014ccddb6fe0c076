//! The single writer: takes the writes that are waiting, checks each against the policy and
//! the state it would meet, commits them in one transaction (group commit), applies them to the
//! in-memory state, and only then answers. A failed commit answers every write in it with an
//! error and changes no state.

use std::sync::Weak;
use std::sync::atomic::Ordering;

use rustc_hash::FxHashMap;
use tokio::sync::{mpsc, oneshot};
use tutela_core::state::SubjectState;
use tutela_store::{Appended, NewEvent, Store};

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
                        Ok(history) => evidence_to_keep(&policy.policy, &history, at),
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
                    if let Ok(done) = &result {
                        let mut live = engine.live.write().unwrap_or_else(|e| e.into_inner());
                        let policy = live.policy.clone();
                        live.get_or_insert(&subject)
                            .apply(&policy, &tutela_core::ledger::EventKind::Erasure);
                        live.calls.apply(
                            &policy,
                            &subject,
                            &tutela_core::ledger::EventKind::Erasure,
                            at,
                        );
                        engine.applied_seq.fetch_max(done.seq, Ordering::AcqRel);
                    }
                    let _ = reply.send(result);
                }
            }
        }
        commit(&engine, appends).await;
    }
}

/// The ledger rows whose evidence a legal duty keeps past an erasure: consents of purposes
/// with `consent_evidence_kept`, within that period from the grant or the last use (section 7a
/// UWG), and the uses themselves.
pub fn evidence_to_keep(
    policy: &tutela_core::policy::Policy,
    history: &[tutela_store::StoredEvent],
    now: jiff::Timestamp,
) -> Vec<i64> {
    use tutela_core::ledger::EventKind;
    let mut keep = Vec::new();
    for (i, e) in history.iter().enumerate() {
        let EventKind::Consent {
            purpose,
            channel,
            granted: true,
            ..
        } = &e.event.kind
        else {
            continue;
        };
        let Some(period) = policy
            .purposes
            .iter()
            .find(|p| &p.id == purpose)
            .and_then(|p| p.consent_evidence_kept)
        else {
            continue;
        };
        let uses: Vec<&tutela_store::StoredEvent> = history[i + 1..]
            .iter()
            .filter(|u| matches!(&u.event.kind, EventKind::ConsentUse { purpose: p, channel: c } if p == purpose && c == channel))
            .collect();
        let last = uses.last().map_or(e.event.at, |u| u.event.at);
        let until = last
            .to_zoned(jiff::tz::TimeZone::UTC)
            .checked_add(period.to_span())
            .map(|z| z.timestamp());
        if until.is_ok_and(|u| now < u) {
            keep.push(e.event.seq);
            keep.extend(uses.iter().map(|u| u.event.seq));
        }
    }
    keep
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

async fn commit(engine: &Engine, appends: Vec<(NewEvent, Reply)>) {
    if appends.is_empty() {
        return;
    }
    let policy = engine.policy();
    // Check each write against the state it will meet, including the writes before it here.
    let mut scratch: FxHashMap<String, SubjectState> = FxHashMap::default();
    let mut accepted: Vec<(NewEvent, Reply)> = Vec::with_capacity(appends.len());
    {
        let states = engine.states();
        for (event, reply) in appends {
            let state = scratch
                .entry(event.subject.clone())
                .or_insert_with(|| *states.state(&event.subject));
            // The version that checked the write is the one it records.
            let mut event = event;
            event.policy_version = policy.policy_version().to_owned();
            match check(&policy, state, &event) {
                Ok(()) if !is_erasure(&event.kind) => {
                    state.apply(&policy, &event.kind);
                    accepted.push((event, reply));
                }
                Ok(()) => accepted.push((event, reply)),
                Err(e) => {
                    let _ = reply.send(Err(EngineError::Rejected(e)));
                }
            }
        }
    }
    if accepted.is_empty() {
        return;
    }
    let events: Vec<NewEvent> = accepted.iter().map(|(e, _)| e.clone()).collect();
    match engine.store.append(&events).await {
        Ok(results) => {
            {
                let mut states = engine.live.write().unwrap_or_else(|e| e.into_inner());
                for (event, result) in events.iter().zip(&results) {
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
            for ((_, reply), result) in accepted.into_iter().zip(results) {
                let _ = reply.send(result.map_err(EngineError::from));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, writes = accepted.len(), "ledger commit failed; nothing recorded");
            let msg = e.to_string();
            for (_, reply) in accepted {
                let _ = reply.send(Err(EngineError::Storage(msg.clone())));
            }
        }
    }
}
