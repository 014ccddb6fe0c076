//! Background work that runs on one instance at a time: the request worker (with the
//! retention sweeps it drives) and the log sealer hold a lease in the store while they work,
//! renew it meanwhile, and stop when they lose it (on PostgreSQL; a SQLite file has one process). An instance that dies holds its lease until
//! it lapses; then the next instance to try takes the work over. Each step of that work is
//! idempotent, so a step cut off by a lost lease is done again, not twice.

use std::future::Future;
use std::time::Duration;

use tutela_store::{AnyStore, ClusterStore, StoreError};

/// The request worker's lease.
pub const REQUEST_WORKER: &str = "request_worker";
/// The verifiable log sealer's lease.
pub const LOG_SEALER: &str = "log_sealer";

/// Runs `work` while `owner` holds the lease `name`, renewed every third of `ttl`. `None`
/// when another instance holds it, or when the lease was lost before `work` finished (the
/// work is dropped then).
pub async fn holding<F: Future>(
    store: &AnyStore,
    name: &str,
    owner: &str,
    ttl: Duration,
    work: F,
) -> Result<Option<F::Output>, StoreError> {
    // A SQLite file is served by one process; a lease would only delay a restarted one.
    if matches!(store, AnyStore::Sqlite(_)) {
        return Ok(Some(work.await));
    }
    if !take(store, name, owner, ttl).await? {
        return Ok(None);
    }
    let renew = async {
        loop {
            tokio::time::sleep(ttl / 3).await;
            match take(store, name, owner, ttl).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(lease = name, "lease lost to another instance; stopping");
                    return;
                }
                // The lease still runs for two thirds of its time; try again.
                Err(e) => tracing::warn!(lease = name, error = %e, "renewing a lease failed"),
            }
        }
    };
    tokio::select! {
        out = work => Ok(Some(out)),
        () = renew => Ok(None),
    }
}

async fn take(
    store: &AnyStore,
    name: &str,
    owner: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let now = jiff::Timestamp::now();
    let until = now
        .checked_add(jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(jiff::Timestamp::MAX);
    store.take_lease(name, owner, now, until).await
}
