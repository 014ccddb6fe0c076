//! Whether a request's plan for the operator's databases runs only after an agent approved
//! it. Erasure plans are reviewed unless every category they erase is processed only on the
//! legal bases the policy's `[review]` names; rectification plans are reviewed unless every
//! field they change is one the map lets the person change (contact data). Pure: the worker
//! asks, with what the plans say.

use std::collections::BTreeSet;

use crate::basis::LegalBasis;
use crate::datamap::Rectify;
use crate::policy::Policy;

/// The answer, with its reason in words an agent reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    /// An agent must approve the plan before it runs.
    Needed(String),
    /// The plan runs as planned; the reason is recorded as the approval.
    NotNeeded(String),
}

impl Review {
    pub fn is_needed(&self) -> bool {
        matches!(self, Review::Needed(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            Review::Needed(r) | Review::NotNeeded(r) => r,
        }
    }
}

/// An erasure plan that erases fields of `categories` (kept fields not counted).
pub fn erasure<'a>(policy: &Policy, categories: impl IntoIterator<Item = &'a str>) -> Review {
    let touched: BTreeSet<&str> = categories.into_iter().collect();
    if touched.is_empty() {
        return Review::NotNeeded("the plan erases no personal field".into());
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
        Review::NotNeeded(format!(
            "the plan erases only data processed on {} (policy [review])",
            names(allowed)
        ))
    } else {
        Review::Needed(format!(
            "the plan erases {} — processed on other legal bases than the policy lets run without review",
            beyond.join(", ")
        ))
    }
}

/// A rectification plan that changes fields with these rules.
pub fn rectification(rules: impl IntoIterator<Item = Rectify>) -> Review {
    let rules: BTreeSet<Rectify> = rules.into_iter().collect();
    if rules.is_empty() {
        Review::NotNeeded("the plan changes no field".into())
    } else if rules.iter().all(|r| *r == Rectify::Person) {
        Review::NotNeeded(
            "the plan changes only fields the person may change (contact data)".into(),
        )
    } else {
        Review::Needed(
            "the plan changes fields an agent must review (the map's `rectify = \"agent\"`)".into(),
        )
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
