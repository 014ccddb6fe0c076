//! Training a scorecard: columns checked (a number where numbers are expected, no missing
//! values, a target with exactly two classes), weight-of-evidence bins per feature, a logistic
//! regression on the WoE values (Newton–Raphson / IRLS with a small ridge), points scaling.

use super::{Bins, Feature, Metrics, Scorecard, auc, ks};
use crate::policy::RiskRules;

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub target: String,
    /// The class of those who did not pay; default: the rarer class.
    pub positive_class: Option<String>,
    /// Columns not to use.
    pub drop: Vec<String>,
    pub max_bins: usize,
    /// The smallest share of rows a bin may hold.
    pub min_bin_share: f64,
    pub ridge: f64,
    /// Features whose information value is below this carry too little signal to use.
    pub min_iv: f64,
    /// Numeric bins whose WoE runs against the feature's trend are merged.
    pub monotonic: bool,
    pub trained_at: String,
    pub data_hash: String,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            target: String::new(),
            positive_class: None,
            drop: Vec::new(),
            max_bins: 10,
            min_bin_share: 0.05,
            ridge: 3.0,
            min_iv: 0.02,
            monotonic: true,
            trained_at: String::new(),
            data_hash: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("the file has no rows")]
    Empty,
    #[error("there is no target column `{0}`")]
    TargetMissing(String),
    #[error("the target column `{column}` must have exactly two classes; it has {found:?}")]
    TargetClasses { column: String, found: Vec<String> },
    #[error("row {row} has {found} fields, the header {expected}")]
    Ragged {
        row: usize,
        found: usize,
        expected: usize,
    },
    #[error("row {row}, column `{column}`: the value is missing")]
    Missing { row: usize, column: String },
    #[error(
        "row {row}, column `{column}`: `{value}` is not a number, and the column holds numbers"
    )]
    NotNumeric {
        row: usize,
        column: String,
        value: String,
    },
    #[error(
        "{rows} rows are too few: every bin needs at least {per_bin} rows, so at least {need} rows are needed"
    )]
    TooFewRows {
        rows: usize,
        per_bin: usize,
        need: usize,
    },
    #[error("the policy excludes these features from scoring: {0:?}; drop them with --drop")]
    Excluded(Vec<String>),
    #[error(
        "a score may not be computed from address data alone (section 31(1) no. 3 BDSG): {0:?}"
    )]
    AddressOnly(Vec<String>),
    #[error("no feature is left to train on")]
    NoFeatures,
}

/// A trained scorecard and what training noted.
#[derive(Debug, Clone)]
pub struct Trained {
    pub scorecard: Scorecard,
    pub notes: Vec<String>,
}

enum Column {
    Numeric(Vec<f64>),
    Categorical(Vec<String>),
}

struct Prepared {
    names: Vec<String>,
    columns: Vec<Column>,
    /// true: the positive class (did not pay).
    labels: Vec<bool>,
    positive: String,
}

