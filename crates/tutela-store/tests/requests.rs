//! The request store checks every store must pass.

use tutela_core::request::{Status, StepStatus};
use tutela_store::{
    CodeRecord, RequestEventNew, RequestRecord, RequestStore, StepRecord, StoreError,
};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

fn request(id: &str, status: Status, due: &str) -> RequestRecord {
    RequestRecord {
        id: id.into(),
        request_type: "access".into(),
        status,
        subject: Some("C-1".into()),
        email: Some("c1@example.org".into()),
        channel: "api".into(),
        received_at: at("2026-03-10T08:00:00Z"),
        due_at: at(due),
        extended_months: 0,
        verification: None,
        details: Some(r#"{"text":"please tell me"}"#.into()),
        version: 1,
        updated_at: at("2026-03-10T08:00:00Z"),
        purge_at: None,
    }
}

fn event(kind: &str, note: Option<&str>) -> RequestEventNew {
    RequestEventNew {
        at: at("2026-03-10T08:00:00Z"),
        actor: "system".into(),
        kind: kind.into(),
        body: "{}".into(),
        note: note.map(str::to_owned),
    }
}

pub async fn run_all<S: RequestStore + tutela_store::Store>(store: &S) {
    store.migrate().await.expect("migrate");
    requests_insert_once_per_key_and_update_optimistically(store).await;
    requests_list_by_status_soonest_due_first(store).await;
    codes_steps_and_results_round_trip(store).await;
    a_transition_and_its_steps_are_written_together(store).await;
    purge_removes_personal_parts_and_keeps_the_events(store).await;
}

async fn requests_insert_once_per_key_and_update_optimistically<S: RequestStore>(store: &S) {
    let r = request("r-1", Status::Received, "2026-04-10T23:59:59Z");
    let (stored, dup) = store
        .insert_request(&r, &event("received", None), Some("key-1"))
        .await
        .expect("insert");
    assert!(!dup);
    assert_eq!(stored, r);
    let other = request("r-other", Status::Received, "2026-04-10T23:59:59Z");
    let (again, dup) = store
        .insert_request(&other, &event("received", None), Some("key-1"))
        .await
        .expect("insert again");
    assert!(dup, "the same key returns the first request");
    assert_eq!(again.id, "r-1");
    assert_eq!(store.request("r-other").await.expect("read"), None);

    let mut next = r.clone();
    next.status = Status::AwaitingVerification;
    next.version = 2;
    store
        .update_request(&next, &event("awaiting_verification", None))
        .await
        .expect("update");
    // A second writer that read version 1 loses.
    assert!(matches!(
        store
            .update_request(&next, &event("awaiting_verification", None))
            .await,
        Err(StoreError::Conflict)
    ));
    let read = store.request("r-1").await.expect("read").expect("exists");
    assert_eq!(read.status, Status::AwaitingVerification);
    assert_eq!(read.version, 2);
    let events = store.request_events("r-1").await.expect("events");
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["received", "awaiting_verification"],
        "a refused update records nothing"
    );
}

async fn requests_list_by_status_soonest_due_first<S: RequestStore>(store: &S) {
    for (id, status, due) in [
        ("l-late", Status::Verified, "2026-06-01T00:00:00Z"),
        ("l-soon", Status::Verified, "2026-04-01T00:00:00Z"),
        ("l-done", Status::Completed, "2026-03-01T00:00:00Z"),
    ] {
        store
            .insert_request(
                &request(id, status, due),
                &event(status.as_str(), None),
                None,
            )
            .await
            .expect("insert");
    }
    let open = store
        .list_requests(&[Status::Verified], 100)
        .await
        .expect("list");
    assert_eq!(
        open.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["l-soon", "l-late"]
    );
    let all = store.list_requests(&[], 100).await.expect("list");
    assert_eq!(all[0].id, "l-done");
    assert_eq!(store.list_requests(&[], 2).await.expect("list").len(), 2);
    // The heads a worker lists: the same order, without opening the sealed parts.
    let heads = store
        .request_heads(&[Status::Verified, Status::Completed], 100)
        .await
        .expect("heads");
    assert_eq!(
        heads
            .iter()
            .map(|h| (h.id.as_str(), h.version))
            .collect::<Vec<_>>(),
        [("l-done", 1), ("l-soon", 1), ("l-late", 1)]
    );
    assert!(
        store
            .request_heads(&[], 100)
            .await
            .expect("heads")
            .is_empty()
    );
}

