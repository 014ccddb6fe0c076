//! The checks every store must pass for several instances on one database: appends that
//! never pass unseen rows, the ledger's head, leases. The ledger notices are PostgreSQL's
//! alone and have their own test.

use tutela_store::{ClusterStore, Store};

use crate::conformance::consent;

fn at(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

pub async fn run_all<S: Store + ClusterStore>(store: &S) {
    appends_at_the_head_only(store).await;
    leases_are_held_by_one_owner_until_they_lapse(store).await;
}

async fn appends_at_the_head_only<S: Store + ClusterStore>(store: &S) {
    let head = store.ledger_head().await.expect("head");
    let events = store.events_after(0).await.expect("events");
    assert_eq!(head, events.last().map_or(0, |e| e.seq));
    let mut asked = false;
    let done = store
        .append_at_head(&[consent("cl-1", "newsletter", true, None)], head, |_| {
            asked = true;
            vec![true]
        })
        .await
        .expect("at the head");
    assert!(!asked, "nothing was missed, so nothing is checked again");
    let seq = done[0].as_ref().expect("appended").seq;
    assert!(seq > head);
    assert_eq!(store.ledger_head().await.expect("head"), seq);
    // A writer that has not seen `seq` is handed that row under the lock; the event it
    // withdraws after folding it is not written.
    let mut missed = Vec::new();
    let stale = store
        .append_at_head(&[consent("cl-2", "newsletter", true, None)], head, |rows| {
            missed = rows.iter().map(|e| e.seq).collect();
            vec![false]
        })
        .await
        .expect("stale");
    assert_eq!(missed, vec![seq]);
    assert!(stale.is_empty());
    assert_eq!(store.ledger_head().await.expect("head"), seq);
    assert!(store.history("cl-2").await.expect("history").is_empty());
    // Of several events, the ones that still stand are written, in order, after the row.
    let kept = store
        .append_at_head(
            &[
                consent("cl-2", "newsletter", true, None),
                consent("cl-4", "newsletter", true, None),
            ],
            head,
            |rows| {
                assert_eq!(rows.len(), 1);
                vec![false, true]
            },
        )
        .await
        .expect("kept");
    assert_eq!(kept.len(), 1);
    let kept_seq = kept[0].as_ref().expect("appended").seq;
    assert!(kept_seq > seq);
    assert!(store.history("cl-2").await.expect("history").is_empty());
    assert_eq!(store.history("cl-4").await.expect("history").len(), 1);
    // An idempotent repeat at the head answers with the first write.
    let first = store
        .append_at_head(
            &[consent("cl-3", "newsletter", true, Some("cl-key"))],
            kept_seq,
            |_| vec![true],
        )
        .await
        .expect("first");
    let head = store.ledger_head().await.expect("head");
    let again = store
        .append_at_head(
            &[consent("cl-3", "newsletter", true, Some("cl-key"))],
            head,
            |_| vec![true],
        )
        .await
        .expect("again");
    let (first, again) = (
        first[0].as_ref().expect("first"),
        again[0].as_ref().expect("again"),
    );
    assert!(again.duplicate);
    assert_eq!(first.seq, again.seq);
}

async fn leases_are_held_by_one_owner_until_they_lapse<S: ClusterStore>(store: &S) {
    let (t0, t1, t2) = (
        at("2026-03-01T10:00:00Z"),
        at("2026-03-01T10:00:30Z"),
        at("2026-03-01T10:01:00Z"),
    );
    assert!(store.take_lease("work", "a", t0, t1).await.expect("take"));
    assert!(!store.take_lease("work", "b", t0, t1).await.expect("held"));
    // Renewed by its owner; still refused to another before it lapses.
    assert!(store.take_lease("work", "a", t0, t2).await.expect("renew"));
    assert!(!store.take_lease("work", "b", t1, t2).await.expect("held"));
    // Leases are per name.
    assert!(store.take_lease("other", "b", t0, t1).await.expect("other"));
    // Lapsed: the next owner takes it, and the old one cannot take it back.
    let t3 = at("2026-03-01T10:01:01Z");
    let t4 = at("2026-03-01T10:01:31Z");
    assert!(store.take_lease("work", "b", t3, t4).await.expect("lapsed"));
    assert!(!store.take_lease("work", "a", t3, t4).await.expect("lost"));
    // Released by its owner only.
    store.release_lease("work", "a").await.expect("not a's");
    assert!(
        !store
            .take_lease("work", "a", t3, t4)
            .await
            .expect("still b's")
    );
    store.release_lease("work", "b").await.expect("release");
    assert!(store.take_lease("work", "a", t3, t4).await.expect("free"));
}
