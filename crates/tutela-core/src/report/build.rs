//! The report document from the policy, the person's state and what was collected.

use crate::compiled::CompiledPolicy;
use crate::lang::Lang;
use crate::policy::{Policy, Text};
use crate::words::{date, date_time, stored_time};

use super::terms::{self, loose, pick};
use super::{
    AccessReport, AutomatedItem, Copy, DerogationItem, DisclosureText, Labelled, Party,
    PurposeItem, RecipientItem, ReportInput, RetentionItem, RightItem, RiskCheckText,
    SafeguardItem, SourceItem, TutelaRecords, copy, transfer,
};

fn text(t: &Text, lang: Lang) -> String {
    t.get(lang).to_owned()
}

fn category_labels(p: &Policy, ix: &[usize], lang: Lang) -> Vec<String> {
    ix.iter()
        .map(|&c| text(&p.categories[c].label, lang))
        .collect()
}

fn category_label_of(p: &Policy, id: &str, lang: Lang) -> String {
    p.category(id)
        .map(|c| text(&p.categories[c].label, lang))
        .unwrap_or_else(|| loose(id))
}

fn recipient_label(p: &Policy, id: &str, lang: Lang) -> String {
    p.recipient(id)
        .map(|r| text(&p.recipients[r].label, lang))
        .unwrap_or_else(|| loose(id))
}

/// The purposes listed (indices into the policy's purposes) and their items.
fn purposes(input: &ReportInput<'_>) -> (Vec<usize>, Vec<PurposeItem>) {
    let cp = input.policy;
    let p = &cp.policy;
    let lang = input.lang;
    let consented: Vec<&str> = input
        .history
        .iter()
        .filter(|h| h.event == "consent_given")
        .filter_map(|h| h.purpose.as_deref())
        .collect();
    let mut items = Vec::new();
    let mut ix = Vec::new();
    for (i, purpose) in p.purposes.iter().enumerate() {
        let cats = purpose
            .categories
            .iter()
            .map(|&c| p.categories[c].id.as_str());
        let channel = purpose.channels.first().map(|&c| p.channels[c].id.as_str());
        let decision = cp
            .resolve(&purpose.id, cats, channel, None, None)
            .map(|q| cp.decide(input.state, &q, input.now));
        let allowed = decision.as_ref().is_ok_and(|d| d.allowed());
        if !allowed && !consented.contains(&purpose.id.as_str()) {
            continue;
        }
        let basis = decision.ok().and_then(|d| d.legal_basis);
        ix.push(i);
        items.push(PurposeItem {
            id: purpose.id.clone(),
            label: text(&purpose.label, lang),
            description: text(&purpose.description, lang),
            legal_basis: basis.map(|b| b.dpv_id().to_owned()),
            legal_basis_text: basis.map(|b| terms::legal_basis(b, lang)),
            categories: purpose
                .categories
                .iter()
                .map(|&c| p.categories[c].id.clone())
                .collect(),
            category_labels: category_labels(p, &purpose.categories, lang),
            renewal_needed: input.state.renewal() & cp.consent_mask(&purpose.id, None) != 0,
            notice_refs: purpose.notice_refs.clone(),
        });
    }
    (ix, items)
}

/// Categories: those the listed purposes process, and those found in the data itself.
fn category_ix(input: &ReportInput<'_>, purpose_ix: &[usize]) -> Vec<usize> {
    let p = &input.policy.policy;
    let mut ix: Vec<usize> = purpose_ix
        .iter()
        .flat_map(|&i| p.purposes[i].categories.iter().copied())
        .collect();
    for t in input.tables {
        ix.extend(t.categories.iter().filter_map(|c| p.category(c)));
    }
    ix.sort_unstable();
    ix.dedup();
    ix
}

fn recipients(p: &Policy, purpose_ix: &[usize], lang: Lang) -> Vec<RecipientItem> {
    p.recipients
        .iter()
        .filter(|r| r.purposes.iter().any(|x| purpose_ix.contains(x)))
        .map(|r| RecipientItem {
            id: r.id.clone(),
            kind: r.kind.as_str(),
            kind_text: terms::recipient_kind(r.kind, lang),
            label: text(&r.label, lang),
            countries: r.countries.iter().map(|c| c.as_str().to_owned()).collect(),
            country_names: r
                .countries
                .iter()
                .map(|c| crate::countries::country_name(c.as_str(), lang))
                .collect(),
        })
        .collect()
}

