//! The retention engine's executor: opens a sweep on its schedule, and runs a slice of it per
//! step — batches of the core's plan through the connectors, the progress saved after every
//! batch under a lease — until every table is done; then the counts per rule go to the audit
//! log. A sweep that fails or whose process dies stays open and resumes at its cursor, with the
//! cutoffs of the day it was planned for. A sweep is never reported finished while a table
//! is left.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tutela_connectors::{Connector, ConnectorError, Identities, MapStatus, SweepCursor};
use tutela_core::policy::Policy;
use tutela_core::retention::{BatchSize, HoldScope, SweepPlan, SweepTarget, held_keys, plan_sweep};
use tutela_store::{AnyStore, RetentionStore, Store, StoreError, SweepRecord};

/// When sweeps run and how they hold locks.
#[derive(Debug, Clone)]
pub struct SweepSettings {
    /// A new sweep opens this long after the last one started.
    pub interval: SignedDuration,
    /// How long a process may go without saving progress before another takes the sweep.
    pub lease: SignedDuration,
    /// How long one worker tick spends on a sweep before it lets other work run.
    pub tick_budget: Duration,
    pub batch: BatchSize,
    /// The datasets whose sweeps are on (`retention_sweeps = true` in their `[[dataset]]`).
    /// A sweep deletes rows from the operator's own database, so a dataset is never swept
    /// unless its configuration says so: none by default.
    pub enabled: BTreeSet<String>,
    /// A sweep that would delete more rows than this (counted when it is planned) waits for
    /// a DPO's approval of its plan, as does the first sweep of every rule on every table.
    pub approval_rows: u64,
}

impl SweepSettings {
    /// Whether sweeps of `dataset` are on.
    pub fn sweeps(&self, dataset: &str) -> bool {
        self.enabled.contains(dataset)
    }
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            interval: SignedDuration::from_hours(24),
            lease: SignedDuration::from_mins(2),
            tick_budget: Duration::from_secs(5),
            batch: BatchSize::default(),
            enabled: BTreeSet::new(),
            approval_rows: 1_000,
        }
    }
}

/// Cancellations in a row at the smallest batch size after which a batch runs without the
/// lock limit.
const UNLIMITED_AFTER: u32 = 8;

/// Where one table of a sweep stands (kept as JSON in the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableProgress {
    pub dataset: String,
    pub table: String,
    pub rule: String,
    pub cutoff: String,
    pub cursor: Option<SweepCursor>,
    pub deleted: u64,
    pub batches: u64,
    /// The longest batch so far: the longest the sweep held locks on this table.
    pub longest_batch_ms: u64,
    /// Batches the database cancelled at the lock limit (each tried again smaller).
    #[serde(default)]
    pub cancelled: u64,
    pub done: bool,
    /// Why the table was left alone (its sweeps turned off, or its dataset's map broken);
    /// such a table counts as done with nothing deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The rows counted due when the sweep was planned (`None`: the database could not be
    /// asked). An approval approves these counts; more at run time means a new plan.
    #[serde(default)]
    pub planned: Option<u64>,
}

/// A sweep's plan that waits for, or got, a person's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Why the plan needs approval (a rule's first sweep, its size, data changed since).
    pub reasons: Vec<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub tables: Vec<TableProgress>,
    /// Set when the plan needs approval; the sweep deletes nothing until it is approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

impl Progress {
    /// Whether the sweep waits for a person's approval of its plan.
    pub fn awaiting_approval(&self) -> bool {
        self.approval
            .as_ref()
            .is_some_and(|a| a.approved_by.is_none())
    }

    /// The rows planned per rule and `dataset.table` (what an approval approves).
    pub fn planned(&self) -> BTreeMap<String, BTreeMap<String, Option<u64>>> {
        let mut out: BTreeMap<String, BTreeMap<String, Option<u64>>> = BTreeMap::new();
        for t in &self.tables {
            out.entry(t.rule.clone())
                .or_default()
                .insert(format!("{}.{}", t.dataset, t.table), t.planned);
        }
        out
    }

    pub fn deleted(&self) -> u64 {
        self.tables.iter().map(|t| t.deleted).sum()
    }

