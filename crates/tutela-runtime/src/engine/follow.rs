//! Following the writes of other instances on the same PostgreSQL database.
//!
//! Every transaction that adds ledger rows sends a notice (`NOTIFY`, delivered at commit);
//! the follower wakes on it and has the writer fold the rows after its applied position.
//! Notices are a hint, never the data: a lost connection, a missed notice or a database
//! without `LISTEN` only delays the fold until the next poll, and the engine reports itself
//! lagging (`/readyz` not ready) until a read of the ledger succeeds again. The writer also
//! never commits past a row it has not folded ([`tutela_store::ClusterStore::append_at_head`]
//! hands such rows over under the appends' lock), so a write is never checked against a
//! stale state.

use std::sync::Weak;
use std::time::Duration;

use tutela_store::LedgerListener;

use crate::engine::{Engine, EngineError};

/// How the follower keeps up.
#[derive(Clone, Copy, Debug)]
pub struct FollowSettings {
    /// How often the ledger is read without a notice: the bound on staleness when notices are
    /// lost or the database has no `LISTEN` (set it low, e.g. 50 ms, for such a database).
    pub poll: Duration,
    /// Listen for notices (PostgreSQL); off for a database that lacks `LISTEN`.
    pub listen: bool,
}

impl Default for FollowSettings {
    fn default() -> Self {
        FollowSettings {
            poll: Duration::from_secs(1),
            listen: true,
        }
    }
}

/// The single step: folds what other instances committed after the applied position and
/// records whether the engine is caught up. Returns how many rows it folded.
pub async fn step(engine: &Engine) -> Result<usize, EngineError> {
    match engine.catch_up().await {
        Ok(n) => {
            engine.set_lagging(false);
            Ok(n)
        }
        Err(e) => {
            engine.set_lagging(true);
            Err(e)
        }
    }
}

/// Follows until the engine is dropped. SQLite has one process and nothing to follow.
pub async fn run(engine: Weak<Engine>, settings: FollowSettings) {
    let Some(postgres) = engine
        .upgrade()
        .map(|e| matches!(e.store, tutela_store::AnyStore::Postgres(_)))
    else {
        return;
    };
    if !postgres {
        return;
    }
    let mut listener: Option<LedgerListener> = None;
    loop {
        let Some(e) = engine.upgrade() else {
            return;
        };
        if settings.listen && listener.is_none() {
            match e.store.ledger_listener().await {
                Ok(l) => listener = l,
                Err(err) => {
                    tracing::warn!(error = %err, "listening for ledger notices failed; polling");
                    e.set_lagging(true);
                }
            }
        }
        match step(&e).await {
            // Without its notices the engine would be up to a poll behind, unannounced.
            Ok(_) => e.set_lagging(settings.listen && listener.is_none()),
            Err(err) => tracing::warn!(error = %err, "following the ledger failed; retrying"),
        }
        drop(e);
        match listener.as_mut() {
            Some(l) => match tokio::time::timeout(settings.poll, l.next()).await {
                // A notice, or a reconnection after which missed notices are caught up by
                // the step; either way the loop reads the ledger now.
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "the ledger notices' connection failed");
                    listener = None;
                    tokio::time::sleep(settings.poll).await;
                }
            },
            None => tokio::time::sleep(settings.poll).await,
        }
    }
}
