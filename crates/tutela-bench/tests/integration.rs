//! tutela and the two Cedar encodings of the reference policy agree on every query of a
//! random workload. The benchmark checks the same on a million queries before it times them.

#[path = "../benches/cedar.rs"]
mod cedar;
mod redact;

use cedar_policy::{Authorizer, Decision};
use tutela_bench::{index, population, queries, reference};

#[test]
fn tutela_and_cedar_agree_on_a_random_workload() {
    // Cedar limits recursion by the stack left; unoptimised builds need a larger one for the
    // folded policy's long chain of alternatives.
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(agree)
        .expect("thread")
        .join()
        .expect("agreement");
}

fn agree() {
    let policy = reference().expect("reference policy");
    let now: jiff::Timestamp = "2026-06-01T12:00:00Z".parse().expect("time");
    let pop = population(&policy, 3_000, 11);
    let qs = queries(&policy, &pop, 30_000, 13);
    let index = index(&pop);
    let folded = cedar::parse(&cedar::folded(&policy));
    let per_rule = cedar::parse(&cedar::per_rule(&policy));
    let entities = cedar::entities(&policy, &pop);
    let auth = Authorizer::new();
    let (mut allowed, mut refused) = (0, 0);
    for (i, q) in qs.iter().enumerate() {
        let ours = policy
            .decide(index.state(&q.subject), &q.query, now)
            .allowed();
        let r = cedar::request(&policy, q, now.as_second());
        for (name, set) in [("folded", &folded), ("per rule", &per_rule)] {
            let resp = auth.is_authorized(&r, set, &entities);
            let errors: Vec<String> = resp.diagnostics().errors().map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "Cedar {name} errored on {i}: {errors:?}");
            assert_eq!(
                ours,
                resp.decision() == Decision::Allow,
                "query {i} ({name}): {q:?}"
            );
        }
        if ours { allowed += 1 } else { refused += 1 }
    }
    // The workload exercises both answers substantially.
    assert!(
        allowed > 5_000 && refused > 5_000,
        "{allowed} allowed, {refused} refused"
    );
}
