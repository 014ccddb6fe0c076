//! The checks every store must pass.

use tutela_core::basis::{ContractKind, Relationship};
use tutela_core::ledger::{EventKind, ObjectionScope};
use tutela_core::merkle_nodes::NodeId;
use tutela_store::{NewEvent, Snapshot, Store, StoreError};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

pub fn consent(subject: &str, purpose: &str, granted: bool, key: Option<&str>) -> NewEvent {
    NewEvent {
        subject: subject.into(),
        at: at("2026-02-01T10:00:00Z"),
        kind: EventKind::Consent {
            purpose: purpose.into(),
            channel: Some("email".into()),
            granted,
            source: "web".into(),
            notice_version: "2026-01".into(),
        },
        evidence: Some("checkbox on /signup".into()),
        reason: None,
        email: None,
        idempotency_key: key.map(str::to_owned),
        policy_version: "v1".into(),
    }
}

pub async fn run_all<S: Store + tutela_store::LogStore>(store: &S) {
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    appends_and_reads_history_in_order(store).await;
    idempotency_keys_append_once(store).await;
    erasure_removes_personal_attributes_and_keeps_a_tombstone(store).await;
    erasure_keeps_the_evidence_a_legal_duty_holds(store).await;
    concurrent_appends_lose_nothing(store).await;
    snapshots_replace_each_other_and_events_after_follow_them(store).await;
    events_after_reads_past_a_page(store).await;
    call_consents_are_read_back_by_time(store).await;
    log_leaves_and_heads_are_kept_in_order(store).await;
    store.ping().await.expect("ping");
}

async fn appends_and_reads_history_in_order<S: Store>(store: &S) {
    let mut rel = consent("alice", "email_marketing", true, None);
    rel.kind = EventKind::Relationship {
        relationship: Relationship::Customer,
        contract_kind: ContractKind::Telecommunications,
    };
    rel.evidence = None;
    rel.email = Some("alice@example.org".into());
    let mut objection = consent("alice", "x", true, None);
    objection.kind = EventKind::Objection {
        scope: ObjectionScope::LegitimateInterest,
    };
    objection.evidence = None;
    objection.reason = Some("particular situation".into());
    let batch = [
        rel,
        consent("alice", "email_marketing", true, None),
        consent("alice", "email_marketing", false, None),
        objection,
    ];
    let results = store.append(&batch).await.expect("append");
    assert_eq!(results.len(), 4);
    let seqs: Vec<i64> = results
        .iter()
        .map(|r| r.as_ref().expect("ok").seq)
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let history = store.history("alice").await.expect("history");
    assert_eq!(history.len(), 4);
    assert_eq!(history[0].event.kind, batch[0].kind);
    assert_eq!(history[1].event.kind, batch[1].kind);
    assert_eq!(history[2].event.kind, batch[2].kind);
    assert_eq!(history[3].event.kind, batch[3].kind);
    assert_eq!(history[1].evidence.as_deref(), Some("checkbox on /signup"));
    assert_eq!(history[3].reason.as_deref(), Some("particular situation"));
    assert_eq!(history[1].event.at, at("2026-02-01T10:00:00Z"));
    assert_eq!(history[1].policy_version, "v1");
    let subject = store
        .subject("alice")
        .await
        .expect("subject")
        .expect("exists");
    assert_eq!(subject.email.as_deref(), Some("alice@example.org"));
    assert!(store.history("nobody").await.expect("history").is_empty());
    // The latest events, newest first, page by page.
    let recent = store
        .recent_history("alice", None, 2)
        .await
        .expect("recent");
    assert_eq!(recent, vec![history[3].clone(), history[2].clone()]);
    let older = store
        .recent_history("alice", Some(recent[1].event.seq), 10)
        .await
        .expect("older");
    assert_eq!(older, vec![history[1].clone(), history[0].clone()]);
    assert!(store.subject("nobody").await.expect("subject").is_none());
}