async fn codes_steps_and_results_round_trip<S: RequestStore>(store: &S) {
    let code = CodeRecord {
        salt: "salt".into(),
        code_hash: "hash".into(),
        expires_at: at("2026-03-10T08:15:00Z"),
        attempts: 0,
        locked: false,
    };
    store.put_code("r-1", &code).await.expect("code");
    let locked = CodeRecord {
        attempts: 5,
        locked: true,
        ..code.clone()
    };
    store.put_code("r-1", &locked).await.expect("code");
    assert_eq!(store.code("r-1").await.expect("code"), Some(locked));

    // Attempts are counted before the check, and the last one allowed locks the code.
    store.put_code("r-1", &code).await.expect("code");
    let now = at("2026-03-10T08:00:00Z");
    for n in 1..=3 {
        let counted = store
            .count_code_attempt("r-1", 3, now)
            .await
            .expect("count");
        let counted = counted.expect("a try left");
        assert_eq!((counted.attempts, counted.locked), (n, n == 3));
    }
    assert_eq!(
        store
            .count_code_attempt("r-1", 3, now)
            .await
            .expect("count"),
        None
    );
    store.put_code("r-1", &code).await.expect("code");
    let late = at("2026-03-10T08:15:01Z");
    assert_eq!(
        store
            .count_code_attempt("r-1", 3, late)
            .await
            .expect("count"),
        None,
        "an expired code has no try left"
    );
    assert!(
        store
            .count_code_attempt("r-1", 3, code.expires_at)
            .await
            .expect("count")
            .is_some()
    );
    assert_eq!(
        store
            .count_code_attempt("none", 3, now)
            .await
            .expect("count"),
        None
    );
    store.delete_code("r-1").await.expect("delete");
    assert_eq!(store.code("r-1").await.expect("code"), None);

    let step = StepRecord {
        step: "01-collect:crm".into(),
        status: StepStatus::Failed,
        attempts: 1,
        last_error: Some("connection refused".into()),
        next_at: Some(at("2026-03-10T08:01:00Z")),
        output: None,
    };
    store.put_step("r-1", &step).await.expect("step");
    let done = StepRecord {
        status: StepStatus::Done,
        attempts: 2,
        last_error: None,
        next_at: None,
        output: Some("{\"rows\":[]}".into()),
        ..step
    };
    store.put_step("r-1", &done).await.expect("step");
    assert_eq!(store.steps("r-1").await.expect("steps"), vec![done.clone()]);
    // Several at once: one new, one updated, the output sealed and opened again.
    let planned = StepRecord {
        step: "02-report".into(),
        status: StepStatus::Pending,
        attempts: 0,
        last_error: None,
        next_at: None,
        output: None,
    };
    let redone = StepRecord {
        output: Some("{\"rows\":[1]}".into()),
        ..done.clone()
    };
    store
        .put_steps("r-1", &[redone.clone(), planned.clone()])
        .await
        .expect("steps");
    assert_eq!(
        store.steps("r-1").await.expect("steps"),
        vec![redone, planned]
    );
    store
        .put_steps("r-1", std::slice::from_ref(&done))
        .await
        .expect("steps");
    store.put_steps("r-1", &[]).await.expect("nothing");

    let zip = vec![0x50, 0x4b, 3, 4, 0, 255];
    store
        .put_result(
            "r-1",
            "zip",
            &zip,
            at("2026-03-11T00:00:00Z"),
            at("2026-04-10T00:00:00Z"),
        )
        .await
        .expect("result");
    assert_eq!(store.result("r-1", "zip").await.expect("result"), Some(zip));
    assert_eq!(store.result("r-1", "html").await.expect("result"), None);
}

