//! `cargo bench -p tutela-bench`: tutela's decision engine against Cedar, on the same
//! 100,000 persons and the same 1,000,000 queries. First every engine must give the same
//! answer on every query; then each is timed on one core.
//!
//! Environment: `TUTELA_BENCH_SUBJECTS`, `TUTELA_BENCH_QUERIES` (defaults 100000, 1000000).

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report; it stops loudly on a mismatch"
)]

mod cedar;

use std::hint::black_box;
use std::time::{Duration, Instant};

use cedar_policy::{Authorizer, Decision as CedarDecision, Entity};
use tutela_bench::{Rng, env, index, population, queries, random_events, reference};
use tutela_core::index::StateIndex;
use tutela_core::ledger::EventKind;

fn per_op(d: Duration, n: usize) -> f64 {
    d.as_nanos() as f64 / n as f64
}

/// Best of `rounds` runs of `f`, which does `n` operations.
fn best(rounds: usize, n: usize, mut f: impl FnMut() -> u64) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        black_box(f());
        best = best.min(per_op(t.elapsed(), n));
    }
    best
}

fn main() {
    let n_subjects = env("TUTELA_BENCH_SUBJECTS", 100_000);
    let n_queries = env("TUTELA_BENCH_QUERIES", 1_000_000);
    let policy = reference().unwrap();
    let now: jiff::Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
    println!("# tutela vs Cedar: {n_subjects} persons, {n_queries} queries, one core");

    let pop = population(&policy, n_subjects, 42);
    let qs = queries(&policy, &pop, n_queries, 7);
    let idx = index(&pop);

    let t = Instant::now();
    let folded_text = cedar::folded(&policy);
    let per_rule_text = cedar::per_rule(&policy);
    let folded = cedar::parse(&folded_text);
    let per_rule = cedar::parse(&per_rule_text);
    let mut entities = cedar::entities(&policy, &pop);
    let entities_build = t.elapsed();
    let requests: Vec<cedar_policy::Request> = qs
        .iter()
        .map(|q| cedar::request(&policy, q, now.as_second()))
        .collect();
    println!(
        "setup: Cedar policies {} (folded) and {} (per rule) policies, entities built in {:.0} ms",
        folded.policies().count(),
        per_rule.policies().count(),
        entities_build.as_secs_f64() * 1e3
    );

    // 1. The same answer on every query.
    let auth = Authorizer::new();
    let mut allowed = 0usize;
    let mut mismatches = Vec::new();
    for (i, (q, r)) in qs.iter().zip(&requests).enumerate() {
        let ours = policy
            .decide(idx.state(&q.subject), &q.query, now)
            .allowed();
        let a = auth.is_authorized(r, &folded, &entities);
        let b = auth.is_authorized(r, &per_rule, &entities);
        assert!(
            a.diagnostics().errors().next().is_none(),
            "Cedar errored on query {i}"
        );
        assert!(
            b.diagnostics().errors().next().is_none(),
            "Cedar errored on query {i}"
        );
        let fa = a.decision() == CedarDecision::Allow;
        let fb = b.decision() == CedarDecision::Allow;
        allowed += usize::from(ours);
        if ours != fa || ours != fb {
            mismatches.push(format!(
                "query {i}: tutela {ours}, cedar folded {fa}, per rule {fb}: {q:?}"
            ));
        }
    }
    if !mismatches.is_empty() {
        for m in mismatches.iter().take(10) {
            println!("{m}");
        }
        panic!("{} of {n_queries} answers differ", mismatches.len());
    }
    println!(
        "agreement: all three engines agree on all {n_queries} queries ({allowed} allowed, {} refused)",
        n_queries - allowed
    );

    // 2. Per-decision cost. As in the server, where the ids sit in the request buffer just
    // read, the queries' ids lie side by side in one buffer.
    let mut arena = String::new();
    let mut hot: Vec<(u32, u32, tutela_core::compiled::Query)> = Vec::with_capacity(qs.len());
    for q in &qs {
        hot.push((arena.len() as u32, q.subject.len() as u32, q.query));
        arena.push_str(&q.subject);
    }
    let id = |off: u32, len: u32| &arena[off as usize..(off + len) as usize];
    let tutela_fast = best(5, hot.len(), || {
        let mut n = 0u64;
        for (off, len, q) in &hot {
            n += u64::from(policy.decide(idx.state(id(*off, *len)), q, now).allowed());
        }
        n
    });
    // The batch endpoint's way: all lookups of a chunk first (their cache misses overlap),
    // then the decisions.
    let tutela_batched = best(5, hot.len(), || {
        let mut n = 0u64;
        let mut states = Vec::with_capacity(1024);
        for chunk in hot.chunks(1024) {
            states.clear();
            states.extend(chunk.iter().map(|(off, len, _)| idx.state(id(*off, *len))));
            for ((_, _, q), s) in chunk.iter().zip(&states) {
                n += u64::from(policy.decide(s, q, now).allowed());
            }
        }
        n
    });
    let tutela_explained = best(3, hot.len(), || {
        let mut n = 0u64;
        for (off, len, q) in &hot {
            let e = policy.explain(idx.state(id(*off, *len)), q, now);
            n += e.reasons.bits() ^ e.clauses.0 as u64;
        }
        n
    });
    let cedar_n = requests.len();
    let cedar_folded = best(1, cedar_n, || {
        let mut n = 0u64;
        for r in &requests {
            let resp = auth.is_authorized(r, &folded, &entities);
            n += resp.diagnostics().reason().count() as u64;
        }
        n
    });
    let cedar_per_rule = best(1, cedar_n, || {
        let mut n = 0u64;
        for r in &requests {
            let resp = auth.is_authorized(r, &per_rule, &entities);
            n += resp.diagnostics().reason().count() as u64;
        }
        n
    });

    // 3. A withdrawal visible to the very next decision.
    let mut live = index(&pop);
    let consent_slot = policy
        .policy
        .purposes
        .iter()
        .find(|p| p.id == "advertising_with_usage_data")
        .unwrap();
    let q_ads = policy
        .resolve(&consent_slot.id, ["usage"], None, None, None)
        .unwrap();
    let withdraw = EventKind::Consent {
        purpose: consent_slot.id.clone(),
        channel: None,
        granted: false,
        source: "bench".into(),
        notice_version: "2026-01".into(),
    };
    let give = EventKind::Consent {
        purpose: consent_slot.id.clone(),
        channel: None,
        granted: true,
        source: "bench".into(),
        notice_version: "2026-01".into(),
    };
    let rounds = 200_000;
    let t = Instant::now();
    for i in 0..rounds {
        let id = &pop.ids[i % pop.ids.len()];
        live.get_or_insert(id)
            .apply(&policy, if i % 2 == 0 { &give } else { &withdraw });
        let d = policy.decide(live.state(id), &q_ads, now);
        let erased = live.state(id).has(tutela_core::state::ERASED);
        assert_eq!(
            d.allowed(),
            i % 2 == 0 && !erased,
            "the decision right after the write sees it"
        );
    }
    let tutela_withdraw = per_op(t.elapsed(), rounds);
    let cedar_rounds = 20;
    let mut cedar_withdraw = Duration::ZERO;
    for i in 0..cedar_rounds {
        let id = &pop.ids[i];
        let mut s = pop.states[i];
        s.apply(&policy, &withdraw);
        let t = Instant::now();
        let e = Entity::from_json_value(cedar::subject_entity(&policy, id, &s), None).unwrap();
        entities = entities.upsert_entities([e], None).unwrap();
        let probe = tutela_bench::BenchQuery {
            subject: id.clone(),
            query: q_ads,
            countries: vec![],
        };
        let r = cedar::request(&policy, &probe, now.as_second());
        let resp = auth.is_authorized(&r, &folded, &entities);
        cedar_withdraw += t.elapsed();
        assert_eq!(resp.decision(), CedarDecision::Deny);
    }
    let cedar_withdraw = per_op(cedar_withdraw, cedar_rounds);

    // 3b. Call recording (N23): consent per call. 2,000 persons on a call, each with a
    // recording consent for it; the telephony system asks for callers with and without one.
    let mut calls = tutela_core::calls::CallConsents::default();
    let on_call = 2_000.min(pop.ids.len());
    for (i, id) in pop.ids.iter().take(on_call).enumerate() {
        calls.apply(
            &policy,
            id,
            &EventKind::CallConsent {
                purpose: "call_recording".into(),
                call: format!("call-{i}"),
                granted: true,
            },
            now,
        );
    }
    let q_rec = policy
        .resolve("call_recording", ["call_audio"], None, None, None)
        .unwrap();
    let call_ids: Vec<String> = (0..2 * on_call).map(|i| format!("call-{i}")).collect();
    let asks: Vec<(&str, &str)> = (0..2 * on_call)
        .map(|i| (pop.ids[i % pop.ids.len()].as_str(), call_ids[i].as_str()))
        .collect();
    let recording_allowed = asks
        .iter()
        .filter(|(id, call)| {
            let s = calls.during_call(&policy, id, live.state(id), q_rec.purpose, Some(call), now);
            policy.decide(&s, &q_rec, now).allowed()
        })
        .count();
    let per_call = best(5, asks.len() * 50, || {
        let mut n = 0u64;
        for _ in 0..50 {
            for (id, call) in &asks {
                let s =
                    calls.during_call(&policy, id, live.state(id), q_rec.purpose, Some(call), now);
                n += u64::from(policy.decide(&s, &q_rec, now).allowed());
            }
        }
        n
    });
    let plain_same = best(5, asks.len() * 50, || {
        let mut n = 0u64;
        for _ in 0..50 {
            for (id, _) in &asks {
                n += u64::from(policy.decide(live.state(id), &q_rec, now).allowed());
            }
        }
        n
    });

    // 4. Loading one million persons' state from their ledger events.
    let million = 1_000_000;
    let mut rng = Rng::new(99);
    let events: Vec<(String, Vec<EventKind>)> = (0..million)
        .map(|i| (format!("C{i:08}"), random_events(&policy, &mut rng)))
        .collect();
    let n_events: usize = events.iter().map(|(_, e)| e.len()).sum();
    let t = Instant::now();
    let mut loaded_index = StateIndex::with_capacity(million);
    for (id, evs) in &events {
        let s = loaded_index.get_or_insert(id);
        for e in evs {
            s.apply(&policy, e);
        }
    }
    let load = t.elapsed();
    black_box(&loaded_index);

    let state_bytes = std::mem::size_of::<tutela_core::state::SubjectState>();
    let slot_bytes = StateIndex::slot_bytes();

    println!();
    println!("| measure | tutela | Cedar folded (fastest) | Cedar one policy per rule | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| decision with reasons | {tutela_explained:.1} ns | {cedar_folded:.0} ns | {cedar_per_rule:.0} ns | ≥200× faster than Cedar folded: **{:.0}×** |",
        cedar_folded / tutela_explained
    );
    println!(
        "| decision without reasons | {tutela_fast:.1} ns ({:.1} M/s) | — | — | < 50 ns |",
        1e3 / tutela_fast
    );
    println!(
        "| decision without reasons, batched (lookups first) | {tutela_batched:.1} ns ({:.1} M/s) | — | — | < 50 ns |",
        1e3 / tutela_batched
    );
    println!(
        "| consent withdrawal, then the next decision | {tutela_withdraw:.1} ns | {:.1} ms (entity store upsert + decision) | same store | visible to the very next decision |",
        cedar_withdraw / 1e6
    );
    println!(
        "| call recording decision during a call (per-call consent lookup + decision; {recording_allowed} of {} allowed) | {per_call:.1} ns, against {plain_same:.1} ns for the same decision without the call lookup | — | — | microseconds |",
        asks.len()
    );
    println!(
        "| load 1,000,000 persons' state ({n_events} events, in memory) | {:.0} ms | entities for {n_subjects}: {:.0} ms | — | < 1 s |",
        load.as_secs_f64() * 1e3,
        entities_build.as_secs_f64() * 1e3
    );
    println!(
        "| decision state per person besides its id | {state_bytes} bytes (one {slot_bytes}-byte slot with an id of up to 22 bytes) | — | — | ≤ 64 bytes |"
    );
}
