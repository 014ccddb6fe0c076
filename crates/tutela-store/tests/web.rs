//! The web store checks every store must pass: operators, sessions, sign-in codes.

use tutela_store::{
    OperatorChange, OperatorChanged, OperatorRecord, SessionRecord, SigninRecord, StoreError,
    WebStore,
};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

pub async fn run_all<S: WebStore>(store: &S) {
    operators_are_unique_by_name_and_refuse_a_replayed_step(store).await;
    operators_are_offboarded_and_the_last_dpo_stays(store).await;
    sessions_end_at_their_expiry(store).await;
    signin_codes_round_trip(store).await;
}

/// Issue 32: a report an operator downloads in the console is a disclosure, in the audit
/// trail with who, which request about whom, when and in which language.
pub async fn report_downloads_are_audited<S: WebStore + tutela_store::LogStore>(store: &S) {
    use tutela_store::LogSource;
    let before = store
        .log_contents(LogSource::Audit, 0, i64::MAX)
        .await
        .expect("audit")
        .len();
    store
        .record_report_download(
            "operator:op-dl",
            "req-dl-1",
            "C-DL",
            "en",
            at("2026-05-03T10:00:00Z"),
        )
        .await
        .expect("record");
    let rows = store
        .log_contents(LogSource::Audit, 0, i64::MAX)
        .await
        .expect("audit");
    assert_eq!(rows.len(), before + 1);
    let row = String::from_utf8_lossy(&rows[before].1).into_owned();
    for part in [
        "operator:op-dl",
        "access_report_downloaded",
        "req-dl-1",
        "C-DL",
        "\"lang\":\"en\"",
    ] {
        assert!(row.contains(part), "{part} missing: {row}");
    }
}

