//! The transfer report (N29–N31): every flow of personal data to a third country that the
//! policy's recipients imply, its legal ground, and the flows that have none. Computed from
//! the policy alone, so an edit of the policy (an adequacy decision withdrawn, a safeguard
//! removed) shows at once which recipients lose their ground.

use std::fmt::Write;

use crate::compiled::CompiledPolicy;
use crate::policy::{Derogation, Policy};
use crate::state::{ERASED, SubjectState};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub recipient: String,
    pub country: String,
    pub purposes: Vec<String>,
    pub categories: Vec<String>,
    /// The ground (Art. 45 adequacy, Art. 46 safeguards), or `None`: only with the person's
    /// explicit consent or another Art. 49 derogation.
    pub ground: Option<String>,
}

/// Every third-country flow at `today`, in the policy's order of recipients. An adequacy
/// decision holds from its day up to the day before `until`, as in the decision engine (R8).
pub fn flows(policy: &Policy, today: jiff::civil::Date) -> Vec<Flow> {
    let mut out = Vec::new();
    for r in &policy.recipients {
        for c in &r.countries {
            if policy.transfers.eea.contains(c) {
                continue;
            }
            let adequacy = policy.transfers.adequacy.iter().find(|a| {
                a.country == *c && a.decided <= today && a.until.is_none_or(|u| today < u)
            });
            let ground = match adequacy {
                Some(a) if a.requires_dpf && !r.dpf_certified => None,
                Some(a) if a.requires_dpf => Some(format!(
                    "Art. 45 GDPR: adequacy decision of {}, recipient certified under the EU-US Data Privacy Framework",
                    a.decided
                )),
                Some(a) => Some(format!("Art. 45 GDPR: adequacy decision of {}", a.decided)),
                None => None,
            }
            .or_else(|| {
                r.safeguards.iter().find(|s| s.countries.contains(c)).map(|s| {
                    format!(
                        "Art. 46 GDPR: {}{}",
                        s.mechanism,
                        s.reference.as_deref().map(|x| format!(" ({x})")).unwrap_or_default()
                    )
                })
            });
            out.push(Flow {
                recipient: r.id.clone(),
                country: c.as_str().to_owned(),
                purposes: r
                    .purposes
                    .iter()
                    .map(|&p| policy.purposes[p].id.clone())
                    .collect(),
                categories: r
                    .categories
                    .iter()
                    .map(|&x| policy.categories[x].id.clone())
                    .collect(),
                ground,
            });
        }
    }
    out
}

/// How many persons hold an Art. 49 ground of their own for one third country (N31).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonGrounds {
    pub country: String,
    /// Art. 49(1)(a): explicit consent to transfers there.
    pub explicit_consent: usize,
    /// Art. 49(1)(b): a transfer there is necessary for their contract.
    pub contract_necessity: usize,
}

/// Counts the recorded per-person grounds over the persons' states; erased persons hold none.
pub fn person_grounds<'s>(
    policy: &CompiledPolicy,
    states: impl IntoIterator<Item = &'s SubjectState>,
) -> Vec<PersonGrounds> {
    let countries = policy.third_countries();
    let mut counts = vec![(0usize, 0usize); countries.len()];
    for s in states {
        if s.has(ERASED) || (s.transfer_consents | s.transfer_necessities) == 0 {
            continue;
        }
        for (i, c) in countries.iter().enumerate() {
            let Some(bit) = policy.third_country_bit(*c) else {
                continue;
            };
            counts[i].0 += usize::from(s.transfer_consents & bit != 0);
            counts[i].1 += usize::from(s.transfer_necessities & bit != 0);
        }
    }
    countries
        .iter()
        .zip(counts)
        .filter(|(_, (a, b))| a + b > 0)
        .map(|(c, (a, b))| PersonGrounds {
            country: c.as_str().to_owned(),
            explicit_consent: a,
            contract_necessity: b,
        })
        .collect()
}

/// The flows as Markdown: the ones without a ground first, then, when the persons' grounds
/// were counted from a database, the Art. 49 derogations recorded per person.
pub fn markdown(
    flows: &[Flow],
    today: jiff::civil::Date,
    derogations: &[Derogation],
    persons: Option<&[PersonGrounds]>,
) -> String {
    let mut s = format!("# Transfers to third countries ({today})\n\n");
    let missing: Vec<&Flow> = flows.iter().filter(|f| f.ground.is_none()).collect();
    if missing.is_empty() {
        s.push_str("Every flow has a ground under Art. 45 or 46 GDPR.\n\n");
    } else if derogations.is_empty() {
        s.push_str(
            "## Without a ground: the policy relies on no Art. 49 derogation, so these flows must not happen\n\n",
        );
    } else {
        let relied: Vec<String> = derogations
            .iter()
            .map(|d| format!("{} ({})", d.as_str(), d.article()))
            .collect();
        let _ = write!(
            s,
            "## Without a ground: only for persons with a recorded Art. 49 derogation: {}\n\n",
            relied.join(", ")
        );
        for f in &missing {
            let _ = writeln!(
                s,
                "- **{}** → {}: {}",
                f.recipient,
                f.country,
                f.purposes.join(", ")
            );
        }
        s.push('\n');
    }
    s.push_str("| recipient | country | ground | purposes | categories |\n|---|---|---|---|---|\n");
    for f in flows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            f.recipient,
            f.country,
            f.ground.as_deref().unwrap_or("**none**"),
            f.purposes.join(", "),
            f.categories.join(", ")
        );
    }
    if let Some(persons) = persons {
        s.push_str("\n## Art. 49 derogations recorded per person\n\n");
        if persons.is_empty() {
            s.push_str("No person has an Art. 49 ground recorded.\n");
        } else {
            s.push_str("| country | explicit consent, Art. 49(1)(a) | necessary for the contract, Art. 49(1)(b) |\n|---|---|---|\n");
            for p in persons {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    p.country, p.explicit_consent, p.contract_necessity
                );
            }
        }
    }
    s
}

/// The flows as CSV (RFC 4180).
pub fn csv(flows: &[Flow]) -> String {
    let mut s = String::new();
    crate::csv::write_row(
        &mut s,
        ["recipient", "country", "ground", "purposes", "categories"],
    );
    for f in flows {
        let (purposes, categories) = (f.purposes.join(" "), f.categories.join(" "));
        crate::csv::write_row(
            &mut s,
            [
                f.recipient.as_str(),
                f.country.as_str(),
                f.ground.as_deref().unwrap_or(""),
                purposes.as_str(),
                categories.as_str(),
            ],
        );
    }
    s
}
