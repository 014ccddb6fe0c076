//! The single step of a retention sweep: delete one batch of rows past a rule's cutoff, in
//! one short transaction, and say where the next batch starts.
//!
//! Batches walk the table in timestamp order behind a cursor: a batch is the range from the
//! cursor to the timestamp about `limit` rows on (found by an index range scan), deleted with
//! one range `DELETE`. So a batch never rescans the rows (or the dead index entries) of the
//! batches before it, and the time it holds its locks stays bounded by its size. Rows of held
//! persons, held records and rows that rows of other mapped tables still reference are left
//! alone; the cursor walks past them. The timestamp column needs an index.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tutela_core::datamap::ConnectorKind;
use tutela_core::retention::{DueRows, SweepTarget};

use crate::exec::{Bind, Exec};
use crate::{Connector, ConnectorError, binds};

/// Where a sweep of one table stands: the timestamp (as the database writes it as text) the
/// next batch starts at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SweepCursor {
    pub at: String,
}

/// What one batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepBatch {
    pub deleted: u64,
    /// Where the next batch starts; `None` when no due row is left behind this one.
    pub cursor: Option<SweepCursor>,
    /// From the start of the transaction to its commit: the longest any lock was held.
    pub elapsed: Duration,
    /// The database cancelled the `DELETE` at the lock limit: nothing was deleted, and the
    /// cursor is where it was.
    pub cancelled: bool,
}

