//! Policy activations, behind [`ActivationStore`]: a version asked to take effect now or at a
//! future time, with the policy files it consists of, and what became of it. Every server
//! instance reads this table, so an activation reaches all of them.

use std::future::Future;

use sqlx::Row;

use crate::sql::{from_micros, micros};
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationRecord {
    pub id: String,
    /// The policy version (hash of its files).
    pub hash: String,
    pub notice_version: String,
    /// The policy files, as `tutela_core::policy::RecordedSource` in JSON.
    pub sources: String,
    /// The file the policy starts from.
    pub root: String,
    pub effective_at: jiff::Timestamp,
    /// `operator:<id>` or `cli:<name>`.
    pub requested_by: String,
    pub requested_at: jiff::Timestamp,
    /// `scheduled`, `active`, `superseded`, `refused` or `cancelled`.
    pub status: String,
    pub decided_at: Option<jiff::Timestamp>,
    /// Why a version was refused.
    pub error: Option<String>,
}

pub trait ActivationStore: Send + Sync {
    fn insert_activation(
        &self,
        a: &ActivationRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every activation, by effective time.
    fn activations(&self)
    -> impl Future<Output = Result<Vec<ActivationRecord>, StoreError>> + Send;

    /// Moves an activation from status `from` to `to`; [`StoreError::Conflict`] when it is no
    /// longer in `from` (another instance decided it first).
    fn decide_activation(
        &self,
        id: &str,
        from: &str,
        to: &str,
        at: jiff::Timestamp,
        error: Option<&str>,
        actor: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

const COLUMNS: &str = "id, hash, notice_version, sources, root, effective_at_us, requested_by, requested_at_us, status, decided_at_us, error";

macro_rules! activation_store {
    ($store:ty, $row:ty) => {
        impl $store {
            fn activation_from(r: &$row) -> Result<ActivationRecord, StoreError> {
                Ok(ActivationRecord {
                    id: r.try_get("id")?,
                    hash: r.try_get("hash")?,
                    notice_version: r.try_get("notice_version")?,
                    sources: r.try_get("sources")?,
                    root: r.try_get("root")?,
                    effective_at: from_micros(r.try_get("effective_at_us")?),
                    requested_by: r.try_get("requested_by")?,
                    requested_at: from_micros(r.try_get("requested_at_us")?),
                    status: r.try_get("status")?,
                    decided_at: r.try_get::<Option<i64>, _>("decided_at_us")?.map(from_micros),
                    error: r.try_get("error")?,
                })
            }
        }

        impl ActivationStore for $store {
            async fn insert_activation(&self, a: &ActivationRecord) -> Result<(), StoreError> {
                let mut tx = self.begin_sealed().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO policy_activations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                )))
                .bind(&a.id)
                .bind(&a.hash)
                .bind(&a.notice_version)
                .bind(&a.sources)
                .bind(&a.root)
                .bind(micros(a.effective_at))
                .bind(&a.requested_by)
                .bind(micros(a.requested_at))
                .bind(&a.status)
                .bind(a.decided_at.map(micros))
                .bind(&a.error)
                .execute(&mut *tx)
                .await?;
                let body = serde_json::json!({
                    "hash": a.hash,
                    "notice_version": a.notice_version,
                    "effective_at_us": micros(a.effective_at),
                    "status": a.status,
                })
                .to_string();
                audit!(tx, micros(a.requested_at), &a.requested_by, "policy_activation_requested", &a.id, None::<&str>, body);
                tx.commit().await?;
                Ok(())
            }

            async fn activations(&self) -> Result<Vec<ActivationRecord>, StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM policy_activations ORDER BY effective_at_us, requested_at_us, id"
                )))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::activation_from)
                .collect()
            }

            async fn decide_activation(
                &self,
                id: &str,
                from: &str,
                to: &str,
                at: jiff::Timestamp,
                error: Option<&str>,
                actor: &str,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_sealed().await?;
                let n = sqlx::query(
                    "UPDATE policy_activations SET status = $3, decided_at_us = $4, error = $5 WHERE id = $1 AND status = $2",
                )
                .bind(id)
                .bind(from)
                .bind(to)
                .bind(micros(at))
                .bind(error)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                let body = serde_json::json!({ "from": from, "to": to, "refused": error.is_some() }).to_string();
                audit!(tx, micros(at), actor, "policy_activation_decided", id, None::<&str>, body);
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

activation_store!(SqliteStore, sqlx::sqlite::SqliteRow);
activation_store!(PgStore, sqlx::postgres::PgRow);

impl ActivationStore for AnyStore {
    async fn insert_activation(&self, a: &ActivationRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_activation(a).await)
    }
    async fn activations(&self) -> Result<Vec<ActivationRecord>, StoreError> {
        dispatch!(self, s => s.activations().await)
    }
    async fn decide_activation(
        &self,
        id: &str,
        from: &str,
        to: &str,
        at: jiff::Timestamp,
        error: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.decide_activation(id, from, to, at, error, actor).await)
    }
}
