//! The verifiable log's storage (issue 10), behind [`LogStore`]: each row of the ledger and of
//! the request ledger becomes a leaf of an RFC 6962 Merkle tree, in the order it was sealed,
//! and signed tree heads are kept. A leaf holds the hash of its row's content, never the
//! content, and a row's content leaves out the personal attributes an erasure removes, so
//! erasing a person does not break the tree.

use std::future::Future;

use sqlx::Row;

use tutela_core::merkle_nodes::{NodeId, Nodes};

use crate::sql::{from_micros, micros};
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

/// Where a leaf's content lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogSource {
    /// A ledger event, by its sequence number.
    Ledger,
    /// A request transition, by its sequence number in the request ledger.
    RequestEvent,
    /// A disclosure or an operator action, by its sequence number in `audit_events`.
    Audit,
}

impl LogSource {
    pub const ALL: [LogSource; 3] = [LogSource::Ledger, LogSource::RequestEvent, LogSource::Audit];

    pub fn as_str(self) -> &'static str {
        match self {
            LogSource::Ledger => "ledger",
            LogSource::RequestEvent => "request",
            LogSource::Audit => "audit",
        }
    }

    pub fn parse(s: &str) -> Option<LogSource> {
        LogSource::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One sealed leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLeaf {
    /// The leaf's place in the tree, from 0.
    pub index: u64,
    pub source: LogSource,
    pub seq: i64,
    /// `SHA-256(0x00 || content)`, as RFC 6962 hashes a leaf.
    pub leaf_hash: [u8; 32],
}

/// A tree head signed with the log key (Ed25519).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    pub size: u64,
    pub root: [u8; 32],
    pub at: jiff::Timestamp,
    pub key_id: String,
    pub signature: Vec<u8>,
}

