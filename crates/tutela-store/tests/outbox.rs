//! The outbox checks every store must pass: the ledgers read after a cursor, in order, in
//! pages, without the personal free text kept beside them.

use tutela_store::{OutboxSource, OutboxStore, RequestStore, Store};

/// Runs after the other suites, so both ledgers hold rows with evidence, reasons, e-mail
/// addresses and notes.
pub async fn run_all<S: Store + RequestStore + OutboxStore>(store: &S) {
    outbox_rows_follow_each_ledger_in_pages(store).await;
}

async fn outbox_rows_follow_each_ledger_in_pages<S: Store + OutboxStore>(store: &S) {
    let events = store.all_events().await.expect("events");
    assert!(events.len() > 3, "the suite wrote ledger events before");
    let mut paged = Vec::new();
    let mut cursor = 0;
    loop {
        let page = store
            .outbox_rows(OutboxSource::Ledger, cursor, 3)
            .await
            .expect("page");
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        cursor = last.seq;
        paged.extend(page);
    }
    assert_eq!(paged.len(), events.len());
    for (row, event) in paged.iter().zip(&events) {
        assert_eq!(row.seq, event.seq);
        assert_eq!(row.key, event.subject);
        assert_eq!(row.at, event.at);
        assert_eq!(row.kind, event.kind.name());
        assert_eq!(row.source, OutboxSource::Ledger);
        serde_json::from_str::<serde_json::Value>(&row.body).expect("a JSON body");
        // The conformance suite's evidence, reason and e-mail address stay in their tables.
        for text in [
            "checkbox on /signup",
            "particular situation",
            "alice@example.org",
        ] {
            assert!(
                !row.body.contains(text) && !row.context.contains(text),
                "{row:?}"
            );
        }
    }
    let requests = store
        .outbox_rows(OutboxSource::Request, 0, i64::MAX)
        .await
        .expect("request rows");
    assert!(!requests.is_empty(), "the request suite wrote transitions");
    assert!(requests.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(requests.iter().all(|r| r.source == OutboxSource::Request));
    assert!(requests.iter().all(|r| !r.body.contains("c1@example.org")));
    let after_first = store
        .outbox_rows(OutboxSource::Request, requests[0].seq, i64::MAX)
        .await
        .expect("after the first");
    assert_eq!(after_first, requests[1..]);
}
