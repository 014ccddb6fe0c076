//! Persistence for data subject requests, behind [`RequestStore`]; both SQL stores share this
//! SQL through one macro, and the conformance suite runs it on both.
//!
//! A request row holds the lifecycle state; every change to it appends a row to the
//! append-only `request_events` in the same transaction, and is refused when someone else
//! changed the request first (optimistic concurrency on `version`). Free text (the person's
//! words, reasons, agent notes) and results are personal: [`RequestStore::purge_requests`]
//! removes them when they are no longer needed, while the events stay as proof.

use std::future::Future;

use sqlx::Row;
use tutela_core::request::{Status, StepStatus};

use crate::sql::{from_micros, micros};
use crate::vault::{OwnerKind, open_opt, seal_many, seal_opt};
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub id: String,
    pub request_type: String,
    pub status: Status,
    pub subject: Option<String>,
    pub email: Option<String>,
    pub channel: String,
    pub received_at: jiff::Timestamp,
    pub due_at: jiff::Timestamp,
    pub extended_months: i64,
    pub verification: Option<String>,
    /// JSON: what the person asked for in their words (personal).
    pub details: Option<String>,
    /// Bumped by every update; an update names the version it read.
    pub version: i64,
    pub updated_at: jiff::Timestamp,
    /// When the personal parts (e-mail, details, notes, step outputs) are removed.
    pub purge_at: Option<jiff::Timestamp>,
}

/// A transition to record with a request change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestEventNew {
    pub at: jiff::Timestamp,
    /// Who did it: `system`, `api`, an operator or agent id.
    pub actor: String,
    pub kind: String,
    /// JSON without free text.
    pub body: String,
    /// A reason or note (personal free text, kept apart).
    pub note: Option<String>,
}

/// A recorded transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestEvent {
    pub seq: i64,
    pub request_id: String,
    pub at: jiff::Timestamp,
    pub actor: String,
    pub kind: String,
    pub body: String,
    pub note: Option<String>,
}

/// A request's id, type and version: enough to take it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub id: String,
    pub request_type: String,
    pub version: i64,
}

/// A one-time code, as its salted hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    pub salt: String,
    pub code_hash: String,
    pub expires_at: jiff::Timestamp,
    pub attempts: i64,
    pub locked: bool,
}

/// One step of fulfilment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub step: String,
    /// Failed steps are retried at `next_at`.
    pub status: StepStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_at: Option<jiff::Timestamp>,
    /// What the step produced (collected data as JSON; personal).
    pub output: Option<String>,
}

