//! The record of processing activities (Art. 30(1) GDPR), written from the policy: one entry
//! per purpose with the controller and DPO, the legal bases, the persons and data concerned,
//! the recipients, third-country transfers with their grounds, and the time limits for
//! erasure. As JSON (serialisable), CSV, and W3C DPV JSON-LD.

use std::fmt::Write;

use serde::Serialize;

use crate::basis::Relationship;
use crate::lang::Lang;
use crate::policy::Policy;
use crate::transfers;

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub policy: String,
    pub policy_version: String,
    pub notice_version: String,
    pub controller: String,
    pub controller_address: String,
    pub data_protection_officer: String,
    pub activities: Vec<Activity>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    pub purpose: String,
    pub name: String,
    pub description: String,
    /// DPV ids of the legal bases.
    pub legal_bases: Vec<String>,
    /// Art. 30(1)(c): categories of persons.
    pub data_subjects: Vec<String>,
    /// Art. 30(1)(c): categories of personal data.
    pub categories: Vec<String>,
    /// Art. 30(1)(d): recipients by id, with their kind.
    pub recipients: Vec<String>,
    /// Art. 30(1)(e): third countries and the ground of each transfer.
    pub transfers: Vec<String>,
    /// Art. 30(1)(f): the time limits for erasure.
    pub erasure: Vec<String>,
    /// Art. 30(1)(g): the technical measures the policy sets for this purpose (anonymous
    /// statistics, redaction of free text), as DPV measure ids with their settings.
    pub measures: Vec<String>,
    pub notice_refs: Vec<String>,
}

/// The record at `today` (transfer grounds depend on the date).
pub fn build(policy: &Policy, lang: Lang, today: jiff::civil::Date) -> Record {
    let flows = transfers::flows(policy, today);
    let activities = policy
        .purposes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut subjects: Vec<String> = p
                .bases
                .iter()
                .flat_map(|b| {
                    Relationship::KNOWN
                        .into_iter()
                        .filter(move |r| Policy::relationship_allowed(b.requires_relationship, *r))
                        .map(|r| r.as_str().to_owned())
                })
                .collect();
            subjects.sort();
            subjects.dedup();
            let recipients: Vec<&crate::policy::Recipient> = policy
                .recipients
                .iter()
                .filter(|r| r.purposes.contains(&i))
                .collect();
            let mut erasure: Vec<String> = policy
                .retention
                .iter()
                .filter(|r| {
                    p.retention.is_some_and(|x| policy.retention[x].id == r.id)
                        || r.categories.iter().any(|c| p.categories.contains(c))
                })
                .map(|r| format!("{} ({}): {}", r.id, r.period, r.label.get(lang)))
                .collect();
            erasure.dedup();
            let mut measures = Vec::new();
            if let Some(st) = policy.statistics.as_ref().filter(|st| st.purposes.contains(&p.id)) {
                measures.push(format!(
                    "dpv:Anonymisation: statistics released only for groups of at least {} persons, one person's rows bounded to {}",
                    st.min_group_size, st.rows_per_person
                ));
                measures.push(format!(
                    "dpv:DifferentialPrivacy: a budget of epsilon {}{} per dataset",
                    st.budget_epsilon.value(),
                    st.budget_delta
                        .map(|d| format!(" and delta {}", d.value()))
                        .unwrap_or_default()
                ));
            }
            if policy
                .redaction
                .as_ref()
                .is_some_and(|r| r.notice_refs.iter().any(|c| p.notice_refs.contains(c)))
            {
                measures.push(
                    "dpv:DataRedaction: personal data in free text replaced before further use"
                        .to_owned(),
                );
            }
            Activity {
                purpose: p.id.clone(),
                name: p.label.get(lang).to_owned(),
                description: p.description.get(lang).to_owned(),
                legal_bases: p
                    .bases
                    .iter()
                    .map(|b| b.legal_basis.dpv_id().to_owned())
                    .collect(),
                data_subjects: subjects,
                categories: p
                    .categories
                    .iter()
                    .map(|&c| policy.categories[c].id.clone())
                    .collect(),
                recipients: recipients
                    .iter()
                    .map(|r| format!("{} ({})", r.id, r.kind.as_str()))
                    .collect(),
                transfers: flows
                    .iter()
                    .filter(|f| recipients.iter().any(|r| r.id == f.recipient))
                    .map(|f| {
                        format!(
                            "{} → {}: {}",
                            f.recipient,
                            f.country,
                            f.ground
                                .as_deref()
                                .unwrap_or("no ground; only with explicit consent (Art. 49(1)(a))")
                        )
                    })
                    .collect(),
                erasure,
                measures,
                notice_refs: p.notice_refs.clone(),
            }
        })
        .collect();
    Record {
        policy: policy.id.clone(),
        policy_version: policy.hash.clone(),
        notice_version: policy.version.clone(),
        controller: policy.controller.name.clone(),
        controller_address: policy.controller.address.clone(),
        data_protection_officer: format!(
            "{}, {}",
            policy.controller.dpo_address, policy.controller.dpo_email
        ),
        activities,
    }
}