fn prepare(
    header: &[String],
    rows: &[Vec<String>],
    opts: &TrainOptions,
    rules: Option<&RiskRules>,
) -> Result<Prepared, TrainError> {
    if rows.is_empty() {
        return Err(TrainError::Empty);
    }
    let target = header
        .iter()
        .position(|h| *h == opts.target)
        .ok_or_else(|| TrainError::TargetMissing(opts.target.clone()))?;
    for (i, r) in rows.iter().enumerate() {
        if r.len() != header.len() {
            return Err(TrainError::Ragged {
                row: i + 2,
                found: r.len(),
                expected: header.len(),
            });
        }
    }
    let mut classes: Vec<String> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let v = r[target].trim();
        if v.is_empty() {
            return Err(TrainError::Missing {
                row: i + 2,
                column: opts.target.clone(),
            });
        }
        if !classes.iter().any(|c| c == v) {
            classes.push(v.to_owned());
        }
    }
    if classes.len() != 2 {
        return Err(TrainError::TargetClasses {
            column: opts.target.clone(),
            found: classes,
        });
    }
    let count = |c: &str| rows.iter().filter(|r| r[target].trim() == c).count();
    let positive = opts.positive_class.clone().unwrap_or_else(|| {
        if count(&classes[0]) <= count(&classes[1]) {
            classes[0].clone()
        } else {
            classes[1].clone()
        }
    });
    if !classes.contains(&positive) {
        return Err(TrainError::TargetClasses {
            column: opts.target.clone(),
            found: classes,
        });
    }
    let features: Vec<usize> = (0..header.len())
        .filter(|&i| i != target && !opts.drop.contains(&header[i]))
        .collect();
    let names: Vec<String> = features.iter().map(|&i| header[i].clone()).collect();
    if let Some(rules) = rules {
        let excluded: Vec<String> = names
            .iter()
            .filter(|n| rules.excluded_features.contains(n))
            .cloned()
            .collect();
        if !excluded.is_empty() {
            return Err(TrainError::Excluded(excluded));
        }
        if !names.is_empty() && names.iter().all(|n| rules.address_features.contains(n)) {
            return Err(TrainError::AddressOnly(names));
        }
    }
    if names.is_empty() {
        return Err(TrainError::NoFeatures);
    }
    let per_bin = ((rows.len() as f64 * opts.min_bin_share).ceil() as usize).max(5);
    if rows.len() < per_bin * 2 || rows.len() < 50 {
        return Err(TrainError::TooFewRows {
            rows: rows.len(),
            per_bin,
            need: (per_bin * 2).max(50),
        });
    }
    let mut columns = Vec::with_capacity(features.len());
    for &c in &features {
        let mut numbers = Vec::with_capacity(rows.len());
        let mut first_bad: Option<(usize, String)> = None;
        for (i, r) in rows.iter().enumerate() {
            let v = r[c].trim();
            if v.is_empty() {
                return Err(TrainError::Missing {
                    row: i + 2,
                    column: header[c].clone(),
                });
            }
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() => numbers.push(x),
                _ => {
                    if first_bad.is_none() {
                        first_bad = Some((i + 2, v.to_owned()));
                    }
                }
            }
        }
        match first_bad {
            None => columns.push(Column::Numeric(numbers)),
            // Mostly numbers with a stray word: a data error, not a category.
            Some((row, value)) if numbers.len() * 10 >= rows.len() * 8 => {
                return Err(TrainError::NotNumeric {
                    row,
                    column: header[c].clone(),
                    value,
                });
            }
            Some(_) => columns.push(Column::Categorical(
                rows.iter().map(|r| r[c].trim().to_owned()).collect(),
            )),
        }
    }
    let labels = rows.iter().map(|r| r[target].trim() == positive).collect();
    Ok(Prepared {
        names,
        columns,
        labels,
        positive,
    })
}

/// The weight of evidence of each bin, smoothed by 0.5 so that an empty class is no infinity.
fn woes(good: &[f64], bad: &[f64], total_good: f64, total_bad: f64) -> Vec<f64> {
    let k = good.len() as f64;
    good.iter()
        .zip(bad)
        .map(|(g, b)| {
            ((g + 0.5) / (total_good + 0.5 * k)).ln() - ((b + 0.5) / (total_bad + 0.5 * k)).ln()
        })
        .collect()
}

