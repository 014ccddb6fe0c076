//! The event stream for downstream systems (issue 9): every ledger event and every request
//! transition on NATS JetStream, at least once, in order per person (and per request), with an
//! id to deduplicate by (`tutela events tail`, docs/events.md).
//!
//! The ledgers are the transactional outbox: a row exists exactly when its change committed,
//! and rows commit in the order of their numbers. The publisher's two cursors live on NATS
//! beside the stream they describe (a small stream keeping the last value per ledger, moved
//! forward by compare-and-set), so a NATS started afresh is filled from the first row.
//!
//! [`Publisher::step`] is the single step: read each ledger after its cursor, take the longest
//! prefix in which no person (request) appears twice ([`unique_prefix`]), publish it with the
//! row's id as `Nats-Msg-Id`, await the acks together, and move the cursor over the stored
//! prefix. A person's next event is published only once their previous one is stored, so a
//! failed publish cannot put their events out of order; a row published again (a crash before
//! the cursor moved, two instances publishing the same rows) is dropped by the stream's
//! deduplication window.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream::{self, stream::LastRawMessageErrorKind};
use hyper::body::Bytes;
use tutela_store::{AnyStore, OutboxRow, OutboxSource, OutboxStore, StoreError};

/// Where and how the events go.
#[derive(Clone, Debug)]
pub struct EventSettings {
    /// One NATS URL or a cluster's, separated by commas.
    pub nats_url: String,
    /// The stream; Art. 19 notifications share it (`requests::notify`).
    pub stream: String,
    /// Ledger events are `<prefix>.<kind>`, request transitions `<prefix>.request_<kind>`.
    pub prefix: String,
    /// The stream holding the cursors (subjects `<its name in lower case>.<ledger>`).
    pub cursor_stream: String,
    /// Copies of the streams, when this publisher creates them.
    pub replicas: usize,
    /// How long the stream keeps an event (it names the person: a downstream system must
    /// read it within this time; an erased person's events go with it).
    pub max_age: Duration,
    /// Rows read per ledger and step.
    pub batch: usize,
    /// How long the publisher waits when nothing is new, or after a failure.
    pub idle: Duration,
}

