//! The Art. 15 access report: every item of Art. 15(1)(a)–(h) and 15(2) taken from the policy
//! and the person's state, plus the copy of the data (15(3)), in German or English, as a
//! document (serialisable) and as HTML written from that document.
//!
//! Which purposes are listed is decided by the decision engine, not by a second copy of the
//! rules: a purpose is listed when the person's current state allows it for all its categories,
//! or when the person ever consented to it.
//!
//! The document keeps the policy's ids (for machines reading the JSON) and beside them the
//! words a person reads: every label from the policy's own texts, the dataset map's labels or
//! the tables in [`terms`] and [`transfer`], dates in the controller's time zone
//! ([`crate::words`]). The HTML shows only the words (Art. 12(1): clear and plain language).

mod build;
mod copy;
mod html;
mod style;
mod terms;
#[cfg(test)]
mod tests;
mod transfer;

use serde::Serialize;

use crate::compiled::CompiledPolicy;
use crate::datamap::Label;
use crate::lang::Lang;
use crate::state::SubjectState;

pub use build::build;
pub use html::render_html;
pub use terms::recipient_kind;
pub use terms::relationship as relationship_words;

/// One entry of the person's history in tutela's ledger, without anything the policy holds.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at: String,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The policy version (hash) in force when it was recorded: the notice the person was
    /// shown is in the archive under it (`/v1/notice?version=…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
}

/// Rows collected from one table of one of the operator's databases.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct CollectedTable {
    pub dataset: String,
    pub table: String,
    pub columns: Vec<String>,
    /// The data category of each column (policy ids).
    pub categories: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// The table's name for people, from the dataset map (absent in collections made before
    /// maps had labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Each column's name for people, from the dataset map, beside `columns`; empty or `None`
    /// where the map has none (the report then names the column's category).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Option<Label>>,
}

/// A risk check of the person (N11–N15), for Art. 15(1)(h).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RiskCheckEntry {
    pub at: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
    /// Probability of meeting payment obligations.
    pub probability: f64,
    pub points: f64,
    /// The features that cost the most points.
    pub reasons: Vec<crate::risk::ScoreReason>,
    pub agency_queried: bool,
    pub kept_until: String,
}

/// A disclosure of the person's data to a recipient (N26–N28), for Art. 15(1)(c).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DisclosureEntry {
    pub at: String,
    pub recipient: String,
    pub purpose: String,
    pub categories: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// What the report is built from.
pub struct ReportInput<'a> {
    pub policy: &'a CompiledPolicy,
    pub subject: &'a str,
    pub state: &'a SubjectState,
    pub email: Option<&'a str>,
    pub history: &'a [HistoryEntry],
    pub tables: &'a [CollectedTable],
    pub risk_checks: &'a [RiskCheckEntry],
    /// Disclosures the person may be told of (no legal bar holds).
    pub disclosures: &'a [DisclosureEntry],
    pub now: jiff::Timestamp,
    pub lang: Lang,
    /// The controller's time zone: every date and time of the report is written in it.
    pub time_zone: &'a jiff::tz::TimeZone,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccessReport {
    pub report: &'static str,
    pub language: &'static str,
    pub subject: String,
    pub generated_at: String,
    /// `generated_at` in the reader's words and the controller's time zone.
    pub generated_at_text: String,
    pub policy_version: String,
    pub notice_version: String,
    pub controller: Party,
    pub data_protection_officer: Party,
    /// Art. 15(1): whether personal data of the person is processed at all.
    pub processed: bool,
    /// Art. 15(1)(a).
    pub purposes: Vec<PurposeItem>,
    /// Art. 15(1)(b).
    pub categories: Vec<Labelled>,
    /// Art. 15(1)(c).
    pub recipients: Vec<RecipientItem>,
    /// Art. 15(1)(d).
    pub retention: Vec<RetentionItem>,
    /// Art. 15(1)(e).
    pub rights: Vec<RightItem>,
    /// Art. 15(1)(f).
    pub complaint: Option<Party>,
    /// Art. 15(1)(g).
    pub sources: Vec<SourceItem>,
    /// Art. 15(1)(h).
    pub automated_decisions: Vec<AutomatedItem>,
    /// The risk checks made for the person, with their logic's outcome and reasons.
    pub risk_checks: Vec<RiskCheckEntry>,
    /// The same risk checks in words.
    pub risk_checks_text: Vec<RiskCheckText>,
    /// Recipients that actually received the person's data: the disclosure log and the
    /// credit agencies asked in risk checks.
    pub disclosed_to: Vec<String>,
    /// Their names from the policy, in the same order.
    pub disclosed_to_labels: Vec<String>,
    /// Each logged disclosure.
    pub disclosures: Vec<DisclosureEntry>,
    /// Each logged disclosure in words.
    pub disclosures_text: Vec<DisclosureText>,
    /// Art. 15(2).
    pub transfer_safeguards: Vec<SafeguardItem>,
    /// The Art. 49 grounds recorded for this person, per third country (N31).
    pub transfer_derogations: Vec<DerogationItem>,
    /// Art. 15(3).
    pub copy: Copy,
}

