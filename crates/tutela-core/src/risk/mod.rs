//! The risk check's scorecard (N14): weight-of-evidence binning and logistic regression,
//! trained from a table, saved as a versioned model, scored with the reasons that cost the
//! most points. "A recognised mathematical-statistical method" (N14, section 31(1) no. 2 BDSG)
//! that can be explained (Art. 15(1)(h), CJEU C-203/22).
//!
//! Pure: the caller reads the file and passes the time.

mod labels;
mod train;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

pub use crate::datamap::Label;
pub use labels::parse_labels;
pub use train::{TrainError, TrainOptions, Trained, cross_validate, folds, train};

/// The model file's format version. Labels (issue 32) did not change it: they are optional, a
/// model without them loads as before, and a reader that does not know them skips them.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    pub format: u32,
    pub trained_at: String,
    /// SHA-256 of the training file.
    pub data_hash: String,
    pub rows: usize,
    pub target: String,
    /// The outcome the regression predicts (the class of those who did not pay).
    pub positive_class: String,
    pub intercept: f64,
    /// Points scaling: `base_points` at odds `base_odds` (good:bad), `pdo` points double them.
    pub base_points: f64,
    pub base_odds: f64,
    pub pdo: f64,
    pub features: Vec<Feature>,
    pub metrics: Metrics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// The training table's column.
    pub name: String,
    pub weight: f64,
    pub information_value: f64,
    pub bins: Bins,
    /// The feature's name for people (`tutela risk train --labels`): the Art. 15 report gives
    /// the reasons by it; without one, by the column's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Bins {
    /// `uppers[i]` is the inclusive upper bound of bin `i`; the last bin is open.
    Numeric { uppers: Vec<f64>, woe: Vec<f64> },
    /// Categories by name; `other` takes the rare ones and any unseen at scoring.
    Categorical {
        categories: Vec<Vec<String>>,
        woe: Vec<f64>,
        other: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Metrics {
    pub auc: f64,
    pub gini: f64,
    pub ks: f64,
}

/// What scoring an applicant gives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Probability that the applicant meets their payment obligations.
    pub probability: f64,
    pub points: f64,
    /// The features that cost the most points against their best bin, most first.
    pub reasons: Vec<ScoreReason>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreReason {
    pub feature: String,
    pub value: String,
    pub points_lost: f64,
    /// The feature's label when the model has one; kept with the check, so the report names
    /// the reason as the model did when it decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    #[error("the applicant lacks feature `{0}`")]
    Missing(String),
    #[error("feature `{0}` is not one the model knows")]
    Unknown(String),
    #[error("feature `{feature}` must be a number, not `{value}`")]
    NotNumeric { feature: String, value: String },
}

/// A model file whose numbers do not fit together: scoring with it would be meaningless.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("feature `{feature}`: {what}")]
pub struct ModelError {
    pub feature: String,
    pub what: String,
}

impl Scorecard {
    /// Checks what scoring relies on: every bin has its weight of evidence, bounds ascend,
    /// `other` is a bin, and every number is finite. A model file is read through this.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |feature: &str, what: &str| {
            Err(ModelError {
                feature: feature.to_owned(),
                what: what.to_owned(),
            })
        };
        let scaling = [self.intercept, self.base_points, self.base_odds, self.pdo];
        if scaling.iter().any(|x| !x.is_finite()) || self.base_odds <= 0.0 || self.pdo == 0.0 {
            return bad(
                "(scaling)",
                "intercept, base points, base odds and pdo must be finite; odds positive, pdo not zero",
            );
        }
        for f in &self.features {
            if !f.weight.is_finite() {
                return bad(&f.name, "the weight is not a finite number");
            }
            match &f.bins {
                Bins::Numeric { uppers, woe } => {
                    if woe.len() != uppers.len() + 1 {
                        return bad(
                            &f.name,
                            "a numeric feature needs one WoE per bound plus one for the open last bin",
                        );
                    }
                    if uppers.iter().any(|u| !u.is_finite())
                        || uppers.windows(2).any(|w| w[0] >= w[1])
                    {
                        return bad(&f.name, "bin bounds must be finite and ascending");
                    }
                    if woe.iter().any(|w| !w.is_finite()) {
                        return bad(&f.name, "a WoE is not a finite number");
                    }
                }
                Bins::Categorical {
                    categories,
                    woe,
                    other,
                } => {
                    if woe.len() != categories.len() || *other >= woe.len() {
                        return bad(
                            &f.name,
                            "a categorical feature needs one WoE per bin and `other` among them",
                        );
                    }
                    if woe.iter().any(|w| !w.is_finite()) {
                        return bad(&f.name, "a WoE is not a finite number");
                    }
                }
            }
        }
        Ok(())
    }

    /// Gives each feature its label from `labels` (column → label); features without one keep
    /// theirs, if any.
    pub fn set_labels(&mut self, labels: &BTreeMap<String, Label>) {
        for f in &mut self.features {
            if let Some(l) = labels.get(&f.name) {
                f.label = Some(l.clone());
            }
        }
    }

    /// The features without a label: a check's reasons name them by their column.
    pub fn unlabelled(&self) -> Vec<&str> {
        self.features
            .iter()
            .filter(|f| f.label.is_none())
            .map(|f| f.name.as_str())
            .collect()
    }

    fn factor(&self) -> f64 {
        self.pdo / std::f64::consts::LN_2
    }

    /// The bin of `value` in feature `f`, and its WoE.
    fn bin(&self, f: &Feature, value: &str) -> Result<(usize, f64), ScoreError> {
        match &f.bins {
            Bins::Numeric { uppers, woe } => {
                let x: f64 = value.trim().parse().map_err(|_| ScoreError::NotNumeric {
                    feature: f.name.clone(),
                    value: value.to_owned(),
                })?;
                let i = uppers.iter().position(|u| x <= *u).unwrap_or(uppers.len());
                Ok((i, woe[i.min(woe.len() - 1)]))
            }
            Bins::Categorical {
                categories,
                woe,
                other,
            } => {
                let i = categories
                    .iter()
                    .position(|c| c.iter().any(|v| v == value))
                    .unwrap_or(*other);
                Ok((i, woe[i]))
            }
        }
    }

    /// Scores an applicant given as feature name → value. Extra features are refused: a
    /// caller that sends data the model does not use sends too much.
    pub fn score(&self, applicant: &HashMap<String, String>) -> Result<Score, ScoreError> {
        if let Some(extra) = applicant
            .keys()
            .find(|k| !self.features.iter().any(|f| &f.name == *k))
        {
            return Err(ScoreError::Unknown(extra.clone()));
        }
        let factor = self.factor();
        let mut logit = self.intercept;
        let mut reasons = Vec::new();
        for f in &self.features {
            let value = applicant
                .get(&f.name)
                .ok_or_else(|| ScoreError::Missing(f.name.clone()))?;
            let (_, woe) = self.bin(f, value)?;
            logit += f.weight * woe;
            let best = f.best_woe(f.weight);
            let lost = factor * f.weight * (woe - best);
            // `weight` is negative (a higher WoE means a better payer): points lost are positive.
            reasons.push(ScoreReason {
                feature: f.name.clone(),
                value: value.clone(),
                points_lost: (lost * 10.0).round() / 10.0,
                label: f.label.clone(),
            });
        }
        reasons.retain(|r| r.points_lost > 0.0);
        reasons.sort_by(|a, b| b.points_lost.total_cmp(&a.points_lost));
        reasons.truncate(3);
        let p_bad = 1.0 / (1.0 + (-logit).exp());
        let offset = self.base_points - factor * self.base_odds.ln();
        Ok(Score {
            probability: 1.0 - p_bad,
            points: ((offset - factor * logit) * 10.0).round() / 10.0,
            reasons,
        })
    }

    /// A scorer that takes values in feature order, for many applicants.
    pub fn compile(&self) -> CompiledScorecard {
        let factor = self.factor();
        CompiledScorecard {
            intercept: self.intercept,
            offset: self.base_points - factor * self.base_odds.ln(),
            factor,
            features: self
                .features
                .iter()
                .map(|f| match &f.bins {
                    Bins::Numeric { uppers, woe } => CompiledFeature::Numeric {
                        uppers: uppers.clone(),
                        contrib: woe.iter().map(|w| w * f.weight).collect(),
                    },
                    Bins::Categorical {
                        categories,
                        woe,
                        other,
                    } => {
                        let mut map = HashMap::new();
                        for (i, cs) in categories.iter().enumerate() {
                            for c in cs {
                                map.insert(c.clone(), woe[i] * f.weight);
                            }
                        }
                        CompiledFeature::Categorical {
                            map,
                            other: woe[*other] * f.weight,
                        }
                    }
                })
                .collect(),
        }
    }
}

