//! Pseudonymised datasets (N7b), behind [`PseudonymisedStore`]: each registered with its
//! purpose, location, columns and key id, deleted when its purpose's retention ends; and the
//! reversals of format-preserving pseudonyms, each recorded in the audit log before the value
//! is handed out. No pseudonym, value or key is stored here.

use std::future::Future;

use sqlx::Row;

use crate::sql::{from_micros, micros};
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetRecord {
    pub id: String,
    pub purpose: String,
    pub domain: String,
    /// A file path (absolute), as the producer registered it.
    pub location: String,
    /// `column=method` pairs, comma-separated.
    pub columns: String,
    pub key_id: String,
    pub rows: i64,
    pub created_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    pub deleted_at: Option<jiff::Timestamp>,
    pub error: Option<String>,
}

/// One reversal of format-preserving pseudonyms: what, under which key, why (a case or ticket
/// reference), and how many; never the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reversal {
    pub at: jiff::Timestamp,
    pub domain: String,
    pub identifier: String,
    pub key_id: String,
    pub count: usize,
    pub reference: String,
}

pub trait PseudonymisedStore: Send + Sync {
    /// Adds a dataset, with its audit row; [`StoreError::Conflict`] when the id exists.
    fn register_dataset(
        &self,
        d: &DatasetRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every registered dataset, newest first.
    fn datasets(&self) -> impl Future<Output = Result<Vec<DatasetRecord>, StoreError>> + Send;

    /// Datasets whose retention ended at `now` and that are not deleted yet, oldest first.
    fn datasets_due(
        &self,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<DatasetRecord>, StoreError>> + Send;

    /// Records that dataset `id` is gone (with an audit row), or why deleting it failed.
    fn dataset_swept(
        &self,
        id: &str,
        at: jiff::Timestamp,
        error: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a reversal in the audit log; the caller hands the values out only after this.
    fn record_reversal(&self, r: &Reversal) -> impl Future<Output = Result<(), StoreError>> + Send;
}

const COLUMNS: &str = "id, purpose, domain, location, columns, key_id, row_count, created_at_us, expires_at_us, deleted_at_us, error";

macro_rules! pseudonymised_store {
    ($store:ty, $row:ty) => {
        impl $store {
            fn dataset_from(r: &$row) -> Result<DatasetRecord, StoreError> {
                Ok(DatasetRecord {
                    id: r.try_get("id")?,
                    purpose: r.try_get("purpose")?,
                    domain: r.try_get("domain")?,
                    location: r.try_get("location")?,
                    columns: r.try_get("columns")?,
                    key_id: r.try_get("key_id")?,
                    rows: r.try_get("row_count")?,
                    created_at: from_micros(r.try_get("created_at_us")?),
                    expires_at: from_micros(r.try_get("expires_at_us")?),
                    deleted_at: r.try_get::<Option<i64>, _>("deleted_at_us")?.map(from_micros),
                    error: r.try_get("error")?,
                })
            }
        }

        impl PseudonymisedStore for $store {
            async fn register_dataset(&self, d: &DatasetRecord) -> Result<(), StoreError> {
                let mut tx = self.begin_sealed().await?;
                let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO pseudonymised_datasets ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (id) DO NOTHING"
                )))
                .bind(&d.id)
                .bind(&d.purpose)
                .bind(&d.domain)
                .bind(&d.location)
                .bind(&d.columns)
                .bind(&d.key_id)
                .bind(d.rows)
                .bind(micros(d.created_at))
                .bind(micros(d.expires_at))
                .bind(d.deleted_at.map(micros))
                .bind(&d.error)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                let body = serde_json::json!({
                    "purpose": d.purpose, "domain": d.domain, "columns": d.columns,
                    "key_id": d.key_id, "rows": d.rows, "expires_at": d.expires_at.to_string(),
                })
                .to_string();
                audit!(tx, micros(d.created_at), "api", "pseudonymised_dataset_registered", &d.id, None::<&str>, body);
                tx.commit().await?;
                Ok(())
            }

            async fn datasets(&self) -> Result<Vec<DatasetRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM pseudonymised_datasets ORDER BY created_at_us DESC, id"
                )))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::dataset_from).collect()
            }

            async fn datasets_due(&self, now: jiff::Timestamp) -> Result<Vec<DatasetRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM pseudonymised_datasets \
                     WHERE deleted_at_us IS NULL AND expires_at_us <= $1 ORDER BY expires_at_us, id"
                )))
                .bind(micros(now))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::dataset_from).collect()
            }

            async fn dataset_swept(&self, id: &str, at: jiff::Timestamp, error: Option<&str>) -> Result<(), StoreError> {
                let mut tx = self.begin_sealed().await?;
                if let Some(error) = error {
                    sqlx::query("UPDATE pseudonymised_datasets SET error = $2 WHERE id = $1")
                        .bind(id)
                        .bind(error)
                        .execute(&mut *tx)
                        .await?;
                } else {
                    let n = sqlx::query(
                        "UPDATE pseudonymised_datasets SET deleted_at_us = $2, error = NULL WHERE id = $1 AND deleted_at_us IS NULL",
                    )
                    .bind(id)
                    .bind(micros(at))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n == 1 {
                        audit!(tx, micros(at), "system", "pseudonymised_dataset_deleted", id, None::<&str>, "{}");
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn record_reversal(&self, r: &Reversal) -> Result<(), StoreError> {
                let mut tx = self.begin_sealed().await?;
                let body = serde_json::json!({
                    "identifier": r.identifier, "key_id": r.key_id, "count": r.count, "reference": r.reference,
                })
                .to_string();
                audit!(tx, micros(r.at), "api", "pseudonym_reversal", &r.domain, None::<&str>, body);
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pseudonymised_store!(SqliteStore, sqlx::sqlite::SqliteRow);
pseudonymised_store!(PgStore, sqlx::postgres::PgRow);

impl PseudonymisedStore for AnyStore {
    async fn register_dataset(&self, d: &DatasetRecord) -> Result<(), StoreError> {
        dispatch!(self, st => st.register_dataset(d).await)
    }
    async fn datasets(&self) -> Result<Vec<DatasetRecord>, StoreError> {
        dispatch!(self, st => st.datasets().await)
    }
    async fn datasets_due(&self, now: jiff::Timestamp) -> Result<Vec<DatasetRecord>, StoreError> {
        dispatch!(self, st => st.datasets_due(now).await)
    }
    async fn dataset_swept(
        &self,
        id: &str,
        at: jiff::Timestamp,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        dispatch!(self, st => st.dataset_swept(id, at, error).await)
    }
    async fn record_reversal(&self, r: &Reversal) -> Result<(), StoreError> {
        dispatch!(self, st => st.record_reversal(r).await)
    }
}
