//! The validated policy. Every reference between elements is an index that was checked, every
//! text exists in German and English, every period is positive. A `Policy` cannot be invalid.

use crate::basis::{ContractKind, CountryCode, LegalBasis, Relationship};
use crate::duration::Period;
use crate::lang::Lang;

/// German and English text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text {
    pub de: String,
    pub en: String,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::De => &self.de,
            Lang::En => &self.en,
        }
    }
}

/// A clause id of the notice, such as `N18`.
pub type ClauseId = String;

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    /// The notice version the policy encodes, e.g. `2026-01` (N33).
    pub version: String,
    /// SHA-256 over every source file, in load order: the policy version decisions name.
    pub hash: String,
    pub title: Text,
    pub notice_refs: Vec<ClauseId>,
    /// The files the policy was loaded from, root first.
    pub sources: Vec<String>,
    pub controller: Controller,
    pub sections: Vec<Section>,
    pub authorities: Vec<Authority>,
    pub rights: Vec<Right>,
    pub channels: Vec<Channel>,
    pub categories: Vec<Category>,
    pub purposes: Vec<Purpose>,
    pub recipients: Vec<Recipient>,
    pub transfers: Transfers,
    pub retention: Vec<RetentionRule>,
    pub rule_refs: RuleRefs,
    /// The risk check's rules (N11–N15), when the policy has a risk check.
    pub risk: Option<RiskRules>,
    /// How anonymous statistics are released (N7c, N16, N25), when the policy allows them.
    pub statistics: Option<StatisticsRules>,
    /// What redaction of free text knows of the operator's identifiers (N24, N25).
    pub redaction: Option<RedactionRules>,
    /// Which request plans run without an agent's review; without a `[review]`, every plan
    /// that writes to the operator's databases is reviewed.
    pub review: ReviewRules,
}

/// Which request plans for the operator's databases run without an agent's review.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReviewRules {
    /// An erasure plan runs unreviewed when every category it erases is processed only on
    /// these legal bases (for example consent and legitimate interests: the person's
    /// withdrawal or objection ends that processing anyway).
    pub erasure_without_review: Vec<LegalBasis>,
    pub notice_refs: Vec<ClauseId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactionRules {
    /// A regular expression for the operator's customer numbers (checked when loaded).
    pub customer_number: Option<String>,
    pub notice_refs: Vec<ClauseId>,
}

/// What makes a statistic anonymous enough to leave (WP29 Opinion 05/2014: aggregation with
/// a minimum group size, and noise with a budget for repeated releases).
#[derive(Debug, Clone, PartialEq)]
pub struct StatisticsRules {
    /// k: a group with fewer distinct persons is never released.
    pub min_group_size: u32,
    /// The rows of one person a query counts unless it asks for another bound.
    pub rows_per_person: u32,
    /// The privacy loss all noisy releases from one dataset may add up to.
    pub budget_epsilon: crate::stats::Epsilon,
    /// The delta they may add up to; without it, only Laplace noise (pure ε) is released.
    pub budget_delta: Option<crate::stats::Delta>,
    /// The purposes whose pseudonymised datasets may be queried.
    pub purposes: Vec<String>,
    pub notice_refs: Vec<ClauseId>,
}

/// How a risk check decides (N11–N15, Art. 22 GDPR, section 31 BDSG).
#[derive(Debug, Clone, PartialEq)]
pub struct RiskRules {
    /// From this probability of meeting payment obligations on, the check accepts.
    pub accept_from: f64,
    /// Below this probability it declines, which a person reviews before it is final (Art. 22).
    pub decline_below: f64,
    /// The group's data is not enough (N13) when the person's contracts ran for fewer months.
    pub agency_below_months: u32,
    /// Features a scorecard may not use (protected attributes).
    pub excluded_features: Vec<String>,
    /// Features that are address data: a score may not rest on them alone (section 31 BDSG).
    pub address_features: Vec<String>,
    pub notice_refs: Vec<ClauseId>,
}

#[derive(Debug, Clone)]
pub struct Controller {
    pub name: String,
    pub address: String,
    pub contact_url: String,
    pub rights_email: String,
    pub dpo_address: String,
    pub dpo_email: String,
    pub notice_refs: Vec<ClauseId>,
}

#[derive(Debug, Clone)]
pub struct Section {
    pub id: String,
    pub heading: Text,
    pub text: Option<Text>,
    pub after: Option<Text>,
    pub notice_refs: Vec<ClauseId>,
}

#[derive(Debug, Clone)]
pub struct Authority {
    pub id: String,
    pub name: Text,
    pub address: String,
    pub email: String,
    pub web: String,
    pub competent_for: ContractKind,
    pub notice_refs: Vec<ClauseId>,
}

