//! `cargo bench -p tutela-bench --bench log`: inclusion proofs and tree heads of the verifiable
//! log (issue 10) from stored subtree hashes, side by side in one run with the way they were
//! computed before, from every leaf, on SQLite.
//!
//! Environment: `TUTELA_BENCH_LEAVES` (default 1,000,000), `TUTELA_BENCH_SAMPLES` (default 200;
//! the all-leaves baseline takes a tenth of them).

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::time::{Duration, Instant};

use tutela_bench::{Rng, env};
use tutela_core::merkle::{self, Hash};
use tutela_core::merkle_nodes::{self, Nodes};
use tutela_store::{LogLeaf, LogSource, LogStore, SqliteStore, Store};

fn ms(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort_unstable();
    let at = |q: f64| d[((d.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    (at(0.5), at(0.99))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env("TUTELA_BENCH_LEAVES", 1_000_000) as u64;
    let samples = env("TUTELA_BENCH_SAMPLES", 200);
    let dir = tutela_store::testing::temp_dir("bench-log");
    let store = SqliteStore::open(&dir.join("log.db").to_string_lossy())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    // The log as the sealer leaves it: leaves in batches, with the nodes they complete.
    let started = Instant::now();
    let mut nodes = Nodes::new();
    let batch = 10_000u64;
    let mut old = 0u64;
    while old < n {
        let new = (old + batch).min(n);
        let leaves: Vec<LogLeaf> = (old..new)
            .map(|i| LogLeaf {
                index: i,
                source: LogSource::Ledger,
                seq: i as i64 + 1,
                leaf_hash: merkle::leaf_hash(&i.to_be_bytes()),
            })
            .collect();
        let hashes: Vec<Hash> = leaves.iter().map(|l| l.leaf_hash).collect();
        let needed: Nodes = merkle_nodes::grow_needs(old, new)
            .into_iter()
            .map(|id| (id, nodes[&id]))
            .collect();
        let made = merkle_nodes::grow(old, new, &hashes, &needed).unwrap();
        // Every node so far: a later batch may need an early left sibling.
        for (i, h) in hashes.iter().enumerate() {
            nodes.insert(
                merkle_nodes::NodeId {
                    level: 0,
                    index: old + i as u64,
                },
                *h,
            );
        }
        nodes.extend(made.iter().copied());
        store.append_leaves(&leaves, &made).await.unwrap();
        old = new;
    }
    println!(
        "## verifiable log of {n} leaves on SQLite (sealed in {:.1} s)\n",
        started.elapsed().as_secs_f64()
    );
    let mut rng = Rng::new(7);
    let mut fast = Vec::new();
    let mut root_fast = Vec::new();
    for _ in 0..samples {
        let index = rng.below(n as usize) as u64;
        let t = Instant::now();
        let got = store
            .log_nodes(&merkle_nodes::inclusion_needs(index, n))
            .await
            .unwrap();
        let proof = merkle_nodes::inclusion_from(index, n, &got).unwrap();
        fast.push(t.elapsed());
        assert!(!proof.is_empty());
        let t = Instant::now();
        let got = store.log_nodes(&merkle_nodes::root_needs(n)).await.unwrap();
        merkle_nodes::root_from(n, &got).unwrap();
        root_fast.push(t.elapsed());
    }
    let mut slow = Vec::new();
    let mut root_slow = Vec::new();
    for _ in 0..(samples / 10).max(1) {
        let index = rng.below(n as usize);
        let t = Instant::now();
        let leaves = store.log_leaves().await.unwrap();
        let hashes: Vec<Hash> = leaves.iter().map(|l| l.leaf_hash).collect();
        merkle::inclusion_proof(&hashes, index).unwrap();
        slow.push(t.elapsed());
        let t = Instant::now();
        let leaves = store.log_leaves().await.unwrap();
        let hashes: Vec<Hash> = leaves.iter().map(|l| l.leaf_hash).collect();
        merkle::root(&hashes);
        root_slow.push(t.elapsed());
    }
    println!("| computation | from | samples | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    for (what, from, d) in [
        ("inclusion proof", "stored nodes (now)", fast),
        ("inclusion proof", "every leaf (before, baseline)", slow),
        ("tree head", "stored nodes (now)", root_fast),
        ("tree head", "every leaf (before, baseline)", root_slow),
    ] {
        let k = d.len();
        let (p50, p99) = ms(d);
        println!("| {what} | {from} | {k} | {p50:.3} | {p99:.3} |");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
