//! The transfer report: the reference policy's third-country flows and their grounds, and what
//! happens when an adequacy decision is withdrawn.

use tutela_core::policy::{MemoryLoader, load_policy};
use tutela_core::transfers;

use crate::support::{REFERENCE, reference};

fn day() -> jiff::civil::Date {
    jiff::civil::date(2026, 11, 30)
}

// covers: N29, N30, N31
#[test]
fn every_third_country_flow_has_its_ground() {
    let flows = transfers::flows(&reference(), day());
    let ground = |r: &str, c: &str| {
        flows
            .iter()
            .find(|f| f.recipient == r && f.country == c)
            .unwrap_or_else(|| unreachable!("{r} {c}"))
            .ground
            .clone()
    };
    assert!(ground("cloud_us", "US").is_some_and(|g| g.contains("Data Privacy Framework")));
    assert!(
        ground("customer_service_in", "IN")
            .is_some_and(|g| g.contains("A46-2-c") && g.contains("SCC 2021/914"))
    );
    assert!(ground("cooperation_partners", "CH").is_some_and(|g| g.starts_with("Art. 45")));
    assert!(
        !flows.iter().any(|f| f.country == "DE" || f.country == "NL"),
        "EU/EEA flows are not transfers"
    );
    assert!(flows.iter().all(|f| f.ground.is_some()));
    let md = transfers::markdown(&flows, day(), &[], None);
    assert!(md.contains("Every flow has a ground"));
    assert!(
        !md.contains("recorded per person"),
        "no database, no counts"
    );
    let csv = transfers::csv(&flows);
    assert!(csv.starts_with("recipient,country,ground,purposes,categories\r\n"));
    assert_eq!(csv.lines().count(), flows.len() + 1);
}

#[test]
fn a_withdrawn_adequacy_decision_shows_who_loses_their_ground() {
    // The US decision withdrawn as of mid-2026 (an edit of the policy): the DPF recipient has
    // no ground left.
    let text = REFERENCE.replace(
        "country = \"US\"\ndecided = \"2023-07-10\"\n",
        "country = \"US\"\ndecided = \"2023-07-10\"\nuntil = \"2026-06-30\"\n",
    );
    assert!(text != REFERENCE);
    let policy = load_policy(&MemoryLoader::new().with("p.toml", &text), "p.toml")
        .unwrap_or_else(|e| unreachable!("{e}"));
    let flows = transfers::flows(&policy, day());
    let us = flows
        .iter()
        .find(|f| f.recipient == "cloud_us")
        .unwrap_or_else(|| unreachable!());
    assert_eq!(us.ground, None);
    let md = transfers::markdown(&flows, day(), &policy.transfers.derogations, None);
    assert!(
        md.contains("## Without a ground: only for persons with a recorded Art. 49 derogation: explicit_consent (Art. 49(1)(a)), contract_necessity (Art. 49(1)(b))")
            && md.contains("**cloud_us** → US"),
        "{md}"
    );
    let none = transfers::markdown(&flows, day(), &[], None);
    assert!(none.contains("relies on no Art. 49 derogation, so these flows must not happen"));
    // And the UK decision expires by its own date.
    let later = transfers::flows(&reference(), jiff::civil::date(2032, 1, 1));
    assert!(
        later
            .iter()
            .all(|f| f.country != "GB" || f.ground.is_none())
    );
}

