//! Issue 30: crypto-shredding that survives the disk, database files that only their owner
//! reads, sealed TOTP secrets, an append-only `ledger_personal`, and sealed values bound to
//! their row. Store-level checks run on SQLite and PostgreSQL.

use std::path::{Path, PathBuf};

use tutela_core::ledger::EventKind;
use tutela_core::request::{Status, StepStatus};
use tutela_store::testing::{PgSchema, tamper, temp_dir, vault as open_vault};
use tutela_store::vault::{KeyStore, OwnerKind, Vault};
use tutela_store::{
    AnyStore, NewEvent, OperatorRecord, PgStore, RequestEventNew, RequestRecord, RequestStore,
    SqliteStore, StepRecord, Store, StoreError, WebStore,
};

fn consent(subject: &str, purpose: &str, evidence: &str) -> NewEvent {
    NewEvent {
        subject: subject.into(),
        at: jiff::Timestamp::now(),
        kind: EventKind::Consent {
            purpose: purpose.into(),
            channel: Some("email".into()),
            granted: true,
            source: "web".into(),
            notice_version: "2026-01".into(),
        },
        evidence: Some(evidence.into()),
        reason: None,
        email: None,
        idempotency_key: None,
        policy_version: "v1".into(),
    }
}

async fn append(store: &AnyStore, events: &[NewEvent]) -> Vec<i64> {
    store
        .append(events)
        .await
        .expect("append")
        .into_iter()
        .map(|r| r.expect("appended").seq)
        .collect()
}

async fn sqlite_store(dir: &Path) -> AnyStore {
    let store = SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
        .await
        .expect("open sqlite")
        .with_vault(open_vault(dir).await);
    let store = AnyStore::Sqlite(store);
    store.migrate().await.expect("migrate");
    store
}

async fn pg_store(pg: &PgSchema, dir: &Path) -> AnyStore {
    let store = PgStore::connect_in_schema(&pg.url, Some(&pg.schema))
        .await
        .expect("connect postgres")
        .with_vault(open_vault(dir).await);
    let store = AnyStore::Postgres(store);
    store.migrate().await.expect("migrate");
    store
}

/// One text column of the rows `sql` selects, read past the store (as someone with the
/// database file would).
async fn raw_texts(store: &AnyStore, sql: &'static str) -> Vec<Option<String>> {
    match store {
        AnyStore::Sqlite(s) => sqlx::query_scalar(sql).fetch_all(s.pool()).await,
        AnyStore::Postgres(s) => sqlx::query_scalar(sql).fetch_all(s.pool()).await,
    }
    .expect("raw read")
}