/// Bins one feature on the rows in `idx`; returns the bins and each row's bin.
fn bin_feature(col: &Column, labels: &[bool], idx: &[usize], opts: &TrainOptions) -> (Bins, f64) {
    let min_rows = ((idx.len() as f64 * opts.min_bin_share).ceil() as usize).max(1);
    let total_bad = idx.iter().filter(|&&i| labels[i]).count() as f64;
    let total_good = idx.len() as f64 - total_bad;
    match col {
        Column::Numeric(xs) => {
            let mut values: Vec<f64> = idx.iter().map(|&i| xs[i]).collect();
            values.sort_by(f64::total_cmp);
            let mut uppers: Vec<f64> = (1..opts.max_bins)
                .map(|q| values[(q * values.len() / opts.max_bins).min(values.len() - 1)])
                .collect();
            uppers.dedup();
            // Merge bins that are too small into their neighbour.
            loop {
                let counts = numeric_counts(&values, &uppers);
                let Some(small) = counts.iter().position(|&c| c < min_rows) else {
                    break;
                };
                if uppers.is_empty() {
                    break;
                }
                let drop = if small == 0 {
                    0
                } else if small >= uppers.len() {
                    uppers.len() - 1
                } else if counts[small - 1] <= counts[small + 1] {
                    small - 1
                } else {
                    small
                };
                uppers.remove(drop);
            }
            let count = |uppers: &[f64]| {
                let mut good = vec![0.0; uppers.len() + 1];
                let mut bad = vec![0.0; uppers.len() + 1];
                for &i in idx {
                    let b = uppers.partition_point(|u| *u < xs[i]);
                    if labels[i] {
                        bad[b] += 1.0;
                    } else {
                        good[b] += 1.0;
                    }
                }
                (good, bad)
            };
            let (mut good, mut bad) = count(&uppers);
            if opts.monotonic {
                // The WoE should rise or fall with the value: merge neighbours that break the
                // trend of the first and last bin (a guard against bins fitted to noise).
                loop {
                    let w = woes(&good, &bad, total_good, total_bad);
                    if w.len() < 3 {
                        break;
                    }
                    let rising = w[w.len() - 1] >= w[0];
                    let Some(v) = (0..w.len() - 1)
                        .find(|&i| (w[i + 1] >= w[i]) != rising && w[i + 1] != w[i])
                    else {
                        break;
                    };
                    uppers.remove(v);
                    (good, bad) = count(&uppers);
                }
            }
            let woe = woes(&good, &bad, total_good, total_bad);
            let iv = iv(&good, &bad, &woe, total_good, total_bad);
            (Bins::Numeric { uppers, woe }, iv)
        }
        Column::Categorical(vs) => {
            let mut counts: Vec<(String, f64, f64)> = Vec::new();
            for &i in idx {
                let pos = counts.iter().position(|c| c.0 == vs[i]);
                let e = match pos {
                    Some(p) => &mut counts[p],
                    None => {
                        counts.push((vs[i].clone(), 0.0, 0.0));
                        let last = counts.len() - 1;
                        &mut counts[last]
                    }
                };
                if labels[i] {
                    e.2 += 1.0;
                } else {
                    e.1 += 1.0;
                }
            }
            counts.sort_by(|a, b| a.0.cmp(&b.0));
            let mut categories: Vec<Vec<String>> = Vec::new();
            let mut good = Vec::new();
            let mut bad = Vec::new();
            let mut rare: (Vec<String>, f64, f64) = (Vec::new(), 0.0, 0.0);
            for (name, g, b) in counts {
                if ((g + b) as usize) < min_rows {
                    rare.0.push(name);
                    rare.1 += g;
                    rare.2 += b;
                } else {
                    categories.push(vec![name]);
                    good.push(g);
                    bad.push(b);
                }
            }
            let other = if rare.0.is_empty() {
                // Unseen categories fall into the largest bin.
                (0..good.len())
                    .max_by(|&a, &b| (good[a] + bad[a]).total_cmp(&(good[b] + bad[b])))
                    .unwrap_or(0)
            } else if ((rare.1 + rare.2) as usize) < min_rows && !categories.is_empty() {
                // Too few even together: join the smallest regular bin.
                let smallest = (0..good.len())
                    .min_by(|&a, &b| (good[a] + bad[a]).total_cmp(&(good[b] + bad[b])))
                    .unwrap_or(0);
                categories[smallest].extend(rare.0);
                good[smallest] += rare.1;
                bad[smallest] += rare.2;
                smallest
            } else {
                categories.push(rare.0);
                good.push(rare.1);
                bad.push(rare.2);
                categories.len() - 1
            };
            let woe = woes(&good, &bad, total_good, total_bad);
            let iv = iv(&good, &bad, &woe, total_good, total_bad);
            (
                Bins::Categorical {
                    categories,
                    woe,
                    other,
                },
                iv,
            )
        }
    }
}

fn numeric_counts(sorted: &[f64], uppers: &[f64]) -> Vec<usize> {
    let mut counts = vec![0; uppers.len() + 1];
    for x in sorted {
        counts[uppers.partition_point(|u| u < x)] += 1;
    }
    counts
}