pub trait RequestStore: Send + Sync {
    /// Inserts a new request with its first event. With an idempotency key already used, returns
    /// the request it created then and `true`.
    fn insert_request(
        &self,
        request: &RequestRecord,
        event: &RequestEventNew,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = Result<(RequestRecord, bool), StoreError>> + Send;

    /// Writes `request` (whose `version` must be one more than the stored one) and its event in
    /// one transaction; [`StoreError::Conflict`] when the stored version moved on.
    fn update_request(
        &self,
        request: &RequestRecord,
        event: &RequestEventNew,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// [`Self::update_request`] and [`Self::put_steps`] in one transaction: a step's record and
    /// the transition it leads to (a request planned and started, its last step and its
    /// completion) are durable together or not at all, at the cost of one commit.
    fn update_request_with_steps(
        &self,
        request: &RequestRecord,
        event: &RequestEventNew,
        steps: &[StepRecord],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn request(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<RequestRecord>, StoreError>> + Send;

    /// The requests in any of `statuses`, soonest due first, as heads (id, type, version)
    /// without their sealed parts: what a worker lists to take requests up.
    fn request_heads(
        &self,
        statuses: &[Status],
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RequestHead>, StoreError>> + Send;

    /// Requests in any of `statuses` (all when empty), soonest due first.
    fn list_requests(
        &self,
        statuses: &[Status],
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RequestRecord>, StoreError>> + Send;

    /// A person's requests, newest first.
    fn requests_of(
        &self,
        subject: &str,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RequestRecord>, StoreError>> + Send;

    fn request_events(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Vec<RequestEvent>, StoreError>> + Send;

    fn put_code(
        &self,
        id: &str,
        code: &CodeRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn code(&self, id: &str)
    -> impl Future<Output = Result<Option<CodeRecord>, StoreError>> + Send;

    fn delete_code(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Counts one attempt at request `id`'s code before it is checked, in one statement: the
    /// code after counting, or `None` when there is none left to try (no code, locked, used up
    /// `max` attempts or expired at `now`). A code reaching `max` attempts is locked by the
    /// same statement. Guesses sent at once are counted one by one, so they get no more tries
    /// between them than one person typing.
    fn count_code_attempt(
        &self,
        id: &str,
        max: i64,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Option<CodeRecord>, StoreError>> + Send;

    fn put_step(
        &self,
        id: &str,
        step: &StepRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes several steps of one request in one transaction (a request's planned steps,
    /// steps made pending again): all or none.
    fn put_steps(
        &self,
        id: &str,
        steps: &[StepRecord],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn steps(&self, id: &str) -> impl Future<Output = Result<Vec<StepRecord>, StoreError>> + Send;

    fn put_result(
        &self,
        id: &str,
        format: &str,
        content: &[u8],
        created_at: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Several results of one request (a report as JSON and HTML) in one transaction.
    fn put_results(
        &self,
        id: &str,
        results: &[(&str, &[u8])],
        created_at: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn result(
        &self,
        id: &str,
        format: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Removes expired results, and the personal parts of requests whose purge time passed.
    /// Returns how many requests were purged.
    fn purge_requests(
        &self,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The person whose e-mail address on file is `email` (exact match, case-insensitive).
    fn subject_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}

/// A request's stored status, read back; an unknown value is a corrupt row naming the request
/// (`seq` -1: not a ledger row, as for the log's hashes).
fn stored_status(id: String, status: String) -> Result<Status, StoreError> {
    Status::parse(&status).ok_or_else(|| StoreError::Corrupt {
        seq: -1,
        what: format!("request `{id}`: unknown status `{status}`"),
    })
}

const REQUEST_COLUMNS: &str = "id, type, status, subject, email, channel, received_at_us, due_at_us, extended_months, verification, details, version, updated_at_us, purge_at_us";

macro_rules! request_store {
    ($store:ty, $db:ty, $row:ty, $begin:literal) => {
        impl $store {
            /// A code from a row with the columns salt, code_hash, expires_at_us, attempts, locked.
            fn code_from(r: &$row) -> Result<CodeRecord, StoreError> {
                Ok(CodeRecord {
                    salt: r.try_get("salt")?,
                    code_hash: r.try_get("code_hash")?,
                    expires_at: from_micros(r.try_get("expires_at_us")?),
                    attempts: r.try_get("attempts")?,
                    locked: r.try_get::<i64, _>("locked")? != 0,
                })
            }

            fn record_from(r: &$row) -> Result<RequestRecord, StoreError> {
                Ok(RequestRecord {
                    id: r.try_get("id")?,
                    request_type: r.try_get("type")?,
                    status: stored_status(r.try_get("id")?, r.try_get("status")?)?,
                    subject: r.try_get("subject")?,
                    email: r.try_get("email")?,
                    channel: r.try_get("channel")?,
                    received_at: from_micros(r.try_get("received_at_us")?),
                    due_at: from_micros(r.try_get("due_at_us")?),
                    extended_months: r.try_get("extended_months")?,
                    verification: r.try_get("verification")?,
                    details: r.try_get("details")?,
                    version: r.try_get("version")?,
                    updated_at: from_micros(r.try_get("updated_at_us")?),
                    purge_at: r.try_get::<Option<i64>, _>("purge_at_us")?.map(from_micros),
                })
            }

            async fn requests_opened(&self, rows: Vec<$row>) -> Result<Vec<RequestRecord>, StoreError> {
                let vault = self.vault.as_deref();
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let mut r = Self::record_from(row)?;
                    r.email = open_opt(vault, &r.id, "requests.email", r.email).await?;
                    r.details = open_opt(vault, &r.id, "requests.details", r.details).await?;
                    out.push(r);
                }
                Ok(out)
            }

            /// The request's e-mail, details and the event's note, sealed under the request's key.
            async fn sealed_parts(
                &self,
                r: &RequestRecord,
                event: &RequestEventNew,
            ) -> Result<(RequestRecord, RequestEventNew), StoreError> {
                let id = r.id.as_str();
                let mut sealed = seal_many(
                    self.vault.as_deref(),
                    OwnerKind::Request,
                    &[
                        (id, "requests.email", r.email.as_deref()),
                        (id, "requests.details", r.details.as_deref()),
                        (id, "request_notes.note", event.note.as_deref()),
                    ],
                )
                .await?
                .into_iter();
                let mut r = r.clone();
                let mut event = event.clone();
                r.email = sealed.next().flatten();
                r.details = sealed.next().flatten();
                event.note = sealed.next().flatten();
                Ok((r, event))
            }

            /// The steps' outputs sealed, in the order of `steps`: sealing may reach the key
            /// store, so it happens before the transaction opens.
            async fn sealed_outputs(
                &self,
                id: &str,
                steps: &[StepRecord],
            ) -> Result<Vec<Option<String>>, StoreError> {
                let mut outputs = Vec::with_capacity(steps.len());
                for s in steps {
                    outputs.push(seal_opt(self.vault.as_deref(), OwnerKind::Request, id, "request_steps.output", s.output.as_deref()).await?);
                }
                Ok(outputs)
            }

            async fn write_steps(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &str,
                steps: &[StepRecord],
                outputs: &[Option<String>],
            ) -> Result<(), StoreError> {
                for (s, output) in steps.iter().zip(outputs) {
                    sqlx::query(
                        "INSERT INTO request_steps (request_id, step, status, attempts, last_error, next_at_us, output) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id, step) DO UPDATE SET \
                         status = excluded.status, attempts = excluded.attempts, last_error = excluded.last_error, \
                         next_at_us = excluded.next_at_us, output = excluded.output",
                    )
                    .bind(id)
                    .bind(&s.step)
                    .bind(s.status.as_str())
                    .bind(s.attempts)
                    .bind(&s.last_error)
                    .bind(s.next_at.map(micros))
                    .bind(output)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }

            async fn insert_event(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &str,
                event: &RequestEventNew,
            ) -> Result<(), StoreError> {
                let seq: i64 = sqlx::query_scalar(
                    "INSERT INTO request_events (request_id, at_us, actor, kind, body) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
                )
                .bind(id)
                .bind(micros(event.at))
                .bind(&event.actor)
                .bind(&event.kind)
                .bind(&event.body)
                .fetch_one(&mut **tx)
                .await?;
                if let Some(note) = &event.note {
                    sqlx::query("INSERT INTO request_notes (seq, note) VALUES ($1, $2)")
                        .bind(seq)
                        .bind(note)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }
        }

        impl RequestStore for $store {
            async fn insert_request(
                &self,
                r: &RequestRecord,
                event: &RequestEventNew,
                idempotency_key: Option<&str>,
            ) -> Result<(RequestRecord, bool), StoreError> {
                let plain = r;
                let (sealed, event) = self.sealed_parts(r, event).await?;
                let (r, event) = (&sealed, &event);
                let mut tx = self.begin_request_append(idempotency_key).await?;
                if let Some(key) = idempotency_key {
                    let seen = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {REQUEST_COLUMNS} FROM requests WHERE idempotency_key = $1"
                    )))
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(row) = seen {
                        drop(tx);
                        let first = self.requests_opened(vec![row]).await?.pop();
                        return Ok((first.ok_or(StoreError::Conflict)?, true));
                    }
                }
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO requests ({REQUEST_COLUMNS}, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                )))
                .bind(&r.id)
                .bind(&r.request_type)
                .bind(r.status.as_str())
                .bind(&r.subject)
                .bind(&r.email)
                .bind(&r.channel)
                .bind(micros(r.received_at))
                .bind(micros(r.due_at))
                .bind(r.extended_months)
                .bind(&r.verification)
                .bind(&r.details)
                .bind(r.version)
                .bind(micros(r.updated_at))
                .bind(r.purge_at.map(micros))
                .bind(idempotency_key)
                .execute(&mut *tx)
                .await?;
                Self::insert_event(&mut tx, &r.id, event).await?;
                tx.commit().await?;
                Ok((plain.clone(), false))
            }

            async fn update_request(
                &self,
                r: &RequestRecord,
                event: &RequestEventNew,
            ) -> Result<(), StoreError> {
                RequestStore::update_request_with_steps(self, r, event, &[]).await
            }

            async fn update_request_with_steps(
                &self,
                r: &RequestRecord,
                event: &RequestEventNew,
                steps: &[StepRecord],
            ) -> Result<(), StoreError> {
                let (sealed, event) = self.sealed_parts(r, event).await?;
                let (r, event) = (&sealed, &event);
                let outputs = self.sealed_outputs(&r.id, steps).await?;
                let mut tx = self.begin_request_append(None).await?;
                let changed = sqlx::query(
                    "UPDATE requests SET type = $2, status = $3, subject = $4, email = $5, due_at_us = $6, \
                     extended_months = $7, verification = $8, details = $9, version = $10, updated_at_us = $11, \
                     purge_at_us = $12 WHERE id = $1 AND version = $13",
                )
                .bind(&r.id)
                .bind(&r.request_type)
                .bind(r.status.as_str())
                .bind(&r.subject)
                .bind(&r.email)
                .bind(micros(r.due_at))
                .bind(r.extended_months)
                .bind(&r.verification)
                .bind(&r.details)
                .bind(r.version)
                .bind(micros(r.updated_at))
                .bind(r.purge_at.map(micros))
                .bind(r.version - 1)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed != 1 {
                    return Err(StoreError::Conflict);
                }
                Self::insert_event(&mut tx, &r.id, event).await?;
                Self::write_steps(&mut tx, &r.id, steps, &outputs).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(self.requests_opened(row.into_iter().collect()).await?.pop())
            }

            async fn request_heads(
                &self,
                statuses: &[Status],
                limit: i64,
            ) -> Result<Vec<RequestHead>, StoreError> {
                if statuses.is_empty() {
                    return Ok(Vec::new());
                }
                let marks: Vec<String> =
                    (0..statuses.len()).map(|i| format!("${}", i + 2)).collect();
                let sql = format!(
                    "SELECT id, type, version FROM requests WHERE status IN ({}) ORDER BY due_at_us, id LIMIT $1",
                    marks.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit);
                for s in statuses {
                    q = q.bind(s.as_str());
                }
                let rows = q.fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(RequestHead {
                            id: r.try_get("id")?,
                            request_type: r.try_get("type")?,
                            version: r.try_get("version")?,
                        })
                    })
                    .collect()
            }

            async fn requests_of(&self, subject: &str, limit: i64) -> Result<Vec<RequestRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {REQUEST_COLUMNS} FROM requests WHERE subject = $1 ORDER BY received_at_us DESC, id LIMIT $2"
                )))
                .bind(subject)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                self.requests_opened(rows).await
            }

            async fn list_requests(
                &self,
                statuses: &[Status],
                limit: i64,
            ) -> Result<Vec<RequestRecord>, StoreError> {
                // One placeholder per status: the SQL text never holds a value.
                let filter = if statuses.is_empty() {
                    String::new()
                } else {
                    let marks: Vec<String> =
                        (0..statuses.len()).map(|i| format!("${}", i + 2)).collect();
                    format!("WHERE status IN ({})", marks.join(", "))
                };
                let sql = format!(
                    "SELECT {REQUEST_COLUMNS} FROM requests {filter} ORDER BY due_at_us, id LIMIT $1"
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit);
                for s in statuses {
                    q = q.bind(s.as_str());
                }
                let rows = q.fetch_all(&self.pool).await?;
                self.requests_opened(rows).await
            }

            async fn request_events(&self, id: &str) -> Result<Vec<RequestEvent>, StoreError> {
                let rows = sqlx::query(
                    "SELECT e.seq, e.request_id, e.at_us, e.actor, e.kind, e.body, n.note FROM request_events e \
                     LEFT JOIN request_notes n ON n.seq = e.seq WHERE e.request_id = $1 ORDER BY e.seq",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let note: Option<String> = r.try_get("note")?;
                    out.push(RequestEvent {
                        seq: r.try_get("seq")?,
                        request_id: r.try_get("request_id")?,
                        at: from_micros(r.try_get("at_us")?),
                        actor: r.try_get("actor")?,
                        kind: r.try_get("kind")?,
                        body: r.try_get("body")?,
                        note: open_opt(self.vault.as_deref(), id, "request_notes.note", note).await?,
                    });
                }
                Ok(out)
            }

            async fn put_code(&self, id: &str, c: &CodeRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO request_codes (request_id, salt, code_hash, expires_at_us, attempts, locked) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id) DO UPDATE SET salt = excluded.salt, \
                     code_hash = excluded.code_hash, expires_at_us = excluded.expires_at_us, \
                     attempts = excluded.attempts, locked = excluded.locked",
                )
                .bind(id)
                .bind(&c.salt)
                .bind(&c.code_hash)
                .bind(micros(c.expires_at))
                .bind(c.attempts)
                .bind(i64::from(c.locked))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn code(&self, id: &str) -> Result<Option<CodeRecord>, StoreError> {
                sqlx::query(
                    "SELECT salt, code_hash, expires_at_us, attempts, locked FROM request_codes WHERE request_id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| Self::code_from(&r))
                .transpose()
            }

            async fn count_code_attempt(
                &self,
                id: &str,
                max: i64,
                now: jiff::Timestamp,
            ) -> Result<Option<CodeRecord>, StoreError> {
                sqlx::query(
                    "UPDATE request_codes SET attempts = attempts + 1, \
                     locked = CASE WHEN attempts + 1 >= $2 THEN 1 ELSE 0 END \
                     WHERE request_id = $1 AND locked = 0 AND attempts < $2 AND expires_at_us >= $3 \
                     RETURNING salt, code_hash, expires_at_us, attempts, locked",
                )
                .bind(id)
                .bind(max)
                .bind(micros(now))
                .fetch_optional(&self.pool)
                .await?
                .map(|r| Self::code_from(&r))
                .transpose()
            }

            async fn delete_code(&self, id: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM request_codes WHERE request_id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn put_step(&self, id: &str, s: &StepRecord) -> Result<(), StoreError> {
                RequestStore::put_steps(self, id, std::slice::from_ref(s)).await
            }

            async fn put_steps(&self, id: &str, steps: &[StepRecord]) -> Result<(), StoreError> {
                let outputs = self.sealed_outputs(id, steps).await?;
                let mut tx = self.pool.begin_with($begin).await?;
                Self::write_steps(&mut tx, id, steps, &outputs).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn steps(&self, id: &str) -> Result<Vec<StepRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT step, status, attempts, last_error, next_at_us, output FROM request_steps \
                     WHERE request_id = $1 ORDER BY step",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let output: Option<String> = r.try_get("output")?;
                    let step: String = r.try_get("step")?;
                    let status: String = r.try_get("status")?;
                    out.push(StepRecord {
                        status: StepStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                            seq: -1,
                            what: format!("request `{id}`, step `{step}`: unknown status `{status}`"),
                        })?,
                        step,
                        attempts: r.try_get("attempts")?,
                        last_error: r.try_get("last_error")?,
                        next_at: r.try_get::<Option<i64>, _>("next_at_us")?.map(from_micros),
                        output: open_opt(self.vault.as_deref(), id, "request_steps.output", output).await?,
                    });
                }
                Ok(out)
            }

            async fn put_result(
                &self,
                id: &str,
                format: &str,
                content: &[u8],
                created_at: jiff::Timestamp,
                expires_at: jiff::Timestamp,
            ) -> Result<(), StoreError> {
                RequestStore::put_results(self, id, &[(format, content)], created_at, expires_at).await
            }

            async fn put_results(
                &self,
                id: &str,
                results: &[(&str, &[u8])],
                created_at: jiff::Timestamp,
                expires_at: jiff::Timestamp,
            ) -> Result<(), StoreError> {
                // Exports may be binary (a ZIP): sealed as bytes, stored as the sealed text.
                let mut sealed = Vec::with_capacity(results.len());
                for (_, content) in results {
                    sealed.push(match self.vault.as_deref() {
                        Some(vault) => vault
                            .seal_bytes(OwnerKind::Request, id, "request_results.content", content)
                            .await?
                            .into_bytes(),
                        None => content.to_vec(),
                    });
                }
                let mut tx = self.pool.begin_with($begin).await?;
                for ((format, _), sealed) in results.iter().zip(&sealed) {
                    sqlx::query(
                        "INSERT INTO request_results (request_id, format, content, created_at_us, expires_at_us) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id, format) DO UPDATE SET \
                         content = excluded.content, created_at_us = excluded.created_at_us, expires_at_us = excluded.expires_at_us",
                    )
                    .bind(id)
                    .bind(*format)
                    .bind(sealed)
                    .bind(micros(created_at))
                    .bind(micros(expires_at))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn result(&self, id: &str, format: &str) -> Result<Option<Vec<u8>>, StoreError> {
                let stored: Option<Vec<u8>> = sqlx::query_scalar(
                    "SELECT content FROM request_results WHERE request_id = $1 AND format = $2",
                )
                .bind(id)
                .bind(format)
                .fetch_optional(&self.pool)
                .await?;
                match (self.vault.as_deref(), stored) {
                    (Some(vault), Some(bytes)) if bytes.starts_with(b"tv1:") => match std::str::from_utf8(&bytes) {
                        Ok(text) => vault.open_bytes(id, "request_results.content", text).await,
                        Err(_) => Ok(None),
                    },
                    (_, stored) => Ok(stored),
                }
            }

            async fn purge_requests(&self, now: jiff::Timestamp) -> Result<u64, StoreError> {
                let at = now;
                let now = micros(now);
                let purged_ids: Vec<String> = sqlx::query_scalar("SELECT id FROM requests WHERE purge_at_us <= $1")
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?;
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query("DELETE FROM request_results WHERE expires_at_us <= $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "DELETE FROM request_notes WHERE seq IN (SELECT e.seq FROM request_events e \
                     JOIN requests r ON r.id = e.request_id WHERE r.purge_at_us <= $1)",
                )
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE request_steps SET output = NULL WHERE request_id IN \
                     (SELECT id FROM requests WHERE purge_at_us <= $1)",
                )
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM request_codes WHERE request_id IN (SELECT id FROM requests WHERE purge_at_us <= $1)",
                )
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let purged = sqlx::query(
                    "UPDATE requests SET email = NULL, details = NULL, purge_at_us = NULL WHERE purge_at_us <= $1",
                )
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                // Crypto-shredding: copies of the cleared values in backups go with the key.
                if let Some(vault) = self.vault.as_deref() {
                    for id in &purged_ids {
                        vault.destroy(OwnerKind::Request, id, at).await?;
                    }
                }
                Ok(purged)
            }

            async fn subject_by_email(&self, email: &str) -> Result<Option<String>, StoreError> {
                // The address itself is sealed: the search goes through its blind index.
                Ok(sqlx::query_scalar(
                    "SELECT id FROM subjects WHERE email_index = $1 AND erased_at_us IS NULL ORDER BY created_at_us LIMIT 1",
                )
                .bind(crate::vault::email_index(self.vault.as_deref(), email))
                .fetch_optional(&self.pool)
                .await?)
            }
        }
    };
}

request_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    "BEGIN IMMEDIATE"
);
request_store!(PgStore, sqlx::Postgres, sqlx::postgres::PgRow, "BEGIN");

impl RequestStore for AnyStore {
    async fn insert_request(
        &self,
        r: &RequestRecord,
        e: &RequestEventNew,
        key: Option<&str>,
    ) -> Result<(RequestRecord, bool), StoreError> {
        dispatch!(self, s => s.insert_request(r, e, key).await)
    }
    async fn update_request(
        &self,
        r: &RequestRecord,
        e: &RequestEventNew,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.update_request(r, e).await)
    }
    async fn update_request_with_steps(
        &self,
        r: &RequestRecord,
        e: &RequestEventNew,
        steps: &[StepRecord],
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.update_request_with_steps(r, e, steps).await)
    }
    async fn request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        dispatch!(self, s => s.request(id).await)
    }
    async fn request_heads(
        &self,
        statuses: &[Status],
        limit: i64,
    ) -> Result<Vec<RequestHead>, StoreError> {
        dispatch!(self, s => s.request_heads(statuses, limit).await)
    }
    async fn requests_of(
        &self,
        subject: &str,
        limit: i64,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        dispatch!(self, s => s.requests_of(subject, limit).await)
    }
    async fn list_requests(
        &self,
        statuses: &[Status],
        limit: i64,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        dispatch!(self, s => s.list_requests(statuses, limit).await)
    }
    async fn request_events(&self, id: &str) -> Result<Vec<RequestEvent>, StoreError> {
        dispatch!(self, s => s.request_events(id).await)
    }
    async fn put_code(&self, id: &str, c: &CodeRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_code(id, c).await)
    }
    async fn code(&self, id: &str) -> Result<Option<CodeRecord>, StoreError> {
        dispatch!(self, s => s.code(id).await)
    }
    async fn delete_code(&self, id: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_code(id).await)
    }
    async fn count_code_attempt(
        &self,
        id: &str,
        max: i64,
        now: jiff::Timestamp,
    ) -> Result<Option<CodeRecord>, StoreError> {
        dispatch!(self, s => s.count_code_attempt(id, max, now).await)
    }
    async fn put_step(&self, id: &str, st: &StepRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_step(id, st).await)
    }
    async fn put_steps(&self, id: &str, steps: &[StepRecord]) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_steps(id, steps).await)
    }
    async fn steps(&self, id: &str) -> Result<Vec<StepRecord>, StoreError> {
        dispatch!(self, s => s.steps(id).await)
    }
    async fn put_result(
        &self,
        id: &str,
        format: &str,
        content: &[u8],
        created_at: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_result(id, format, content, created_at, expires_at).await)
    }
    async fn put_results(
        &self,
        id: &str,
        results: &[(&str, &[u8])],
        created_at: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_results(id, results, created_at, expires_at).await)
    }
    async fn result(&self, id: &str, format: &str) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, s => s.result(id, format).await)
    }
    async fn purge_requests(&self, now: jiff::Timestamp) -> Result<u64, StoreError> {
        dispatch!(self, s => s.purge_requests(now).await)
    }
    async fn subject_by_email(&self, email: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.subject_by_email(email).await)
    }
}