impl Connector {
    /// How many rows the sweep of `due.target` deletes when it runs after the tables before it
    /// in its plan: past the cutoff, not held (`held`: keys per table index of this map), and
    /// referenced by no row that stays. A row of a child swept earlier in the same sweep goes
    /// first when it is itself due there, so the parents it frees are counted too: the count is
    /// what the run deletes.
    pub async fn count_due(
        &self,
        due: &DueRows,
        held: &BTreeMap<usize, BTreeSet<String>>,
    ) -> Result<u64, ConnectorError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        // Which time columns need their bound cast (PostgreSQL time types), per table.
        let mut typed = BTreeMap::new();
        let mut todo = vec![due];
        while let Some(d) = todo.pop() {
            let t = self.typed_time(&mut tx, &d.target).await?;
            typed.insert(d.target.table, t);
            todo.extend(d.children.iter().filter_map(|c| c.swept.as_deref()));
        }
        let mut values = Vec::new();
        let outer = self.dialect.quote(&due.target.table_name);
        let mut aliases = 0;
        let filter = self.cascade_filter(due, &outer, held, &typed, &mut aliases, &mut values)?;
        let sql = format!(
            "SELECT CAST(COUNT(*) AS {}) FROM {outer} WHERE {filter}",
            self.text_type(),
        );
        let rows = tx.rows(&sql, &values).await.map_err(|e| self.error(e))?;
        tx.rollback().await.map_err(|e| self.error(e))?;
        Ok(rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    /// The rows of `due.target` (named `name` in the query) that a sweep deletes:
    /// `column < cutoff AND key NOT IN held AND` for every referencing table, no row of it
    /// stays. A child's row stays unless its table is swept before this one and the row is
    /// due there (the same condition, one level down); a row whose time is NULL is never
    /// swept, so it stays.
    fn cascade_filter(
        &self,
        due: &DueRows,
        name: &str,
        held: &BTreeMap<usize, BTreeSet<String>>,
        typed: &BTreeMap<usize, bool>,
        aliases: &mut usize,
        values: &mut Vec<Bind>,
    ) -> Result<String, ConnectorError> {
        let target = &due.target;
        let table = self.table_of(target)?;
        let d = &self.dialect;
        let k = d.quote(&table.key);
        let c = d.quote(&target.column);
        let is_typed = typed.get(&target.table).copied().unwrap_or(false);
        values.push(Bind::Text(if is_typed {
            format!("{}T00:00:00Z", target.cutoff)
        } else {
            target.cutoff.to_string()
        }));
        let mut parts = vec![format!(
            "{name}.{c} < {}",
            self.time_mark(values.len(), is_typed)
        )];
        if let Some(keys) = held.get(&target.table).filter(|k| !k.is_empty()) {
            let keys: Vec<String> = keys.iter().cloned().collect();
            let first = values.len() + 1;
            values.extend(binds(table.key_type, &keys));
            parts.push(format!(
                "{name}.{k} NOT IN ({})",
                d.marks(first, keys.len())
            ));
        }
        for child in &due.children {
            *aliases += 1;
            let alias = format!("sweep_child_{aliases}");
            let stays = match &child.swept {
                None => String::new(),
                Some(swept) => {
                    let inner = self.cascade_filter(swept, &alias, held, typed, aliases, values)?;
                    format!(
                        " AND ({alias}.{} IS NULL OR NOT ({inner}))",
                        d.quote(&swept.target.column)
                    )
                }
            };
            parts.push(format!(
                "NOT EXISTS (SELECT 1 FROM {} {alias} WHERE {alias}.{} = {name}.{k}{stays})",
                d.quote(&child.table_name),
                d.quote(&child.column),
            ));
        }
        Ok(parts.join(" AND "))
    }

    /// Deletes the due rows of the next slice of about `limit` rows in timestamp order, from
    /// `after` on, in one transaction. With a `lock_limit`, PostgreSQL cancels the `DELETE`
    /// once it has run that long (its `statement_timeout`), so no batch holds its row locks
    /// past it whatever the disk does; the other databases have no such bound.
    pub async fn sweep_batch(
        &self,
        target: &SweepTarget,
        after: Option<&SweepCursor>,
        limit: usize,
        held: &BTreeSet<String>,
        lock_limit: Option<Duration>,
    ) -> Result<SweepBatch, ConnectorError> {
        self.writable().await?;
        let started = Instant::now();
        let d = &self.dialect;
        let (t, c) = (d.quote(&target.table_name), d.quote(&target.column));
        let lo = after.map(|cur| cur.at.as_str());
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let typed = self.typed_time(&mut tx, target).await?;
        // 1. Where the slice ends: the timestamp `limit` rows on (an index range scan).
        let mut values = Vec::new();
        let range = self.time_range(target, lo, None, typed, &mut values);
        // Ordered by the column itself, never by its text (which would defeat the index).
        let sql = format!(
            "SELECT {} AS sweep_at FROM {t} WHERE {range} ORDER BY {t}.{c} LIMIT 1 OFFSET {}",
            d.text(&target.column),
            limit.max(1)
        );
        let rows = tx.rows(&sql, &values).await.map_err(|e| self.error(e))?;
        let mut hi = rows.first().and_then(|r| r.first().cloned().flatten());
        if hi.is_some() && hi.as_deref() == lo {
            // More than `limit` rows share one instant: the slice takes all of them.
            let mut values = Vec::new();
            let range = self.time_range(target, None, None, typed, &mut values);
            values.push(Bind::Text(lo.unwrap_or_default().to_owned()));
            let sql = format!(
                "SELECT {} FROM {t} WHERE {range} AND {c} > {}",
                self.min_text(&target.column),
                self.time_mark(values.len(), typed)
            );
            let rows = tx.rows(&sql, &values).await.map_err(|e| self.error(e))?;
            hi = rows.first().and_then(|r| r.first().cloned().flatten());
        }
        // 2. The slice's due rows go; held and still referenced ones stay behind the cursor.
        let mut values = Vec::new();
        let filter = self.due_filter(target, lo, hi.as_deref(), held, typed, &mut values)?;
        let limited = match lock_limit {
            Some(limit) if self.kind() == ConnectorKind::Postgres => {
                let ms = limit.as_millis().max(1);
                tx.exec(&format!("SET LOCAL statement_timeout = {ms}"), &[])
                    .await
                    .map_err(|e| self.error(e))?;
                true
            }
            _ => false,
        };
        let deleted = match tx
            .exec(&format!("DELETE FROM {t} WHERE {filter}"), &values)
            .await
        {
            Ok(n) => n,
            // 57014: query_canceled, here by the statement timeout just set.
            Err(sqlx::Error::Database(e)) if limited && e.code().as_deref() == Some("57014") => {
                tx.rollback().await.map_err(|e| self.error(e))?;
                return Ok(SweepBatch {
                    deleted: 0,
                    cursor: after.cloned(),
                    elapsed: started.elapsed(),
                    cancelled: true,
                });
            }
            Err(e) => return Err(self.error(e)),
        };
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(SweepBatch {
            deleted,
            cursor: hi.map(|at| SweepCursor { at }),
            elapsed: started.elapsed(),
            cancelled: false,
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

    /// The least value of the column, as text.
    fn min_text(&self, column: &str) -> String {
        let q = self.dialect.quote(column);
        match self.kind() {
            ConnectorKind::Mysql => format!("CAST(MIN({q}) AS CHAR)"),
            ConnectorKind::Postgres | ConnectorKind::Sqlite => format!("CAST(MIN({q}) AS TEXT)"),
        }
    }

    /// `column < cutoff [AND column >= lo] [AND column < hi]`.
    fn time_range(
        &self,
        target: &SweepTarget,
        lo: Option<&str>,
        hi: Option<&str>,
        typed: bool,
        values: &mut Vec<Bind>,
    ) -> String {
        let c = self.dialect.quote(&target.column);
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
        if let Some(lo) = lo {
            values.push(Bind::Text(lo.to_owned()));
            parts.push(format!("{c} >= {}", self.time_mark(values.len(), typed)));
        }
        if let Some(hi) = hi {
            values.push(Bind::Text(hi.to_owned()));
            parts.push(format!("{c} < {}", self.time_mark(values.len(), typed)));
        }
        parts.join(" AND ")
    }

    /// The time range, and `key NOT IN held AND no row of a child table references it`.
    fn due_filter(
        &self,
        target: &SweepTarget,
        lo: Option<&str>,
        hi: Option<&str>,
        held: &BTreeSet<String>,
        typed: bool,
        values: &mut Vec<Bind>,
    ) -> Result<String, ConnectorError> {
        let table = self.table_of(target)?;
        let d = &self.dialect;
        let k = d.quote(&table.key);
        let mut parts = vec![self.time_range(target, lo, hi, typed, values)];
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