pub trait LogStore: Send + Sync {
    /// The canonical content of the source's rows after `after`, in order, at most `limit`.
    fn log_contents(
        &self,
        source: LogSource,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<(i64, Vec<u8>)>, StoreError>> + Send;

    /// The highest sequence number of the source that is sealed (0 when none is).
    fn log_cursor(&self, source: LogSource)
    -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// How many leaves are sealed: the next leaf's index.
    fn log_size(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Every sealed leaf, in tree order.
    fn log_leaves(&self) -> impl Future<Output = Result<Vec<LogLeaf>, StoreError>> + Send;

    /// The leaf that sealed row `seq` of `source`, if any.
    fn log_leaf(
        &self,
        source: LogSource,
        seq: i64,
    ) -> impl Future<Output = Result<Option<LogLeaf>, StoreError>> + Send;

    /// Appends leaves and the subtree nodes they complete atomically;
    /// [`StoreError::Conflict`] when another sealer took an index.
    fn append_leaves(
        &self,
        leaves: &[LogLeaf],
        nodes: &[(NodeId, [u8; 32])],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The stored hashes of these nodes (level 0: the leaves); missing ones are left out.
    fn log_nodes(&self, ids: &[NodeId]) -> impl Future<Output = Result<Nodes, StoreError>> + Send;

    /// Every stored node above the leaves, for verification and to fill in what is missing.
    fn all_log_nodes(&self) -> impl Future<Output = Result<Nodes, StoreError>> + Send;

    fn insert_head(&self, head: &SignedHead)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every signed head, by size.
    fn heads(&self) -> impl Future<Output = Result<Vec<SignedHead>, StoreError>> + Send;
}

/// The bytes a row is sealed as: every column but the personal attributes (evidence, reasons,
/// e-mail addresses) that an erasure removes. `c` holds the source's columns in the order of
/// its query in `log_contents`.
fn content(source: LogSource, seq: i64, at_us: i64, c: &[String; 5]) -> Vec<u8> {
    let [c1, c2, c3, c4, c5] = c;
    match source {
        // subject, kind, body, policy version
        LogSource::Ledger => format!("ledger\n{seq}\n{c1}\n{at_us}\n{c2}\n{c3}\n{c4}"),
        // request id, actor, kind, body
        LogSource::RequestEvent => format!("request\n{seq}\n{c1}\n{at_us}\n{c2}\n{c3}\n{c4}"),
        // actor, kind, object, subject (empty when none), body
        LogSource::Audit => format!("audit\n{seq}\n{at_us}\n{c1}\n{c2}\n{c3}\n{c4}\n{c5}"),
    }
    .into_bytes()
}

/// Rows per multi-row insert: 500 rows of 4 values stay far below both databases' limits on
/// bound parameters.
const ROWS_PER_INSERT: usize = 500;

/// `($1, $2, $3), ($4, $5, $6), …`: `rows` tuples of `width` placeholders (no value in the text).
fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn hash32(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt {
        seq: -1,
        what: "a log hash is not 32 bytes".into(),
    })
}

macro_rules! log_store {
    ($store:ty) => {
        impl LogStore for $store {
            async fn log_contents(
                &self,
                source: LogSource,
                after: i64,
                limit: i64,
            ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
                // Every source answers the same columns (seq, at_us, c1..c5), so one mapping
                // reads them all; `content` puts them in the source's canonical order.
                let sql = match source {
                    LogSource::Ledger => "SELECT seq, at_us, subject AS c1, kind AS c2, body AS c3, \
                        policy_version AS c4, '' AS c5 FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2",
                    LogSource::RequestEvent => "SELECT seq, at_us, request_id AS c1, actor AS c2, kind AS c3, \
                        body AS c4, '' AS c5 FROM request_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                    LogSource::Audit => "SELECT seq, at_us, actor AS c1, kind AS c2, object AS c3, \
                        COALESCE(subject, '') AS c4, body AS c5 FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                };
                // Rows that may still commit below the last one seen are waited for.
                let mut tx = self
                    .begin_settled_read(matches!(source, LogSource::RequestEvent))
                    .await?;
                let rows = sqlx::query(sql)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows.iter()
                    .map(|r| {
                        let seq: i64 = r.try_get("seq")?;
                        let columns = [
                            r.try_get::<String, _>("c1")?,
                            r.try_get::<String, _>("c2")?,
                            r.try_get::<String, _>("c3")?,
                            r.try_get::<String, _>("c4")?,
                            r.try_get::<String, _>("c5")?,
                        ];
                        Ok((seq, content(source, seq, r.try_get("at_us")?, &columns)))
                    })
                    .collect()
            }

            async fn log_cursor(&self, source: LogSource) -> Result<i64, StoreError> {
                let row = sqlx::query(
                    "SELECT COALESCE(MAX(source_seq), 0) AS cursor FROM log_leaves WHERE source = $1",
                )
                .bind(source.as_str())
                .fetch_one(&self.pool)
                .await?;
                Ok(row.try_get("cursor")?)
            }

            async fn log_size(&self) -> Result<u64, StoreError> {
                let row = sqlx::query("SELECT COALESCE(MAX(idx) + 1, 0) AS size FROM log_leaves")
                    .fetch_one(&self.pool)
                    .await?;
                let size: i64 = row.try_get("size")?;
                Ok(u64::try_from(size).unwrap_or(0))
            }

            async fn log_leaves(&self) -> Result<Vec<LogLeaf>, StoreError> {
                sqlx::query("SELECT idx, source, source_seq, leaf_hash FROM log_leaves ORDER BY idx")
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| {
                        let source: String = r.try_get("source")?;
                        let index: i64 = r.try_get("idx")?;
                        Ok(LogLeaf {
                            index: u64::try_from(index).unwrap_or(u64::MAX),
                            source: LogSource::parse(&source).ok_or_else(|| StoreError::Corrupt {
                                seq: index,
                                what: format!("unknown log source `{source}`"),
                            })?,
                            seq: r.try_get("source_seq")?,
                            leaf_hash: hash32(r.try_get("leaf_hash")?)?,
                        })
                    })
                    .collect()
            }

            async fn append_leaves(
                &self,
                leaves: &[LogLeaf],
                nodes: &[(NodeId, [u8; 32])],
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                // Many rows per statement: a batch of 10,000 leaves is a few dozen statements.
                for chunk in nodes.chunks(ROWS_PER_INSERT) {
                    // A node is a function of its leaves: one stored already is the same.
                    let sql = format!(
                        "INSERT INTO log_nodes (level, idx, hash) VALUES {} ON CONFLICT (level, idx) DO NOTHING",
                        placeholders(chunk.len(), 3)
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (id, hash) in chunk {
                        q = q
                            .bind(i64::from(id.level))
                            .bind(i64::try_from(id.index).unwrap_or(i64::MAX))
                            .bind(hash.as_slice());
                    }
                    q.execute(&mut *tx).await?;
                }
                for chunk in leaves.chunks(ROWS_PER_INSERT) {
                    let sql = format!(
                        "INSERT INTO log_leaves (idx, source, source_seq, leaf_hash) VALUES {}",
                        placeholders(chunk.len(), 4)
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for l in chunk {
                        q = q
                            .bind(i64::try_from(l.index).unwrap_or(i64::MAX))
                            .bind(l.source.as_str())
                            .bind(l.seq)
                            .bind(l.leaf_hash.as_slice());
                    }
                    if let Err(e) = q.execute(&mut *tx).await {
                        return Err(match e {
                            sqlx::Error::Database(d) if d.is_unique_violation() => {
                                StoreError::Conflict
                            }
                            other => other.into(),
                        });
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn log_leaf(&self, source: LogSource, seq: i64) -> Result<Option<LogLeaf>, StoreError> {
                let row = sqlx::query("SELECT idx, leaf_hash FROM log_leaves WHERE source = $1 AND source_seq = $2")
                    .bind(source.as_str())
                    .bind(seq)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    let index: i64 = r.try_get("idx")?;
                    Ok(LogLeaf {
                        index: u64::try_from(index).unwrap_or(u64::MAX),
                        source,
                        seq,
                        leaf_hash: hash32(r.try_get("leaf_hash")?)?,
                    })
                })
                .transpose()
            }

            async fn log_nodes(&self, ids: &[NodeId]) -> Result<Nodes, StoreError> {
                let mut out = Nodes::new();
                // A proof needs a few dozen nodes: one indexed lookup each.
                for id in ids {
                    let index = i64::try_from(id.index).unwrap_or(i64::MAX);
                    let hash: Option<Vec<u8>> = if id.level == 0 {
                        sqlx::query_scalar("SELECT leaf_hash FROM log_leaves WHERE idx = $1")
                            .bind(index)
                            .fetch_optional(&self.pool)
                            .await?
                    } else {
                        sqlx::query_scalar("SELECT hash FROM log_nodes WHERE level = $1 AND idx = $2")
                            .bind(i64::from(id.level))
                            .bind(index)
                            .fetch_optional(&self.pool)
                            .await?
                    };
                    if let Some(h) = hash {
                        out.insert(*id, hash32(h)?);
                    }
                }
                Ok(out)
            }

            async fn all_log_nodes(&self) -> Result<Nodes, StoreError> {
                let rows = sqlx::query("SELECT level, idx, hash FROM log_nodes")
                    .fetch_all(&self.pool)
                    .await?;
                let mut out = Nodes::with_capacity(rows.len());
                for r in &rows {
                    let level: i64 = r.try_get("level")?;
                    let index: i64 = r.try_get("idx")?;
                    out.insert(
                        NodeId {
                            level: u32::try_from(level).unwrap_or(u32::MAX),
                            index: u64::try_from(index).unwrap_or(u64::MAX),
                        },
                        hash32(r.try_get("hash")?)?,
                    );
                }
                Ok(out)
            }

            async fn insert_head(&self, h: &SignedHead) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO log_heads (size, root, at_us, key_id, signature) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (size) DO NOTHING",
                )
                .bind(i64::try_from(h.size).unwrap_or(i64::MAX))
                .bind(h.root.as_slice())
                .bind(micros(h.at))
                .bind(&h.key_id)
                .bind(h.signature.as_slice())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn heads(&self) -> Result<Vec<SignedHead>, StoreError> {
                sqlx::query("SELECT size, root, at_us, key_id, signature FROM log_heads ORDER BY size")
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| {
                        let size: i64 = r.try_get("size")?;
                        Ok(SignedHead {
                            size: u64::try_from(size).unwrap_or(0),
                            root: hash32(r.try_get("root")?)?,
                            at: from_micros(r.try_get("at_us")?),
                            key_id: r.try_get("key_id")?,
                            signature: r.try_get("signature")?,
                        })
                    })
                    .collect()
            }
        }
    };
}

log_store!(SqliteStore);
log_store!(PgStore);

impl LogStore for AnyStore {
    async fn log_contents(
        &self,
        source: LogSource,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        dispatch!(self, s => s.log_contents(source, after, limit).await)
    }
    async fn log_cursor(&self, source: LogSource) -> Result<i64, StoreError> {
        dispatch!(self, s => s.log_cursor(source).await)
    }
    async fn log_size(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.log_size().await)
    }
    async fn log_leaves(&self) -> Result<Vec<LogLeaf>, StoreError> {
        dispatch!(self, s => s.log_leaves().await)
    }
    async fn append_leaves(
        &self,
        leaves: &[LogLeaf],
        nodes: &[(NodeId, [u8; 32])],
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.append_leaves(leaves, nodes).await)
    }
    async fn log_leaf(&self, source: LogSource, seq: i64) -> Result<Option<LogLeaf>, StoreError> {
        dispatch!(self, s => s.log_leaf(source, seq).await)
    }
    async fn log_nodes(&self, ids: &[NodeId]) -> Result<Nodes, StoreError> {
        dispatch!(self, s => s.log_nodes(ids).await)
    }
    async fn all_log_nodes(&self) -> Result<Nodes, StoreError> {
        dispatch!(self, s => s.all_log_nodes().await)
    }
    async fn insert_head(&self, head: &SignedHead) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_head(head).await)
    }
    async fn heads(&self) -> Result<Vec<SignedHead>, StoreError> {
        dispatch!(self, s => s.heads().await)
    }
}

#[cfg(test)]
mod tests {
    use super::{LogSource, content};

    // Sealed leaves hash these bytes: a change here breaks every stored log's verification.
    #[test]
    fn the_sealed_content_of_each_source_keeps_its_format() {
        let c = |a: &str, b: &str, c: &str, d: &str, e: &str| [a, b, c, d, e].map(str::to_owned);
        assert_eq!(
            content(
                LogSource::Ledger,
                4,
                17,
                &c("S-1", "consent_given", "{}", "v1", "")
            ),
            b"ledger\n4\nS-1\n17\nconsent_given\n{}\nv1"
        );
        assert_eq!(
            content(
                LogSource::RequestEvent,
                5,
                18,
                &c("rq-1", "system", "verified", "{}", "")
            ),
            b"request\n5\nrq-1\n18\nsystem\nverified\n{}"
        );
        assert_eq!(
            content(
                LogSource::Audit,
                6,
                19,
                &c("api", "disclosure_made", "d-1", "S-1", "{}")
            ),
            b"audit\n6\n19\napi\ndisclosure_made\nd-1\nS-1\n{}"
        );
    }
}
