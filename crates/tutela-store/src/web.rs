//! Persistence for the web pages, behind [`WebStore`]: operator accounts, sessions of people
//! and operators, and the one-time codes of a person's sign-in. Both SQL stores share it.
//!
//! Secrets are stored only as hashes: a session cookie and a pending sign-in's cookie as their
//! SHA-256, a sign-in code as an HMAC under a server key kept outside the database, a password
//! as an argon2id PHC string. The second factor's shared secret must be readable to
//! check a code: it is sealed with the vault under a data key of its operator (issue 30), and
//! opened when an operator is read.

use std::future::Future;

use sqlx::Row;

use crate::sql::{from_micros, micros};
use crate::vault::TOTP_FIELD;
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

/// An operator of the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRecord {
    pub id: String,
    pub name: String,
    /// `dpo`, `agent` or `auditor`.
    pub role: String,
    /// argon2id, PHC string format.
    pub password_hash: String,
    /// The TOTP shared secret, base32.
    pub totp_secret: String,
    /// The last TOTP time step accepted: a code is accepted once.
    pub totp_last_step: i64,
    pub created_at: jiff::Timestamp,
    pub disabled_at: Option<jiff::Timestamp>,
    /// When the operator was removed. A removed operator is a tombstone: id, name and role stay
    /// so that the audit trail (which records the id) still names them; the password and the
    /// second factor are wiped, and the name cannot be taken again.
    pub removed_at: Option<jiff::Timestamp>,
}

/// What the privacy office does to an operator's account (offboarding, issue 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorChange {
    /// No sign-in, and every session ends at once.
    Disable,
    Enable,
    /// Disabled for good, the credentials wiped, the row kept as a tombstone.
    Remove,
    /// The second factor's secret cleared: the operator enrols again at the next sign-in, and
    /// their sessions end.
    ResetTotp,
}

impl OperatorChange {
    /// The audit event's kind.
    pub fn audit_kind(self) -> &'static str {
        match self {
            OperatorChange::Disable => "operator_disabled",
            OperatorChange::Enable => "operator_enabled",
            OperatorChange::Remove => "operator_removed",
            OperatorChange::ResetTotp => "operator_totp_reset",
        }
    }
}

/// The outcome of an [`OperatorChange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorChanged {
    /// Done, and recorded in the audit trail.
    Done,
    /// The account was in that state already; nothing was recorded.
    Unchanged,
    NotFound,
    /// The operator was removed; a tombstone changes no more.
    Removed,
    /// Refused: the operator is the last active DPO, and nobody could administer the console.
    LastDpo,
}

/// A signed-in browser: a person (`kind = "person"`, `principal` the subject id) or an operator
/// (`kind = "operator"`, `principal` the operator id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the cookie value, hex.
    pub id_hash: String,
    pub kind: String,
    pub principal: String,
    /// The token every form of this session carries.
    pub csrf: String,
    pub created_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
}

/// A pending sign-in to the privacy center, and the outbox of its code's mail: the row is
/// written on the request path, the mail goes from a background step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigninRecord {
    /// SHA-256 of the pending sign-in's cookie, hex.
    pub id_hash: String,
    /// The person the address belongs to; `None` when it is not on file. Such a row is kept
    /// all the same, so that both answer alike; no code opens it and no mail goes.
    pub subject: Option<String>,
    /// Random; the code is derived from it with the server's key, so the row never holds it.
    pub salt: String,
    /// HMAC of the code under the server's key, hex.
    pub code_hash: String,
    pub expires_at: jiff::Timestamp,
    /// Codes tried.
    pub attempts: i64,
    /// When the mail is due; `None` once sent, or when no mail goes.
    pub mail_due: Option<jiff::Timestamp>,
}

/// A sign-in mail an instance claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigninMail {
    pub id_hash: String,
    pub subject: String,
    pub salt: String,
    pub expires_at: jiff::Timestamp,
}

/// The hits counted for one key in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateCount {
    /// Hits in the window, this one included.
    pub hits: i64,
    pub window_end: jiff::Timestamp,
}

/// The audit event's kind for an Art. 15 report an operator downloaded in the console.
const REPORT_DOWNLOADED: &str = "access_report_downloaded";

