//! `cargo bench -p tutela-bench --bench redact`: tutela's PII recognisers on the labelled corpus
//! of `bench/redact/make_corpus.py` (issue 6): precision and recall per entity type, scored as
//! `presidio_eval.py` scores Presidio, and throughput on one core (the corpus's texts found
//! over and over for `TUTELA_BENCH_SECONDS`, default 3). Prints one JSON line, then a table.
//!
//! Environment: `TUTELA_REDACT_CORPUS` (default `tests/redact/corpus-sample.jsonl`);
//! `TUTELA_REDACT_SHOW=LABEL` prints the documents where that label was missed or wrong.

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use tutela_bench::redact_eval::{Counts, Span, score};
use tutela_core::redact::Recognisers;

fn main() {
    let path = std::env::var("TUTELA_REDACT_CORPUS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/redact/corpus-sample.jsonl"
        )
        .to_owned()
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let docs: Vec<(String, Vec<Span>)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let spans = v["spans"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s[0].as_u64().unwrap() as usize,
                        s[1].as_u64().unwrap() as usize,
                        s[2].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            (v["text"].as_str().unwrap().to_owned(), spans)
        })
        .collect();
    let policy = tutela_bench::reference().unwrap();
    let pattern = policy
        .policy
        .redaction
        .as_ref()
        .and_then(|r| r.customer_number.clone());
    let r = Recognisers::new(pattern.as_deref()).unwrap();
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    let mut bytes = 0usize;
    for (t, gold) in &docs {
        bytes += t.len();
        let found: Vec<Span> = r
            .find(t)
            .into_iter()
            .map(|f| (f.start, f.end, f.entity.label().to_owned()))
            .collect();
        score(&found, gold, &mut counts);
        // TUTELA_REDACT_SHOW=PHONE prints the documents where that label went wrong.
        if let Ok(show) = std::env::var("TUTELA_REDACT_SHOW") {
            let mut mine = BTreeMap::new();
            score(&found, gold, &mut mine);
            if mine.get(&show).is_some_and(|c: &Counts| c.fp + c.fn_ > 0) {
                let pick = |v: &[Span]| -> Vec<String> {
                    v.iter()
                        .filter(|x| x.2 == show)
                        .map(|x| t[x.0..x.1].to_owned())
                        .collect()
                };
                println!("{t}\n  found {:?}\n  gold  {:?}", pick(&found), pick(gold));
            }
        }
    }
    let budget = tutela_bench::env("TUTELA_BENCH_SECONDS", 3) as f64;
    let started = Instant::now();
    let mut passes = 0u64;
    while started.elapsed().as_secs_f64() < budget {
        for (t, _) in &docs {
            black_box(r.find(black_box(t)));
        }
        passes += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let per_pass = seconds / passes as f64;
    let json: serde_json::Map<String, serde_json::Value> = counts
        .iter()
        .map(|(k, c)| {
            (
                k.clone(),
                serde_json::json!({"tp": c.tp, "fp": c.fp, "fn": c.fn_}),
            )
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({"tool": "tutela", "counts": json, "bytes": bytes, "seconds": per_pass})
    );
    println!("corpus: {path}: {} documents, {bytes} bytes", docs.len());
    println!(
        "{:<16} {:>9} {:>9} {:>6} {:>6} {:>6}",
        "entity", "precision", "recall", "tp", "fp", "fn"
    );
    for (k, c) in &counts {
        println!(
            "{:<16} {:>9.3} {:>9.3} {:>6} {:>6} {:>6}",
            k,
            c.precision(),
            c.recall(),
            c.tp,
            c.fp,
            c.fn_
        );
    }
    println!(
        "throughput: {:.1} MB/s on one core ({passes} passes in {seconds:.2} s)",
        bytes as f64 / per_pass / 1e6
    );
}
