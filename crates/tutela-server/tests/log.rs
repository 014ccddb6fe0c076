//! The verifiable log (issue 10): ledger events and request transitions sealed as RFC 6962
//! leaves, signed heads, inclusion and consistency proofs over HTTP, and `verify`, which
//! catches a changed byte, a deleted row, two reordered entries, a changed or removed leaf and
//! a foreign key, and names the entry, every time.

use serde_json::{Value, json};
use tutela_core::merkle::{self, Hash};
use tutela_runtime::verifiable_log::{self, LogKey, hex_decode};
use tutela_store::Store;
use tutela_store::testing::tamper;

use crate::support::TestApp;

fn hash(v: &Value) -> Hash {
    v.as_str()
        .and_then(hex_decode)
        .and_then(|b| b.try_into().ok())
        .expect("a hex hash")
}

/// Records a marketing consent (or its withdrawal) for `who`, then seals and signs a head.
async fn consent_and_head(app: &TestApp, who: &str, granted: bool) -> Value {
    let (s, _, _) = app
        .call(
            "POST",
            &format!("/v1/subjects/{who}/consents"),
            Some(json!({"purpose": "email_marketing", "channel": "email", "granted": granted, "source": "web"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _, head) = app.call("POST", "/v1/log/head", None).await;
    assert_eq!(s, 201, "{head}");
    head
}

/// The hashes of a proof document's `proof` array.
fn proof_of(doc: &Value) -> Vec<Hash> {
    doc["proof"]
        .as_array()
        .expect("proof")
        .iter()
        .map(hash)
        .collect()
}

/// A server with a log key, six ledger events, a request's transitions, and a signed head.
async fn seeded() -> (TestApp, [u8; 32]) {
    let key = LogKey::generate().expect("key");
    let public = key.public_key();
    let app = TestApp::sqlite().await.with_log_key(key);
    for who in ["L-1", "L-2", "L-3"] {
        let (s, _, _) = app
            .call(
                "PUT",
                &format!("/v1/subjects/{who}"),
                Some(json!({"relationship": "customer", "email": format!("{who}@example.org")})),
            )
            .await;
        assert_eq!(s, 201);
        let (s, _, _) = app
            .call(
                "POST",
                &format!("/v1/subjects/{who}/consents"),
                Some(json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "web", "evidence": "double opt-in"})),
            )
            .await;
        assert_eq!(s, 201);
    }
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "access", "subject": "L-1"})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    // A disclosure: an audit row, sealed after the ledgers' rows.
    let (s, _, d) = app
        .call("POST", "/v1/disclosures", Some(json!({"subject": "L-1", "recipient": "finance_services", "purpose": "contract_performance", "categories": ["identity", "payment"], "country": "DE"})))
        .await;
    assert_eq!(s, 201, "{d}");
    let (s, _, head) = app.call("POST", "/v1/log/head", None).await;
    assert_eq!(s, 201, "{head}");
    (app, public)
}

async fn verdict(app: &TestApp, public: &[u8; 32]) -> Result<verifiable_log::Verified, String> {
    verifiable_log::verify(&app.engine.store, public, &[]).await
}

