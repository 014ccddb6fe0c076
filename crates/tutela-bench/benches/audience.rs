//! `cargo bench -p tutela-bench --bench audience`: selecting a marketing audience of 1,000,000
//! persons (random ledger histories, as in the decisions benchmark) on one core, for an e-mail
//! campaign (consent or section 7(3) UWG) and a phone campaign (consent only).

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::time::Instant;

use tutela_bench::{index, population, reference};
use tutela_core::audience::{self, Verdict};

fn main() {
    let policy = reference().unwrap();
    let n = 1_000_000;
    let pop = population(&policy, n, 3);
    let idx = index(&pop);
    let now: jiff::Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
    for (label, purpose, channel) in [
        ("e-mail campaign", "email_marketing", "email"),
        ("phone campaign", "phone_marketing", "phone"),
    ] {
        let q = policy
            .resolve(purpose, ["contact"], Some(channel), None, None)
            .unwrap();
        let mut out = Vec::with_capacity(n);
        let mut best = f64::MAX;
        for _ in 0..5 {
            out.clear();
            let t = Instant::now();
            audience::select(
                &policy,
                &idx,
                &q,
                pop.ids.iter().map(String::as_str),
                now,
                &mut out,
            );
            best = best.min(t.elapsed().as_secs_f64());
        }
        let contact = out
            .iter()
            .filter(|v| matches!(v, Verdict::Contact(_)))
            .count();
        println!(
            "{label}: {n} persons in {:.0} ms = {:.1} M persons/s on one core (best of 5); {contact} contactable",
            best * 1e3,
            n as f64 / best / 1e6
        );
    }
}
