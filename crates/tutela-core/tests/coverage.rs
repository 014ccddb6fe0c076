//! Every clause N1–N33 of the notice is encoded by a policy element and proved by a test.

use tutela_core::coverage::{coverage, notice_clauses, test_citations};

use crate::support::{SCENARIOS, reference};

#[test]
fn the_reference_policy_covers_every_clause_with_an_element_and_a_test() {
    let sources = [
        ("tests/scenarios/decisions.toml", SCENARIOS),
        ("decisions.rs", include_str!("decisions.rs")),
        ("render.rs", include_str!("render.rs")),
        ("policy_check.rs", include_str!("policy_check.rs")),
    ];
    let tests = test_citations(sources);
    let clauses = notice_clauses();
    assert_eq!(clauses.len(), 32 + 8 + 3 + 8);
    let report = coverage(&reference(), &clauses, &tests);
    let gaps: Vec<String> = report
        .iter()
        .filter(|(_, c)| c.elements.is_empty() || c.tests.is_empty())
        .map(|(id, c)| {
            format!(
                "{id}: {} elements, {} tests",
                c.elements.len(),
                c.tests.len()
            )
        })
        .collect();
    assert!(
        gaps.is_empty(),
        "clauses without element or test:\n{}",
        gaps.join("\n")
    );
}