// covers: N9c
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_are_signed_and_proofs_verify_against_them() {
    let (app, public) = seeded().await;
    let (s, _, head) = app.call("GET", "/v1/log/head", None).await;
    assert_eq!(s, 200);
    let ledger = app.engine.store.all_events().await.expect("ledger").len() as u64;
    let size = head["size"].as_u64().expect("size");
    assert!(
        size > ledger,
        "ledger events and request transitions: {head}"
    );

    // An inclusion proof for every ledger event, and for the disclosure's audit row, checks
    // against the signed head.
    let events = (1..=ledger)
        .map(|seq| format!("ledger:{seq}"))
        .chain(["audit:1".to_owned()]);
    for event in events {
        let (s, _, p) = app
            .call("GET", &format!("/v1/log/proof/{event}"), None)
            .await;
        assert_eq!(s, 200, "{p}");
        assert_eq!(p["head"]["root"], head["root"], "the newest head");
        let path = proof_of(&p);
        assert!(
            merkle::verify_inclusion(
                &hash(&p["leaf_hash"]),
                p["leaf_index"].as_u64().expect("index"),
                p["head"]["size"].as_u64().expect("size"),
                &path,
                &hash(&p["head"]["root"]),
            ),
            "{event}"
        );
    }
    let (s, _, p) = app.call("GET", "/v1/log/proof/request:1", None).await;
    assert_eq!(s, 200, "{p}");
    // Bad or unknown entries get a clear answer.
    let (s, _, p) = app.call("GET", "/v1/log/proof/ledger:x", None).await;
    assert_eq!((s.as_u16(), p["field"].as_str()), (422, Some("event")));
    let (s, _, _) = app.call("GET", "/v1/log/proof/ledger:999", None).await;
    assert_eq!(s, 404);

    // Later writes: a new head, consistent with the old one.
    let newer = consent_and_head(&app, "L-2", false).await;
    let to = newer["size"].as_u64().expect("size");
    assert!(to > size);
    let (s, _, c) = app
        .call(
            "GET",
            &format!("/v1/log/consistency?from={size}&to={to}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let proof = proof_of(&c);
    assert!(merkle::verify_consistency(
        size,
        to,
        &hash(&head["root"]),
        &hash(&newer["root"]),
        &proof
    ));
    let v = verdict(&app, &public)
        .await
        .expect("an untouched log verifies");
    assert_eq!((v.leaves, v.heads), (to, 2));
    // Another key's signature is no signature.
    let other = LogKey::generate().expect("key").public_key();
    let e = verdict(&app, &other).await.expect_err("foreign key");
    assert!(e.contains("signature does not verify"), "{e}");
    app.finish().await;
}

// Proofs come from stored subtree hashes; a log sealed before they were kept gets them from
// its leaves at the next seal, and its proofs verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_without_stored_nodes_gets_them_and_proves_as_before() {
    let (app, public) = seeded().await;
    tamper(
        &app.engine.store,
        &["DROP TRIGGER log_nodes_no_delete", "DELETE FROM log_nodes"],
    )
    .await
    .expect("forget the nodes");
    let head = consent_and_head(&app, "L-9", true).await;
    let (s, _, p) = app.call("GET", "/v1/log/proof/ledger:1", None).await;
    assert_eq!(s, 200, "{p}");
    let path = proof_of(&p);
    assert!(merkle::verify_inclusion(
        &hash(&p["leaf_hash"]),
        0,
        head["size"].as_u64().expect("size"),
        &path,
        &hash(&head["root"]),
    ));
    verdict(&app, &public).await.expect("verifies");
    app.finish().await;
}

// Found by schemathesis: the empty tree's head has no consistency proof (RFC 9162 2.1.4); asking
// for one is the caller's mistake, not a broken store.
#[tokio::test]
async fn a_consistency_proof_from_the_empty_tree_is_refused_with_the_field() {
    let app = TestApp::sqlite()
        .await
        .with_log_key(LogKey::generate().expect("key"));
    let (s, _, head) = app.call("POST", "/v1/log/head", None).await;
    assert_eq!(
        (s.as_u16(), head["size"].as_u64()),
        (201, Some(0)),
        "{head}"
    );
    let (s, _, p) = app
        .call("GET", "/v1/log/consistency?from=0&to=0", None)
        .await;
    assert_eq!(
        (s.as_u16(), p["field"].as_str()),
        (422, Some("from")),
        "{p}"
    );
    app.finish().await;
}

// covers: N9c
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tampering_is_caught_and_named() {
    const UNLOCK: &[&str] = &[
        "DROP TRIGGER ledger_no_update",
        "DROP TRIGGER ledger_no_delete",
        "DROP TRIGGER log_leaves_no_update",
        "DROP TRIGGER log_leaves_no_delete",
        "DROP TRIGGER audit_events_no_update",
        "DROP TRIGGER log_nodes_no_update",
        "DROP TRIGGER log_nodes_no_delete",
        "DROP TRIGGER ledger_personal_no_update",
        "DROP TRIGGER ledger_personal_no_delete",
    ];
    let cases: &[(&[&str], &str)] = &[
        // One byte of one stored event.
        (
            &[
                "UPDATE ledger SET body = replace(body, 'email_marketing', 'email_marketinG') WHERE seq = 4",
            ],
            "leaf 3 (ledger 4): the stored row does not match the sealed hash (changed)",
        ),
        // One event deleted.
        (
            &[
                "DELETE FROM ledger_personal WHERE seq = 3",
                "DELETE FROM ledger WHERE seq = 3",
            ],
            "leaf 2 (ledger 3): the row is missing from the store (deleted)",
        ),
        // Two events' contents swapped.
        (
            &[
                "UPDATE ledger SET at_us = at_us + 1 WHERE seq = 5",
                "UPDATE ledger SET kind = 'consent_withdrawn' WHERE seq = 2",
            ],
            "leaf 1 (ledger 2): the stored row does not match the sealed hash (changed)",
        ),
        // Two leaves reordered.
        (
            &[
                "UPDATE log_leaves SET idx = -1 WHERE idx = 1",
                "UPDATE log_leaves SET idx = 1 WHERE idx = 2",
                "UPDATE log_leaves SET idx = 2 WHERE idx = -1",
            ],
            "leaf 1 (ledger 3): out of order in the log (reordered)",
        ),
        // A leaf's hash replaced.
        (
            &[
                "UPDATE log_leaves SET leaf_hash = (SELECT leaf_hash FROM log_leaves WHERE idx = 0) WHERE idx = 5",
            ],
            "leaf 5 (ledger 6): the stored row does not match the sealed hash (changed)",
        ),
        // The newest leaf removed.
        (
            &["DELETE FROM log_leaves WHERE idx = (SELECT MAX(idx) FROM log_leaves)"],
            "the log holds only",
        ),
        // A stored subtree hash that proofs are built from.
        (
            &[
                "UPDATE log_nodes SET hash = (SELECT leaf_hash FROM log_leaves WHERE idx = 0) WHERE level = 1 AND idx = 1",
            ],
            "node (level 1, index 1): the leaves do not give its hash (changed)",
        ),
        // One byte of a disclosure's audit row.
        (
            &[
                "UPDATE audit_events SET body = replace(body, 'finance_services', 'finance_servicez') WHERE seq = 1",
            ],
            "(audit 1): the stored row does not match the sealed hash (changed)",
        ),
        // A leaf re-pointed elsewhere: the row it sealed is in no leaf any more.
        (
            &[
                "UPDATE log_leaves SET source_seq = source_seq + 100 WHERE source = 'ledger' AND source_seq = 1",
            ],
            "ledger 1: the row is in the store but in no leaf",
        ),
    ];
    for (statements, expected) in cases {
        let (app, public) = seeded().await;
        verdict(&app, &public)
            .await
            .expect("verifies before tampering");
        tamper(&app.engine.store, UNLOCK).await.expect("unlock");
        tamper(&app.engine.store, statements).await.expect("tamper");
        let e = verdict(&app, &public)
            .await
            .expect_err("tampering must be caught");
        assert!(
            e.contains(expected),
            "{statements:?}: expected `{expected}`, got `{e}`"
        );
        app.finish().await;
    }
}

// covers: N9c, N9e
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_person_does_not_break_the_log() {
    let (app, public) = seeded().await;
    let (s, _, _) = app.call("POST", "/v1/subjects/L-2/erasure", None).await;
    assert_eq!(s, 201);
    let (s, _, _) = app.call("POST", "/v1/log/head", None).await;
    assert_eq!(s, 201);
    let v = verdict(&app, &public)
        .await
        .expect("verifies after an erasure");
    assert_eq!(v.heads, 2);
    app.finish().await;
}

// On PostgreSQL several connections write request transitions and audit rows at once; the
// sealer follows each table by sequence number, so a row that committed after a later one was
// sealed would be left out of the tree. `begin_sealed` makes such rows commit in sequence
// order; here four writers and a sealer run together, and nothing is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_concurrent_writers_leave_no_row_behind_the_sealer() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let key = LogKey::generate().expect("key");
    let public = key.public_key();
    let app = app.with_log_key(key);
    let done = std::sync::atomic::AtomicBool::new(false);
    let writer = |w: usize| {
        let app = &app;
        async move {
            for i in 0..15 {
                let who = format!("W-{w}-{i}");
                let (s, _, _) = app
                    .call(
                        "PUT",
                        &format!("/v1/subjects/{who}"),
                        Some(json!({"relationship": "customer"})),
                    )
                    .await;
                assert_eq!(s, 201);
                let (s, _, r) = app
                    .call(
                        "POST",
                        "/v1/requests",
                        Some(json!({"type": "access", "subject": who})),
                    )
                    .await;
                assert_eq!(s, 201, "{r}");
                let (s, _, d) = app
                    .call("POST", "/v1/disclosures", Some(json!({"subject": who, "recipient": "finance_services", "purpose": "contract_performance", "categories": ["identity"], "country": "DE"})))
                    .await;
                assert_eq!(s, 201, "{d}");
            }
        }
    };
    let sealer = async {
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            verifiable_log::seal(&app.engine.store).await.expect("seal");
            tokio::task::yield_now().await;
        }
    };
    let writers = async {
        tokio::join!(writer(0), writer(1), writer(2), writer(3));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    tokio::join!(writers, sealer);
    let (s, _, head) = app.call("POST", "/v1/log/head", None).await;
    assert_eq!(s, 201, "{head}");
    let v = verdict(&app, &public)
        .await
        .expect("every row is in the tree, in order");
    assert!(v.leaves >= 4 * 15 * 3, "{} leaves", v.leaves);
    app.finish().await;
}

