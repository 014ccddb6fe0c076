//! The decision engine. Pure: the policy, the person's state, the query and the time come in;
//! a decision comes out. The rules run in this order, and the tests are named after them:
//!
//! - **R0 configuration**: a query naming an unknown purpose, category, channel or recipient is
//!   a gap in configuration (`not_configured`), never an allow. See [`CompiledPolicy::resolve`].
//! - **R1 erasure**: an erased person is processed for nothing but the purposes the policy
//!   permits after erasure (legal-retention storage).
//! - **R2 categories**: every category asked for must be listed for the purpose.
//! - **R3 channels**: a channel must be one the purpose uses; a purpose with consent per channel
//!   needs the channel named.
//! - **R4 legal bases**: the purpose's bases are tried in order; the first that holds is the
//!   decision's legal basis. Consent holds with an active consent for the purpose (and
//!   channel); contract and legitimate interest may require a relationship (existing customer).
//!   A consent given before its purpose was widened needs renewal: until then it covers the
//!   old categories, or nothing, as the policy's `[purpose.renewal]` says (N33).
//! - **R5 objections**: legitimate interest, public interest and further processing do not hold
//!   after an objection: to direct marketing (every marketing purpose), to legitimate interest
//!   (with reasons), or to the purpose; unless the purpose survives objections (legal claims).
//! - **R6 restriction**: while restricted, only purposes permitted under restriction, or
//!   processing on consent.
//! - **R7 recipients**: a recipient must be declared for the purpose and the categories.
//! - **R8 transfers**: each country (named, or the recipient's) must be in the EU/EEA, under an
//!   adequacy decision in force (for the US: a recipient certified under the DPF), covered by
//!   the recipient's safeguards, or explicitly consented to by the person.

use crate::basis::{CountryCode, LegalBasis, Relationship};
use crate::compiled::ClauseSet;
use crate::compiled::{CompiledPolicy, CompiledRecipient, NO_SLOT, NONE, Query, cell};
use crate::reason::{Outcome, Reason, ReasonSet};
use crate::state::{
    ERASED, OBJECTED_DIRECT_MARKETING, OBJECTED_LEGITIMATE_INTEREST, RESTRICTED, SubjectState,
};

/// A decision without explanation; `Copy`, made without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// The primary reason: the basis that held, or the most telling refusal.
    pub reason: Reason,
    pub legal_basis: Option<LegalBasis>,
    /// How a transfer to a third country is grounded, when the query named one.
    pub transfer: Option<Reason>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }

    pub fn gap(reason: Reason) -> Decision {
        Decision {
            outcome: Outcome::Gap,
            reason,
            legal_basis: None,
            transfer: None,
        }
    }
}

/// A decision with every reason noted on the way and the clauses it rests on. Both sets are
/// bit sets over tables of the compiled policy: explaining allocates nothing.
#[derive(Clone, Copy, Debug)]
pub struct Explanation<'p> {
    pub decision: Decision,
    pub reasons: ReasonSet,
    pub clauses: ClauseSet,
    policy: &'p CompiledPolicy,
}

impl<'p> Explanation<'p> {
    /// Every reason noted, the primary first.
    pub fn reasons(&self) -> impl Iterator<Item = Reason> + 'p {
        self.reasons.ordered(self.decision.reason)
    }

    /// The clause ids of the notice the decision rests on, in the notice's order.
    pub fn notice_refs(&self) -> impl Iterator<Item = &'p str> + 'p {
        self.policy.clause_ids(self.clauses)
    }
}

/// Where the rules note reasons. `()` notes nothing, so the fast path does no work for it.
pub trait Trace {
    fn note(&mut self, reason: Reason);
}

impl Trace for () {
    #[inline(always)]
    fn note(&mut self, _: Reason) {}
}

impl Trace for ReasonSet {
    #[inline(always)]
    fn note(&mut self, reason: Reason) {
        self.insert(reason);
    }
}

impl CompiledPolicy {
    /// Decides a resolved query for a person's state at `now`.
    #[inline]
    pub fn decide(&self, state: &SubjectState, q: &Query, now: jiff::Timestamp) -> Decision {
        self.evaluate(state, q, now, &mut ())
    }

