//! The policy compiled for speed: ids resolved to small indices, sets as bit masks, countries in
//! a flat table. Built once per policy; decisions read it and never allocate.

use rustc_hash::FxHashMap;

use crate::basis::{CountryCode, LegalBasis};
use crate::ledger::{EventKind, ObjectionScope};
use crate::policy::{Derogation, Policy};
use crate::reason::Reason;
use crate::state::{ERASED, SubjectState};

pub(crate) const NO_SLOT: u8 = u8::MAX;
const MAX_BASES: usize = 4;
const COUNTRY_CELLS: usize = 26 * 26;
pub(crate) const NONE: u8 = u8::MAX;

#[derive(Clone, Copy, Debug)]
pub(crate) struct CompiledBasis {
    pub basis: LegalBasis,
    pub relationships: u8,
}

#[derive(Clone, Debug)]
pub(crate) struct CompiledPurpose {
    pub categories: u64,
    pub channels: u16,
    pub bases: [CompiledBasis; MAX_BASES],
    pub n_bases: u8,
    pub consent_per_channel: bool,
    pub direct_marketing: bool,
    pub survives_objection: bool,
    pub permitted_under_restriction: bool,
    pub permitted_after_erasure: bool,
    /// Consent slot per channel index (per-channel consent) or in cell 0 (one consent).
    pub slots: [u8; 16],
    /// A widened consent purpose: what a consent that needs renewal still covers (a category
    /// mask; 0 when such consents are suspended).
    pub renewal_scope: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct CompiledRecipient {
    pub purposes: u64,
    pub categories: u64,
    pub countries: Vec<CountryCode>,
    pub safeguarded: Vec<CountryCode>,
    pub dpf_certified: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct CompiledAdequacy {
    pub from: jiff::Timestamp,
    pub until: Option<jiff::Timestamp>,
    pub requires_dpf: bool,
}

/// A decision query with every id resolved; build one with [`CompiledPolicy::resolve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    pub purpose: u8,
    pub categories: u64,
    pub channel: Option<u8>,
    pub recipient: Option<u16>,
    pub country: Option<CountryCode>,
}

/// The query named something the policy does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    pub reason: Reason,
    /// The field of the query (`purpose`, `categories`, `channel`, `recipient`, `country`).
    pub field: &'static str,
    pub value: String,
}

/// A ledger write that the policy does not allow, with the field it is about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EventError {
    pub field: &'static str,
    pub message: String,
    /// Whether the write is malformed or the policy forbids it: callers answer the two apart.
    pub kind: EventErrorKind,
    /// How to correct the write, when the rule knows better than a pointer to the policy.
    pub fix: Option<&'static str>,
}

/// Why a ledger write was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventErrorKind {
    /// A text of the write is missing, empty or too long (see [`crate::write_rules`]).
    InvalidField,
    /// The policy or the person's state does not allow the write.
    PolicyViolation,
}

impl EventError {
    /// A write the policy or the person's state does not allow.
    pub fn policy(field: &'static str, message: impl Into<String>) -> EventError {
        EventError {
            field,
            message: message.into(),
            kind: EventErrorKind::PolicyViolation,
            fix: None,
        }
    }

    /// A write whose field `field` is malformed, with how to correct it.
    pub fn invalid(
        field: &'static str,
        message: impl Into<String>,
        fix: &'static str,
    ) -> EventError {
        EventError {
            field,
            message: message.into(),
            kind: EventErrorKind::InvalidField,
            fix: Some(fix),
        }
    }
}

/// A set of clause ids as a bit set over the compiled policy's clause table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClauseSet(pub u128);

/// The most distinct clause ids a policy may cite (one bit each in a [`ClauseSet`]).
pub const MAX_CLAUSES: usize = 128;

/// Clause ids in the notice's order: `N2` before `N10`, `N5` before `N5a`.
fn clause_order(id: &str) -> (u32, String) {
    let rest = id.trim_start_matches('N');
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let letters = rest[digits.len()..].to_owned();
    (digits.parse().unwrap_or(u32::MAX), letters)
}

