//! Encryption at rest: personal attributes never reach the database in plaintext, erasure
//! destroys the key (so a restored backup holds nothing readable), searches by e-mail go
//! through the blind index, and the master key rotates while the data stays readable.

use std::path::Path;

use tutela_core::ledger::EventKind;
use tutela_core::request::{Status, StepStatus};
use tutela_store::vault::{MasterKeys, Vault};
use tutela_store::{
    DisclosureRecord, DisclosureStore, NewEvent, RequestEventNew, RequestRecord, RequestStore,
    RiskCheckRecord, RiskStore, SqliteStore, StepRecord, Store, SummaryRecord, SummaryStore,
};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

pub use tutela_store::testing::vault as open_vault;

/// Every personal value a person leaves in tutela's store.
struct Person {
    id: &'static str,
    email: &'static str,
    evidence: &'static str,
    reason: &'static str,
    facts: &'static str,
    summary: &'static str,
    reference: &'static str,
    request_email: &'static str,
    details: &'static str,
    note: &'static str,
    output: &'static str,
    export: &'static str,
}

const ALICE: Person = Person {
    id: "C-ALICE",
    email: "Alice.Sample@example.org",
    evidence: "signed form 4711 of alice",
    reason: "alice objects because of calls at night",
    facts: r#"{"iban":"DE89370400440532013000","birth":"1980-02-29"}"#,
    summary: "Kundin Alice meldet eine Störung am Router",
    reference: "LG Koeln 14 O 999/26",
    request_email: "alice.requests@example.org",
    details: "please tell me everything about alice",
    note: "agent note on alice's identity",
    output: r#"{"crm":{"name":"Alice Sample"}}"#,
    export: "alice-export-archive-bytes",
};

const BOB: Person = Person {
    id: "C-BOB",
    email: "bob.sample@example.org",
    evidence: "signed form 815 of bob",
    reason: "bob objects to letters",
    facts: r#"{"iban":"DE02120300000000202051","birth":"1975-05-05"}"#,
    summary: "Kunde Bob fragt nach Tarif",
    reference: "AG Bonn 3 C 17/26",
    request_email: "bob.requests@example.org",
    details: "please tell me everything about bob",
    note: "agent note on bob's identity",
    output: r#"{"crm":{"name":"Bob Sample"}}"#,
    export: "bob-export-archive-bytes",
};

async fn seed(store: &SqliteStore, p: &Person) {
    let event = |kind: EventKind, evidence: Option<&str>, reason: Option<&str>| NewEvent {
        subject: p.id.into(),
        at: at("2026-02-01T10:00:00Z"),
        kind,
        evidence: evidence.map(str::to_owned),
        reason: reason.map(str::to_owned),
        email: Some(p.email.into()),
        idempotency_key: None,
        policy_version: "v1".into(),
    };
    store
        .append(&[
            event(
                EventKind::Consent {
                    purpose: "email_marketing".into(),
                    channel: Some("email".into()),
                    granted: true,
                    source: "web".into(),
                    notice_version: "2026-01".into(),
                },
                Some(p.evidence),
                None,
            ),
            event(
                EventKind::Objection {
                    scope: tutela_core::ledger::ObjectionScope::LegitimateInterest,
                },
                None,
                Some(p.reason),
            ),
        ])
        .await
        .expect("append");
    store
        .insert_risk_check(&RiskCheckRecord {
            id: format!("rc-{}", p.id),
            subject: p.id.into(),
            created_at: at("2026-02-01T10:00:00Z"),
            expires_at: at("2027-02-01T10:00:00Z"),
            outcome: "decline".into(),
            review: Some("pending".into()),
            probability: 0.2,
            points: 400.0,
            reasons: "[]".into(),
            facts: p.facts.into(),
            agency_queried: false,
            agency_answer: None,
            decision: "{}".into(),
            reviewer: None,
            review_note: None,
            reviewed_at: None,
            model: "m".into(),
        })
        .await
        .expect("risk check");
    store
        .insert_summary(&SummaryRecord {
            id: format!("cs-{}", p.id),
            subject: p.id.into(),
            call_id: format!("call-{}", p.id),
            agent: "op-a".into(),
            draft: None,
            text: Some(p.summary.into()),
            status: "approved".into(),
            created_at: at("2026-02-01T10:00:00Z"),
            expires_at: at("2026-02-02T10:00:00Z"),
            reviewed_at: Some(at("2026-02-01T11:00:00Z")),
            reviewed_by: Some("op-a".into()),
        })
        .await
        .expect("summary");
    store
        .insert_disclosure(&DisclosureRecord {
            id: format!("d-{}", p.id),
            subject: p.id.into(),
            at: at("2026-02-01T10:00:00Z"),
            recipient: "authorities".into(),
            purpose: "authority_disclosure".into(),
            categories: "[]".into(),
            country: None,
            allowed: true,
            legal_basis: None,
            reason: "legal_obligation".into(),
            reference: Some(p.reference.into()),
            bar_reason: None,
            bar_until: None,
            bar_lifted_at: None,
        })
        .await
        .expect("disclosure");
    let request = RequestRecord {
        id: format!("rq-{}", p.id),
        request_type: "access".into(),
        status: Status::Completed,
        subject: Some(p.id.into()),
        email: Some(p.request_email.into()),
        channel: "email".into(),
        received_at: at("2026-02-01T10:00:00Z"),
        due_at: at("2026-03-01T10:00:00Z"),
        extended_months: 0,
        verification: None,
        details: Some(p.details.into()),
        version: 1,
        updated_at: at("2026-02-01T10:00:00Z"),
        purge_at: Some(at("2026-05-01T00:00:00Z")),
    };
    let note = RequestEventNew {
        at: at("2026-02-01T10:00:00Z"),
        actor: "op-a".into(),
        kind: "received".into(),
        body: "{}".into(),
        note: Some(p.note.into()),
    };
    store
        .insert_request(&request, &note, None)
        .await
        .expect("request");
    store
        .put_step(
            &request.id,
            &StepRecord {
                step: "collect:crm".into(),
                status: StepStatus::Done,
                attempts: 1,
                last_error: None,
                next_at: None,
                output: Some(p.output.into()),
            },
        )
        .await
        .expect("step");
    store
        .put_result(
            &request.id,
            "zip",
            p.export.as_bytes(),
            at("2026-02-01T10:00:00Z"),
            at("2026-06-01T00:00:00Z"),
        )
        .await
        .expect("result");
}

