//! AI call summaries (N24), behind [`SummaryStore`]: drafts for the agent who had the call,
//! reviewed into the person's service history, or expired.

use std::future::Future;

use sqlx::Row;

use crate::sql::{from_micros, micros};
use crate::vault::{OwnerKind, open_opt, seal_many, seal_opt};
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRecord {
    pub id: String,
    pub subject: String,
    pub call_id: String,
    /// The operator id of the agent who had the call.
    pub agent: String,
    /// The AI's draft, until reviewed or expired.
    pub draft: Option<String>,
    /// The reviewed text (approved as drafted, or edited).
    pub text: Option<String>,
    /// `draft`, `approved`, `edited`, `rejected` or `expired`.
    pub status: String,
    pub created_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    pub reviewed_at: Option<jiff::Timestamp>,
    pub reviewed_by: Option<String>,
}

pub trait SummaryStore: Send + Sync {
    /// Adds a draft; [`StoreError::Conflict`] when the call has one already.
    fn insert_summary(
        &self,
        s: &SummaryRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn summary(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<SummaryRecord>, StoreError>> + Send;

    /// Drafts still open at `now`: of one agent, or all (for supervisors), oldest first.
    fn open_drafts(
        &self,
        agent: Option<&str>,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<SummaryRecord>, StoreError>> + Send;

    /// Ends an open draft as `status` (`approved`, `edited`, `rejected`) with the reviewed
    /// text; the draft itself is cleared. [`StoreError::Conflict`] when it is not an open
    /// draft at `at` (reviewed already, or expired).
    fn review_summary(
        &self,
        id: &str,
        status: &str,
        text: Option<&str>,
        by: &str,
        at: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Drafts unreviewed past their time become `expired`, their text cleared; how many.
    fn expire_summaries(
        &self,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The person's reviewed summaries (their service history), oldest first.
    fn reviewed_summaries(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<SummaryRecord>, StoreError>> + Send;

    /// Every reviewed summary, for training sets.
    fn all_reviewed_summaries(
        &self,
    ) -> impl Future<Output = Result<Vec<SummaryRecord>, StoreError>> + Send;
}

const COLUMNS: &str = "id, subject, call_id, agent, draft, text, status, created_at_us, expires_at_us, reviewed_at_us, reviewed_by";
const REVIEWED: &str = "status IN ('approved', 'edited')";

macro_rules! summary_store {
    ($store:ty, $row:ty) => {
        impl $store {
            fn summary_from(r: &$row) -> Result<SummaryRecord, StoreError> {
                Ok(SummaryRecord {
                    id: r.try_get("id")?,
                    subject: r.try_get("subject")?,
                    call_id: r.try_get("call_id")?,
                    agent: r.try_get("agent")?,
                    draft: r.try_get("draft")?,
                    text: r.try_get("text")?,
                    status: r.try_get("status")?,
                    created_at: from_micros(r.try_get("created_at_us")?),
                    expires_at: from_micros(r.try_get("expires_at_us")?),
                    reviewed_at: r.try_get::<Option<i64>, _>("reviewed_at_us")?.map(from_micros),
                    reviewed_by: r.try_get("reviewed_by")?,
                })
            }

            async fn summaries_opened(&self, rows: Vec<$row>) -> Result<Vec<SummaryRecord>, StoreError> {
                let vault = self.vault.as_deref();
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let mut s = Self::summary_from(r)?;
                    s.draft = open_opt(vault, &s.subject, "call_summaries.draft", s.draft).await?;
                    s.text = open_opt(vault, &s.subject, "call_summaries.text", s.text).await?;
                    out.push(s);
                }
                Ok(out)
            }
        }

        impl SummaryStore for $store {
            async fn insert_summary(&self, s: &SummaryRecord) -> Result<(), StoreError> {
                let sealed = seal_many(
                    self.vault.as_deref(),
                    OwnerKind::Subject,
                    &[
                        (s.subject.as_str(), "call_summaries.draft", s.draft.as_deref()),
                        (s.subject.as_str(), "call_summaries.text", s.text.as_deref()),
                    ],
                )
                .await?;
                let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO call_summaries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (call_id) DO NOTHING"
                )))
                .bind(&s.id)
                .bind(&s.subject)
                .bind(&s.call_id)
                .bind(&s.agent)
                .bind(&sealed[0])
                .bind(&sealed[1])
                .bind(&s.status)
                .bind(micros(s.created_at))
                .bind(micros(s.expires_at))
                .bind(s.reviewed_at.map(micros))
                .bind(&s.reviewed_by)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if n == 1 { Ok(()) } else { Err(StoreError::Conflict) }
            }

            async fn summary(&self, id: &str) -> Result<Option<SummaryRecord>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM call_summaries WHERE id = $1")))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(self.summaries_opened(row.into_iter().collect()).await?.pop())
            }

            async fn open_drafts(&self, agent: Option<&str>, now: jiff::Timestamp) -> Result<Vec<SummaryRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM call_summaries WHERE status = 'draft' AND expires_at_us > $1 \
                     AND ($2 IS NULL OR agent = $2) ORDER BY created_at_us, id"
                )))
                .bind(micros(now))
                .bind(agent)
                .fetch_all(&self.pool)
                .await?;
                self.summaries_opened(rows).await
            }

            async fn review_summary(
                &self,
                id: &str,
                status: &str,
                text: Option<&str>,
                by: &str,
                at: jiff::Timestamp,
            ) -> Result<(), StoreError> {
                let subject: Option<String> = sqlx::query_scalar("SELECT subject FROM call_summaries WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(subject) = subject else { return Err(StoreError::Conflict) };
                let text = seal_opt(self.vault.as_deref(), OwnerKind::Subject, &subject, "call_summaries.text", text).await?;
                let mut tx = self.begin_sealed().await?;
                let n = sqlx::query(
                    "UPDATE call_summaries SET status = $2, text = $3, draft = NULL, reviewed_by = $4, reviewed_at_us = $5 \
                     WHERE id = $1 AND status = 'draft' AND expires_at_us > $5",
                )
                .bind(id)
                .bind(status)
                .bind(&text)
                .bind(by)
                .bind(micros(at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                let body = serde_json::json!({ "status": status }).to_string();
                audit!(tx, micros(at), by, "summary_review", id, Some(&subject), body);
                tx.commit().await?;
                Ok(())
            }

            async fn expire_summaries(&self, now: jiff::Timestamp) -> Result<u64, StoreError> {
                let mut tx = self.begin_sealed().await?;
                let n = sqlx::query(
                    "UPDATE call_summaries SET status = 'expired', draft = NULL WHERE status = 'draft' AND expires_at_us <= $1",
                )
                .bind(micros(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n > 0 {
                    let body = serde_json::json!({ "expired": n }).to_string();
                    audit!(tx, micros(now), "system", "summary_drafts_expired", "call_summaries", None::<&str>, body);
                }
                tx.commit().await?;
                Ok(n)
            }

            async fn reviewed_summaries(&self, subject: &str) -> Result<Vec<SummaryRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM call_summaries WHERE subject = $1 AND {REVIEWED} ORDER BY created_at_us, id"
                )))
                .bind(subject)
                .fetch_all(&self.pool)
                .await?;
                self.summaries_opened(rows).await
            }

            async fn all_reviewed_summaries(&self) -> Result<Vec<SummaryRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM call_summaries WHERE {REVIEWED} ORDER BY created_at_us, id"
                )))
                .fetch_all(&self.pool)
                .await?;
                self.summaries_opened(rows).await
            }
        }
    };
}

