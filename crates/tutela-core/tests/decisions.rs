//! The decision scenarios of tests/scenarios/decisions.toml, run through the library, plus the
//! properties no scenario can state alone.

use tutela_core::reason::{Outcome, Reason};
use tutela_core::scenario::{self, ScenarioFile};
use tutela_core::state::SubjectState;

use crate::support::{SCENARIOS, compiled};

// covers: N2, N3, N4, N5a, N6, N8, N9c, N9d, N9e, N9f, N16, N17, N18, N19, N23, N29, N30, N31
#[test]
fn every_scenario_decides_as_expected_through_the_library() {
    let policy = compiled();
    let file: ScenarioFile = match toml::from_str(SCENARIOS) {
        Ok(f) => f,
        Err(e) => unreachable!("scenario file: {e}"),
    };
    assert!(file.cases.len() >= 50, "the scenario corpus shrank");
    let mut failures = Vec::new();
    for case in &file.cases {
        match scenario::run(&policy, case) {
            Ok(actual) => {
                if let Some(diff) = case.expect.check(&actual) {
                    failures.push(format!("{}: {diff}", case.name));
                }
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn decisions_and_explanations_agree() {
    let policy = compiled();
    let now = "2026-06-01T00:00:00Z".parse().unwrap_or_default();
    let mut state = SubjectState::UNKNOWN;
    state.apply(
        &policy,
        &tutela_core::ledger::EventKind::Relationship {
            relationship: tutela_core::basis::Relationship::Customer,
            contract_kind: tutela_core::basis::ContractKind::Other,
        },
    );
    for p in &policy.policy.purposes {
        for c in &p.categories {
            let cat = policy.policy.categories[*c].id.as_str();
            for ch in [None, Some("email"), Some("phone")] {
                let Ok(q) = policy.resolve(&p.id, [cat], ch, None, None) else {
                    continue;
                };
                let fast = policy.decide(&state, &q, now);
                let explained = policy.explain(&state, &q, now);
                assert_eq!(fast, explained.decision, "{} {cat} {ch:?}", p.id);
                assert_eq!(explained.reasons().next(), Some(fast.reason));
                assert!(
                    explained.notice_refs().next().is_some(),
                    "{} cites no clause",
                    p.id
                );
            }
        }
    }
}

// covers: N8, N9d
#[test]
fn r5_objection_reasons_are_required_except_for_direct_marketing() {
    use tutela_core::ledger::{EventKind, ObjectionScope};
    let policy = compiled();
    let s = SubjectState::UNKNOWN;
    let obj = |scope: &str| EventKind::Objection {
        scope: ObjectionScope::parse(scope),
    };
    assert!(
        policy
            .check_event(&s, &obj("direct_marketing"), false, false)
            .is_ok()
    );
    assert!(
        policy
            .check_event(&s, &obj("email_marketing"), false, false)
            .is_ok()
    );
    let e = policy.check_event(&s, &obj("legitimate_interest"), false, false);
    assert_eq!(e.map_err(|e| e.field), Err("reason"));
    let e = policy.check_event(&s, &obj("abuse_detection"), false, false);
    assert_eq!(e.map_err(|e| e.field), Err("reason"));
    let e = policy.check_event(&s, &obj("contract_performance"), false, true);
    assert_eq!(e.map_err(|e| e.field), Err("scope"));
}

// covers: N25
#[test]
fn r4_explicit_consent_needs_evidence() {
    use tutela_core::ledger::EventKind;
    let policy = compiled();
    let consent = EventKind::Consent {
        purpose: "ai_training".into(),
        channel: None,
        granted: true,
        source: "call_center".into(),
        notice_version: "2026-01".into(),
    };
    let e = policy.check_event(&SubjectState::UNKNOWN, &consent, false, false);
    assert_eq!(e.map_err(|e| e.field), Err("evidence"));
    assert!(
        policy
            .check_event(&SubjectState::UNKNOWN, &consent, true, false)
            .is_ok()
    );
}

#[test]
fn consent_to_a_purpose_without_consent_basis_is_refused() {
    use tutela_core::ledger::EventKind;
    let policy = compiled();
    let consent = EventKind::Consent {
        purpose: "contract_performance".into(),
        channel: None,
        granted: true,
        source: "web".into(),
        notice_version: "2026-01".into(),
    };
    let e = policy.check_event(&SubjectState::UNKNOWN, &consent, false, false);
    assert_eq!(e.map_err(|e| e.field), Err("purpose"));
}

// covers: N9e
#[test]
fn r1_nothing_new_is_recorded_after_erasure() {
    use tutela_core::ledger::EventKind;
    let policy = compiled();
    let mut s = SubjectState::UNKNOWN;
    s.apply(&policy, &EventKind::Erasure);
    let e = policy.check_event(&s, &EventKind::Restriction { active: true }, false, false);
    assert_eq!(e.map_err(|e| e.field), Err("subject"));
}

#[test]
fn a_gap_is_never_an_allow() {
    let policy = compiled();
    for (purpose, cat, ch, rec, country) in [
        ("nope", "contact", None, None, None),
        ("contract_performance", "nope", None, None, None),
        ("email_marketing", "contact", Some("pigeon"), None, None),
        (
            "contract_performance",
            "contact",
            None,
            Some("nobody"),
            None,
        ),
        (
            "contract_performance",
            "contact",
            None,
            None,
            Some("Germany"),
        ),
    ] {
        let gap = policy.resolve(purpose, [cat], ch, rec, country);
        assert!(gap.is_err(), "{purpose} {cat} should be a gap");
    }
    assert_eq!(Outcome::Gap.as_str(), "not_configured");
}

#[test]
fn every_reason_code_is_distinct_and_names_a_rule() {
    let mut codes: Vec<&str> = Reason::ALL.iter().map(|r| r.code()).collect();
    codes.sort_unstable();
    let n = codes.len();
    codes.dedup();
    assert_eq!(codes.len(), n);
    assert!(Reason::ALL.iter().all(|r| r.rule().starts_with('R')));
}

/// A consent given before its purpose was widened, through every event that can follow it.
// covers: N33, N18
#[test]
fn r4_a_consent_given_before_a_widening_needs_renewal() {
    use tutela_core::compiled::CompiledPolicy;
    use tutela_core::ledger::{EventKind, ObjectionScope};
    use tutela_core::policy::{MemoryLoader, load_policy};
    let text = crate::support::REFERENCE
        .replacen("version = \"2026-01\"", "version = \"2026-07\"", 1)
        .replacen(
            "categories = [\"identity\", \"contact\"]\nchannels = [\"phone\"]",
            "categories = [\"identity\", \"contact\", \"contract\"]\nchannels = [\"phone\"]",
            1,
        )
        .replacen(
            "consent_evidence_kept = \"P5Y\"\nnotice_ref = [\"N18\"]\n",
            "consent_evidence_kept = \"P5Y\"\nnotice_ref = [\"N18\"]\n[purpose.renewal]\nsince = \"2026-07\"\nuntil_renewed = \"old_scope\"\nold_categories = [\"identity\", \"contact\"]\n",
            1,
        );
    let policy = CompiledPolicy::new(
        load_policy(&MemoryLoader::new().with("p.toml", &text), "p.toml").expect("loads"),
    );
    let now: jiff::Timestamp = "2026-08-01T00:00:00Z".parse().expect("time");
    let consent = |version: &str, granted: bool| EventKind::Consent {
        purpose: "phone_marketing".into(),
        channel: Some("phone".into()),
        granted,
        source: "test".into(),
        notice_version: version.into(),
    };
    let ask = |s: &SubjectState, cats: &[&str]| {
        let q = policy
            .resolve(
                "phone_marketing",
                cats.iter().copied(),
                Some("phone"),
                None,
                None,
            )
            .expect("known");
        policy.decide(s, &q, now)
    };
    let mut s = SubjectState::UNKNOWN;
    s.apply(&policy, &consent("2026-01", true));
    assert_ne!(s.renewal(), 0);
    assert_eq!(
        ask(&s, &["contact"]).outcome,
        Outcome::Allow,
        "the old scope"
    );
    assert_eq!(
        ask(&s, &["contact", "contract"]).reason,
        Reason::ConsentRenewalNeeded
    );
    // Renewed under the new notice: the whole purpose.
    let mut renewed = s;
    renewed.apply(&policy, &consent("2026-07", true));
    assert_eq!(renewed.renewal(), 0);
    assert_eq!(
        ask(&renewed, &["contact", "contract"]).outcome,
        Outcome::Allow
    );
    // Withdrawn: a withdrawal, not a renewal.
    let mut withdrawn = s;
    withdrawn.apply(&policy, &consent("2026-07", false));
    assert_eq!(withdrawn.renewal(), 0);
    assert_eq!(
        ask(&withdrawn, &["contact"]).reason,
        Reason::ConsentWithdrawn
    );
    // An objection to direct marketing ends it like any marketing consent.
    let mut objected = s;
    objected.apply(
        &policy,
        &EventKind::Objection {
            scope: ObjectionScope::DirectMarketing,
        },
    );
    assert_eq!((objected.consents, objected.withdrawn), (0, 0));
    assert_eq!(ask(&objected, &["contact"]).outcome, Outcome::Deny);
    assert_ne!(
        ask(&objected, &["contact"]).reason,
        Reason::ConsentWithdrawn
    );
}
