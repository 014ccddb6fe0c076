//! What the event stream publishes (issue 9), behind [`OutboxStore`]: the ledger and the
//! request ledger are append-only and numbered, so they are the transactional outbox
//! themselves. A row is in them exactly when its change committed; the publisher reads them
//! after its cursor. The columns read are the ones without personal free text (evidence,
//! reasons and notes live in other tables), as for the verifiable log.

use std::future::Future;

use sqlx::Row;

use crate::sql::from_micros;
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

/// Which ledger a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxSource {
    /// A ledger event (consent, objection, restriction, erasure…), keyed by the person.
    Ledger,
    /// A request transition (opened, verified, extended, fulfilled…), keyed by the request.
    Request,
}

impl OutboxSource {
    pub const ALL: [OutboxSource; 2] = [OutboxSource::Ledger, OutboxSource::Request];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxSource::Ledger => "ledger",
            OutboxSource::Request => "request",
        }
    }
}

/// One row to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub source: OutboxSource,
    pub seq: i64,
    pub at: jiff::Timestamp,
    /// The person (ledger) or the request id (request ledger): what order is kept per.
    pub key: String,
    /// The event kind (`consent_given`, …) or the transition (`opened`, …).
    pub kind: String,
    /// The row's JSON body (purpose, channel, scope, status: no free text).
    pub body: String,
    /// The policy version (ledger) or the actor (request ledger).
    pub context: String,
}

pub trait OutboxStore: Send + Sync {
    /// The source's rows after `after`, in order, at most `limit`.
    fn outbox_rows(
        &self,
        source: OutboxSource,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<OutboxRow>, StoreError>> + Send;
}

macro_rules! outbox_store {
    ($store:ty) => {
        impl OutboxStore for $store {
            async fn outbox_rows(
                &self,
                source: OutboxSource,
                after: i64,
                limit: i64,
            ) -> Result<Vec<OutboxRow>, StoreError> {
                let sql = match source {
                    OutboxSource::Ledger => {
                        "SELECT seq, at_us, subject AS k, kind, body, policy_version AS context \
                         FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2"
                    }
                    OutboxSource::Request => {
                        "SELECT seq, at_us, request_id AS k, kind, body, actor AS context \
                         FROM request_events WHERE seq > $1 ORDER BY seq LIMIT $2"
                    }
                };
                // Rows that may still commit below the last one seen are waited for.
                let mut tx = self
                    .begin_settled_read(matches!(source, OutboxSource::Request))
                    .await?;
                let rows = sqlx::query(sql)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows.iter()
                    .map(|r| {
                        Ok(OutboxRow {
                            source,
                            seq: r.try_get("seq")?,
                            at: from_micros(r.try_get("at_us")?),
                            key: r.try_get("k")?,
                            kind: r.try_get("kind")?,
                            body: r.try_get("body")?,
                            context: r.try_get("context")?,
                        })
                    })
                    .collect()
            }
        }
    };
}

outbox_store!(SqliteStore);
outbox_store!(PgStore);

impl OutboxStore for AnyStore {
    async fn outbox_rows(
        &self,
        source: OutboxSource,
        after: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        dispatch!(self, s => s.outbox_rows(source, after, limit).await)
    }
}