summary_store!(SqliteStore, sqlx::sqlite::SqliteRow);
summary_store!(PgStore, sqlx::postgres::PgRow);

impl SummaryStore for AnyStore {
    async fn insert_summary(&self, s: &SummaryRecord) -> Result<(), StoreError> {
        dispatch!(self, st => st.insert_summary(s).await)
    }
    async fn summary(&self, id: &str) -> Result<Option<SummaryRecord>, StoreError> {
        dispatch!(self, st => st.summary(id).await)
    }
    async fn open_drafts(
        &self,
        agent: Option<&str>,
        now: jiff::Timestamp,
    ) -> Result<Vec<SummaryRecord>, StoreError> {
        dispatch!(self, st => st.open_drafts(agent, now).await)
    }
    async fn review_summary(
        &self,
        id: &str,
        status: &str,
        text: Option<&str>,
        by: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self, st => st.review_summary(id, status, text, by, at).await)
    }
    async fn expire_summaries(&self, now: jiff::Timestamp) -> Result<u64, StoreError> {
        dispatch!(self, st => st.expire_summaries(now).await)
    }
    async fn reviewed_summaries(&self, subject: &str) -> Result<Vec<SummaryRecord>, StoreError> {
        dispatch!(self, st => st.reviewed_summaries(subject).await)
    }
    async fn all_reviewed_summaries(&self) -> Result<Vec<SummaryRecord>, StoreError> {
        dispatch!(self, st => st.all_reviewed_summaries().await)
    }
}
