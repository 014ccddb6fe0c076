//! The single step of a retention sweep: delete one batch of rows past a rule's cutoff, in
//! one short transaction, and say where the next batch starts.
//!
//! Batches walk the table in `(timestamp, key)` order behind a cursor, so a batch never rescans
//! the rows (or the dead index entries) of the batches before it, and the time a batch holds
//! its row locks stays bounded by its size. Rows of held persons, held records and rows that
//! rows of other mapped tables still reference are left alone; the cursor walks past them.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tutela_core::datamap::ConnectorKind;
use tutela_core::retention::SweepTarget;

use crate::exec::{Bind, Exec};
use crate::{Connector, ConnectorError, binds};

/// Where a sweep of one table stands: the timestamp (as the database writes it as text) and
/// the key of the last row a batch deleted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SweepCursor {
    pub at: String,
    pub key: String,
}

/// What one batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepBatch {
    pub deleted: u64,
    /// Where the next batch starts; `None` when no due row is left behind this one.
    pub cursor: Option<SweepCursor>,
    /// From the start of the transaction to its commit: the longest any lock was held.
    pub elapsed: Duration,
}

impl Connector {
    /// How many rows of the target are due now and not held.
    pub async fn count_due(
        &self,
        target: &SweepTarget,
        held: &BTreeSet<String>,
    ) -> Result<u64, ConnectorError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let typed = self.typed_time(&mut tx, target).await?;
        let mut values = Vec::new();
        let filter = self.due_filter(target, None, held, typed, &mut values)?;
        let sql = format!(
            "SELECT CAST(COUNT(*) AS {}) FROM {} WHERE {filter}",
            self.text_type(),
            self.dialect.quote(&target.table_name)
        );
        let rows = tx.rows(&sql, &values).await.map_err(|e| self.error(e))?;
        tx.rollback().await.map_err(|e| self.error(e))?;
        Ok(rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    /// Deletes up to `limit` due rows after `after`, in one transaction.
    pub async fn sweep_batch(
        &self,
        target: &SweepTarget,
        after: Option<&SweepCursor>,
        limit: usize,
        held: &BTreeSet<String>,
    ) -> Result<SweepBatch, ConnectorError> {
        let started = Instant::now();
        let table = self.table_of(target)?;
        let d = &self.dialect;
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let typed = self.typed_time(&mut tx, target).await?;
        let mut values = Vec::new();
        let filter = self.due_filter(target, after, held, typed, &mut values)?;
        let (t, k, c) = (
            d.quote(&target.table_name),
            d.quote(&table.key),
            d.quote(&target.column),
        );
        let limit = limit.max(1);
        let (deleted, last) = if self.kind() == ConnectorKind::Postgres {
            // One statement: the batch, its deletion and the new cursor.
            let sql = format!(
                "WITH batch AS (SELECT {k} AS k, {c} AS c FROM {t} WHERE {filter} \
                 ORDER BY {c}, {k} LIMIT {limit}), \
                 gone AS (DELETE FROM {t} WHERE {k} IN (SELECT k FROM batch) RETURNING 1) \
                 SELECT CAST((SELECT COUNT(*) FROM gone) AS TEXT), CAST(c AS TEXT), \
                 CAST(k AS TEXT) FROM batch ORDER BY c DESC, k DESC LIMIT 1"
            );
            let rows = tx.rows(&sql, &values).await.map_err(|e| self.error(e))?;
            match rows.into_iter().next() {
                Some(mut r) => {
                    let key = r.pop().flatten().unwrap_or_default();
                    let at = r.pop().flatten().unwrap_or_default();
                    let n = r.pop().flatten().and_then(|n| n.parse().ok()).unwrap_or(0);
                    (n, Some(SweepCursor { at, key }))
                }
                None => (0, None),
            }
        } else {
            let sql = format!(
                "SELECT {}, {} FROM {t} WHERE {filter} ORDER BY {c}, {k} LIMIT {limit}",
                d.text(&table.key),
                d.text(&target.column)
            );
            let rows = tx.rows(&sql, &values).await.map_err(|e| self.error(e))?;
            let keys: Vec<String> = rows
                .iter()
                .filter_map(|r| r.first().cloned().flatten())
                .collect();
            let last = rows.last().map(|r| SweepCursor {
                key: r.first().cloned().flatten().unwrap_or_default(),
                at: r.get(1).cloned().flatten().unwrap_or_default(),
            });
            let mut n = 0;
            for chunk in keys.chunks(crate::CHUNK) {
                let sql = format!("DELETE FROM {t} WHERE {k} IN ({})", d.marks(1, chunk.len()));
                n += tx
                    .exec(&sql, &binds(table.key_type, chunk))
                    .await
                    .map_err(|e| self.error(e))?;
            }
            (n, last)
        };
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(SweepBatch {
            deleted,
            cursor: last,
            elapsed: started.elapsed(),
        })
    }

    fn table_of(
        &self,
        target: &SweepTarget,
    ) -> Result<&tutela_core::datamap::Table, ConnectorError> {
        self.map
            .tables
            .get(target.table)
            .filter(|t| t.name == target.table_name && target.dataset == self.map.id)
            .ok_or_else(|| {
                ConnectorError::Refused(format!(
                    "the sweep target `{}.{}` is not a table of this dataset's map",
                    target.dataset, target.table_name
                ))
            })
    }

    fn text_type(&self) -> &'static str {
        match self.kind() {
            ConnectorKind::Mysql => "CHAR",
            ConnectorKind::Postgres | ConnectorKind::Sqlite => "TEXT",
        }
    }

