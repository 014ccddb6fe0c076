//! Consents given for one call (N23: a service call is recorded only with the person's
//! express consent to recording that call). They do not fit the compact state's one bit per
//! purpose: each belongs to a call, ends with it, and lapses after the purpose's
//! `consent_per_call` period at the latest. Few persons are on a call at any moment, so they
//! are kept here, by person, and pruned as they lapse.

use rustc_hash::FxHashMap;

use crate::compiled::CompiledPolicy;
use crate::ledger::EventKind;
use crate::state::SubjectState;

#[derive(Clone, Debug, PartialEq, Eq)]
struct CallConsent {
    purpose: u8,
    call: Box<str>,
    /// When the consent lapses by the purpose's period.
    until: jiff::Timestamp,
}

/// The per-call consents in force, by person.
#[derive(Clone, Debug, Default)]
pub struct CallConsents {
    by_subject: FxHashMap<Box<str>, Vec<CallConsent>>,
}

impl CallConsents {
    /// Applies one ledger event of `subject` recorded at `at`. A grant holds for its call until
    /// withdrawn or lapsed; an erasure ends every consent of the person.
    pub fn apply(
        &mut self,
        policy: &CompiledPolicy,
        subject: &str,
        kind: &EventKind,
        at: jiff::Timestamp,
    ) {
        match kind {
            EventKind::CallConsent {
                purpose,
                call,
                granted,
            } => {
                let Some((i, period)) = policy.purpose_index(purpose).and_then(|i| {
                    let p = policy.policy.purposes.get(usize::from(i))?;
                    Some((i, p.consent_per_call?))
                }) else {
                    return;
                };
                let list = self.by_subject.entry(subject.into()).or_default();
                list.retain(|c| !(c.purpose == i && *c.call == **call) && c.until > at);
                if *granted {
                    let until = at
                        .to_zoned(jiff::tz::TimeZone::UTC)
                        .checked_add(period.to_span())
                        .map_or(at, |z| z.timestamp());
                    list.push(CallConsent {
                        purpose: i,
                        call: call.as_str().into(),
                        until,
                    });
                }
                if list.is_empty() {
                    self.by_subject.remove(subject);
                }
            }
            EventKind::Erasure => {
                self.by_subject.remove(subject);
            }
            _ => {}
        }
    }

    /// Whether `subject` consented to purpose `purpose` (by index) for `call`, at `now`.
    pub fn holds(&self, subject: &str, purpose: u8, call: &str, now: jiff::Timestamp) -> bool {
        self.by_subject.get(subject).is_some_and(|list| {
            list.iter()
                .any(|c| c.purpose == purpose && &*c.call == call && now < c.until)
        })
    }

    /// The state a decision about purpose `purpose` (by index) during `call` is made on: the
    /// person's state with the purpose's consent bit set when they consented for this call.
    /// For other purposes, or without a call, the state as it is.
    pub fn during_call(
        &self,
        policy: &CompiledPolicy,
        subject: &str,
        state: &SubjectState,
        purpose: u8,
        call: Option<&str>,
        now: jiff::Timestamp,
    ) -> SubjectState {
        let mut s = *state;
        if let Some(call) = call
            && policy.takes_consent_per_call(purpose)
            && self.holds(subject, purpose, call, now)
        {
            s.consents |= policy.consent_slot_mask(purpose);
        }
        s
    }

    /// From when the ledger must be read to know every per-call consent that may still hold
    /// at `now`; `None` when no purpose takes consent per call.
    pub fn lookback(policy: &CompiledPolicy, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
        policy
            .policy
            .purposes
            .iter()
            .filter_map(|p| p.consent_per_call)
            .filter_map(|period| {
                now.to_zoned(jiff::tz::TimeZone::UTC)
                    .checked_sub(period.to_span())
                    .ok()
                    .map(|z| z.timestamp())
            })
            .min()
    }

    /// Drops every consent lapsed by `now`.
    pub fn prune(&mut self, now: jiff::Timestamp) {
        self.by_subject.retain(|_, list| {
            list.retain(|c| now < c.until);
            !list.is_empty()
        });
    }

    /// How many persons hold a per-call consent.
    pub fn len(&self) -> usize {
        self.by_subject.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_subject.is_empty()
    }
}