/// What the store gives back of a person: `None` where a value cannot be read.
async fn readable(store: &SqliteStore, p: &Person) -> Vec<(&'static str, Option<String>)> {
    let history = store.history(p.id).await.expect("history");
    let rc = store
        .risk_check(&format!("rc-{}", p.id))
        .await
        .expect("risk");
    let summary = store
        .summary(&format!("cs-{}", p.id))
        .await
        .expect("summary");
    let disclosure = store
        .disclosure(&format!("d-{}", p.id))
        .await
        .expect("disclosure");
    let rq = format!("rq-{}", p.id);
    let request = store.request(&rq).await.expect("request");
    let events = store.request_events(&rq).await.expect("events");
    let steps = store.steps(&rq).await.expect("steps");
    let result = store.result(&rq, "zip").await.expect("result");
    vec![
        (
            "email",
            store
                .subject(p.id)
                .await
                .expect("subject")
                .and_then(|s| s.email),
        ),
        ("evidence", history.first().and_then(|e| e.evidence.clone())),
        ("reason", history.get(1).and_then(|e| e.reason.clone())),
        ("facts", rc.map(|c| c.facts).filter(|f| f.as_str() != "{}")),
        ("summary", summary.and_then(|s| s.text)),
        ("reference", disclosure.and_then(|d| d.reference)),
        (
            "request email",
            request.as_ref().and_then(|r| r.email.clone()),
        ),
        ("details", request.and_then(|r| r.details)),
        ("note", events.first().and_then(|e| e.note.clone())),
        ("output", steps.first().and_then(|s| s.output.clone())),
        (
            "export",
            result.map(|b| String::from_utf8_lossy(&b).into_owned()),
        ),
    ]
}

