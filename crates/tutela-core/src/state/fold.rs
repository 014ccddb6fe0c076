//! Folding ledger events into a [`SubjectState`], with the bit positions of the compiled policy.

use super::SubjectState;
use super::{ERASED, KNOWN, OBJECTED_DIRECT_MARKETING, OBJECTED_LEGITIMATE_INTEREST, RESTRICTED};
use crate::compiled::CompiledPolicy;
use crate::ledger::{EventKind, LedgerEvent, ObjectionScope};

impl SubjectState {
    /// Slots whose consent ends without a withdrawal (an objection, an erasure).
    fn drop_consents(&mut self, mask: u64) {
        self.withdrawn &= !(self.consents & mask);
        self.consents &= !mask;
    }

    /// Folds events, in ledger order, up to and including `as_of`. Events after `as_of` are not
    /// seen, so a withdrawal never changes a decision about the time before it.
    pub fn fold<'e>(
        policy: &CompiledPolicy,
        events: impl IntoIterator<Item = &'e LedgerEvent>,
        as_of: jiff::Timestamp,
    ) -> SubjectState {
        let mut state = SubjectState::UNKNOWN;
        for e in events {
            if e.at > as_of {
                continue;
            }
            state.apply(policy, &e.kind);
        }
        state
    }

    /// Applies one event. Events that name what the policy no longer knows change nothing.
    pub fn apply(&mut self, policy: &CompiledPolicy, kind: &EventKind) {
        self.flags |= KNOWN;
        match kind {
            EventKind::Relationship {
                relationship,
                contract_kind,
            } => {
                self.relationship = *relationship;
                self.contract_kind = *contract_kind;
            }
            EventKind::Consent {
                purpose,
                channel,
                granted,
                notice_version,
                ..
            } => {
                let mask = policy.consent_mask(purpose, channel.as_deref());
                if *granted {
                    self.consents |= mask;
                    self.withdrawn &= !mask;
                    // Given under a notice older than the purpose's widening: needs renewal.
                    self.withdrawn |=
                        policy.renewal_mask(purpose, channel.as_deref(), notice_version);
                } else {
                    self.consents &= !mask;
                    self.withdrawn |= mask;
                }
            }
            // A use changes nothing of what may be done; it is evidence.
            EventKind::ConsentUse { .. } => {}
            EventKind::Objection { scope } => match scope {
                ObjectionScope::DirectMarketing => {
                    self.flags |= OBJECTED_DIRECT_MARKETING;
                    // An objection to direct marketing is the latest word on every marketing
                    // consent too; a consent given afterwards counts again.
                    self.drop_consents(policy.direct_marketing_consent_mask());
                }
                ObjectionScope::LegitimateInterest => self.flags |= OBJECTED_LEGITIMATE_INTEREST,
                ObjectionScope::Purpose(p) => {
                    if let Some(i) = policy.purpose_index(p) {
                        self.objected |= 1u64 << i;
                        if policy.is_direct_marketing(i) {
                            self.drop_consents(policy.consent_mask(p, None));
                        }
                    }
                }
            },
            EventKind::Restriction { active } => {
                if *active {
                    self.flags |= RESTRICTED;
                } else {
                    self.flags &= !RESTRICTED;
                }
            }
            EventKind::TransferConsent { country, granted } => {
                if let Some(bit) = policy.third_country_bit(*country) {
                    if *granted {
                        self.transfer_consents |= bit;
                    } else {
                        self.transfer_consents &= !bit;
                    }
                }
            }
            // Per-call consents are kept by `CallConsents`, identifiers by the gate's index.
            EventKind::CallConsent { .. } | EventKind::Identifier { .. } => {}
            EventKind::TransferNecessity { country, active } => {
                if let Some(bit) = policy.third_country_bit(*country) {
                    if *active {
                        self.transfer_necessities |= bit;
                    } else {
                        self.transfer_necessities &= !bit;
                    }
                }
            }
            EventKind::Erasure => {
                self.flags |= ERASED;
                self.drop_consents(u64::MAX);
                self.transfer_consents = 0;
                self.transfer_necessities = 0;
            }
        }
    }
}