// covers: N31
#[test]
fn art49_grounds_are_recorded_per_person_and_counted_per_country() {
    use tutela_core::basis::CountryCode;
    use tutela_core::compiled::CompiledPolicy;
    use tutela_core::ledger::EventKind;
    use tutela_core::state::SubjectState;

    let policy = crate::support::compiled();
    let country = |c: &str| CountryCode::parse(c).unwrap_or_else(|| unreachable!());
    let necessity = |c: &str, active| EventKind::TransferNecessity {
        country: country(c),
        active,
    };
    let consent = |c: &str| EventKind::TransferConsent {
        country: country(c),
        granted: true,
    };
    let person = |events: &[EventKind]| {
        let mut s = SubjectState::UNKNOWN;
        for e in events {
            assert_eq!(policy.check_event(&s, e, true, false), Ok(()), "{e:?}");
            s.apply(&policy, e);
        }
        s
    };
    let states = [
        person(&[necessity("IN", true)]),
        person(&[necessity("IN", true), consent("US")]),
        person(&[necessity("IN", true), necessity("IN", false)]),
        person(&[consent("IN"), EventKind::Erasure]),
    ];
    let counts = transfers::person_grounds(&policy, &states);
    let row = |c: &str| counts.iter().find(|p| p.country == c).cloned();
    assert_eq!(
        row("IN").map(|p| (p.explicit_consent, p.contract_necessity)),
        Some((0, 2)),
        "an ended necessity and an erased person's consent do not count"
    );
    assert_eq!(
        row("US").map(|p| (p.explicit_consent, p.contract_necessity)),
        Some((1, 0))
    );
    assert_eq!(
        counts.len(),
        2,
        "countries nobody has a ground for are left out"
    );
    let flows = transfers::flows(&reference(), day());
    let md = transfers::markdown(&flows, day(), &[], Some(&counts));
    assert!(
        md.contains("| IN | 0 | 2 |") && md.contains("| US | 1 | 0 |"),
        "{md}"
    );

    // A policy that relies on neither derogation takes no such write: N31 is what it says.
    let text = REFERENCE.replace(
        "derogations = [\"explicit_consent\", \"contract_necessity\"]",
        "derogations = [\"explicit_consent\"]",
    );
    assert!(text != REFERENCE);
    let narrow = CompiledPolicy::new(
        load_policy(&MemoryLoader::new().with("p.toml", &text), "p.toml")
            .unwrap_or_else(|e| unreachable!("{e}")),
    );
    let e = narrow
        .check_event(&SubjectState::UNKNOWN, &necessity("IN", true), true, false)
        .expect_err("refused");
    assert!(
        e.message
            .contains("relies on no contract_necessity derogation (Art. 49(1)(b))"),
        "{}",
        e.message
    );
    // And a state that still holds the bit grounds nothing under it.
    let held = person(&[
        EventKind::Relationship {
            relationship: tutela_core::basis::Relationship::Customer,
            contract_kind: tutela_core::basis::ContractKind::Telecommunications,
        },
        necessity("IN", true),
    ]);
    let q = narrow
        .resolve("contract_performance", ["contact"], None, None, Some("IN"))
        .unwrap_or_else(|g| unreachable!("{g:?}"));
    let d = narrow.decide(&held, &q, jiff::Timestamp::UNIX_EPOCH);
    assert_eq!(d.reason.code(), "transfer_not_permitted");
}

// covers: N31
#[test]
fn the_access_report_names_the_persons_own_art49_grounds() {
    use tutela_core::basis::CountryCode;
    use tutela_core::ledger::EventKind;
    use tutela_core::render::Lang;
    use tutela_core::report::{ReportInput, build, render_html};
    use tutela_core::state::SubjectState;

    let policy = crate::support::compiled();
    let india = CountryCode::parse("IN").unwrap_or_else(|| unreachable!());
    let mut state = SubjectState::UNKNOWN;
    state.apply(
        &policy,
        &EventKind::TransferNecessity {
            country: india,
            active: true,
        },
    );
    let report = |lang| {
        build(&ReportInput {
            policy: &policy,
            subject: "K-1",
            state: &state,
            email: None,
            history: &[],
            tables: &[],
            risk_checks: &[],
            disclosures: &[],
            now: jiff::Timestamp::UNIX_EPOCH,
            lang,
            time_zone: &jiff::tz::TimeZone::UTC,
        })
    };
    let en = report(Lang::En);
    assert_eq!(en.transfer_derogations.len(), 1);
    assert_eq!(en.transfer_derogations[0].country, "IN");
    assert_eq!(
        en.transfer_derogations[0].ground,
        "necessary for your contract (Art. 49(1)(b) GDPR)"
    );
    assert_eq!(en.transfer_derogations[0].country_name, "India");
    let de = render_html(&report(Lang::De));
    assert!(
        de.contains("Indien: für Ihren Vertrag erforderlich (Art. 49 Abs. 1 lit. b DSGVO)"),
        "{de}"
    );
    assert!(
        report(Lang::En)
            .transfer_safeguards
            .iter()
            .all(|s| s.country != "IN"
                || (s.mechanism.as_deref() == Some("eu-gdpr:A46-2-c")
                    && s.ground.contains("standard contractual clauses")))
    );
    let none = SubjectState::UNKNOWN;
    let plain = build(&ReportInput {
        policy: &policy,
        subject: "K-2",
        state: &none,
        email: None,
        history: &[],
        tables: &[],
        risk_checks: &[],
        disclosures: &[],
        now: jiff::Timestamp::UNIX_EPOCH,
        lang: Lang::En,
        time_zone: &jiff::tz::TimeZone::UTC,
    });
    assert!(plain.transfer_derogations.is_empty());
}
