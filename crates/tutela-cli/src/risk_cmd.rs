//! `tutela risk train|score|explain`: the scorecard of the risk check (N14).

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use sha2::{Digest, Sha256};
use tutela_core::risk::{self, Bins, Scorecard, TrainOptions};

#[derive(Subcommand)]
pub enum RiskCommand {
    /// Train a scorecard from a CSV file (header row; one column is the outcome).
    Train {
        data: String,
        /// The outcome column.
        #[arg(long)]
        target: String,
        /// The class of those who did not pay (default: the rarer one).
        #[arg(long)]
        positive: Option<String>,
        /// Columns not to use; the policy's excluded features must be dropped.
        #[arg(long, value_delimiter = ',')]
        drop: Vec<String>,
        /// Where to write the model.
        #[arg(long, default_value = "scorecard.json")]
        out: String,
        /// Also cross-validate with this many stratified folds and report each fold's AUC.
        #[arg(long)]
        cv: Option<usize>,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Write each row's fold (one number per line), to measure other tools on the same folds.
        #[arg(long)]
        folds_out: Option<String>,
        /// Policy file (its [risk] rules); the built-in reference policy when not given.
        #[arg(long)]
        policy: Option<String>,
        /// The features' names for people, in German and English (TOML: `[column]` with
        /// `de = "…"` and `en = "…"`): the Art. 15 report gives a check's reasons by them.
        #[arg(long)]
        labels: Option<String>,
    },
    /// Score one applicant (a JSON object of feature → value).
    Score {
        #[arg(long)]
        model: String,
        /// JSON, e.g. '{"duration_in_month": "12", …}'.
        #[arg(long)]
        applicant: String,
    },
    /// The logic of the model in words (Art. 15(1)(h)): features, bins, points.
    Explain {
        #[arg(long)]
        model: String,
        #[arg(long, default_value = "de")]
        lang: String,
    },
}

