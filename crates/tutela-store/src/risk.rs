//! Persistence for risk checks, behind [`RiskStore`]; both SQL stores share this SQL.

use std::future::Future;

use sqlx::Row;

use crate::sql::{from_micros, micros};
use crate::vault::{OwnerKind, open_opt, seal_many, seal_opt};
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

/// A risk check as stored. Facts, reasons and the agency's answer are JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskCheckRecord {
    pub id: String,
    pub subject: String,
    pub created_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    pub outcome: String,
    /// `pending` for a decline waiting for a person; `accepted` or `declined` after review.
    pub review: Option<String>,
    pub probability: f64,
    pub points: f64,
    pub reasons: String,
    pub facts: String,
    pub agency_queried: bool,
    pub agency_answer: Option<String>,
    pub decision: String,
    pub reviewer: Option<String>,
    pub review_note: Option<String>,
    pub reviewed_at: Option<jiff::Timestamp>,
    pub model: String,
}

pub trait RiskStore: Send + Sync {
    fn insert_risk_check(
        &self,
        check: &RiskCheckRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Inserts several checks in one transaction (a group commit: one flush for all).
    fn insert_risk_checks(
        &self,
        checks: &[RiskCheckRecord],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn risk_check(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<RiskCheckRecord>, StoreError>> + Send;

    /// Records a person's review of a pending decline; [`StoreError::Conflict`] when it is not
    /// pending (any more).
    fn review_risk_check(
        &self,
        id: &str,
        review: &str,
        reviewer: &str,
        note: &str,
        at: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Checks whose review is pending, oldest first.
    fn pending_risk_reviews(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RiskCheckRecord>, StoreError>> + Send;

    fn risk_checks_of(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<RiskCheckRecord>, StoreError>> + Send;

    /// Deletes checks whose year is over (N15), except those of persons under an active legal
    /// hold (N5a); returns how many.
    fn purge_risk_checks(
        &self,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

const COLUMNS: &str = "id, subject, created_at_us, expires_at_us, outcome, review, probability, points, reasons, facts, agency_queried, agency_answer, decision, reviewer, review_note, reviewed_at_us, model";

macro_rules! risk_store {
    ($store:ty, $row:ty) => {
        impl $store {
            fn risk_from(r: &$row) -> Result<RiskCheckRecord, StoreError> {
                Ok(RiskCheckRecord {
                    id: r.try_get("id")?,
                    subject: r.try_get("subject")?,
                    created_at: from_micros(r.try_get("created_at_us")?),
                    expires_at: from_micros(r.try_get("expires_at_us")?),
                    outcome: r.try_get("outcome")?,
                    review: r.try_get("review")?,
                    probability: r.try_get("probability")?,
                    points: r.try_get("points")?,
                    reasons: r.try_get("reasons")?,
                    facts: r.try_get("facts")?,
                    agency_queried: r.try_get::<i64, _>("agency_queried")? != 0,
                    agency_answer: r.try_get("agency_answer")?,
                    decision: r.try_get("decision")?,
                    reviewer: r.try_get("reviewer")?,
                    review_note: r.try_get("review_note")?,
                    reviewed_at: r.try_get::<Option<i64>, _>("reviewed_at_us")?.map(from_micros),
                    model: r.try_get("model")?,
                })
            }

            async fn risk_opened(&self, mut c: RiskCheckRecord) -> Result<RiskCheckRecord, StoreError> {
                let vault = self.vault.as_deref();
                if let Some(facts) = open_opt(vault, &c.subject, "risk_checks.facts", Some(c.facts)).await? {
                    c.facts = facts;
                } else {
                    // The person was erased: their facts are unreadable.
                    c.facts = "{}".to_owned();
                }
                c.agency_answer = open_opt(vault, &c.subject, "risk_checks.agency_answer", c.agency_answer).await?;
                c.review_note = open_opt(vault, &c.subject, "risk_checks.review_note", c.review_note).await?;
                Ok(c)
            }

            async fn risks_opened(&self, rows: Vec<$row>) -> Result<Vec<RiskCheckRecord>, StoreError> {
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    out.push(self.risk_opened(Self::risk_from(r)?).await?);
                }
                Ok(out)
            }
        }

        impl RiskStore for $store {
            async fn insert_risk_check(&self, c: &RiskCheckRecord) -> Result<(), StoreError> {
                self.insert_risk_checks(std::slice::from_ref(c)).await
            }

            async fn insert_risk_checks(&self, checks: &[RiskCheckRecord]) -> Result<(), StoreError> {
                let items: Vec<(&str, &str, Option<&str>)> = checks
                    .iter()
                    .flat_map(|c| {
                        [
                            (c.subject.as_str(), "risk_checks.facts", Some(c.facts.as_str())),
                            (c.subject.as_str(), "risk_checks.agency_answer", c.agency_answer.as_deref()),
                            (c.subject.as_str(), "risk_checks.review_note", c.review_note.as_deref()),
                        ]
                    })
                    .collect();
                let sealed = seal_many(self.vault.as_deref(), OwnerKind::Subject, &items).await?;
                let mut tx = self.begin_sealed().await?;
                for (c, sealed) in checks.iter().zip(sealed.chunks(3)) {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO risk_checks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                )))
                .bind(&c.id)
                .bind(&c.subject)
                .bind(micros(c.created_at))
                .bind(micros(c.expires_at))
                .bind(&c.outcome)
                .bind(&c.review)
                .bind(c.probability)
                .bind(c.points)
                .bind(&c.reasons)
                .bind(&sealed[0])
                .bind(i64::from(c.agency_queried))
                .bind(&sealed[1])
                .bind(&c.decision)
                .bind(&c.reviewer)
                .bind(&sealed[2])
                .bind(c.reviewed_at.map(micros))
                .bind(&c.model)
                .execute(&mut *tx)
                .await?;
                let body = serde_json::json!({
                    "outcome": c.outcome,
                    "agency_queried": c.agency_queried,
                    "model": c.model,
                })
                .to_string();
                audit!(tx, micros(c.created_at), "api", "risk_check", &c.id, Some(&c.subject), body);
                }
                tx.commit().await?;
                Ok(())
            }

            async fn risk_check(&self, id: &str) -> Result<Option<RiskCheckRecord>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM risk_checks WHERE id = $1")))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                match row {
                    Some(r) => Ok(Some(self.risk_opened(Self::risk_from(&r)?).await?)),
                    None => Ok(None),
                }
            }

            async fn review_risk_check(
                &self,
                id: &str,
                review: &str,
                reviewer: &str,
                note: &str,
                at: jiff::Timestamp,
            ) -> Result<(), StoreError> {
                let subject: Option<String> = sqlx::query_scalar("SELECT subject FROM risk_checks WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(subject) = subject else { return Err(StoreError::Conflict) };
                let note = seal_opt(self.vault.as_deref(), OwnerKind::Subject, &subject, "risk_checks.review_note", Some(note))
                    .await?;
                let mut tx = self.begin_sealed().await?;
                let n = sqlx::query(
                    "UPDATE risk_checks SET review = $2, reviewer = $3, review_note = $4, reviewed_at_us = $5 \
                     WHERE id = $1 AND review = 'pending'",
                )
                .bind(id)
                .bind(review)
                .bind(reviewer)
                .bind(note)
                .bind(micros(at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                let body = serde_json::json!({ "review": review }).to_string();
                audit!(tx, micros(at), reviewer, "risk_review", id, Some(&subject), body);
                tx.commit().await?;
                Ok(())
            }

            async fn pending_risk_reviews(&self, limit: i64) -> Result<Vec<RiskCheckRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM risk_checks WHERE review = 'pending' ORDER BY created_at_us, id LIMIT $1"
                )))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                self.risks_opened(rows).await
            }

            async fn risk_checks_of(&self, subject: &str) -> Result<Vec<RiskCheckRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM risk_checks WHERE subject = $1 ORDER BY created_at_us, id"
                )))
                .bind(subject)
                .fetch_all(&self.pool)
                .await?;
                self.risks_opened(rows).await
            }

            async fn purge_risk_checks(&self, now: jiff::Timestamp) -> Result<u64, StoreError> {
                // A person under a legal hold (N5a) keeps their checks until it is lifted.
                Ok(sqlx::query(
                    "DELETE FROM risk_checks WHERE expires_at_us <= $1 AND subject NOT IN \
                     (SELECT subject FROM legal_holds WHERE lifted_at_us IS NULL AND subject IS NOT NULL)",
                )
                    .bind(micros(now))
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
        }
    };
}