async fn operators_are_unique_by_name_and_refuse_a_replayed_step<S: WebStore>(store: &S) {
    let op = OperatorRecord {
        id: "op-1".into(),
        name: "erika".into(),
        role: "agent".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: "JBSWY3DPEHPK3PXP".into(),
        totp_last_step: 0,
        created_at: at("2026-05-01T00:00:00Z"),
        disabled_at: None,
        removed_at: None,
    };
    store.insert_operator(&op).await.expect("insert");
    let twin = OperatorRecord {
        id: "op-2".into(),
        ..op.clone()
    };
    assert!(matches!(
        store.insert_operator(&twin).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.operator_by_name("erika").await.expect("by name"),
        Some(op.clone())
    );
    assert_eq!(store.operator("op-1").await.expect("by id"), Some(op));
    assert_eq!(store.operator("op-2").await.expect("by id"), None);
    store.advance_totp_step("op-1", 100).await.expect("step");
    assert!(matches!(
        store.advance_totp_step("op-1", 100).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.operators().await.expect("list").len(), 1);
}

/// Issue 32: disable, enable, reset the second factor, remove; sessions end; the last DPO
/// stays; a removed operator keeps their name.
async fn operators_are_offboarded_and_the_last_dpo_stays<S: WebStore>(store: &S) {
    let t = at("2026-05-02T09:00:00Z");
    let dpo = |id: &str, name: &str| OperatorRecord {
        id: id.into(),
        name: name.into(),
        role: "dpo".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: "JBSWY3DPEHPK3PXP".into(),
        totp_last_step: 0,
        created_at: t,
        disabled_at: None,
        removed_at: None,
    };
    store
        .insert_operator(&dpo("op-d1", "dora"))
        .await
        .expect("insert");
    store
        .insert_operator(&dpo("op-d2", "dieter"))
        .await
        .expect("insert");
    let session = SessionRecord {
        id_hash: "op-session".into(),
        kind: "operator".into(),
        principal: "op-d2".into(),
        csrf: "c".into(),
        created_at: t,
        expires_at: at("2026-05-02T17:00:00Z"),
    };
    store.insert_session(&session).await.expect("session");
    let change = |id: &'static str, c| store.change_operator(id, c, "cli", t);
    assert_eq!(
        change("op-d2", OperatorChange::Disable)
            .await
            .expect("disable"),
        OperatorChanged::Done
    );
    assert_eq!(
        store.session("op-session", t).await.expect("read"),
        None,
        "ended"
    );
    assert_eq!(
        change("op-d2", OperatorChange::Disable)
            .await
            .expect("again"),
        OperatorChanged::Unchanged
    );
    // dora is now the last active DPO.
    assert_eq!(
        change("op-d1", OperatorChange::Disable)
            .await
            .expect("refused"),
        OperatorChanged::LastDpo
    );
    assert_eq!(
        change("op-d1", OperatorChange::Remove)
            .await
            .expect("refused"),
        OperatorChanged::LastDpo
    );
    assert_eq!(
        change("op-d2", OperatorChange::Enable)
            .await
            .expect("enable"),
        OperatorChanged::Done
    );
    let read = store.operator("op-d2").await.expect("read").expect("row");
    assert_eq!(read.disabled_at, None);
    assert_eq!(
        change("op-d2", OperatorChange::ResetTotp)
            .await
            .expect("reset"),
        OperatorChanged::Done
    );
    let read = store.operator("op-d2").await.expect("read").expect("row");
    assert_eq!(read.totp_secret, "");
    store
        .enrol_totp("op-d2", "GEZDGNBVGY3TQOJQ", t)
        .await
        .expect("enrol");
    assert!(matches!(
        store.enrol_totp("op-d2", "GEZDGNBVGY3TQOJQ", t).await,
        Err(StoreError::Conflict)
    ));
    let read = store.operator("op-d2").await.expect("read").expect("row");
    assert_eq!(read.totp_secret, "GEZDGNBVGY3TQOJQ");
    assert_eq!(
        change("op-d1", OperatorChange::Remove)
            .await
            .expect("remove"),
        OperatorChanged::Done
    );
    let gone = store
        .operator("op-d1")
        .await
        .expect("read")
        .expect("tombstone");
    assert_eq!(gone.name, "dora");
    assert!(gone.removed_at.is_some() && gone.disabled_at.is_some());
    assert!(gone.password_hash.is_empty() && gone.totp_secret.is_empty());
    assert_eq!(
        change("op-d1", OperatorChange::Enable)
            .await
            .expect("tombstone"),
        OperatorChanged::Removed
    );
    assert_eq!(
        change("op-none", OperatorChange::Disable)
            .await
            .expect("none"),
        OperatorChanged::NotFound
    );
    assert!(
        matches!(
            store.insert_operator(&dpo("op-d3", "dora")).await,
            Err(StoreError::Conflict)
        ),
        "a removed operator's name is not taken again"
    );
    let names = store.operator_names().await.expect("names");
    assert!(names.contains(&("op-d1".to_owned(), "dora".to_owned())));
}

async fn sessions_end_at_their_expiry<S: WebStore>(store: &S) {
    let s = SessionRecord {
        id_hash: "h1".into(),
        kind: "person".into(),
        principal: "S-1".into(),
        csrf: "c1".into(),
        created_at: at("2026-05-01T10:00:00Z"),
        expires_at: at("2026-05-01T10:30:00Z"),
    };
    store.insert_session(&s).await.expect("insert");
    assert_eq!(
        store
            .session("h1", at("2026-05-01T10:29:59Z"))
            .await
            .expect("read"),
        Some(s)
    );
    assert_eq!(
        store
            .session("h1", at("2026-05-01T10:30:00Z"))
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store
            .purge_web(at("2026-05-01T11:00:00Z"))
            .await
            .expect("purge"),
        1
    );
    store
        .delete_session("h1")
        .await
        .expect("delete twice is fine");
}

async fn signin_codes_round_trip<S: WebStore>(store: &S) {
    let pending = SigninRecord {
        id_hash: "p-1".into(),
        subject: Some("S-1".into()),
        salt: "s".into(),
        code_hash: "h".into(),
        expires_at: at("2026-05-01T10:15:00Z"),
        attempts: 0,
        mail_due: Some(at("2026-05-01T10:00:00Z")),
    };
    store.put_signin(&pending).await.expect("put");
    assert!(matches!(
        store.put_signin(&pending).await,
        Err(StoreError::Conflict)
    ));
    // An address not on file: a row all the same, with no mail.
    let decoy = SigninRecord {
        id_hash: "p-2".into(),
        subject: None,
        mail_due: None,
        ..pending.clone()
    };
    store.put_signin(&decoy).await.expect("put");
    let before = at("2026-05-01T10:01:00Z");
    let counted = store
        .count_signin_attempt("p-1", 2, before)
        .await
        .expect("count")
        .expect("pending");
    assert_eq!(counted.attempts, 1);
    assert!(
        store
            .count_signin_attempt("p-1", 2, before)
            .await
            .expect("count")
            .is_some()
    );
    assert_eq!(
        store
            .count_signin_attempt("p-1", 2, before)
            .await
            .expect("count"),
        None,
        "used up"
    );
    assert_eq!(
        store
            .count_signin_attempt("p-2", 2, at("2026-05-01T10:15:00Z"))
            .await
            .expect("count"),
        None,
        "expired"
    );
    // The mail is claimed once, sent once; the decoy is never claimed.
    let lease = at("2026-05-01T10:02:00Z");
    let claimed = store
        .claim_signin_mails(None, before, lease, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].subject, "S-1");
    assert!(
        store
            .claim_signin_mails(Some("p-1"), before, lease, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // A claim that lapsed is taken again.
    assert_eq!(
        store
            .claim_signin_mails(Some("p-1"), lease, at("2026-05-01T10:03:00Z"), 10)
            .await
            .expect("claim")
            .len(),
        1
    );
    store.signin_mail_sent("p-1").await.expect("sent");
    assert!(
        store
            .claim_signin_mails(
                None,
                at("2026-05-01T10:05:00Z"),
                at("2026-05-01T10:06:00Z"),
                10
            )
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store
            .signin("p-1")
            .await
            .expect("read")
            .expect("row")
            .mail_due,
        None
    );
    store.delete_signin("p-1").await.expect("delete");
    assert_eq!(store.signin("p-1").await.expect("read"), None);
    // Rate-limit windows: counted, and started afresh when they end.
    let window = jiff::SignedDuration::from_mins(15);
    let t0 = at("2026-05-01T10:00:00Z");
    assert_eq!(store.count_hit("k", t0, window).await.expect("hit").hits, 1);
    let c = store
        .count_hit("k", at("2026-05-01T10:14:00Z"), window)
        .await
        .expect("hit");
    assert_eq!((c.hits, c.window_end), (2, at("2026-05-01T10:15:00Z")));
    assert_eq!(
        store
            .count_hit("other", t0, window)
            .await
            .expect("hit")
            .hits,
        1
    );
    let c = store
        .count_hit("k", at("2026-05-01T10:15:00Z"), window)
        .await
        .expect("hit");
    assert_eq!((c.hits, c.window_end), (1, at("2026-05-01T10:30:00Z")));
    // Expired windows and sign-ins go.
    assert!(
        store
            .purge_web(at("2026-05-01T12:00:00Z"))
            .await
            .expect("purge")
            >= 3
    );
    assert_eq!(store.signin("p-2").await.expect("read"), None);
}

/// Activations: kept with their files, decided once.
pub async fn activations_are_decided_once<S: tutela_store::ActivationStore>(store: &S) {
    use tutela_store::ActivationRecord;
    let a = ActivationRecord {
        id: "act-1".into(),
        hash: "h2".into(),
        notice_version: "2026-07".into(),
        sources: "[]".into(),
        root: "reference.toml".into(),
        effective_at: at("2026-07-01T00:00:00Z"),
        requested_by: "cli:dpo".into(),
        requested_at: at("2026-06-01T00:00:00Z"),
        status: "scheduled".into(),
        decided_at: None,
        error: None,
    };
    store.insert_activation(&a).await.expect("insert");
    assert_eq!(store.activations().await.expect("list"), vec![a]);
    store
        .decide_activation(
            "act-1",
            "scheduled",
            "active",
            at("2026-07-01T00:00:01Z"),
            None,
            "system",
        )
        .await
        .expect("decide");
    assert!(matches!(
        store
            .decide_activation(
                "act-1",
                "scheduled",
                "refused",
                at("2026-07-01T00:00:02Z"),
                Some("x"),
                "system",
            )
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.activations().await.expect("list")[0].status, "active");
}

/// Call summaries: a draft for its agent, reviewed once, or expired.
pub async fn summaries_are_reviewed_once_or_expire<S: tutela_store::SummaryStore>(store: &S) {
    use tutela_store::SummaryRecord;
    let draft = |id: &str, call: &str, agent: &str, expires: &str| SummaryRecord {
        id: id.into(),
        subject: "S-1".into(),
        call_id: call.into(),
        agent: agent.into(),
        draft: Some("Kunde meldet Störung".into()),
        text: None,
        status: "draft".into(),
        created_at: at("2026-05-01T10:00:00Z"),
        expires_at: at(expires),
        reviewed_at: None,
        reviewed_by: None,
    };
    store
        .insert_summary(&draft("cs-1", "call-1", "op-a", "2026-05-02T10:00:00Z"))
        .await
        .expect("insert");
    store
        .insert_summary(&draft("cs-2", "call-2", "op-b", "2026-05-01T11:00:00Z"))
        .await
        .expect("insert");
    assert!(matches!(
        store
            .insert_summary(&draft("cs-3", "call-1", "op-a", "2026-05-02T10:00:00Z"))
            .await,
        Err(StoreError::Conflict)
    ));
    let now = at("2026-05-01T10:30:00Z");
    assert_eq!(
        store
            .open_drafts(Some("op-a"), now)
            .await
            .expect("mine")
            .len(),
        1
    );
    assert_eq!(store.open_drafts(None, now).await.expect("all").len(), 2);
    store
        .review_summary("cs-1", "edited", Some("Störung behoben"), "op-a", now)
        .await
        .expect("review");
    assert!(matches!(
        store
            .review_summary("cs-1", "approved", Some("x"), "op-a", now)
            .await,
        Err(StoreError::Conflict)
    ));
    let later = at("2026-05-01T12:00:00Z");
    assert!(
        matches!(
            store
                .review_summary("cs-2", "approved", Some("x"), "op-b", later)
                .await,
            Err(StoreError::Conflict)
        ),
        "an expired draft cannot be approved"
    );
    assert_eq!(store.expire_summaries(later).await.expect("expire"), 1);
    let cs2 = store.summary("cs-2").await.expect("read").expect("kept");
    assert_eq!((cs2.status.as_str(), cs2.draft), ("expired", None));
    let history = store.reviewed_summaries("S-1").await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].text.as_deref(), Some("Störung behoben"));
    assert_eq!(history[0].draft, None);
    assert_eq!(store.all_reviewed_summaries().await.expect("all").len(), 1);
}
