//! The risk-check store checks every store must pass.

use tutela_store::{RiskCheckRecord, RiskStore, StoreError};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

fn check(
    id: &str,
    subject: &str,
    outcome: &str,
    review: Option<&str>,
    created: &str,
) -> RiskCheckRecord {
    RiskCheckRecord {
        id: id.into(),
        subject: subject.into(),
        created_at: at(created),
        expires_at: at(created) + jiff::SignedDuration::from_hours(365 * 24),
        outcome: outcome.into(),
        review: review.map(str::to_owned),
        probability: 0.4321,
        points: 512.5,
        reasons: "[]".into(),
        facts: "{\"duration_in_month\":\"12\"}".into(),
        agency_queried: true,
        agency_answer: Some("{\"negative_entries\":0}".into()),
        decision: "{\"allowed\":true}".into(),
        reviewer: None,
        review_note: None,
        reviewed_at: None,
        model: "abc".into(),
    }
}

/// A held person's expired check stays until the hold is lifted (N5a over N15).
pub async fn held_checks_stay<S: RiskStore + tutela_store::RetentionStore>(store: &S) {
    // covers: N5a, N15
    let c = check("rc-held", "H-9", "accept", None, "2025-01-10T00:00:00Z");
    store.insert_risk_check(&c).await.expect("insert");
    let hold = tutela_store::HoldRecord {
        id: "lh-risk".into(),
        subject: Some("H-9".into()),
        dataset: None,
        table_name: None,
        record_key: None,
        reference: "dispute 2026-3".into(),
        placed_by: "dpo-1".into(),
        placed_at: at("2026-01-01T00:00:00Z"),
        lifted_by: None,
        lifted_at: None,
    };
    store.place_hold(&hold).await.expect("hold");
    store
        .purge_risk_checks(at("2027-06-01T00:00:00Z"))
        .await
        .expect("purge");
    assert!(
        store.risk_check("rc-held").await.expect("read").is_some(),
        "held"
    );
    assert!(
        store
            .lift_hold("lh-risk", "dpo-1", at("2027-06-02T00:00:00Z"))
            .await
            .expect("lift")
    );
    store
        .purge_risk_checks(at("2027-06-03T00:00:00Z"))
        .await
        .expect("purge");
    assert_eq!(store.risk_check("rc-held").await.expect("read"), None);
}

pub async fn run_all<S: RiskStore>(store: &S) {
    let a = check(
        "rc-1",
        "S-1",
        "decline",
        Some("pending"),
        "2026-01-10T00:00:00Z",
    );
    let b = check("rc-2", "S-1", "accept", None, "2026-03-10T00:00:00Z");
    store.insert_risk_check(&a).await.expect("insert");
    store.insert_risk_check(&b).await.expect("insert");
    assert_eq!(
        store.risk_check("rc-1").await.expect("read"),
        Some(a.clone())
    );
    assert_eq!(
        store.pending_risk_reviews(10).await.expect("pending"),
        vec![a.clone()]
    );
    store
        .review_risk_check(
            "rc-1",
            "accepted",
            "agent-1",
            "income proven by payslips",
            at("2026-01-11T00:00:00Z"),
        )
        .await
        .expect("review");
    assert!(matches!(
        store
            .review_risk_check(
                "rc-1",
                "declined",
                "agent-2",
                "again",
                at("2026-01-12T00:00:00Z")
            )
            .await,
        Err(StoreError::Conflict)
    ));
    let reviewed = store.risk_check("rc-1").await.expect("read").expect("row");
    assert_eq!(reviewed.review.as_deref(), Some("accepted"));
    assert_eq!(reviewed.reviewer.as_deref(), Some("agent-1"));
    assert!(
        store
            .pending_risk_reviews(10)
            .await
            .expect("pending")
            .is_empty()
    );
    assert_eq!(store.risk_checks_of("S-1").await.expect("of").len(), 2);
    // One year after the first check, it goes; the second stays (N15).
    assert_eq!(
        store
            .purge_risk_checks(at("2027-01-10T00:00:00Z"))
            .await
            .expect("purge"),
        1
    );
    assert_eq!(store.risk_check("rc-1").await.expect("read"), None);
    assert!(store.risk_check("rc-2").await.expect("read").is_some());
}
