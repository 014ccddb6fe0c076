//! Persistence for the disclosure log, behind [`DisclosureStore`]; both SQL stores share it.

use std::future::Future;

use sqlx::Row;

use crate::sql::{from_micros, micros};
use crate::vault::{OwnerKind, open_opt, seal_opt};
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureRecord {
    pub id: String,
    pub subject: String,
    pub at: jiff::Timestamp,
    pub recipient: String,
    pub purpose: String,
    /// Category ids, JSON.
    pub categories: String,
    pub country: Option<String>,
    pub allowed: bool,
    pub legal_basis: Option<String>,
    pub reason: String,
    pub reference: Option<String>,
    pub bar_reason: Option<String>,
    pub bar_until: Option<jiff::Timestamp>,
    pub bar_lifted_at: Option<jiff::Timestamp>,
}

impl DisclosureRecord {
    /// Whether a legal bar keeps it from the person at `now`.
    pub fn barred(&self, now: jiff::Timestamp) -> bool {
        self.bar_reason.is_some()
            && self.bar_lifted_at.is_none()
            && self.bar_until.is_none_or(|u| now < u)
    }
}

pub trait DisclosureStore: Send + Sync {
    fn insert_disclosure(
        &self,
        d: &DisclosureRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The person's disclosures, oldest first.
    fn disclosures_of(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<DisclosureRecord>, StoreError>> + Send;

    fn disclosure(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<DisclosureRecord>, StoreError>> + Send;

    /// Lifts a legal bar; [`StoreError::Conflict`] when there is none to lift.
    fn lift_disclosure_bar(
        &self,
        id: &str,
        at: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

const COLUMNS: &str = "id, subject, at_us, recipient, purpose, categories, country, allowed, legal_basis, reason, reference, bar_reason, bar_until_us, bar_lifted_at_us";

macro_rules! disclosure_store {
    ($store:ty, $row:ty) => {
        impl $store {
            fn disclosure_from(r: &$row) -> Result<DisclosureRecord, StoreError> {
                Ok(DisclosureRecord {
                    id: r.try_get("id")?,
                    subject: r.try_get("subject")?,
                    at: from_micros(r.try_get("at_us")?),
                    recipient: r.try_get("recipient")?,
                    purpose: r.try_get("purpose")?,
                    categories: r.try_get("categories")?,
                    country: r.try_get("country")?,
                    allowed: r.try_get::<i64, _>("allowed")? != 0,
                    legal_basis: r.try_get("legal_basis")?,
                    reason: r.try_get("reason")?,
                    reference: r.try_get("reference")?,
                    bar_reason: r.try_get("bar_reason")?,
                    bar_until: r.try_get::<Option<i64>, _>("bar_until_us")?.map(from_micros),
                    bar_lifted_at: r.try_get::<Option<i64>, _>("bar_lifted_at_us")?.map(from_micros),
                })
            }

            // The reference (a court order, a file number) outlives the person's erasure: the
            // disclosure log is a legal record, so it is sealed under the retained key.
            async fn disclosures_opened(&self, rows: Vec<$row>) -> Result<Vec<DisclosureRecord>, StoreError> {
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let mut d = Self::disclosure_from(r)?;
                    d.reference = open_opt(self.vault.as_deref(), &d.subject, "disclosures.reference", d.reference).await?;
                    out.push(d);
                }
                Ok(out)
            }
        }

        impl DisclosureStore for $store {
            async fn insert_disclosure(&self, d: &DisclosureRecord) -> Result<(), StoreError> {
                let reference = seal_opt(
                    self.vault.as_deref(),
                    OwnerKind::Retained,
                    &d.subject,
                    "disclosures.reference",
                    d.reference.as_deref(),
                )
                .await?;
                let mut tx = self.begin_sealed().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO disclosures ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                )))
                .bind(&d.id)
                .bind(&d.subject)
                .bind(micros(d.at))
                .bind(&d.recipient)
                .bind(&d.purpose)
                .bind(&d.categories)
                .bind(&d.country)
                .bind(i64::from(d.allowed))
                .bind(&d.legal_basis)
                .bind(&d.reason)
                .bind(&reference)
                .bind(&d.bar_reason)
                .bind(d.bar_until.map(micros))
                .bind(d.bar_lifted_at.map(micros))
                .execute(&mut *tx)
                .await?;
                let body = serde_json::json!({
                    "recipient": d.recipient,
                    "purpose": d.purpose,
                    "allowed": d.allowed,
                    "reason": d.reason,
                    "country": d.country,
                    "barred": d.bar_reason.is_some(),
                })
                .to_string();
                let kind = if d.allowed { "disclosure_made" } else { "disclosure_refused" };
                audit!(tx, micros(d.at), "api", kind, &d.id, Some(&d.subject), body);
                tx.commit().await?;
                Ok(())
            }

            async fn disclosures_of(&self, subject: &str) -> Result<Vec<DisclosureRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM disclosures WHERE subject = $1 ORDER BY at_us, id"
                )))
                .bind(subject)
                .fetch_all(&self.pool)
                .await?;
                self.disclosures_opened(rows).await
            }

            async fn disclosure(&self, id: &str) -> Result<Option<DisclosureRecord>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM disclosures WHERE id = $1")))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(self.disclosures_opened(row.into_iter().collect()).await?.pop())
            }

            async fn lift_disclosure_bar(&self, id: &str, at: jiff::Timestamp) -> Result<(), StoreError> {
                let mut tx = self.begin_sealed().await?;
                let n = sqlx::query(
                    "UPDATE disclosures SET bar_lifted_at_us = $2 WHERE id = $1 AND bar_reason IS NOT NULL AND bar_lifted_at_us IS NULL",
                )
                .bind(id)
                .bind(micros(at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                audit!(tx, micros(at), "api", "disclosure_bar_lifted", id, None::<&str>, "{}");
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

disclosure_store!(SqliteStore, sqlx::sqlite::SqliteRow);
disclosure_store!(PgStore, sqlx::postgres::PgRow);

impl DisclosureStore for AnyStore {
    async fn insert_disclosure(&self, d: &DisclosureRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_disclosure(d).await)
    }
    async fn disclosures_of(&self, subject: &str) -> Result<Vec<DisclosureRecord>, StoreError> {
        dispatch!(self, s => s.disclosures_of(subject).await)
    }
    async fn disclosure(&self, id: &str) -> Result<Option<DisclosureRecord>, StoreError> {
        dispatch!(self, s => s.disclosure(id).await)
    }
    async fn lift_disclosure_bar(&self, id: &str, at: jiff::Timestamp) -> Result<(), StoreError> {
        dispatch!(self, s => s.lift_disclosure_bar(id, at).await)
    }
}
