//! Anonymous statistics from registered pseudonymised datasets (N7c, N16): the exact tally is
//! made first, the budget is spent (durably, with an audit row) before any figure is drawn, and
//! only groups of at least k persons leave, with noise where the query asks for it.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use tutela_core::policy::StatisticsRules;
use tutela_core::pseudonym::table::{OnBadRow, TableError};
use tutela_core::stats::{
    Aggregate, Bounds, Delta, Epsilon, Milli, Noise, Query, Release, Value, preflight, release,
};
use tutela_store::{
    BudgetLimit, BudgetSpend, BudgetUse, DatasetRecord, PseudonymisedStore, SpendOutcome,
    StatisticsStore,
};
use utoipa::ToSchema;

use super::{now, storage};
use crate::AppState;
use crate::extract::Json as Body;
use crate::problem::{Code, Problem};
use tutela_runtime::statistics::{TallyFileError, release_bits, tally};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatisticsPost {
    /// A registered pseudonymised dataset (`GET /v1/pseudonymised-datasets`) whose purpose the
    /// policy's `[statistics]` allows.
    pub dataset: String,
    /// The column that holds the person's pseudonym: k counts distinct values of it, and one
    /// person's rows are bounded by it.
    pub person: String,
    /// Columns to group by (at most 8); none for one figure over the whole dataset.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// `count`, `sum`, `mean` or `histogram`.
    pub aggregate: String,
    /// The numeric column summed, averaged or binned.
    pub column: Option<String>,
    /// Values are clamped to `[lower, upper]` before `sum` and `mean`.
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Bin edges of a `histogram`, rising: bins `[edges[i], edges[i+1])`.
    #[serde(default)]
    pub edges: Vec<f64>,
    /// The most rows of one person that count (default: the policy's `rows_per_person`).
    pub rows_per_person: Option<u32>,
    /// `laplace` or `gaussian` for a differentially private release; without it, exact
    /// figures of groups of at least k persons.
    pub noise: Option<String>,
    /// The budget the release spends (with `noise`).
    pub epsilon: Option<f64>,
    /// The delta a `gaussian` release spends.
    pub delta: Option<f64>,
    /// `stop` (default) or `skip`: whether a bad row stops the query or is left out.
    pub on_bad_row: Option<String>,
    /// Who asks: an analyst's or system's id (1 to 100 characters), recorded with the spend.
    pub requested_by: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    /// The group-by values, in the query's order.
    pub key: Vec<String>,
    /// A count, a sum or a mean as a decimal string with three places (`null` for a mean of
    /// an empty noisy count), or the bin counts of a histogram.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoisePartView {
    /// `count`, `sum` or `bins`.
    pub figure: &'static str,
    /// What one person can change in this figure.
    pub sensitivity: String,
    /// The standard deviation of the noise added to each such figure.
    pub stddev: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoiseView {
    pub mechanism: &'static str,
    pub epsilon: f64,
    pub delta: Option<f64>,
    pub parts: Vec<NoisePartView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetView {
    pub dataset: String,
    pub epsilon_spent: f64,
    pub epsilon_limit: f64,
    pub delta_spent: f64,
    /// Without a delta budget, only Laplace noise is released.
    pub delta_limit: Option<f64>,
    pub releases: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatisticsView {
    pub dataset: String,
    pub aggregate: &'static str,
    pub group_by: Vec<String>,
    /// k: groups with fewer distinct persons were not released.
    pub min_group_size: u32,
    pub rows_per_person: u32,
    pub groups: Vec<GroupView>,
    /// How many groups were suppressed; only for exact releases.
    pub suppressed_groups: Option<u64>,
    pub noise: Option<NoiseView>,
    /// Rows left out as bad (with `on_bad_row = skip`), and the first lines of them.
    pub rows_rejected: u64,
    pub rejected_lines: Vec<usize>,
    pub budget: BudgetView,
}

fn invalid(field: &str, detail: impl Into<String>, fix: &str) -> Problem {
    Problem::new(Code::InvalidField, detail)
        .field(field)
        .fix(fix)
}

fn rules(state: &AppState) -> Result<StatisticsRules, Problem> {
    state.engine.states().policy.policy.statistics.clone().ok_or_else(|| {
        Problem::new(Code::NotConfigured, "the policy has no [statistics]")
            .fix("add a [statistics] table with min_group_size, rows_per_person and budget_epsilon to the policy")
    })
}

async fn dataset(state: &AppState, id: &str, field: &str) -> Result<DatasetRecord, Problem> {
    let all = state.engine.store.datasets().await.map_err(storage)?;
    all.into_iter().find(|d| d.id == id).ok_or_else(|| {
        Problem::new(Code::UnknownId, "no registered dataset has this id")
            .field(field)
            .fix("name a dataset of GET /v1/pseudonymised-datasets")
    })
}

fn milli(v: Option<f64>, field: &str) -> Result<Milli, Problem> {
    v.and_then(Milli::from_f64).ok_or_else(|| {
        invalid(
            field,
            format!("{field} is missing or out of range"),
            "give a number, at most three decimal places count",
        )
    })
}

fn aggregate(body: &StatisticsPost) -> Result<Aggregate, Problem> {
    let column = || {
        body.column
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                invalid(
                    "column",
                    format!("a {} needs the column it works on", body.aggregate),
                    "name the numeric column",
                )
            })
    };
    let bounds = || {
        Bounds::new(milli(body.lower, "lower")?, milli(body.upper, "upper")?).ok_or_else(|| {
            invalid(
                "upper",
                "upper must be greater than lower",
                "bound the values one row can add, e.g. lower = 0, upper = 1000",
            )
        })
    };
    Ok(match body.aggregate.as_str() {
        "count" => Aggregate::Count,
        "sum" => Aggregate::Sum {
            column: column()?,
            bounds: bounds()?,
        },
        "mean" => Aggregate::Mean {
            column: column()?,
            bounds: bounds()?,
        },
        "histogram" => Aggregate::Histogram {
            column: column()?,
            edges: body
                .edges
                .iter()
                .enumerate()
                .map(|(i, e)| milli(Some(*e), &format!("edges[{i}]")))
                .collect::<Result<_, _>>()?,
        },
        _ => {
            return Err(invalid(
                "aggregate",
                "unknown aggregate",
                "use count, sum, mean or histogram",
            ));
        }
    })
}

fn noise(body: &StatisticsPost, rules: &StatisticsRules) -> Result<Option<Noise>, Problem> {
    let Some(mechanism) = body.noise.as_deref() else {
        if body.epsilon.is_some() || body.delta.is_some() {
            return Err(invalid(
                "noise",
                "epsilon and delta need a noise mechanism",
                "send noise = laplace or gaussian, or leave epsilon and delta out",
            ));
        }
        return Ok(None);
    };
    let epsilon = body.epsilon.and_then(Epsilon::from_f64).ok_or_else(|| {
        invalid(
            "epsilon",
            "epsilon is missing or out of range",
            "give epsilon above 0 and at most 20, e.g. 0.5",
        )
    })?;
    match mechanism {
        "laplace" => {
            if body.delta.is_some() {
                return Err(invalid(
                    "delta",
                    "Laplace noise spends no delta",
                    "leave delta out",
                ));
            }
            Ok(Some(Noise::Laplace { epsilon }))
        }
        "gaussian" => {
            if rules.budget_delta.is_none() {
                return Err(Problem::new(
                    Code::PolicyViolation,
                    "the policy gives datasets no delta budget, so only Laplace noise is released",
                )
                .field("noise")
                .fix("use noise = laplace, or set budget_delta in the policy's [statistics]"));
            }
            let delta = body.delta.and_then(Delta::from_f64).ok_or_else(|| {
                invalid(
                    "delta",
                    "delta is missing or out of range",
                    "give delta above 0 and at most 0.001, e.g. 1e-7",
                )
            })?;
            Ok(Some(Noise::Gaussian { epsilon, delta }))
        }
        _ => Err(invalid("noise", "unknown noise", "use laplace or gaussian")),
    }
}

fn budget_view(dataset: &str, used: &BudgetUse, rules: &StatisticsRules) -> BudgetView {
    BudgetView {
        dataset: dataset.to_owned(),
        epsilon_spent: used.epsilon_micros as f64 / 1e6,
        epsilon_limit: rules.budget_epsilon.value(),
        delta_spent: used.delta_picos as f64 / 1e12,
        delta_limit: rules.budget_delta.map(Delta::value),
        releases: used.releases,
    }
}

fn limit(rules: &StatisticsRules) -> BudgetLimit {
    BudgetLimit {
        epsilon_micros: rules.budget_epsilon.micros(),
        delta_picos: rules.budget_delta.map_or(0, Delta::picos),
    }
}

fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Count(c) => serde_json::json!(c),
        Value::Sum(m) => serde_json::json!(m.to_string()),
        Value::Mean(m) => m.map_or(serde_json::Value::Null, |m| {
            serde_json::json!(m.to_string())
        }),
        Value::Histogram(bins) => serde_json::json!(bins),
    }
}