    /// Whether the column holds PostgreSQL time values (not text), which a bound text must be
    /// cast to before they compare. MariaDB and SQLite compare text with their time columns.
    async fn typed_time<E: Exec>(
        &self,
        tx: &mut E,
        target: &SweepTarget,
    ) -> Result<bool, ConnectorError> {
        if self.kind() != ConnectorKind::Postgres {
            return Ok(false);
        }
        let rows = tx
            .rows(
                "SELECT CAST(data_type AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = ANY (current_schemas(false)) \
                 AND table_name = $1 AND column_name = $2",
                &[
                    Bind::Text(target.table_name.clone()),
                    Bind::Text(target.column.clone()),
                ],
            )
            .await
            .map_err(|e| self.error(e))?;
        let Some(ty) = rows.first().and_then(|r| r.first().cloned().flatten()) else {
            return Err(ConnectorError::Map {
                dataset: self.map.id.clone(),
                why: format!(
                    "table `{}` has no column `{}`",
                    target.table_name, target.column
                ),
            });
        };
        Ok(!matches!(
            ty.as_str(),
            "text" | "character varying" | "character"
        ))
    }

    /// A time bound as the database compares it with the column.
    fn time_mark(&self, n: usize, typed: bool) -> String {
        match self.kind() {
            ConnectorKind::Postgres if typed => format!("CAST(${n} AS TIMESTAMPTZ)"),
            ConnectorKind::Postgres => format!("${n}"),
            ConnectorKind::Mysql | ConnectorKind::Sqlite => "?".to_owned(),
        }
    }

    /// `column < cutoff AND (after the cursor) AND key NOT IN held AND no child references`.
    fn due_filter(
        &self,
        target: &SweepTarget,
        after: Option<&SweepCursor>,
        held: &BTreeSet<String>,
        typed: bool,
        values: &mut Vec<Bind>,
    ) -> Result<String, ConnectorError> {
        let table = self.table_of(target)?;
        let d = &self.dialect;
        let (k, c) = (d.quote(&table.key), d.quote(&target.column));
        // Time values compare with midnight UTC of the cutoff day. Times kept as ISO 8601 text
        // compare with the bare date: every time of an earlier day sorts before it, every time
        // of the cutoff day (`2026-09-01`, `2026-09-01T…`, `2026-09-01 …`) not.
        let cutoff = if typed {
            format!("{}T00:00:00Z", target.cutoff)
        } else {
            target.cutoff.to_string()
        };
        values.push(Bind::Text(cutoff));
        let mut parts = vec![format!("{c} < {}", self.time_mark(values.len(), typed))];
        if let Some(cur) = after {
            values.push(Bind::Text(cur.at.clone()));
            let at = self.time_mark(values.len(), typed);
            values.push(Bind::Text(cur.at.clone()));
            let at_again = self.time_mark(values.len(), typed);
            values.extend(binds(table.key_type, std::slice::from_ref(&cur.key)));
            if values.last() == Some(&Bind::Null) {
                return Err(ConnectorError::Refused(
                    "the sweep cursor's key is not an integer".into(),
                ));
            }
            parts.push(format!(
                "({c} > {at} OR ({c} = {at_again} AND {k} > {}))",
                d.mark(values.len())
            ));
        }
        if !held.is_empty() {
            let keys: Vec<String> = held.iter().cloned().collect();
            let first = values.len() + 1;
            values.extend(binds(table.key_type, &keys));
            parts.push(format!("{k} NOT IN ({})", d.marks(first, keys.len())));
        }
        for (child, column) in &target.children {
            parts.push(format!(
                "NOT EXISTS (SELECT 1 FROM {} WHERE {} = {}.{k})",
                d.quote(child),
                d.quote(column),
                d.quote(&target.table_name)
            ));
        }
        Ok(parts.join(" AND "))
    }
}
