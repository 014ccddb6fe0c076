//! What several server instances on one database need of it: appends that never pass
//! ledger rows the writer has not folded, the ledger's head, a notice of new rows (PostgreSQL
//! `LISTEN`/`NOTIFY`), and leases on background work that one instance runs at a time.

use std::future::Future;

use sqlx::Row;
use tutela_core::ledger::LedgerEvent;

use crate::sql::{AnyStore, PgStore, SqliteStore, micros};
use crate::{Appended, NewEvent, StoreError};

pub trait ClusterStore: Send + Sync {
    /// Appends like [`crate::Store::append`], but never past a ledger row the writer has not
    /// folded. A writer checked `events` against states folded up to `head`. When the ledger
    /// holds rows after `head` (another instance wrote them), they are read under the appends'
    /// lock and given to `recheck`, which folds them and says, per event, whether it still
    /// stands; the standing events are appended in the same transaction, so no row of another
    /// instance can come between the check and the commit, and a writer never has to give up
    /// its turn at the lock to catch up. The results are for the standing events, in order.
    fn append_at_head<F>(
        &self,
        events: &[NewEvent],
        head: i64,
        recheck: F,
    ) -> impl Future<Output = Result<Vec<Result<Appended, StoreError>>, StoreError>> + Send
    where
        F: FnOnce(&[LedgerEvent]) -> Vec<bool> + Send;

