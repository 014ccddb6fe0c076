//! Whether a request's plan for the operator's databases runs only after an agent approved
//! it. Erasure plans are reviewed unless every category they erase is processed only on the
//! legal bases the policy's `[review]` names; rectification plans are reviewed unless every
//! field they change is one the map lets the person change (contact data). Pure: the worker
//! asks, with what the plans say.

use std::collections::BTreeSet;

use crate::basis::LegalBasis;
use crate::datamap::Rectify;
use crate::lang::Lang;
use crate::policy::Policy;

/// The answer, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    /// An agent must approve the plan before it runs.
    Needed(Why),
    /// The plan runs as planned; the reason is recorded as the approval.
    NotNeeded(Why),
}

/// Why a plan needs review or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// An erasure plan that erases no personal field.
    NothingErased,
    /// An erasure plan that erases only data processed on these bases.
    OnlyBases(Vec<LegalBasis>),
    /// An erasure plan that erases these categories (ids), processed on other bases too.
    Beyond(Vec<String>),
    /// A rectification plan that changes no field.
    NothingChanged,
    /// A rectification plan that changes only fields the person may change.
    OnlyPersonFields,
    /// A rectification plan that changes fields an agent reviews.
    AgentFields,
}

impl Review {
    pub fn is_needed(&self) -> bool {
        matches!(self, Review::Needed(_))
    }

    pub fn why(&self) -> &Why {
        match self {
            Review::Needed(w) | Review::NotNeeded(w) => w,
        }
    }

    /// The reason in English with the policy's ids, as the API and the audit record it.
    pub fn reason(&self) -> String {
        match self.why() {
            Why::NothingErased => "the plan erases no personal field".into(),
            Why::OnlyBases(b) => format!(
                "the plan erases only data processed on {} (policy [review])",
                names(b)
            ),
            Why::Beyond(c) => format!(
                "the plan erases {} — processed on other legal bases than the policy lets run without review",
                c.join(", ")
            ),
            Why::NothingChanged => "the plan changes no field".into(),
            Why::OnlyPersonFields => {
                "the plan changes only fields the person may change (contact data)".into()
            }
            Why::AgentFields => {
                "the plan changes fields an agent must review (the map's `rectify = \"agent\"`)"
                    .into()
            }
        }
    }

    /// The reason in `lang`, with the policy's labels for categories.
    pub fn words(&self, policy: &Policy, lang: Lang) -> String {
        let de = lang == Lang::De;
        match self.why() {
            Why::NothingErased if de => "Der Plan löscht kein personenbezogenes Feld.".into(),
            Why::OnlyBases(b) if de => format!(
                "Der Plan löscht nur Daten, die auf Grundlage von {} verarbeitet werden; die Richtlinie lässt solche Pläne ohne Freigabe laufen.",
                bases_in(b, lang)
            ),
            Why::Beyond(c) if de => format!(
                "Der Plan löscht {}; diese Daten werden auch auf anderen Rechtsgrundlagen verarbeitet (etwa für den Vertrag).",
                labels(policy, c, lang)
            ),
            Why::NothingChanged if de => "Der Plan ändert kein Feld.".into(),
            Why::OnlyPersonFields if de => {
                "Der Plan ändert nur Felder, die die Person selbst ändern darf (Kontaktdaten).".into()
            }
            Why::AgentFields if de => {
                "Der Plan ändert Felder, die eine Sachbearbeiterin oder ein Sachbearbeiter prüft (Name, Geburtsdatum, Anschrift)."
                    .into()
            }
            Why::OnlyBases(b) => format!(
                "The plan erases only data processed on {}; the policy lets such plans run without approval.",
                bases_in(b, lang)
            ),
            Why::Beyond(c) => format!(
                "The plan erases {}; these data are also processed on other legal bases (for the contract, for example).",
                labels(policy, c, lang)
            ),
            Why::NothingErased => "The plan erases no personal field.".into(),
            Why::NothingChanged => "The plan changes no field.".into(),
            Why::OnlyPersonFields => {
                "The plan changes only fields the person may change themselves (contact data).".into()
            }
            Why::AgentFields => {
                "The plan changes fields an agent reviews (name, date of birth, address).".into()
            }
        }
    }
}

/// The categories' labels from the policy (the id where it has none).
fn labels(policy: &Policy, ids: &[String], lang: Lang) -> String {
    ids.iter()
        .map(|id| {
            policy
                .categories
                .iter()
                .find(|c| c.id == *id)
                .map_or(id.as_str(), |c| c.label.get(lang))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Legal bases in words.
fn bases_in(bases: &[LegalBasis], lang: Lang) -> String {
    bases
        .iter()
        .map(|b| match (b, lang) {
            (LegalBasis::Consent, Lang::De) => "Einwilligung (Art. 6 Abs. 1 lit. a DSGVO)",
            (LegalBasis::Consent, Lang::En) => "consent (Art. 6(1)(a) GDPR)",
            (LegalBasis::LegitimateInterest, Lang::De) => {
                "berechtigtem Interesse (Art. 6 Abs. 1 lit. f DSGVO)"
            }
            (LegalBasis::LegitimateInterest, Lang::En) => {
                "legitimate interests (Art. 6(1)(f) GDPR)"
            }
            (other, _) => other.dpv_id(),
        })
        .collect::<Vec<_>>()
        .join(match lang {
            Lang::De => " oder ",
            Lang::En => " or ",
        })
}

/// An erasure plan that erases fields of `categories` (kept fields not counted).
pub fn erasure<'a>(policy: &Policy, categories: impl IntoIterator<Item = &'a str>) -> Review {
    let touched: BTreeSet<&str> = categories.into_iter().collect();
    if touched.is_empty() {
        return Review::NotNeeded(Why::NothingErased);
    }
    let allowed = &policy.review.erasure_without_review;
    let mut beyond: Vec<String> = Vec::new();
    for category in &touched {
        let bases = bases_of(policy, category);
        if bases.is_empty() || bases.iter().any(|b| !allowed.contains(b)) {
            beyond.push((*category).to_owned());
        }
    }
    if beyond.is_empty() {
        Review::NotNeeded(Why::OnlyBases(allowed.clone()))
    } else {
        Review::Needed(Why::Beyond(beyond))
    }
}

/// A rectification plan that changes fields with these rules.
pub fn rectification(rules: impl IntoIterator<Item = Rectify>) -> Review {
    let rules: BTreeSet<Rectify> = rules.into_iter().collect();
    if rules.is_empty() {
        Review::NotNeeded(Why::NothingChanged)
    } else if rules.iter().all(|r| *r == Rectify::Person) {
        Review::NotNeeded(Why::OnlyPersonFields)
    } else {
        Review::Needed(Why::AgentFields)
    }
}

/// Every legal basis any purpose processes `category` on.
fn bases_of(policy: &Policy, category: &str) -> BTreeSet<LegalBasis> {
    let Some(ci) = policy.categories.iter().position(|c| c.id == category) else {
        return BTreeSet::new();
    };
    policy
        .purposes
        .iter()
        .filter(|p| p.categories.contains(&ci))
        .flat_map(|p| p.bases.iter().map(|b| b.legal_basis))
        .collect()
}

fn names(bases: &[LegalBasis]) -> String {
    bases
        .iter()
        .map(|b| b.dpv_id())
        .collect::<Vec<_>>()
        .join(", ")
}
