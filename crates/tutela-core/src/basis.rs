//! Legal bases, relationships and contract kinds: the closed vocabularies the law gives us.

use std::fmt;
use std::str::FromStr;

/// A legal basis under Art. 6 GDPR, named by its W3C DPV `eu-gdpr:` identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LegalBasis {
    /// Art. 6(1)(a): consent.
    Consent,
    /// Art. 6(1)(b): contract or pre-contractual steps.
    Contract,
    /// Art. 6(1)(c): legal obligation.
    LegalObligation,
    /// Art. 6(1)(d): vital interests.
    VitalInterest,
    /// Art. 6(1)(e): public interest or official authority.
    PublicInterest,
    /// Art. 6(1)(f): legitimate interests.
    LegitimateInterest,
    /// Art. 6(4): further processing compatible with the original purpose.
    CompatibleFurtherProcessing,
}

impl LegalBasis {
    pub const ALL: [LegalBasis; 7] = [
        LegalBasis::Consent,
        LegalBasis::Contract,
        LegalBasis::LegalObligation,
        LegalBasis::VitalInterest,
        LegalBasis::PublicInterest,
        LegalBasis::LegitimateInterest,
        LegalBasis::CompatibleFurtherProcessing,
    ];

    /// The DPV identifier, e.g. `eu-gdpr:A6-1-a`.
    pub fn dpv_id(self) -> &'static str {
        match self {
            LegalBasis::Consent => "eu-gdpr:A6-1-a",
            LegalBasis::Contract => "eu-gdpr:A6-1-b",
            LegalBasis::LegalObligation => "eu-gdpr:A6-1-c",
            LegalBasis::VitalInterest => "eu-gdpr:A6-1-d",
            LegalBasis::PublicInterest => "eu-gdpr:A6-1-e",
            LegalBasis::LegitimateInterest => "eu-gdpr:A6-1-f",
            LegalBasis::CompatibleFurtherProcessing => "eu-gdpr:A6-4",
        }
    }

    /// The article as a person reads it, e.g. `Art. 6 Abs. 1 lit. a DSGVO`.
    pub fn article(self, lang: crate::lang::Lang) -> &'static str {
        use crate::lang::Lang::{De, En};
        match (self, lang) {
            (LegalBasis::Consent, De) => "Art. 6 Abs. 1 lit. a DSGVO",
            (LegalBasis::Contract, De) => "Art. 6 Abs. 1 lit. b DSGVO",
            (LegalBasis::LegalObligation, De) => "Art. 6 Abs. 1 lit. c DSGVO",
            (LegalBasis::VitalInterest, De) => "Art. 6 Abs. 1 lit. d DSGVO",
            (LegalBasis::PublicInterest, De) => "Art. 6 Abs. 1 lit. e DSGVO",
            (LegalBasis::LegitimateInterest, De) => "Art. 6 Abs. 1 lit. f DSGVO",
            (LegalBasis::CompatibleFurtherProcessing, De) => "Art. 6 Abs. 4 DSGVO",
            (LegalBasis::Consent, En) => "Art. 6(1)(a) GDPR",
            (LegalBasis::Contract, En) => "Art. 6(1)(b) GDPR",
            (LegalBasis::LegalObligation, En) => "Art. 6(1)(c) GDPR",
            (LegalBasis::VitalInterest, En) => "Art. 6(1)(d) GDPR",
            (LegalBasis::PublicInterest, En) => "Art. 6(1)(e) GDPR",
            (LegalBasis::LegitimateInterest, En) => "Art. 6(1)(f) GDPR",
            (LegalBasis::CompatibleFurtherProcessing, En) => "Art. 6(4) GDPR",
        }
    }

    /// Whether the person can object to processing on this basis (Art. 21(1), N8).
    pub fn objectable(self) -> bool {
        matches!(
            self,
            LegalBasis::LegitimateInterest
                | LegalBasis::PublicInterest
                | LegalBasis::CompatibleFurtherProcessing
        )
    }
}

impl fmt::Display for LegalBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dpv_id())
    }
}

/// The input named no legal basis tutela knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown legal basis `{0}`")]
pub struct UnknownLegalBasis(pub String);

impl FromStr for LegalBasis {
    type Err = UnknownLegalBasis;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LegalBasis::ALL
            .into_iter()
            .find(|b| b.dpv_id() == s)
            .ok_or_else(|| UnknownLegalBasis(s.to_owned()))
    }
}

/// The person's relationship to the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Relationship {
    /// Nothing is known of the person (no ledger entry sets a relationship).
    #[default]
    Unknown = 0,
    Prospect = 1,
    Customer = 2,
    FormerCustomer = 3,
}

impl Relationship {
    pub const KNOWN: [Relationship; 3] = [
        Relationship::Prospect,
        Relationship::Customer,
        Relationship::FormerCustomer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::Unknown => "unknown",
            Relationship::Prospect => "prospect",
            Relationship::Customer => "customer",
            Relationship::FormerCustomer => "former_customer",
        }
    }

    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl FromStr for Relationship {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Relationship::KNOWN
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(())
    }
}

/// The kind of contract; it decides which supervisory authority is competent (N9h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum ContractKind {
    #[default]
    Other = 0,
    Telecommunications = 1,
}

impl ContractKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractKind::Other => "other",
            ContractKind::Telecommunications => "telecommunications",
        }
    }
}

impl FromStr for ContractKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "other" => Ok(ContractKind::Other),
            "telecommunications" => Ok(ContractKind::Telecommunications),
            _ => Err(()),
        }
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses `DE`, `us` and the like; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic) {
            Some(CountryCode([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
            ]))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
