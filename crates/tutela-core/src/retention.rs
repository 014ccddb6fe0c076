//! The retention planner: for a given day, which tables of the operator's databases hold rows
//! that have outlived their policy retention rule, from which cutoff, and which rows legal holds
//! keep back. Pure: the caller passes the day, the holds and the rows of held persons; executing
//! the plan is a connector's single batch step, repeated.
//!
//! A table is swept when its dataset map names a retention rule and the column its period runs
//! from (`retention`, `retention_from`). A row goes when that column lies before the rule's
//! cutoff ([`RetentionRule::cutoff`]), no legal hold covers it, and no row of another mapped
//! table still references it (parents wait for their children, so no reference dangles).

use std::collections::{BTreeMap, BTreeSet};

use crate::datamap::{DatasetMap, Row, children};
use crate::policy::{ClauseId, Policy, RetentionRule};

/// What a legal hold covers (N5a: a dispute or a claim suspends deletion until it is lifted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldScope {
    /// Everything about one person, in every dataset.
    Subject(String),
    /// One row of one table.
    Record {
        dataset: String,
        table: String,
        key: String,
    },
}

/// One table to sweep: its rule, the column the period runs from, and the cutoff day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepTarget {
    pub dataset: String,
    /// Index of the table in its dataset map.
    pub table: usize,
    pub table_name: String,
    pub rule: String,
    pub column: String,
    /// Rows whose `column` lies before this day (00:00 UTC) are past the rule.
    pub cutoff: jiff::civil::Date,
    /// The tables whose rows reference this one: (table name, referencing column).
    pub children: Vec<(String, String)>,
    pub notice_refs: Vec<ClauseId>,
}

/// A table with a retention rule that is not swept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotSwept {
    pub dataset: String,
    pub table_name: String,
    pub rule: String,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepPlan {
    /// In the order they run: per dataset, children before the tables they reference.
    pub targets: Vec<SweepTarget>,
    pub not_swept: Vec<NotSwept>,
}

/// Plans a sweep of `maps` on `today` (UTC).
pub fn plan_sweep(policy: &Policy, maps: &[DatasetMap], today: jiff::civil::Date) -> SweepPlan {
    let mut plan = SweepPlan::default();
    for map in maps {
        let refs = children(map);
        for &ti in map.parents_first.iter().rev() {
            let table = &map.tables[ti];
            let Some((rule_ix, column)) = &table.retention else {
                continue;
            };
            let rule: &RetentionRule = &policy.retention[*rule_ix];
            let Some(cutoff) = rule.cutoff(today) else {
                plan.not_swept.push(NotSwept {
                    dataset: map.id.clone(),
                    table_name: table.name.clone(),
                    rule: rule.id.clone(),
                    reason: "period_waits_for_event",
                });
                continue;
            };
            let children = refs
                .get(&ti)
                .into_iter()
                .flatten()
                .map(|&(ci, ri)| {
                    let child = &map.tables[ci];
                    (child.name.clone(), child.references[ri].column.clone())
                })
                .collect();
            plan.targets.push(SweepTarget {
                dataset: map.id.clone(),
                table: ti,
                table_name: table.name.clone(),
                rule: rule.id.clone(),
                column: column.clone(),
                cutoff,
                children,
                notice_refs: rule.notice_refs.clone(),
            });
        }
    }
    plan
}

/// The rows of one table a sweep deletes, cascades included: those past the target's cutoff,
/// not held, and referenced by no row that stays. A referencing row stays unless its table is
/// swept earlier in the same sweep (children run first) and the row is itself due there; so a
/// parent whose children all go in this sweep goes with them, and one referenced by a held
/// row, a row inside its period or a row of an unswept table stays. Counting these rows is
/// what makes the plan equal the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRows {
    pub target: SweepTarget,
    pub children: Vec<DueChild>,
}

/// A table whose rows reference a swept one, through one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueChild {
    pub table_name: String,
    pub column: String,
    /// The rows of the child this sweep deletes before the parent's turn; `None` when the
    /// child is not swept before it (no rule, or not in this plan), so every row of it stays.
    pub swept: Option<Box<DueRows>>,
}

impl SweepPlan {
    /// What the sweep of `targets[ix]` deletes once the tables before it ran; `None` when
    /// there is no such target.
    pub fn due_rows(&self, ix: usize) -> Option<DueRows> {
        let target = self.targets.get(ix)?;
        let children = target
            .children
            .iter()
            .map(|(table_name, column)| DueChild {
                table_name: table_name.clone(),
                column: column.clone(),
                // Only a target that runs earlier deletes its rows before this one runs.
                swept: self.targets[..ix]
                    .iter()
                    .position(|t| t.dataset == target.dataset && &t.table_name == table_name)
                    .and_then(|j| self.due_rows(j))
                    .map(Box::new),
            })
            .collect();
        Some(DueRows {
            target: target.clone(),
            children,
        })
    }
}

/// The keys a sweep of `map` must leave alone, per table index: every row of a held person
/// (`held_rows`, collected through the map for each held subject) and every held record.
pub fn held_keys(
    map: &DatasetMap,
    holds: &[HoldScope],
    held_rows: &[BTreeMap<usize, Vec<Row>>],
) -> BTreeMap<usize, BTreeSet<String>> {
    let mut out: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for rows in held_rows {
        for (&ti, rs) in rows {
            out.entry(ti)
                .or_default()
                .extend(rs.iter().map(|r| r.key.clone()));
        }
    }
    for h in holds {
        if let HoldScope::Record {
            dataset,
            table,
            key,
        } = h
            && dataset == &map.id
            && let Some(ti) = map.table(table)
        {
            out.entry(ti).or_default().insert(key.clone());
        }
    }
    out
}

/// Adapts the rows per batch so that one batch (one transaction, the only time a sweep holds
/// locks) stays near `target_ms`: doubled while well under it, halved when over twice it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSize {
    pub rows: usize,
    pub min: usize,
    pub max: usize,
    pub target_ms: u64,
    /// The longest one batch's `DELETE` may run: where the database can enforce it
    /// (PostgreSQL's `statement_timeout`), it cancels a batch past this, the batch deletes
    /// nothing and is tried again at a quarter of its size. `0` sets no limit.
    pub lock_limit_ms: u64,
}

impl Default for BatchSize {
    fn default() -> Self {
        BatchSize {
            rows: 1_000,
            min: 50,
            max: 50_000,
            target_ms: 25,
            lock_limit_ms: 80,
        }
    }
}

impl BatchSize {
    /// The size for the next batch after one that took `elapsed_ms` and deleted `deleted`.
    pub fn next(self, elapsed_ms: u64, deleted: usize) -> BatchSize {
        let rows = if elapsed_ms > self.target_ms * 2 {
            self.rows / 2
        } else if elapsed_ms * 2 < self.target_ms && deleted >= self.rows {
            self.rows * 2
        } else {
            self.rows
        };
        BatchSize {
            rows: rows.clamp(self.min, self.max),
            ..self
        }
    }

    /// The size after a batch the database cancelled at the lock limit.
    pub fn cancelled(self) -> BatchSize {
        BatchSize {
            rows: (self.rows / 4).clamp(self.min, self.max),
            ..self
        }
    }
}
