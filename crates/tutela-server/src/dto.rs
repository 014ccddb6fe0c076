//! Request and response bodies of the API. Their shape is the public contract; the core's types
//! stay free of serde wire formats and are converted here.

use std::borrow::Cow;

use serde::{Deserialize, Serialize, Serializer};
use tutela_core::compiled::{ClauseSet, CompiledPolicy};
use tutela_core::reason::{Reason, ReasonSet};
use utoipa::ToSchema;

/// Reason codes, the primary first, written straight from the bit set.
#[derive(Debug, Clone, Copy)]
pub struct ReasonCodes {
    pub set: ReasonSet,
    pub primary: Reason,
}

impl Serialize for ReasonCodes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.set.ordered(self.primary).map(Reason::code))
    }
}

/// Clause ids, in the notice's order, written straight from the bit set.
#[derive(Debug, Clone, Copy)]
pub struct ClauseRefs<'p> {
    pub set: ClauseSet,
    pub policy: &'p CompiledPolicy,
}

impl Serialize for ClauseRefs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.policy.clause_ids(self.set))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectPut {
    /// `prospect`, `customer` or `former_customer`.
    pub relationship: String,
    /// `telecommunications` or `other` (default); decides the competent authority (N9h).
    pub contract_kind: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentRef {
    pub purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Objections {
    pub direct_marketing: bool,
    pub legitimate_interest: bool,
    pub purposes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Authority {
    pub id: String,
    pub name: String,
    pub address: String,
    pub email: String,
    pub web: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectView {
    pub id: String,
    /// Whether tutela has any ledger event for the person.
    pub known: bool,
    pub relationship: String,
    pub contract_kind: String,
    pub consents: Vec<ConsentRef>,
    pub objections: Objections,
    pub restricted: bool,
    pub erased: bool,
    pub transfer_consents: Vec<String>,
    /// Third countries a transfer to is necessary for the person's contract (Art. 49(1)(b)).
    pub transfer_necessities: Vec<String>,
    /// The supervisory authority competent for complaints (N9h).
    pub competent_authority: Option<Authority>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentPost {
    pub purpose: String,
    pub channel: Option<String>,
    /// `true` gives consent, `false` withdraws it.
    pub granted: bool,
    /// Where the consent was given or withdrawn: `web`, `app`, `call_center`, `letter`…
    pub source: String,
    /// Proof of the consent (Art. 7(1)); required for explicit consent.
    pub evidence: Option<String>,
    /// The notice version the person saw; defaults to the policy's.
    pub notice_version: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferConsentPost {
    /// ISO 3166-1 alpha-2 code of the third country.
    pub country: String,
    pub granted: bool,
    pub evidence: Option<String>,
}

/// Consent given or withdrawn for one call (N23: recording that call).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallConsentPost {
    /// A purpose with `consent_per_call` in the policy, e.g. `call_recording`.
    pub purpose: String,
    /// The telephony system's id of the call.
    pub call: String,
    /// `true` when the person agreed on the call; `false` when they withdrew or the call ended.
    pub granted: bool,
    /// How the person agreed (explicit consent), e.g. `IVR: pressed 1 for yes`.
    pub evidence: Option<String>,
}

/// Art. 49(1)(b): a transfer to a third country is necessary for the person's contract.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferNecessityPost {
    /// ISO 3166-1 alpha-2 code of the third country.
    pub country: String,
    /// `true` records the necessity, `false` ends it (the contract or order is done).
    pub active: bool,
    /// The contract or order the transfer serves, e.g. a roaming order; needed when `active`.
    pub contract: Option<String>,
}

/// A network identifier linked to the person, for the gate's identifier index (N7b, N19).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifierPost {
    /// `imsi`, `iccid`, `msisdn` or `imei`.
    pub kind: String,
    /// The identifier. tutela stores only its keyed token, never the value.
    pub value: String,
    /// `true` links it to the person, `false` unlinks it (the SIM or device left the contract).
    pub active: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionPost {
    /// `direct_marketing`, `legitimate_interest` or a purpose id.
    pub scope: String,
    /// Reasons from the person's particular situation; not needed for direct marketing.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictionPost {
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Recorded {
    /// The event's position in the ledger.
    pub seq: i64,
    pub at: String,
    pub event: &'static str,
    /// The idempotency key was used before for the same write; nothing new was recorded.
    pub duplicate: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentEntry {
    pub seq: i64,
    pub at: String,
    pub purpose: String,
    pub channel: Option<String>,
    pub granted: bool,
    pub source: String,
    pub evidence: Option<String>,
    pub notice_version: String,
    pub policy_version: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentHistory {
    pub subject: String,
    pub consents: Vec<ConsentEntry>,
    /// Each contact that relied on a consent (section 7a UWG).
    pub uses: Vec<ConsentUseEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentUseEntry {
    pub seq: i64,
    pub at: String,
    pub purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentUsePost {
    pub purpose: String,
    pub channel: Option<String>,
    /// The campaign or call the contact belonged to.
    pub campaign: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest<'a> {
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub subject: Cow<'a, str>,
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub purpose: Cow<'a, str>,
    #[serde(borrow)]
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    #[schema(value_type = Option<String>)]
    pub channel: Option<Cow<'a, str>>,
    #[serde(borrow)]
    #[schema(value_type = Option<String>)]
    pub recipient: Option<Cow<'a, str>>,
    #[serde(borrow)]
    #[schema(value_type = Option<String>)]
    pub country: Option<Cow<'a, str>>,
    /// The call a decision about a purpose with consent per call (call recording, N23) is
    /// made during; required for such purposes.
    #[serde(borrow, default)]
    #[schema(value_type = Option<String>)]
    pub call: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest<'a> {
    #[serde(borrow)]
    pub queries: Vec<DecisionRequest<'a>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionResponse<'p> {
    pub allowed: bool,
    /// `allow`, `deny`, or `not_configured` (a gap in the policy, never an allow).
    pub outcome: &'static str,
    pub legal_basis: Option<&'static str>,
    /// The primary reason code.
    pub reason: &'static str,
    /// The numbered rule of the engine the primary reason comes from.
    pub rule: &'static str,
    /// Every reason noted while deciding, the primary first.
    #[schema(value_type = Vec<String>)]
    pub reasons: ReasonCodes,
    /// The clauses of the notice the decision rests on.
    #[schema(value_type = Vec<String>)]
    pub notice_refs: ClauseRefs<'p>,
    /// How a third-country transfer is grounded, when one was asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<&'static str>,
    /// The request field naming what the policy does not know (gaps only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    #[schema(value_type = String)]
    pub policy_version: &'p str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse<'p> {
    pub results: Vec<DecisionResponse<'p>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPost {
    /// `access`, `portability`, `rectification`, `erasure`, `restriction`, `objection`,
    /// `withdraw_consent` or `unclassified`.
    #[serde(rename = "type")]
    pub request_type: String,
    /// The operator's id of the person, when known.
    pub subject: Option<String>,
    /// The requester's e-mail address; a code goes only to the address on file.
    pub email: Option<String>,
    /// What the request asks for, a JSON object: `lang` (`de`, `en`), for objections `scope`
    /// and `reason`, for withdrawals `purpose` and `channel`, for rectification `changes`
    /// (field → new value, texts), for restriction `reason`, further identifiers in
    /// `identities` (kind → a value or an array of values, e.g. `{"msisdn": "4915…"}`), the
    /// person's own words in `text`, and who wrote (`name`, `email`, `address`, each a text or
    /// an object of texts, or all of them in `requester`). A known key of another type is
    /// refused with a problem naming it (`details.lang`); other keys are kept as sent.
    #[schema(value_type = Object)]
    pub details: Option<tutela_runtime::requests::RequestDetails>,
    /// How the request came in: `api` (default), `email`, `privacy_center`, `letter`, `phone`.
    pub channel: Option<String>,
    /// When a letter, call or e-mail reached the operator, if before it is entered here
    /// (RFC 3339); the deadline runs from then. Not in the future.
    pub received_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyPost {
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentVerifyPost {
    /// How the identity was checked (letter with signature, call-back to the number on file…).
    pub note: String,
    /// The agent who checked the identity (their operator name or id); recorded with the
    /// transition. Required: a verification always names who made it.
    #[schema(required = true, nullable = false)]
    pub agent: Option<String>,
    /// The person, when the request did not name them.
    pub subject: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovePost {
    /// The agent who reviewed and approves the plan (their operator name or id). Required.
    #[schema(required = true, nullable = false)]
    pub agent: Option<String>,
    /// Why, or what was checked.
    pub note: Option<String>,
    /// The digests of the plans the agent was shown, by dataset (from GET
    /// /v1/requests/{id}/plan): plans changed since are refused with `plan_changed`.
    pub plans: Option<std::collections::BTreeMap<String, String>>,
}

/// The request's plans: per dataset every table, the rows (by key) and the fields it will
/// delete, anonymise, keep (with the rule and the date it ends) or change (before and after),
/// with its digest; `review_needed` and `reason`; and the approval once given.
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct PlanView(pub serde_json::Value);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendPost {
    /// 1 or 2; at most 2 in all (Art. 12(3)).
    pub months: u8,
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusePost {
    /// Why the request is manifestly unfounded or excessive (Art. 12(5)).
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyPost {
    #[serde(rename = "type")]
    pub request_type: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub step: String,
    pub status: String,
    pub attempts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// For a finished step that acts on data: how many rows (or, in tutela, events) it found
    /// or acted on; 0 says it found nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestEventView {
    pub at: String,
    pub actor: String,
    pub event: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    #[serde(rename = "type")]
    pub request_type: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub channel: String,
    pub received_at: String,
    pub due_at: String,
    pub extended_months: i64,
    pub overdue: bool,
    pub due_soon: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
    /// Where to complain (Art. 12(4), N9h), with a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complaint_authority: Option<Authority>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<RequestEventView>,
    /// The persons the request's identifiers found before verification (to the agent who
    /// verifies; never shown to the requester); only on `GET /v1/requests/{id}`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateView>,
    /// True when a create with this Idempotency-Key had happened before.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestList {
    pub requests: Vec<RequestView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskCheckPost {
    /// The operator's id of the person.
    pub subject: String,
    /// The scorecard's features, name → value (N12: contract terms, order history, payment
    /// handling, revenue…). Features the model does not use are refused.
    #[schema(value_type = Object)]
    pub facts: std::collections::HashMap<String, serde_json::Value>,
    /// Months the person's contracts with the group ran (the group's own payment experience).
    #[serde(default)]
    pub group_contract_months: u32,
    /// Sent to a credit agency only when the group's data is not enough (N13).
    pub identity: Option<AgencyRequest>,
}

/// Everything an agency may receive (N13). There is no field for anything else.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencyRequest {
    pub name: String,
    pub address: String,
    pub date_of_birth: String,
    pub iban: String,
}

impl From<AgencyRequest> for tutela_runtime::risk::agency::AgencyRequest {
    fn from(r: AgencyRequest) -> Self {
        tutela_runtime::risk::agency::AgencyRequest {
            name: r.name,
            address: r.address,
            date_of_birth: r.date_of_birth,
            iban: r.iban,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskReviewPost {
    /// `accept` or `decline`.
    pub decision: String,
    /// Why: what the reviewer saw in the facts and reasons.
    pub note: String,
    pub agent: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RiskCheckView {
    pub id: String,
    pub subject: String,
    /// `accept`, `refer` or `decline`.
    pub outcome: String,
    /// `pending` while a decline waits for a person; then `accepted` or `declined`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
    /// Probability of meeting payment obligations.
    pub probability: f64,
    pub points: f64,
    /// The features that cost the most points, and notes such as `agency_unavailable`.
    #[schema(value_type = Object)]
    pub reasons: serde_json::Value,
    pub agency_queried: bool,
    pub created_at: String,
    /// One year after the check (N15).
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RiskReviewList {
    pub pending: Vec<RiskCheckView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosurePost {
    pub subject: String,
    /// A recipient of the policy.
    pub recipient: String,
    pub purpose: String,
    pub categories: Vec<String>,
    /// The channel, for purposes that take consent per channel.
    pub channel: Option<String>,
    /// Where the recipient receives the data (ISO 3166-1 alpha-2), for the transfer rules.
    pub country: Option<String>,
    /// The legal reference, e.g. a court order under section 101 UrhG with its file number;
    /// required for disclosures on a legal obligation.
    pub reference: Option<String>,
    /// A legal bar on telling the person (authorities): left out of the person's report until
    /// `until` or until lifted.
    pub bar: Option<BarPost>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BarPost {
    pub reason: String,
    /// RFC 3339 time; none: until lifted.
    pub until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisclosureView {
    pub id: String,
    pub subject: String,
    pub at: String,
    pub recipient: String,
    pub purpose: String,
    pub categories: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Why the person is not told yet, while a legal bar holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barred_because: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisclosureList {
    pub disclosures: Vec<DisclosureView>,
    /// Disclosures left out because a legal bar holds (shown with `include_barred=true`).
    pub withheld: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub purpose: String,
    pub channel: Option<String>,
    pub categories: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudiencePost {
    pub campaign: Campaign,
    /// The persons to consider (at most 1,000,000).
    pub subjects: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Excluded {
    pub subject: String,
    /// `no_consent`, `objection`, `not_an_existing_customer`, `restricted`, `erased`, or another
    /// reason code.
    pub reason: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectionNotice {
    /// Section 7(3) UWG: every e-mail or SMS sent without consent must say that the person can
    /// object at any time, free of charge beyond the basic rates.
    pub required: bool,
    /// The language asked for with `?lang=` (`de` unless asked otherwise).
    pub lang: &'static str,
    /// The notice in that language.
    pub text: String,
    pub de: String,
    pub en: String,
    /// Where the person objects (the privacy center).
    pub link: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AudienceResponse {
    pub total: usize,
    pub contactable: Vec<String>,
    pub excluded: Vec<Excluded>,
    /// Excluded persons by reason.
    #[schema(value_type = Object)]
    pub counts: std::collections::BTreeMap<&'static str, usize>,
    pub objection_notice: ObjectionNotice,
    pub policy_version: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TcfPost {
    /// The banner's TC string (IAB TCF v2.2 or v2.3).
    pub tc_string: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TcfRecorded {
    /// Policy purposes the string grants or refuses, as recorded in the ledger.
    pub granted: Vec<String>,
    pub refused: Vec<String>,
    /// TCF purposes and vendors the string consents to, as decoded.
    pub tcf_purposes: Vec<u16>,
    pub vendors: Vec<u16>,
    pub policy_version: u8,
}

/// A person a request's identifiers found.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateView {
    /// The person's id (customer number): what `verify-by-agent` takes as `subject`.
    pub subject: String,
    /// Where the person was found: `tutela`, or a dataset id.
    pub found_in: Vec<String>,
}
