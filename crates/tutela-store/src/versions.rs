//! The notice archive, behind [`PolicyArchive`]: every policy version loaded, with its
//! rendered notices.

use std::future::Future;

use sqlx::Row;

use crate::sql::{from_micros, micros};
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionRecord {
    pub hash: String,
    pub policy_id: String,
    pub notice_version: String,
    pub first_loaded_at: jiff::Timestamp,
    pub activated_by: String,
    pub notice_de_html: String,
    pub notice_en_html: String,
    pub notice_de_md: String,
    pub notice_en_md: String,
}

pub trait PolicyArchive: Send + Sync {
    /// Keeps the version unless it is kept already (the first load stays on record).
    fn archive_policy(
        &self,
        v: &PolicyVersionRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The version whose hash is `key`, or the first loaded with notice version `key`.
    fn policy_version(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<PolicyVersionRecord>, StoreError>> + Send;

    /// Every version kept, oldest first.
    fn policy_versions(
        &self,
    ) -> impl Future<Output = Result<Vec<PolicyVersionRecord>, StoreError>> + Send;
}

const COLUMNS: &str = "hash, policy_id, notice_version, first_loaded_at_us, activated_by, notice_de_html, notice_en_html, notice_de_md, notice_en_md";

macro_rules! archive {
    ($store:ty, $row:ty) => {
        impl $store {
            fn version_from(r: &$row) -> Result<PolicyVersionRecord, StoreError> {
                Ok(PolicyVersionRecord {
                    hash: r.try_get("hash")?,
                    policy_id: r.try_get("policy_id")?,
                    notice_version: r.try_get("notice_version")?,
                    first_loaded_at: from_micros(r.try_get("first_loaded_at_us")?),
                    activated_by: r.try_get("activated_by")?,
                    notice_de_html: r.try_get("notice_de_html")?,
                    notice_en_html: r.try_get("notice_en_html")?,
                    notice_de_md: r.try_get("notice_de_md")?,
                    notice_en_md: r.try_get("notice_en_md")?,
                })
            }
        }

        impl PolicyArchive for $store {
            async fn archive_policy(&self, v: &PolicyVersionRecord) -> Result<(), StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO policy_versions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (hash) DO NOTHING"
                )))
                .bind(&v.hash)
                .bind(&v.policy_id)
                .bind(&v.notice_version)
                .bind(micros(v.first_loaded_at))
                .bind(&v.activated_by)
                .bind(&v.notice_de_html)
                .bind(&v.notice_en_html)
                .bind(&v.notice_de_md)
                .bind(&v.notice_en_md)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn policy_version(&self, key: &str) -> Result<Option<PolicyVersionRecord>, StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM policy_versions WHERE hash = $1 OR notice_version = $1 \
                     ORDER BY CASE WHEN hash = $1 THEN 0 ELSE 1 END, first_loaded_at_us LIMIT 1"
                )))
                .bind(key)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| Self::version_from(&r))
                .transpose()
            }

            async fn policy_versions(&self) -> Result<Vec<PolicyVersionRecord>, StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM policy_versions ORDER BY first_loaded_at_us, hash"
                )))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::version_from)
                .collect()
            }
        }
    };
}

archive!(SqliteStore, sqlx::sqlite::SqliteRow);
archive!(PgStore, sqlx::postgres::PgRow);

impl PolicyArchive for AnyStore {
    async fn archive_policy(&self, v: &PolicyVersionRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.archive_policy(v).await)
    }
    async fn policy_version(&self, key: &str) -> Result<Option<PolicyVersionRecord>, StoreError> {
        dispatch!(self, s => s.policy_version(key).await)
    }
    async fn policy_versions(&self) -> Result<Vec<PolicyVersionRecord>, StoreError> {
        dispatch!(self, s => s.policy_versions().await)
    }
}