async fn close(store: AnyStore) {
    if let Some(vault) = store.vault()
        && let KeyStore::Sqlite(p) = vault.key_store()
    {
        p.close().await;
    }
    match store {
        AnyStore::Sqlite(s) => s.pool().close().await,
        AnyStore::Postgres(s) => s.pool().close().await,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn files_of(db: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", db.display())))
        .collect()
}

/// The files of the SQLite database `db` that hold `needle`.
fn holding(db: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_of(db)
        .into_iter()
        .filter(|f| std::fs::read(f).is_ok_and(|bytes| contains(&bytes, needle)))
        .collect()
}

// Defect 3: after an erasure the key store's WAL (and the free space of its file) still held
// the person's wrapped data key, and with the master key their data opened again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroyed_key_is_gone_from_every_file_of_the_key_store() {
    let dir = temp_dir("shred-files");
    let store = sqlite_store(&dir).await;
    append(
        &store,
        &[
            consent(
                "P-GONE",
                "email_marketing",
                "signed form 1 of the erased person",
            ),
            consent(
                "P-STAYS",
                "email_marketing",
                "signed form 2 of the other person",
            ),
        ],
    )
    .await;
    let vault = store.vault().expect("vault").clone();
    let wrapped = vault
        .key_store()
        .get(&OwnerKind::Subject.owner("P-GONE"))
        .await
        .expect("get")
        .and_then(|k| k.wrapped)
        .expect("a live key");
    let keys = dir.join("tutela-keys.db");
    assert!(
        !holding(&keys, &wrapped).is_empty(),
        "the wrapped key is in the key store's files before the erasure"
    );

    store
        .erase("P-GONE", jiff::Timestamp::now(), "v1", &[])
        .await
        .expect("erase");
    // While the server runs, as a file-level backup would copy them.
    assert_eq!(
        holding(&keys, &wrapped),
        Vec::<PathBuf>::new(),
        "a file of the key store still holds the destroyed key"
    );
    // And after a clean shutdown.
    drop(vault);
    close(store).await;
    assert_eq!(
        holding(&keys, &wrapped),
        Vec::<PathBuf>::new(),
        "a file of the key store still holds the destroyed key after shutdown"
    );

    // With the same master key and key store, nothing of the person opens; the other does.
    let store = sqlite_store(&dir).await;
    let gone = store.history("P-GONE").await.expect("history");
    assert!(gone.iter().all(|e| e.evidence.is_none()), "{gone:?}");
    let stays = store.history("P-STAYS").await.expect("history");
    assert_eq!(
        stays[0].evidence.as_deref(),
        Some("signed form 2 of the other person")
    );
    close(store).await;
    let _ = std::fs::remove_dir_all(dir);
}

// Defect 5: tutela.db, tutela-keys.db and their -wal/-shm files were created 0644.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_database_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    // A new directory: the files are created by this run.
    let dir = temp_dir("shred-modes");
    let store = sqlite_store(&dir).await;
    append(&store, &[consent("P-1", "email_marketing", "form")]).await;
    for db in ["tutela.db", "tutela-keys.db"] {
        for f in files_of(&dir.join(db)).into_iter().take(3) {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
    close(store).await;

    // Files an older version left world-readable are made private when opened.
    let old = temp_dir("shred-modes-old");
    for f in ["tutela.db", "tutela.db-wal", "tutela-keys.db"] {
        std::fs::write(old.join(f), b"").expect("write");
        std::fs::set_permissions(old.join(f), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }
    let store = sqlite_store(&old).await;
    append(&store, &[consent("P-1", "email_marketing", "form")]).await;
    for db in ["tutela.db", "tutela-keys.db"] {
        for f in files_of(&old.join(db)).into_iter().take(3) {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
    close(store).await;
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(old);
}

fn operator(id: &str, name: &str, secret: &str) -> OperatorRecord {
    OperatorRecord {
        id: id.into(),
        name: name.into(),
        role: "dpo".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: secret.into(),
        totp_last_step: 0,
        created_at: jiff::Timestamp::now(),
        disabled_at: None,
        removed_at: None,
    }
}

// Defect 5: operators' TOTP secrets were stored in plaintext.
async fn totp_secrets_are_sealed_at_rest(store: &AnyStore) {
    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    store
        .insert_operator(&operator("op-sealed", "sealed.op", SECRET))
        .await
        .expect("insert");
    let raw = raw_texts(
        store,
        "SELECT totp_secret FROM operators WHERE id = 'op-sealed'",
    )
    .await;
    let raw = raw[0].clone().unwrap_or_default();
    assert!(!raw.contains(SECRET), "the raw column holds the secret");
    assert!(raw.starts_with("tv1:o:"), "{raw}");
    let read = store
        .operator_by_name("sealed.op")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(read.totp_secret, SECRET);

    // A row written in plaintext before (or by a command without the keys) is sealed at the
    // next migration, and reads the same meanwhile.
    const OLD: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    tamper(
        store,
        &["INSERT INTO operators (id, name, role, password_hash, totp_secret, totp_last_step, created_at_us) \
           VALUES ('op-old', 'old.op', 'agent', 'x', 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 0, 0)"],
    )
    .await
    .expect("plain row");
    let read = store.operator("op-old").await.expect("read").expect("row");
    assert_eq!(read.totp_secret, OLD);
    store.migrate().await.expect("migrate");
    let raw = raw_texts(
        store,
        "SELECT totp_secret FROM operators WHERE id = 'op-old'",
    )
    .await;
    let raw = raw[0].clone().unwrap_or_default();
    assert!(!raw.contains(OLD) && Vault::is_sealed(&raw), "{raw}");
    let all = store.operators().await.expect("list");
    assert!(all.iter().any(|o| o.id == "op-old" && o.totp_secret == OLD));
}

// Item 7: `ledger_personal` had no append-only trigger. It changes only at its person's
// erasure, which keeps working (with and without evidence kept for a legal duty).
async fn ledger_personal_is_append_only_but_erasure_works(store: &AnyStore) {
    let seqs = append(
        store,
        &[
            consent("P-AO", "email_marketing", "form 7"),
            consent("P-AO", "phone_marketing", "recorded call 8"),
        ],
    )
    .await;
    for sql in [
        "UPDATE ledger_personal SET evidence = 'forged' WHERE seq IN (SELECT seq FROM ledger WHERE subject = 'P-AO')",
        "UPDATE ledger_personal SET evidence = NULL WHERE seq IN (SELECT seq FROM ledger WHERE subject = 'P-AO')",
        "DELETE FROM ledger_personal WHERE seq IN (SELECT seq FROM ledger WHERE subject = 'P-AO')",
    ] {
        let refused = tamper(store, &[sql]).await;
        let e = refused.expect_err(sql).to_string();
        assert!(e.contains("append-only"), "{sql}: {e}");
    }
    let history = store.history("P-AO").await.expect("history");
    assert_eq!(history[0].evidence.as_deref(), Some("form 7"));

    store
        .erase("P-AO", jiff::Timestamp::now(), "v1", &[seqs[1]])
        .await
        .expect("erase keeping one row");
    let history = store.history("P-AO").await.expect("history");
    assert_eq!(history[0].evidence, None, "erased");
    assert_eq!(
        history[1].evidence.as_deref(),
        Some("recorded call 8"),
        "kept"
    );
    // The kept row is append-only again for anything but its retained key.
    let refused = tamper(
        store,
        &["UPDATE ledger_personal SET evidence = 'forged' WHERE seq IN (SELECT seq FROM ledger WHERE subject = 'P-AO')"],
    )
    .await;
    assert!(refused.is_err(), "a forged kept value must be refused");
}

/// Removes `ledger_personal`'s triggers, as someone with write access to the database can.
async fn unlock_personal(store: &AnyStore) {
    let statements: &[&str] = match store {
        AnyStore::Sqlite(_) => &[
            "DROP TRIGGER ledger_personal_no_update",
            "DROP TRIGGER ledger_personal_no_delete",
        ],
        AnyStore::Postgres(_) => &["DROP TRIGGER ledger_personal_no_change ON ledger_personal"],
    };
    tamper(store, statements).await.expect("unlock");
}

// Item 7: a sealed value was bound only to its owner and column, so one consent's evidence
// could be swapped into another's row of the same person unnoticed.
async fn a_swapped_evidence_fails_to_open_and_names_its_row(store: &AnyStore) {
    let seqs = append(
        store,
        &[
            consent("P-SW", "email_marketing", "double opt-in of 1 March"),
            consent("P-SW", "phone_marketing", "recorded call of 2 March"),
        ],
    )
    .await;
    let history = store.history("P-SW").await.expect("history");
    assert_eq!(
        history[1].evidence.as_deref(),
        Some("recorded call of 2 March")
    );
    unlock_personal(store).await;
    let (a, b) = (seqs[0], seqs[1]);
    let swap = format!(
        "UPDATE ledger_personal SET evidence = CASE seq \
         WHEN {a} THEN (SELECT evidence FROM ledger_personal WHERE seq = {b}) \
         ELSE (SELECT evidence FROM ledger_personal WHERE seq = {a}) END \
         WHERE seq IN ({a}, {b})"
    );
    tamper(store, &[&swap]).await.expect("swap");
    match store.history("P-SW").await {
        Err(StoreError::Corrupt { seq, what }) => {
            assert!([a, b].contains(&seq), "names a swapped row: {seq}");
            assert!(
                what.contains("ledger_personal.evidence") && what.contains("moved"),
                "{what}"
            );
            assert!(
                !what.contains("March"),
                "no personal data in the error: {what}"
            );
        }
        other => panic!("a swapped evidence must not read: {other:?}"),
    }
}

// Values sealed before they were bound to their row (`tv1:`) still open.
async fn a_value_sealed_before_row_binding_still_opens(store: &AnyStore) {
    let mut plain = consent("P-V1", "email_marketing", "x");
    plain.evidence = None;
    let seq = append(store, &[plain]).await[0];
    let vault = store.vault().expect("vault");
    let owner = OwnerKind::Subject.owner("P-V1");
    let keys = vault
        .keys_for(std::slice::from_ref(&owner))
        .await
        .expect("key");
    let old = Vault::seal_with(
        &keys[&owner],
        OwnerKind::Subject,
        &owner,
        "ledger_personal.evidence",
        b"form sealed by an older version",
    )
    .expect("seal");
    assert!(old.starts_with("tv1:"));
    let insert = format!("INSERT INTO ledger_personal (seq, evidence) VALUES ({seq}, '{old}')");
    tamper(store, &[&insert]).await.expect("insert");
    let history = store.history("P-V1").await.expect("history");
    assert_eq!(
        history[0].evidence.as_deref(),
        Some("form sealed by an older version")
    );
    // New values are bound to their row.
    append(store, &[consent("P-V1", "phone_marketing", "new form")]).await;
    let raw = raw_texts(
        store,
        "SELECT p.evidence FROM ledger_personal p JOIN ledger l ON l.seq = p.seq \
         WHERE l.subject = 'P-V1' ORDER BY p.seq",
    )
    .await;
    assert!(
        raw[1].as_deref().is_some_and(|v| v.starts_with("tv2:s:")),
        "{raw:?}"
    );
}

async fn store_checks(store: &AnyStore) {
    totp_secrets_are_sealed_at_rest(store).await;
    ledger_personal_is_append_only_but_erasure_works(store).await;
    a_value_sealed_before_row_binding_still_opens(store).await;
    // Last: it drops the table's triggers.
    a_swapped_evidence_fails_to_open_and_names_its_row(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_secrets_and_personal_rows_on_sqlite() {
    let dir = temp_dir("shred-sqlite");
    let store = sqlite_store(&dir).await;
    store_checks(&store).await;
    close(store).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_secrets_and_personal_rows_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let dir = temp_dir("shred-pg");
    let store = pg_store(&pg, &dir).await;
    store_checks(&store).await;
    close(store).await;
    pg.drop_schema().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A copy of the SQLite key store in `dir`, as a backup would take it.
async fn backup_key_store(vault: &Vault, to: &Path) {
    let KeyStore::Sqlite(p) = vault.key_store() else {
        panic!("the tests' key store is SQLite");
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "VACUUM INTO '{}'",
        to.display()
    )))
    .execute(p)
    .await
    .expect("backup");
}

fn finished_request(id: &str) -> RequestRecord {
    let now = jiff::Timestamp::now();
    RequestRecord {
        id: id.into(),
        request_type: "access".into(),
        status: Status::Completed,
        subject: Some("P-R1".into()),
        email: Some("someone@example.org".into()),
        channel: "email".into(),
        received_at: now,
        due_at: now,
        extended_months: 0,
        verification: None,
        details: Some("tell me everything".into()),
        version: 1,
        updated_at: now,
        purge_at: Some(now),
    }
}

// A key-store backup from before an erasure brings the erased person's key back when it is
// restored; replaying the erasures the data records destroys it again, and only it.
async fn a_restored_key_store_is_replayed(open: impl AsyncFn(&Path) -> AnyStore) {
    let dir = temp_dir("shred-replay");
    let store = open(&dir).await;
    // A person erased and back before the backup: their new key must survive the replay.
    append(&store, &[consent("P-BACK", "email_marketing", "old form")]).await;
    store
        .erase("P-BACK", jiff::Timestamp::now(), "v1", &[])
        .await
        .expect("erase");
    append(&store, &[consent("P-BACK", "email_marketing", "new form")]).await;
    append(&store, &[consent("P-R1", "email_marketing", "form of r1")]).await;
    append(&store, &[consent("P-R2", "email_marketing", "form of r2")]).await;
    let note = RequestEventNew {
        at: jiff::Timestamp::now(),
        actor: "api".into(),
        kind: "received".into(),
        body: "{}".into(),
        note: None,
    };
    store
        .insert_request(&finished_request("rq-replay"), &note, None)
        .await
        .expect("request");
    store
        .put_step(
            "rq-replay",
            &StepRecord {
                step: "collect:crm".into(),
                status: StepStatus::Done,
                attempts: 1,
                last_error: None,
                next_at: None,
                output: Some("collected data".into()),
            },
        )
        .await
        .expect("step");
    let vault = store.vault().expect("vault").clone();
    let saved = dir.join("keys-backup.db");
    backup_key_store(&vault, &saved).await;
    // What a backup of the data taken now holds of P-R1: a sealed value in its row.
    let seq = store.history("P-R1").await.expect("history")[0].event.seq;
    let sealed = raw_texts(
        &store,
        "SELECT p.evidence FROM ledger_personal p JOIN ledger l ON l.seq = p.seq WHERE l.subject = 'P-R1'",
    )
    .await[0]
        .clone()
        .expect("sealed evidence");
    let opens = async |store: &AnyStore| {
        store
            .vault()
            .expect("vault")
            .open_row(
                "P-R1",
                "ledger_personal.evidence",
                &seq.to_string(),
                &sealed,
            )
            .await
            .expect("open")
    };

    store
        .erase("P-R1", jiff::Timestamp::now(), "v1", &[])
        .await
        .expect("erase");
    store
        .purge_requests(jiff::Timestamp::now())
        .await
        .expect("purge");
    drop(vault);
    close(store).await;

    // The key store is lost and restored from the backup.
    let keys = dir.join("tutela-keys.db");
    for f in files_of(&keys) {
        let _ = std::fs::remove_file(f);
    }
    std::fs::copy(&saved, &keys).expect("restore");
    let store = open(&dir).await;
    assert_eq!(
        opens(&store).await.as_deref(),
        Some("form of r1"),
        "the old key store undoes the erasure until it is replayed"
    );

    let done = store.replay_key_destructions().await.expect("replay");
    assert_eq!((done.subjects, done.requests), (1, 1), "{done:?}");
    assert_eq!(opens(&store).await, None, "the erasure holds again");
    let back = store.history("P-BACK").await.expect("history");
    assert_eq!(
        back.last().and_then(|e| e.evidence.as_deref()),
        Some("new form")
    );
    let other = store.history("P-R2").await.expect("history");
    assert_eq!(other[0].evidence.as_deref(), Some("form of r2"));
    let again = store.replay_key_destructions().await.expect("replay");
    assert_eq!((again.subjects, again.requests), (0, 0));
    close(store).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_key_store_is_replayed_on_sqlite() {
    a_restored_key_store_is_replayed(async |dir: &Path| sqlite_store(dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_key_store_is_replayed_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    a_restored_key_store_is_replayed(async |dir: &Path| pg_store(&pg, dir).await).await;
    pg.drop_schema().await;
}

// On PostgreSQL the key store cannot scrub after each destruction; `tutela keys compact`
// rewrites its table (VACUUM FULL). It runs, and keys still open after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_store_compacts_on_postgres() {
    use tutela_store::vault::{KeySource, LocalMasterKeys};
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let dir = temp_dir("shred-compact");
    let keys = KeyStore::open(&pg.store_url()).await.expect("key store");
    let vault = Vault::new(
        Box::new(
            LocalMasterKeys::open(KeySource::File(dir.join("tutela-master.key"))).expect("keys"),
        ),
        keys,
    );
    let sealed = vault
        .seal(OwnerKind::Subject, "A", "subjects.email", "a@example.org")
        .await
        .expect("seal");
    vault
        .seal(OwnerKind::Subject, "B", "subjects.email", "b@example.org")
        .await
        .expect("seal");
    vault
        .destroy(OwnerKind::Subject, "B", jiff::Timestamp::now())
        .await
        .expect("destroy");
    vault.key_store().compact().await.expect("compact");
    assert_eq!(
        vault
            .open("A", "subjects.email", &sealed)
            .await
            .expect("open")
            .as_deref(),
        Some("a@example.org")
    );
    let (_, destroyed) = vault.key_store().counts().await.expect("counts");
    assert_eq!(destroyed, 1);
    drop(vault);
    pg.drop_schema().await;
    let _ = std::fs::remove_dir_all(dir);
}
