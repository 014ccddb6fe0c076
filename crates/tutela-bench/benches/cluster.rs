//! `cargo bench -p tutela-bench --bench cluster`: two engines on one PostgreSQL schema, as two
//! instances of `tutela serve` (issue 9).
//!
//! 1. How long after a write commits on instance A its effect is in instance B's decision
//!    state: idle, and while B itself takes writes from 8 concurrent clients. The baseline
//!    beside it is B's own write, visible when its append returns.
//! 2. What the check "no row after my head" costs a group commit: the store's plain `append`
//!    against `append_at_head`, batches of 64, in the same run.
//!
//! Environment: `TUTELA_BENCH_SAMPLES` (default 2000), `TUTELA_TEST_PG_URL`.

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tutela_bench::reference;
use tutela_core::ledger::EventKind;
use tutela_runtime::Engine;
use tutela_store::testing::PgSchema;
use tutela_store::{AnyStore, ClusterStore, NewEvent, PgStore, Store};

fn consent(subject: String, granted: bool) -> NewEvent {
    NewEvent {
        subject,
        at: jiff::Timestamp::now(),
        kind: EventKind::Consent {
            purpose: "phone_marketing".into(),
            channel: Some("phone".into()),
            granted,
            source: "bench".into(),
            notice_version: "2026-01".into(),
        },
        evidence: Some("recorded call".into()),
        reason: None,
        email: None,
        idempotency_key: None,
        policy_version: String::new(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{name:<58} n={:>5}  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0)
    );
}

/// Writes `samples` new persons' consents on `writer` and times until `reader` holds each.
async fn follow_delays(
    writer: &Engine,
    reader: &Engine,
    tag: &str,
    samples: usize,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        let subject = format!("{tag}-{i}");
        let before = reader.subject_state(&subject);
        writer.append(consent(subject.clone(), true)).await.unwrap();
        let committed = Instant::now();
        while reader.subject_state(&subject) == before {
            assert!(
                committed.elapsed() < Duration::from_secs(10),
                "never followed"
            );
            tokio::task::yield_now().await;
        }
        out.push(committed.elapsed());
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let samples: usize = std::env::var("TUTELA_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let pg = PgSchema::create().await.expect("PostgreSQL is needed");
    let open = || async {
        AnyStore::Postgres(
            PgStore::connect_in_schema(&pg.url, Some(&pg.schema))
                .await
                .unwrap(),
        )
    };
    let a = Engine::start(open().await, reference().unwrap())
        .await
        .unwrap();
    let b = Engine::start(open().await, reference().unwrap())
        .await
        .unwrap();

    println!("## a write on A, seen in B's decision state (follow delay)");
    report(
        "idle: A writes, B follows",
        follow_delays(&a, &b, "idle", samples).await,
    );
    // Baseline: B's own write is in its state when the append returns.
    let mut own = Vec::with_capacity(samples);
    for i in 0..samples {
        let subject = format!("own-{i}");
        let before = b.subject_state(&subject);
        let t = Instant::now();
        b.append(consent(subject.clone(), true)).await.unwrap();
        assert_ne!(b.subject_state(&subject), before);
        own.push(t.elapsed());
    }
    report("baseline: B's own write, append to visible in B", own);

    // Under load: 8 clients write on B as fast as it commits, A's writes must still follow.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for c in 0..8 {
        let (b, stop) = (b.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                b.append(consent(
                    format!("load-{c}-{}", n % 1000),
                    n.is_multiple_of(2),
                ))
                .await
                .unwrap();
                n += 1;
            }
            n
        }));
    }
    let t = Instant::now();
    let loaded = follow_delays(&a, &b, "loaded", samples).await;
    stop.store(true, Ordering::Relaxed);
    let mut writes = 0;
    for l in load {
        writes += l.await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    report(
        "under load: B takes writes from 8 clients meanwhile",
        loaded,
    );
    println!(
        "  B's load: {writes} writes in {secs:.1} s = {:.0} writes/s; when B wrote first, A folds and re-checks inside its append",
        writes as f64 / secs
    );

    println!("\n## the head check's cost: 64-event batches appended by one store, same run");
    let store = open().await;
    for round in 0..2 {
        for check in [false, true] {
            let batches = 300;
            // As the writer does: the head is where its last commit left the ledger.
            let mut head = store.ledger_head().await.unwrap();
            let t = Instant::now();
            for i in 0..batches {
                let batch: Vec<NewEvent> = (0..64)
                    .map(|j| consent(format!("h-{round}-{i}-{j}"), true))
                    .collect();
                if check {
                    let done = store
                        .append_at_head(&batch, head, |_| panic!("no other writer"))
                        .await
                        .unwrap();
                    head = done
                        .iter()
                        .filter_map(|r| r.as_ref().ok())
                        .map(|a| a.seq)
                        .max()
                        .unwrap();
                } else {
                    store.append(&batch).await.unwrap();
                }
            }
            let secs = t.elapsed().as_secs_f64();
            println!(
                "round {round}: {:<44} {:>8.0} events/s  {:>6.2} ms a batch",
                if check {
                    "append_at_head (no row after the head?)"
                } else {
                    "append (no check)"
                },
                (batches * 64) as f64 / secs,
                secs * 1e3 / batches as f64
            );
        }
    }
    drop((a, b, store));
    pg.drop_schema().await;
}