async fn idempotency_keys_append_once<S: Store>(store: &S) {
    let first = store
        .append(&[consent("bob", "email_marketing", true, Some("k-1"))])
        .await
        .expect("append");
    let again = store
        .append(&[consent("bob", "email_marketing", true, Some("k-1"))])
        .await
        .expect("append");
    let (first, again) = (
        first[0].as_ref().expect("ok"),
        again[0].as_ref().expect("ok"),
    );
    assert!(!first.duplicate);
    assert!(again.duplicate);
    assert_eq!(first.seq, again.seq);
    let other = store
        .append(&[consent("bob", "email_marketing", false, Some("k-1"))])
        .await
        .expect("append");
    assert!(matches!(other[0], Err(StoreError::IdempotencyConflict)));
    assert_eq!(store.history("bob").await.expect("history").len(), 1);

    // The same key twice in one batch: one row, the repeat answers with its seq.
    let batch = [
        consent("dave", "email_marketing", true, Some("k-2")),
        consent("dave", "email_marketing", true, Some("k-2")),
        consent("dave", "email_marketing", false, Some("k-2")),
        consent("dave", "email_marketing", false, None),
    ];
    let results = store.append(&batch).await.expect("append");
    let first = results[0].as_ref().expect("first");
    let repeat = results[1].as_ref().expect("repeat");
    assert!(!first.duplicate && repeat.duplicate);
    assert_eq!(first.seq, repeat.seq);
    assert!(matches!(results[2], Err(StoreError::IdempotencyConflict)));
    assert!(results[3].as_ref().is_ok_and(|a| a.seq > first.seq));
    assert_eq!(store.history("dave").await.expect("history").len(), 2);
}

async fn erasure_removes_personal_attributes_and_keeps_a_tombstone<S: Store>(store: &S) {
    let mut with_email = consent("carol", "email_marketing", true, None);
    with_email.email = Some("carol@example.org".into());
    store.append(&[with_email]).await.expect("append");
    let erased = store
        .erase("carol", at("2026-03-01T00:00:00Z"), "v1", &[])
        .await
        .expect("erase");
    let history = store.history("carol").await.expect("history");
    assert_eq!(history.len(), 2, "the ledger keeps its rows");
    assert!(
        history
            .iter()
            .all(|e| e.evidence.is_none() && e.reason.is_none())
    );
    assert_eq!(history[1].event.kind, EventKind::Erasure);
    assert_eq!(history[1].event.seq, erased.seq);
    let subject = store
        .subject("carol")
        .await
        .expect("subject")
        .expect("exists");
    assert_eq!(subject.email, None);
    assert_eq!(subject.erased_at, Some(at("2026-03-01T00:00:00Z")));
}

async fn erasure_keeps_the_evidence_a_legal_duty_holds<S: Store>(store: &S) {
    let kept = store
        .append(&[
            consent("erin", "phone_marketing", true, None),
            consent("erin", "email_marketing", true, None),
        ])
        .await
        .expect("append");
    let keep = kept[0].as_ref().expect("ok").seq;
    store
        .erase("erin", at("2026-03-01T00:00:00Z"), "v1", &[keep])
        .await
        .expect("erase");
    let history = store.history("erin").await.expect("history");
    assert_eq!(
        history[0].evidence.as_deref(),
        Some("checkbox on /signup"),
        "kept"
    );
    assert_eq!(history[1].evidence, None, "erased");
}

async fn concurrent_appends_lose_nothing<S: Store>(store: &S) {
    let before = store.all_events().await.expect("all").len();
    let tasks = (0..16).map(|t| async move {
        for i in 0..10 {
            let e = consent(&format!("load-{t}"), "email_marketing", i % 2 == 0, None);
            store.append(&[e]).await.expect("append");
        }
    });
    futures_join_all(tasks).await;
    let all = store.all_events().await.expect("all");
    assert_eq!(all.len(), before + 160);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "ledger order");
}

/// `events_after` reads in pages of 10,000; a gap longer than a page comes back whole.
async fn events_after_reads_past_a_page<S: Store>(store: &S) {
    let from = store
        .all_events()
        .await
        .expect("all")
        .last()
        .map_or(0, |e| e.seq);
    let batch: Vec<NewEvent> = (0..10_050)
        .map(|i| {
            consent(
                &format!("page-{}", i % 50),
                "email_marketing",
                i % 2 == 0,
                None,
            )
        })
        .collect();
    for r in store.append(&batch).await.expect("append") {
        r.expect("appended");
    }
    let after = store.events_after(from).await.expect("after");
    assert_eq!(after.len(), 10_050);
    assert!(
        after.windows(2).all(|w| w[0].seq < w[1].seq),
        "ledger order"
    );
    assert!(after[0].seq > from);
    let tail = store.events_after(after[10_000].seq).await.expect("after");
    assert_eq!(tail.as_slice(), &after[10_001..]);
}

