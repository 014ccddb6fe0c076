//! `cargo bench -p tutela-bench --bench risk`: scoring applicants with the scorecard trained on
//! German Credit, on one core: the compiled scorer (values in feature order) and the full
//! score with reasons (feature names, as the API gets them).

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use tutela_core::risk::{self, Bins, TrainOptions, Value};

const GERMAN_CREDIT: &str = include_str!("../../../../shared/data/german-credit/germancredit.csv");

fn main() {
    let mut rows = tutela_core::csv::parse(GERMAN_CREDIT).unwrap();
    let header = rows.remove(0);
    let opts = TrainOptions {
        target: "creditability".into(),
        positive_class: Some("bad".into()),
        drop: vec!["personal_status_and_sex".into(), "foreign_worker".into()],
        ..TrainOptions::default()
    };
    let t = Instant::now();
    let card = risk::train(&header, &rows, &opts, None).unwrap().scorecard;
    println!(
        "training on 1,000 rows: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let applicants: Vec<Vec<Value<'_>>> = rows
        .iter()
        .map(|r| {
            card.features
                .iter()
                .map(|f| {
                    let v = r[column(&f.name)].as_str();
                    match f.bins {
                        Bins::Numeric { .. } => Value::Number(v.parse().unwrap()),
                        Bins::Categorical { .. } => Value::Category(v),
                    }
                })
                .collect()
        })
        .collect();
    let compiled = card.compile();
    let n = 10_000_000;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut sum = 0.0;
        for i in 0..n {
            sum += compiled
                .score(black_box(&applicants[i % applicants.len()]))
                .0;
        }
        black_box(sum);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "compiled scorer: {:.1} ns per applicant = {:.2} M applicants/s on one core (best of 5 × {n})",
        best * 1e9 / n as f64,
        n as f64 / best / 1e6
    );
    let named: Vec<HashMap<String, String>> = rows
        .iter()
        .map(|r| {
            card.features
                .iter()
                .map(|f| (f.name.clone(), r[column(&f.name)].clone()))
                .collect()
        })
        .collect();
    let n = 1_000_000;
    let t = Instant::now();
    let mut sum = 0.0;
    for i in 0..n {
        sum += card
            .score(black_box(&named[i % named.len()]))
            .unwrap()
            .probability;
    }
    black_box(sum);
    let s = t.elapsed().as_secs_f64();
    println!(
        "score with reasons, by feature name: {:.0} ns per applicant = {:.2} M applicants/s on one core ({n})",
        s * 1e9 / n as f64,
        n as f64 / s / 1e6
    );
}