pub fn run(cmd: RiskCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RiskCommand::Train {
            data,
            target,
            positive,
            drop,
            out,
            cv,
            seed,
            folds_out,
            policy,
            labels,
        } => {
            let bytes = std::fs::read(&data).with_context(|| format!("reading {data}"))?;
            let text =
                String::from_utf8(bytes.clone()).with_context(|| format!("{data} is not UTF-8"))?;
            let mut rows =
                tutela_core::csv::parse(&text).map_err(|e| anyhow::anyhow!("{data}: {e}"))?;
            if rows.is_empty() {
                anyhow::bail!("{data}: the file is empty");
            }
            let header = rows.remove(0);
            let labels = match &labels {
                Some(file) => {
                    let text =
                        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
                    let columns: Vec<String> =
                        header.iter().filter(|c| **c != target).cloned().collect();
                    risk::parse_labels(file, &text, &columns).map_err(|e| anyhow::anyhow!("{e}"))?
                }
                None => Default::default(),
            };
            let policy = crate::load_policy(&policy)?;
            let opts = TrainOptions {
                target,
                positive_class: positive,
                drop,
                trained_at: jiff::Timestamp::now().to_string(),
                data_hash: Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
                ..TrainOptions::default()
            };
            let rules = policy.policy.risk.as_ref();
            let mut trained = risk::train(&header, &rows, &opts, rules)
                .map_err(|e| anyhow::anyhow!("{data}: {e}"))?;
            trained.scorecard.set_labels(&labels);
            if let Some(k) = cv {
                let aucs = risk::cross_validate(&header, &rows, &opts, rules, k, seed)
                    .map_err(|e| anyhow::anyhow!("{data}: {e}"))?;
                let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
                say!(
                    "{k}-fold stratified cross-validation (seed {seed}): AUC {} — mean {mean:.4}",
                    aucs.iter()
                        .map(|a| format!("{a:.4}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if let Some(path) = folds_out {
                    let f = risk::folds(&header, &rows, &opts, k, seed)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let text: String = f.iter().map(|x| format!("{x}\n")).collect();
                    std::fs::write(&path, text).with_context(|| format!("writing {path}"))?;
                }
            }
            for n in &trained.notes {
                eprintln!("note: {n}");
            }
            if let Some(w) = unlabelled_warning(&trained.scorecard) {
                eprintln!("warning: {w}");
            }
            let json = serde_json::to_string_pretty(&trained.scorecard)?;
            // Written whole to a temporary name, then renamed: never half a model file.
            let tmp = format!("{out}.tmp");
            std::fs::write(&tmp, json).with_context(|| format!("writing {tmp}"))?;
            std::fs::rename(&tmp, &out).with_context(|| format!("writing {out}"))?;
            let m = &trained.scorecard.metrics;
            say!(
                "trained on {} rows, {} features; AUC {:.4}, Gini {:.4}, KS {:.4} (on the training data); model in {out}",
                trained.scorecard.rows,
                trained.scorecard.features.len(),
                m.auc,
                m.gini,
                m.ks
            );
            Ok(ExitCode::SUCCESS)
        }
        RiskCommand::Score { model, applicant } => {
            let card = load_model(&model)?;
            let a: HashMap<String, serde_json::Value> =
                serde_json::from_str(&applicant).context("--applicant must be a JSON object")?;
            let a: HashMap<String, String> = a
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect();
            let score = card.score(&a).map_err(|e| anyhow::anyhow!("{e}"))?;
            say!("{}", serde_json::to_string_pretty(&score)?);
            Ok(ExitCode::SUCCESS)
        }
        RiskCommand::Explain { model, lang } => {
            let card = load_model(&model)?;
            let de = lang == "de";
            say!(
                "{}",
                if de {
                    "Logistische Regression auf Weight-of-Evidence-Klassen; je Merkmal die Klasse und ihre Punkte (mehr Punkte: höhere Wahrscheinlichkeit, dass Zahlungen geleistet werden)."
                } else {
                    "Logistic regression on weight-of-evidence bins; per feature each bin and its points (more points: more likely to pay as agreed)."
                }
            );
            let factor = card.pdo / std::f64::consts::LN_2;
            let mut features: Vec<_> = card.features.iter().collect();
            features.sort_by(|a, b| b.information_value.total_cmp(&a.information_value));
            for f in features {
                match &f.label {
                    Some(l) => say!(
                        "\n{} — {} (IV {:.3})",
                        if de { &l.de } else { &l.en },
                        f.name,
                        f.information_value
                    ),
                    None => say!("\n{} (IV {:.3})", f.name, f.information_value),
                }
                match &f.bins {
                    Bins::Numeric { uppers, woe } => {
                        for (i, w) in woe.iter().enumerate() {
                            let range = match (i.checked_sub(1).map(|j| uppers[j]), uppers.get(i)) {
                                (None, Some(u)) => format!("≤ {u}"),
                                (Some(l), Some(u)) => format!("> {l} … ≤ {u}"),
                                (Some(l), None) => format!("> {l}"),
                                (None, None) => "all".to_owned(),
                            };
                            say!("  {range:<28} {:+.1}", -factor * f.weight * w);
                        }
                    }
                    Bins::Categorical {
                        categories, woe, ..
                    } => {
                        for (cs, w) in categories.iter().zip(woe) {
                            say!("  {:<60} {:+.1}", cs.join(" | "), -factor * f.weight * w);
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What a model without labels for some features means for the person (issue 32), or `None`
/// when every feature has its label.
pub fn unlabelled_warning(card: &Scorecard) -> Option<String> {
    let missing = card.unlabelled();
    (!missing.is_empty()).then(|| {
        format!(
            "no label for {}: the Art. 15 report will name these reasons by their training columns; \
             train with --labels FILE ([column] with de = \"…\" and en = \"…\")",
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

pub fn load_model(path: &str) -> anyhow::Result<Scorecard> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let card: Scorecard =
        serde_json::from_str(&text).with_context(|| format!("{path} is not a scorecard"))?;
    if card.format != risk::FORMAT {
        anyhow::bail!(
            "{path} has model format {}, this tutela reads {}",
            card.format,
            risk::FORMAT
        );
    }
    card.validate()
        .with_context(|| format!("{path} is not a usable scorecard"))?;
    Ok(card)
}
