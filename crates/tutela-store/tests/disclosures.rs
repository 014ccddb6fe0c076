//! The disclosure log checks every store must pass.

use tutela_store::{DisclosureRecord, DisclosureStore, StoreError};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

pub async fn run_all<S: DisclosureStore>(store: &S) {
    let d = DisclosureRecord {
        id: "d-1".into(),
        subject: "S-9".into(),
        at: at("2026-05-01T00:00:00Z"),
        recipient: "rights_holders".into(),
        purpose: "authority_disclosure".into(),
        categories: "[\"identity\",\"traffic\"]".into(),
        country: None,
        allowed: true,
        legal_basis: Some("eu-gdpr:A6-1-c".into()),
        reason: "legal_obligation".into(),
        reference: Some("LG Köln 14 O 123/26".into()),
        bar_reason: Some("court order forbids informing the person".into()),
        bar_until: Some(at("2026-11-01T00:00:00Z")),
        bar_lifted_at: None,
    };
    store.insert_disclosure(&d).await.expect("insert");
    assert_eq!(
        store.disclosure("d-1").await.expect("read"),
        Some(d.clone())
    );
    assert!(d.barred(at("2026-06-01T00:00:00Z")));
    assert!(
        !d.barred(at("2026-11-02T00:00:00Z")),
        "the bar ends by itself"
    );
    store
        .lift_disclosure_bar("d-1", at("2026-07-01T00:00:00Z"))
        .await
        .expect("lift");
    assert!(matches!(
        store
            .lift_disclosure_bar("d-1", at("2026-07-02T00:00:00Z"))
            .await,
        Err(StoreError::Conflict)
    ));
    let listed = store.disclosures_of("S-9").await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].barred(at("2026-07-02T00:00:00Z")));
}