pub trait WebStore: Send + Sync {
    /// Adds an operator; [`StoreError::Conflict`] when the name is taken.
    fn insert_operator(
        &self,
        o: &OperatorRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn operator_by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<OperatorRecord>, StoreError>> + Send;

    fn operator(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<OperatorRecord>, StoreError>> + Send;

    /// Every operator, by name.
    fn operators(&self) -> impl Future<Output = Result<Vec<OperatorRecord>, StoreError>> + Send;

    /// Disables, enables, removes an operator or resets their second factor, records it in the
    /// audit trail as done by `actor`, and ends the operator's sessions (except on enable), in
    /// one transaction. The last active DPO is neither disabled nor removed.
    fn change_operator(
        &self,
        id: &str,
        change: OperatorChange,
        actor: &str,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<OperatorChanged, StoreError>> + Send;

    /// Stores a new TOTP secret for an operator whose secret was reset, and records it;
    /// [`StoreError::Conflict`] when the operator has a secret already (or was removed).
    fn enrol_totp(
        &self,
        id: &str,
        secret: &str,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records in the audit trail that `actor` downloaded the Art. 15 report of request
    /// `request` about `subject`, in language `lang`, in the console: a disclosure of the
    /// person's data to an operator. Recorded before the file leaves, so that no download goes
    /// unrecorded.
    fn record_report_download(
        &self,
        actor: &str,
        request: &str,
        subject: &str,
        lang: &str,
        at: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every operator's id and name, removed ones included: to name the actors of the audit
    /// trail without opening any secret.
    fn operator_names(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send;

    /// Moves the last accepted TOTP step forward; [`StoreError::Conflict`] when `step` is not
    /// later than the stored one (a replayed code).
    fn advance_totp_step(
        &self,
        id: &str,
        step: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn insert_session(
        &self,
        s: &SessionRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session with this hash, unless it expired at `now`.
    fn session(
        &self,
        id_hash: &str,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;

    fn delete_session(&self, id_hash: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes expired sessions and sign-in codes; returns how many rows went.
    fn purge_web(
        &self,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Stores a pending sign-in; [`StoreError::Conflict`] when its hash exists.
    fn put_signin(&self, s: &SigninRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The pending sign-in with this hash.
    fn signin(
        &self,
        id_hash: &str,
    ) -> impl Future<Output = Result<Option<SigninRecord>, StoreError>> + Send;

    /// Counts one code tried against a pending sign-in and returns it, atomically: `None` when
    /// there is none, it expired at `now`, or `max` codes were tried already. Concurrent
    /// guesses each use up an attempt before they are checked.
    fn count_signin_attempt(
        &self,
        id_hash: &str,
        max: i64,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Option<SigninRecord>, StoreError>> + Send;

    fn delete_signin(&self, id_hash: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Claims up to `limit` sign-in mails due at `now` (only `id_hash`'s, when given) until
    /// `lease_until`: no other instance sends them meanwhile; one not marked sent by then is
    /// claimed again.
    fn claim_signin_mails(
        &self,
        id_hash: Option<&str>,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<SigninMail>, StoreError>> + Send;

    /// The sign-in mail left: nothing is due for this row any more.
    fn signin_mail_sent(
        &self,
        id_hash: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The sign-in mail waits until `due` (its address's mail ceiling is reached): released
    /// from its claim, it is claimed again when `due` comes.
    fn signin_mail_later(
        &self,
        id_hash: &str,
        due: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Counts a hit on `key_hash` in a fixed window of `window` that starts with the first
    /// hit after the last window ended; atomic across connections and instances.
    fn count_hit(
        &self,
        key_hash: &str,
        now: jiff::Timestamp,
        window: jiff::SignedDuration,
    ) -> impl Future<Output = Result<RateCount, StoreError>> + Send;
}

const SIGNIN_COLUMNS: &str =
    "id_hash, subject, salt, code_hash, expires_at_us, attempts, mail_due_us";

const OPERATOR_COLUMNS: &str = "id, name, role, password_hash, totp_secret, totp_last_step, \
     created_at_us, disabled_at_us, removed_at_us";

macro_rules! web_store {
    ($store:ty, $row:ty) => {
        impl $store {
            fn operator_from(r: &$row) -> Result<OperatorRecord, StoreError> {
                Ok(OperatorRecord {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    role: r.try_get("role")?,
                    password_hash: r.try_get("password_hash")?,
                    totp_secret: r.try_get("totp_secret")?,
                    totp_last_step: r.try_get("totp_last_step")?,
                    created_at: from_micros(r.try_get("created_at_us")?),
                    disabled_at: r.try_get::<Option<i64>, _>("disabled_at_us")?.map(from_micros),
                    removed_at: r.try_get::<Option<i64>, _>("removed_at_us")?.map(from_micros),
                })
            }

            fn signin_from(r: &$row) -> Result<SigninRecord, StoreError> {
                Ok(SigninRecord {
                    id_hash: r.try_get("id_hash")?,
                    subject: r.try_get("subject")?,
                    salt: r.try_get("salt")?,
                    code_hash: r.try_get("code_hash")?,
                    expires_at: from_micros(r.try_get("expires_at_us")?),
                    attempts: r.try_get("attempts")?,
                    mail_due: r.try_get::<Option<i64>, _>("mail_due_us")?.map(from_micros),
                })
            }

            async fn operator_where(&self, column: &str, value: &str) -> Result<Option<OperatorRecord>, StoreError> {
                let found = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {OPERATOR_COLUMNS} FROM operators WHERE {column} = $1"
                )))
                .bind(value)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| Self::operator_from(&r))
                .transpose()?;
                match found {
                    Some(o) => Ok(Some(self.open_totp(o).await?)),
                    None => Ok(None),
                }
            }

            /// The operator with their TOTP secret opened. A secret that does not open is an
            /// error, never an empty secret: a code is then checked against nothing.
            async fn open_totp(&self, mut o: OperatorRecord) -> Result<OperatorRecord, StoreError> {
                // An empty secret was reset (or wiped on removal): nothing to open, and no
                // code is accepted until the operator enrols again.
                if o.totp_secret.is_empty() {
                    return Ok(o);
                }
                if let Some(vault) = self.vault.as_deref() {
                    o.totp_secret = vault
                        .open(&o.id, TOTP_FIELD, &o.totp_secret)
                        .await?
                        .ok_or(crate::vault::VaultError::Cipher)?;
                }
                Ok(o)
            }
        }

        impl WebStore for $store {
            async fn insert_operator(&self, o: &OperatorRecord) -> Result<(), StoreError> {
                // Sealed before the transaction: the key store is another database.
                let totp_secret = crate::vault::seal_opt(
                    self.vault.as_deref(),
                    crate::vault::OwnerKind::Operator,
                    &o.id,
                    TOTP_FIELD,
                    Some(&o.totp_secret),
                )
                .await?
                .unwrap_or_default();
                let mut tx = self.begin_sealed().await?;
                let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO operators ({OPERATOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (name) DO NOTHING"
                )))
                .bind(&o.id)
                .bind(&o.name)
                .bind(&o.role)
                .bind(&o.password_hash)
                .bind(&totp_secret)
                .bind(o.totp_last_step)
                .bind(micros(o.created_at))
                .bind(o.disabled_at.map(micros))
                .bind(o.removed_at.map(micros))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict);
                }
                // The operator's id and role, never the sign-in name.
                let body = serde_json::json!({ "role": o.role }).to_string();
                audit!(tx, micros(o.created_at), "cli", "operator_added", &o.id, None::<&str>, body);
                tx.commit().await?;
                Ok(())
            }

            async fn operator_by_name(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
                self.operator_where("name", name).await
            }

            async fn operator(&self, id: &str) -> Result<Option<OperatorRecord>, StoreError> {
                self.operator_where("id", id).await
            }

            async fn operators(&self) -> Result<Vec<OperatorRecord>, StoreError> {
                let found = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {OPERATOR_COLUMNS} FROM operators ORDER BY name"
                )))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::operator_from)
                .collect::<Result<Vec<_>, StoreError>>()?;
                let mut out = Vec::with_capacity(found.len());
                for o in found {
                    out.push(self.open_totp(o).await?);
                }
                Ok(out)
            }

            async fn change_operator(
                &self,
                id: &str,
                change: OperatorChange,
                actor: &str,
                now: jiff::Timestamp,
            ) -> Result<OperatorChanged, StoreError> {
                // The sealed transaction also serialises these changes across connections
                // (PostgreSQL: its advisory lock; SQLite: BEGIN IMMEDIATE), so two DPOs
                // disabling each other at once cannot leave none.
                let mut tx = self.begin_sealed().await?;
                let Some(row) = sqlx::query(
                    "SELECT role, disabled_at_us, removed_at_us, totp_secret FROM operators WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                else {
                    return Ok(OperatorChanged::NotFound);
                };
                let role: String = row.try_get("role")?;
                let disabled = row.try_get::<Option<i64>, _>("disabled_at_us")?.is_some();
                if row.try_get::<Option<i64>, _>("removed_at_us")?.is_some() {
                    return Ok(OperatorChanged::Removed);
                }
                let secret_empty = row.try_get::<String, _>("totp_secret")?.is_empty();
                let unchanged = match change {
                    OperatorChange::Disable => disabled,
                    OperatorChange::Enable => !disabled,
                    OperatorChange::ResetTotp => secret_empty,
                    OperatorChange::Remove => false,
                };
                if unchanged {
                    return Ok(OperatorChanged::Unchanged);
                }
                let takes_a_dpo = matches!(change, OperatorChange::Disable | OperatorChange::Remove)
                    && role == "dpo"
                    && !disabled;
                if takes_a_dpo {
                    let others: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM operators WHERE role = 'dpo' AND id <> $1 \
                         AND disabled_at_us IS NULL AND removed_at_us IS NULL",
                    )
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if others == 0 {
                        return Ok(OperatorChanged::LastDpo);
                    }
                }
                let update = match change {
                    OperatorChange::Disable => "UPDATE operators SET disabled_at_us = $2 WHERE id = $1",
                    OperatorChange::Enable => "UPDATE operators SET disabled_at_us = NULL WHERE id = $1",
                    // The name stays (the audit trail names the operator by it); what could
                    // sign anyone in goes.
                    OperatorChange::Remove => {
                        "UPDATE operators SET removed_at_us = $2, \
                         disabled_at_us = COALESCE(disabled_at_us, $2), \
                         password_hash = '', totp_secret = '' WHERE id = $1"
                    }
                    OperatorChange::ResetTotp => "UPDATE operators SET totp_secret = '' WHERE id = $1",
                };
                let q = sqlx::query(update).bind(id);
                let q = match change {
                    OperatorChange::Disable | OperatorChange::Remove => q.bind(micros(now)),
                    OperatorChange::Enable | OperatorChange::ResetTotp => q,
                };
                q.execute(&mut *tx).await?;
                if change != OperatorChange::Enable {
                    sqlx::query("DELETE FROM web_sessions WHERE kind = 'operator' AND principal = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                let body = serde_json::json!({ "role": role }).to_string();
                audit!(tx, micros(now), actor, change.audit_kind(), id, None::<&str>, body);
                tx.commit().await?;
                Ok(OperatorChanged::Done)
            }

            async fn enrol_totp(&self, id: &str, secret: &str, now: jiff::Timestamp) -> Result<(), StoreError> {
                let sealed = crate::vault::seal_opt(
                    self.vault.as_deref(),
                    crate::vault::OwnerKind::Operator,
                    id,
                    TOTP_FIELD,
                    Some(secret),
                )
                .await?
                .unwrap_or_default();
                let mut tx = self.begin_sealed().await?;
                let n = sqlx::query(
                    // The replay guard starts afresh: it guarded the old key's codes.
                    "UPDATE operators SET totp_secret = $2, totp_last_step = 0 \
                     WHERE id = $1 AND totp_secret = '' AND removed_at_us IS NULL",
                )
                .bind(id)
                .bind(&sealed)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                let actor = format!("operator:{id}");
                audit!(tx, micros(now), actor.as_str(), "operator_totp_enrolled", id, None::<&str>, "{}");
                tx.commit().await?;
                Ok(())
            }

            async fn record_report_download(
                &self,
                actor: &str,
                request: &str,
                subject: &str,
                lang: &str,
                at: jiff::Timestamp,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_sealed().await?;
                let body = serde_json::json!({ "lang": lang }).to_string();
                audit!(tx, micros(at), actor, REPORT_DOWNLOADED, request, Some(subject), body);
                tx.commit().await?;
                Ok(())
            }

            async fn operator_names(&self) -> Result<Vec<(String, String)>, StoreError> {
                sqlx::query("SELECT id, name FROM operators ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
                    .collect()
            }

            async fn advance_totp_step(&self, id: &str, step: i64) -> Result<(), StoreError> {
                let n = sqlx::query(
                    "UPDATE operators SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
                )
                .bind(id)
                .bind(step)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if n == 1 { Ok(()) } else { Err(StoreError::Conflict) }
            }

            async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO web_sessions (id_hash, kind, principal, csrf, created_at_us, expires_at_us) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&s.id_hash)
                .bind(&s.kind)
                .bind(&s.principal)
                .bind(&s.csrf)
                .bind(micros(s.created_at))
                .bind(micros(s.expires_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session(&self, id_hash: &str, now: jiff::Timestamp) -> Result<Option<SessionRecord>, StoreError> {
                sqlx::query(
                    "SELECT id_hash, kind, principal, csrf, created_at_us, expires_at_us FROM web_sessions \
                     WHERE id_hash = $1 AND expires_at_us > $2",
                )
                .bind(id_hash)
                .bind(micros(now))
                .fetch_optional(&self.pool)
                .await?
                .map(|r| {
                    Ok(SessionRecord {
                        id_hash: r.try_get("id_hash")?,
                        kind: r.try_get("kind")?,
                        principal: r.try_get("principal")?,
                        csrf: r.try_get("csrf")?,
                        created_at: from_micros(r.try_get("created_at_us")?),
                        expires_at: from_micros(r.try_get("expires_at_us")?),
                    })
                })
                .transpose()
            }

            async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn purge_web(&self, now: jiff::Timestamp) -> Result<u64, StoreError> {
                let mut n = 0;
                for table in ["web_sessions", "signin_codes", "rate_limits"] {
                    n += sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM {table} WHERE expires_at_us <= $1"
                    )))
                    .bind(micros(now))
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                }
                Ok(n)
            }

            async fn put_signin(&self, r: &SigninRecord) -> Result<(), StoreError> {
                let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO signin_codes ({SIGNIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (id_hash) DO NOTHING"
                )))
                .bind(&r.id_hash)
                .bind(&r.subject)
                .bind(&r.salt)
                .bind(&r.code_hash)
                .bind(micros(r.expires_at))
                .bind(r.attempts)
                .bind(r.mail_due.map(micros))
                .execute(&self.pool)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict);
                }
                Ok(())
            }

            async fn signin(&self, id_hash: &str) -> Result<Option<SigninRecord>, StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {SIGNIN_COLUMNS} FROM signin_codes WHERE id_hash = $1"
                )))
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| Self::signin_from(&r))
                .transpose()
            }

            async fn count_signin_attempt(
                &self,
                id_hash: &str,
                max: i64,
                now: jiff::Timestamp,
            ) -> Result<Option<SigninRecord>, StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE signin_codes SET attempts = attempts + 1 \
                     WHERE id_hash = $1 AND attempts < $2 AND expires_at_us > $3 \
                     RETURNING {SIGNIN_COLUMNS}"
                )))
                .bind(id_hash)
                .bind(max)
                .bind(micros(now))
                .fetch_optional(&self.pool)
                .await?
                .map(|r| Self::signin_from(&r))
                .transpose()
            }

            async fn delete_signin(&self, id_hash: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM signin_codes WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn claim_signin_mails(
                &self,
                id_hash: Option<&str>,
                now: jiff::Timestamp,
                lease_until: jiff::Timestamp,
                limit: i64,
            ) -> Result<Vec<SigninMail>, StoreError> {
                // The conditions twice: PostgreSQL checks the outer ones again on a row another
                // instance claimed meanwhile, so a mail is claimed by one instance only.
                let due = "mail_due_us <= $1 AND (mail_lease_us IS NULL OR mail_lease_us <= $1) \
                           AND expires_at_us > $1 AND subject IS NOT NULL";
                let one = if id_hash.is_some() { "AND id_hash = $4" } else { "" };
                let q = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE signin_codes SET mail_lease_us = $2 WHERE id_hash IN \
                     (SELECT id_hash FROM signin_codes WHERE {due} {one} ORDER BY mail_due_us LIMIT $3) \
                     AND {due} RETURNING id_hash, subject, salt, expires_at_us"
                )))
                .bind(micros(now))
                .bind(micros(lease_until))
                .bind(limit);
                let q = match id_hash {
                    Some(id) => q.bind(id),
                    None => q,
                };
                q.fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(SigninMail {
                            id_hash: r.try_get("id_hash")?,
                            subject: r.try_get("subject")?,
                            salt: r.try_get("salt")?,
                            expires_at: from_micros(r.try_get("expires_at_us")?),
                        })
                    })
                    .collect()
            }

            async fn signin_mail_sent(&self, id_hash: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE signin_codes SET mail_due_us = NULL, mail_lease_us = NULL WHERE id_hash = $1",
                )
                .bind(id_hash)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn signin_mail_later(&self, id_hash: &str, due: jiff::Timestamp) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE signin_codes SET mail_due_us = $2, mail_lease_us = NULL \
                     WHERE id_hash = $1 AND mail_due_us IS NOT NULL",
                )
                .bind(id_hash)
                .bind(micros(due))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn count_hit(
                &self,
                key_hash: &str,
                now: jiff::Timestamp,
                window: jiff::SignedDuration,
            ) -> Result<RateCount, StoreError> {
                let end = now.checked_add(window).unwrap_or(jiff::Timestamp::MAX);
                // One statement: the row is locked while it is counted, so concurrent hits
                // on any instance each count once. A window that ended starts afresh.
                let r = sqlx::query(
                    "INSERT INTO rate_limits (key_hash, window_start_us, expires_at_us, hits) \
                     VALUES ($1, $2, $3, 1) ON CONFLICT (key_hash) DO UPDATE SET \
                     window_start_us = CASE WHEN rate_limits.expires_at_us <= $2 THEN $2 ELSE rate_limits.window_start_us END, \
                     hits = CASE WHEN rate_limits.expires_at_us <= $2 THEN 1 ELSE rate_limits.hits + 1 END, \
                     expires_at_us = CASE WHEN rate_limits.expires_at_us <= $2 THEN $3 ELSE rate_limits.expires_at_us END \
                     RETURNING hits, expires_at_us",
                )
                .bind(key_hash)
                .bind(micros(now))
                .bind(micros(end))
                .fetch_one(&self.pool)
                .await?;
                Ok(RateCount {
                    hits: r.try_get("hits")?,
                    window_end: from_micros(r.try_get("expires_at_us")?),
                })
            }
        }
    };
}