#[derive(Debug, Clone)]
pub struct Right {
    pub id: String,
    pub article: Text,
    pub text: Text,
    pub notice_refs: Vec<ClauseId>,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub label: Text,
    pub notice_refs: Vec<ClauseId>,
}

#[derive(Debug, Clone)]
pub struct Category {
    pub id: String,
    pub label: Text,
    /// Where the data comes from when not from the person (Art. 14, 15(1)(g)).
    pub source: Option<Text>,
    pub notice_refs: Vec<ClauseId>,
}

#[derive(Debug, Clone)]
pub struct Basis {
    pub legal_basis: LegalBasis,
    pub explicit: bool,
    /// Bit set of [`Relationship::bit`]; 0 means any relationship, or none.
    pub requires_relationship: u8,
    pub note: Option<Text>,
    pub notice_refs: Vec<ClauseId>,
}

#[derive(Debug, Clone)]
pub struct Purpose {
    pub id: String,
    pub section: usize,
    pub label: Text,
    pub description: Text,
    pub categories: Vec<usize>,
    /// Tried in order; the first that holds is the legal basis of the decision.
    pub bases: Vec<Basis>,
    pub channels: Vec<usize>,
    pub consent_per_channel: bool,
    /// Consent is given for one call and holds at most this long (N23).
    pub consent_per_call: Option<Period>,
    pub direct_marketing: bool,
    pub survives_objection: bool,
    pub permitted_under_restriction: bool,
    pub permitted_after_erasure: bool,
    /// Consent evidence kept this long from the grant and from each use (section 7a UWG).
    pub consent_evidence_kept: Option<Period>,
    /// IAB TCF purposes whose consent is consent to this purpose (N20).
    pub tcf_purposes: Vec<u8>,
    pub retention: Option<usize>,
    /// Consents given before the purpose was widened, and what they cover until renewed.
    pub renewal: Option<Renewal>,
    pub notice_refs: Vec<ClauseId>,
}

/// A consent purpose widened in notice version `since` (N33): consents given under an earlier
/// version need renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    pub since: String,
    /// Until renewed, the consent covers these categories only; `None`: nothing (suspended).
    pub old_categories: Option<Vec<usize>>,
}

impl Renewal {
    /// Whether a consent given under notice version `given_under` needs renewal. Notice
    /// versions are `YYYY-MM`, so their order is their text's order.
    pub fn needed(&self, given_under: &str) -> bool {
        given_under < self.since.as_str()
    }
}

impl Purpose {
    pub fn consent_basis(&self) -> Option<&Basis> {
        self.bases
            .iter()
            .find(|b| b.legal_basis == LegalBasis::Consent)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientKind {
    Processor,
    Partner,
    Controller,
    Authority,
}

impl RecipientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientKind::Processor => "processor",
            RecipientKind::Partner => "partner",
            RecipientKind::Controller => "controller",
            RecipientKind::Authority => "authority",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recipient {
    pub id: String,
    pub kind: RecipientKind,
    pub area: Option<String>,
    pub label: Text,
    pub purposes: Vec<usize>,
    pub categories: Vec<usize>,
    pub countries: Vec<CountryCode>,
    pub dpf_certified: bool,
    pub safeguards: Vec<Safeguard>,
    pub contract_ref: Option<String>,
    pub notice_refs: Vec<ClauseId>,
}

#[derive(Debug, Clone)]
pub struct Safeguard {
    pub mechanism: String,
    pub countries: Vec<CountryCode>,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Transfers {
    pub eea: Vec<CountryCode>,
    pub adequacy: Vec<Adequacy>,
    /// The Art. 49 derogations the controller relies on for a person; none unless listed.
    pub derogations: Vec<Derogation>,
    pub notice_refs: Vec<ClauseId>,
}

/// A ground for a transfer without adequacy or safeguards (Art. 49(1)), recorded per person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derogation {
    /// Art. 49(1)(a): the person's explicit consent after being told the risks.
    ExplicitConsent,
    /// Art. 49(1)(b): necessary for the contract with the person (or steps they asked for).
    ContractNecessity,
}

impl Derogation {
    pub const ALL: [Derogation; 2] = [Derogation::ExplicitConsent, Derogation::ContractNecessity];

    pub fn as_str(self) -> &'static str {
        match self {
            Derogation::ExplicitConsent => "explicit_consent",
            Derogation::ContractNecessity => "contract_necessity",
        }
    }

    pub fn article(self) -> &'static str {
        match self {
            Derogation::ExplicitConsent => "Art. 49(1)(a)",
            Derogation::ContractNecessity => "Art. 49(1)(b)",
        }
    }