    /// Decides and explains: every reason noted and the notice clauses behind them.
    #[inline]
    pub fn explain(
        &self,
        state: &SubjectState,
        q: &Query,
        now: jiff::Timestamp,
    ) -> Explanation<'_> {
        let mut reasons = ReasonSet::default();
        let decision = self.evaluate(state, q, now, &mut reasons);
        reasons.insert(decision.reason);
        let basis = decision
            .legal_basis
            .and_then(|lb| self.basis_position(q.purpose, lb));
        let clauses = self.clauses_for(q.purpose, basis, reasons, q.recipient);
        Explanation {
            decision,
            reasons,
            clauses,
            policy: self,
        }
    }

    #[inline(always)]
    fn evaluate<T: Trace>(
        &self,
        state: &SubjectState,
        q: &Query,
        now: jiff::Timestamp,
        trace: &mut T,
    ) -> Decision {
        let Some(p) = self.purposes.get(usize::from(q.purpose)) else {
            return Decision::gap(Reason::UnknownPurpose);
        };
        let deny = |reason| Decision {
            outcome: Outcome::Deny,
            reason,
            legal_basis: None,
            transfer: None,
        };

        // R1 erasure
        if state.flags & ERASED != 0 && !p.permitted_after_erasure {
            trace.note(Reason::Erased);
            return deny(Reason::Erased);
        }
        // R2 categories
        if q.categories & !p.categories != 0 {
            trace.note(Reason::CategoryNotPermitted);
            return deny(Reason::CategoryNotPermitted);
        }
        // R3 channels
        match q.channel {
            Some(ch) if p.channels != 0 && p.channels & (1u16 << (ch & 15)) == 0 => {
                trace.note(Reason::ChannelNotPermitted);
                return deny(Reason::ChannelNotPermitted);
            }
            None if p.consent_per_channel => {
                trace.note(Reason::ChannelRequired);
                return deny(Reason::ChannelRequired);
            }
            _ => {}
        }
        // R4 + R5 legal bases and objections
        let mut held: Option<(LegalBasis, Reason)> = None;
        let mut refusal = Reason::NoConsent;
        let mut refuse = |r: Reason, trace: &mut T| {
            trace.note(r);
            if r.priority() > refusal.priority() {
                refusal = r;
            }
        };
        for b in p.bases.iter().take(usize::from(p.n_bases)) {
            if b.relationships != 0 && b.relationships & Relationship::bit(state.relationship) == 0
            {
                refuse(Reason::RelationshipRequired, trace);
                continue;
            }
            let holds = match b.basis {
                LegalBasis::Consent => {
                    let slot = if p.consent_per_channel {
                        q.channel
                            .and_then(|ch| p.slots.get(usize::from(ch)).copied())
                            .unwrap_or(NO_SLOT)
                    } else {
                        p.slots[0]
                    };
                    let bit = if slot == NO_SLOT {
                        0
                    } else {
                        1u64 << (slot & 63)
                    };
                    if state.renewal() & bit != 0 {
                        // Given before the purpose was widened (N33): the old scope only, or
                        // nothing, as the policy says, until the person renews it.
                        match p.renewal_scope {
                            Some(old) if old != 0 && q.categories & !old == 0 => {
                                trace.note(Reason::ConsentOldScope);
                                Some(Reason::ConsentGiven)
                            }
                            _ => {
                                refuse(Reason::ConsentRenewalNeeded, trace);
                                None
                            }
                        }
                    } else if state.consents & bit != 0 {
                        Some(Reason::ConsentGiven)
                    } else {
                        let r = if state.withdrawn & bit != 0 {
                            Reason::ConsentWithdrawn
                        } else {
                            Reason::NoConsent
                        };
                        refuse(r, trace);
                        None
                    }
                }
                LegalBasis::Contract => Some(Reason::ContractBasis),
                LegalBasis::LegalObligation => Some(Reason::LegalObligationBasis),
                LegalBasis::VitalInterest => Some(Reason::VitalInterestBasis),
                objectable => {
                    let objection =
                        if p.direct_marketing && state.flags & OBJECTED_DIRECT_MARKETING != 0 {
                            Some(Reason::ObjectedDirectMarketing)
                        } else if state.flags & OBJECTED_LEGITIMATE_INTEREST != 0 {
                            Some(Reason::ObjectedLegitimateInterest)
                        } else if state.objected & (1u64 << (q.purpose & 63)) != 0 {
                            Some(Reason::Objected)
                        } else {
                            None
                        };
                    let basis_reason = match objectable {
                        LegalBasis::PublicInterest => Reason::PublicInterestBasis,
                        LegalBasis::LegitimateInterest => Reason::LegitimateInterestBasis,
                        _ => Reason::FurtherProcessingBasis,
                    };
                    match objection {
                        Some(o) if p.survives_objection => {
                            trace.note(o);
                            trace.note(Reason::ContinuesDespiteObjection);
                            Some(basis_reason)
                        }
                        Some(o) => {
                            refuse(o, trace);
                            None
                        }
                        None => Some(basis_reason),
                    }
                }
            };
            if let Some(r) = holds {
                held = Some((b.basis, r));
                break;
            }
        }
        let Some((basis, basis_reason)) = held else {
            return deny(refusal);
        };
        trace.note(basis_reason);

        // R6 restriction
        if state.flags & RESTRICTED != 0
            && !p.permitted_under_restriction
            && basis != LegalBasis::Consent
        {
            trace.note(Reason::Restricted);
            return deny(Reason::Restricted);
        }

        // R7 recipients
        let recipient = match q.recipient {
            Some(r) => {
                let Some(rec) = self.recipients.get(usize::from(r)) else {
                    return Decision::gap(Reason::UnknownRecipient);
                };
                if rec.purposes & (1u64 << (q.purpose & 63)) == 0 {
                    trace.note(Reason::RecipientNotPermitted);
                    return deny(Reason::RecipientNotPermitted);
                }
                if q.categories & !rec.categories != 0 {
                    trace.note(Reason::RecipientCategoryNotPermitted);
                    return deny(Reason::RecipientCategoryNotPermitted);
                }
                Some(rec)
            }
            None => None,
        };

        // R8 transfers
        let mut transfer = None;
        let countries: &[CountryCode] = match (&q.country, recipient) {
            (Some(c), _) => std::slice::from_ref(c),
            (None, Some(rec)) => &rec.countries,
            (None, None) => &[],
        };
        for &c in countries {
            match self.transfer_ground(c, recipient, basis, state, now) {
                Some(g) => {
                    trace.note(g);
                    if transfer.is_none_or(|t: Reason| {
                        g != Reason::TransferEea && t == Reason::TransferEea
                    }) {
                        transfer = Some(g);
                    }
                }
                None => {
                    trace.note(Reason::TransferNotPermitted);
                    return deny(Reason::TransferNotPermitted);
                }
            }
        }

        Decision {
            outcome: Outcome::Allow,
            reason: basis_reason,
            legal_basis: Some(basis),
            transfer,
        }
    }

    #[inline]
    fn transfer_ground(
        &self,
        c: CountryCode,
        recipient: Option<&CompiledRecipient>,
        basis: LegalBasis,
        state: &SubjectState,
        now: jiff::Timestamp,
    ) -> Option<Reason> {
        let i = cell(c);
        if self.eea[i] {
            return Some(Reason::TransferEea);
        }
        let a = self.adequacy_of[i];
        if a != NONE
            && let Some(adq) = self.adequacy.get(usize::from(a))
        {
            let in_force = adq.from <= now && adq.until.is_none_or(|u| now < u);
            if in_force && (!adq.requires_dpf || recipient.is_some_and(|r| r.dpf_certified)) {
                return Some(Reason::TransferAdequacy);
            }
        }
        if recipient.is_some_and(|r| r.safeguarded.contains(&c)) {
            return Some(Reason::TransferSafeguards);
        }
        // Art. 49 derogations recorded for this person, as far as the policy relies on them.
        let bit = self.third_country_bit(c)?;
        if self.derogations[0] && state.transfer_consents & bit != 0 {
            return Some(Reason::TransferExplicitConsent);
        }
        // Necessity for the contract grounds only processing that serves the contract.
        if self.derogations[1]
            && basis == LegalBasis::Contract
            && state.transfer_necessities & bit != 0
        {
            return Some(Reason::TransferContractNecessity);
        }
        None
    }
}
