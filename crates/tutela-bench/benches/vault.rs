//! `cargo bench -p tutela-bench --bench vault`: what encryption at rest costs (issue 10).
//! Sealing and opening one value under a cached data key, the blind index, and durable ledger
//! appends with evidence and an e-mail address for new persons (each needs a new data key) on
//! SQLite, with the vault and without it, side by side in one run.
//!
//! Environment: `TUTELA_BENCH_VALUES` (default 1,000,000), `TUTELA_BENCH_EVENTS` (default
//! 20,000), `TUTELA_BENCH_BATCH` (events per append, as the server's group commit; default 100).

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::hint::black_box;
use std::time::Instant;
use tutela_bench::env;

use tutela_core::ledger::EventKind;
use tutela_store::testing::vault;
use tutela_store::vault::{OwnerKind, Vault};
use tutela_store::{NewEvent, SqliteStore, Store};

fn event(run: &str, i: usize) -> NewEvent {
    NewEvent {
        subject: format!("{run}-{i}"),
        at: jiff::Timestamp::from_second(1_780_000_000).unwrap(),
        kind: EventKind::Consent {
            purpose: "email_marketing".into(),
            channel: Some("email".into()),
            granted: true,
            source: "web".into(),
            notice_version: "2026-01".into(),
        },
        evidence: Some(format!(
            "double opt-in confirmed from 203.0.113.{}",
            i % 250
        )),
        reason: None,
        email: Some(format!("person.{i}@example.org")),
        idempotency_key: None,
        policy_version: "bench".into(),
    }
}

/// Appends `n` events for new persons in batches; events per second.
async fn appends(store: &SqliteStore, run: &str, n: usize, batch: usize) -> f64 {
    let events: Vec<NewEvent> = (0..n).map(|i| event(run, i)).collect();
    let start = Instant::now();
    for chunk in events.chunks(batch) {
        for r in store.append(chunk).await.unwrap() {
            r.unwrap();
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let values = env("TUTELA_BENCH_VALUES", 1_000_000);
    let n = env("TUTELA_BENCH_EVENTS", 20_000);
    let batch = env("TUTELA_BENCH_BATCH", 100);
    let dir = tutela_store::testing::temp_dir("bench-vault");
    let v = vault(&dir).await;
    let owner = OwnerKind::Subject.owner("C-1");
    let keys = v.keys_for(std::slice::from_ref(&owner)).await.unwrap();
    let key = keys[&owner];
    let evidence = b"double opt-in confirmed from 203.0.113.7 on 2026-02-01";

    let start = Instant::now();
    let mut last = String::new();
    for _ in 0..values {
        last = Vault::seal_with(
            &key,
            OwnerKind::Subject,
            &owner,
            "ledger_personal.evidence",
            black_box(evidence),
        )
        .unwrap();
    }
    let seal = start.elapsed().as_nanos() as f64 / values as f64;
    let start = Instant::now();
    for _ in 0..values {
        black_box(
            v.open("C-1", "ledger_personal.evidence", black_box(&last))
                .await
                .unwrap(),
        );
    }
    let open = start.elapsed().as_nanos() as f64 / values as f64;
    let start = Instant::now();
    for i in 0..values {
        black_box(v.blind_index(if i % 2 == 0 {
            "a@example.org"
        } else {
            "B@example.org"
        }));
    }
    let blind = start.elapsed().as_nanos() as f64 / values as f64;

    println!(
        "## encryption at rest, {values} values of {} bytes",
        evidence.len()
    );
    println!("| operation | ns per value |");
    println!("|---|---|");
    println!("| seal (AES-256-GCM, cached data key, base64) | {seal:.0} |");
    println!("| open (cache lookup, AES-256-GCM) | {open:.0} |");
    println!("| blind index of an e-mail address (HMAC-SHA-256) | {blind:.0} |");

    let plain = SqliteStore::open(&dir.join("plain.db").to_string_lossy())
        .await
        .unwrap();
    plain.migrate().await.unwrap();
    let sealed = SqliteStore::open(&dir.join("sealed.db").to_string_lossy())
        .await
        .unwrap()
        .with_vault(v.clone());
    sealed.migrate().await.unwrap();
    println!();
    println!(
        "## durable appends of consents with evidence and e-mail, SQLite (synchronous=FULL), {n} events in batches of {batch}"
    );
    println!(
        "| round | persons | without a vault (events/s) | with the vault (events/s) | ratio |"
    );
    println!("|---|---|---|---|---|");
    for round in 1..=3 {
        // New persons: each needs a data key (one key-store transaction per batch).
        let p = appends(&plain, &format!("r{round}"), n, batch).await;
        let s = appends(&sealed, &format!("r{round}"), n, batch).await;
        println!("| {round} | new | {p:.0} | {s:.0} | {:.2} |", s / p);
        // The same persons again: their keys are in memory.
        let p = appends(&plain, &format!("r{round}"), n, batch).await;
        let s = appends(&sealed, &format!("r{round}"), n, batch).await;
        println!("| {round} | known | {p:.0} | {s:.0} | {:.2} |", s / p);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
