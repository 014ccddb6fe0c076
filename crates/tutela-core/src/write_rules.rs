//! What a ledger write may contain, in one place: the rules on the texts a write carries beside
//! its kind (the evidence or contract, the reason, the source, the e-mail address), and which of
//! them an erasure keeps.
//!
//! The engine checks every write with [`CompiledPolicy::check_write`] before it commits it, so
//! a transport (HTTP, the privacy center, the request worker) only parses and hands the write
//! over, and the writer only commits what passed.

use crate::compiled::{CompiledPolicy, EventError};
use crate::ledger::{EventKind, LedgerEvent};
use crate::policy::Policy;
use crate::state::SubjectState;

/// The most characters a consent's `source` may have (counted in bytes, as it always was).
pub const MAX_SOURCE: usize = 64;

/// The most characters an evidence or a contract may have: a reference, not the document.
pub const MAX_EVIDENCE: usize = 4000;

/// The most bytes of an e-mail address (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;

/// The source of consents read from a banner's IAB TCF string. Their evidence is the string
/// itself, recorded whole as the banner sent it, so it has no length limit.
pub const TCF_SOURCE: &str = "tcf_banner";

/// How the reason of the restriction an erasure request records begins when the operator's
/// databases kept records under a retention duty; the erasure keeps that restriction.
pub const RETAINED_RECORDS: &str = "kept under a retention duty";

/// The texts a write carries beside its kind; `None` when the write has none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteTexts<'a> {
    /// A consent's evidence, or the contract or order a transfer necessity serves.
    pub evidence: Option<&'a str>,
    /// Why: an objection's reasons, a restriction's ground.
    pub reason: Option<&'a str>,
    /// The person's e-mail address, given with their relationship.
    pub email: Option<&'a str>,
}

impl CompiledPolicy {
    /// Checks a ledger write before it is stored: first what its texts may contain
    /// ([`check_texts`]), then the policy and the person's current state
    /// ([`CompiledPolicy::check_event`]). Texts of blanks only count as not given.
    pub fn check_write(
        &self,
        state: &SubjectState,
        kind: &EventKind,
        texts: WriteTexts<'_>,
    ) -> Result<(), EventError> {
        check_texts(kind, texts)?;
        self.check_event(state, kind, given(texts.evidence), given(texts.reason))
    }
}

/// Whether a text was given with something other than blanks.
fn given(text: Option<&str>) -> bool {
    text.is_some_and(|t| !t.trim().is_empty())
}

/// Checks the texts of a write of `kind`: what must be there and how long it may be. These
/// rules need no policy; a refusal is an invalid field with its fix.
pub fn check_texts(kind: &EventKind, texts: WriteTexts<'_>) -> Result<(), EventError> {
    match kind {
        EventKind::Consent { source, .. } => {
            consent_source(source)?;
            if source != TCF_SOURCE {
                at_most("evidence", texts.evidence)?;
            }
        }
        EventKind::CallConsent { .. } => at_most("evidence", texts.evidence)?,
        EventKind::TransferConsent { granted, .. } => {
            if *granted && !given(texts.evidence) {
                return Err(EventError::invalid(
                    "evidence",
                    "a transfer consent must be explicit (Art. 49(1)(a)); record its evidence",
                    "say how and when the person consented after being told the risks",
                ));
            }
            at_most("evidence", texts.evidence)?;
        }
        EventKind::TransferNecessity { active, .. } => {
            // The contract is the event's evidence; the write names it `contract`.
            if *active && !given(texts.evidence) {
                return Err(EventError::invalid(
                    "contract",
                    "a transfer is necessary for a contract (Art. 49(1)(b)) only with the contract it serves",
                    "name the contract or order, e.g. `roaming order R-2026-0815`",
                ));
            }
            at_most("contract", texts.evidence)?;
        }
        EventKind::Restriction { active: true } if !given(texts.reason) => {
            return Err(EventError::invalid(
                "reason",
                "a restriction needs its reason (Art. 18(1))",
                "say why: accuracy contested, unlawful processing, needed for legal claims, or objection pending",
            ));
        }
        _ => {}
    }
    match texts.email {
        Some(email) => email_address(email),
        None => Ok(()),
    }
}

/// A consent names where it was given, in 1 to [`MAX_SOURCE`] bytes.
fn consent_source(source: &str) -> Result<(), EventError> {
    if source.trim().is_empty() || source.len() > MAX_SOURCE {
        return Err(EventError::invalid(
            "source",
            "`source` must name where the consent was given, in 1 to 64 characters",
            "e.g. `web`, `app`, `call_center`, `letter`, `privacy_center`",
        ));
    }
    Ok(())
}

/// An evidence or contract of at most [`MAX_EVIDENCE`] characters.
fn at_most(field: &'static str, text: Option<&str>) -> Result<(), EventError> {
    if text.is_some_and(|t| t.chars().count() > MAX_EVIDENCE) {
        return Err(EventError::invalid(
            field,
            format!("`{field}` is longer than {MAX_EVIDENCE} characters"),
            "shorten it, or store the document elsewhere and reference it",
        ));
    }
    Ok(())
}

/// An e-mail address: at most [`MAX_EMAIL`] bytes, an `@`, no blanks.
fn email_address(email: &str) -> Result<(), EventError> {
    if email.len() > MAX_EMAIL || !email.contains('@') || email.chars().any(char::is_whitespace) {
        return Err(EventError::invalid(
            "email",
            "not an e-mail address",
            "send an address like name@example.org, or leave the field out",
        ));
    }
    Ok(())
}

/// The ledger rows whose evidence a legal duty keeps past an erasure, from a person's history
/// in ledger order (each event with its reason): consents of purposes with
/// `consent_evidence_kept`, within that period from the grant or the last use (section 7a
/// UWG), and the uses themselves; and the restriction of records the operator's databases keep
/// under a retention duty (its reason names tables, rules, dates and fields, no value).
pub fn evidence_to_keep<'a>(
    policy: &Policy,
    history: impl IntoIterator<Item = (&'a LedgerEvent, Option<&'a str>)>,
    now: jiff::Timestamp,
) -> Vec<i64> {
    let history: Vec<(&LedgerEvent, Option<&str>)> = history.into_iter().collect();
    let mut keep: Vec<i64> = history
        .iter()
        .filter(|(e, reason)| {
            matches!(e.kind, EventKind::Restriction { active: true })
                && reason.is_some_and(|r| r.starts_with(RETAINED_RECORDS))
        })
        .map(|(e, _)| e.seq)
        .collect();
    for (i, (e, _)) in history.iter().enumerate() {
        let EventKind::Consent {
            purpose,
            channel,
            granted: true,
            ..
        } = &e.kind
        else {
            continue;
        };
        let Some(period) = policy
            .purposes
            .iter()
            .find(|p| &p.id == purpose)
            .and_then(|p| p.consent_evidence_kept)
        else {
            continue;
        };
        let uses: Vec<&LedgerEvent> = history[i + 1..]
            .iter()
            .map(|(u, _)| *u)
            .filter(|u| matches!(&u.kind, EventKind::ConsentUse { purpose: p, channel: c } if p == purpose && c == channel))
            .collect();
        let last = uses.last().map_or(e.at, |u| u.at);
        let until = last
            .to_zoned(jiff::tz::TimeZone::UTC)
            .checked_add(period.to_span())
            .map(|z| z.timestamp());
        if until.is_ok_and(|u| now < u) {
            keep.push(e.seq);
            keep.extend(uses.iter().map(|u| u.seq));
        }
    }
    keep
}
