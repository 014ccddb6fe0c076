//! Persistence for the web pages, behind [`WebStore`]: operator accounts, sessions of people
//! and operators, and the one-time codes of a person's sign-in. Both SQL stores share it.
//!
//! Secrets are stored only as hashes: a session cookie as its SHA-256, a sign-in code salted,
//! a password as an argon2id PHC string. The second factor's shared secret must be readable to
//! check a code, so it is the one secret kept as it is.

use std::future::Future;

use sqlx::Row;

use crate::requests::CodeRecord;
use crate::sql::{from_micros, micros};
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

    /// Stores (or replaces) the code of a pending sign-in for `subject`.
    fn put_signin(
        &self,
        id: &str,
        subject: &str,
        code: &CodeRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The subject and code of a pending sign-in.
    fn signin(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<(String, CodeRecord)>, StoreError>> + Send;

    fn delete_signin(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

const OPERATOR_COLUMNS: &str =
    "id, name, role, password_hash, totp_secret, totp_last_step, created_at_us, disabled_at_us";

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
                })
            }

            async fn operator_where(&self, column: &str, value: &str) -> Result<Option<OperatorRecord>, StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {OPERATOR_COLUMNS} FROM operators WHERE {column} = $1"
                )))
                .bind(value)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| Self::operator_from(&r))
                .transpose()
            }
        }

        impl WebStore for $store {
            async fn insert_operator(&self, o: &OperatorRecord) -> Result<(), StoreError> {
                let mut tx = self.begin_sealed().await?;
                let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO operators ({OPERATOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (name) DO NOTHING"
                )))
                .bind(&o.id)
                .bind(&o.name)
                .bind(&o.role)
                .bind(&o.password_hash)
                .bind(&o.totp_secret)
                .bind(o.totp_last_step)
                .bind(micros(o.created_at))
                .bind(o.disabled_at.map(micros))
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
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {OPERATOR_COLUMNS} FROM operators ORDER BY name"
                )))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::operator_from)
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
                for table in ["web_sessions", "signin_codes"] {
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

            async fn put_signin(&self, id: &str, subject: &str, c: &CodeRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO signin_codes (id, subject, salt, code_hash, expires_at_us, attempts, locked) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
                     attempts = excluded.attempts, locked = excluded.locked",
                )
                .bind(id)
                .bind(subject)
                .bind(&c.salt)
                .bind(&c.code_hash)
                .bind(micros(c.expires_at))
                .bind(c.attempts)
                .bind(i64::from(c.locked))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn signin(&self, id: &str) -> Result<Option<(String, CodeRecord)>, StoreError> {
                sqlx::query(
                    "SELECT subject, salt, code_hash, expires_at_us, attempts, locked FROM signin_codes WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| {
                    Ok((
                        r.try_get("subject")?,
                        CodeRecord {
                            salt: r.try_get("salt")?,
                            code_hash: r.try_get("code_hash")?,
                            expires_at: from_micros(r.try_get("expires_at_us")?),
                            attempts: r.try_get("attempts")?,
                            locked: r.try_get::<i64, _>("locked")? != 0,
                        },
                    ))
                })
                .transpose()
            }

            async fn delete_signin(&self, id: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM signin_codes WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
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
    async fn put_signin(&self, id: &str, subject: &str, c: &CodeRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_signin(id, subject, c).await)
    }
    async fn signin(&self, id: &str) -> Result<Option<(String, CodeRecord)>, StoreError> {
        dispatch!(self, s => s.signin(id).await)
    }
    async fn delete_signin(&self, id: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_signin(id).await)
    }
}