async fn purge_removes_personal_parts_and_keeps_the_events<S: RequestStore>(store: &S) {
    let mut r = store.request("r-1").await.expect("read").expect("exists");
    r.status = Status::Refused;
    r.version += 1;
    r.purge_at = Some(at("2026-04-10T00:00:00Z"));
    store
        .update_request(&r, &event("refused", Some("manifestly excessive")))
        .await
        .expect("update");
    assert_eq!(
        store
            .purge_requests(at("2026-04-09T00:00:00Z"))
            .await
            .expect("purge"),
        0
    );
    assert!(store.result("r-1", "zip").await.expect("result").is_some());
    assert_eq!(
        store
            .purge_requests(at("2026-04-10T00:00:00Z"))
            .await
            .expect("purge"),
        1
    );
    let purged = store.request("r-1").await.expect("read").expect("kept");
    assert_eq!(purged.email, None);
    assert_eq!(purged.details, None);
    assert_eq!(purged.status, Status::Refused);
    assert_eq!(store.result("r-1", "zip").await.expect("result"), None);
    assert!(
        store
            .steps("r-1")
            .await
            .expect("steps")
            .iter()
            .all(|s| s.output.is_none())
    );
    let events = store.request_events("r-1").await.expect("events");
    assert_eq!(events.len(), 3, "the events stay as proof");
    assert!(
        events.iter().all(|e| e.note.is_none()),
        "notes are personal"
    );
}

fn step(name: &str, status: StepStatus, output: Option<&str>) -> StepRecord {
    StepRecord {
        step: name.into(),
        status,
        attempts: 1,
        last_error: None,
        next_at: None,
        output: output.map(str::to_owned),
    }
}

