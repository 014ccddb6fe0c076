//! `cargo bench -p tutela-bench --bench gate`: the gate's transform alone (scan, find the
//! person, decide, two pseudonyms, expiry, serialise) on one core, over 1,000,000 persons with
//! random ledger histories, each linked to a SIM (`GATE_PERSONS`, `GATE_EVENTS` change the
//! sizes; `GATE_ACTIVE` the SIMs of the repeating workload).
//!
//! Two workloads: *repeating SIMs* (events of 100,000 active SIMs in turn, as a network sends
//! them; pseudonyms and tokens come from the gate's caches after a SIM's first event) and
//! *every SIM new* (each event a SIM the gate has not seen: every event pays for its token,
//! an FF1 IMSI pseudonym and an HMAC MSISDN pseudonym).

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::time::Instant;

use tutela_bench::{env, gate_index, population, reference, usage_event};
use tutela_core::gate::{Gate, World, parse_routes};
use tutela_core::pseudonym::PseudonymKeys;

const ROUTES: &str = include_str!("../../../policies/gate.toml");

fn main() {
    let policy = reference().unwrap();
    let persons = env("GATE_PERSONS", 1_000_000);
    let n = env("GATE_EVENTS", 2_000_000);
    let pop = population(&policy, persons, 11);
    let keys = PseudonymKeys::new("k1", [5; 32]);
    let (states, index) = gate_index(&pop, &keys);
    let route = parse_routes("gate.toml", ROUTES, &policy)
        .unwrap()
        .remove(0);
    let now: jiff::Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
    let world = World {
        policy: &policy,
        states: &states,
        index: &index,
        now,
    };
    let base = now.as_millisecond() - 3_600_000;
    println!("gate transform, one core, {persons} persons linked to SIMs, {n} events per run");
    let active_sims = env("GATE_ACTIVE", 100_000);
    for (label, active, cold) in [
        (
            format!("repeating SIMs ({active_sims} active)"),
            active_sims,
            false,
        ),
        ("every SIM new".to_owned(), persons, true),
    ] {
        // Every SIM new: one event per person, so no value is seen twice in a run.
        let n = if cold { persons } else { n };
        let events: Vec<String> = (0..n)
            .map(|i| usage_event((i % active.min(persons)) * 7919 % persons, base + i as i64))
            .collect();
        let bytes: usize = events.iter().map(String::len).sum();
        let mut best = f64::MAX;
        let mut gate = Gate::new(route.clone(), keys.clone()).unwrap();
        let mut out = Vec::with_capacity(512);
        for run in 0..3 {
            // Every run of "every SIM new" starts with empty caches; the repeating workload
            // keeps its gate, as a running gate would.
            if cold || run == 0 {
                gate = Gate::new(route.clone(), keys.clone()).unwrap();
            }
            let t = Instant::now();
            for e in &events {
                std::hint::black_box(gate.transform(e.as_bytes(), &world, &mut out));
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        let c = &gate.counts;
        let runs = c.total() as f64;
        println!(
            "  {label}: {:.2} M events/s ({:.0} ns/event, {:.0} MB/s in), best of 3; verdicts: {:.1} % passed, {:.1} % dropped (no lawful basis), {:.1} % dead letters (erased or restricted)",
            n as f64 / best / 1e6,
            best / n as f64 * 1e9,
            bytes as f64 / best / 1e6,
            c.passed as f64 / runs * 100.0,
            c.dropped.values().sum::<u64>() as f64 / runs * 100.0,
            c.dead.values().sum::<u64>() as f64 / runs * 100.0,
        );
    }
}