impl EventSettings {
    pub fn new(nats_url: &str) -> EventSettings {
        EventSettings {
            nats_url: nats_url.to_owned(),
            stream: "TUTELA_EVENTS".into(),
            prefix: "tutela.events".into(),
            cursor_stream: "TUTELA_OUTBOX".into(),
            replicas: 1,
            max_age: Duration::from_secs(30 * 24 * 3600),
            batch: 500,
            idle: Duration::from_millis(100),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn nats<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> EventsError {
    move |e| EventsError::Nats(format!("{what}: {e}"))
}

/// The subject of a row: `<prefix>.<kind>` or `<prefix>.request_<kind>`. A kind is a word of
/// the store's own vocabulary; anything else in it becomes `_`, so a subject never has more
/// tokens than intended (and never carries a person's id).
pub fn subject(prefix: &str, row: &OutboxRow) -> String {
    let kind: String = row
        .kind
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    match row.source {
        OutboxSource::Ledger => format!("{prefix}.{kind}"),
        OutboxSource::Request => format!("{prefix}.request_{kind}"),
    }
}

/// The row's id, unique in the stream: `ledger:<seq>` or `request:<seq>`.
pub fn message_id(row: &OutboxRow) -> String {
    format!("{}:{}", row.source.as_str(), row.seq)
}

/// The message body (docs/events.md).
pub fn message(row: &OutboxRow) -> serde_json::Value {
    let event: serde_json::Value =
        serde_json::from_str(&row.body).unwrap_or(serde_json::Value::Null);
    let at = row.at.to_string();
    match row.source {
        OutboxSource::Ledger => serde_json::json!({
            "id": message_id(row), "source": "ledger", "seq": row.seq, "at": at,
            "subject": row.key, "kind": row.kind, "event": event, "policy_version": row.context,
        }),
        OutboxSource::Request => serde_json::json!({
            "id": message_id(row), "source": "request", "seq": row.seq, "at": at,
            "request": row.key, "kind": row.kind, "event": event, "actor": row.context,
        }),
    }
}

/// How many rows from the front may be in flight together: up to the first row whose person
/// (request) already has one in flight. At least one when there are rows.
pub fn unique_prefix(rows: &[OutboxRow]) -> usize {
    let mut keys = HashSet::with_capacity(rows.len());
    rows.iter()
        .position(|r| !keys.insert(r.key.as_str()))
        .unwrap_or(rows.len())
}

/// A connection to the events stream and the cursors.
pub struct Publisher {
    js: jetstream::Context,
    cursors: jetstream::stream::Stream,
    settings: EventSettings,
}

/// A cursor as read: the row published up to, and the message that says so.
struct Cursor {
    seq: i64,
    revision: Option<u64>,
}

impl Publisher {
    /// Creates the events stream and the cursor stream on `client` when missing.
    pub async fn open(
        client: async_nats::Client,
        settings: EventSettings,
    ) -> Result<Publisher, EventsError> {
        let js = jetstream::new(client);
        js.get_or_create_stream(jetstream::stream::Config {
            name: settings.stream.clone(),
            subjects: vec![format!("{}.>", settings.prefix)],
            // As the Art. 19 notifier creates it: a day of deduplication.
            duplicate_window: Duration::from_secs(24 * 3600),
            max_age: settings.max_age,
            num_replicas: settings.replicas,
            ..Default::default()
        })
        .await
        .map_err(nats("the events stream"))?;
        let cursors = js
            .get_or_create_stream(jetstream::stream::Config {
                name: settings.cursor_stream.clone(),
                subjects: vec![format!("{}.*", settings.cursor_stream.to_lowercase())],
                max_messages_per_subject: 1,
                num_replicas: settings.replicas,
                ..Default::default()
            })
            .await
            .map_err(nats("the cursor stream"))?;
        Ok(Publisher {
            js,
            cursors,
            settings,
        })
    }

    fn cursor_subject(&self, source: OutboxSource) -> String {
        format!(
            "{}.{}",
            self.settings.cursor_stream.to_lowercase(),
            source.as_str()
        )
    }

    async fn read_cursor(&self, source: OutboxSource) -> Result<Cursor, EventsError> {
        match self
            .cursors
            .get_last_raw_message_by_subject(&self.cursor_subject(source))
            .await
        {
            Ok(m) => Ok(Cursor {
                seq: std::str::from_utf8(&m.payload)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                revision: Some(m.sequence),
            }),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(Cursor {
                seq: 0,
                revision: None,
            }),
            Err(e) => Err(EventsError::Nats(format!("reading a cursor: {e}"))),
        }
    }

    /// The cursor of `source`: the last row known to be stored (0 before the first).
    pub async fn cursor(&self, source: OutboxSource) -> Result<i64, EventsError> {
        Ok(self.read_cursor(source).await?.seq)
    }

    /// Moves the cursor forward to `seq`, never back (another instance may be ahead): the
    /// write names the cursor message it replaces, and a lost race is read again.
    async fn advance(&self, source: OutboxSource, seq: i64) -> Result<(), EventsError> {
        let mut last_error = String::new();
        for _ in 0..5 {
            let current = self.read_cursor(source).await?;
            if current.seq >= seq {
                return Ok(());
            }
            let mut headers = async_nats::HeaderMap::new();
            if let Some(revision) = current.revision {
                headers.insert(
                    async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                    revision.to_string().as_str(),
                );
            }
            let written = async {
                self.js
                    .publish_with_headers(
                        self.cursor_subject(source),
                        headers,
                        Bytes::from(seq.to_string()),
                    )
                    .await
                    .map_err(|e| e.to_string())?
                    .await
                    .map_err(|e| e.to_string())
            };
            match written.await {
                Ok(_) => return Ok(()),
                Err(e) => last_error = e,
            }
        }
        Err(EventsError::Nats(format!("moving a cursor: {last_error}")))
    }

    /// One step: publishes what is new in both ledgers; returns the rows stored.
    pub async fn step(&self, store: &AnyStore) -> Result<usize, EventsError> {
        let mut stored = 0;
        for source in OutboxSource::ALL {
            stored += self.step_source(store, source).await?;
        }
        Ok(stored)
    }

    async fn step_source(
        &self,
        store: &AnyStore,
        source: OutboxSource,
    ) -> Result<usize, EventsError> {
        let after = self.cursor(source).await?;
        let mut rows = store
            .outbox_rows(source, after, self.settings.batch.max(1) as i64)
            .await?;
        rows.truncate(unique_prefix(&rows));
        let mut acks = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                message_id(row).as_str(),
            );
            let body = Bytes::from(message(row).to_string());
            match self
                .js
                .publish_with_headers(subject(&self.settings.prefix, row), headers, body)
                .await
            {
                Ok(ack) => acks.push(ack),
                Err(_) => break,
            }
        }
        let results = futures_util::future::join_all(
            acks.into_iter().map(std::future::IntoFuture::into_future),
        )
        .await;
        // The cursor moves over the stored prefix; what follows a failure is published again
        // (and deduplicated where it was stored).
        let done = results.iter().take_while(|r| r.is_ok()).count();
        if let Some(last) = rows[..done].last() {
            self.advance(source, last.seq).await?;
            if source == OutboxSource::Ledger {
                crate::metrics::events_ledger_cursor(u64::try_from(last.seq).unwrap_or(0));
            }
        }
        crate::metrics::events_published(done as u64);
        if done < rows.len() {
            let why = results
                .into_iter()
                .find_map(Result::err)
                .map_or_else(|| "a publish failed".to_owned(), |e| e.to_string());
            return Err(EventsError::Nats(format!("not stored: {why}")));
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::{OutboxRow, OutboxSource, message, message_id, subject, unique_prefix};

    fn row(source: OutboxSource, seq: i64, key: &str, kind: &str) -> OutboxRow {
        OutboxRow {
            source,
            seq,
            at: jiff::Timestamp::UNIX_EPOCH,
            key: key.into(),
            kind: kind.into(),
            body: r#"{"purpose":"email_marketing"}"#.into(),
            context: "v1".into(),
        }
    }

    #[test]
    fn a_person_has_one_event_in_flight_at_a_time() {
        let l = |seq, key| row(OutboxSource::Ledger, seq, key, "consent_given");
        assert_eq!(unique_prefix(&[]), 0);
        assert_eq!(unique_prefix(&[l(1, "a"), l(2, "b"), l(3, "c")]), 3);
        assert_eq!(
            unique_prefix(&[l(1, "a"), l(2, "b"), l(3, "a"), l(4, "c")]),
            2
        );
        assert_eq!(unique_prefix(&[l(1, "a"), l(2, "a")]), 1);
    }

    #[test]
    fn subjects_name_the_kind_and_never_more_tokens() {
        let r = row(OutboxSource::Ledger, 7, "C-1", "consent_given");
        assert_eq!(subject("tutela.events", &r), "tutela.events.consent_given");
        let r = row(OutboxSource::Request, 8, "R-1", "due.>*");
        assert_eq!(subject("tutela.events", &r), "tutela.events.request_due___");
        assert_eq!(message_id(&r), "request:8");
    }

    #[test]
    fn a_message_carries_the_row_and_its_body() {
        let m = message(&row(OutboxSource::Ledger, 7, "C-1", "consent_given"));
        assert_eq!(m["id"], "ledger:7");
        assert_eq!(m["subject"], "C-1");
        assert_eq!(m["event"]["purpose"], "email_marketing");
        assert_eq!(m["policy_version"], "v1");
        let m = message(&row(OutboxSource::Request, 8, "R-1", "opened"));
        assert_eq!(m["request"], "R-1");
        assert_eq!(m["actor"], "v1");
        assert!(m.get("subject").is_none());
    }
}
