//! Ledger events: what happened to a person, in the form the decision state is derived from.
//! Personal free text (evidence, reasons, e-mail) is not part of an event kind; stores keep it
//! apart so that erasure can remove it while the ledger itself stays append-only.

use crate::basis::{ContractKind, CountryCode, Relationship};
use crate::pseudonym::Identifier;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectionScope {
    /// Art. 21(2): every direct-marketing purpose and channel; needs no reason.
    DirectMarketing,
    /// Art. 21(1): every processing on legitimate interest or further processing; needs a reason.
    LegitimateInterest,
    /// One purpose.
    Purpose(String),
}

impl ObjectionScope {
    pub fn parse(s: &str) -> ObjectionScope {
        match s {
            "direct_marketing" => ObjectionScope::DirectMarketing,
            "legitimate_interest" => ObjectionScope::LegitimateInterest,
            other => ObjectionScope::Purpose(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ObjectionScope::DirectMarketing => "direct_marketing",
            ObjectionScope::LegitimateInterest => "legitimate_interest",
            ObjectionScope::Purpose(p) => p,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Relationship {
        relationship: Relationship,
        contract_kind: ContractKind,
    },
    Consent {
        purpose: String,
        channel: Option<String>,
        granted: bool,
        /// Where the consent was given or withdrawn (`web`, `call_center`, `privacy_center`…).
        source: String,
        /// The notice version the person saw.
        notice_version: String,
    },
    /// A consent was relied on to contact the person (section 7a UWG: each use is recorded).
    ConsentUse {
        purpose: String,
        channel: Option<String>,
    },
    Objection {
        scope: ObjectionScope,
    },
    Restriction {
        active: bool,
    },
    TransferConsent {
        country: CountryCode,
        granted: bool,
    },
    /// Consent given or withdrawn for one call only (N23: recording that call). It lives
    /// outside the compact state; see [`crate::calls::CallConsents`].
    CallConsent {
        purpose: String,
        call: String,
        granted: bool,
    },
    /// A transfer to a third country is necessary for the person's contract (Art. 49(1)(b)),
    /// or no longer is. The contract or order it serves is the event's evidence.
    TransferNecessity {
        country: CountryCode,
        active: bool,
    },
    /// A network identifier (IMSI, ICCID, MSISDN, IMEI) was linked to the person, or unlinked:
    /// what the gate's identifier index is folded from. The value itself is never stored, only
    /// its keyed token ([`crate::gate::identifier_token`]) under the pseudonymisation key
    /// `key_id`, so the ledger links no readable identifier to a person.
    Identifier {
        kind: Identifier,
        key_id: String,
        token: String,
        active: bool,
    },
    /// The person's personal attributes were removed; this tombstone proves the erasure.
    Erasure,
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Relationship { .. } => "relationship_set",
            EventKind::Consent { granted: true, .. } => "consent_given",
            EventKind::Consent { granted: false, .. } => "consent_withdrawn",
            EventKind::ConsentUse { .. } => "consent_used",
            EventKind::Objection { .. } => "objection_raised",
            EventKind::Restriction { active: true } => "restriction_set",
            EventKind::Restriction { active: false } => "restriction_lifted",
            EventKind::TransferConsent { granted: true, .. } => "transfer_consent_given",
            EventKind::TransferConsent { granted: false, .. } => "transfer_consent_withdrawn",
            EventKind::CallConsent { granted: true, .. } => "call_consent_given",
            EventKind::CallConsent { granted: false, .. } => "call_consent_withdrawn",
            EventKind::TransferNecessity { active: true, .. } => "transfer_necessity_recorded",
            EventKind::TransferNecessity { active: false, .. } => "transfer_necessity_ended",
            EventKind::Identifier { active: true, .. } => "identifier_linked",
            EventKind::Identifier { active: false, .. } => "identifier_unlinked",
            EventKind::Erasure => "erased",
        }
    }
}

/// An event as recorded: its place in the ledger and its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEvent {
    pub seq: i64,
    pub subject: String,
    pub at: jiff::Timestamp,
    pub kind: EventKind,
}
