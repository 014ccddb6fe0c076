//! `tutela retention`: what the retention engine would delete and why, a sweep run to its end
//! with progress (resuming an open one where it stands), and legal holds (N5a).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use tutela_runtime::retention::{Progress, SweepSettings, Sweeper};
use tutela_store::{HoldRecord, RetentionStore};

use crate::config::Config;

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// What a sweep would delete now: per table, its rule, cutoff, due and held rows.
    Plan {
        /// The time to plan for (RFC 3339); now when not given.
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        sources: crate::Sources,
    },
    /// Runs a sweep to its end: the open one where it stands (after a crash), or a new one.
    Run {
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        sources: crate::Sources,
    },
    /// Approves the plan of the open sweep that waits for it (its first sweep of a rule, or
    /// more rows than `sweep_approval_rows`), in an operator's name (audited).
    Approve {
        /// The sweep's id (`rs_…`), as `retention run` or `retention plan` names it.
        id: String,
        /// The operator approving.
        #[arg(long)]
        by: String,
        #[command(flatten)]
        sources: crate::Sources,
    },
    /// Places a legal hold on a person (`--subject`) or one row (`--record DATASET.TABLE=KEY`).
    Hold {
        #[arg(long, conflicts_with = "record", required_unless_present = "record")]
        subject: Option<String>,
        #[arg(long)]
        record: Option<String>,
        /// The case or claim reference (no description of the person).
        #[arg(long)]
        reference: String,
        /// The operator placing it.
        #[arg(long)]
        by: String,
        #[command(flatten)]
        sources: crate::Sources,
    },
    /// Lifts a legal hold.
    Lift {
        id: String,
        #[arg(long)]
        by: String,
        #[command(flatten)]
        sources: crate::Sources,
    },
    /// Lists legal holds (active ones unless `--all`).
    Holds {
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        sources: crate::Sources,
    },
}

fn time(at: &Option<String>) -> anyhow::Result<jiff::Timestamp> {
    match at {
        Some(t) => t.parse().with_context(|| {
            format!("--at `{t}` is not an RFC 3339 time such as 2026-12-01T03:00:00Z")
        }),
        None => Ok(jiff::Timestamp::now()),
    }
}

/// Refuses, before anything is opened or created, a plan or run without a `[[dataset]]`:
/// an empty plan would look like "nothing is due".
fn needs_datasets(config: &Config) -> Option<ExitCode> {
    if config.dataset.is_empty() {
        eprintln!(
            "error: no [[dataset]] is configured: pass --config FILE (or TUTELA_CONFIG) naming the operator's databases; nothing was opened or created"
        );
        return Some(ExitCode::from(2));
    }
    None
}

