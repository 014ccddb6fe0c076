//! `tutela stats`: anonymous statistics (N7c, N16). From a registered dataset through the
//! running server, which keeps the dataset's privacy budget and spends it before noisy figures
//! exist; or from a local file, exact and k-suppressed only (without a budget there is no
//! noisy release). The result is CSV on standard output; what was suppressed, spent and
//! rejected goes to standard error.

use std::path::PathBuf;

use anyhow::Context;
use tutela_core::pseudonym::table::OnBadRow;
use tutela_core::stats::{Aggregate, Bounds, Milli, Query, Value, release};

use crate::config::Config;
use crate::pseudonymise_cmd::Progress;

#[derive(clap::Args)]
pub struct StatsArgs {
    /// A registered pseudonymised dataset (its id from GET /v1/pseudonymised-datasets): the
    /// server reads it and keeps its budget.
    #[arg(long, conflicts_with = "input", required_unless_present = "input")]
    dataset: Option<String>,
    /// A local CSV file instead: exact figures, groups under k suppressed, no noise.
    #[arg(long = "in")]
    input: Option<PathBuf>,
    /// The column holding the person's pseudonym (k counts its distinct values).
    #[arg(long)]
    person: String,
    /// A column to group by, repeated.
    #[arg(long = "group-by")]
    group_by: Vec<String>,
    /// `count`, `sum`, `mean` or `histogram`.
    #[arg(long, default_value = "count")]
    aggregate: String,
    /// The numeric column of a sum, mean or histogram.
    #[arg(long)]
    column: Option<String>,
    /// Values are clamped to [lower, upper] before a sum or mean.
    #[arg(long, allow_hyphen_values = true)]
    lower: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    upper: Option<f64>,
    /// Histogram bin edges, rising, comma-separated.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    edges: Vec<f64>,
    /// The most rows of one person that count (default: the policy's).
    #[arg(long)]
    rows_per_person: Option<u32>,
    /// `laplace` or `gaussian` (with --dataset): a differentially private release.
    #[arg(long)]
    noise: Option<String>,
    #[arg(long)]
    epsilon: Option<f64>,
    #[arg(long)]
    delta: Option<f64>,
    /// Leave bad rows out (counted) instead of stopping.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Who asks, recorded with a spend of the budget.
    #[arg(long, env = "USER", default_value = "cli")]
    requested_by: String,
    /// The policy file (for --in: its [statistics] gives k and the rows per person).
    #[arg(long)]
    policy: Option<String>,
    #[arg(long, env = "TUTELA_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    #[arg(long, default_value = "tutela.token")]
    token_file: String,
}

/// What a run printed to standard error, line by line.
pub struct Outcome {
    pub csv: String,
    pub notes: Vec<String>,
}

fn header(args: &StatsArgs, bins: Option<&[String]>) -> Vec<String> {
    let mut h = args.group_by.clone();
    match bins {
        Some(b) => h.extend(b.iter().cloned()),
        None => h.push(args.aggregate.clone()),
    }
    h
}

/// `LOW..HIGH` for each bin `[LOW, HIGH)`.
fn bin_labels(edges: &[String]) -> Vec<String> {
    edges
        .windows(2)
        .map(|w| format!("{}..{}", w[0], w[1]))
        .collect()
}

pub fn run(args: &StatsArgs, config: &Config) -> anyhow::Result<Outcome> {
    match &args.dataset {
        Some(dataset) => remote(args, dataset),
        None => local(args, config),
    }
}

fn remote(args: &StatsArgs, dataset: &str) -> anyhow::Result<Outcome> {
    let body = serde_json::json!({
        "dataset": dataset,
        "person": args.person,
        "group_by": args.group_by,
        "aggregate": args.aggregate,
        "column": args.column,
        "lower": args.lower,
        "upper": args.upper,
        "edges": args.edges,
        "rows_per_person": args.rows_per_person,
        "noise": args.noise,
        "epsilon": args.epsilon,
        "delta": args.delta,
        "on_bad_row": if args.skip_bad_rows { "skip" } else { "stop" },
        "requested_by": args.requested_by,
    });
    let client = crate::client::ApiClient::new(&args.server, &args.token_file)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answer = rt
        .block_on(client.call("POST", "/v1/statistics", Some(&body), None))?
        .ok()
        .context("the release was refused")?
        .json();
    let edges: Vec<String> = args
        .edges
        .iter()
        .map(|e| Milli::from_f64(*e).map_or_else(|| e.to_string(), |m| m.to_string()))
        .collect();
    let bins = (args.aggregate == "histogram").then(|| bin_labels(&edges));
    let mut csv = String::new();
    tutela_core::csv::write_row(
        &mut csv,
        header(args, bins.as_deref()).iter().map(String::as_str),
    );
    for g in answer["groups"].as_array().into_iter().flatten() {
        let mut row: Vec<String> = g["key"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| k.as_str().unwrap_or_default().to_owned())
            .collect();
        match &g["value"] {
            serde_json::Value::Array(bins) => row.extend(bins.iter().map(|b| b.to_string())),
            serde_json::Value::String(s) => row.push(s.clone()),
            serde_json::Value::Null => row.push(String::new()),
            v => row.push(v.to_string()),
        }
        tutela_core::csv::write_row(&mut csv, row.iter().map(String::as_str));
    }
    let mut notes = vec![format!(
        "groups under {} persons are not released{}",
        answer["min_group_size"],
        answer["suppressed_groups"]
            .as_u64()
            .map(|n| format!(" ({n} suppressed)"))
            .unwrap_or_default()
    )];
    if let Some(parts) = answer["noise"]["parts"].as_array() {
        for p in parts {
            notes.push(format!(
                "{} noise on each {}: standard deviation {:.3} (one person changes it by at most {})",
                answer["noise"]["mechanism"].as_str().unwrap_or("?"),
                p["figure"].as_str().unwrap_or("?"),
                p["stddev"].as_f64().unwrap_or(f64::NAN),
                p["sensitivity"].as_str().unwrap_or("?"),
            ));
        }
    }
    let b = &answer["budget"];
    notes.push(format!(
        "budget of {}: epsilon {} of {} spent in {} releases",
        b["dataset"].as_str().unwrap_or("?"),
        b["epsilon_spent"],
        b["epsilon_limit"],
        b["releases"]
    ));
    if answer["rows_rejected"].as_u64().unwrap_or(0) > 0 {
        notes.push(format!(
            "{} bad rows left out, at lines {}",
            answer["rows_rejected"], answer["rejected_lines"]
        ));
    }
    Ok(Outcome { csv, notes })
}