fn iv(good: &[f64], bad: &[f64], woe: &[f64], tg: f64, tb: f64) -> f64 {
    good.iter()
        .zip(bad)
        .zip(woe)
        .map(|((g, b), w)| (g / tg.max(1.0) - b / tb.max(1.0)) * w)
        .sum()
}

fn woe_value(bins: &Bins, col: &Column, i: usize) -> f64 {
    match (bins, col) {
        (Bins::Numeric { uppers, woe }, Column::Numeric(xs)) => {
            woe[uppers.partition_point(|u| *u < xs[i]).min(woe.len() - 1)]
        }
        (
            Bins::Categorical {
                categories,
                woe,
                other,
            },
            Column::Categorical(vs),
        ) => {
            let b = categories
                .iter()
                .position(|c| c.contains(&vs[i]))
                .unwrap_or(*other);
            woe[b]
        }
        _ => 0.0,
    }
}

/// Logistic regression by Newton–Raphson; `x` rows without the intercept column.
fn logistic(x: &[Vec<f64>], y: &[bool], ridge: f64) -> Vec<f64> {
    let p = x.first().map_or(0, Vec::len) + 1;
    let mut beta = vec![0.0; p];
    for _ in 0..50 {
        let mut h = vec![vec![0.0; p]; p];
        let mut g = vec![0.0; p];
        for (row, &yi) in x.iter().zip(y) {
            let mut z = beta[0];
            for j in 1..p {
                z += beta[j] * row[j - 1];
            }
            let mu = 1.0 / (1.0 + (-z).exp());
            let w = (mu * (1.0 - mu)).max(1e-10);
            let r = f64::from(u8::from(yi)) - mu;
            for a in 0..p {
                let xa = if a == 0 { 1.0 } else { row[a - 1] };
                g[a] += xa * r;
                for b in a..p {
                    let xb = if b == 0 { 1.0 } else { row[b - 1] };
                    h[a][b] += w * xa * xb;
                }
            }
        }
        for a in 0..p {
            let upper: Vec<f64> = (0..a).map(|b| h[b][a]).collect();
            h[a][..a].copy_from_slice(&upper);
            if a > 0 {
                h[a][a] += ridge;
                g[a] -= ridge * beta[a];
            }
        }
        let step = solve(h, g);
        let mut change = 0.0f64;
        for (b, s) in beta.iter_mut().zip(&step) {
            *b += s;
            change = change.max(s.abs());
        }
        if change < 1e-9 {
            break;
        }
    }
    beta
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        let d = a[col][col];
        if d.abs() < 1e-12 {
            continue;
        }
        let pivot_row = a[col].clone();
        for row in col + 1..n {
            let f = a[row][col] / d;
            for (x, p) in a[row][col..n].iter_mut().zip(&pivot_row[col..n]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i][k] * x[k]).sum();
        x[i] = if a[i][i].abs() < 1e-12 {
            0.0
        } else {
            (b[i] - s) / a[i][i]
        };
    }
    x
}

/// Fits bins and weights on the rows in `idx`.
fn fit(prep: &Prepared, idx: &[usize], opts: &TrainOptions) -> (Vec<Feature>, f64, Vec<String>) {
    let mut features = Vec::new();
    let mut cols = Vec::new();
    let mut notes = Vec::new();
    for (name, col) in prep.names.iter().zip(&prep.columns) {
        let (bins, iv) = bin_feature(col, &prep.labels, idx, opts);
        let n_bins = match &bins {
            Bins::Numeric { woe, .. } | Bins::Categorical { woe, .. } => woe.len(),
        };
        if n_bins < 2 {
            notes.push(format!(
                "`{name}` has a single bin and carries no information; left out"
            ));
            continue;
        }
        if iv < opts.min_iv {
            notes.push(format!(
                "`{name}` has an information value of {iv:.3}, below {}; left out",
                opts.min_iv
            ));
            continue;
        }
        features.push(Feature {
            name: name.clone(),
            weight: 0.0,
            information_value: (iv * 1000.0).round() / 1000.0,
            bins,
            label: None,
        });
        cols.push(col);
    }
    let x: Vec<Vec<f64>> = idx
        .iter()
        .map(|&i| {
            features
                .iter()
                .zip(&cols)
                .map(|(f, c)| woe_value(&f.bins, c, i))
                .collect()
        })
        .collect();
    let y: Vec<bool> = idx.iter().map(|&i| prep.labels[i]).collect();
    let beta = logistic(&x, &y, opts.ridge);
    for (f, b) in features.iter_mut().zip(&beta[1..]) {
        f.weight = *b;
    }
    (features, beta[0], notes)
}

