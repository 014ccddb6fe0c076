//! `cargo bench -p tutela-bench --bench risk`: scoring applicants with the scorecard trained on
//! German Credit, on one core: the compiled scorer (values in feature order) and the full
//! score with reasons (feature names, as the API gets them). Then the latency of one durable
//! risk check on SQLite, layer by layer, one writer at a time: a bare `BEGIN IMMEDIATE`,
//! `INSERT`, `COMMIT` through sqlx on the store's pool, the store's `insert_risk_checks` without
//! the vault and with it (issue 7: where a check's milliseconds go below HTTP).
//!
//! Environment: `TUTELA_BENCH_COMMITS` (default 3,000 per layer).

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a benchmark report"
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use tutela_core::risk::{self, Bins, TrainOptions, Value};
use tutela_store::{RiskCheckRecord, RiskStore, SqliteStore, Store};

const GERMAN_CREDIT: &str = include_str!("../../../data/german-credit/germancredit.csv");

fn main() {
    scoring();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(durable_layers(tutela_bench::env(
            "TUTELA_BENCH_COMMITS",
            3_000,
        )));
}

fn scoring() {
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

fn check(i: usize) -> RiskCheckRecord {
    let at = jiff::Timestamp::from_second(1_780_000_000 + i as i64).unwrap();
    RiskCheckRecord {
        id: format!("rc_bench_{i}"),
        subject: format!("load-{}", i % 1000),
        created_at: at,
        expires_at: at + jiff::SignedDuration::from_hours(24 * 365),
        outcome: "accept".into(),
        review: None,
        probability: 0.83,
        points: 612.0,
        reasons: r#"{"reasons":[{"feature":"duration","points":-12.5}],"notes":[]}"#.into(),
        facts: r#"{"duration":"18","credit_amount":"1049","age":"21"}"#.into(),
        agency_queried: false,
        agency_answer: None,
        decision: r#"{"allowed":true,"legal_basis":"dpv:LegitimateInterest","reason":"allowed"}"#
            .into(),
        reviewer: None,
        review_note: None,
        reviewed_at: None,
        model: "0".repeat(64),
    }
}

/// p50, p99 and max of `samples` in milliseconds.
fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    let total: Duration = samples.iter().sum();
    println!(
        "{name}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, {:.0} commits/s ({} commits)",
        ms(0.5),
        ms(0.99),
        ms(1.0),
        samples.len() as f64 / total.as_secs_f64(),
        samples.len()
    );
}

async fn durable_layers(n: usize) {
    let dir = tutela_store::testing::temp_dir("bench-risk");
    let path = |name: &str| dir.join(name).display().to_string();

    let bare = SqliteStore::open(&path("bare.db")).await.unwrap();
    sqlx::query("CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        .execute(bare.pool())
        .await
        .unwrap();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let mut tx = bare.pool().begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::query("INSERT INTO t (id, body) VALUES ($1, $2)")
            .bind(format!("rc_bench_{i}"))
            .bind(check(i).facts)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        samples.push(t.elapsed());
    }
    report(
        "bare sqlx transaction (BEGIN IMMEDIATE, INSERT, COMMIT)",
        samples,
    );

    let plain = SqliteStore::open(&path("plain.db")).await.unwrap();
    let sealed = SqliteStore::open(&path("sealed.db"))
        .await
        .unwrap()
        .with_vault(tutela_store::testing::vault(&dir).await);
    for (name, store) in [
        ("store insert_risk_checks, no vault", plain),
        ("store insert_risk_checks, vault (keys cached)", sealed),
    ] {
        store.migrate().await.unwrap();
        // The first check of each person creates the person's data key: not timed.
        for i in 0..1000 {
            store.insert_risk_checks(&[check(n + i)]).await.unwrap();
        }
        let mut samples = Vec::with_capacity(n);
        for i in 0..n {
            let c = check(i);
            let t = Instant::now();
            store
                .insert_risk_checks(std::slice::from_ref(&c))
                .await
                .unwrap();
            samples.push(t.elapsed());
        }
        report(name, samples);
    }
}
