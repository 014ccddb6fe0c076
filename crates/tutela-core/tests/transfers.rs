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
    let md = transfers::markdown(&flows, day());
    assert!(md.contains("Every flow has a ground"));
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
    let md = transfers::markdown(&flows, day());
    assert!(
        md.contains("## Without a ground") && md.contains("**cloud_us** → US"),
        "{md}"
    );
    // And the UK decision expires by its own date.
    let later = transfers::flows(&reference(), jiff::civil::date(2032, 1, 1));
    assert!(
        later
            .iter()
            .all(|f| f.country != "GB" || f.ground.is_none())
    );
}