    pub fn parse(s: &str) -> Option<Derogation> {
        Derogation::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct Adequacy {
    pub country: CountryCode,
    pub decided: jiff::civil::Date,
    pub until: Option<jiff::civil::Date>,
    pub requires_dpf: bool,
    pub note: Option<Note>,
}

/// What an adequacy entry notes about the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A plain string: for the operator (a reminder, a case number), never shown to a person.
    Operator(String),
    /// German and English: shown with the decision in the reader's language.
    Reader(Text),
}

impl Note {
    /// The note in `lang` when a person may read it.
    pub fn for_reader(&self, lang: Lang) -> Option<&str> {
        match self {
            Note::Operator(_) => None,
            Note::Reader(t) => Some(t.get(lang)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionStart {
    Collection,
    ContractEnd,
    EndOfCalendarYear,
    Event,
}

#[derive(Debug, Clone)]
pub struct RetentionRule {
    pub id: String,
    pub period: Period,
    pub from: RetentionStart,
    pub label: Text,
    pub categories: Vec<usize>,
    /// A legal duty to keep the data for the period, not only a limit on keeping it.
    pub obligation: bool,
    pub notice_refs: Vec<ClauseId>,
}

impl RetentionRule {
    /// The first day (UTC) whose rows are still inside the period on `today`: a row whose
    /// start column lies before this day has outlived the rule and may be deleted today.
    /// For a period from the end of the calendar year that is 1 January of the latest year
    /// whose 31 December plus the period lies before `today` (law.md 2.1: deletion is eligible
    /// from the day after the period ends). `None` for rules that wait for another event, or
    /// when the arithmetic leaves the calendar.
    pub fn cutoff(&self, today: jiff::civil::Date) -> Option<jiff::civil::Date> {
        match self.from {
            RetentionStart::Collection => today.checked_sub(self.period.to_span()).ok(),
            RetentionStart::EndOfCalendarYear => {
                let mut year = today.year();
                // At most a few steps: the first year tried is at most one period too late.
                let first = today
                    .checked_sub(self.period.to_span())
                    .ok()
                    .map_or(year, |d| d.year());
                year = year.min(first);
                loop {
                    let end = jiff::civil::Date::new(year, 12, 31).ok()?;
                    if end.checked_add(self.period.to_span()).ok()? < today {
                        return jiff::civil::Date::new(year.checked_add(1)?, 1, 1).ok();
                    }
                    year = year.checked_sub(1)?;
                }
            }
            RetentionStart::ContractEnd | RetentionStart::Event => None,
        }
    }

    /// When data collected at `collected` must be gone, for rules that run from collection or
    /// from the end of its calendar year (UTC); `None` for rules that wait for another event
    /// (contract end, an event the caller names), or past the end of time.
    pub fn end_from_collection(&self, collected: jiff::Timestamp) -> Option<jiff::Timestamp> {
        let utc = collected.to_zoned(jiff::tz::TimeZone::UTC);
        let start = match self.from {
            RetentionStart::Collection => utc,
            RetentionStart::EndOfCalendarYear => jiff::civil::date(utc.year(), 12, 31)
                .at(23, 59, 59, 999_999_999)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .ok()?,
            RetentionStart::ContractEnd | RetentionStart::Event => return None,
        };
        start
            .checked_add(self.period.to_span())
            .ok()
            .map(|z| z.timestamp())
    }
}

#[derive(Debug, Clone, Default)]
pub struct RuleRefs {
    pub consent: Vec<ClauseId>,
    pub withdrawal: Vec<ClauseId>,
    pub objection: Vec<ClauseId>,
    pub direct_marketing_objection: Vec<ClauseId>,
    pub restriction: Vec<ClauseId>,
    pub erasure: Vec<ClauseId>,
    pub category: Vec<ClauseId>,
    pub transfer: Vec<ClauseId>,
    pub relationship: Vec<ClauseId>,
}

impl Policy {
    pub fn purpose(&self, id: &str) -> Option<usize> {
        self.purposes.iter().position(|p| p.id == id)
    }
    pub fn category(&self, id: &str) -> Option<usize> {
        self.categories.iter().position(|c| c.id == id)
    }
    pub fn channel(&self, id: &str) -> Option<usize> {
        self.channels.iter().position(|c| c.id == id)
    }
    pub fn recipient(&self, id: &str) -> Option<usize> {
        self.recipients.iter().position(|r| r.id == id)
    }
    /// The supervisory authority competent for a person with this kind of contract (N9h).
    pub fn competent_authority(&self, kind: ContractKind) -> Option<&Authority> {
        self.authorities.iter().find(|a| a.competent_for == kind)
    }
    /// Whether the relationship set allows `r`.
    pub fn relationship_allowed(mask: u8, r: Relationship) -> bool {
        mask == 0 || mask & r.bit() != 0
    }
}
