//! Reason codes: why a decision came out as it did. Each names the numbered rule of the
//! decision engine it comes from (see `decide.rs`) and the group of clauses that rule rests on.

use crate::policy::RuleRefs;

/// Whether the answer is a permission, a refusal, or a gap in configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allow,
    Deny,
    /// The query names something the policy does not know: never an allow.
    Gap,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Gap => "not_configured",
        }
    }
}

macro_rules! reasons {
    ($($variant:ident => $code:literal, $rule:literal, $refs:expr;)*) => {
        /// A reason code. The string form is part of the API contract.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Reason { $($variant),* }

        impl Reason {
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),*];

            pub fn code(self) -> &'static str {
                match self { $(Reason::$variant => $code),* }
            }

            /// The numbered rule of the decision engine that produced this reason.
            pub fn rule(self) -> &'static str {
                match self { $(Reason::$variant => $rule),* }
            }

            /// The clauses this reason rests on, as the policy's `[rule_refs]` names them.
            pub fn clause_refs(self, refs: &RuleRefs) -> &[String] {
                let pick: fn(&RuleRefs) -> Option<&Vec<String>> = match self { $(Reason::$variant => $refs),* };
                pick(refs).map_or(&[], Vec::as_slice)
            }
        }
    };
}

reasons! {
    UnknownPurpose => "unknown_purpose", "R0-configuration", |_| None;
    UnknownCategory => "unknown_category", "R0-configuration", |_| None;
    UnknownChannel => "unknown_channel", "R0-configuration", |_| None;
    UnknownRecipient => "unknown_recipient", "R0-configuration", |_| None;
    InvalidCountry => "invalid_country", "R0-configuration", |r| Some(&r.transfer);
    Erased => "subject_erased", "R1-erasure", |r| Some(&r.erasure);
    CategoryNotPermitted => "category_not_permitted", "R2-categories", |r| Some(&r.category);
    ChannelNotPermitted => "channel_not_permitted", "R3-channels", |r| Some(&r.consent);
    ChannelRequired => "channel_required", "R3-channels", |r| Some(&r.consent);
    ConsentGiven => "consent_given", "R4-consent", |r| Some(&r.consent);
    NoConsent => "consent_missing", "R4-consent", |r| Some(&r.consent);
    ConsentWithdrawn => "consent_withdrawn", "R4-consent", |r| Some(&r.withdrawal);
    ConsentRenewalNeeded => "consent_renewal_needed", "R4-consent", |r| Some(&r.consent);
    ConsentOldScope => "consent_old_scope", "R4-consent", |r| Some(&r.consent);
    ContractBasis => "contract", "R4-basis", |_| None;
    LegalObligationBasis => "legal_obligation", "R4-basis", |_| None;
    VitalInterestBasis => "vital_interest", "R4-basis", |_| None;
    PublicInterestBasis => "public_interest", "R4-basis", |_| None;
    LegitimateInterestBasis => "legitimate_interest", "R4-basis", |r| Some(&r.objection);
    FurtherProcessingBasis => "compatible_further_processing", "R4-basis", |r| Some(&r.objection);
    RelationshipRequired => "relationship_required", "R4-relationship", |r| Some(&r.relationship);
    Objected => "objected", "R5-objection", |r| Some(&r.objection);
    ObjectedDirectMarketing => "objected_direct_marketing", "R5-objection", |r| Some(&r.direct_marketing_objection);
    ObjectedLegitimateInterest => "objected_legitimate_interest", "R5-objection", |r| Some(&r.objection);
    ContinuesDespiteObjection => "continues_despite_objection", "R5-objection", |r| Some(&r.objection);
    Restricted => "restricted", "R6-restriction", |r| Some(&r.restriction);
    RecipientNotPermitted => "recipient_not_permitted", "R7-recipients", |_| None;
    RecipientCategoryNotPermitted => "recipient_category_not_permitted", "R7-recipients", |_| None;
    TransferEea => "transfer_eea", "R8-transfers", |r| Some(&r.transfer);
    TransferAdequacy => "transfer_adequacy_decision", "R8-transfers", |r| Some(&r.transfer);
    TransferSafeguards => "transfer_safeguards", "R8-transfers", |r| Some(&r.transfer);
    TransferExplicitConsent => "transfer_explicit_consent", "R8-transfers", |r| Some(&r.transfer);
    TransferContractNecessity => "transfer_contract_necessity", "R8-transfers", |r| Some(&r.transfer);
    TransferNotPermitted => "transfer_not_permitted", "R8-transfers", |r| Some(&r.transfer);
}

impl Reason {
    /// Among several failed bases, the most telling reason is shown first.
    pub(crate) fn priority(self) -> u8 {
        match self {
            Reason::ObjectedDirectMarketing => 9,
            Reason::ObjectedLegitimateInterest | Reason::Objected => 8,
            Reason::ConsentWithdrawn => 7,
            Reason::ConsentRenewalNeeded => 6,
            Reason::RelationshipRequired => 5,
            Reason::NoConsent => 4,
            _ => 1,
        }
    }
}

/// A set of reasons as a bit set: noting a reason costs one OR, and nothing is allocated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReasonSet(u64);

impl ReasonSet {
    pub fn insert(&mut self, r: Reason) {
        self.0 |= 1u64 << (r as u8 & 63);
    }

    pub fn contains(&self, r: Reason) -> bool {
        self.0 & (1u64 << (r as u8 & 63)) != 0
    }

    /// The bits, by `Reason as u8`.
    pub fn bits(&self) -> u64 {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// `primary` first, then the others in the order of the catalog.
    pub fn ordered(self, primary: Reason) -> impl Iterator<Item = Reason> {
        std::iter::once(primary).chain(
            Reason::ALL
                .iter()
                .copied()
                .filter(move |r| *r != primary && self.contains(*r)),
        )
    }
}