fn scores_of(features: &[Feature], intercept: f64, prep: &Prepared, idx: &[usize]) -> Vec<f64> {
    idx.iter()
        .map(|&i| {
            let mut z = intercept;
            for f in features {
                if let Some(c) = prep.names.iter().position(|n| *n == f.name) {
                    z += f.weight * woe_value(&f.bins, &prep.columns[c], i);
                }
            }
            z
        })
        .collect()
}

/// Trains on every row.
pub fn train(
    header: &[String],
    rows: &[Vec<String>],
    opts: &TrainOptions,
    rules: Option<&RiskRules>,
) -> Result<Trained, TrainError> {
    let prep = prepare(header, rows, opts, rules)?;
    let all: Vec<usize> = (0..rows.len()).collect();
    let (features, intercept, notes) = fit(&prep, &all, opts);
    if features.is_empty() {
        return Err(TrainError::NoFeatures);
    }
    let scores = scores_of(&features, intercept, &prep, &all);
    let a = auc(&scores, &prep.labels);
    Ok(Trained {
        scorecard: Scorecard {
            format: super::FORMAT,
            trained_at: opts.trained_at.clone(),
            data_hash: opts.data_hash.clone(),
            rows: rows.len(),
            target: opts.target.clone(),
            positive_class: prep.positive.clone(),
            intercept,
            base_points: 600.0,
            base_odds: 50.0,
            pdo: 20.0,
            features,
            metrics: Metrics {
                auc: round4(a),
                gini: round4(2.0 * a - 1.0),
                ks: round4(ks(&scores, &prep.labels)),
            },
        },
        notes,
    })
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Stratified k-fold cross-validation with a seeded shuffle; the AUC of each fold, binning
/// and regression fitted on the other folds.
pub fn cross_validate(
    header: &[String],
    rows: &[Vec<String>],
    opts: &TrainOptions,
    rules: Option<&RiskRules>,
    folds: usize,
    seed: u64,
) -> Result<Vec<f64>, TrainError> {
    let prep = prepare(header, rows, opts, rules)?;
    let fold_of = stratified_folds(&prep.labels, folds, seed);
    let mut aucs = Vec::with_capacity(folds);
    for f in 0..folds {
        let train_idx: Vec<usize> = (0..rows.len()).filter(|&i| fold_of[i] != f).collect();
        let test_idx: Vec<usize> = (0..rows.len()).filter(|&i| fold_of[i] == f).collect();
        let (features, intercept, _) = fit(&prep, &train_idx, opts);
        let scores = scores_of(&features, intercept, &prep, &test_idx);
        let labels: Vec<bool> = test_idx.iter().map(|&i| prep.labels[i]).collect();
        aucs.push(auc(&scores, &labels));
    }
    Ok(aucs)
}

/// The fold of each row: each class shuffled with a seeded xorshift and dealt round-robin,
/// so every fold has the classes in the file's proportion. Written out by the CLI, so that
/// other tools can be measured on the very same folds.
pub fn folds(
    header: &[String],
    rows: &[Vec<String>],
    opts: &TrainOptions,
    folds: usize,
    seed: u64,
) -> Result<Vec<usize>, TrainError> {
    let prep = prepare(header, rows, opts, None)?;
    Ok(stratified_folds(&prep.labels, folds, seed))
}

fn stratified_folds(labels: &[bool], folds: usize, seed: u64) -> Vec<usize> {
    let folds = folds.max(2);
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut fold_of = vec![0usize; labels.len()];
    for class in [true, false] {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        for i in (1..members.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            members.swap(i, j);
        }
        for (k, m) in members.into_iter().enumerate() {
            fold_of[m] = k % folds;
        }
    }
    fold_of
}