async fn a_transition_and_its_steps_are_written_together<S: RequestStore>(store: &S) {
    let r = request("t-1", Status::Verified, "2026-04-10T23:59:59Z");
    store
        .insert_request(&r, &event("verified", None), None)
        .await
        .expect("insert");
    let mut started = r.clone();
    started.status = Status::InProgress;
    started.version = 2;
    let planned = [
        step("10-collect:tutela", StepStatus::Pending, None),
        step("90-report", StepStatus::Pending, None),
    ];
    store
        .update_request_with_steps(&started, &event("started", None), &planned)
        .await
        .expect("start with steps");
    assert_eq!(store.steps("t-1").await.expect("steps").len(), 2);

    // A writer that lost the race writes neither the request nor its steps.
    let done = [
        step(
            "10-collect:tutela",
            StepStatus::Done,
            Some(r#"{"events":3}"#),
        ),
        step("90-report", StepStatus::Done, None),
    ];
    assert!(matches!(
        store
            .update_request_with_steps(&started, &event("completed", None), &done)
            .await,
        Err(StoreError::Conflict)
    ));
    let steps = store.steps("t-1").await.expect("steps");
    assert!(
        steps.iter().all(|s| s.status == StepStatus::Pending),
        "a refused transition writes no step: {steps:?}"
    );

    let mut completed = started.clone();
    completed.status = Status::Completed;
    completed.version = 3;
    store
        .update_request_with_steps(&completed, &event("completed", None), &done)
        .await
        .expect("complete with steps");
    let steps = store.steps("t-1").await.expect("steps");
    assert_eq!(
        steps,
        done.to_vec(),
        "outputs are opened as they were written"
    );
    let read = store.request("t-1").await.expect("read").expect("exists");
    assert_eq!((read.status.as_str(), read.version), ("completed", 3));

    // A report's two forms are written together.
    let (made, expires) = (at("2026-03-10T09:00:00Z"), at("2026-04-10T09:00:00Z"));
    let both: [(&str, &[u8]); 2] = [("json", b"{}"), ("html", b"<p>report</p>")];
    store
        .put_results("t-1", &both, made, expires)
        .await
        .expect("results");
    assert_eq!(
        store.result("t-1", "html").await.expect("html"),
        Some(b"<p>report</p>".to_vec())
    );
    assert_eq!(
        store.result("t-1", "json").await.expect("json"),
        Some(b"{}".to_vec())
    );
}

/// PostgreSQL: the transitions of different requests commit side by side (one transition
/// waiting on a row lock does not hold up another request's), and a read that follows
/// `request_events` by sequence number never passes a row that has its number but has not
/// committed yet (issue 31: the appends' lock was exclusive and bounded the throughput).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_commit_side_by_side_and_a_settled_read_waits_for_them() {
    use std::time::Duration;
    use tutela_store::testing::PgSchema;
    use tutela_store::{LogSource, LogStore, PgStore, Store};
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let store = PgStore::connect_in_schema(&pg.url, Some(&pg.schema))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    for id in ["side-1", "side-2"] {
        let r = request(id, Status::Verified, "2026-04-10T23:59:59Z");
        store
            .insert_request(&r, &event("verified", None), None)
            .await
            .expect("insert");
    }
    store
        .put_steps("side-1", &[step("20-erase:crm", StepStatus::Pending, None)])
        .await
        .expect("step");
    let before = store
        .log_contents(LogSource::RequestEvent, 0, 100)
        .await
        .expect("read");
    let after = before.last().map_or(0, |(seq, _)| *seq);

    // Someone holds side-1's step row: side-1's transition takes its sequence number and then
    // waits, uncommitted.
    let held = pg
        .lock_rows("SELECT * FROM request_steps WHERE request_id = 'side-1' FOR UPDATE")
        .await;
    let mut first = request("side-1", Status::InProgress, "2026-04-10T23:59:59Z");
    first.version = 2;
    let writer = store.clone();
    let waiting = tokio::spawn(async move {
        writer
            .update_request_with_steps(
                &first,
                &event("started", None),
                &[step("20-erase:crm", StepStatus::Done, None)],
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "side-1 waits on the row lock");

    // Another request's transition commits meanwhile.
    let mut second = request("side-2", Status::InProgress, "2026-04-10T23:59:59Z");
    second.version = 2;
    tokio::time::timeout(
        Duration::from_secs(5),
        store.update_request(&second, &event("started", None)),
    )
    .await
    .expect("one request's transition does not wait for another's")
    .expect("side-2 started");

    // A settled read waits until side-1's event has committed, then sees both, in order.
    let reader = store.clone();
    let read = tokio::spawn(async move {
        reader
            .log_contents(LogSource::RequestEvent, after, 100)
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !read.is_finished(),
        "a read returned while a row below the last committed one was still in flight"
    );
    held.release().await;
    waiting.await.expect("join").expect("side-1 started");
    let rows = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("the read ends once the appends have committed")
        .expect("join")
        .expect("read");
    assert_eq!(rows.len(), 2, "both transitions' events");
    assert!(rows[0].0 < rows[1].0);
    assert!(
        String::from_utf8_lossy(&rows[0].1).contains("side-1"),
        "side-1 took the lower number"
    );
    drop(store);
    pg.drop_schema().await;
}

/// A status the code does not know (a foreign write, a downgrade) is an error naming the
/// request or step when read, not a panic; every known status reads back as it was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_stored_status_is_a_corrupt_row_naming_the_request() {
    use tutela_store::testing::{tamper, temp_dir};
    use tutela_store::{AnyStore, SqliteStore, Store};
    let dir = temp_dir("request-status");
    let store = AnyStore::Sqlite(
        SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
            .await
            .expect("open sqlite"),
    );
    store.migrate().await.expect("migrate");
    for status in Status::ALL {
        let id = format!("s-{}", status.as_str());
        store
            .insert_request(
                &request(&id, status, "2026-04-10T23:59:59Z"),
                &event("received", None),
                None,
            )
            .await
            .expect("insert");
        let read = store.request(&id).await.expect("read").expect("exists");
        assert_eq!(read.status, status);
    }
    let steps: Vec<StepRecord> = StepStatus::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| step(&format!("1{i}-{}", s.as_str()), *s, None))
        .collect();
    store.put_steps("s-received", &steps).await.expect("steps");
    assert_eq!(store.steps("s-received").await.expect("steps"), steps);

    tamper(
        &store,
        &[
            "UPDATE requests SET status = 'lost' WHERE id = 's-verified'",
            "UPDATE request_steps SET status = 'lost' WHERE step = '11-done'",
        ],
    )
    .await
    .expect("tamper");
    match store.request("s-verified").await {
        Err(StoreError::Corrupt { what, .. }) => {
            assert!(
                what.contains("s-verified") && what.contains("lost"),
                "{what}"
            );
        }
        other => panic!("an unknown status must not read: {other:?}"),
    }
    assert!(matches!(
        store.list_requests(&[], 100).await,
        Err(StoreError::Corrupt { .. })
    ));
    match store.steps("s-received").await {
        Err(StoreError::Corrupt { what, .. }) => {
            assert!(
                what.contains("s-received") && what.contains("11-done") && what.contains("lost"),
                "{what}"
            );
        }
        other => panic!("an unknown step status must not read: {other:?}"),
    }
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}