/// One row per activity; lists joined by ` | `.
pub fn csv(record: &Record) -> String {
    let mut s = String::new();
    crate::csv::write_row(
        &mut s,
        [
            "purpose",
            "name",
            "legal_bases",
            "data_subjects",
            "categories",
            "recipients",
            "transfers",
            "erasure",
            "measures",
            "controller",
            "data_protection_officer",
            "notice_refs",
        ],
    );
    for a in &record.activities {
        let cells = [
            a.purpose.clone(),
            a.name.clone(),
            a.legal_bases.join(" | "),
            a.data_subjects.join(" | "),
            a.categories.join(" | "),
            a.recipients.join(" | "),
            a.transfers.join(" | "),
            a.erasure.join(" | "),
            a.measures.join(" | "),
            record.controller.clone(),
            record.data_protection_officer.clone(),
            a.notice_refs.join(" "),
        ];
        crate::csv::write_row(&mut s, cells.iter().map(String::as_str));
    }
    s
}

/// The record in the W3C Data Privacy Vocabulary, as JSON-LD text.
pub fn dpv_jsonld(record: &Record) -> String {
    let q = |s: &str| {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                c if u32::from(c) < 0x20 => {
                    let _ = write!(o, "\\u{:04x}", u32::from(c));
                }
                c => o.push(c),
            }
        }
        o.push('"');
        o
    };
    let list = |v: &[String], f: &dyn Fn(&str) -> String| {
        v.iter().map(|x| f(x)).collect::<Vec<_>>().join(", ")
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\n  \"@context\": {{\"dpv\": \"https://w3id.org/dpv#\", \"eu-gdpr\": \"https://w3id.org/dpv/legal/eu/gdpr#\", \"dct\": \"http://purl.org/dc/terms/\", \"tutela\": \"urn:tutela:\"}},\n  \"@id\": {},\n  \"@type\": \"dpv:PersonalDataHandling\",\n  \"dct:title\": {},\n  \"dct:hasVersion\": {},\n  \"dpv:hasDataController\": {{\"@type\": \"dpv:DataController\", \"dct:title\": {}, \"dpv:hasAddress\": {}}},\n  \"dpv:hasDataProtectionOfficer\": {{\"@type\": \"dpv:DataProtectionOfficer\", \"dpv:hasContact\": {}}},\n  \"dpv:hasPersonalDataHandling\": [\n",
        q(&format!("tutela:record:{}", record.policy)),
        q(&format!(
            "Record of processing activities: {}",
            record.controller
        )),
        q(&record.notice_version),
        q(&record.controller),
        q(&record.controller_address),
        q(&record.data_protection_officer),
    );
    for (i, a) in record.activities.iter().enumerate() {
        let _ = writeln!(
            s,
            "    {{\"@id\": {}, \"@type\": \"dpv:PersonalDataHandling\", \"dct:title\": {}, \"dct:description\": {}, \"dpv:hasPurpose\": {{\"@id\": {}}}, \"dpv:hasLegalBasis\": [{}], \"dpv:hasDataSubject\": [{}], \"dpv:hasPersonalData\": [{}], \"dpv:hasRecipient\": [{}], \"dpv:hasStorageCondition\": [{}], \"dpv:hasTechnicalMeasure\": [{}], \"tutela:transfers\": [{}]}}{}",
            q(&format!("tutela:activity:{}", a.purpose)),
            q(&a.name),
            q(&a.description),
            q(&format!("tutela:purpose:{}", a.purpose)),
            list(&a.legal_bases, &|b| format!("{{\"@id\": {}}}", q(b))),
            list(&a.data_subjects, &|d| q(d)),
            list(&a.categories, &|c| format!(
                "{{\"@id\": {}}}",
                q(&format!("tutela:category:{c}"))
            )),
            list(&a.recipients, &|r| q(r)),
            list(&a.erasure, &|e| q(e)),
            list(&a.measures, &|m| q(m)),
            list(&a.transfers, &|t| q(t)),
            if i + 1 == record.activities.len() {
                ""
            } else {
                ","
            }
        );
    }
    s.push_str("  ]\n}\n");
    s
}
