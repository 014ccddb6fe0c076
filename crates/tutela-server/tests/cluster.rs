//! Two engines on one PostgreSQL schema, as two instances behind a load balancer: each
//! follows the other's writes, a write checked against a state that missed the other's write
//! is checked again, concurrent writes on both leave both with the ledger's states, and
//! background work holds a lease one instance at a time.

use std::sync::Arc;
use std::time::Duration;

use tutela_core::ledger::EventKind;
use tutela_core::state::SubjectState;
use tutela_runtime::Engine;
use tutela_runtime::engine::{EngineError, EngineOptions};
use tutela_runtime::follow::FollowSettings;
use tutela_store::testing::{PgSchema, temp_dir, vault};
use tutela_store::{AnyStore, NewEvent, PgStore, Store};

use crate::support::policy;

struct Pair {
    a: Arc<Engine>,
    b: Arc<Engine>,
    pg: PgSchema,
}

/// Two engines on a fresh schema, sharing one key store as instances must; `b` follows with
/// `follow`.
async fn pair(follow: FollowSettings) -> Option<Pair> {
    let pg = PgSchema::create().await?;
    let keys = temp_dir("cluster-keys");
    let vault = vault(&keys).await;
    let open = || async {
        let store = PgStore::connect_in_schema(&pg.url, Some(&pg.schema))
            .await
            .expect("pg")
            .with_vault(vault.clone());
        AnyStore::Postgres(store)
    };
    let a = Engine::start(open().await, policy()).await.expect("a");
    let options = EngineOptions {
        follow,
        ..EngineOptions::default()
    };
    let b = Engine::start_with(open().await, policy(), options)
        .await
        .expect("b");
    Some(Pair { a, b, pg })
}

fn consent(subject: &str, granted: bool, key: Option<String>) -> NewEvent {
    NewEvent {
        subject: subject.into(),
        at: jiff::Timestamp::now(),
        kind: EventKind::Consent {
            purpose: "email_marketing".into(),
            channel: Some("email".into()),
            granted,
            source: "test".into(),
            notice_version: "2026-01".into(),
        },
        evidence: Some("double opt-in".into()),
        reason: None,
        email: None,
        idempotency_key: key,
        policy_version: String::new(),
    }
}

