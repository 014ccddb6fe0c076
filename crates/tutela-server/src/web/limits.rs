//! The pages' rate limits, counted in the store (SQLite or PostgreSQL) so that they hold across
//! restarts and add up across instances. What is counted is kept only as an HMAC under the
//! server's key: the table names no address, e-mail address or operator.
//!
//! A stranger must not be able to lock a person or an operator out (docs/access.md):
//! - hard limits count per client (every sign-in action of one client address) and per account
//!   *and* client (codes mailed to one address, passwords tried for one operator): they stop
//!   one source, and only that source;
//! - each account also has a ceiling over all clients, which refuses nobody: code mails to one
//!   address are capped when they are sent (`signin::deliver_signin_mails`: the rest wait for
//!   later windows or are dropped when their code expires first), an operator's attempt over
//!   it is answered after a pause. Nobody is refused because of someone else's attempts.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tutela_store::StoreError;

use super::Client;
use crate::AppState;

/// A limit could not be counted: the store failed or there is no key. The caller answers
/// "unavailable", the same for everyone.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("rate limits could not be counted: {0}")]
    Storage(#[from] StoreError),
    #[error("{0}")]
    NoKey(#[from] tutela_runtime::hmac_key::NoKey),
}

/// Counts a hit on `what`; returns the hits in its window (this one included) and the
/// window's end.
async fn hit(
    state: &AppState,
    what: &[&str],
    window: Duration,
    now: Timestamp,
) -> Result<(u32, Timestamp), LimitError> {
    let mut parts: Vec<&[u8]> = vec![b"rate-limit"];
    parts.extend(what.iter().map(|w| w.as_bytes()));
    let key = state.requests.settings.hmac_key.mac_hex(&parts)?;
    let window = SignedDuration::try_from(window).unwrap_or(SignedDuration::from_mins(15));
    let c = tutela_runtime::records::rate_hit(&state.engine, &key, now, window).await?;
    Ok((u32::try_from(c.hits).unwrap_or(u32::MAX), c.window_end))
}

/// A sign-in code may be asked for; false: refused for this client. The address's ceiling
/// over all clients is not counted here but when mails are sent, so that it bounds the mails
/// however many are asked for.
pub(crate) async fn code_mail(
    state: &AppState,
    email: &str,
    client: &Client,
    now: Timestamp,
) -> Result<bool, LimitError> {
    let s = &state.web.settings;
    let from = client.key();
    if hit(state, &["client", &from], s.rate_window, now).await?.0 > s.attempts_per_client {
        return Ok(false);
    }
    Ok(hit(state, &["code", email, &from], s.rate_window, now)
        .await?
        .0
        <= s.codes_per_address)
}

/// A code entered or a password tried: counted per client; false when over the limit.
pub(crate) async fn attempt(
    state: &AppState,
    client: &Client,
    now: Timestamp,
) -> Result<bool, LimitError> {
    let s = &state.web.settings;
    let (hits, _) = hit(state, &["client", &client.key()], s.rate_window, now).await?;
    Ok(hits <= s.attempts_per_client)
}

/// An operator's sign-in attempt: `None` when refused for this client, else the pause before
/// it is answered (zero unless the operator's ceiling over all clients is reached).
pub(crate) async fn operator_attempt(
    state: &AppState,
    name: &str,
    client: &Client,
    now: Timestamp,
) -> Result<Option<Duration>, LimitError> {
    let s = &state.web.settings;
    if !attempt(state, client, now).await? {
        return Ok(None);
    }
    let from = client.key();
    if hit(state, &["operator", name, &from], s.rate_window, now)
        .await?
        .0
        > s.attempts_per_operator
    {
        return Ok(None);
    }
    let (hits, _) = hit(state, &["operator-ceiling", name], s.ceiling_window, now).await?;
    Ok(Some(if hits > s.attempts_per_operator_ceiling {
        s.ceiling_delay
    } else {
        Duration::ZERO
    }))
}

/// A request filed by a signed-in person; false when over the limit. Only the person's own
/// session counts here.
pub(crate) async fn person_request(
    state: &AppState,
    subject: &str,
    now: Timestamp,
) -> Result<bool, LimitError> {
    let s = &state.web.settings;
    let (hits, _) = hit(state, &["requests", subject], s.rate_window, now).await?;
    Ok(hits <= s.requests_per_person)
}
