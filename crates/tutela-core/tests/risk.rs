//! The scorecard on German Credit (data/german-credit): cross-validated AUC, the
//! model's explanations, and the training file's errors named by row and column.

use std::collections::HashMap;

use tutela_core::risk::{self, TrainError, TrainOptions};

use crate::support::reference;

const GERMAN_CREDIT: &str = include_str!("../../../data/german-credit/germancredit.csv");

fn table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rows = tutela_core::csv::parse(text).unwrap_or_else(|e| unreachable!("{e}"));
    let header = rows.remove(0);
    (header, rows)
}

fn options() -> TrainOptions {
    TrainOptions {
        target: "creditability".into(),
        positive_class: Some("bad".into()),
        drop: vec!["personal_status_and_sex".into(), "foreign_worker".into()],
        ..TrainOptions::default()
    }
}

// covers: N14
#[test]
fn german_credit_cross_validates_like_the_reference_tools() {
    let (header, rows) = table(GERMAN_CREDIT);
    let policy = reference();
    let rules = policy.risk.as_ref();
    let aucs = risk::cross_validate(&header, &rows, &options(), rules, 5, 42)
        .unwrap_or_else(|e| unreachable!("{e}"));
    let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
    eprintln!("5-fold AUC {aucs:?}, mean {mean:.4}");
    assert!(mean > 0.76, "mean AUC {mean}");
}

// covers: N14, N15
#[test]
fn a_score_explains_itself() {
    let (header, rows) = table(GERMAN_CREDIT);
    let policy = reference();
    let trained = risk::train(&header, &rows, &options(), policy.risk.as_ref())
        .unwrap_or_else(|e| unreachable!("{e}"));
    let card = &trained.scorecard;
    assert_eq!(card.positive_class, "bad");
    assert!(
        card.metrics.auc > 0.78 && card.metrics.gini > 0.5,
        "{:?}",
        card.metrics
    );
    let checking = card
        .features
        .iter()
        .find(|f| f.name == "status_of_existing_checking_account")
        .unwrap_or_else(|| unreachable!());
    assert!(
        (checking.information_value - 0.666).abs() < 0.02,
        "{}",
        checking.information_value
    );
    assert!(!card.features.iter().any(|f| f.name == "foreign_worker"));
    // The first applicant of the file, scored.
    let applicant: HashMap<String, String> = header
        .iter()
        .zip(&rows[0])
        .filter(|(h, _)| card.features.iter().any(|f| &f.name == *h))
        .map(|(h, v)| (h.clone(), v.clone()))
        .collect();
    let score = card
        .score(&applicant)
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert!((0.0..=1.0).contains(&score.probability));
    assert!(score.reasons.len() <= 3);
    assert!(
        score
            .reasons
            .windows(2)
            .all(|w| w[0].points_lost >= w[1].points_lost)
    );
    // The compiled scorer agrees.
    let compiled = card.compile();
    let values: Vec<risk::Value<'_>> = card
        .features
        .iter()
        .map(|f| {
            let v = applicant[&f.name].as_str();
            match &f.bins {
                risk::Bins::Numeric { .. } => risk::Value::Number(v.parse().unwrap_or(0.0)),
                risk::Bins::Categorical { .. } => risk::Value::Category(v),
            }
        })
        .collect();
    let (p, points) = compiled.score(&values);
    assert!((p - score.probability).abs() < 1e-9);
    assert!((points - score.points).abs() < 0.1);
    // Unknown and missing features are errors, not guesses.
    let mut extra = applicant.clone();
    extra.insert("shoe_size".into(), "44".into());
    assert!(matches!(card.score(&extra), Err(risk::ScoreError::Unknown(f)) if f == "shoe_size"));
    let mut missing = applicant.clone();
    missing.remove("duration_in_month");
    assert!(matches!(
        card.score(&missing),
        Err(risk::ScoreError::Missing(_))
    ));
    // The model file round-trips.
    let json = serde_json::to_string(card).unwrap_or_default();
    let back: risk::Scorecard = serde_json::from_str(&json).unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(&back, card);
    assert_eq!(card.validate(), Ok(()));
    // A file whose bins and WoEs do not fit together is refused before it is used (found by
    // the `model` fuzz target: compiling such a model indexed past the WoEs).
    for broken in [
        json.replacen("\"other\":", "\"other\":9", 1),
        json.replacen("\"uppers\":[", "\"uppers\":[1e300,", 1),
    ] {
        if let Ok(b) = serde_json::from_str::<risk::Scorecard>(&broken) {
            assert!(b.validate().is_err(), "{broken}");
        }
    }
    let mut short = card.clone();
    if let Some(f) = short.features.first_mut() {
        match &mut f.bins {
            risk::Bins::Numeric { woe, .. } | risk::Bins::Categorical { woe, .. } => {
                woe.pop();
            }
        }
    }
    assert!(short.validate().is_err());
}

