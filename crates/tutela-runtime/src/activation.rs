//! Policy versions over time (N33): a version is scheduled with its files and an effective
//! time; when the time comes, every instance validates it again, switches to it atomically
//! ([`Engine::activate`]) and records the outcome. An invalid version is refused with its
//! errors and the version in force stays.
//!
//! [`tick`] is the single step: tests drive it with the time they choose; the activation job
//! ([`crate::jobs::activation`]) calls it every second.

use jiff::Timestamp;
use tutela_core::compiled::CompiledPolicy;
use tutela_core::policy::{RecordedSource, ReplayLoader, load_policy};
use tutela_store::{ActivationRecord, ActivationStore, AnyStore, StoreError};

use crate::engine::Engine;

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("the policy does not validate:\n{0}")]
    Invalid(String),
    #[error("the effective time {0} has passed; schedule a future time or activate now")]
    InThePast(Timestamp),
    #[error("the stored files do not make the version they were recorded as")]
    Changed,
    #[error(
        "the new version widens consent purposes {0:?} without saying what their consents still cover; add [purpose.renewal] with since = the new notice version and until_renewed = \"old_scope\" or \"suspend\""
    )]
    RenewalUndeclared(Vec<String>),
    #[error("storage failed: {0}")]
    Storage(#[from] StoreError),
    #[error("the engine stopped: {0}")]
    Engine(String),
}

/// Loads and compiles a policy from its recorded files.
pub fn compile(sources: &[RecordedSource], root: &str) -> Result<CompiledPolicy, ActivationError> {
    load_policy(&ReplayLoader(sources.to_vec()), root)
        .map(CompiledPolicy::new)
        .map_err(|e| ActivationError::Invalid(e.to_string()))
}

/// Refuses a version that widens a consent purpose of `current` without a renewal rule.
pub fn check_renewals(
    current: &CompiledPolicy,
    next: &CompiledPolicy,
) -> Result<(), ActivationError> {
    let gaps = tutela_core::diff::renewal_gaps(&current.policy, &next.policy);
    if gaps.is_empty() {
        Ok(())
    } else {
        Err(ActivationError::RenewalUndeclared(gaps))
    }
}

/// Asks for `sources` to take effect at `effective_at` (now when not given). The policy is
/// validated first, and against the activated version in force when there is one; nothing is
/// stored for an invalid one or a time in the past.
pub async fn schedule(
    store: &AnyStore,
    sources: Vec<RecordedSource>,
    root: &str,
    effective_at: Option<Timestamp>,
    by: &str,
    now: Timestamp,
) -> Result<ActivationRecord, ActivationError> {
    let policy = compile(&sources, root)?;
    if let Some((current, _)) = in_force(store).await? {
        check_renewals(&current, &policy)?;
    }
    if let Some(at) = effective_at
        && at < now
    {
        return Err(ActivationError::InThePast(at));
    }
    let record = ActivationRecord {
        id: format!(
            "act_{}",
            crate::random_hex(8).map_err(|e| ActivationError::Engine(e.to_string()))?
        ),
        hash: policy.policy.hash.clone(),
        notice_version: policy.policy.version.clone(),
        sources: serde_json::to_string(&sources)
            .map_err(|e| ActivationError::Engine(e.to_string()))?,
        root: root.to_owned(),
        effective_at: effective_at.unwrap_or(now),
        requested_by: by.to_owned(),
        requested_at: now,
        status: "scheduled".into(),
        decided_at: None,
        error: None,
    };
    store.insert_activation(&record).await?;
    Ok(record)
}