fn local(args: &StatsArgs, config: &Config) -> anyhow::Result<Outcome> {
    if args.noise.is_some() || args.epsilon.is_some() {
        anyhow::bail!(
            "a noisy release spends a dataset's privacy budget, which the server keeps: register the file (tutela pseudonymise --register-for PURPOSE) and use --dataset"
        );
    }
    let input = args.input.as_ref().context("--in or --dataset")?;
    let policy = crate::load_policy(&config.policy(&args.policy))?;
    let rules = policy.policy.statistics.clone().context(
        "the policy has no [statistics]: add one with min_group_size, rows_per_person and budget_epsilon",
    )?;
    let milli = |v: Option<f64>, what: &str| {
        v.and_then(Milli::from_f64)
            .with_context(|| format!("--{what}: a number is needed"))
    };
    let column = || {
        args.column
            .clone()
            .context("--column names the numeric column")
    };
    let aggregate = match args.aggregate.as_str() {
        "count" => Aggregate::Count,
        "sum" | "mean" => {
            let bounds = Bounds::new(milli(args.lower, "lower")?, milli(args.upper, "upper")?)
                .context("--upper must be greater than --lower")?;
            if args.aggregate == "sum" {
                Aggregate::Sum {
                    column: column()?,
                    bounds,
                }
            } else {
                Aggregate::Mean {
                    column: column()?,
                    bounds,
                }
            }
        }
        "histogram" => Aggregate::Histogram {
            column: column()?,
            edges: args
                .edges
                .iter()
                .map(|e| milli(Some(*e), "edges"))
                .collect::<anyhow::Result<_>>()?,
        },
        other => anyhow::bail!("--aggregate {other}: use count, sum, mean or histogram"),
    };
    let edges = match &aggregate {
        Aggregate::Histogram { edges, .. } => {
            Some(edges.iter().map(Milli::to_string).collect::<Vec<_>>())
        }
        _ => None,
    };
    let query = Query::new(
        args.person.clone(),
        args.group_by.clone(),
        aggregate,
        args.rows_per_person.unwrap_or(rules.rows_per_person),
        None,
    )
    .map_err(|e| anyhow::anyhow!("--{}: {}", e.field.replace('_', "-"), e.what))?;
    let total = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
    let progress = Progress::new(total);
    let on_bad = if args.skip_bad_rows {
        OnBadRow::Reject
    } else {
        OnBadRow::Stop
    };
    let (tally, rejected) =
        tutela_runtime::statistics::tally_file(input, query.clone(), on_bad, |read| {
            progress.show(read)
        })
        .with_context(|| format!("{}", input.display()))?;
    progress.finish();
    // The query has no noise: the generator is never drawn from.
    let mut bits = tutela_runtime::statistics::release_bits()
        .map_err(|_| anyhow::anyhow!("the operating system gave no randomness"))?;
    let r = release(&tally, &query, rules.min_group_size, &mut bits)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let bins = edges.as_deref().map(bin_labels);
    let mut csv = String::new();
    tutela_core::csv::write_row(
        &mut csv,
        header(args, bins.as_deref()).iter().map(String::as_str),
    );
    for g in &r.groups {
        let mut row = g.key.clone();
        match &g.value {
            Value::Count(c) => row.push(c.to_string()),
            Value::Sum(m) => row.push(m.to_string()),
            Value::Mean(m) => row.push(m.map(|m| m.to_string()).unwrap_or_default()),
            Value::Histogram(b) => row.extend(b.iter().map(u64::to_string)),
        }
        tutela_core::csv::write_row(&mut csv, row.iter().map(String::as_str));
    }
    let mut notes = vec![format!(
        "{} rows of {} persons read; groups under {} persons are not released ({} suppressed); {} rows over {} per person left out",
        tally.rows_read,
        tally.persons,
        rules.min_group_size,
        r.suppressed_groups.unwrap_or(0),
        tally.rows_over_limit,
        query.rows_per_person(),
    )];
    if !rejected.is_empty() {
        notes.push(format!("{} bad rows left out", rejected.len()));
        notes.extend(rejected.iter().take(20).map(|e| format!("rejected: {e}")));
    }
    Ok(Outcome { csv, notes })
}
