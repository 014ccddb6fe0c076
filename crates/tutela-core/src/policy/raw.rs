//! The policy file as written: serde structures that keep the source span of every id, so that
//! validation can point at file, line and column. Nothing here is checked beyond TOML syntax.

use serde::Deserialize;
use toml::Spanned;

pub type Id = Spanned<String>;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub policy: Option<RawHeader>,
    pub controller: Option<RawController>,
    pub transfers: Option<RawTransfers>,
    pub rule_refs: Option<Spanned<RawRuleRefs>>,
    pub risk: Option<Spanned<RawRisk>>,
    pub statistics: Option<Spanned<RawStatistics>>,
    pub redaction: Option<Spanned<RawRedaction>>,
    pub review: Option<Spanned<RawReview>>,
    #[serde(default)]
    pub section: Vec<RawSection>,
    #[serde(default)]
    pub authority: Vec<RawAuthority>,
    #[serde(default)]
    pub right: Vec<RawRight>,
    #[serde(default)]
    pub channel: Vec<RawChannel>,
    #[serde(default)]
    pub category: Vec<RawCategory>,
    #[serde(default)]
    pub purpose: Vec<RawPurpose>,
    #[serde(default)]
    pub recipient: Vec<RawRecipient>,
    #[serde(default)]
    pub retention: Vec<RawRetention>,
}

/// The risk check (N11–N15): thresholds on the probability of meeting payment obligations,
/// when the group's data is not enough, and which features a scorecard may not use.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawRisk {
    pub accept_from: f64,
    pub decline_below: f64,
    #[serde(default)]
    pub agency_below_months: u32,
    #[serde(default)]
    pub excluded_features: Vec<String>,
    #[serde(default)]
    pub address_features: Vec<String>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

/// Anonymous statistics (N7c, N16, N25): the smallest group released, the privacy budget of
/// each dataset, and which purposes' datasets may be queried.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawStatistics {
    pub min_group_size: u32,
    pub rows_per_person: u32,
    pub budget_epsilon: f64,
    pub budget_delta: Option<f64>,
    #[serde(default)]
    pub purposes: Vec<Id>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

/// Redaction of free text (N24, N25): the operator's own identifier patterns.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawRedaction {
    pub customer_number: Option<Spanned<String>>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

/// Which request plans for the operator's databases run without an agent's review.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawReview {
    /// Erasure plans that touch only data processed on these legal bases run unreviewed.
    #[serde(default)]
    pub erasure_without_review: Vec<Spanned<String>>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