/// The checks every server makes when a version takes effect ([`tick`]), made before it is
/// scheduled, so that a version they would refuse is refused at once: the files validate, and
/// no consent purpose is widened without a renewal rule, neither against the version in force
/// (the activated one, else `running`: the policy file the servers started with) nor against
/// a version scheduled to take effect before it.
pub async fn preflight(
    store: &AnyStore,
    sources: &[RecordedSource],
    root: &str,
    effective_at: Option<Timestamp>,
    running: &CompiledPolicy,
    now: Timestamp,
) -> Result<CompiledPolicy, ActivationError> {
    let next = compile(sources, root)?;
    match in_force(store).await? {
        Some((current, _)) => check_renewals(&current, &next)?,
        None => check_renewals(running, &next)?,
    }
    let at = effective_at.unwrap_or(now);
    if at < now {
        return Err(ActivationError::InThePast(at));
    }
    for a in store.activations().await? {
        if a.status == "scheduled"
            && a.effective_at <= at
            && let Ok(earlier) = load(&a)
        {
            check_renewals(&earlier, &next)?;
        }
    }
    Ok(next)
}

fn load(record: &ActivationRecord) -> Result<CompiledPolicy, ActivationError> {
    let sources: Vec<RecordedSource> =
        serde_json::from_str(&record.sources).map_err(|_| ActivationError::Changed)?;
    let policy = compile(&sources, &record.root)?;
    if policy.policy.hash != record.hash {
        return Err(ActivationError::Changed);
    }
    Ok(policy)
}

/// The activated version in force at `now`, if any: the latest active one. A server starts
/// with it rather than with its policy file, so a restart never undoes an activation.
pub async fn in_force(
    store: &AnyStore,
) -> Result<Option<(CompiledPolicy, ActivationRecord)>, ActivationError> {
    let latest = store
        .activations()
        .await?
        .into_iter()
        .filter(|a| a.status == "active")
        .max_by_key(|a| (a.effective_at, a.decided_at));
    match latest {
        Some(a) => Ok(Some((load(&a)?, a))),
        None => Ok(None),
    }
}

/// What a tick did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// Scheduled versions that became active.
    pub activated: Vec<String>,
    /// Scheduled versions refused, with why.
    pub refused: Vec<(String, String)>,
    /// This instance switched to this version.
    pub switched_to: Option<String>,
}

/// Decides the activations due at `now` and brings this instance to the version in force.
pub async fn tick(engine: &Engine, now: Timestamp) -> Result<Tick, ActivationError> {
    let store = &engine.store;
    let mut out = Tick::default();
    for a in store.activations().await? {
        if a.status != "scheduled" || a.effective_at > now {
            continue;
        }
        match load(&a).and_then(|next| check_renewals(&engine.policy(), &next)) {
            Ok(()) => match store
                .decide_activation(&a.id, "scheduled", "active", now, None, "system")
                .await
            {
                Ok(()) => out.activated.push(a.hash.clone()),
                // Another instance decided it first.
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            },
            Err(e) => {
                let why = e.to_string();
                tracing::warn!(activation = %a.id, "a scheduled policy version was refused");
                match store
                    .decide_activation(&a.id, "scheduled", "refused", now, Some(&why), "system")
                    .await
                {
                    Ok(()) | Err(StoreError::Conflict) => out.refused.push((a.id.clone(), why)),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    // Only the latest active version stays active.
    let all = store.activations().await?;
    let latest = all
        .iter()
        .filter(|a| a.status == "active")
        .max_by_key(|a| (a.effective_at, a.decided_at))
        .cloned();
    if let Some(latest) = latest {
        for a in all
            .iter()
            .filter(|a| a.status == "active" && a.id != latest.id)
        {
            match store
                .decide_activation(&a.id, "active", "superseded", now, None, "system")
                .await
            {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if engine.policy().policy.hash != latest.hash {
            let policy = load(&latest)?;
            let stats = engine
                .activate(policy, &latest.requested_by)
                .await
                .map_err(|e| ActivationError::Engine(e.to_string()))?;
            tracing::info!(
                policy_version = %latest.hash,
                notice_version = %latest.notice_version,
                events_folded = stats.events_folded,
                "policy version switched"
            );
            out.switched_to = Some(latest.hash.clone());
        }
    }
    Ok(out)
}
