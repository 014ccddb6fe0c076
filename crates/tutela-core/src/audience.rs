//! Marketing audiences (N16–N19): which persons of a list a campaign may contact, and why not
//! the others, in the words a marketing team uses. The decision engine decides each person;
//! this module only names the outcome.

use crate::basis::LegalBasis;
use crate::compiled::{CompiledPolicy, Query};
use crate::index::StateIndex;
use crate::reason::Reason;

/// Why a person is left out of an audience.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exclusion {
    NoConsent,
    Objection,
    NotAnExistingCustomer,
    Restricted,
    Erased,
    /// Anything else, by its reason code (a category or channel the purpose does not use…).
    Other(Reason),
}

impl Exclusion {
    pub fn of(reason: Reason) -> Exclusion {
        match reason {
            Reason::NoConsent | Reason::ConsentWithdrawn => Exclusion::NoConsent,
            Reason::Objected
            | Reason::ObjectedDirectMarketing
            | Reason::ObjectedLegitimateInterest => Exclusion::Objection,
            Reason::RelationshipRequired => Exclusion::NotAnExistingCustomer,
            Reason::Restricted => Exclusion::Restricted,
            Reason::Erased => Exclusion::Erased,
            other => Exclusion::Other(other),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Exclusion::NoConsent => "no_consent",
            Exclusion::Objection => "objection",
            Exclusion::NotAnExistingCustomer => "not_an_existing_customer",
            Exclusion::Restricted => "restricted",
            Exclusion::Erased => "erased",
            Exclusion::Other(r) => r.code(),
        }
    }
}

/// One person's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// May be contacted; the legal basis is the one the engine found.
    Contact(LegalBasis),
    Exclude(Exclusion),
}

/// Decides every id of `ids` for the campaign `q`, in order.
pub fn select<'a>(
    policy: &CompiledPolicy,
    states: &StateIndex,
    q: &Query,
    ids: impl IntoIterator<Item = &'a str>,
    now: jiff::Timestamp,
    out: &mut Vec<Verdict>,
) {
    for id in ids {
        let d = policy.decide(states.state(id), q, now);
        out.push(match (d.allowed(), d.legal_basis) {
            (true, Some(basis)) => Verdict::Contact(basis),
            _ => Verdict::Exclude(Exclusion::of(d.reason)),
        });
    }
}

/// Contact by e-mail or SMS without consent rests on section 7(3) UWG: every message must tell
/// the person that they can object at any time (N18).
pub fn needs_objection_notice(verdicts: &[Verdict]) -> bool {
    verdicts
        .iter()
        .any(|v| matches!(v, Verdict::Contact(LegalBasis::LegitimateInterest)))
}