#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    pub policy: Policy,
    purpose_ids: FxHashMap<String, u8>,
    category_ids: FxHashMap<String, u8>,
    channel_ids: FxHashMap<String, u8>,
    recipient_ids: FxHashMap<String, u16>,
    pub(crate) purposes: Vec<CompiledPurpose>,
    pub(crate) recipients: Vec<CompiledRecipient>,
    pub(crate) eea: Box<[bool; COUNTRY_CELLS]>,
    pub(crate) adequacy_of: Box<[u8; COUNTRY_CELLS]>,
    pub(crate) adequacy: Vec<CompiledAdequacy>,
    third_bit: Box<[u8; COUNTRY_CELLS]>,
    third_countries: Vec<CountryCode>,
    /// Which per-person Art. 49 masks the policy honours: `[explicit consent, contract]`.
    pub(crate) derogations: [bool; 2],
    dm_consents: u64,
    clauses: Vec<String>,
    purpose_clauses: Vec<ClauseSet>,
    basis_clauses: Vec<[ClauseSet; MAX_BASES]>,
    reason_clauses: Vec<ClauseSet>,
    recipient_clauses: Vec<ClauseSet>,
}

pub(crate) fn cell(c: CountryCode) -> usize {
    let b = c.as_str().as_bytes();
    let x = usize::from(b.first().copied().unwrap_or(b'A').saturating_sub(b'A'));
    let y = usize::from(b.get(1).copied().unwrap_or(b'A').saturating_sub(b'A'));
    (x * 26 + y).min(COUNTRY_CELLS - 1)
}

fn mask(indices: &[usize]) -> u64 {
    indices.iter().fold(0u64, |m, &i| m | (1u64 << (i & 63)))
}

fn start_of_day(d: jiff::civil::Date) -> jiff::Timestamp {
    d.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(jiff::Timestamp::MAX)
}