/// German and English text; both are required (user-facing text speaks both languages).
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct RawText {
    pub de: String,
    pub en: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub id: Id,
    pub version: Spanned<String>,
    pub title: RawText,
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawController {
    pub name: String,
    pub address: String,
    pub contact_url: String,
    pub rights_email: String,
    pub dpo_address: String,
    pub dpo_email: String,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSection {
    pub id: Id,
    pub heading: RawText,
    pub text: Option<RawText>,
    pub after: Option<RawText>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuthority {
    pub id: Id,
    pub name: RawText,
    pub address: String,
    pub email: String,
    pub web: String,
    /// `telecommunications` or `other`: the contracts for which this authority is competent.
    pub competent_for: Spanned<String>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRight {
    pub id: Id,
    pub article: RawText,
    pub text: RawText,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    pub id: Id,
    pub label: RawText,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCategory {
    pub id: Id,
    pub label: RawText,
    pub source: Option<RawText>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPurpose {
    pub id: Id,
    pub section: Id,
    pub label: RawText,
    pub description: RawText,
    pub categories: Vec<Id>,
    pub basis: Vec<RawBasis>,
    #[serde(default)]
    pub channels: Vec<Id>,
    /// Consent is recorded per channel (marketing by e-mail, SMS, phone).
    #[serde(default)]
    pub consent_per_channel: bool,
    /// Consent is given for one call (N23: recording a service call) and holds at most this
    /// long, e.g. `P1D`; the call's end or a withdrawal ends it sooner.
    pub consent_per_call: Option<Spanned<String>>,
    /// An Art. 21(2) objection to direct marketing stops this purpose.
    #[serde(default)]
    pub direct_marketing: bool,
    /// Processing continues despite an objection (N5a: legal claims).
    #[serde(default)]
    pub survives_objection: bool,
    /// Permitted while processing is restricted (Art. 18(2)).
    #[serde(default)]
    pub permitted_under_restriction: bool,
    /// Permitted after the person was erased (legal retention storage only).
    #[serde(default)]
    pub permitted_after_erasure: bool,
    /// How long the evidence of a consent is kept from its grant and from each use
    /// (section 7a UWG: five years for phone marketing), even through an erasure.
    pub consent_evidence_kept: Option<Spanned<String>>,
    /// The IAB TCF purposes (1–11) whose consent in a banner's TC string is consent to this
    /// purpose (N20): all of them must be granted.
    #[serde(default)]
    pub tcf_purposes: Vec<Spanned<u8>>,
    pub retention: Option<Id>,
    /// The purpose was widened in a notice version: consents given before it need renewal.
    pub renewal: Option<RawRenewal>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

/// `[purpose.renewal]`: what a consent given under an earlier, narrower notice still covers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRenewal {
    /// The notice version that widened the purpose; consents given under earlier versions
    /// need renewal.
    pub since: Id,
    /// `old_scope`: until renewed, the consent covers `old_categories` only; `suspend`: it
    /// covers nothing until renewed.
    pub until_renewed: Id,
    #[serde(default)]
    pub old_categories: Vec<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBasis {
    pub legal_basis: Id,
    /// Consent must be explicit and carry evidence (call recording, N23).
    #[serde(default)]
    pub explicit: bool,
    /// The basis holds only for people in one of these relationships.
    #[serde(default)]
    pub requires_relationship: Vec<Id>,
    pub note: Option<RawText>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecipient {
    pub id: Id,
    /// `processor`, `partner`, `controller` or `authority`.
    pub kind: Id,
    pub area: Option<Id>,
    pub label: RawText,
    pub purposes: Vec<Id>,
    pub categories: Vec<Id>,
    #[serde(default)]
    pub countries: Vec<Id>,
    /// Certified under the EU-US Data Privacy Framework.
    #[serde(default)]
    pub dpf_certified: bool,
    #[serde(default)]
    pub safeguards: Vec<RawSafeguard>,
    pub contract_ref: Option<String>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSafeguard {
    /// A DPV identifier such as `eu-gdpr:A46-2-c` (standard contractual clauses).
    pub mechanism: Id,
    pub countries: Vec<Id>,
    pub reference: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransfers {
    pub eea: Vec<Id>,
    #[serde(default)]
    pub adequacy: Vec<RawAdequacy>,
    /// The Art. 49 derogations the controller relies on, recorded per person.
    #[serde(default)]
    pub derogations: Vec<Id>,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdequacy {
    pub country: Id,
    pub decided: Spanned<String>,
    pub until: Option<Spanned<String>>,
    /// Only recipients certified under the Data Privacy Framework are covered (the US).
    #[serde(default)]
    pub requires_dpf: bool,
    pub note: Option<Spanned<RawNote>>,
}

/// An adequacy decision's note: a plain string for the operator, or `{ de, en }` that the
/// person reads with the decision (issue 32).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawNote {
    Operator(String),
    Reader(RawText),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub id: Id,
    pub period: Spanned<String>,
    /// `collection`, `contract_end`, `end_of_calendar_year` or `event`.
    pub from: Id,
    pub label: RawText,
    #[serde(default)]
    pub categories: Vec<Id>,
    /// A legal duty to keep the data for the period (Art. 6(1)(c), Art. 17(3)(b)): an erasure
    /// restricts such rows instead of deleting them. Without it the period is only a limit.
    #[serde(default)]
    pub obligation: bool,
    #[serde(default)]
    pub notice_ref: Vec<Id>,
}

/// The clause ids behind each mechanism of the decision engine, so that every decision can cite
/// the notice without the engine knowing the notice.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuleRefs {
    pub consent: Vec<Id>,
    pub withdrawal: Vec<Id>,
    pub objection: Vec<Id>,
    pub direct_marketing_objection: Vec<Id>,
    pub restriction: Vec<Id>,
    pub erasure: Vec<Id>,
    pub category: Vec<Id>,
    pub transfer: Vec<Id>,
    pub relationship: Vec<Id>,
}