#[derive(Debug, Clone, Serialize)]
pub struct Party {
    pub name: String,
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Labelled {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PurposeItem {
    pub id: String,
    pub label: String,
    pub description: String,
    /// The DPV id of the legal basis the processing rests on now, if any.
    pub legal_basis: Option<String>,
    /// The legal basis in words with its article, e.g. "Ihre Einwilligung (Art. 6 Abs. 1
    /// lit. a DSGVO)".
    pub legal_basis_text: Option<String>,
    pub categories: Vec<String>,
    /// The categories' names, in the same order.
    pub category_labels: Vec<String>,
    /// The person's consent was given before the purpose was widened and needs renewal (N33).
    pub renewal_needed: bool,
    pub notice_refs: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecipientItem {
    pub id: String,
    pub kind: &'static str,
    /// The kind in words ("Auftragsverarbeiter", "processor").
    pub kind_text: &'static str,
    pub label: String,
    pub countries: Vec<String>,
    /// The countries' names, in the same order.
    pub country_names: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetentionItem {
    pub id: String,
    pub period: String,
    pub text: String,
    /// The names of the person's categories the rule keeps or deletes.
    pub category_labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RightItem {
    pub id: String,
    pub article: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceItem {
    pub category: String,
    pub category_label: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AutomatedItem {
    pub purpose: String,
    /// The purpose's name.
    pub label: String,
    pub logic: String,
    /// Whether a result of it is among the person's data.
    pub used_for_this_person: bool,
}

/// A risk check in words.
#[derive(Debug, Clone, Serialize)]
pub struct RiskCheckText {
    pub at: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
    /// The probability of meeting payment obligations, as a percentage.
    pub probability: String,
    /// The features that cost the most points, each as "feature: value".
    pub reasons: Vec<String>,
    pub agency_queried: bool,
    pub kept_until: String,
}

/// A logged disclosure in words.
#[derive(Debug, Clone, Serialize)]
pub struct DisclosureText {
    pub at: String,
    pub recipient: String,
    pub purpose: String,
    pub categories: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SafeguardItem {
    pub recipient: String,
    pub recipient_label: String,
    pub country: String,
    pub country_name: String,
    /// The DPV id of the Art. 46 safeguard, when the ground is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    /// The ground in words.
    pub ground: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DerogationItem {
    pub country: String,
    pub country_name: String,
    pub ground: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Copy {
    pub tutela: TutelaRecords,
    pub tables: Vec<CopyTable>,
}

/// A table of the copy: the collected rows as they are, and their headings and cells as a
/// person reads them.
#[derive(Debug, Clone, Serialize)]
pub struct CopyTable {
    #[serde(flatten)]
    pub data: CollectedTable,
    /// The table's name: its label in the dataset map, else the name of its data's category.
    pub title: String,
    /// Each column's name: its label in the map, else its category's name.
    pub headings: Vec<String>,
    /// The rows with dates and times in words; only for the HTML (the JSON keeps `rows`).
    #[serde(skip)]
    pub cells: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TutelaRecords {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub relationship: &'static str,
    /// The relationship in words ("Kunde/Kundin", "customer").
    pub relationship_text: &'static str,
    pub contract_kind: &'static str,
    pub history: Vec<HistoryEntry>,
    /// The history as sentences, oldest first.
    pub events: Vec<EventLine>,
}

/// One entry of the history as a person reads it.
#[derive(Debug, Clone, Serialize)]
pub struct EventLine {
    pub at: String,
    pub text: String,
    /// Where it happened (the source of a consent), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The notice the person saw then: policy version (hash) and notice version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<(String, String)>,
}
