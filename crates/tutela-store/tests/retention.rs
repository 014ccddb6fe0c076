//! Legal holds and retention sweeps (N5a, N6, N7b), on every store: one open sweep at a time,
//! leases that pass to another process only when they expire, and audit rows for holds and for
//! the counts of a finished sweep.

use tutela_store::{HoldRecord, LogSource, LogStore, RetentionStore, StoreError, SweepRecord};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

fn hold(id: &str, subject: Option<&str>) -> HoldRecord {
    HoldRecord {
        id: id.into(),
        subject: subject.map(str::to_owned),
        dataset: None,
        table_name: None,
        record_key: None,
        reference: "claim 2026-17".into(),
        placed_by: "dpo-1".into(),
        placed_at: at("2026-03-01T00:00:00Z"),
        lifted_by: None,
        lifted_at: None,
    }
}

pub async fn run_all<S: RetentionStore + LogStore>(store: &S) {
    // covers: N5a
    let audit_before = store
        .log_contents(LogSource::Audit, 0, 1_000_000)
        .await
        .expect("audit")
        .len();
    store
        .place_hold(&hold("lh-1", Some("C-1")))
        .await
        .expect("hold");
    let record = HoldRecord {
        subject: None,
        dataset: Some("operator".into()),
        table_name: Some("invoices".into()),
        record_key: Some("61".into()),
        placed_at: at("2026-03-02T00:00:00Z"),
        ..hold("lh-2", None)
    };
    store.place_hold(&record).await.expect("record hold");
    assert!(matches!(
        store.place_hold(&hold("lh-1", None)).await,
        Err(StoreError::Conflict)
    ));
    let active = store.holds(true).await.expect("holds");
    assert_eq!(active.len(), 2);
    assert_eq!(active[0], record);
    assert!(
        store
            .lift_hold("lh-1", "dpo-2", at("2026-04-01T00:00:00Z"))
            .await
            .expect("lift")
    );
    assert!(
        !store
            .lift_hold("lh-1", "dpo-2", at("2026-04-02T00:00:00Z"))
            .await
            .expect("lift again"),
        "a hold is lifted once"
    );
    assert!(
        !store
            .lift_hold("lh-none", "dpo-2", at("2026-04-02T00:00:00Z"))
            .await
            .expect("lift")
    );
    let active = store.holds(true).await.expect("holds");
    assert_eq!(
        active.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["lh-2"]
    );
    let all = store.holds(false).await.expect("all holds");
    let lifted = all.iter().find(|h| h.id == "lh-1").expect("lh-1");
    assert_eq!(lifted.lifted_by.as_deref(), Some("dpo-2"));
    assert_eq!(lifted.lifted_at, Some(at("2026-04-01T00:00:00Z")));

    // covers: N6, N7b
    let now = at("2026-12-01T03:00:00Z");
    let lease = at("2026-12-01T03:01:00Z");
    let sweep = SweepRecord {
        id: "rs-1".into(),
        plan_day: "2026-12-01".into(),
        started_at: now,
        finished_at: None,
        owner: Some("a".into()),
        lease_until: Some(lease),
        progress: "{\"targets\":[]}".into(),
        error: None,
    };
    store.open_sweep(&sweep).await.expect("open");
    assert!(
        matches!(
            store
                .open_sweep(&SweepRecord {
                    id: "rs-2".into(),
                    ..sweep.clone()
                })
                .await,
            Err(StoreError::Conflict)
        ),
        "one open sweep at a time"
    );
    // Another process gets it only once the lease has run out.
    assert!(
        store
            .claim_sweep("b", now, lease)
            .await
            .expect("claim")
            .is_none()
    );
    let mine = store
        .claim_sweep("a", now, lease)
        .await
        .expect("claim")
        .expect("own");
    assert_eq!(mine.plan_day, "2026-12-01");
    store
        .save_sweep("rs-1", "a", "{\"step\":1}", None, lease)
        .await
        .expect("save");
    let later = at("2026-12-01T03:02:00Z");
    let taken = store
        .claim_sweep("b", later, at("2026-12-01T03:03:00Z"))
        .await
        .expect("claim")
        .expect("expired lease");
    assert_eq!(
        taken.progress, "{\"step\":1}",
        "the new owner resumes where it stood"
    );
    assert!(
        matches!(
            store.save_sweep("rs-1", "a", "{}", None, lease).await,
            Err(StoreError::Conflict)
        ),
        "the old owner lost it"
    );
    store
        .save_sweep(
            "rs-1",
            "b",
            "{\"step\":2}",
            Some("dataset `operator` is unavailable"),
            at("2026-12-01T03:04:00Z"),
        )
        .await
        .expect("save");
    assert!(matches!(
        store.finish_sweep("rs-1", "a", "{}", "{}", later).await,
        Err(StoreError::Conflict)
    ));
    store
        .finish_sweep(
            "rs-1",
            "b",
            "{\"step\":3}",
            "{\"service_quality_data\":{\"operator.usage_records\":26}}",
            at("2026-12-01T03:05:00Z"),
        )
        .await
        .expect("finish");
    assert!(
        store
            .claim_sweep("b", later, lease)
            .await
            .expect("claim")
            .is_none(),
        "nothing open"
    );
    let next = SweepRecord {
        id: "rs-2".into(),
        started_at: at("2026-12-02T03:00:00Z"),
        ..sweep.clone()
    };
    store
        .open_sweep(&next)
        .await
        .expect("a new sweep after the last one finished");
    let list = store.sweeps(10).await.expect("sweeps");
    assert_eq!(
        list.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["rs-2", "rs-1"]
    );
    assert_eq!(list[1].finished_at, Some(at("2026-12-01T03:05:00Z")));
    assert_eq!(list[1].progress, "{\"step\":3}");
    assert_eq!(list[1].error, None);
    // An approval replaces the plan the operator saw, and only that one, with an audit row
    // naming the operator (issue 31).
    let approved_at = at("2026-12-02T03:00:30Z");
    assert!(matches!(
        store
            .approve_sweep(
                "rs-2",
                "{\"other\":1}",
                "{\"ok\":1}",
                "dpo-1",
                "{}",
                approved_at
            )
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(
        matches!(
            store
                .approve_sweep(
                    "rs-1",
                    "{\"step\":3}",
                    "{\"ok\":1}",
                    "dpo-1",
                    "{}",
                    approved_at
                )
                .await,
            Err(StoreError::Conflict)
        ),
        "a finished sweep is not approved"
    );
    store
        .approve_sweep(
            "rs-2",
            "{\"targets\":[]}",
            "{\"approved\":true}",
            "dpo-1",
            "{\"planned\":{\"service_quality_data\":{\"operator.usage_records\":3}}}",
            approved_at,
        )
        .await
        .expect("approve");
    let list = store.sweeps(1).await.expect("sweeps");
    assert_eq!(list[0].progress, "{\"approved\":true}");
    store
        .finish_sweep("rs-2", "a", "{}", "{}", at("2026-12-02T03:01:00Z"))
        .await
        .expect("finish");

    let audit = store
        .log_contents(LogSource::Audit, 0, 1_000_000)
        .await
        .expect("audit");
    let text: Vec<String> = audit[audit_before..]
        .iter()
        .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
        .collect();
    let kinds = |k: &str| text.iter().filter(|t| t.contains(k)).count();
    assert_eq!(kinds("legal_hold_placed"), 2, "{text:?}");
    assert_eq!(kinds("legal_hold_lifted"), 1, "{text:?}");
    assert_eq!(kinds("\nretention_sweep\n"), 2, "{text:?}");
    assert_eq!(kinds("\nretention_sweep_approved\n"), 1, "{text:?}");
    assert!(
        text.iter()
            .any(|t| t.contains("retention_sweep_approved") && t.contains("dpo-1")),
        "{text:?}"
    );
    assert!(text.iter().any(|t| t.contains("operator.usage_records")));
}