async fn snapshots_replace_each_other_and_events_after_follow_them<S: Store>(store: &S) {
    assert_eq!(store.load_snapshot("v1").await.expect("load"), None);
    let all = store.all_events().await.expect("all");
    let mid = all[all.len() / 2].seq;
    let after = store.events_after(mid).await.expect("after");
    assert_eq!(after.as_slice(), &all[all.len() / 2 + 1..]);
    assert!(
        store
            .events_after(i64::MAX)
            .await
            .expect("after")
            .is_empty()
    );

    let first = Snapshot {
        up_to_seq: mid,
        chunks: vec![vec![1, 2, 3], vec![], vec![0; 100_000]],
    };
    store.save_snapshot("v1", &first).await.expect("save");
    assert_eq!(store.load_snapshot("v1").await.expect("load"), Some(first));
    let second = Snapshot {
        up_to_seq: mid + 1,
        chunks: vec![vec![9]],
    };
    store.save_snapshot("v2", &second).await.expect("save");
    assert_eq!(
        store.load_snapshot("v1").await.expect("load"),
        None,
        "a snapshot replaces the one before"
    );
    assert_eq!(store.load_snapshot("v2").await.expect("load"), Some(second));
}

async fn call_consents_are_read_back_by_time<S: Store>(store: &S) {
    let call = |t: &str, granted: bool| {
        let mut e = consent("carla", "call_recording", granted, None);
        e.at = at(t);
        e.kind = EventKind::CallConsent {
            purpose: "call_recording".into(),
            call: "call-1".into(),
            granted,
        };
        e
    };
    store
        .append(&[
            call("2026-03-01T10:00:00Z", true),
            consent("carla", "email_marketing", true, None),
            call("2026-03-02T10:00:00Z", true),
            call("2026-03-02T10:05:00Z", false),
        ])
        .await
        .expect("append");
    let read = store
        .call_consents_since(at("2026-03-02T00:00:00Z"))
        .await
        .expect("read");
    let kinds: Vec<&str> = read.iter().map(|e| e.kind.name()).collect();
    assert_eq!(kinds, ["call_consent_given", "call_consent_withdrawn"]);
    assert!(read.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        read[0].kind,
        EventKind::CallConsent {
            purpose: "call_recording".into(),
            call: "call-1".into(),
            granted: true
        }
    );
}

async fn log_leaves_and_heads_are_kept_in_order<S: Store + tutela_store::LogStore>(store: &S) {
    use tutela_store::{LogLeaf, LogSource, SignedHead};
    assert_eq!(store.log_size().await.expect("size"), 0);
    let rows = store
        .log_contents(LogSource::Ledger, 0, 3)
        .await
        .expect("contents");
    assert_eq!(rows.len(), 3);
    assert!(rows.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(rows[0].1.starts_with(b"ledger\n"));
    let leaves: Vec<LogLeaf> = rows
        .iter()
        .enumerate()
        .map(|(i, (seq, content))| LogLeaf {
            index: i as u64,
            source: LogSource::Ledger,
            seq: *seq,
            leaf_hash: tutela_core::merkle::leaf_hash(content),
        })
        .collect();
    let node = NodeId { level: 1, index: 0 };
    let node_hash = tutela_core::merkle::node_hash(&leaves[0].leaf_hash, &leaves[1].leaf_hash);
    store
        .append_leaves(&leaves, &[(node, node_hash)])
        .await
        .expect("append");
    assert!(matches!(
        store.append_leaves(&leaves[2..], &[]).await,
        Err(StoreError::Conflict)
    ));
    // Nodes read back by id, the leaves as level 0; a missing one is left out.
    let leaf = NodeId { level: 0, index: 2 };
    let absent = NodeId { level: 1, index: 1 };
    let read = store.log_nodes(&[node, leaf, absent]).await.expect("nodes");
    assert_eq!(read.len(), 2);
    assert_eq!(read[&node], node_hash);
    assert_eq!(read[&leaf], leaves[2].leaf_hash);
    assert_eq!(store.all_log_nodes().await.expect("all").len(), 1);
    assert_eq!(store.log_size().await.expect("size"), 3);
    assert_eq!(store.log_leaves().await.expect("leaves"), leaves);
    assert_eq!(
        store.log_cursor(LogSource::Ledger).await.expect("cursor"),
        rows[2].0
    );
    assert_eq!(
        store
            .log_cursor(LogSource::RequestEvent)
            .await
            .expect("cursor"),
        0
    );
    let head = SignedHead {
        size: 3,
        root: [7; 32],
        at: at("2026-03-03T00:00:00Z"),
        key_id: "k".into(),
        signature: vec![1; 64],
    };
    store.insert_head(&head).await.expect("head");
    store
        .insert_head(&head)
        .await
        .expect("the same size twice is one head");
    assert_eq!(store.heads().await.expect("heads"), vec![head]);
}

/// Runs futures concurrently on this task (no extra dependency for a join).
async fn futures_join_all<F: std::future::Future<Output = ()>>(futs: impl Iterator<Item = F>) {
    let mut futs: Vec<std::pin::Pin<Box<F>>> = futs.map(Box::pin).collect();
    std::future::poll_fn(move |cx| {
        futs.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if futs.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}
