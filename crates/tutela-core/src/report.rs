//! The Art. 15 access report: every item of Art. 15(1)(a)–(h) and 15(2) taken from the policy
//! and the person's state, plus the copy of the data (15(3)), in German or English, as a
//! document (serialisable) and as HTML written from that document.
//!
//! Which purposes are listed is decided by the decision engine, not by a second copy of the
//! rules: a purpose is listed when the person's current state allows it for all its categories,
//! or when the person ever consented to it.

use std::fmt::Write;

use serde::Serialize;

use crate::compiled::CompiledPolicy;
use crate::policy::Text;
use crate::render::{Lang, escape};
use crate::state::SubjectState;

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
}

#[derive(Debug, Clone, Serialize)]
pub struct AccessReport {
    pub report: &'static str,
    pub language: &'static str,
    pub subject: String,
    pub generated_at: String,
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
    /// Recipients that actually received the person's data: the disclosure log and the
    /// credit agencies asked in risk checks.
    pub disclosed_to: Vec<String>,
    /// Each logged disclosure.
    pub disclosures: Vec<DisclosureEntry>,
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
    pub legal_basis_text: Option<String>,
    pub categories: Vec<String>,
    /// The person's consent was given before the purpose was widened and needs renewal (N33).
    pub renewal_needed: bool,
    pub notice_refs: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecipientItem {
    pub id: String,
    pub kind: &'static str,
    pub label: String,
    pub countries: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetentionItem {
    pub id: String,
    pub period: String,
    pub text: String,
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
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AutomatedItem {
    pub purpose: String,
    pub logic: String,
    /// Whether a result of it is among the person's data.
    pub used_for_this_person: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SafeguardItem {
    pub recipient: String,
    pub country: String,
    pub ground: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DerogationItem {
    pub country: String,
    pub ground: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Copy {
    pub tutela: TutelaRecords,
    pub tables: Vec<CollectedTable>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TutelaRecords {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub relationship: &'static str,
    pub contract_kind: &'static str,
    pub history: Vec<HistoryEntry>,
}

fn text(t: &Text, lang: Lang) -> String {
    t.get(lang).to_owned()
}

/// Builds the report.
pub fn build(input: &ReportInput<'_>) -> AccessReport {
    let cp = input.policy;
    let p = &cp.policy;
    let lang = input.lang;
    let consented: Vec<&str> = input
        .history
        .iter()
        .filter(|h| h.event == "consent_given")
        .filter_map(|h| h.purpose.as_deref())
        .collect();
    let mut purposes = Vec::new();
    let mut purpose_ix = Vec::new();
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
        purpose_ix.push(i);
        purposes.push(PurposeItem {
            id: purpose.id.clone(),
            label: text(&purpose.label, lang),
            description: text(&purpose.description, lang),
            legal_basis: basis.map(|b| b.dpv_id().to_owned()),
            legal_basis_text: basis.map(|b| b.article(lang).to_owned()),
            categories: purpose
                .categories
                .iter()
                .map(|&c| p.categories[c].id.clone())
                .collect(),
            renewal_needed: input.state.renewal() & cp.consent_mask(&purpose.id, None) != 0,
            notice_refs: purpose.notice_refs.clone(),
        });
    }
    // Categories: those the listed purposes process, and those found in the data itself.
    let mut cat_ix: Vec<usize> = purpose_ix
        .iter()
        .flat_map(|&i| p.purposes[i].categories.iter().copied())
        .collect();
    for t in input.tables {
        cat_ix.extend(t.categories.iter().filter_map(|c| p.category(c)));
    }
    cat_ix.sort_unstable();
    cat_ix.dedup();
    let categories = cat_ix
        .iter()
        .map(|&c| Labelled {
            id: p.categories[c].id.clone(),
            label: text(&p.categories[c].label, lang),
        })
        .collect();
    let recipients: Vec<RecipientItem> = p
        .recipients
        .iter()
        .filter(|r| r.purposes.iter().any(|x| purpose_ix.contains(x)))
        .map(|r| RecipientItem {
            id: r.id.clone(),
            kind: r.kind.as_str(),
            label: text(&r.label, lang),
            countries: r.countries.iter().map(|c| c.as_str().to_owned()).collect(),
        })
        .collect();
    let retention = p
        .retention
        .iter()
        .filter(|r| r.categories.iter().any(|c| cat_ix.contains(c)))
        .map(|r| RetentionItem {
            id: r.id.clone(),
            period: r.period.to_string(),
            text: text(&r.label, lang),
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
    let complaint = p
        .competent_authority(input.state.contract_kind)
        .map(|a| Party {
            name: text(&a.name, lang),
            address: a.address.clone(),
            email: Some(a.email.clone()),
            web: Some(a.web.clone()),
        });
    let sources = cat_ix
        .iter()
        .filter_map(|&c| {
            p.categories[c].source.as_ref().map(|s| SourceItem {
                category: p.categories[c].id.clone(),
                source: text(s, lang),
            })
        })
        .collect();
    let has_category = |id: &str| {
        input
            .tables
            .iter()
            .any(|t| t.categories.iter().any(|c| c == id))
    };
    let automated_decisions = p
        .purposes
        .iter()
        .filter(|x| {
            x.categories
                .iter()
                .any(|&c| p.categories[c].id == "risk_result")
        })
        .filter(|x| x.id == "risk_check" || x.id == "credit_agency_query")
        .map(|x| AutomatedItem {
            purpose: x.id.clone(),
            logic: text(&x.description, lang),
            used_for_this_person: has_category("risk_result") || !input.risk_checks.is_empty(),
        })
        .collect();
    let mut transfer_safeguards = Vec::new();
    for r in p
        .recipients
        .iter()
        .filter(|r| r.purposes.iter().any(|x| purpose_ix.contains(x)))
    {
        for c in &r.countries {
            if p.transfers.eea.contains(c) {
                continue;
            }
            let adequacy = p.transfers.adequacy.iter().find(|a| a.country == *c);
            let ground = match adequacy {
                Some(a) if a.requires_dpf && r.dpf_certified => {
                    format!(
                        "Art. 45 (adequacy {}, EU-US Data Privacy Framework)",
                        a.decided
                    )
                }
                Some(a) if !a.requires_dpf => format!("Art. 45 (adequacy {})", a.decided),
                _ => r
                    .safeguards
                    .iter()
                    .find(|s| s.countries.contains(c))
                    .map(|s| {
                        format!(
                            "{} {}",
                            s.mechanism,
                            s.reference.as_deref().unwrap_or_default()
                        )
                        .trim()
                        .to_owned()
                    })
                    .unwrap_or_else(|| art49_ground(cp, input.state, *c, lang)),
            };
            transfer_safeguards.push(SafeguardItem {
                recipient: r.id.clone(),
                country: c.as_str().to_owned(),
                ground,
            });
        }
    }
    let processed = input.state.has(crate::state::KNOWN) || !input.tables.is_empty();
    AccessReport {
        report: "access",
        language: lang.as_str(),
        subject: input.subject.to_owned(),
        generated_at: input.now.to_string(),
        policy_version: cp.policy_version().to_owned(),
        notice_version: p.version.clone(),
        controller: Party {
            name: p.controller.name.clone(),
            address: p.controller.address.clone(),
            email: Some(p.controller.rights_email.clone()),
            web: Some(p.controller.contact_url.clone()),
        },
        data_protection_officer: Party {
            name: match lang {
                Lang::De => "Datenschutzbeauftragter".to_owned(),
                Lang::En => "Data protection officer".to_owned(),
            },
            address: p.controller.dpo_address.clone(),
            email: Some(p.controller.dpo_email.clone()),
            web: None,
        },
        processed,
        purposes,
        categories,
        recipients,
        retention,
        rights,
        complaint,
        sources,
        automated_decisions,
        risk_checks: input.risk_checks.to_vec(),
        disclosed_to: {
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
        },
        disclosures: input.disclosures.to_vec(),
        transfer_safeguards,
        transfer_derogations: cp
            .third_countries()
            .iter()
            .filter(|c| {
                cp.third_country_bit(**c).is_some_and(|b| {
                    (input.state.transfer_consents | input.state.transfer_necessities) & b != 0
                })
            })
            .map(|c| DerogationItem {
                country: c.as_str().to_owned(),
                ground: art49_ground(cp, input.state, *c, lang),
            })
            .collect(),
        copy: Copy {
            tutela: TutelaRecords {
                id: input.subject.to_owned(),
                email: input.email.map(str::to_owned),
                relationship: input.state.relationship.as_str(),
                contract_kind: input.state.contract_kind.as_str(),
                history: input.history.to_vec(),
            },
            tables: input.tables.to_vec(),
        },
    }
}

/// The report as a self-contained HTML page in the report's language.
pub fn render_html(r: &AccessReport) -> String {
    let de = r.language == "de";
    let l = |d: &'static str, e: &'static str| if de { d } else { e };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;line-height:1.5}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #888;padding:.2rem .4rem;text-align:left}}</style>\
         </head><body><h1>{}</h1>",
        r.language,
        l(
            "Auskunft nach Art. 15 DSGVO",
            "Access report under Art. 15 GDPR"
        ),
        l(
            "Auskunft nach Art. 15 DSGVO",
            "Access report under Art. 15 GDPR"
        ),
    );
    let _ = write!(
        h,
        "<p>{} <strong>{}</strong>. {} {}. {} {}.</p>",
        l("Für", "For"),
        escape(&r.subject),
        l("Erstellt am", "Generated on"),
        escape(&r.generated_at),
        l("Datenschutzhinweis, Fassung", "Privacy notice, version"),
        escape(&r.notice_version),
    );
    let _ = write!(
        h,
        "<p>{}: {}, {}. {}: {}, {}.</p>",
        l("Verantwortlicher", "Controller"),
        escape(&r.controller.name),
        escape(&r.controller.address),
        escape(&r.data_protection_officer.name),
        escape(&r.data_protection_officer.address),
        escape(
            r.data_protection_officer
                .email
                .as_deref()
                .unwrap_or_default()
        ),
    );
    let section = |h: &mut String, title: &str| {
        let _ = write!(h, "<h2>{}</h2>", escape(title));
    };
    section(
        &mut h,
        l(
            "Verarbeitungszwecke und Rechtsgrundlagen (Art. 15 Abs. 1 a)",
            "Purposes and legal bases (Art. 15(1)(a))",
        ),
    );
    h.push_str("<ul>");
    for p in &r.purposes {
        let _ = write!(
            h,
            "<li><strong>{}</strong>: {} ({}){}</li>",
            escape(&p.label),
            escape(&p.description),
            escape(
                p.legal_basis_text
                    .as_deref()
                    .unwrap_or(l("derzeit keine Verarbeitung", "not processed now"))
            ),
            if p.renewal_needed {
                l(
                    " – Ihre Einwilligung stammt aus einer früheren Fassung dieser Hinweise und muss erneuert werden; bis dahin gilt sie höchstens im bisherigen Umfang.",
                    " – your consent dates from an earlier version of this notice and needs renewal; until then it counts for its earlier scope at most.",
                )
            } else {
                ""
            },
        );
    }
    h.push_str("</ul>");
    section(
        &mut h,
        l(
            "Kategorien personenbezogener Daten (Art. 15 Abs. 1 b)",
            "Categories of personal data (Art. 15(1)(b))",
        ),
    );
    list(&mut h, r.categories.iter().map(|c| c.label.as_str()));
    section(
        &mut h,
        l("Empfänger (Art. 15 Abs. 1 c)", "Recipients (Art. 15(1)(c))"),
    );
    list(
        &mut h,
        r.recipients
            .iter()
            .map(|x| format!("{} ({})", x.label, x.countries.join(", "))),
    );
    if !r.disclosures.is_empty() {
        let _ = write!(
            h,
            "<p>{}</p>",
            l("Tatsächlich übermittelt an:", "Actually disclosed to:")
        );
        list(
            &mut h,
            r.disclosures.iter().map(|d| {
                format!(
                    "{}: {} ({}, {})",
                    d.at,
                    d.recipient,
                    d.purpose,
                    d.categories.join(", ")
                )
            }),
        );
    }
    section(
        &mut h,
        l(
            "Speicherdauer (Art. 15 Abs. 1 d)",
            "Storage period (Art. 15(1)(d))",
        ),
    );
    list(&mut h, r.retention.iter().map(|x| x.text.as_str()));
    section(
        &mut h,
        l(
            "Ihre Rechte (Art. 15 Abs. 1 e)",
            "Your rights (Art. 15(1)(e))",
        ),
    );
    list(
        &mut h,
        r.rights
            .iter()
            .map(|x| format!("{}: {}", x.article, x.text)),
    );
    section(
        &mut h,
        l(
            "Beschwerderecht (Art. 15 Abs. 1 f)",
            "Right to complain (Art. 15(1)(f))",
        ),
    );
    if let Some(a) = &r.complaint {
        let _ = write!(h, "<p>{}, {}</p>", escape(&a.name), escape(&a.address));
    }
    section(
        &mut h,
        l(
            "Herkunft der Daten (Art. 15 Abs. 1 g)",
            "Source of the data (Art. 15(1)(g))",
        ),
    );
    if r.sources.is_empty() {
        let _ = write!(
            h,
            "<p>{}</p>",
            l(
                "Alle Daten stammen von Ihnen oder aus Ihrer Nutzung unserer Dienste.",
                "All data comes from you or from your use of our services."
            )
        );
    }
    list(&mut h, r.sources.iter().map(|x| x.source.as_str()));
    section(
        &mut h,
        l(
            "Automatisierte Entscheidungen (Art. 15 Abs. 1 h)",
            "Automated decisions (Art. 15(1)(h))",
        ),
    );
    list(
        &mut h,
        r.automated_decisions.iter().map(|x| {
            format!(
                "{} — {}",
                x.logic,
                if x.used_for_this_person {
                    l("bei Ihnen angewandt", "applied to you")
                } else {
                    l("bei Ihnen nicht angewandt", "not applied to you")
                }
            )
        }),
    );
    section(
        &mut h,
        l(
            "Garantien bei Übermittlung in Drittländer (Art. 15 Abs. 2)",
            "Safeguards for transfers to third countries (Art. 15(2))",
        ),
    );
    list(
        &mut h,
        r.transfer_safeguards
            .iter()
            .map(|x| format!("{} → {}: {}", x.recipient, x.country, x.ground))
            .chain(
                r.transfer_derogations
                    .iter()
                    .map(|x| format!("{}: {}", x.country, x.ground)),
            ),
    );
    section(
        &mut h,
        l(
            "Kopie Ihrer Daten (Art. 15 Abs. 3)",
            "Copy of your data (Art. 15(3))",
        ),
    );
    let t = &r.copy.tutela;
    let _ = write!(
        h,
        "<p>{}: {} · {}: {} · E-Mail: {}</p><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        l("Kennung", "Id"),
        escape(&t.id),
        l("Beziehung", "Relationship"),
        t.relationship,
        escape(t.email.as_deref().unwrap_or("—")),
        l("Zeitpunkt", "Time"),
        l("Ereignis", "Event"),
        l("Zweck / Kanal", "Purpose / channel"),
        l("Quelle", "Source"),
    );
    for e in &t.history {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&e.at),
            escape(&e.event),
            escape(&format!(
                "{}{}",
                e.purpose.as_deref().or(e.scope.as_deref()).unwrap_or(""),
                e.channel
                    .as_deref()
                    .map(|c| format!(" / {c}"))
                    .unwrap_or_default()
            )),
            escape(e.source.as_deref().unwrap_or("")),
        );
        if let (Some(v), Some(nv)) = (&e.policy_version, &e.notice_version) {
            // The notice as the person saw it when they gave or withdrew the consent.
            let _ = write!(
                h,
                "<tr><td></td><td colspan=\"3\"><a href=\"/v1/notice?version={}&amp;lang={}\">{} {}</a></td></tr>",
                escape(v),
                r.language,
                l("Datenschutzhinweis, Fassung", "Privacy notice, version"),
                escape(nv)
            );
        }
    }
    h.push_str("</table>");
    for table in &r.copy.tables {
        let _ = write!(
            h,
            "<h3>{} · {}</h3><table><tr>",
            escape(&table.dataset),
            escape(&table.table)
        );
        for c in &table.columns {
            let _ = write!(h, "<th>{}</th>", escape(c));
        }
        h.push_str("</tr>");
        for row in &table.rows {
            h.push_str("<tr>");
            for v in row {
                let _ = write!(h, "<td>{}</td>", escape(v.as_deref().unwrap_or("")));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    h.push_str("</body></html>\n");
    h
}

fn list<S: AsRef<str>>(h: &mut String, items: impl Iterator<Item = S>) {
    h.push_str("<ul>");
    for i in items {
        let _ = write!(h, "<li>{}</li>", escape(i.as_ref()));
    }
    h.push_str("</ul>");
}

/// The person's own Art. 49 grounds for a country without adequacy or safeguards (N31).
fn art49_ground(
    cp: &CompiledPolicy,
    state: &crate::state::SubjectState,
    c: crate::basis::CountryCode,
    lang: Lang,
) -> String {
    let bit = cp.third_country_bit(c).unwrap_or(0);
    let l = |de: &'static str, en: &'static str| match lang {
        Lang::De => de,
        Lang::En => en,
    };
    let mut grounds = Vec::new();
    if state.transfer_consents & bit != 0 {
        grounds.push(l(
            "Art. 49 Abs. 1 lit. a (Ihre ausdrückliche Einwilligung)",
            "Art. 49(1)(a) (your explicit consent)",
        ));
    }
    if state.transfer_necessities & bit != 0 {
        grounds.push(l(
            "Art. 49 Abs. 1 lit. b (für Ihren Vertrag erforderlich)",
            "Art. 49(1)(b) (necessary for your contract)",
        ));
    }
    if grounds.is_empty() {
        grounds.push(l(
            "keine für Sie erfasste Grundlage: keine Übermittlung",
            "no ground recorded for you: no transfer",
        ));
    }
    grounds.join("; ")
}
