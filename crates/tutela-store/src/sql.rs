//! The two SQL stores. Their SQL is the same text; one macro writes both implementations so
//! that the backends cannot drift apart.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tutela_core::ledger::{EventKind, LedgerEvent};

use crate::codec::{decode, encode};
use crate::migrations;
use crate::vault::{OwnerKind, SealedEvents, Vault, to_retained};
use crate::{Appended, NewEvent, Snapshot, Store, StoreError, StoredEvent, SubjectRecord};

pub(crate) fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_micros(us: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

pub(crate) fn event(
    seq: i64,
    subject: String,
    at_us: i64,
    kind: &str,
    body: &str,
) -> Result<LedgerEvent, StoreError> {
    let kind = decode(kind, body).map_err(|what| StoreError::Corrupt { seq, what })?;
    Ok(LedgerEvent {
        seq,
        subject,
        at: from_micros(at_us),
        kind,
    })
}

/// Makes the SQLite file at `path` and its `-wal`, `-shm` and `-journal` files readable by the
/// owner only (issue 30). The file is created with mode 0600 before SQLite opens it, whatever
/// the process's umask: SQLite then gives the files it creates beside it the database file's
/// mode. Files of an older run that are not 0600 are changed to it. Called before and after
/// the first connection.
pub(crate) fn private_sqlite_files(path: &str) -> Result<(), StoreError> {
    // `:memory:` and an empty name are no file.
    if path.is_empty() || path.starts_with(':') {
        return Ok(());
    }
    private_files_unix(path)
}

#[cfg(unix)]
fn private_files_unix(path: &str) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let failed = |p: &str, e: std::io::Error| StoreError::File {
        path: p.to_owned(),
        what: e.to_string(),
    };
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(failed(path, e)),
    }
    for file in [
        path.to_owned(),
        format!("{path}-wal"),
        format!("{path}-shm"),
        format!("{path}-journal"),
    ] {
        match std::fs::metadata(&file) {
            Ok(m) if m.permissions().mode() & 0o777 != 0o600 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| failed(&file, e))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(&file, e)),
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_files_unix(_path: &str) -> Result<(), StoreError> {
    Ok(())
}

/// Embedded SQLite in WAL mode with `synchronous=FULL`: a commit is on disk before it returns.
/// Its files are the owner's only, and deleted content is overwritten (`secure_delete`).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) vault: Option<Arc<Vault>>,
}

