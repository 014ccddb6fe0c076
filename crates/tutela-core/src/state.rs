//! The compact decision state of one person, derived from their ledger events.
//!
//! It is 40 bytes: one bit per consent slot, per withdrawn slot, per objected purpose, and per
//! third country in each of two Art. 49 masks, plus flags. Bit positions come from the
//! [`CompiledPolicy`](crate::compiled::CompiledPolicy); a state is only meaningful together with
//! the compiled policy that folded it. Folding events into a state needs that policy, so it
//! lives in the submodule `fold`: the compiled policy reads states, and this file does not
//! depend on it.

use crate::basis::{ContractKind, Relationship};

mod fold;

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