/// The query's shape for the audit row: what was asked, never a figure.
fn shape(q: &Query) -> String {
    serde_json::json!({
        "aggregate": q.aggregate().name(),
        "column": q.aggregate().column(),
        "group_by": q.group_by(),
        "rows_per_person": q.rows_per_person(),
        "noise": q.noise().map(|n| n.mechanism().name()),
    })
    .to_string()
}

fn release_view(r: Release) -> (Vec<GroupView>, Option<u64>, Option<NoiseView>) {
    let groups = r
        .groups
        .iter()
        .map(|g| GroupView {
            key: g.key.clone(),
            value: value_json(&g.value),
        })
        .collect();
    let noise = r.noise.map(|n| NoiseView {
        mechanism: n.noise.mechanism().name(),
        epsilon: n.noise.epsilon().value(),
        delta: n.noise.delta().map(Delta::value),
        parts: n
            .parts
            .into_iter()
            .map(|p| NoisePartView {
                figure: p.figure,
                sensitivity: p.sensitivity,
                stddev: p.stddev,
            })
            .collect(),
    });
    (groups, r.suppressed_groups, noise)
}

#[utoipa::path(post, path = "/v1/statistics", request_body = StatisticsPost,
    responses((status = 200, body = StatisticsView), (status = 409, body = crate::problem::ProblemBody), (status = 410, body = crate::problem::ProblemBody), (status = 422, body = crate::problem::ProblemBody), (status = 501, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Body(body): Body<StatisticsPost>,
) -> Result<Json<StatisticsView>, Problem> {
    let rules = rules(&state)?;
    let by = body.requested_by.trim();
    if by.is_empty() || by.chars().count() > 100 || by.chars().any(char::is_control) {
        return Err(invalid(
            "requested_by",
            "requested_by must have 1 to 100 characters",
            "send the id of the analyst or system that asks",
        ));
    }
    let on_bad = match body.on_bad_row.as_deref() {
        None | Some("stop") => OnBadRow::Stop,
        Some("skip") => OnBadRow::Reject,
        Some(_) => return Err(invalid("on_bad_row", "unknown choice", "use stop or skip")),
    };
    let d = dataset(&state, &body.dataset, "dataset").await?;
    if !rules.purposes.contains(&d.purpose) {
        return Err(Problem::new(
            Code::PolicyViolation,
            format!(
                "the policy's [statistics] does not allow datasets of the purpose `{}`",
                d.purpose
            ),
        )
        .field("dataset")
        .fix("query a dataset of a purpose listed in [statistics] purposes"));
    }
    if d.deleted_at.is_some() {
        return Err(Problem::new(
            Code::ResultGone,
            "the dataset was deleted when its retention ended",
        )
        .field("dataset"));
    }
    let query = Query::new(
        body.person.clone(),
        body.group_by.clone(),
        aggregate(&body)?,
        body.rows_per_person.unwrap_or(rules.rows_per_person),
        noise(&body, &rules)?,
    )
    .map_err(|e| {
        invalid(
            e.field,
            e.what,
            "see the field's description in the API reference",
        )
    })?;
    preflight(&query).map_err(|e| {
        invalid(
            "epsilon",
            e.to_string(),
            "narrow the bounds, lower rows_per_person or raise epsilon",
        )
    })?;
    // Checked again now: the file may have been swapped for a link since it was registered.
    let file = state
        .requests
        .settings
        .pseudonymised_dirs
        .open(std::path::Path::new(&d.location))
        .map_err(|why| {
            Problem::new(
                Code::ResultGone,
                format!("the dataset's file cannot be read: {why}"),
            )
            .field("dataset")
            .fix("register the dataset again from a file in one of the server's pseudonymised_dirs")
        })?;
    let q = query.clone();
    let (tally, rejected) = tokio::task::spawn_blocking(move || tally(file, q, on_bad, |_| {}))
        .await
        .map_err(|_| {
            Problem::new(Code::StorageUnavailable, "the tally did not finish").fix("retry")
        })?
        .map_err(|e| match e {
            TallyFileError::Io(kind) => Problem::new(
                Code::ResultGone,
                format!("the dataset's file could not be read ({kind})"),
            )
            .field("dataset"),
            // Never the header's names: the error would quote the file.
            TallyFileError::Table(TableError::UnknownColumn(c, _)) => {
                let field = if c == body.person {
                    "person"
                } else if body.group_by.contains(&c) {
                    "group_by"
                } else {
                    "column"
                };
                invalid(
                    field,
                    format!("the dataset has no column `{c}`"),
                    &format!(
                        "name a column of the dataset; it was registered with: {}",
                        d.columns
                    ),
                )
            }
            other => invalid(
                "dataset",
                other.to_string(),
                "fix the file, or send on_bad_row = skip",
            ),
        })?;
    // The budget is spent before any noisy figure exists, and stays spent whatever follows.
    let used = match query.noise() {
        None => state
            .engine
            .store
            .budget_use(&d.id)
            .await
            .map_err(storage)?,
        Some(n) => {
            let spend = BudgetSpend {
                dataset: d.id.clone(),
                at: now(),
                epsilon_micros: n.epsilon().micros(),
                delta_picos: n.delta().map_or(0, Delta::picos),
                actor: by.to_owned(),
                query: shape(&query),
            };
            match tutela_runtime::records::budget_spend(&state.engine, &spend, limit(&rules))
                .await
                .map_err(storage)?
            {
                SpendOutcome::Spent(used) => used,
                SpendOutcome::Exhausted(used) => {
                    let b = budget_view(&d.id, &used, &rules);
                    return Err(Problem::new(
                        Code::BudgetExhausted,
                        format!(
                            "the dataset has spent epsilon {} of {}{}; this release would pass its budget",
                            b.epsilon_spent,
                            b.epsilon_limit,
                            b.delta_limit
                                .map(|l| format!(" and delta {} of {l}", b.delta_spent))
                                .unwrap_or_default()
                        ),
                    )
                    .field("epsilon")
                    .fix("ask for a smaller epsilon, or release from a new dataset; a spent budget does not come back"));
                }
            }
        }
    };
    let mut bits = release_bits().map_err(|_| {
        Problem::new(Code::StorageUnavailable, "no randomness for the noise").fix("retry")
    })?;
    let released = release(&tally, &query, rules.min_group_size, &mut bits).map_err(|e| {
        invalid(
            "epsilon",
            e.to_string(),
            "narrow the bounds or raise epsilon",
        )
    })?;
    let (groups, suppressed_groups, noise) = release_view(released);
    Ok(Json(StatisticsView {
        dataset: d.id.clone(),
        aggregate: query.aggregate().name(),
        group_by: query.group_by().to_vec(),
        min_group_size: rules.min_group_size,
        rows_per_person: query.rows_per_person(),
        groups,
        suppressed_groups,
        noise,
        rows_rejected: tally.rows_rejected,
        rejected_lines: rejected.iter().take(100).map(|e| e.line).collect(),
        budget: budget_view(&d.id, &used, &rules),
    }))
}

#[utoipa::path(get, path = "/v1/pseudonymised-datasets/{id}/budget",
    params(("id" = String, Path, description = "A registered dataset's id")),
    responses((status = 200, body = BudgetView), (status = 422, body = crate::problem::ProblemBody), (status = 501, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn budget(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BudgetView>, Problem> {
    let rules = rules(&state)?;
    let d = dataset(&state, &id, "id").await?;
    let used = state
        .engine
        .store
        .budget_use(&d.id)
        .await
        .map_err(storage)?;
    Ok(Json(budget_view(&d.id, &used, &rules)))
}