    /// Rows deleted per rule and `dataset.table`: what the audit log keeps of a sweep.
    pub fn counts(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for t in &self.tables {
            *out.entry(t.rule.clone())
                .or_default()
                .entry(format!("{}.{}", t.dataset, t.table))
                .or_default() += t.deleted;
        }
        out
    }
}

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepReport {
    pub sweep: Option<String>,
    pub deleted: u64,
    pub finished: bool,
    /// Why the step stopped early (a database away); the sweep resumes at the next step.
    pub error: Option<String>,
    /// The open sweep's plan waits for a DPO's approval (`tutela retention approve`, the
    /// console): nothing was deleted.
    pub awaiting_approval: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("another process took over the sweep")]
    LeaseLost,
    #[error("the stored progress of sweep `{0}` cannot be read")]
    Progress(String),
    #[error("the rows under legal hold in dataset `{dataset}` could not be found: {why}")]
    Holds { dataset: String, why: String },
    #[error("the operating system gave no randomness")]
    NoRandomness,
    #[error("no open sweep `{0}` awaits approval")]
    NotAwaiting(String),
    #[error("the plan of sweep `{0}` changed while it was being approved; look at it again")]
    PlanChanged(String),
    #[error("an approval names the operator who gives it")]
    NoApprover,
}

/// The executor over one store, policy and set of connectors; `owner` names this process in
/// leases.
pub struct Sweeper<'a> {
    pub store: &'a AnyStore,
    pub policy: &'a Policy,
    pub connectors: &'a [Arc<Connector>],
    pub owner: &'a str,
    pub settings: &'a SweepSettings,
}

/// One row of `tutela retention plan`: a table, its rule and cutoff, and how many rows are due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedTable {
    pub dataset: String,
    pub table: String,
    pub rule: String,
    pub notice_refs: Vec<String>,
    pub cutoff: String,
    /// Due and not held; `None` when the database could not be asked (see `error`).
    pub due: Option<u64>,
    pub held: usize,
    pub error: Option<String>,
    /// Whether sweeps of the table's dataset are on; when off, `due` is what a sweep would
    /// delete once they are turned on, and nothing is deleted meanwhile.
    pub sweeps: bool,
}

/// What a table of a sweep notes when its dataset's sweeps are off.
pub const SWEEPS_OFF: &str = "sweeps off for this dataset";

fn later(t: Timestamp, by: SignedDuration) -> Timestamp {
    t.saturating_add(by).unwrap_or(Timestamp::MAX)
}

fn day(now: Timestamp) -> jiff::civil::Date {
    now.to_zoned(jiff::tz::TimeZone::UTC).date()
}

