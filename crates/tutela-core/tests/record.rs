//! The record of processing activities (Art. 30) written from the reference policy.

use tutela_core::record;
use tutela_core::render::Lang;

use crate::support::reference;

// covers: N26, N29, N30, N32
#[test]
fn every_purpose_is_an_activity_with_its_registers() {
    let policy = reference();
    let r = record::build(&policy, Lang::En, jiff::civil::date(2026, 11, 30));
    assert_eq!(r.activities.len(), policy.purposes.len());
    assert_eq!(r.controller, "Deutsche Telekom IoT GmbH");
    assert!(r.data_protection_officer.contains("datenschutz@telekom.de"));
    let get = |id: &str| {
        r.activities
            .iter()
            .find(|a| a.purpose == id)
            .unwrap_or_else(|| unreachable!("{id}"))
    };
    let risk = get("risk_check");
    assert_eq!(risk.legal_bases, ["eu-gdpr:A6-1-b"]);
    assert_eq!(risk.data_subjects, ["customer", "prospect"]);
    assert!(
        risk.recipients
            .iter()
            .any(|r| r == "group_companies (controller)")
    );
    assert!(
        risk.erasure
            .iter()
            .any(|e| e.starts_with("risk_check_result (P1Y)"))
    );
    let quality = get("service_quality_analysis");
    assert!(
        quality
            .transfers
            .iter()
            .any(|t| t.starts_with("cloud_us → US: Art. 45"))
    );
    assert!(quality.erasure.iter().any(|e| e.contains("P3M")));
    let csv = record::csv(&r);
    let rows = tutela_core::csv::parse(&csv).unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(rows.len(), policy.purposes.len() + 1);
    assert_eq!(rows[0][0], "purpose");
    let ld = record::dpv_jsonld(&r);
    let v: serde_json::Value =
        serde_json::from_str(&ld).unwrap_or_else(|e| unreachable!("{e}\n{ld}"));
    assert_eq!(v["@context"]["dpv"], "https://w3id.org/dpv#");
    let handling = v["dpv:hasPersonalDataHandling"].as_array().map(Vec::len);
    assert_eq!(handling, Some(policy.purposes.len()));
    assert_eq!(
        v["dpv:hasPersonalDataHandling"][0]["dpv:hasLegalBasis"][0]["@id"],
        "eu-gdpr:A6-1-b"
    );
}

#[test]
fn the_record_names_the_measures_of_statistics_and_redaction() {
    // covers: N7c, N25
    let policy = crate::support::reference();
    let r = tutela_core::record::build(
        &policy,
        tutela_core::render::Lang::En,
        "2026-12-01".parse().expect("date"),
    );
    let of = |p: &str| {
        r.activities
            .iter()
            .find(|a| a.purpose == p)
            .map(|a| a.measures.clone())
            .unwrap_or_default()
    };
    let stats = of("statistics");
    assert!(
        stats.iter().any(|m| m.contains("at least 10 persons"))
            && stats.iter().any(|m| m.contains("epsilon 3")),
        "{stats:?}"
    );
    assert!(
        of("ai_training")
            .iter()
            .any(|m| m.starts_with("dpv:DataRedaction"))
    );
    assert!(of("contract_performance").is_empty());
    assert!(tutela_core::record::csv(&r).starts_with(
        "purpose,name,legal_bases,data_subjects,categories,recipients,transfers,erasure,measures,"
    ));
}