impl SqliteStore {
    pub async fn open(path: &str) -> Result<SqliteStore, StoreError> {
        private_sqlite_files(path)?;
        // `secure_delete`: what an erasure deletes does not linger in free pages of the file.
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("secure_delete", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        private_sqlite_files(path)?;
        Ok(SqliteStore { pool, vault: None })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A transaction that appends to a sealed table (see [`PgStore::begin_sealed`]). SQLite
    /// serialises its writers already: `BEGIN IMMEDIATE` takes the write lock up front.
    pub(crate) async fn begin_sealed(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// A transaction that appends to `request_events` (see [`PgStore::begin_request_append`]).
    /// SQLite serialises its writers already.
    pub(crate) async fn begin_request_append(
        &self,
        _idempotency_key: Option<&str>,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.begin_sealed().await
    }

    /// A read of a table followed by sequence number: with one writer at a time, every row
    /// below the last visible one has committed.
    pub(crate) async fn begin_settled_read(
        &self,
        _requests: bool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Seals personal attributes with `vault` from now on (see [`crate::vault`]).
    pub fn with_vault(mut self, vault: Arc<Vault>) -> SqliteStore {
        self.vault = Some(vault);
        self
    }
}

/// PostgreSQL, optionally confined to one schema (tests use a fresh schema each).
#[derive(Clone, Debug)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    pub(crate) vault: Option<Arc<Vault>>,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        Self::connect_in_schema(url, None).await
    }

    pub async fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<PgStore, StoreError> {
        let mut options = PgConnectOptions::from_str(url)?;
        if let Some(schema) = schema {
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(PgStore { pool, vault: None })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction that appends to a table the verifiable log follows by sequence number
    /// (`ledger`, `audit_events`; `request_events` see below). Its first statement takes one advisory
    /// lock, held until commit, so that such rows commit in the order of their sequence numbers
    /// across connections and servers: the sealer never passes a row that commits late. Taken
    /// first, before any row lock, so that no two such transactions can deadlock.
    ///
    /// It also holds [`REQUEST_EVENTS_LOCK`] shared, taken before the sequence lock (always in
    /// this order, so that no two transactions wait on each other): a person's erasure appends
    /// `request_events` in the same transaction.
    pub(crate) async fn begin_sealed(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock_shared($1), pg_advisory_xact_lock($2)")
            .bind(REQUEST_EVENTS_LOCK)
            .bind(SEQUENCE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// A transaction that appends to `request_events` only (a request's transitions, the bulk
    /// of the store's commits under load). Such transactions run and commit side by side:
    /// they hold [`REQUEST_EVENTS_LOCK`] *shared*, so PostgreSQL flushes their commits
    /// together, where one exclusive lock held across each commit made every transition of
    /// every request wait for the one before (issue 31's throughput bound). Rows may then
    /// commit out of sequence order; a reader that follows the table by sequence number reads
    /// under the same lock held exclusively ([`PgStore::begin_settled_read`]), when no append
    /// is in flight and every row below the last one it sees has committed.
    ///
    /// With an idempotency key, the transaction also holds a lock of that key, so that two
    /// requests filed at once with the same key are one request, not a unique-key error.
    pub(crate) async fn begin_request_append(
        &self,
        idempotency_key: Option<&str>,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
            .bind(REQUEST_EVENTS_LOCK)
            .execute(&mut *tx)
            .await?;
        if let Some(key) = idempotency_key {
            sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind(IDEMPOTENCY_LOCK_CLASS)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// A read of a table that readers follow by sequence number (the verifiable log's sealer,
    /// the event outbox). For `request_events` (`requests`), the read holds
    /// [`REQUEST_EVENTS_LOCK`] exclusively: it waits for the appends in flight and holds new
    /// ones back for the length of one read, so that no row below the last one it sees can
    /// still commit. The other tables' appends are serialised by [`SEQUENCE_LOCK`] and commit
    /// in order already.
    pub(crate) async fn begin_settled_read(
        &self,
        requests: bool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if requests {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(REQUEST_EVENTS_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Seals personal attributes with `vault` from now on (see [`crate::vault`]).
    pub fn with_vault(mut self, vault: Arc<Vault>) -> PgStore {
        self.vault = Some(vault);
        self
    }
}

/// The advisory lock key of [`PgStore::begin_sealed`] ("6962" for RFC 6962).
const SEQUENCE_LOCK: i64 = 6962;
/// The advisory lock key of `request_events`' appends (shared) and settled reads (exclusive).
const REQUEST_EVENTS_LOCK: i64 = 6963;
/// The class (first key) of the two-key advisory locks of idempotency keys.
const IDEMPOTENCY_LOCK_CLASS: i32 = 6964;

/// A `LedgerEvent` from a row with the columns seq, subject, at_us, kind and body (a macro: the
/// row types differ).
macro_rules! ledger_event {
    ($r:expr) => {{
        let r = $r;
        let kind: String = r.try_get("kind")?;
        let body: String = r.try_get("body")?;
        $crate::sql::event(
            r.try_get("seq")?,
            r.try_get("subject")?,
            r.try_get("at_us")?,
            &kind,
            &body,
        )
    }};
}
pub(crate) use ledger_event;

/// A `StoredEvent` from a row of the history queries (a macro: the row types differ).
macro_rules! stored_event {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, StoreError>(StoredEvent {
            event: ledger_event!(r)?,
            evidence: r.try_get("evidence")?,
            reason: r.try_get("reason")?,
            policy_version: r.try_get("policy_version")?,
        })
    }};
}

macro_rules! sql_store {
    ($store:ty, $begin:literal, $migrations:expr) => {
        impl Store for $store {
            async fn migrate(&self) -> Result<(), StoreError> {
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS tutela_migrations (version BIGINT PRIMARY KEY, applied_at_us BIGINT NOT NULL)",
                )
                .execute(&self.pool)
                .await?;
                for (version, sql) in $migrations() {
                    let mut tx = self.pool.begin_with($begin).await?;
                    let done: Option<i64> =
                        sqlx::query_scalar("SELECT version FROM tutela_migrations WHERE version = $1")
                            .bind(version)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if done.is_none() {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
                        sqlx::query("INSERT INTO tutela_migrations (version, applied_at_us) VALUES ($1, $2)")
                            .bind(version)
                            .bind(jiff::Timestamp::now().as_microsecond())
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                }
                self.seal_totp_secrets().await?;
                Ok(())
            }

            async fn append(
                &self,
                events: &[NewEvent],
            ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
                // Sealed before the transaction: the key store is another database.
                let sealed = crate::vault::seal_events(self.vault.as_deref(), events).await?;
                let mut tx = self.begin_sealed().await?;
                let out = Self::append_rows(&mut tx, &sealed).await?;
                Self::notify_ledger(&mut tx).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn history(&self, subject: &str) -> Result<Vec<StoredEvent>, StoreError> {
                let events = sqlx::query(
                    "SELECT l.seq, l.subject, l.at_us, l.kind, l.body, l.policy_version, p.evidence, p.reason \
                     FROM ledger l LEFT JOIN ledger_personal p ON p.seq = l.seq \
                     WHERE l.subject = $1 ORDER BY l.seq",
                )
                .bind(subject)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| stored_event!(r))
                .collect::<Result<Vec<_>, StoreError>>()?;
                crate::vault::open_events(self.vault.as_deref(), subject, events).await
            }

            async fn recent_history(
                &self,
                subject: &str,
                before_seq: Option<i64>,
                limit: i64,
            ) -> Result<Vec<StoredEvent>, StoreError> {
                let events = sqlx::query(
                    "SELECT l.seq, l.subject, l.at_us, l.kind, l.body, l.policy_version, p.evidence, p.reason \
                     FROM ledger l LEFT JOIN ledger_personal p ON p.seq = l.seq \
                     WHERE l.subject = $1 AND l.seq < $2 ORDER BY l.seq DESC LIMIT $3",
                )
                .bind(subject)
                .bind(before_seq.unwrap_or(i64::MAX))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| stored_event!(r))
                .collect::<Result<Vec<_>, StoreError>>()?;
                crate::vault::open_events(self.vault.as_deref(), subject, events).await
            }

            async fn all_events(&self) -> Result<Vec<LedgerEvent>, StoreError> {
                let rows = sqlx::query("SELECT seq, subject, at_us, kind, body FROM ledger ORDER BY seq")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| ledger_event!(r)).collect()
            }

            async fn events_after(&self, seq: i64) -> Result<Vec<LedgerEvent>, StoreError> {
                // In pages with a constant limit: PostgreSQL's generic plan for an unbounded
                // `seq > $1` expects a third of the table and scans all of it in parallel
                // (150 ms at 3.5 million events), though a follower mostly asks for the last few.
                let mut events = Vec::new();
                let mut after = seq;
                loop {
                    let rows = sqlx::query("SELECT seq, subject, at_us, kind, body FROM ledger WHERE seq > $1 ORDER BY seq LIMIT 10000")
                        .bind(after)
                        .fetch_all(&self.pool)
                        .await?;
                    let full = rows.len() == 10_000;
                    for r in &rows {
                        events.push(ledger_event!(r)?);
                    }
                    match events.last() {
                        Some(last) if full => after = last.seq,
                        _ => return Ok(events),
                    }
                }
            }

            async fn call_consents_since(&self, at: jiff::Timestamp) -> Result<Vec<LedgerEvent>, StoreError> {
                let rows = sqlx::query("SELECT seq, subject, at_us, kind, body FROM ledger WHERE at_us >= $1 AND kind IN ('call_consent_given', 'call_consent_withdrawn', 'erased') ORDER BY seq")
                    .bind(at.as_microsecond())
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| ledger_event!(r)).collect()
            }

            async fn save_snapshot(&self, policy_version: &str, snapshot: &Snapshot) -> Result<(), StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query("DELETE FROM state_snapshots").execute(&mut *tx).await?;
                for (i, chunk) in snapshot.chunks.iter().enumerate() {
                    sqlx::query("INSERT INTO state_snapshots (policy_version, chunk, up_to_seq, data) VALUES ($1, $2, $3, $4)")
                        .bind(policy_version)
                        .bind(i as i64)
                        .bind(snapshot.up_to_seq)
                        .bind(chunk.as_slice())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn load_snapshot(&self, policy_version: &str) -> Result<Option<Snapshot>, StoreError> {
                let rows = sqlx::query("SELECT up_to_seq, data FROM state_snapshots WHERE policy_version = $1 ORDER BY chunk")
                    .bind(policy_version)
                    .fetch_all(&self.pool)
                    .await?;
                let Some(first) = rows.first() else {
                    return Ok(None);
                };
                let up_to_seq: i64 = first.try_get("up_to_seq")?;
                let chunks = rows
                    .iter()
                    .map(|r| r.try_get::<Vec<u8>, _>("data"))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(Snapshot { up_to_seq, chunks }))
            }

            async fn subject(&self, subject: &str) -> Result<Option<SubjectRecord>, StoreError> {
                let row = sqlx::query("SELECT id, email, erased_at_us FROM subjects WHERE id = $1")
                    .bind(subject)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(r) = row else { return Ok(None) };
                let email: Option<String> = r.try_get("email")?;
                Ok(Some(SubjectRecord {
                    email: crate::vault::open_opt(self.vault.as_deref(), subject, "subjects.email", email).await?,
                    id: r.try_get("id")?,
                    erased_at: r.try_get::<Option<i64>, _>("erased_at_us")?.map(from_micros),
                }))
            }

            async fn erase(
                &self,
                subject: &str,
                at: jiff::Timestamp,
                policy_version: &str,
                keep: &[i64],
            ) -> Result<Appended, StoreError> {
                let at_us = micros(at);
                // Kept rows (a legal duty outlives the erasure) move to the person's retained
                // key before the person's key is destroyed.
                let kept_rows = match self.vault.as_deref() {
                    Some(vault) if !keep.is_empty() => {
                        let mut out = Vec::new();
                        for &seq in keep {
                            let row = sqlx::query("SELECT evidence, reason FROM ledger_personal WHERE seq = $1")
                                .bind(seq)
                                .fetch_optional(&self.pool)
                                .await?;
                            let Some(row) = row else { continue };
                            let evidence = to_retained(vault, subject, "ledger_personal.evidence", seq, row.try_get("evidence")?).await?;
                            let reason = to_retained(vault, subject, "ledger_personal.reason", seq, row.try_get("reason")?).await?;
                            out.push((seq, evidence, reason));
                        }
                        out
                    }
                    _ => Vec::new(),
                };
                let mut tx = self.begin_sealed().await?;
                // The tombstone first: `ledger_personal` changes only below a later erasure of
                // its person (the table's triggers check it).
                let (kind, body) = encode(&EventKind::Erasure);
                let seq: i64 = sqlx::query_scalar(
                    "INSERT INTO ledger (subject, at_us, kind, body, policy_version) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
                )
                .bind(subject)
                .bind(at_us)
                .bind(kind)
                .bind(body)
                .bind(policy_version)
                .fetch_one(&mut *tx)
                .await?;
                for (seq, evidence, reason) in &kept_rows {
                    sqlx::query("UPDATE ledger_personal SET evidence = $2, reason = $3 WHERE seq = $1")
                        .bind(seq)
                        .bind(evidence)
                        .bind(reason)
                        .execute(&mut *tx)
                        .await?;
                }
                // One placeholder per kept row: the SQL text holds no value.
                let kept = if keep.is_empty() {
                    String::new()
                } else {
                    let marks: Vec<String> = (0..keep.len()).map(|i| format!("${}", i + 2)).collect();
                    format!(" AND seq NOT IN ({})", marks.join(", "))
                };
                let mut delete = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM ledger_personal WHERE seq IN (SELECT seq FROM ledger WHERE subject = $1){kept}"
                )))
                .bind(subject);
                for seq in keep {
                    delete = delete.bind(*seq);
                }
                delete.execute(&mut *tx).await?;
                // The person's call summaries (drafts and reviewed texts) go with them.
                sqlx::query("DELETE FROM call_summaries WHERE subject = $1")
                    .bind(subject)
                    .execute(&mut *tx)
                    .await?;
                // Their requests' results, their sessions and sign-ins end in this same
                // transaction (see crate::erasure: every instance shares these rows, so this
                // one commit ends them everywhere).
                let finished_requests = Self::end_with_person(&mut tx, subject, at_us).await?;
                sqlx::query(
                    "INSERT INTO subjects (id, email, created_at_us, erased_at_us) VALUES ($1, NULL, $2, $2) \
                     ON CONFLICT (id) DO UPDATE SET email = NULL, email_index = NULL, erased_at_us = excluded.erased_at_us",
                )
                .bind(subject)
                .bind(at_us)
                .execute(&mut *tx)
                .await?;
                Self::notify_ledger(&mut tx).await?;
                tx.commit().await?;
                // Crypto-shredding: what the statements above cleared is also gone from every
                // backup, whose copies were sealed under this key.
                if let Some(vault) = self.vault.as_deref() {
                    vault.destroy(OwnerKind::Subject, subject, at).await?;
                    // The same for the copies of the person's reports and exports: sealed under
                    // their request's key, not the person's.
                    for id in &finished_requests {
                        vault.destroy(OwnerKind::Request, id, at).await?;
                    }
                }
                Ok(Appended {
                    seq,
                    at,
                    duplicate: false,
                })
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}

impl SqliteStore {
    /// Other processes on one SQLite file are not supported; nobody listens.
    pub(crate) async fn notify_ledger(
        _tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// Row by row: SQLite is in-process, a statement costs microseconds.
    pub(crate) async fn append_rows(
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        sealed: &SealedEvents,
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        let mut out = Vec::with_capacity(sealed.events.len());
        for (i, e) in sealed.events.iter().enumerate() {
            let hash = &sealed.hashes[i];
            if let Some(key) = &e.idempotency_key {
                let seen = sqlx::query(
                    "SELECT seq, at_us, request_hash FROM ledger WHERE idempotency_key = $1",
                )
                .bind(key)
                .fetch_optional(&mut **tx)
                .await?;
                if let Some(row) = seen {
                    let same = row.try_get::<Option<String>, _>("request_hash")?.as_deref()
                        == Some(hash.as_str());
                    out.push(if same {
                        Ok(Appended {
                            seq: row.try_get("seq")?,
                            at: from_micros(row.try_get("at_us")?),
                            duplicate: true,
                        })
                    } else {
                        Err(StoreError::IdempotencyConflict)
                    });
                    continue;
                }
            }
            let (kind, body) = encode(&e.kind);
            let at_us = micros(e.at);
            sqlx::query(
                "INSERT INTO subjects (id, email, email_index, created_at_us) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET email = COALESCE(excluded.email, subjects.email), \
                 email_index = COALESCE(excluded.email_index, subjects.email_index)",
            )
            .bind(&e.subject)
            .bind(&e.email)
            .bind(&sealed.email_index[i])
            .bind(at_us)
            .execute(&mut **tx)
            .await?;
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO ledger (subject, at_us, kind, body, policy_version, idempotency_key, request_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
            )
            .bind(&e.subject)
            .bind(at_us)
            .bind(kind)
            .bind(body)
            .bind(&e.policy_version)
            .bind(&e.idempotency_key)
            .bind(hash)
            .fetch_one(&mut **tx)
            .await?;
            if e.evidence.is_some() || e.reason.is_some() {
                let (evidence, reason) = sealed.personal(i, seq)?;
                sqlx::query(
                    "INSERT INTO ledger_personal (seq, evidence, reason) VALUES ($1, $2, $3)",
                )
                .bind(seq)
                .bind(evidence)
                .bind(reason)
                .execute(&mut **tx)
                .await?;
            }
            out.push(Ok(Appended {
                seq,
                at: e.at,
                duplicate: false,
            }));
        }
        Ok(out)
    }
}

/// Sent inside every transaction that adds ledger rows; the channel is per schema, so that
/// tutela instances on other schemas of the database are not woken (see `cluster.rs`, which
/// listens on it).
const NOTIFY_LEDGER: &str = "SELECT pg_notify('tutela_ledger_' || current_schema(), '')";

impl PgStore {
    /// Tells every instance listening on this schema's ledger channel that rows were added.
    /// PostgreSQL delivers it at commit, and not at all on rollback.
    pub(crate) async fn notify_ledger(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    ) -> Result<(), StoreError> {
        sqlx::query(NOTIFY_LEDGER).execute(&mut **tx).await?;
        Ok(())
    }

    /// A constant number of round trips per batch, whatever its size: the group commit of the
    /// server's writer pays for one transaction, not for one statement per event.
    pub(crate) async fn append_rows(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        sealed: &SealedEvents,
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        use std::collections::HashMap;

        let events = &sealed.events;
        let hashes = &sealed.hashes;
        // Keys seen before, in the ledger or earlier in this batch.
        let keys: Vec<&str> = events
            .iter()
            .filter_map(|e| e.idempotency_key.as_deref())
            .collect();
        let mut seen: HashMap<String, (Option<i64>, i64, String)> = HashMap::new();
        if !keys.is_empty() {
            let rows = sqlx::query(
                "SELECT idempotency_key, seq, at_us, request_hash FROM ledger WHERE idempotency_key = ANY($1)",
            )
            .bind(&keys)
            .fetch_all(&mut **tx)
            .await?;
            for r in rows {
                let key: String = r.try_get("idempotency_key")?;
                let hash: Option<String> = r.try_get("request_hash")?;
                seen.insert(
                    key,
                    (
                        Some(r.try_get("seq")?),
                        r.try_get("at_us")?,
                        hash.unwrap_or_default(),
                    ),
                );
            }
        }
        // Which events are new; the others answer from what was seen.
        let mut plan: Vec<Option<Result<Appended, StoreError>>> = Vec::with_capacity(events.len());
        let mut fresh: Vec<usize> = Vec::new();
        for (i, e) in events.iter().enumerate() {
            match e
                .idempotency_key
                .as_ref()
                .and_then(|k| seen.get(k).map(|v| (k, v)))
            {
                Some((_, (seq, at_us, hash))) => plan.push(Some(if *hash == hashes[i] {
                    Ok(Appended {
                        seq: seq.unwrap_or(-1),
                        at: from_micros(*at_us),
                        duplicate: true,
                    })
                } else {
                    Err(StoreError::IdempotencyConflict)
                })),
                None => {
                    if let Some(k) = &e.idempotency_key {
                        seen.insert(k.clone(), (None, micros(e.at), hashes[i].clone()));
                    }
                    plan.push(None);
                    fresh.push(i);
                }
            }
        }
        if !fresh.is_empty() {
            let mut seqs: Vec<i64> = sqlx::query_scalar(
                "SELECT nextval(pg_get_serial_sequence('ledger', 'seq')) FROM generate_series(1, $1)",
            )
            .bind(fresh.len() as i64)
            .fetch_all(&mut **tx)
            .await?;
            seqs.sort_unstable();
            // One row per subject: the last e-mail given wins, as row by row it would.
            type SubjectRow<'a> = (Option<&'a str>, Option<&'a str>, i64);
            let mut subjects: HashMap<&str, SubjectRow> = HashMap::new();
            for &i in &fresh {
                let e = &events[i];
                let entry =
                    subjects
                        .entry(e.subject.as_str())
                        .or_insert((None, None, micros(e.at)));
                if e.email.is_some() {
                    entry.0 = e.email.as_deref();
                    entry.1 = sealed.email_index[i].as_deref();
                }
            }
            let mut ids = Vec::new();
            let mut emails = Vec::new();
            let mut indexes = Vec::new();
            let mut created = Vec::new();
            for (id, (email, index, at)) in subjects {
                ids.push(id);
                emails.push(email);
                indexes.push(index);
                created.push(at);
            }
            sqlx::query(
                "INSERT INTO subjects (id, email, email_index, created_at_us) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) \
                 ON CONFLICT (id) DO UPDATE SET email = COALESCE(excluded.email, subjects.email), \
                 email_index = COALESCE(excluded.email_index, subjects.email_index)",
            )
            .bind(&ids)
            .bind(&emails)
            .bind(&indexes)
            .bind(&created)
            .execute(&mut **tx)
            .await?;
            let mut cols = (
                Vec::new(),
                Vec::new(),
                Vec::new(),
                Vec::new(),
                Vec::new(),
                Vec::new(),
                Vec::new(),
            );
            let mut personal = (Vec::new(), Vec::new(), Vec::new());
            for (&i, &seq) in fresh.iter().zip(&seqs) {
                let e = &events[i];
                let (kind, body) = encode(&e.kind);
                cols.0.push(seq);
                cols.1.push(e.subject.as_str());
                cols.2.push(micros(e.at));
                cols.3.push(kind);
                cols.4.push(body);
                cols.5.push(e.policy_version.as_str());
                cols.6.push(e.idempotency_key.as_deref());
                if e.evidence.is_some() || e.reason.is_some() {
                    let (evidence, reason) = sealed.personal(i, seq)?;
                    personal.0.push(seq);
                    personal.1.push(evidence);
                    personal.2.push(reason);
                }
                plan[i] = Some(Ok(Appended {
                    seq,
                    at: e.at,
                    duplicate: false,
                }));
            }
            let fresh_hashes: Vec<&str> = fresh.iter().map(|&i| hashes[i].as_str()).collect();
            sqlx::query(
                "INSERT INTO ledger (seq, subject, at_us, kind, body, policy_version, idempotency_key, request_hash) \
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])",
            )
            .bind(&cols.0)
            .bind(&cols.1)
            .bind(&cols.2)
            .bind(&cols.3)
            .bind(&cols.4)
            .bind(&cols.5)
            .bind(&cols.6)
            .bind(&fresh_hashes)
            .execute(&mut **tx)
            .await?;
            if !personal.0.is_empty() {
                sqlx::query(
                    "INSERT INTO ledger_personal (seq, evidence, reason) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[])",
                )
                .bind(&personal.0)
                .bind(&personal.1)
                .bind(&personal.2)
                .execute(&mut **tx)
                .await?;
            }
        }
        // A repeated key within the batch answers with the seq its first use got.
        let mut first_seq: HashMap<&str, (i64, jiff::Timestamp)> = HashMap::new();
        let mut out = Vec::with_capacity(events.len());
        for (i, p) in plan.into_iter().enumerate() {
            let r = p.unwrap_or(Err(StoreError::IdempotencyConflict));
            let r = match (r, events[i].idempotency_key.as_deref()) {
                (Ok(a), Some(k)) if !a.duplicate => {
                    first_seq.insert(k, (a.seq, a.at));
                    Ok(a)
                }
                (Ok(a), Some(k)) if a.seq < 0 => first_seq
                    .get(k)
                    .map(|&(seq, at)| Appended {
                        seq,
                        at,
                        duplicate: true,
                    })
                    .ok_or(StoreError::IdempotencyConflict),
                (r, _) => r,
            };
            out.push(r);
        }
        Ok(out)
    }
}

// BEGIN IMMEDIATE takes SQLite's write lock up front, so two writers queue instead of failing
// when a read transaction tries to upgrade.
sql_store!(SqliteStore, "BEGIN IMMEDIATE", migrations::sqlite);
sql_store!(PgStore, "BEGIN", migrations::postgres);

/// What [`AnyStore::replay_key_destructions`] destroyed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Keys of erased persons.
    pub subjects: u64,
    /// Keys of requests whose personal parts were purged.
    pub requests: u64,
}

/// The statuses after which a request's personal parts are purged (`Status::is_final`).
const FINAL_STATUSES: &str = "'completed', 'refused', 'partially_refused'";

/// Upkeep of sealed values that needs the vault: sealing secrets written in plaintext, and
/// replaying key destructions on a key store restored from a backup.
macro_rules! vault_upkeep {
    ($store:ty) => {
        impl $store {
            /// Seals the operators' TOTP secrets still stored in plaintext (rows written before
            /// issue 30, or by a command that opened the store without a vault). Runs at every
            /// migration; a sealed row is left alone, and so is an empty one (a reset second
            /// factor, or a removed operator's: there is nothing to seal, and enrolment looks for
            /// the empty secret).
            pub(crate) async fn seal_totp_secrets(&self) -> Result<(), StoreError> {
                let Some(vault) = self.vault.as_deref() else {
                    return Ok(());
                };
                let rows = sqlx::query(
                    "SELECT id, totp_secret FROM operators                      WHERE totp_secret NOT LIKE 'tv1:%' AND totp_secret NOT LIKE 'tv2:%' \
                     AND totp_secret <> ''",
                )
                .fetch_all(&self.pool)
                .await?;
                for r in rows {
                    let id: String = r.try_get("id")?;
                    let plain: String = r.try_get("totp_secret")?;
                    let sealed = vault
                        .seal(OwnerKind::Operator, &id, crate::vault::TOTP_FIELD, &plain)
                        .await?;
                    sqlx::query(
                        "UPDATE operators SET totp_secret = $2 WHERE id = $1 AND totp_secret = $3",
                    )
                    .bind(&id)
                    .bind(&sealed)
                    .bind(&plain)
                    .execute(&self.pool)
                    .await?;
                }
                Ok(())
            }

            /// After the key store was restored from a backup: destroys again every key that
            /// the data says was destroyed since. A person erased (their latest erasure in
            /// `subjects`) loses the key made before that erasure, not one made after it (they
            /// came back); a finished request whose personal parts were purged loses its key.
            /// Idempotent; keys already destroyed are left alone. Scrubs the key store after.
            pub async fn replay_key_destructions(&self) -> Result<Replayed, StoreError> {
                let Some(vault) = self.vault.as_deref() else {
                    return Ok(Replayed::default());
                };
                let keys = vault.key_store();
                let now = jiff::Timestamp::now().as_microsecond();
                let mut done = Replayed::default();
                let mut after = String::new();
                loop {
                    let rows = sqlx::query(
                        "SELECT id, erased_at_us FROM subjects                          WHERE erased_at_us IS NOT NULL AND id > $1 ORDER BY id LIMIT 1000",
                    )
                    .bind(&after)
                    .fetch_all(&self.pool)
                    .await?;
                    for r in &rows {
                        let id: String = r.try_get("id")?;
                        let erased: i64 = r.try_get("erased_at_us")?;
                        if keys
                            .destroy_created_before(&OwnerKind::Subject.owner(&id), erased, now)
                            .await?
                        {
                            vault.forget_cached(OwnerKind::Subject, &id);
                            done.subjects += 1;
                        }
                        after = id;
                    }
                    if rows.len() < 1000 {
                        break;
                    }
                }
                let mut after = String::new();
                loop {
                    let ids: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT id FROM requests WHERE purge_at_us IS NULL                          AND status IN ({FINAL_STATUSES}) AND id > $1 ORDER BY id LIMIT 1000"
                    )))
                    .bind(&after)
                    .fetch_all(&self.pool)
                    .await?;
                    for id in &ids {
                        if keys
                            .destroy_created_before(&OwnerKind::Request.owner(id), i64::MAX, now)
                            .await?
                        {
                            vault.forget_cached(OwnerKind::Request, id);
                            done.requests += 1;
                        }
                    }
                    match ids.last() {
                        Some(last) if ids.len() == 1000 => after = last.clone(),
                        _ => break,
                    }
                }
                keys.scrub().await?;
                Ok(done)
            }
        }
    };
}

vault_upkeep!(SqliteStore);
vault_upkeep!(PgStore);

/// The store a URL names: `sqlite://PATH` (or `sqlite:PATH`) or `postgres://…`.
#[derive(Clone, Debug)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl AnyStore {
    pub async fn open(url: &str) -> Result<AnyStore, StoreError> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Ok(AnyStore::Sqlite(SqliteStore::open(path).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(AnyStore::Postgres(PgStore::connect(url).await?))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// Seals personal attributes with `vault` from now on (see [`crate::vault`]).
    pub fn with_vault(self, vault: Arc<Vault>) -> AnyStore {
        match self {
            AnyStore::Sqlite(s) => AnyStore::Sqlite(s.with_vault(vault)),
            AnyStore::Postgres(s) => AnyStore::Postgres(s.with_vault(vault)),
        }
    }

    pub fn vault(&self) -> Option<&Arc<Vault>> {
        dispatch!(self, s => s.vault.as_ref())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Postgres(_) => "postgres",
        }
    }

    /// See [`SqliteStore::replay_key_destructions`]: run after restoring the key store from a
    /// backup older than the data (`tutela keys replay-erasures`).
    pub async fn replay_key_destructions(&self) -> Result<Replayed, StoreError> {
        dispatch!(self, s => s.replay_key_destructions().await)
    }
}

impl Store for AnyStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.migrate().await)
    }
    async fn append(
        &self,
        events: &[NewEvent],
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        dispatch!(self, s => s.append(events).await)
    }
    async fn history(&self, subject: &str) -> Result<Vec<StoredEvent>, StoreError> {
        dispatch!(self, s => s.history(subject).await)
    }
    async fn recent_history(
        &self,
        subject: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        dispatch!(self, s => s.recent_history(subject, before_seq, limit).await)
    }
    async fn all_events(&self) -> Result<Vec<LedgerEvent>, StoreError> {
        dispatch!(self, s => s.all_events().await)
    }
    async fn events_after(&self, seq: i64) -> Result<Vec<LedgerEvent>, StoreError> {
        dispatch!(self, s => s.events_after(seq).await)
    }
    async fn call_consents_since(
        &self,
        at: jiff::Timestamp,
    ) -> Result<Vec<LedgerEvent>, StoreError> {
        dispatch!(self, s => s.call_consents_since(at).await)
    }
    async fn save_snapshot(
        &self,
        policy_version: &str,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.save_snapshot(policy_version, snapshot).await)
    }
    async fn load_snapshot(&self, policy_version: &str) -> Result<Option<Snapshot>, StoreError> {
        dispatch!(self, s => s.load_snapshot(policy_version).await)
    }
    async fn subject(&self, subject: &str) -> Result<Option<SubjectRecord>, StoreError> {
        dispatch!(self, s => s.subject(subject).await)
    }
    async fn erase(
        &self,
        subject: &str,
        at: jiff::Timestamp,
        policy_version: &str,
        keep: &[i64],
    ) -> Result<Appended, StoreError> {
        dispatch!(self, s => s.erase(subject, at, policy_version, keep).await)
    }
    async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }
}