fn plain_values(p: &Person) -> [&'static str; 11] {
    [
        p.email,
        p.evidence,
        p.reason,
        p.facts,
        p.summary,
        p.reference,
        p.request_email,
        p.details,
        p.note,
        p.output,
        p.export,
    ]
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A migrated store in `dir` that seals with the keys in `dir`, and its vault.
async fn sealed_store(dir: &Path) -> (std::sync::Arc<Vault>, SqliteStore) {
    let vault = open_vault(dir).await;
    let store = SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
        .await
        .expect("open")
        .with_vault(vault.clone());
    store.migrate().await.expect("migrate");
    (vault, store)
}

/// A sealed store in a new directory with Alice's and Bob's data.
async fn alice_and_bob(name: &str) -> (std::path::PathBuf, SqliteStore) {
    let dir = tutela_store::testing::temp_dir(name);
    let (_, store) = sealed_store(&dir).await;
    seed(&store, &ALICE).await;
    seed(&store, &BOB).await;
    (dir, store)
}

async fn backup(store: &SqliteStore, to: &Path) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "VACUUM INTO '{}'",
        to.display()
    )))
    .execute(store.pool())
    .await
    .expect("backup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restored_after_an_erasure_holds_nothing_readable_of_the_person() {
    let dir = tutela_store::testing::temp_dir("vault-backup");
    let (_, store) = sealed_store(&dir).await;
    seed(&store, &ALICE).await;
    seed(&store, &BOB).await;
    for p in [&ALICE, &BOB] {
        for (what, value) in readable(&store, p).await {
            assert!(value.is_some(), "{what} of {} reads back", p.id);
        }
    }
    let old = dir.join("backup-before-erasure.db");
    backup(&store, &old).await;
    // No personal value is in the backup file in plaintext: not Alice's, not Bob's.
    let bytes = std::fs::read(&old).expect("read backup");
    for p in [&ALICE, &BOB] {
        for v in plain_values(p) {
            assert!(!contains(&bytes, v), "{v:?} is in the backup in plaintext");
        }
    }

    // A write's fingerprint (idempotency) covers its evidence: it is keyed with the person's
    // data key, so after the erasure it confirms no guessed text.
    let fingerprints: Vec<Option<String>> =
        sqlx::query_scalar("SELECT request_hash FROM ledger WHERE subject = $1")
            .bind(ALICE.id)
            .fetch_all(store.pool())
            .await
            .expect("fingerprints");
    assert!(
        fingerprints
            .iter()
            .all(|f| f.as_deref().is_some_and(|f| f.starts_with('k'))),
        "{fingerprints:?}"
    );

    // Alice is erased, and her request's data expires.
    store
        .erase(ALICE.id, at("2026-04-01T00:00:00Z"), "v1", &[])
        .await
        .expect("erase");
    sqlx::query("UPDATE requests SET purge_at_us = NULL WHERE id = 'rq-C-BOB'")
        .execute(store.pool())
        .await
        .expect("keep bob's request");
    store
        .purge_requests(at("2026-05-02T00:00:00Z"))
        .await
        .expect("purge");
    drop(store);

    // The old backup is restored over the live database, with today's keys.
    let restored = SqliteStore::open(&old.to_string_lossy())
        .await
        .expect("open the restored backup")
        .with_vault(open_vault(&dir).await);
    for (what, value) in readable(&restored, &ALICE).await {
        if what == "reference" {
            // A court order's reference is a legal record kept past the erasure (retained key).
            assert_eq!(value.as_deref(), Some(ALICE.reference));
        } else {
            assert_eq!(
                value, None,
                "Alice's {what} is readable in the restored backup"
            );
        }
    }
    for (what, value) in readable(&restored, &BOB).await {
        assert!(value.is_some(), "Bob's {what} reads back from the backup");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_blind_index_finds_a_person_by_email_and_the_address_is_sealed() {
    let dir = tutela_store::testing::temp_dir("vault-index");
    let (vault, store) = sealed_store(&dir).await;
    seed(&store, &ALICE).await;
    let found = store
        .subject_by_email("  alice.sample@EXAMPLE.org ")
        .await
        .expect("search");
    assert_eq!(found.as_deref(), Some(ALICE.id));
    assert_eq!(
        store
            .subject_by_email("other@example.org")
            .await
            .expect("search"),
        None
    );
    let (email, index): (String, String) =
        sqlx::query_as("SELECT email, email_index FROM subjects WHERE id = $1")
            .bind(ALICE.id)
            .fetch_one(store.pool())
            .await
            .expect("row");
    assert!(Vault::is_sealed(&email), "{email}");
    assert!(!index.contains("example"), "{index}");
    // Another key gives another index: without the key the index says nothing.
    let other = tutela_store::testing::temp_dir("vault-index-other");
    assert_ne!(
        open_vault(&other).await.blind_index(ALICE.email),
        vault.blind_index(ALICE.email)
    );
    store
        .erase(ALICE.id, at("2026-04-01T00:00:00Z"), "v1", &[])
        .await
        .expect("erase");
    assert_eq!(
        store.subject_by_email(ALICE.email).await.expect("search"),
        None
    );
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(other);
}

#[tokio::test]
async fn a_sealed_value_copied_to_another_person_does_not_open() {
    let (dir, store) = alice_and_bob("vault-swap").await;
    sqlx::query(
        "UPDATE call_summaries SET text = (SELECT text FROM call_summaries WHERE subject = 'C-ALICE') \
         WHERE subject = 'C-BOB'",
    )
    .execute(store.pool())
    .await
    .expect("copy");
    let bob = store.summary("cs-C-BOB").await.expect("read").expect("row");
    assert_eq!(bob.text, None, "Alice's sealed text must not open as Bob's");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_master_key_rotates_and_the_old_one_can_go() {
    let (dir, store) = alice_and_bob("vault-rotate").await;

    // A second process (the CLI) rotates: a new active key in the file, every data key
    // wrapped again, while `store` keeps running.
    let path = dir.join("tutela-master.key");
    let mut keys = MasterKeys::parse(
        "tutela-master.key",
        &std::fs::read_to_string(&path).expect("read"),
    )
    .expect("parse");
    let old = keys.active.clone();
    let new = keys.rotate().expect("rotate");
    tutela_store::vault::write_key_file(&path, &keys).expect("write");
    let rotating = open_vault(&dir).await;
    let rewrapped = rotating.rewrap(1).await.expect("rewrap");
    assert!(rewrapped >= 4, "subject and request keys: {rewrapped}");
    let (live, _) = rotating.key_store().counts().await.expect("counts");
    assert_eq!(
        live.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        [new.as_str()]
    );
    // The old key is retired: the file holds only the new one, and everything still opens.
    keys.keys.remove(&old);
    tutela_store::vault::write_key_file(&path, &keys).expect("write");
    let after = SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
        .await
        .expect("open")
        .with_vault(open_vault(&dir).await);
    for p in [&ALICE, &BOB] {
        for (what, value) in readable(&after, p).await {
            assert!(value.is_some(), "{what} of {} after the rotation", p.id);
        }
    }
    // New data is wrapped under the new key.
    after
        .append(&[NewEvent {
            subject: "C-NEW".into(),
            at: at("2026-02-01T10:00:00Z"),
            kind: EventKind::Erasure,
            evidence: Some("x".into()),
            reason: None,
            email: None,
            idempotency_key: None,
            policy_version: "v1".into(),
        }])
        .await
        .expect("append");
    let (live, _) = rotating.key_store().counts().await.expect("counts");
    assert_eq!(live.len(), 1);
    // The store that ran all along meets a key wrapped under the new master key, which it
    // never loaded: it reads its key file again and opens it.
    let history = store.history("C-NEW").await.expect("history");
    assert_eq!(history[0].evidence.as_deref(), Some("x"));
    let _ = std::fs::remove_dir_all(dir);
}

// Several servers share a key store in PostgreSQL (a database apart from the data): every
// statement of the key store runs there too.
#[tokio::test]
async fn the_key_store_runs_on_postgresql() {
    use tutela_store::vault::{KeySource, KeyStore, LocalMasterKeys, OwnerKind};
    let Some(pg) = tutela_store::testing::PgSchema::create().await else {
        return;
    };
    let dir = tutela_store::testing::temp_dir("vault-pg");
    let path = dir.join("tutela-master.key");
    let keys = KeyStore::open(&pg.store_url()).await.expect("key store");
    let vault = Vault::new(
        Box::new(LocalMasterKeys::open(KeySource::File(path.clone())).expect("keys")),
        keys,
    );
    let owners: Vec<String> = ["A", "B", "C"]
        .iter()
        .map(|id| OwnerKind::Subject.owner(id))
        .collect();
    let first = vault.keys_for(&owners).await.expect("create");
    assert_eq!(first.len(), 3);
    let sealed = vault
        .seal(OwnerKind::Subject, "A", "subjects.email", "a@example.org")
        .await
        .expect("seal");
    // Another process with the same key store and key file reads the same keys.
    let other = Vault::new(
        Box::new(LocalMasterKeys::open(KeySource::File(path.clone())).expect("keys")),
        KeyStore::open(&pg.store_url()).await.expect("key store"),
    );
    assert_eq!(other.keys_for(&owners).await.expect("read"), first);
    assert_eq!(
        other
            .open("A", "subjects.email", &sealed)
            .await
            .expect("open"),
        Some("a@example.org".to_owned())
    );
    // Rotation wraps every live key again; a destroyed one stays destroyed.
    other
        .destroy(OwnerKind::Subject, "B", at("2026-04-01T00:00:00Z"))
        .await
        .expect("destroy");
    let mut master =
        MasterKeys::parse("k", &std::fs::read_to_string(&path).expect("read")).expect("parse");
    let new = master.rotate().expect("rotate");
    tutela_store::vault::write_key_file(&path, &master).expect("write");
    assert_eq!(other.rewrap(1).await.expect("rewrap"), 2);
    let (live, destroyed) = other.key_store().counts().await.expect("counts");
    assert_eq!((live, destroyed), (vec![(new, 2)], 1));
    assert_eq!(
        other
            .open("A", "subjects.email", &sealed)
            .await
            .expect("open"),
        Some("a@example.org".to_owned())
    );
    pg.drop_schema().await;
    let _ = std::fs::remove_dir_all(dir);
}