impl Sweeper<'_> {
    pub fn plan(&self, today: jiff::civil::Date) -> SweepPlan {
        let maps: Vec<_> = self.connectors.iter().map(|c| c.map.clone()).collect();
        plan_sweep(self.policy, &maps, today)
    }

    /// What a sweep on `now` would delete, table by table, and why.
    pub async fn preview(&self, now: Timestamp) -> Result<Vec<PlannedTable>, SweepError> {
        let plan = self.plan(day(now));
        let held = self.held().await?;
        let mut out = Vec::new();
        for (ix, t) in plan.targets.iter().enumerate() {
            let keys = held
                .get(&(t.dataset.clone(), t.table))
                .cloned()
                .unwrap_or_default();
            let Some(rows) = plan.due_rows(ix) else {
                continue;
            };
            let (due, error) = match self.connector(&t.dataset) {
                // A broken dataset is not even counted: its map does not say what is there.
                Some(c) if matches!(c.status(), MapStatus::Broken(_)) => {
                    (None, c.writable().await.err().map(|e| e.to_string()))
                }
                // Cascades counted: what the run deletes, parents freed by it included.
                Some(c) => match c.count_due(&rows, &held_in(&held, &t.dataset)).await {
                    Ok(n) => (Some(n), None),
                    Err(e) => (None, Some(e.to_string())),
                },
                None => (
                    None,
                    Some(format!("dataset `{}` is not configured", t.dataset)),
                ),
            };
            out.push(PlannedTable {
                dataset: t.dataset.clone(),
                table: t.table_name.clone(),
                rule: t.rule.clone(),
                notice_refs: t.notice_refs.clone(),
                cutoff: t.cutoff.to_string(),
                due,
                held: keys.len(),
                error,
                sweeps: self.settings.sweeps(&t.dataset),
            });
        }
        Ok(out)
    }

    /// Opens a sweep planned for `now`'s day, unless one is open or, when not `force`d, the
    /// last one started less than the interval ago. Returns the id of the sweep opened.
    pub async fn open(&self, now: Timestamp, force: bool) -> Result<Option<String>, SweepError> {
        let last = self.store.sweeps(1).await?;
        if let Some(s) = last.first() {
            if s.finished_at.is_none() {
                return Ok(None);
            }
            if !force && now < later(s.started_at, self.settings.interval) {
                return Ok(None);
            }
        }
        let mut plan = self.plan(day(now));
        // Only the datasets whose sweeps are on and whose map matched its database: nothing
        // else is ever deleted from.
        plan.targets.retain(|t| {
            self.settings.sweeps(&t.dataset)
                && self
                    .connector(&t.dataset)
                    .is_some_and(|c| !matches!(c.status(), MapStatus::Broken(_)))
        });
        if plan.targets.is_empty() {
            return Ok(None);
        }
        // The plan counts what is due now, so that a person approves numbers, and a run
        // that would find more stops for a new plan.
        let held = self.held().await?;
        let mut tables = Vec::new();
        for (ix, t) in plan.targets.iter().enumerate() {
            let planned = match (self.connector(&t.dataset), plan.due_rows(ix)) {
                (Some(c), Some(rows)) => c.count_due(&rows, &held_in(&held, &t.dataset)).await.ok(),
                _ => None,
            };
            tables.push(TableProgress {
                dataset: t.dataset.clone(),
                table: t.table_name.clone(),
                rule: t.rule.clone(),
                cutoff: t.cutoff.to_string(),
                cursor: None,
                deleted: 0,
                batches: 0,
                longest_batch_ms: 0,
                cancelled: 0,
                done: false,
                skipped: None,
                planned,
            });
        }
        let mut progress = Progress {
            tables,
            approval: None,
        };
        progress.approval = self.approval_needed(&progress, Vec::new()).await?;
        let id = format!(
            "rs_{}",
            crate::random_hex(12).map_err(|_| SweepError::NoRandomness)?
        );
        let record = SweepRecord {
            id: id.clone(),
            plan_day: day(now).to_string(),
            started_at: now,
            finished_at: None,
            owner: None,
            lease_until: None,
            progress: serde_json::to_string(&progress).unwrap_or_default(),
            error: None,
        };
        match self.store.open_sweep(&record).await {
            Ok(()) => Ok(Some(id)),
            // Another process opened one first: that one runs.
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs the open sweep until `budget` is spent (at least one batch; a batch is never cut
    /// short), calling `on_batch` after every saved batch.
    pub async fn step(
        &self,
        now: Timestamp,
        budget: Duration,
        mut on_batch: impl FnMut(&Progress),
    ) -> Result<StepReport, SweepError> {
        let lease = |t: Timestamp| later(t, self.settings.lease);
        let Some(sweep) = self.store.claim_sweep(self.owner, now, lease(now)).await? else {
            return Ok(StepReport::default());
        };
        let mut progress: Progress = serde_json::from_str(&sweep.progress)
            .map_err(|_| SweepError::Progress(sweep.id.clone()))?;
        let plan_day: jiff::civil::Date = sweep
            .plan_day
            .parse()
            .map_err(|_| SweepError::Progress(sweep.id.clone()))?;
        let mut report = StepReport {
            sweep: Some(sweep.id.clone()),
            ..StepReport::default()
        };
        if progress.awaiting_approval() {
            self.release(&sweep.id, &sweep.progress).await?;
            report.awaiting_approval = true;
            return Ok(report);
        }
        let plan = self.plan(plan_day);
        let held = self.held().await?;
        // Before the first batch, the plan is held against the data: more due than it
        // counted (rows added or changed since) means it is older than the data, and the
        // sweep is planned anew and waits again instead of deleting what nobody approved.
        let untouched = progress
            .tables
            .iter()
            .all(|t| t.batches == 0 && t.deleted == 0 && t.cursor.is_none() && !t.done);
        if untouched {
            let mut grew = Vec::new();
            for tp in &mut progress.tables {
                let Some(rows) = find_index(&plan, tp).and_then(|ix| plan.due_rows(ix)) else {
                    continue;
                };
                let Some(c) = self.connector(&rows.target.dataset) else {
                    continue;
                };
                if !self.settings.sweeps(&rows.target.dataset) {
                    continue;
                }
                match c
                    .count_due(&rows, &held_in(&held, &rows.target.dataset))
                    .await
                {
                    Ok(n) if tp.planned.is_none_or(|p| n > p) => {
                        grew.push(format!(
                            "{}.{}: {} planned, {n} due now",
                            tp.dataset,
                            tp.table,
                            tp.planned
                                .map_or_else(|| "none".to_owned(), |p| p.to_string())
                        ));
                        tp.planned = Some(n);
                    }
                    Ok(_) => {}
                    Err(ConnectorError::Broken { .. }) => {}
                    Err(e) => {
                        report.error = Some(e.to_string());
                        let text = serde_json::to_string(&progress).unwrap_or_default();
                        self.save(&sweep.id, &text, report.error.as_deref(), now)
                            .await?;
                        return Ok(report);
                    }
                }
            }
            if !grew.is_empty() {
                let reason = format!("the data changed since the plan ({})", grew.join("; "));
                let was_approved = progress.approval.is_some();
                let mut extra = Vec::new();
                if was_approved {
                    extra.push(reason);
                }
                progress.approval = self.approval_needed(&progress, extra).await?;
                if progress.awaiting_approval() {
                    let text = serde_json::to_string(&progress).unwrap_or_default();
                    self.release(&sweep.id, &text).await?;
                    report.awaiting_approval = true;
                    return Ok(report);
                }
            }
        }
        let started = Instant::now();
        let mut size = self.settings.batch;
        // Batches cancelled in a row at the smallest size.
        let mut cancelled_at_min = 0u32;
        'tables: for i in 0..progress.tables.len() {
            if progress.tables[i].done {
                continue;
            }
            let Some(target) = find_target(&plan, &progress.tables[i]) else {
                // The map no longer names this table under this rule: nothing to do there.
                progress.tables[i].done = true;
                continue;
            };
            if !self.settings.sweeps(&target.dataset) {
                // Turned off since the sweep was planned: the configuration of now wins.
                progress.tables[i].done = true;
                progress.tables[i].skipped = Some(SWEEPS_OFF.to_owned());
                continue;
            }
            let Some(c) = self.connector(&target.dataset) else {
                report.error = Some(format!("dataset `{}` is not configured", target.dataset));
                break;
            };
            let keys = held
                .get(&(target.dataset.clone(), target.table))
                .cloned()
                .unwrap_or_default();
            loop {
                let tp = &mut progress.tables[i];
                // After eight cancellations in a row at the smallest size the batch runs without
                // the limit: rows that share one instant are one batch however small the size,
                // and must go all the same. (A passing stall, or a row lock held elsewhere, is
                // usually over by then.)
                let limit = (size.lock_limit_ms > 0 && cancelled_at_min < UNLIMITED_AFTER)
                    .then(|| Duration::from_millis(size.lock_limit_ms));
                match c
                    .sweep_batch(target, tp.cursor.as_ref(), size.rows, &keys, limit)
                    .await
                {
                    Ok(b) if b.cancelled => {
                        let ms = u64::try_from(b.elapsed.as_millis()).unwrap_or(u64::MAX);
                        tp.cancelled += 1;
                        tp.longest_batch_ms = tp.longest_batch_ms.max(ms);
                        cancelled_at_min = if size.rows == size.min {
                            cancelled_at_min + 1
                        } else {
                            0
                        };
                        size = size.cancelled();
                    }
                    Ok(b) => {
                        cancelled_at_min = 0;
                        let ms = u64::try_from(b.elapsed.as_millis()).unwrap_or(u64::MAX);
                        tp.deleted += b.deleted;
                        tp.batches += 1;
                        tp.longest_batch_ms = tp.longest_batch_ms.max(ms);
                        report.deleted += b.deleted;
                        size = size.next(ms, usize::try_from(b.deleted).unwrap_or(0));
                        tp.done = b.cursor.is_none();
                        if let Some(cursor) = b.cursor {
                            tp.cursor = Some(cursor);
                        }
                    }
                    Err(e @ ConnectorError::Broken { .. }) => {
                        // Found broken after the sweep was planned: left alone, the other
                        // tables go on.
                        tp.done = true;
                        tp.skipped = Some(e.to_string());
                    }
                    Err(e) => {
                        report.error = Some(e.to_string());
                        break 'tables;
                    }
                }
                let done = tp.done;
                // Saved after every batch, so a crash loses no more than the count of the
                // batch in flight; a lost lease stops this process at once.
                let text = serde_json::to_string(&progress).unwrap_or_default();
                self.save(&sweep.id, &text, None, now).await?;
                on_batch(&progress);
                if done {
                    break;
                }
                if started.elapsed() >= budget {
                    break 'tables;
                }
            }
        }
        let text = serde_json::to_string(&progress).unwrap_or_default();
        if progress.tables.iter().all(|t| t.done) {
            let counts = serde_json::json!({
                "plan_day": sweep.plan_day,
                "deleted": progress.counts(),
                "longest_batch_ms": progress.tables.iter().map(|t| t.longest_batch_ms).max().unwrap_or(0),
            })
            .to_string();
            match self
                .store
                .finish_sweep(&sweep.id, self.owner, &text, &counts, now)
                .await
            {
                Ok(()) => report.finished = true,
                Err(StoreError::Conflict) => return Err(SweepError::LeaseLost),
                Err(e) => return Err(e.into()),
            }
        } else {
            self.save(&sweep.id, &text, report.error.as_deref(), now)
                .await?;
        }
        Ok(report)
    }

    async fn save(
        &self,
        id: &str,
        progress: &str,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<(), SweepError> {
        match self
            .store
            .save_sweep(
                id,
                self.owner,
                progress,
                error,
                later(now, self.settings.lease),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict) => Err(SweepError::LeaseLost),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a plan needs a person's approval, and why: a rule sweeping a table for the
    /// first time (no finished sweep ran it there), more rows due than `approval_rows`, rows
    /// that could not be counted, and `extra` reasons.
    async fn approval_needed(
        &self,
        p: &Progress,
        extra: Vec<String>,
    ) -> Result<Option<Approval>, SweepError> {
        let mut swept = BTreeSet::new();
        for s in self.store.sweeps(1_000).await? {
            if s.finished_at.is_none() {
                continue;
            }
            let Ok(done) = serde_json::from_str::<Progress>(&s.progress) else {
                continue;
            };
            for t in done.tables.into_iter().filter(|t| t.skipped.is_none()) {
                swept.insert((t.dataset, t.table, t.rule));
            }
        }
        let mut reasons = extra;
        for t in &p.tables {
            if !swept.contains(&(t.dataset.clone(), t.table.clone(), t.rule.clone())) {
                reasons.push(format!(
                    "first sweep of rule `{}` on {}.{}",
                    t.rule, t.dataset, t.table
                ));
            }
        }
        let uncounted: Vec<String> = p
            .tables
            .iter()
            .filter(|t| t.planned.is_none())
            .map(|t| format!("{}.{}", t.dataset, t.table))
            .collect();
        let total: u64 = p.tables.iter().filter_map(|t| t.planned).sum();
        if !uncounted.is_empty() {
            reasons.push(format!(
                "the due rows of {} could not be counted",
                uncounted.join(", ")
            ));
        }
        if total > self.settings.approval_rows {
            reasons.push(format!(
                "{total} rows due, more than sweep_approval_rows = {}",
                self.settings.approval_rows
            ));
        }
        Ok((!reasons.is_empty()).then_some(Approval {
            reasons,
            approved_by: None,
            approved_at: None,
        }))
    }

    /// Saves a plan that waits for approval and lets its lease go: whichever process runs
    /// next after the approval (the worker, `tutela retention run`) takes it at once.
    async fn release(&self, id: &str, progress: &str) -> Result<(), SweepError> {
        match self
            .store
            .save_sweep(id, self.owner, progress, None, Timestamp::UNIX_EPOCH)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict) => Err(SweepError::LeaseLost),
            Err(e) => Err(e.into()),
        }
    }

    fn connector(&self, dataset: &str) -> Option<&Arc<Connector>> {
        self.connectors.iter().find(|c| c.map.id == dataset)
    }

    /// The keys legal holds keep, per (dataset, table index): every row of a held person,
    /// found through the map like an access request finds it, and every held record.
    async fn held(&self) -> Result<BTreeMap<(String, usize), BTreeSet<String>>, SweepError> {
        let holds = self.store.holds(true).await?;
        let mut scopes = Vec::new();
        let mut subjects = Vec::new();
        for h in &holds {
            if let Some(s) = &h.subject {
                scopes.push(HoldScope::Subject(s.clone()));
                subjects.push(s.clone());
            }
            if let (Some(dataset), Some(table), Some(key)) =
                (&h.dataset, &h.table_name, &h.record_key)
            {
                scopes.push(HoldScope::Record {
                    dataset: dataset.clone(),
                    table: table.clone(),
                    key: key.clone(),
                });
            }
        }
        let mut out = BTreeMap::new();
        for c in self.connectors {
            let mut rows = Vec::new();
            for s in &subjects {
                let mut ids = Identities::new();
                ids.insert("customer_number".into(), vec![s.clone()]);
                if let Some(email) = self.store.subject(s).await?.and_then(|x| x.email) {
                    ids.insert("email".into(), vec![email]);
                }
                // A database that cannot say whose rows these are is not swept at all: a held
                // person's rows must never go because their lookup failed.
                match c.collect(&ids).await {
                    Ok(r) => rows.push(r),
                    Err(e) => {
                        return Err(SweepError::Holds {
                            dataset: c.map.id.clone(),
                            why: e.to_string(),
                        });
                    }
                }
            }
            for (ti, keys) in held_keys(&c.map, &scopes, &rows) {
                out.insert((c.map.id.clone(), ti), keys);
            }
        }
        Ok(out)
    }
}

fn find_target<'p>(plan: &'p SweepPlan, tp: &TableProgress) -> Option<&'p SweepTarget> {
    find_index(plan, tp).and_then(|ix| plan.targets.get(ix))
}