pub async fn run(command: RetentionCommand, config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        RetentionCommand::Plan { at, sources } => {
            if let Some(code) = needs_datasets(config) {
                return Ok(code);
            }
            crate::config::existing_database(&config.database(&sources.database))?;
            let now = time(&at)?;
            let (store, policy, connectors) = open(config, &sources).await?;
            let settings = sweep_settings(config, &connectors);
            let sweeper = Sweeper {
                store: &store,
                policy: &policy.policy,
                connectors: &connectors,
                owner: "plan",
                settings: &settings,
            };
            let rows = sweeper.preview(now).await?;
            say!("dataset\ttable\trule\tclauses\tdelete_before\tdue\theld\tnote");
            let mut failed = false;
            for r in &rows {
                let due = match (&r.due, &r.error) {
                    (Some(n), _) => n.to_string(),
                    (None, Some(e)) => {
                        failed = true;
                        format!("unknown: {e}")
                    }
                    (None, None) => "unknown".into(),
                };
                // What would be due is shown all the same: the DPO sees what turning the
                // sweeps on would delete.
                let note = if r.sweeps {
                    String::new()
                } else {
                    format!("\t{}", tutela_runtime::retention::SWEEPS_OFF)
                };
                say!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}{}",
                    r.dataset,
                    r.table,
                    r.rule,
                    r.notice_refs.join(","),
                    r.cutoff,
                    due,
                    r.held,
                    note
                );
            }
            for n in sweeper
                .plan(now.to_zoned(jiff::tz::TimeZone::UTC).date())
                .not_swept
            {
                say!(
                    "{}\t{}\t{}\t\tnot swept: {}\t\t",
                    n.dataset,
                    n.table_name,
                    n.rule,
                    n.reason
                );
            }
            // A plan waiting for approval is what the DPO reviews here.
            if let Some(open) = store
                .sweeps(1)
                .await?
                .into_iter()
                .find(|s| s.finished_at.is_none())
            {
                let p: Progress = serde_json::from_str(&open.progress).unwrap_or_default();
                if p.awaiting_approval() {
                    print_awaiting(&open.id, &p);
                }
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        RetentionCommand::Approve { id, by, sources } => {
            let (store, _, _) = open_store(config, &sources).await?;
            let p = tutela_runtime::retention::approve(&store, &id, &by, jiff::Timestamp::now())
                .await?;
            let rows: u64 = p.tables.iter().filter_map(|t| t.planned).sum();
            say!("sweep {id} approved by {}: {rows} rows planned", by.trim());
            Ok(ExitCode::SUCCESS)
        }
        RetentionCommand::Run { at, sources } => {
            if let Some(code) = needs_datasets(config) {
                return Ok(code);
            }
            let now = time(&at)?;
            let (store, policy, connectors) = open(config, &sources).await?;
            let settings = sweep_settings(config, &connectors);
            let owner = format!("cli-{}", std::process::id());
            let sweeper = Sweeper {
                store: &store,
                policy: &policy.policy,
                connectors: &connectors,
                owner: &owner,
                settings: &settings,
            };
            if connectors.is_empty() {
                anyhow::bail!("no [[dataset]] is configured: there is nothing to sweep");
            }
            if settings.enabled.is_empty() {
                anyhow::bail!(
                    "no [[dataset]] has `retention_sweeps = true`: sweeps are off for every dataset, nothing is deleted"
                );
            }
            // A dataset whose map failed its check is never swept: said here, by name.
            let broken: Vec<String> = connectors
                .iter()
                .filter(|c| settings.sweeps(&c.map.id))
                .filter_map(|c| match c.status() {
                    tutela_connectors::MapStatus::Broken(why) => {
                        Some(format!("dataset `{}` is not swept: {why}", c.map.id))
                    }
                    _ => None,
                })
                .collect();
            for b in &broken {
                say!("{b}");
            }
            if broken.len() == settings.enabled.len() {
                anyhow::bail!(
                    "every dataset with `retention_sweeps = true` failed its map check: nothing is swept; fix the map or the database (`tutela datasets check`)"
                );
            }
            let open_before = store
                .sweeps(1)
                .await?
                .into_iter()
                .any(|s| s.finished_at.is_none());
            match sweeper.open(now, true).await? {
                Some(id) => say!("sweep {id} opened"),
                None if open_before => say!("resuming the open sweep"),
                None => {
                    say!(
                        "nothing to sweep: no retention rule applies to a table of the datasets with sweeps on"
                    );
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let bar = Bar::new();
            loop {
                let r = sweeper
                    .step(now, Duration::from_secs(1), |p| bar.show(p))
                    .await?;
                let Some(id) = r.sweep else {
                    bar.finish();
                    anyhow::bail!(
                        "another process holds the open sweep; it resumes there, or here once its lease ran out"
                    );
                };
                if r.awaiting_approval {
                    bar.finish();
                    let p: Progress = store
                        .sweeps(1)
                        .await?
                        .into_iter()
                        .find(|s| s.id == id)
                        .and_then(|s| serde_json::from_str(&s.progress).ok())
                        .unwrap_or_default();
                    print_awaiting(&id, &p);
                    return Ok(ExitCode::from(3));
                }
                if let Some(e) = r.error {
                    bar.finish();
                    anyhow::bail!("sweep {id} stopped: {e}; run again to resume where it stands");
                }
                if r.finished {
                    bar.finish();
                    let done = store.sweeps(10).await?;
                    let progress: Progress = done
                        .iter()
                        .find(|s| s.id == id)
                        .and_then(|s| serde_json::from_str(&s.progress).ok())
                        .unwrap_or_default();
                    for t in &progress.tables {
                        say!(
                            "{}.{}\t{}\tdeleted {}\tin {} batches, longest {} ms",
                            t.dataset,
                            t.table,
                            t.rule,
                            t.deleted,
                            t.batches,
                            t.longest_batch_ms
                        );
                    }
                    say!("sweep {id} finished: {} rows deleted", progress.deleted());
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
        RetentionCommand::Hold {
            subject,
            record,
            reference,
            by,
            sources,
        } => {
            let (store, _, _) = open_store(config, &sources).await?;
            let (dataset, table_name, record_key) = match &record {
                Some(r) => {
                    let Some((place, key)) = r.split_once('=') else {
                        anyhow::bail!(
                            "--record takes DATASET.TABLE=KEY, e.g. operator.invoices=61"
                        );
                    };
                    let Some((d, t)) = place.split_once('.') else {
                        anyhow::bail!(
                            "--record takes DATASET.TABLE=KEY, e.g. operator.invoices=61"
                        );
                    };
                    (Some(d.to_owned()), Some(t.to_owned()), Some(key.to_owned()))
                }
                None => (None, None, None),
            };
            let id = format!(
                "lh_{}",
                tutela_runtime::random_hex(12)
                    .map_err(|e| anyhow::anyhow!("no randomness: {e}"))?
            );
            store
                .place_hold(&HoldRecord {
                    id: id.clone(),
                    subject,
                    dataset,
                    table_name,
                    record_key,
                    reference,
                    placed_by: by,
                    placed_at: jiff::Timestamp::now(),
                    lifted_by: None,
                    lifted_at: None,
                })
                .await?;
            say!("{id}");
            Ok(ExitCode::SUCCESS)
        }
        RetentionCommand::Lift { id, by, sources } => {
            let (store, _, _) = open_store(config, &sources).await?;
            if store.lift_hold(&id, &by, jiff::Timestamp::now()).await? {
                say!("{id} lifted");
                Ok(ExitCode::SUCCESS)
            } else {
                anyhow::bail!("no active legal hold `{id}`")
            }
        }
        RetentionCommand::Holds { all, sources } => {
            crate::config::existing_database(&config.database(&sources.database))?;
            let (store, _, _) = open_store(config, &sources).await?;
            say!("id\tsubject\trecord\treference\tplaced_by\tplaced_at\tlifted_at");
            for h in store.holds(!all).await? {
                let record = match (&h.dataset, &h.table_name, &h.record_key) {
                    (Some(d), Some(t), Some(k)) => format!("{d}.{t}={k}"),
                    _ => String::new(),
                };
                say!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    h.id,
                    h.subject.unwrap_or_default(),
                    record,
                    h.reference,
                    h.placed_by,
                    h.placed_at,
                    h.lifted_at.map(|t| t.to_string()).unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A plan that waits for approval: why, and per table what it would delete.
fn print_awaiting(id: &str, p: &Progress) {
    say!("sweep {id} awaits a DPO's approval of its plan:");
    for r in p.approval.iter().flat_map(|a| &a.reasons) {
        say!("  because: {r}");
    }
    for t in &p.tables {
        say!(
            "  {}.{}\t{}\tdelete_before {}\tdue {}",
            t.dataset,
            t.table,
            t.rule,
            t.cutoff,
            t.planned
                .map_or_else(|| "unknown".to_owned(), |n| n.to_string())
        );
    }
    say!("approve it with: tutela retention approve {id} --by OPERATOR");
}

/// The sweep settings of `config`: the datasets whose `[[dataset]]` says
/// `retention_sweeps = true` (matched by position with `connectors`, opened in the same order
/// by [`crate::open_datasets`]).
pub(crate) fn sweep_settings(
    config: &Config,
    connectors: &[std::sync::Arc<tutela_connectors::Connector>],
) -> SweepSettings {
    SweepSettings {
        enabled: config
            .dataset
            .iter()
            .zip(connectors)
            .filter(|(d, _)| d.retention_sweeps == Some(true))
            .map(|(_, c)| c.map.id.clone())
            .collect(),
        approval_rows: config.sweep_approval_rows.unwrap_or(1_000),
        ..SweepSettings::default()
    }
}

type Opened = (
    tutela_store::AnyStore,
    tutela_core::compiled::CompiledPolicy,
    Vec<std::sync::Arc<tutela_connectors::Connector>>,
);

async fn open_store(config: &Config, sources: &crate::Sources) -> anyhow::Result<Opened> {
    let policy = crate::load_policy(&config.policy(&sources.policy))?;
    let url = config.database(&sources.database);
    let store = config.open_store(&url).await?;
    tutela_store::Store::migrate(&store).await?;
    Ok((store, policy, Vec::new()))
}

async fn open(config: &Config, sources: &crate::Sources) -> anyhow::Result<Opened> {
    let (store, policy, _) = open_store(config, sources).await?;
    let connectors = crate::open_datasets(config, &policy.policy).await?;
    Ok((store, policy, connectors))
}

/// A progress line on a terminal: rows deleted so far and the rate.
struct Bar {
    started: Instant,
    tty: bool,
}

impl Bar {
    fn new() -> Bar {
        Bar {
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, p: &Progress) {
        if !self.tty {
            return;
        }
        let done = p.tables.iter().filter(|t| t.done).count();
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let _ = write!(
            std::io::stderr(),
            "\r{} of {} tables  {} rows deleted  {:.0} rows/s ",
            done,
            p.tables.len(),
            p.deleted(),
            p.deleted() as f64 / secs
        );
    }

    fn finish(&self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}