/// A head as `GET /v1/log/head` answers it, as an auditor keeps it.
fn kept_head(v: &Value) -> tutela_store::SignedHead {
    tutela_store::SignedHead {
        size: v["size"].as_u64().expect("size"),
        root: hash(&v["root"]),
        at: jiff::Timestamp::from_microsecond(v["at_us"].as_i64().expect("at")).expect("time"),
        key_id: v["key_id"].as_str().expect("key id").to_owned(),
        signature: v["signature"]
            .as_str()
            .and_then(hex_decode)
            .expect("signature"),
    }
}

// Issue 30 review: leaves, nodes and heads cut back together (and the erasure after the cut
// deleted) verified as a shorter, valid log. Rows after the cut now count as not in the log,
// and a head kept apart from the store names the cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_cut_back_as_a_whole_is_named() {
    let (app, public) = seeded().await;
    let (_, _, early) = app.call("GET", "/v1/log/head", None).await;
    let cut = early["size"].as_u64().expect("size");
    let (s, _, _) = app.call("POST", "/v1/subjects/L-3/erasure", None).await;
    assert_eq!(s, 201);
    let later = consent_and_head(&app, "L-1", false).await;
    let kept = kept_head(&later);
    assert!(kept.size > cut);
    let v = verifiable_log::verify(&app.engine.store, &public, std::slice::from_ref(&kept))
        .await
        .expect("verifies before the cut");
    assert_eq!(v.unsealed, 0);
    let cut_back = [
        "DROP TRIGGER log_leaves_no_delete".to_owned(),
        "DROP TRIGGER log_nodes_no_delete".to_owned(),
        "DROP TRIGGER log_heads_no_delete".to_owned(),
        format!("DELETE FROM log_heads WHERE size > {cut}"),
        format!("DELETE FROM log_leaves WHERE idx >= {cut}"),
        format!("DELETE FROM log_nodes WHERE (idx + 1) * (1 << level) > {cut}"),
    ];
    let statements: Vec<&str> = cut_back.iter().map(String::as_str).collect();
    tamper(&app.engine.store, &statements)
        .await
        .expect("cut back");
    let v = verifiable_log::verify(&app.engine.store, &public, &[])
        .await
        .expect("a shorter log is still consistent in itself");
    assert!(v.unsealed > 0, "{v:?}");
    assert!(v.first_unsealed.is_some(), "{v:?}");
    let e = verifiable_log::verify(&app.engine.store, &public, &[kept])
        .await
        .expect_err("the kept head names the cut");
    assert!(e.contains("cut back"), "{e}");
    app.finish().await;
}

// Schemathesis found `POST /v1/log/head` answering 503 while another sealing ran at the same
// time (both numbered the same new leaves). Heads asked for at once, while consents are
// written, are all signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_asked_for_at_once_are_all_signed() {
    let app = std::sync::Arc::new(
        TestApp::sqlite()
            .await
            .with_log_key(LogKey::generate().expect("key")),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let app = app.clone();
        tasks.spawn(async move {
            let (s, _, b) = app
                .call(
                    "POST",
                    &format!("/v1/subjects/H-{i}/consents"),
                    Some(serde_json::json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "shop"})),
                )
                .await;
            assert_eq!(s, 201, "{b}");
            let (s, _, head) = app.call("POST", "/v1/log/head", None).await;
            assert!(s.is_success(), "{s}: {head}");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
}