fn find_index(plan: &SweepPlan, tp: &TableProgress) -> Option<usize> {
    plan.targets
        .iter()
        .position(|t| t.dataset == tp.dataset && t.table_name == tp.table && t.rule == tp.rule)
}

/// The keys held in `dataset`, per table index of its map (what a count of due rows, cascades
/// included, leaves out).
fn held_in(
    held: &BTreeMap<(String, usize), BTreeSet<String>>,
    dataset: &str,
) -> BTreeMap<usize, BTreeSet<String>> {
    held.iter()
        .filter(|((d, _), _)| d == dataset)
        .map(|((_, ti), keys)| (*ti, keys.clone()))
        .collect()
}

/// Approves the plan of the open sweep `id` that waits for it, in the name of the operator
/// `by`: the audit log keeps who approved which counts; the worker (or `tutela retention run`)
/// then runs it, unless the data has grown past the plan by then (a new plan, approved anew).
pub async fn approve(
    store: &AnyStore,
    id: &str,
    by: &str,
    at: Timestamp,
) -> Result<Progress, SweepError> {
    let by = by.trim();
    if by.is_empty() {
        return Err(SweepError::NoApprover);
    }
    let Some(sweep) = store
        .sweeps(20)
        .await?
        .into_iter()
        .find(|s| s.id == id && s.finished_at.is_none())
    else {
        return Err(SweepError::NotAwaiting(id.to_owned()));
    };
    let mut progress: Progress = serde_json::from_str(&sweep.progress)
        .map_err(|_| SweepError::Progress(sweep.id.clone()))?;
    if !progress.awaiting_approval() {
        return Err(SweepError::NotAwaiting(id.to_owned()));
    }
    let mut reasons = Vec::new();
    if let Some(a) = &mut progress.approval {
        a.approved_by = Some(by.to_owned());
        a.approved_at = Some(at.to_string());
        reasons = a.reasons.clone();
    }
    let body = serde_json::json!({
        "plan_day": sweep.plan_day,
        "planned": progress.planned(),
        "reasons": reasons,
    })
    .to_string();
    let text = serde_json::to_string(&progress).unwrap_or_default();
    match store
        .approve_sweep(id, &sweep.progress, &text, by, &body, at)
        .await
    {
        Ok(()) => Ok(progress),
        Err(StoreError::Conflict) => Err(SweepError::PlanChanged(id.to_owned())),
        Err(e) => Err(e.into()),
    }
}