fn retention(p: &Policy, cat_ix: &[usize], lang: Lang) -> Vec<RetentionItem> {
    p.retention
        .iter()
        .filter(|r| r.categories.iter().any(|c| cat_ix.contains(c)))
        .map(|r| {
            let mine: Vec<usize> = r
                .categories
                .iter()
                .copied()
                .filter(|c| cat_ix.contains(c))
                .collect();
            RetentionItem {
                id: r.id.clone(),
                period: r.period.to_string(),
                text: text(&r.label, lang),
                category_labels: category_labels(p, &mine, lang),
            }
        })
        .collect()
}

fn automated(input: &ReportInput<'_>) -> Vec<AutomatedItem> {
    let p = &input.policy.policy;
    let used = input
        .tables
        .iter()
        .any(|t| t.categories.iter().any(|c| c == "risk_result"))
        || !input.risk_checks.is_empty();
    p.purposes
        .iter()
        .filter(|x| {
            x.categories
                .iter()
                .any(|&c| p.categories[c].id == "risk_result")
        })
        .filter(|x| x.id == "risk_check" || x.id == "credit_agency_query")
        .map(|x| AutomatedItem {
            purpose: x.id.clone(),
            label: text(&x.label, input.lang),
            logic: text(&x.description, input.lang),
            used_for_this_person: used,
        })
        .collect()
}

fn safeguards(input: &ReportInput<'_>, purpose_ix: &[usize]) -> Vec<SafeguardItem> {
    let cp = input.policy;
    let p = &cp.policy;
    let lang = input.lang;
    let today = input.now.to_zoned(input.time_zone.clone()).date();
    let mut out = Vec::new();
    for r in p
        .recipients
        .iter()
        .filter(|r| r.purposes.iter().any(|x| purpose_ix.contains(x)))
    {
        for &c in r.countries.iter().filter(|c| !p.transfers.eea.contains(c)) {
            let (ground, mechanism) = transfer::ground(cp, input.state, r, c, today, lang);
            out.push(SafeguardItem {
                recipient: r.id.clone(),
                recipient_label: text(&r.label, lang),
                country: c.as_str().to_owned(),
                country_name: crate::countries::country_name(c.as_str(), lang),
                mechanism,
                ground,
            });
        }
    }
    out
}

fn derogations(input: &ReportInput<'_>) -> Vec<DerogationItem> {
    let cp = input.policy;
    let s = input.state;
    cp.third_countries()
        .iter()
        .filter(|c| {
            cp.third_country_bit(**c)
                .is_some_and(|b| (s.transfer_consents | s.transfer_necessities) & b != 0)
        })
        .map(|c| DerogationItem {
            country: c.as_str().to_owned(),
            country_name: crate::countries::country_name(c.as_str(), input.lang),
            ground: transfer::art49(cp, s, *c, input.lang),
        })
        .collect()
}

fn time_words(at: &str, input: &ReportInput<'_>) -> String {
    stored_time(at, input.time_zone, input.lang).unwrap_or_else(|| at.to_owned())
}

fn risk_checks(input: &ReportInput<'_>) -> Vec<RiskCheckText> {
    let lang = input.lang;
    input
        .risk_checks
        .iter()
        .map(|c| RiskCheckText {
            at: time_words(&c.at, input),
            outcome: terms::risk_outcome(&c.outcome, lang),
            review: c.review.as_deref().map(|r| terms::risk_review(r, lang)),
            probability: match lang {
                Lang::De => format!("{:.1} %", c.probability * 100.0).replace('.', ","),
                Lang::En => format!("{:.1}%", c.probability * 100.0),
            },
            reasons: c
                .reasons
                .iter()
                .map(|r| format!("{}: {}", reason_name(r, lang), r.value))
                .collect(),
            agency_queried: c.agency_queried,
            kept_until: c
                .kept_until
                .parse::<jiff::Timestamp>()
                .map(|t| date(t, input.time_zone, lang))
                .unwrap_or_else(|_| time_words(&c.kept_until, input)),
        })
        .collect()
}

/// A reason's feature by the label the model gave it; a model trained without labels leaves
/// only the training table's column, written with spaces.
fn reason_name(r: &crate::risk::ScoreReason, lang: Lang) -> String {
    match (&r.label, lang) {
        (Some(l), Lang::De) => l.de.clone(),
        (Some(l), Lang::En) => l.en.clone(),
        (None, _) => loose(&r.feature),
    }
}

fn disclosed_to(input: &ReportInput<'_>) -> Vec<String> {
    let p = &input.policy.policy;
    let mut to: Vec<String> = input
        .disclosures
        .iter()
        .map(|d| d.recipient.clone())
        .collect();
    if input.risk_checks.iter().any(|c| c.agency_queried) {
        to.extend(
            p.recipients
                .iter()
                .filter(|r| {
                    r.purposes
                        .iter()
                        .any(|&x| p.purposes[x].id == "credit_agency_query")
                })
                .map(|r| r.id.clone()),
        );
    }
    to.sort();
    to.dedup();
    to
}

