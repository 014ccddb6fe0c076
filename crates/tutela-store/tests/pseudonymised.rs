//! The register of pseudonymised datasets and the reversal record (N7b), on every store.

use tutela_store::{DatasetRecord, LogSource, LogStore, PseudonymisedStore, Reversal};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

fn dataset(id: &str, created: &str, expires: &str) -> DatasetRecord {
    DatasetRecord {
        id: id.into(),
        purpose: "service_quality_analysis".into(),
        domain: "service_quality_analysis".into(),
        location: format!("/data/{id}.csv"),
        columns: "imsi=ff1:imsi,msisdn=hmac".into(),
        key_id: "pk-1".into(),
        rows: 1000,
        created_at: at(created),
        expires_at: at(expires),
        deleted_at: None,
        error: None,
    }
}

pub async fn run_all<S: PseudonymisedStore + LogStore>(store: &S) {
    let audit_before = store
        .log_contents(LogSource::Audit, 0, 1_000_000)
        .await
        .expect("audit")
        .len();
    let a = dataset("pds-a", "2026-01-05T00:00:00Z", "2026-04-05T00:00:00Z");
    let b = dataset("pds-b", "2026-02-01T00:00:00Z", "2026-05-01T00:00:00Z");
    store.register_dataset(&a).await.expect("register a");
    store.register_dataset(&b).await.expect("register b");
    assert!(
        store.register_dataset(&a).await.is_err(),
        "an id is registered once"
    );
    let all = store.datasets().await.expect("list");
    assert_eq!(
        all.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["pds-b", "pds-a"]
    );
    assert_eq!(all[1], a);

    // Due exactly at the end of retention, not a moment before.
    assert!(
        store
            .datasets_due(at("2026-04-04T23:59:59Z"))
            .await
            .expect("due")
            .is_empty()
    );
    let due = store
        .datasets_due(at("2026-04-05T00:00:00Z"))
        .await
        .expect("due");
    assert_eq!(
        due.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["pds-a"]
    );

    // A failed deletion keeps the dataset due, with its error; a done one leaves the list.
    store
        .dataset_swept("pds-a", at("2026-04-05T01:00:00Z"), Some("denied"))
        .await
        .expect("failed");
    let due = store
        .datasets_due(at("2026-04-06T00:00:00Z"))
        .await
        .expect("due");
    assert_eq!(due[0].error.as_deref(), Some("denied"));
    assert_eq!(due[0].deleted_at, None);
    store
        .dataset_swept("pds-a", at("2026-04-06T01:00:00Z"), None)
        .await
        .expect("deleted");
    assert!(
        store
            .datasets_due(at("2026-04-07T00:00:00Z"))
            .await
            .expect("due")
            .is_empty()
    );
    let a_now = store.datasets().await.expect("list").pop().expect("a");
    assert_eq!(
        (a_now.deleted_at, a_now.error),
        (Some(at("2026-04-06T01:00:00Z")), None)
    );

    store
        .record_reversal(&Reversal {
            at: at("2026-03-01T00:00:00Z"),
            domain: "service_quality_analysis".into(),
            identifier: "imsi".into(),
            key_id: "pk-1".into(),
            count: 3,
            reference: "ticket 4711".into(),
        })
        .await
        .expect("reversal");
    // Registrations, the deletion and the reversal are audit rows: leaves of the verifiable log.
    let audit = store
        .log_contents(LogSource::Audit, 0, 1_000_000)
        .await
        .expect("audit");
    let text: Vec<String> = audit[audit_before..]
        .iter()
        .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert_eq!(text.len(), 4, "{text:?}");
    assert!(
        text[2].contains("pseudonymised_dataset_deleted"),
        "{}",
        text[2]
    );
    assert!(
        text[3].contains("pseudonym_reversal") && text[3].contains("ticket 4711"),
        "{}",
        text[3]
    );
}
