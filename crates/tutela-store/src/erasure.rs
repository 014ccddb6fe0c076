//! What a person's erasure ends besides their attributes in the ledger and the subject record
//! (issue 30): the results and personal parts of their requests, their privacy-center sessions
//! and their pending sign-ins. [`crate::Store::erase`] runs this inside the erasure's own
//! transaction, so both ways to erase a person (`POST /v1/subjects/{id}/erasure` and an
//! erasure request's step) end everything at once, or nothing.
//!
//! All of it is rows of the one database every instance shares; no instance keeps a copy. The
//! commit therefore ends it for every instance at once: a follower has nothing to drop but the
//! data keys it cached (it drops the person's when it folds the tombstone), and a request key
//! cached elsewhere opens nothing once the values it sealed are deleted here.

use sqlx::Row;
use tutela_core::request::Status;

use crate::{PgStore, SqliteStore, StoreError};

/// The kind of the request event that records what a person's erasure did to a request.
pub const PERSON_ERASED: &str = "person_erased";

macro_rules! erasure_store {
    ($store:ty, $db:ty, $for_update:literal) => {
        impl $store {
            /// Ends, within `tx`, everything of `subject` that is not the ledger: deletes the
            /// results of their requests and every code of them; clears the personal parts of
            /// their finished requests (as [`crate::RequestStore::purge_requests`] would at
            /// `purge_at`); ends their sessions and pending sign-ins. Each request touched gets
            /// a `person_erased` event (no free text), so the request stays as proof that it
            /// was handled and says why its result is gone. Returns the finished requests,
            /// whose keys the caller destroys once `tx` committed.
            ///
            /// Requests still open keep their e-mail, details, key and the outputs of their
            /// changing steps until they finish: the workflow needs them to complete (an
            /// erasure request runs this from one of its own steps, then sums up and answers
            /// the requester), and they are purged as usual after. What they collected of the
            /// person goes now.
            pub(crate) async fn end_with_person(
                tx: &mut sqlx::Transaction<'static, $db>,
                subject: &str,
                at_us: i64,
            ) -> Result<Vec<String>, StoreError> {
                // The person's requests are locked first, before their steps, events and
                // results: a request's transition (which appends its event beside, not after,
                // this transaction) locks the request and then its steps, and so waits here
                // instead of crossing this transaction's locks; and a status read here stays
                // the status until the commit.
                let requests = sqlx::query(concat!(
                    "SELECT id, status, purge_at_us FROM requests WHERE subject = $1 ORDER BY id",
                    $for_update
                ))
                .bind(subject)
                .fetch_all(&mut **tx)
                .await?;
                let mut finished_ids = Vec::new();
                for row in &requests {
                    let id: String = row.try_get("id")?;
                    let status: String = row.try_get("status")?;
                    let unpurged = row.try_get::<Option<i64>, _>("purge_at_us")?.is_some();
                    let finished = Status::parse(&status).is_some_and(Status::is_final);
                    let formats: Vec<String> = sqlx::query_scalar(
                        "SELECT format FROM request_results WHERE request_id = $1 ORDER BY format",
                    )
                    .bind(&id)
                    .fetch_all(&mut **tx)
                    .await?;
                    sqlx::query("DELETE FROM request_results WHERE request_id = $1")
                        .bind(&id)
                        .execute(&mut **tx)
                        .await?;
                    // A code still pending would verify a request of someone who is gone.
                    let codes = sqlx::query("DELETE FROM request_codes WHERE request_id = $1")
                        .bind(&id)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected();
                    let clear = finished && unpurged;
                    // An open request keeps what its remaining steps need, but not the copies
                    // of the person's data it collected: a report produced after this builds
                    // on what is left of the person, which is nothing of theirs.
                    let collected = if finished {
                        0
                    } else {
                        sqlx::query(
                            "UPDATE request_steps SET output = NULL WHERE request_id = $1 \
                             AND step LIKE '10-collect:%' AND output IS NOT NULL",
                        )
                        .bind(&id)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected()
                    };
                    if clear {
                        sqlx::query(
                            "DELETE FROM request_notes WHERE seq IN \
                             (SELECT seq FROM request_events WHERE request_id = $1)",
                        )
                        .bind(&id)
                        .execute(&mut **tx)
                        .await?;
                        sqlx::query("UPDATE request_steps SET output = NULL WHERE request_id = $1")
                            .bind(&id)
                            .execute(&mut **tx)
                            .await?;
                        sqlx::query(
                            "UPDATE requests SET email = NULL, details = NULL, purge_at_us = NULL WHERE id = $1",
                        )
                        .bind(&id)
                        .execute(&mut **tx)
                        .await?;
                    }
                    if finished {
                        // Every finished one, not only those cleared now: a retry after a key
                        // store that failed must still reach the keys; destroying twice is
                        // harmless.
                        finished_ids.push(id.clone());
                    }
                    if formats.is_empty() && codes == 0 && collected == 0 && !clear {
                        continue;
                    }
                    let body = serde_json::json!({
                        "status": status,
                        "results_destroyed": formats,
                        "codes_deleted": codes,
                        "collected_data_cleared": collected,
                        "personal_data_cleared": clear,
                    })
                    .to_string();
                    sqlx::query(
                        "INSERT INTO request_events (request_id, at_us, actor, kind, body) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&id)
                    .bind(at_us)
                    .bind("system")
                    .bind(PERSON_ERASED)
                    .bind(&body)
                    .execute(&mut **tx)
                    .await?;
                }
                // Signed in or half signed in, the person is signed out everywhere.
                sqlx::query("DELETE FROM web_sessions WHERE kind = 'person' AND principal = $1")
                    .bind(subject)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query("DELETE FROM signin_codes WHERE subject = $1")
                    .bind(subject)
                    .execute(&mut **tx)
                    .await?;
                Ok(finished_ids)
            }
        }
    };
}

// SQLite knows no `FOR UPDATE`; its writers take turns anyway (`BEGIN IMMEDIATE`).
erasure_store!(SqliteStore, sqlx::Sqlite, "");
erasure_store!(PgStore, sqlx::Postgres, " FOR UPDATE");