impl Feature {
    fn best_woe(&self, weight: f64) -> f64 {
        let woe = match &self.bins {
            Bins::Numeric { woe, .. } | Bins::Categorical { woe, .. } => woe,
        };
        // The bin with the lowest contribution to the log-odds of not paying.
        woe.iter()
            .copied()
            .min_by(|a, b| (a * weight).total_cmp(&(b * weight)))
            .unwrap_or(0.0)
    }
}

/// The scorecard as lookup tables.
pub struct CompiledScorecard {
    intercept: f64,
    offset: f64,
    factor: f64,
    features: Vec<CompiledFeature>,
}

enum CompiledFeature {
    Numeric {
        uppers: Vec<f64>,
        contrib: Vec<f64>,
    },
    Categorical {
        map: HashMap<String, f64>,
        other: f64,
    },
}

/// A value of one feature, already parsed.
pub enum Value<'a> {
    Number(f64),
    Category(&'a str),
}

impl CompiledScorecard {
    /// The probability of meeting payment obligations and the points, for values in the
    /// model's feature order. A value of the wrong kind counts as the feature's worst case.
    pub fn score(&self, values: &[Value<'_>]) -> (f64, f64) {
        let mut logit = self.intercept;
        for (f, v) in self.features.iter().zip(values) {
            logit += match (f, v) {
                (CompiledFeature::Numeric { uppers, contrib }, Value::Number(x)) => {
                    let i = uppers.partition_point(|u| *u < *x);
                    contrib[i.min(contrib.len() - 1)]
                }
                (CompiledFeature::Categorical { map, other }, Value::Category(c)) => {
                    *map.get(*c).unwrap_or(other)
                }
                (CompiledFeature::Numeric { contrib, .. }, _) => {
                    contrib.iter().copied().fold(f64::MIN, f64::max)
                }
                (CompiledFeature::Categorical { map, other }, _) => {
                    map.values().copied().fold(*other, f64::max)
                }
            };
        }
        let p_bad = 1.0 / (1.0 + (-logit).exp());
        (1.0 - p_bad, self.offset - self.factor * logit)
    }
}

/// AUC of `scores` for `labels` (true = positive), by ranks; ties count half.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = r;
        }
        i = j + 1;
    }
    let pos = labels.iter().filter(|l| **l).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return 0.5;
    }
    let sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l)
        .map(|(r, _)| r)
        .sum();
    (sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Kolmogorov–Smirnov: the largest gap between the score distributions of the two classes.
pub fn ks(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let pos = labels.iter().filter(|l| **l).count() as f64;
    let neg = labels.len() as f64 - pos;
    let (mut cp, mut cn, mut best) = (0.0, 0.0, 0.0f64);
    for i in idx {
        if labels[i] {
            cp += 1.0;
        } else {
            cn += 1.0;
        }
        best = best.max((cp / pos.max(1.0) - cn / neg.max(1.0)).abs());
    }
    best
}
