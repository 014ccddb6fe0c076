//! The compact decision state of one person, derived from their ledger events.
//!
//! It is 40 bytes: one bit per consent slot, per withdrawn slot, per objected purpose, and per
//! third country in each of two Art. 49 masks, plus flags. Bit positions come from the [`CompiledPolicy`]; a state
//! is only meaningful together with the compiled policy that folded it.

use crate::basis::{ContractKind, Relationship};
use crate::compiled::CompiledPolicy;
use crate::ledger::{EventKind, LedgerEvent, ObjectionScope};

pub const KNOWN: u8 = 1;
pub const RESTRICTED: u8 = 1 << 1;
pub const ERASED: u8 = 1 << 2;
pub const OBJECTED_DIRECT_MARKETING: u8 = 1 << 3;
pub const OBJECTED_LEGITIMATE_INTEREST: u8 = 1 << 4;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubjectState {
    /// Active consents, one bit per consent slot.
    pub consents: u64,
    /// Consent slots whose latest event is a withdrawal; together with the slot's bit in
    /// `consents`: a consent given before its purpose was widened, which needs renewal (N33).
    /// The two meanings cannot meet (a withdrawn slot holds no consent), so the state stays
    /// 40 bytes and a slot of the index one cache line.
    pub withdrawn: u64,
    /// Purposes objected to one by one.
    pub objected: u64,
    /// Third countries (by the compiled policy's index) the person explicitly consented to
    /// (Art. 49(1)(a)).
    pub transfer_consents: u32,
    /// Third countries a transfer to is necessary for the person's contract (Art. 49(1)(b)).
    pub transfer_necessities: u32,
    pub flags: u8,
    pub relationship: Relationship,
    pub contract_kind: ContractKind,
}

impl SubjectState {
    /// The state of a person tutela has never heard of.
    pub const UNKNOWN: SubjectState = SubjectState {
        consents: 0,
        withdrawn: 0,
        objected: 0,
        transfer_consents: 0,
        transfer_necessities: 0,
        flags: 0,
        relationship: Relationship::Unknown,
        contract_kind: ContractKind::Other,
    };

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Consent slots holding a consent that needs renewal (see `withdrawn`).
    pub fn renewal(&self) -> u64 {
        self.consents & self.withdrawn
    }

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

#[cfg(test)]
mod tests {
    use super::SubjectState;

    #[test]
    fn compact_state_fits_in_64_bytes() {
        assert!(std::mem::size_of::<SubjectState>() <= 64);
        assert_eq!(std::mem::size_of::<SubjectState>(), 40);
    }
}