impl CompiledPolicy {
    /// Compiles a validated policy. Validation guarantees the limits the compact form needs.
    pub fn new(policy: Policy) -> CompiledPolicy {
        let small = |i: usize| u8::try_from(i).unwrap_or(NONE);
        let purpose_ids = policy
            .purposes
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), small(i)))
            .collect();
        let category_ids = policy
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), small(i)))
            .collect();
        let channel_ids = policy
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), small(i)))
            .collect();
        let recipient_ids = policy
            .recipients
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), u16::try_from(i).unwrap_or(u16::MAX)))
            .collect();

        let mut next_slot = 0u8;
        let mut dm_consents = 0u64;
        let purposes = policy
            .purposes
            .iter()
            .map(|p| {
                let mut bases = [CompiledBasis {
                    basis: LegalBasis::Consent,
                    relationships: 0,
                }; MAX_BASES];
                for (cell, b) in bases.iter_mut().zip(&p.bases) {
                    *cell = CompiledBasis {
                        basis: b.legal_basis,
                        relationships: b.requires_relationship,
                    };
                }
                let mut slots = [NO_SLOT; 16];
                if p.consent_basis().is_some() {
                    if p.consent_per_channel {
                        for &ch in &p.channels {
                            if let Some(s) = slots.get_mut(ch) {
                                *s = next_slot;
                                next_slot = next_slot.saturating_add(1);
                            }
                        }
                    } else {
                        slots[0] = next_slot;
                        next_slot = next_slot.saturating_add(1);
                    }
                }
                if p.direct_marketing {
                    for s in slots.iter().filter(|s| **s != NO_SLOT) {
                        dm_consents |= 1u64 << (s & 63);
                    }
                }
                CompiledPurpose {
                    categories: mask(&p.categories),
                    channels: u16::try_from(mask(&p.channels) & 0xFFFF).unwrap_or(0),
                    bases,
                    n_bases: small(p.bases.len().min(MAX_BASES)),
                    consent_per_channel: p.consent_per_channel,
                    direct_marketing: p.direct_marketing,
                    survives_objection: p.survives_objection,
                    permitted_under_restriction: p.permitted_under_restriction,
                    permitted_after_erasure: p.permitted_after_erasure,
                    slots,
                    renewal_scope: p
                        .renewal
                        .as_ref()
                        .map(|r| r.old_categories.as_deref().map_or(0, mask)),
                }
            })
            .collect();

        let mut eea = Box::new([false; COUNTRY_CELLS]);
        for c in &policy.transfers.eea {
            eea[cell(*c)] = true;
        }
        let mut adequacy_of = Box::new([NONE; COUNTRY_CELLS]);
        let adequacy = policy
            .transfers
            .adequacy
            .iter()
            .enumerate()
            .map(|(i, a)| {
                adequacy_of[cell(a.country)] = small(i);
                CompiledAdequacy {
                    from: start_of_day(a.decided),
                    until: a.until.map(start_of_day),
                    requires_dpf: a.requires_dpf,
                }
            })
            .collect();

        // Third countries named anywhere in the policy; explicit transfer consents are kept
        // as one bit per such country.
        let mut third_countries: Vec<CountryCode> = policy
            .transfers
            .adequacy
            .iter()
            .map(|a| a.country)
            .chain(policy.recipients.iter().flat_map(|r| {
                r.countries.iter().copied().chain(
                    r.safeguards
                        .iter()
                        .flat_map(|s| s.countries.iter().copied()),
                )
            }))
            .filter(|c| !eea[cell(*c)])
            .collect();
        third_countries.sort_unstable();
        third_countries.dedup();
        // Validation refuses more than MAX_THIRD_COUNTRIES; the masks hold no more.
        third_countries.truncate(crate::policy::MAX_THIRD_COUNTRIES);
        let derogations = Derogation::ALL.map(|d| policy.transfers.derogations.contains(&d));
        let mut third_bit = Box::new([NONE; COUNTRY_CELLS]);
        for (i, c) in third_countries.iter().enumerate() {
            third_bit[cell(*c)] = small(i);
        }

        let recipients = policy
            .recipients
            .iter()
            .map(|r| CompiledRecipient {
                purposes: mask(&r.purposes),
                categories: mask(&r.categories),
                countries: r.countries.clone(),
                safeguarded: r
                    .safeguards
                    .iter()
                    .flat_map(|s| s.countries.iter().copied())
                    .collect(),
                dpf_certified: r.dpf_certified,
            })
            .collect();

        let mut clauses: Vec<String> = crate::coverage::element_citations(&policy)
            .into_keys()
            .collect();
        clauses.sort_by_key(|c| clause_order(c));
        clauses.truncate(MAX_CLAUSES);
        let set = |refs: &[String]| {
            ClauseSet(refs.iter().fold(0u128, |m, r| {
                clauses
                    .iter()
                    .position(|c| c == r)
                    .map_or(m, |i| m | (1u128 << i))
            }))
        };
        let purpose_clauses = policy
            .purposes
            .iter()
            .map(|p| set(&p.notice_refs))
            .collect();
        let basis_clauses = policy
            .purposes
            .iter()
            .map(|p| {
                let mut cells = [ClauseSet::default(); MAX_BASES];
                for (cell, b) in cells.iter_mut().zip(&p.bases) {
                    *cell = set(&b.notice_refs);
                }
                cells
            })
            .collect();
        let reason_clauses = Reason::ALL
            .iter()
            .map(|r| set(r.clause_refs(&policy.rule_refs)))
            .collect();
        let recipient_clauses = policy
            .recipients
            .iter()
            .map(|r| set(&r.notice_refs))
            .collect();

        CompiledPolicy {
            policy,
            purpose_ids,
            category_ids,
            channel_ids,
            recipient_ids,
            purposes,
            recipients,
            eea,
            adequacy_of,
            adequacy,
            third_bit,
            third_countries,
            derogations,
            dm_consents,
            clauses,
            purpose_clauses,
            basis_clauses,
            reason_clauses,
            recipient_clauses,
        }
    }

    /// The clause ids in a set, in the notice's order.
    pub fn clause_ids(&self, set: ClauseSet) -> impl Iterator<Item = &str> {
        self.clauses
            .iter()
            .enumerate()
            .filter(move |(i, _)| set.0 & (1u128 << i) != 0)
            .map(|(_, c)| c.as_str())
    }

    /// The clauses behind one reason, as `[rule_refs]` names them.
    pub fn reason_clauses(&self, reason: Reason) -> ClauseSet {
        self.reason_clauses
            .get(reason as usize)
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn basis_position(&self, purpose: u8, lb: LegalBasis) -> Option<usize> {
        let p = self.purposes.get(usize::from(purpose))?;
        p.bases
            .iter()
            .take(usize::from(p.n_bases))
            .position(|b| b.basis == lb)
    }

    /// The clauses a decision rests on: the purpose's, the basis used, every reason noted,
    /// and the recipient's.
    #[inline]
    pub(crate) fn clauses_for(
        &self,
        purpose: u8,
        basis: Option<usize>,
        reasons: crate::reason::ReasonSet,
        recipient: Option<u16>,
    ) -> ClauseSet {
        let mut m = self
            .purpose_clauses
            .get(usize::from(purpose))
            .map_or(0, |c| c.0);
        if let Some(b) = basis {
            m |= self
                .basis_clauses
                .get(usize::from(purpose))
                .and_then(|cells| cells.get(b))
                .map_or(0, |c| c.0);
        }
        // `Reason as u8` is the reason's position in `Reason::ALL`.
        let mut bits = reasons.bits();
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            m |= self.reason_clauses.get(i).map_or(0, |c| c.0);
            bits &= bits - 1;
        }
        if let Some(r) = recipient {
            m |= self
                .recipient_clauses
                .get(usize::from(r))
                .map_or(0, |c| c.0);
        }
        ClauseSet(m)
    }

    pub fn policy_version(&self) -> &str {
        &self.policy.hash
    }

    /// Whether the purpose (by index) takes consent for one call at a time (N23).
    pub fn takes_consent_per_call(&self, purpose: u8) -> bool {
        self.policy
            .purposes
            .get(usize::from(purpose))
            .is_some_and(|p| p.consent_per_call.is_some())
    }

    pub fn purpose_index(&self, id: &str) -> Option<u8> {
        self.purpose_ids.get(id).copied()
    }

    pub fn is_direct_marketing(&self, purpose: u8) -> bool {
        self.purposes
            .get(usize::from(purpose))
            .is_some_and(|p| p.direct_marketing)
    }

    /// The consent slot of a purpose (by index) that takes one consent, not one per channel.
    pub fn consent_slot_mask(&self, purpose: u8) -> u64 {
        match self.purposes.get(usize::from(purpose)) {
            Some(p) if !p.consent_per_channel && p.slots[0] != NO_SLOT => 1u64 << (p.slots[0] & 63),
            _ => 0,
        }
    }

    /// The consent slots an event on `purpose` (and `channel`) touches.
    pub fn consent_mask(&self, purpose: &str, channel: Option<&str>) -> u64 {
        let Some(p) = self
            .purpose_index(purpose)
            .and_then(|i| self.purposes.get(usize::from(i)))
        else {
            return 0;
        };
        let bit = |s: u8| if s == NO_SLOT { 0 } else { 1u64 << (s & 63) };
        if !p.consent_per_channel {
            return bit(p.slots[0]);
        }
        match channel.and_then(|c| self.channel_ids.get(c)) {
            Some(&ch) => p.slots.get(usize::from(ch)).map_or(0, |&s| bit(s)),
            None => p.slots.iter().fold(0, |m, &s| m | bit(s)),
        }
    }

    /// The consent slots a consent given under `notice_version` fills that need renewal: the
    /// purpose was widened in a later notice version (N33).
    pub fn renewal_mask(&self, purpose: &str, channel: Option<&str>, notice_version: &str) -> u64 {
        let needed = self
            .purpose_index(purpose)
            .and_then(|i| self.policy.purposes.get(usize::from(i)))
            .and_then(|p| p.renewal.as_ref())
            .is_some_and(|r| r.needed(notice_version));
        if needed {
            self.consent_mask(purpose, channel)
        } else {
            0
        }
    }

    pub fn direct_marketing_consent_mask(&self) -> u64 {
        self.dm_consents
    }

    /// The country's bit in the person's Art. 49 masks.
    pub fn third_country_bit(&self, c: CountryCode) -> Option<u32> {
        let b = self.third_bit[cell(c)];
        (b != NONE).then(|| 1u32 << (b & 31))
    }

    /// Whether the policy relies on this Art. 49 derogation (N31).
    pub fn relies_on(&self, d: Derogation) -> bool {
        self.derogations[d as usize]
    }

    pub fn third_countries(&self) -> &[CountryCode] {
        &self.third_countries
    }

    /// Resolves the ids of a query. Anything the policy does not know is a [`Gap`].
    pub fn resolve<'a>(
        &self,
        purpose: &str,
        categories: impl IntoIterator<Item = &'a str>,
        channel: Option<&str>,
        recipient: Option<&str>,
        country: Option<&str>,
    ) -> Result<Query, Gap> {
        let gap = |reason, field, value: &str| Gap {
            reason,
            field,
            value: value.to_owned(),
        };
        let purpose_i = self
            .purpose_index(purpose)
            .ok_or_else(|| gap(Reason::UnknownPurpose, "purpose", purpose))?;
        let mut cats = 0u64;
        for c in categories {
            let i = self
                .category_ids
                .get(c)
                .ok_or_else(|| gap(Reason::UnknownCategory, "categories", c))?;
            cats |= 1u64 << (i & 63);
        }
        let channel = channel
            .map(|c| {
                self.channel_ids
                    .get(c)
                    .copied()
                    .ok_or_else(|| gap(Reason::UnknownChannel, "channel", c))
            })
            .transpose()?;
        let recipient = recipient
            .map(|r| {
                self.recipient_ids
                    .get(r)
                    .copied()
                    .ok_or_else(|| gap(Reason::UnknownRecipient, "recipient", r))
            })
            .transpose()?;
        let country = country
            .map(|c| CountryCode::parse(c).ok_or_else(|| gap(Reason::InvalidCountry, "country", c)))
            .transpose()?;
        Ok(Query {
            purpose: purpose_i,
            categories: cats,
            channel,
            recipient,
            country,
        })
    }

    /// Checks a ledger write against the policy and the person's current state, before it is
    /// stored. `has_evidence` and `has_reason` say whether the free-text fields were given.
    /// A write's own texts are checked with [`CompiledPolicy::check_write`], which runs this.
    pub fn check_event(
        &self,
        state: &SubjectState,
        kind: &EventKind,
        has_evidence: bool,
        has_reason: bool,
    ) -> Result<(), EventError> {
        let err = |field, message: String| Err(EventError::policy(field, message));
        if state.flags & ERASED != 0 && !matches!(kind, EventKind::Erasure) {
            return err(
                "subject",
                "this person was erased; tutela records nothing new about them".into(),
            );
        }
        match kind {
            EventKind::Consent {
                purpose, channel, ..
            } => {
                let Some(i) = self.purpose_index(purpose) else {
                    return err("purpose", format!("unknown purpose `{purpose}`"));
                };
                let p = &self.policy.purposes[usize::from(i)];
                let Some(consent) = p.consent_basis() else {
                    return err(
                        "purpose",
                        format!("purpose `{purpose}` does not rest on consent; there is nothing to consent to or withdraw"),
                    );
                };
                if p.consent_per_call.is_some() {
                    return err(
                        "purpose",
                        format!("consent to `{purpose}` is given for one call only; record it as a call consent that names the call"),
                    );
                }
                match channel {
                    Some(c) => {
                        let Some(&ch) = self.channel_ids.get(c.as_str()) else {
                            return err("channel", format!("unknown channel `{c}`"));
                        };
                        if !p.channels.contains(&usize::from(ch)) {
                            return err(
                                "channel",
                                format!("purpose `{purpose}` does not use the channel `{c}`"),
                            );
                        }
                    }
                    None if p.consent_per_channel => {
                        return err(
                            "channel",
                            format!("purpose `{purpose}` takes consent per channel; name the channel"),
                        );
                    }
                    None => {}
                }
                if consent.explicit && !has_evidence && matches!(kind, EventKind::Consent { granted: true, .. }) {
                    return err(
                        "evidence",
                        format!("purpose `{purpose}` needs explicit consent; record its evidence"),
                    );
                }
                Ok(())
            }
            EventKind::CallConsent {
                purpose,
                call,
                granted,
            } => {
                let Some(i) = self.purpose_index(purpose) else {
                    return err("purpose", format!("unknown purpose `{purpose}`"));
                };
                if self.policy.purposes[usize::from(i)].consent_per_call.is_none() {
                    return err(
                        "purpose",
                        format!("purpose `{purpose}` takes no consent per call"),
                    );
                }
                if call.trim().is_empty()
                    || call.len() > 128
                    || call.chars().any(char::is_control)
                {
                    return err(
                        "call",
                        "name the call with the telephony system's id: 1 to 128 printable characters".into(),
                    );
                }
                if *granted && !has_evidence {
                    return err(
                        "evidence",
                        format!("consent to `{purpose}` must be explicit; record how the person agreed on this call"),
                    );
                }
                Ok(())
            }
            EventKind::ConsentUse { purpose, channel } => {
                let mask = self.consent_mask(purpose, channel.as_deref());
                if mask == 0 {
                    return err(
                        "purpose",
                        format!("`{purpose}` with this channel takes no consent that could be used"),
                    );
                }
                if state.consents & mask == 0 {
                    return err(
                        "purpose",
                        format!("there is no active consent for `{purpose}` to rely on; the contact must not happen"),
                    );
                }
                Ok(())
            }
            EventKind::Objection { scope } => match scope {
                ObjectionScope::DirectMarketing => Ok(()),
                ObjectionScope::LegitimateInterest if !has_reason => err(
                    "reason",
                    "an objection to processing on legitimate interest must give reasons arising from the person's particular situation (Art. 21(1))".into(),
                ),
                ObjectionScope::LegitimateInterest => Ok(()),
                ObjectionScope::Purpose(purpose) => {
                    let Some(i) = self.purpose_index(purpose) else {
                        return err(
                            "scope",
                            format!("unknown objection scope `{purpose}`; use `direct_marketing`, `legitimate_interest` or a purpose id"),
                        );
                    };
                    let p = &self.policy.purposes[usize::from(i)];
                    if !p.bases.iter().any(|b| b.legal_basis.objectable()) && !p.direct_marketing {
                        return err(
                            "scope",
                            format!("purpose `{purpose}` rests on no legitimate interest or further processing; there is nothing to object to (withdraw a consent instead)"),
                        );
                    }
                    if !p.direct_marketing && !has_reason {
                        return err(
                            "reason",
                            format!("an objection to `{purpose}` must give reasons arising from the person's particular situation (Art. 21(1))"),
                        );
                    }
                    Ok(())
                }
            },
            EventKind::TransferConsent { country, .. }
            | EventKind::TransferNecessity { country, .. } => {
                let derogation = match kind {
                    EventKind::TransferConsent { .. } => Derogation::ExplicitConsent,
                    _ => Derogation::ContractNecessity,
                };
                if !self.relies_on(derogation) {
                    return err(
                        "country",
                        format!(
                            "the policy relies on no {} derogation ({}); list `{}` in [transfers] derogations first",
                            derogation.as_str(),
                            derogation.article(),
                            derogation.as_str()
                        ),
                    );
                }
                if self.eea[cell(*country)] {
                    return err(
                        "country",
                        format!("`{country}` is in the EU/EEA; a transfer there needs no Art. 49 ground"),
                    );
                }
                if self.third_country_bit(*country).is_none() {
                    return err(
                        "country",
                        format!("`{country}` is named by no recipient of the policy; add the recipient first"),
                    );
                }
                Ok(())
            }
            EventKind::Identifier {
                kind: id_kind,
                key_id,
                token,
                ..
            } => {
                if *id_kind == crate::pseudonym::Identifier::Iban {
                    return err(
                        "kind",
                        "an IBAN is no network identifier; link an imsi, iccid, msisdn or imei".into(),
                    );
                }
                if key_id.is_empty() || key_id.len() > 64 {
                    return err("key_id", "name the pseudonymisation key: 1 to 64 characters".into());
                }
                if !crate::gate::is_token(token) {
                    return err("token", "a token is 32 lower-case hex digits".into());
                }
                Ok(())
            }
            EventKind::Relationship { .. } | EventKind::Restriction { .. } | EventKind::Erasure => {
                Ok(())
            }
        }
    }
}