web_store!(SqliteStore, sqlx::sqlite::SqliteRow);
web_store!(PgStore, sqlx::postgres::PgRow);

impl WebStore for AnyStore {
    async fn insert_operator(&self, o: &OperatorRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_operator(o).await)
    }
    async fn operator_by_name(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
        dispatch!(self, s => s.operator_by_name(name).await)
    }
    async fn operator(&self, id: &str) -> Result<Option<OperatorRecord>, StoreError> {
        dispatch!(self, s => s.operator(id).await)
    }
    async fn operators(&self) -> Result<Vec<OperatorRecord>, StoreError> {
        dispatch!(self, s => s.operators().await)
    }
    async fn change_operator(
        &self,
        id: &str,
        change: OperatorChange,
        actor: &str,
        now: jiff::Timestamp,
    ) -> Result<OperatorChanged, StoreError> {
        dispatch!(self, s => s.change_operator(id, change, actor, now).await)
    }
    async fn enrol_totp(
        &self,
        id: &str,
        secret: &str,
        now: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.enrol_totp(id, secret, now).await)
    }
    async fn record_report_download(
        &self,
        actor: &str,
        request: &str,
        subject: &str,
        lang: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.record_report_download(actor, request, subject, lang, at).await)
    }
    async fn operator_names(&self) -> Result<Vec<(String, String)>, StoreError> {
        dispatch!(self, s => s.operator_names().await)
    }
    async fn advance_totp_step(&self, id: &str, step: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.advance_totp_step(id, step).await)
    }
    async fn insert_session(&self, r: &SessionRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_session(r).await)
    }
    async fn session(
        &self,
        id_hash: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        dispatch!(self, s => s.session(id_hash, now).await)
    }
    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_session(id_hash).await)
    }
    async fn purge_web(&self, now: jiff::Timestamp) -> Result<u64, StoreError> {
        dispatch!(self, s => s.purge_web(now).await)
    }
    async fn put_signin(&self, r: &SigninRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_signin(r).await)
    }
    async fn signin(&self, id_hash: &str) -> Result<Option<SigninRecord>, StoreError> {
        dispatch!(self, s => s.signin(id_hash).await)
    }
    async fn count_signin_attempt(
        &self,
        id_hash: &str,
        max: i64,
        now: jiff::Timestamp,
    ) -> Result<Option<SigninRecord>, StoreError> {
        dispatch!(self, s => s.count_signin_attempt(id_hash, max, now).await)
    }
    async fn delete_signin(&self, id_hash: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_signin(id_hash).await)
    }
    async fn claim_signin_mails(
        &self,
        id_hash: Option<&str>,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: i64,
    ) -> Result<Vec<SigninMail>, StoreError> {
        dispatch!(self, s => s.claim_signin_mails(id_hash, now, lease_until, limit).await)
    }
    async fn signin_mail_sent(&self, id_hash: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.signin_mail_sent(id_hash).await)
    }
    async fn signin_mail_later(
        &self,
        id_hash: &str,
        due: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.signin_mail_later(id_hash, due).await)
    }
    async fn count_hit(
        &self,
        key_hash: &str,
        now: jiff::Timestamp,
        window: jiff::SignedDuration,
    ) -> Result<RateCount, StoreError> {
        dispatch!(self, s => s.count_hit(key_hash, now, window).await)
    }
}
