//! Legal holds and retention sweeps, behind [`RetentionStore`]. A hold names a person or one
//! row of a mapped table and suspends its deletion until lifted (N5a). A sweep keeps the
//! progress of every table it deletes from (the cursor and counts, never a value) under a
//! lease, so that one process runs it at a time and another resumes it after a crash. At most
//! one sweep is open at a time; its end writes the counts per rule to the audit log.

use std::future::Future;

use sqlx::Row;

use crate::sql::{from_micros, micros};
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRecord {
    pub id: String,
    pub subject: Option<String>,
    pub dataset: Option<String>,
    pub table_name: Option<String>,
    pub record_key: Option<String>,
    /// The case or claim the hold serves (a reference, not a description).
    pub reference: String,
    pub placed_by: String,
    pub placed_at: jiff::Timestamp,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<jiff::Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepRecord {
    pub id: String,
    /// The day (UTC) the sweep's cutoffs were computed for; a resumed sweep keeps them.
    pub plan_day: String,
    pub started_at: jiff::Timestamp,
    pub finished_at: Option<jiff::Timestamp>,
    pub owner: Option<String>,
    pub lease_until: Option<jiff::Timestamp>,
    /// JSON kept by the retention engine: per table its rule, cutoff, cursor and counts.
    pub progress: String,
    pub error: Option<String>,
}

pub trait RetentionStore: Send + Sync {
    /// Places a hold, with its audit row; [`StoreError::Conflict`] when the id exists.
    fn place_hold(&self, h: &HoldRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Lifts an active hold (audit row); `false` when no active hold has that id.
    fn lift_hold(
        &self,
        id: &str,
        by: &str,
        at: jiff::Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Holds, newest first; only those not lifted when `active_only`.
    fn holds(
        &self,
        active_only: bool,
    ) -> impl Future<Output = Result<Vec<HoldRecord>, StoreError>> + Send;

    /// Opens a sweep owned by `s.owner` until `s.lease_until`; [`StoreError::Conflict`] when
    /// another sweep is open.
    fn open_sweep(&self, s: &SweepRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The open sweep, if any, now owned by `owner` until `lease_until` when its lease was
    /// free, expired or already `owner`'s; `None` when no sweep is open or another process
    /// holds it.
    fn claim_sweep(
        &self,
        owner: &str,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
    ) -> impl Future<Output = Result<Option<SweepRecord>, StoreError>> + Send;

    /// Saves the progress of `owner`'s sweep and extends its lease; [`StoreError::Conflict`]
    /// when the lease was lost to another process.
    fn save_sweep(
        &self,
        id: &str,
        owner: &str,
        progress: &str,
        error: Option<&str>,
        lease_until: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Closes `owner`'s sweep with its final progress and writes `counts` (per rule and table,
    /// JSON) to the audit log in the same transaction.
    fn finish_sweep(
        &self,
        id: &str,
        owner: &str,
        progress: &str,
        counts: &str,
        at: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Sweeps, newest first.
    fn sweeps(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<SweepRecord>, StoreError>> + Send;

    /// Records an operator's approval of an open sweep's plan: its progress becomes
    /// `progress` only if it is still `expected` (the plan the operator saw), with an audit
    /// row `retention_sweep_approved` naming `by`, in one transaction.
    /// [`StoreError::Conflict`] when the sweep is finished or its plan changed meanwhile.
    fn approve_sweep(
        &self,
        id: &str,
        expected: &str,
        progress: &str,
        by: &str,
        body: &str,
        at: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

const HOLD_COLUMNS: &str = "id, subject, dataset, table_name, record_key, reference, placed_by, placed_at_us, lifted_by, lifted_at_us";
const SWEEP_COLUMNS: &str =
    "id, plan_day, started_at_us, finished_at_us, owner, lease_until_us, progress, error";

macro_rules! retention_store {
    ($store:ty, $row:ty) => {
        impl $store {
            fn hold_from(r: &$row) -> Result<HoldRecord, StoreError> {
                Ok(HoldRecord {
                    id: r.try_get("id")?,
                    subject: r.try_get("subject")?,
                    dataset: r.try_get("dataset")?,
                    table_name: r.try_get("table_name")?,
                    record_key: r.try_get("record_key")?,
                    reference: r.try_get("reference")?,
                    placed_by: r.try_get("placed_by")?,
                    placed_at: from_micros(r.try_get("placed_at_us")?),
                    lifted_by: r.try_get("lifted_by")?,
                    lifted_at: r.try_get::<Option<i64>, _>("lifted_at_us")?.map(from_micros),
                })
            }

            fn sweep_from(r: &$row) -> Result<SweepRecord, StoreError> {
                Ok(SweepRecord {
                    id: r.try_get("id")?,
                    plan_day: r.try_get("plan_day")?,
                    started_at: from_micros(r.try_get("started_at_us")?),
                    finished_at: r.try_get::<Option<i64>, _>("finished_at_us")?.map(from_micros),
                    owner: r.try_get("owner")?,
                    lease_until: r.try_get::<Option<i64>, _>("lease_until_us")?.map(from_micros),
                    progress: r.try_get("progress")?,
                    error: r.try_get("error")?,
                })
            }
        }

        impl RetentionStore for $store {
            async fn place_hold(&self, h: &HoldRecord) -> Result<(), StoreError> {
                let mut tx = self.begin_sealed().await?;
                let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO legal_holds ({HOLD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL) \
                     ON CONFLICT (id) DO NOTHING"
                )))
                .bind(&h.id)
                .bind(&h.subject)
                .bind(&h.dataset)
                .bind(&h.table_name)
                .bind(&h.record_key)
                .bind(&h.reference)
                .bind(&h.placed_by)
                .bind(micros(h.placed_at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                let body = serde_json::json!({
                    "dataset": h.dataset, "table": h.table_name, "record": h.record_key.is_some(),
                    "reference": h.reference,
                })
                .to_string();
                audit!(tx, micros(h.placed_at), &h.placed_by, "legal_hold_placed", &h.id, h.subject.as_deref(), body);
                tx.commit().await?;
                Ok(())
            }

            async fn lift_hold(&self, id: &str, by: &str, at: jiff::Timestamp) -> Result<bool, StoreError> {
                let mut tx = self.begin_sealed().await?;
                let subject: Option<Option<String>> = sqlx::query_scalar(
                    "UPDATE legal_holds SET lifted_by = $2, lifted_at_us = $3 \
                     WHERE id = $1 AND lifted_at_us IS NULL RETURNING subject",
                )
                .bind(id)
                .bind(by)
                .bind(micros(at))
                .fetch_optional(&mut *tx)
                .await?;
                let Some(subject) = subject else {
                    return Ok(false);
                };
                audit!(tx, micros(at), by, "legal_hold_lifted", id, subject.as_deref(), "{}");
                tx.commit().await?;
                Ok(true)
            }

            async fn holds(&self, active_only: bool) -> Result<Vec<HoldRecord>, StoreError> {
                let filter = if active_only { "WHERE lifted_at_us IS NULL" } else { "" };
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {HOLD_COLUMNS} FROM legal_holds {filter} ORDER BY placed_at_us DESC, id"
                )))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::hold_from).collect()
            }

            async fn open_sweep(&self, s: &SweepRecord) -> Result<(), StoreError> {
                let n = sqlx::query(
                    "INSERT INTO retention_sweeps (id, plan_day, started_at_us, finished_at_us, open_flag, owner, lease_until_us, progress, error) \
                     VALUES ($1, $2, $3, NULL, 1, $4, $5, $6, NULL) ON CONFLICT DO NOTHING",
                )
                .bind(&s.id)
                .bind(&s.plan_day)
                .bind(micros(s.started_at))
                .bind(&s.owner)
                .bind(s.lease_until.map(micros))
                .bind(&s.progress)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                Ok(())
            }

            async fn claim_sweep(
                &self,
                owner: &str,
                now: jiff::Timestamp,
                lease_until: jiff::Timestamp,
            ) -> Result<Option<SweepRecord>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE retention_sweeps SET owner = $1, lease_until_us = $3 \
                     WHERE open_flag = 1 AND (owner IS NULL OR owner = $1 OR lease_until_us IS NULL OR lease_until_us < $2) \
                     RETURNING {SWEEP_COLUMNS}"
                )))
                .bind(owner)
                .bind(micros(now))
                .bind(micros(lease_until))
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::sweep_from).transpose()
            }

            async fn save_sweep(
                &self,
                id: &str,
                owner: &str,
                progress: &str,
                error: Option<&str>,
                lease_until: jiff::Timestamp,
            ) -> Result<(), StoreError> {
                let n = sqlx::query(
                    "UPDATE retention_sweeps SET progress = $3, error = $4, lease_until_us = $5 \
                     WHERE id = $1 AND owner = $2 AND open_flag = 1",
                )
                .bind(id)
                .bind(owner)
                .bind(progress)
                .bind(error)
                .bind(micros(lease_until))
                .execute(&self.pool)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                Ok(())
            }

            async fn finish_sweep(
                &self,
                id: &str,
                owner: &str,
                progress: &str,
                counts: &str,
                at: jiff::Timestamp,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_sealed().await?;
                let n = sqlx::query(
                    "UPDATE retention_sweeps SET progress = $3, error = NULL, finished_at_us = $4, \
                     open_flag = NULL, lease_until_us = NULL WHERE id = $1 AND owner = $2 AND open_flag = 1",
                )
                .bind(id)
                .bind(owner)
                .bind(progress)
                .bind(micros(at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                audit!(tx, micros(at), "system", "retention_sweep", id, None::<&str>, counts);
                tx.commit().await?;
                Ok(())
            }

            async fn sweeps(&self, limit: i64) -> Result<Vec<SweepRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {SWEEP_COLUMNS} FROM retention_sweeps ORDER BY started_at_us DESC, id LIMIT $1"
                )))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::sweep_from).collect()
            }

            async fn approve_sweep(
                &self,
                id: &str,
                expected: &str,
                progress: &str,
                by: &str,
                body: &str,
                at: jiff::Timestamp,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_sealed().await?;
                let n = sqlx::query(
                    "UPDATE retention_sweeps SET progress = $3 \
                     WHERE id = $1 AND open_flag = 1 AND progress = $2",
                )
                .bind(id)
                .bind(expected)
                .bind(progress)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                audit!(tx, micros(at), by, "retention_sweep_approved", id, None::<&str>, body);
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

retention_store!(SqliteStore, sqlx::sqlite::SqliteRow);
retention_store!(PgStore, sqlx::postgres::PgRow);

impl RetentionStore for AnyStore {
    async fn place_hold(&self, h: &HoldRecord) -> Result<(), StoreError> {
        dispatch!(self, st => st.place_hold(h).await)
    }
    async fn lift_hold(&self, id: &str, by: &str, at: jiff::Timestamp) -> Result<bool, StoreError> {
        dispatch!(self, st => st.lift_hold(id, by, at).await)
    }
    async fn holds(&self, active_only: bool) -> Result<Vec<HoldRecord>, StoreError> {
        dispatch!(self, st => st.holds(active_only).await)
    }
    async fn open_sweep(&self, s: &SweepRecord) -> Result<(), StoreError> {
        dispatch!(self, st => st.open_sweep(s).await)
    }
    async fn claim_sweep(
        &self,
        owner: &str,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
    ) -> Result<Option<SweepRecord>, StoreError> {
        dispatch!(self, st => st.claim_sweep(owner, now, lease_until).await)
    }
    async fn save_sweep(
        &self,
        id: &str,
        owner: &str,
        progress: &str,
        error: Option<&str>,
        lease_until: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self, st => st.save_sweep(id, owner, progress, error, lease_until).await)
    }
    async fn finish_sweep(
        &self,
        id: &str,
        owner: &str,
        progress: &str,
        counts: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self, st => st.finish_sweep(id, owner, progress, counts, at).await)
    }
    async fn sweeps(&self, limit: i64) -> Result<Vec<SweepRecord>, StoreError> {
        dispatch!(self, st => st.sweeps(limit).await)
    }
    async fn approve_sweep(
        &self,
        id: &str,
        expected: &str,
        progress: &str,
        by: &str,
        body: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self, st => st.approve_sweep(id, expected, progress, by, body, at).await)
    }
}