#[test]
fn training_refuses_protected_attributes_and_address_only_models() {
    let (header, rows) = table(GERMAN_CREDIT);
    let policy = reference();
    let mut opts = options();
    opts.drop.clear();
    let e = risk::train(&header, &rows, &opts, policy.risk.as_ref()).err();
    assert!(
        matches!(&e, Some(TrainError::Excluded(f)) if f.contains(&"foreign_worker".to_owned())),
        "{e:?}"
    );
    let keep = ["present_residence_since", "housing", "creditability"];
    opts.drop = header
        .iter()
        .filter(|h| !keep.contains(&h.as_str()))
        .cloned()
        .collect();
    let e = risk::train(&header, &rows, &opts, policy.risk.as_ref()).err();
    assert!(matches!(e, Some(TrainError::AddressOnly(_))), "{e:?}");
}

#[test]
fn bad_training_files_name_row_and_column() {
    let (header, rows) = table(GERMAN_CREDIT);
    let opts = options();
    let col = header
        .iter()
        .position(|h| h == "age_in_years")
        .unwrap_or_default();
    let mut broken = rows.clone();
    broken[16][col] = "old".into();
    assert_eq!(
        risk::train(&header, &broken, &opts, None).err(),
        Some(TrainError::NotNumeric {
            row: 18,
            column: "age_in_years".into(),
            value: "old".into()
        })
    );
    let mut missing = rows.clone();
    missing[3][col] = String::new();
    assert_eq!(
        risk::train(&header, &missing, &opts, None).err(),
        Some(TrainError::Missing {
            row: 5,
            column: "age_in_years".into()
        })
    );
    let target = header
        .iter()
        .position(|h| h == "creditability")
        .unwrap_or_default();
    let mut three = rows.clone();
    three[0][target] = "maybe".into();
    assert!(matches!(
        risk::train(&header, &three, &opts, None),
        Err(TrainError::TargetClasses { .. })
    ));
    assert!(matches!(
        risk::train(&header, &rows[..30], &opts, None),
        Err(TrainError::TooFewRows { rows: 30, .. })
    ));
    let mut ragged = rows.clone();
    ragged[9].pop();
    assert!(matches!(
        risk::train(&header, &ragged, &opts, None),
        Err(TrainError::Ragged { row: 11, .. })
    ));
    let mut no_target = opts.clone();
    no_target.target = "outcome".into();
    assert_eq!(
        risk::train(&header, &rows, &no_target, None).err(),
        Some(TrainError::TargetMissing("outcome".into()))
    );
}

/// Issue 32: the shipped labels of German Credit name every feature a trained model keeps, in
/// German and English, so no reason reaches a person by its column.
#[test]
fn the_shipped_labels_name_every_german_credit_feature() {
    let (header, rows) = table(GERMAN_CREDIT);
    let columns: Vec<String> = header
        .iter()
        .filter(|c| *c != "creditability")
        .cloned()
        .collect();
    let labels = risk::parse_labels(
        "german-credit-labels.toml",
        include_str!("../../../policies/risk/german-credit-labels.toml"),
        &columns,
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    let policy = reference();
    let mut card = risk::train(&header, &rows, &options(), policy.risk.as_ref())
        .unwrap_or_else(|e| unreachable!("{e}"))
        .scorecard;
    assert!(!card.unlabelled().is_empty());
    card.set_labels(&labels);
    assert_eq!(card.unlabelled(), Vec::<&str>::new());
    // Only what the model may use: the protected attributes are dropped and have no label.
    for dropped in &options().drop {
        assert!(!labels.contains_key(dropped), "{dropped}");
    }
}