fn disclosures(input: &ReportInput<'_>) -> Vec<DisclosureText> {
    let p = &input.policy.policy;
    let lang = input.lang;
    input
        .disclosures
        .iter()
        .map(|d| DisclosureText {
            at: time_words(&d.at, input),
            recipient: recipient_label(p, &d.recipient, lang),
            purpose: p
                .purpose(&d.purpose)
                .map(|i| text(&p.purposes[i].label, lang))
                .unwrap_or_else(|| loose(&d.purpose)),
            categories: d
                .categories
                .iter()
                .map(|c| category_label_of(p, c, lang))
                .collect(),
            legal_basis: d
                .legal_basis
                .as_deref()
                .map(|b| terms::legal_basis_id(b, lang)),
        })
        .collect()
}

fn parties(input: &ReportInput<'_>) -> (Party, Party, Option<Party>) {
    let p = &input.policy.policy;
    let lang = input.lang;
    let controller = Party {
        name: p.controller.name.clone(),
        address: p.controller.address.clone(),
        email: Some(p.controller.rights_email.clone()),
        web: Some(p.controller.contact_url.clone()),
    };
    let dpo = Party {
        name: pick(lang, "Datenschutzbeauftragter", "Data protection officer").to_owned(),
        address: p.controller.dpo_address.clone(),
        email: Some(p.controller.dpo_email.clone()),
        web: None,
    };
    let complaint = p
        .competent_authority(input.state.contract_kind)
        .map(|a| Party {
            name: text(&a.name, lang),
            address: a.address.clone(),
            email: Some(a.email.clone()),
            web: Some(a.web.clone()),
        });
    (controller, dpo, complaint)
}

/// Builds the report.
pub fn build(input: &ReportInput<'_>) -> AccessReport {
    let cp: &CompiledPolicy = input.policy;
    let p = &cp.policy;
    let lang = input.lang;
    let (purpose_ix, purposes) = purposes(input);
    let cat_ix = category_ix(input, &purpose_ix);
    let categories = cat_ix
        .iter()
        .map(|&c| Labelled {
            id: p.categories[c].id.clone(),
            label: text(&p.categories[c].label, lang),
        })
        .collect();
    let rights = p
        .rights
        .iter()
        .map(|r| RightItem {
            id: r.id.clone(),
            article: text(&r.article, lang),
            text: text(&r.text, lang),
        })
        .collect();
    let sources = cat_ix
        .iter()
        .filter_map(|&c| {
            p.categories[c].source.as_ref().map(|s| SourceItem {
                category: p.categories[c].id.clone(),
                category_label: text(&p.categories[c].label, lang),
                source: text(s, lang),
            })
        })
        .collect();
    let (controller, data_protection_officer, complaint) = parties(input);
    let disclosed_to = disclosed_to(input);
    AccessReport {
        report: "access",
        language: lang.as_str(),
        subject: input.subject.to_owned(),
        generated_at: input.now.to_string(),
        generated_at_text: date_time(input.now, input.time_zone, lang),
        policy_version: cp.policy_version().to_owned(),
        notice_version: p.version.clone(),
        controller,
        data_protection_officer,
        processed: input.state.has(crate::state::KNOWN) || !input.tables.is_empty(),
        recipients: recipients(p, &purpose_ix, lang),
        retention: retention(p, &cat_ix, lang),
        transfer_safeguards: safeguards(input, &purpose_ix),
        purposes,
        categories,
        rights,
        complaint,
        sources,
        automated_decisions: automated(input),
        risk_checks: input.risk_checks.to_vec(),
        risk_checks_text: risk_checks(input),
        disclosed_to_labels: disclosed_to
            .iter()
            .map(|r| recipient_label(p, r, lang))
            .collect(),
        disclosed_to,
        disclosures: input.disclosures.to_vec(),
        disclosures_text: disclosures(input),
        transfer_derogations: derogations(input),
        copy: Copy {
            tutela: TutelaRecords {
                id: input.subject.to_owned(),
                email: input.email.map(str::to_owned),
                relationship: input.state.relationship.as_str(),
                relationship_text: terms::relationship(input.state.relationship, lang),
                contract_kind: input.state.contract_kind.as_str(),
                history: input.history.to_vec(),
                events: copy::events(p, input.history, input.time_zone, lang),
            },
            tables: input
                .tables
                .iter()
                .map(|t| copy::table(p, t, input.time_zone, lang))
                .collect(),
        },
    }
}