risk_store!(SqliteStore, sqlx::sqlite::SqliteRow);
risk_store!(PgStore, sqlx::postgres::PgRow);

impl RiskStore for AnyStore {
    async fn insert_risk_check(&self, c: &RiskCheckRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_risk_check(c).await)
    }
    async fn insert_risk_checks(&self, c: &[RiskCheckRecord]) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_risk_checks(c).await)
    }
    async fn risk_check(&self, id: &str) -> Result<Option<RiskCheckRecord>, StoreError> {
        dispatch!(self, s => s.risk_check(id).await)
    }
    async fn review_risk_check(
        &self,
        id: &str,
        review: &str,
        reviewer: &str,
        note: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.review_risk_check(id, review, reviewer, note, at).await)
    }
    async fn pending_risk_reviews(&self, limit: i64) -> Result<Vec<RiskCheckRecord>, StoreError> {
        dispatch!(self, s => s.pending_risk_reviews(limit).await)
    }
    async fn risk_checks_of(&self, subject: &str) -> Result<Vec<RiskCheckRecord>, StoreError> {
        dispatch!(self, s => s.risk_checks_of(subject).await)
    }
    async fn purge_risk_checks(&self, now: jiff::Timestamp) -> Result<u64, StoreError> {
        dispatch!(self, s => s.purge_risk_checks(now).await)
    }
}