/// Waits until `engine` holds `expected` for `subject`; false after five seconds.
async fn follows(engine: &Engine, subject: &str, expected: SubjectState) -> bool {
    for _ in 0..500 {
        if engine.subject_state(subject) == expected {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_instance_follows_the_others_writes() {
    let Some(Pair { a, b, pg }) = pair(FollowSettings::default()).await else {
        return;
    };
    a.append(consent("c-1", true, None)).await.expect("on a");
    let granted = a.subject_state("c-1");
    assert_ne!(granted, SubjectState::default());
    assert!(follows(&b, "c-1", granted).await, "b missed a's consent");
    b.append(consent("c-1", false, None)).await.expect("on b");
    let withdrawn = b.subject_state("c-1");
    assert_ne!(withdrawn, granted);
    assert!(
        follows(&a, "c-1", withdrawn).await,
        "a missed b's withdrawal"
    );
    b.erase("c-1".into(), jiff::Timestamp::now())
        .await
        .expect("erase on b");
    assert!(follows(&a, "c-1", b.subject_state("c-1")).await);
    assert_eq!(a.applied_seq(), b.applied_seq());
    assert!(!a.is_lagging() && !b.is_lagging());
    drop((a, b));
    pg.drop_schema().await;
}

/// With its follower asleep, `b` learns of `a`'s erasure from the rows its append is handed
/// under the lock, folds them, and refuses the write the erasure forbids: no write is accepted
/// on a stale state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_checked_against_a_stale_state_is_checked_again() {
    let asleep = FollowSettings {
        poll: Duration::from_secs(3600),
        listen: false,
    };
    let Some(Pair { a, b, pg }) = pair(asleep).await else {
        return;
    };
    // Give b's follower its one step at start, then it sleeps for an hour.
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.append(consent("s-1", true, None)).await.expect("consent");
    a.erase("s-1".into(), jiff::Timestamp::now())
        .await
        .expect("erase");
    assert_ne!(b.subject_state("s-1"), a.subject_state("s-1"), "b is stale");
    let refused = b.append(consent("s-1", true, None)).await;
    assert!(
        matches!(refused, Err(EngineError::Rejected(_))),
        "{refused:?}"
    );
    assert_eq!(b.subject_state("s-1"), a.subject_state("s-1"));
    assert!(b.applied_seq() >= a.applied_seq());
    // Another person's write goes through after the same catch-up.
    b.append(consent("s-2", true, None)).await.expect("s-2");
    drop((a, b));
    pg.drop_schema().await;
}

/// Writes on both engines at once, several on the same persons, some repeated with their
/// idempotency key on the other engine: every write lands once, and both engines end with the
/// states the ledger folds to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_on_both_leave_both_with_the_ledgers_states() {
    let Some(Pair { a, b, pg }) = pair(FollowSettings::default()).await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 0..400u32 {
        let (engine, other) = if i.is_multiple_of(2) {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        };
        tasks.push(tokio::spawn(async move {
            let subject = format!("p-{}", i % 37);
            let key = format!("k-{i}");
            let event = consent(&subject, i % 3 != 0, Some(key));
            let first = engine.append(event.clone()).await.expect("append");
            let again = other.append(event).await.expect("repeat");
            assert!(again.duplicate && again.seq == first.seq, "{again:?}");
            first.seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.expect("task"));
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 400, "every write once");
    let ledger = a.store.all_events().await.expect("ledger");
    assert_eq!(ledger.len(), 400);
    let policy = policy();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..37 {
        let subject = format!("p-{i}");
        let folded = SubjectState::fold(
            &policy,
            ledger.iter().filter(|e| e.subject == subject),
            jiff::Timestamp::MAX,
        );
        assert!(follows(&a, &subject, folded).await, "a: {subject}");
        assert!(follows(&b, &subject, folded).await, "b: {subject}");
    }
    drop((a, b));
    pg.drop_schema().await;
}

/// Both engines busy at once, each with 16 clients writing back to back: whichever waits at the
/// appends' lock always finds the other's commit ahead of it, and must still get its writes
/// through (a writer that gave up its turn to catch up and then queued again starved here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_writes_on_both_all_commit() {
    let Some(Pair { a, b, pg }) = pair(FollowSettings::default()).await else {
        return;
    };
    let mut tasks = Vec::new();
    for c in 0..32u32 {
        let engine = [&a, &b][c as usize % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut failed = 0;
            for i in 0..100u32 {
                let subject = format!("busy-{}", (c * 100 + i) % 101);
                if engine
                    .append(consent(&subject, i % 3 != 0, None))
                    .await
                    .is_err()
                {
                    failed += 1;
                }
            }
            failed
        }));
    }
    let mut failed = 0;
    for t in tasks {
        failed += t.await.expect("task");
    }
    assert_eq!(failed, 0, "writes failed under contention");
    assert_eq!(a.store.all_events().await.expect("ledger").len(), 32 * 100);
    drop((a, b));
    pg.drop_schema().await;
}

/// One instance holds the work; the other waits until the holder's lease lapses (its death),
/// then takes it over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_work_runs_on_one_instance_and_moves_when_it_dies() {
    use tutela_runtime::lease::holding;
    let Some(Pair { a, b, pg }) = pair(FollowSettings::default()).await else {
        return;
    };
    let ttl = Duration::from_secs(1);
    let held = holding(&a.store, "work", &a.instance, ttl, async { 1 }).await;
    assert_eq!(held.expect("a"), Some(1));
    let refused = holding(&b.store, "work", &b.instance, ttl, async { 2 }).await;
    assert_eq!(refused.expect("b"), None, "a holds the lease");
    // While a works, its lease is renewed past its time to live.
    let long = holding(&a.store, "work", &a.instance, ttl, async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        3
    })
    .await;
    assert_eq!(long.expect("a again"), Some(3));
    let refused = holding(&b.store, "work", &b.instance, ttl, async { 4 }).await;
    assert_eq!(refused.expect("b"), None, "renewed by a");
    // a stops (as a dead instance does); b takes over once the lease lapsed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let taken = holding(&b.store, "work", &b.instance, ttl, async { 5 }).await;
    assert_eq!(taken.expect("b"), Some(5));
    drop((a, b));
    pg.drop_schema().await;
}