    /// The highest ledger sequence number (0 for an empty ledger).
    fn ledger_head(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Takes or renews the lease `name` for `owner` until `until`, when it is free, lapsed at
    /// `now`, or `owner`'s already. Returns whether `owner` holds it now.
    fn take_lease(
        &self,
        name: &str,
        owner: &str,
        now: jiff::Timestamp,
        until: jiff::Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives the lease up, if `owner` holds it, so another instance need not wait it out.
    fn release_lease(
        &self,
        name: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

macro_rules! cluster_store {
    ($store:ty) => {
        impl ClusterStore for $store {
            async fn append_at_head<F>(
                &self,
                events: &[NewEvent],
                head: i64,
                recheck: F,
            ) -> Result<Vec<Result<Appended, StoreError>>, StoreError>
            where
                F: FnOnce(&[LedgerEvent]) -> Vec<bool> + Send,
            {
                let mut sealed = crate::vault::seal_events(self.vault.as_deref(), events).await?;
                // The sealed transaction holds the appends' lock: no row can commit between
                // this read and the insert.
                let mut tx = self.begin_sealed().await?;
                let mut missed = Vec::new();
                loop {
                    let after = missed.last().map_or(head, |e: &LedgerEvent| e.seq);
                    let rows = sqlx::query(
                        "SELECT seq, subject, at_us, kind, body FROM ledger WHERE seq > $1 ORDER BY seq LIMIT 10000",
                    )
                    .bind(after)
                    .fetch_all(&mut *tx)
                    .await?;
                    let full = rows.len() == 10_000;
                    for r in &rows {
                        missed.push(crate::sql::ledger_event!(r)?);
                    }
                    if !full {
                        break;
                    }
                }
                if !missed.is_empty() {
                    let keep = recheck(&missed);
                    sealed.retain(&keep);
                }
                if sealed.events.is_empty() {
                    return Ok(Vec::new());
                }
                let out = Self::append_rows(&mut tx, &sealed).await?;
                Self::notify_ledger(&mut tx).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn ledger_head(&self) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM ledger")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn take_lease(
                &self,
                name: &str,
                owner: &str,
                now: jiff::Timestamp,
                until: jiff::Timestamp,
            ) -> Result<bool, StoreError> {
                let row = sqlx::query(
                    "INSERT INTO leases (name, owner, until_us) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_us = excluded.until_us \
                     WHERE leases.owner = excluded.owner OR leases.until_us < $4 \
                     RETURNING owner",
                )
                .bind(name)
                .bind(owner)
                .bind(micros(until))
                .bind(micros(now))
                .fetch_optional(&self.pool)
                .await?;
                Ok(match row {
                    Some(r) => r.try_get::<String, _>("owner")? == owner,
                    None => false,
                })
            }

            async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM leases WHERE name = $1 AND owner = $2")
                    .bind(name)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

cluster_store!(SqliteStore);
cluster_store!(PgStore);

impl ClusterStore for AnyStore {
    async fn append_at_head<F>(
        &self,
        events: &[NewEvent],
        head: i64,
        recheck: F,
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError>
    where
        F: FnOnce(&[LedgerEvent]) -> Vec<bool> + Send,
    {
        dispatch!(self, s => s.append_at_head(events, head, recheck).await)
    }
    async fn ledger_head(&self) -> Result<i64, StoreError> {
        dispatch!(self, s => s.ledger_head().await)
    }
    async fn take_lease(
        &self,
        name: &str,
        owner: &str,
        now: jiff::Timestamp,
        until: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.take_lease(name, owner, now, until).await)
    }
    async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.release_lease(name, owner).await)
    }
}

/// Notices of new ledger rows, written by any instance on the same PostgreSQL schema.
pub struct LedgerListener {
    inner: sqlx::postgres::PgListener,
}

impl LedgerListener {
    /// Waits for the next notice. `Ok(false)` when the connection was lost and has been made
    /// again: notices sent meanwhile are gone, so the caller reads the ledger to catch up.
    pub async fn next(&mut self) -> Result<bool, StoreError> {
        Ok(self.inner.try_recv().await?.is_some())
    }
}

impl PgStore {
    pub async fn listen_ledger(&self) -> Result<LedgerListener, StoreError> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&self.pool)
            .await?;
        let mut inner = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        inner.listen(&format!("tutela_ledger_{schema}")).await?;
        Ok(LedgerListener { inner })
    }
}

impl AnyStore {
    /// Notices of other instances' writes; `None` for SQLite, which one process owns.
    pub async fn ledger_listener(&self) -> Result<Option<LedgerListener>, StoreError> {
        match self {
            AnyStore::Sqlite(_) => Ok(None),
            AnyStore::Postgres(s) => Ok(Some(s.listen_ledger().await?)),
        }
    }
}

/// Sent when a request becomes workable (verified, or failed steps made due), so that the
/// instance running the request worker takes it up at once; per schema like the ledger's.
const NOTIFY_REQUESTS: &str = "SELECT pg_notify('tutela_requests_' || current_schema(), '')";

/// Notices that a request became workable, sent by any instance on the same PostgreSQL schema.
pub struct RequestListener {
    inner: sqlx::postgres::PgListener,
}

impl RequestListener {
    /// Waits for the next notice. `Ok(false)` when the connection was lost and has been made
    /// again: notices sent meanwhile are gone, so the caller looks for work to catch up.
    pub async fn next(&mut self) -> Result<bool, StoreError> {
        Ok(self.inner.try_recv().await?.is_some())
    }
}

impl AnyStore {
    /// Tells every instance on this PostgreSQL schema that a request became workable; nothing
    /// on SQLite, which one process owns.
    pub async fn notify_requests(&self) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(_) => Ok(()),
            AnyStore::Postgres(s) => {
                sqlx::query(NOTIFY_REQUESTS).execute(&s.pool).await?;
                Ok(())
            }
        }
    }

    /// Notices of requests that became workable on any instance; `None` for SQLite.
    pub async fn request_listener(&self) -> Result<Option<RequestListener>, StoreError> {
        match self {
            AnyStore::Sqlite(_) => Ok(None),
            AnyStore::Postgres(s) => {
                let schema: String = sqlx::query_scalar("SELECT current_schema()")
                    .fetch_one(&s.pool)
                    .await?;
                let mut inner = sqlx::postgres::PgListener::connect_with(&s.pool).await?;
                inner.listen(&format!("tutela_requests_{schema}")).await?;
                Ok(Some(RequestListener { inner }))
            }
        }
    }
}
