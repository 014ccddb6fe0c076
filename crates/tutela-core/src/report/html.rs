//! The report as a self-contained HTML page in the report's language: a summary first, then
//! one section per item of Art. 15(1)(a)–(h), 15(2) and 15(3), each headed by a question a
//! person asks, with the article beside it. Only words reach the page: labels, sentences and
//! dates from the document, never the policy's or the databases' identifiers.

use std::fmt::Write;

use crate::render::{Lang, escape};

use super::style::CSS;
use super::{AccessReport, CopyTable, TutelaRecords};

/// The report's language as a chooser of the two texts.
#[derive(Clone, Copy)]
struct L(bool);

impl L {
    fn t(self, de: &'static str, en: &'static str) -> &'static str {
        if self.0 { de } else { en }
    }

    fn lang(self) -> crate::lang::Lang {
        if self.0 {
            crate::lang::Lang::De
        } else {
            crate::lang::Lang::En
        }
    }
}

/// The sections: anchor, German and English heading, German and English article.
const SECTIONS: [(&str, &str, &str, &str, &str); 10] = [
    (
        "zwecke",
        "Zu welchen Zwecken wir Ihre Daten verarbeiten",
        "Why we process your data",
        "Art. 15 Abs. 1 lit. a DSGVO",
        "Art. 15(1)(a) GDPR",
    ),
    (
        "daten",
        "Welche Daten wir über Sie haben",
        "What data we hold about you",
        "Art. 15 Abs. 1 lit. b DSGVO",
        "Art. 15(1)(b) GDPR",
    ),
    (
        "empfaenger",
        "Wer Ihre Daten erhält",
        "Who receives your data",
        "Art. 15 Abs. 1 lit. c DSGVO",
        "Art. 15(1)(c) GDPR",
    ),
    (
        "speicherdauer",
        "Wie lange wir sie speichern",
        "How long we keep it",
        "Art. 15 Abs. 1 lit. d DSGVO",
        "Art. 15(1)(d) GDPR",
    ),
    (
        "rechte",
        "Ihre Rechte",
        "Your rights",
        "Art. 15 Abs. 1 lit. e DSGVO",
        "Art. 15(1)(e) GDPR",
    ),
    (
        "beschwerde",
        "Beschwerde bei einer Aufsichtsbehörde",
        "Complaint to a supervisory authority",
        "Art. 15 Abs. 1 lit. f DSGVO",
        "Art. 15(1)(f) GDPR",
    ),
    (
        "herkunft",
        "Woher die Daten stammen",
        "Where the data comes from",
        "Art. 15 Abs. 1 lit. g DSGVO",
        "Art. 15(1)(g) GDPR",
    ),
    (
        "automatisiert",
        "Automatisierte Entscheidungen",
        "Automated decisions",
        "Art. 15 Abs. 1 lit. h DSGVO",
        "Art. 15(1)(h) GDPR",
    ),
    (
        "drittlaender",
        "Übermittlung in Drittländer und Garantien",
        "Transfers to third countries and safeguards",
        "Art. 15 Abs. 2 DSGVO",
        "Art. 15(2) GDPR",
    ),
    (
        "kopie",
        "Kopie Ihrer Daten",
        "Copy of your data",
        "Art. 15 Abs. 3 DSGVO",
        "Art. 15(3) GDPR",
    ),
];

fn heading(h: &mut String, l: L, i: usize) {
    let (id, de, en, art_de, art_en) = SECTIONS[i];
    let _ = write!(
        h,
        "<section id=\"{id}\"><h2>{}<span class=\"art\">{}</span></h2>",
        l.t(de, en),
        l.t(art_de, art_en)
    );
}

fn para(h: &mut String, text: &str) {
    let _ = write!(h, "<p>{}</p>", escape(text));
}

fn list<S: AsRef<str>>(h: &mut String, items: impl Iterator<Item = S>) {
    h.push_str("<ul>");
    for i in items {
        let _ = write!(h, "<li>{}</li>", escape(i.as_ref()));
    }
    h.push_str("</ul>");
}

/// A table with a heading row and rows of plain text.
fn table<S: AsRef<str>>(h: &mut String, heads: &[&str], rows: impl Iterator<Item = Vec<S>>) {
    h.push_str("<table><thead><tr>");
    for c in heads {
        let _ = write!(h, "<th scope=\"col\">{}</th>", escape(c));
    }
    h.push_str("</tr></thead><tbody>");
    for row in rows {
        h.push_str("<tr>");
        for v in row {
            let _ = write!(h, "<td>{}</td>", escape(v.as_ref()));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
}

/// The report as a self-contained HTML page in the report's language.
pub fn render_html(r: &AccessReport) -> String {
    let l = L(r.language == "de");
    let title = l.t(
        "Auskunft über Ihre Daten (Art. 15 DSGVO)",
        "Your data access report (Art. 15 GDPR)",
    );
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{CSS}</style></head><body><main><h1>{title}</h1>",
        r.language,
    );
    summary(&mut h, l, r);
    contents(&mut h, l);
    purposes(&mut h, l, r);
    categories(&mut h, l, r);
    recipients(&mut h, l, r);
    retention(&mut h, l, r);
    rights(&mut h, l, r);
    complaint(&mut h, l, r);
    sources(&mut h, l, r);
    automated(&mut h, l, r);
    transfers(&mut h, l, r);
    copy(&mut h, l, r);
    h.push_str("</main></body></html>\n");
    h
}

fn summary(h: &mut String, l: L, r: &AccessReport) {
    h.push_str("<section class=\"summary\" id=\"summary\">");
    let made = match l.0 {
        true => format!(
            "{} hat diese Auskunft am {} für Sie erstellt. Sie beantwortet Ihre Fragen nach Art. 15 der Datenschutz-Grundverordnung (DSGVO).",
            r.controller.name, r.generated_at_text
        ),
        false => format!(
            "{} prepared this report for you on {}. It answers your questions under Art. 15 of the General Data Protection Regulation (GDPR).",
            r.controller.name, r.generated_at_text
        ),
    };
    para(h, &made);
    if !r.processed {
        para(
            h,
            l.t(
                "Wir verarbeiten derzeit keine personenbezogenen Daten von Ihnen.",
                "We do not process any personal data about you at present.",
            ),
        );
    }
    let dpo = &r.data_protection_officer;
    let rows: [(&str, String); 8] = [
        (
            l.t("Verantwortlich", "Controller"),
            format!("{}, {}", r.controller.name, r.controller.address),
        ),
        (
            l.t("Kontakt für Ihre Rechte", "Contact for your rights"),
            r.controller.email.clone().unwrap_or_default(),
        ),
        (
            &dpo.name,
            format!(
                "{}, {}",
                dpo.address,
                dpo.email.as_deref().unwrap_or_default()
            ),
        ),
        (
            l.t("Erstellt am", "Prepared on"),
            r.generated_at_text.clone(),
        ),
        (l.t("Zwecke", "Purposes"), r.purposes.len().to_string()),
        (
            l.t("Datenkategorien", "Categories of data"),
            r.categories.len().to_string(),
        ),
        (
            l.t("Empfänger", "Recipients"),
            r.recipients.len().to_string(),
        ),
        (
            l.t("Ihre Kennung bei uns", "Your reference with us"),
            r.subject.clone(),
        ),
    ];
    h.push_str("<dl>");
    for (k, v) in rows {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
    }
    let _ = write!(
        h,
        "<dt>{}</dt><dd>{} {}</dd></dl></section>",
        l.t("Datenschutzhinweise", "Privacy notice"),
        l.t("Stand", "version of"),
        escape(&crate::words::version(
            &r.notice_version,
            if l.0 { Lang::De } else { Lang::En }
        ))
    );
}

fn contents(h: &mut String, l: L) {
    let _ = write!(
        h,
        "<nav aria-label=\"{0}\"><h2>{0}</h2><ol>",
        l.t("Inhalt", "Contents")
    );
    for (id, de, en, _, _) in SECTIONS {
        let _ = write!(h, "<li><a href=\"#{id}\">{}</a></li>", l.t(de, en));
    }
    h.push_str("</ol></nav>");
}

fn purposes(h: &mut String, l: L, r: &AccessReport) {
    heading(h, l, 0);
    if r.purposes.is_empty() {
        para(
            h,
            l.t(
                "Wir verarbeiten Ihre Daten derzeit zu keinem Zweck.",
                "We do not process your data for any purpose at present.",
            ),
        );
    }
    h.push_str("<ul>");
    for p in &r.purposes {
        let basis = p.legal_basis_text.as_deref().unwrap_or(l.t(
            "derzeit keine: wir verarbeiten Ihre Daten zu diesem Zweck nicht mehr",
            "none at present: we no longer process your data for this purpose",
        ));
        let _ = write!(
            h,
            "<li><strong>{}</strong>: {}<br>{}: {}<br>{}: {}",
            escape(&p.label),
            escape(&p.description),
            l.t("Rechtsgrundlage", "Legal basis"),
            escape(basis),
            l.t("Daten", "Data"),
            escape(&p.category_labels.join("; ")),
        );
        if p.renewal_needed {
            let _ = write!(h, "<br><span class=\"note\">{}</span>", l.t(
                "Ihre Einwilligung stammt aus einer früheren Fassung dieser Hinweise und muss erneuert werden; bis dahin gilt sie höchstens im bisherigen Umfang.",
                "Your consent dates from an earlier version of this notice and needs renewal; until then it counts for its earlier scope at most.",
            ));
        }
        h.push_str("</li>");
    }
    h.push_str("</ul></section>");
}

fn categories(h: &mut String, l: L, r: &AccessReport) {
    heading(h, l, 1);
    if r.categories.is_empty() {
        para(
            h,
            l.t(
                "Wir haben keine Daten über Sie.",
                "We hold no data about you.",
            ),
        );
    }
    list(h, r.categories.iter().map(|c| c.label.as_str()));
    para(
        h,
        l.t(
            "Die Daten selbst finden Sie unten im Abschnitt „Kopie Ihrer Daten“.",
            "You find the data itself below, under “Copy of your data”.",
        ),
    );
    h.push_str("</section>");
}

fn recipients(h: &mut String, l: L, r: &AccessReport) {
    heading(h, l, 2);
    if r.recipients.is_empty() {
        para(
            h,
            l.t(
                "Wir geben Ihre Daten an niemanden weiter.",
                "We pass your data to no one.",
            ),
        );
    }
    list(
        h,
        r.recipients.iter().map(|x| {
            format!(
                "{} – {}; {}: {}",
                x.label,
                x.kind_text,
                l.t("Sitz", "located in"),
                x.country_names.join(", ")
            )
        }),
    );
    if !r.disclosures_text.is_empty() {
        para(
            h,
            l.t(
                "Tatsächlich an Dritte übermittelt:",
                "Actually disclosed to third parties:",
            ),
        );
        table(
            h,
            &[
                l.t("Wann", "When"),
                l.t("An", "To"),
                l.t("Zweck", "Purpose"),
                l.t("Daten", "Data"),
                l.t("Rechtsgrundlage", "Legal basis"),
            ],
            r.disclosures_text.iter().map(|d| {
                vec![
                    d.at.clone(),
                    d.recipient.clone(),
                    d.purpose.clone(),
                    d.categories.join("; "),
                    d.legal_basis.clone().unwrap_or_default(),
                ]
            }),
        );
    } else if !r.disclosed_to_labels.is_empty() {
        para(
            h,
            l.t(
                "Tatsächlich an Dritte übermittelt:",
                "Actually disclosed to third parties:",
            ),
        );
        list(h, r.disclosed_to_labels.iter());
    }
    h.push_str("</section>");
}

fn retention(h: &mut String, l: L, r: &AccessReport) {
    heading(h, l, 3);
    if r.retention.is_empty() {
        para(h, l.t(
            "Wir löschen Ihre Daten, sobald sie für die genannten Zwecke nicht mehr erforderlich sind.",
            "We delete your data as soon as it is no longer needed for the purposes above.",
        ));
    }
    list(
        h,
        r.retention.iter().map(|x| {
            format!(
                "{} ({}: {})",
                x.text,
                l.t("betrifft", "concerns"),
                x.category_labels.join("; ")
            )
        }),
    );
    h.push_str("</section>");
}

fn rights(h: &mut String, l: L, r: &AccessReport) {
    heading(h, l, 4);
    list(
        h,
        r.rights
            .iter()
            .map(|x| format!("{}: {}", x.article, x.text)),
    );
    if let Some(e) = &r.controller.email {
        let line = match l.0 {
            true => format!("Schreiben Sie uns dafür an {e}."),
            false => format!("To use them, write to us at {e}."),
        };
        para(h, &line);
    }
    h.push_str("</section>");
}

fn complaint(h: &mut String, l: L, r: &AccessReport) {
    heading(h, l, 5);
    para(h, l.t(
        "Sie können sich bei jeder Datenschutz-Aufsichtsbehörde beschweren. Für uns zuständig ist:",
        "You may complain to any data protection supervisory authority. The authority competent for us is:",
    ));
    if let Some(a) = &r.complaint {
        let parts = [
            Some(a.name.as_str()),
            Some(a.address.as_str()),
            a.email.as_deref(),
            a.web.as_deref(),
        ];
        para(
            h,
            &parts.into_iter().flatten().collect::<Vec<_>>().join(", "),
        );
    }
    h.push_str("</section>");
}

fn sources(h: &mut String, l: L, r: &AccessReport) {
    heading(h, l, 6);
    para(
        h,
        l.t(
            "Die meisten Daten stammen von Ihnen selbst oder aus Ihrer Nutzung unserer Dienste.",
            "Most data comes from you or from your use of our services.",
        ),
    );
    if !r.sources.is_empty() {
        para(h, l.t("Aus anderen Quellen:", "From other sources:"));
        list(
            h,
            r.sources
                .iter()
                .map(|x| format!("{}: {}", x.category_label, x.source)),
        );
    }
    h.push_str("</section>");
}

fn automated(h: &mut String, l: L, r: &AccessReport) {
    heading(h, l, 7);
    if r.automated_decisions.is_empty() {
        para(
            h,
            l.t(
                "Wir treffen keine automatisierten Entscheidungen über Sie.",
                "We make no automated decisions about you.",
            ),
        );
    }
    list(
        h,
        r.automated_decisions.iter().map(|x| {
            format!(
                "{}: {} {}",
                x.label,
                x.logic,
                if x.used_for_this_person {
                    l.t(
                        "Dieses Verfahren wurde bei Ihnen angewandt.",
                        "This was applied to you.",
                    )
                } else {
                    l.t(
                        "Dieses Verfahren wurde bei Ihnen nicht angewandt.",
                        "This was not applied to you.",
                    )
                }
            )
        }),
    );
    if !r.risk_checks_text.is_empty() {
        table(
            h,
            &[
                l.t("Wann", "When"),
                l.t("Ergebnis", "Result"),
                l.t(
                    "Wahrscheinlichkeit, dass Zahlungen geleistet werden",
                    "Probability of payments being made",
                ),
                l.t(
                    "Was den Wert am meisten senkte",
                    "What lowered the score most",
                ),
                l.t("Auskunftei gefragt", "Credit agency asked"),
                l.t("Gespeichert bis", "Kept until"),
            ],
            r.risk_checks_text.iter().map(|c| {
                let outcome = match &c.review {
                    Some(rv) => format!("{} ({rv})", c.outcome),
                    None => c.outcome.clone(),
                };
                vec![
                    c.at.clone(),
                    outcome,
                    c.probability.clone(),
                    c.reasons.join("; "),
                    if c.agency_queried {
                        l.t("ja", "yes")
                    } else {
                        l.t("nein", "no")
                    }
                    .to_owned(),
                    c.kept_until.clone(),
                ]
            }),
        );
    }
    h.push_str("</section>");
}

fn transfers(h: &mut String, l: L, r: &AccessReport) {
    heading(h, l, 8);
    if r.transfer_safeguards.is_empty() && r.transfer_derogations.is_empty() {
        para(h, l.t(
            "Wir übermitteln Ihre Daten nicht in Länder außerhalb der EU und des Europäischen Wirtschaftsraums.",
            "We do not transfer your data to countries outside the EU and the European Economic Area.",
        ));
    }
    list(
        h,
        r.transfer_safeguards
            .iter()
            .map(|x| format!("{} – {}: {}", x.recipient_label, x.country_name, x.ground)),
    );
    if !r.transfer_derogations.is_empty() {
        para(
            h,
            l.t(
                "Für Sie persönlich erfasste Grundlagen:",
                "Grounds recorded for you personally:",
            ),
        );
        list(
            h,
            r.transfer_derogations
                .iter()
                .map(|x| format!("{}: {}", x.country_name, x.ground)),
        );
    }
    h.push_str("</section>");
}

fn copy(h: &mut String, l: L, r: &AccessReport) {
    heading(h, l, 9);
    records(h, l, &r.copy.tutela, r.language);
    for t in &r.copy.tables {
        data_table(h, t);
    }
    h.push_str("</section>");
}

fn records(h: &mut String, l: L, t: &TutelaRecords, lang: &str) {
    let _ = write!(
        h,
        "<h3>{}</h3><dl>",
        l.t(
            "Ihre Einwilligungen, Widersprüche und Ihr Verlauf",
            "Your consents, objections and history"
        )
    );
    let rows = [
        (l.t("Ihre Kennung", "Your reference"), t.id.as_str()),
        (
            l.t("E-Mail-Adresse", "E-mail address"),
            t.email.as_deref().unwrap_or("—"),
        ),
        (
            l.t("Ihre Beziehung zu uns", "Your relationship with us"),
            t.relationship_text,
        ),
    ];
    for (k, v) in rows {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
    }
    h.push_str("</dl>");
    if t.events.is_empty() {
        para(h, l.t("Keine Einträge.", "No entries."));
        return;
    }
    let _ = write!(
        h,
        "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        l.t("Wann", "When"),
        l.t("Was", "What"),
        l.t("Wo", "Where"),
    );
    for e in &t.events {
        let _ = write!(h, "<tr><td>{}</td><td>{}", escape(&e.at), escape(&e.text));
        if let Some((v, nv)) = &e.notice {
            // The notice as the person saw it when they gave or withdrew the consent.
            let _ = write!(
                h,
                "<br><a class=\"note\" href=\"/v1/notice?version={}&amp;lang={lang}\">{} {}</a>",
                escape(v),
                l.t(
                    "Datenschutzhinweise in der damals gültigen Fassung",
                    "Privacy notice as in force then, version of"
                ),
                escape(&crate::words::version(nv, l.lang()))
            );
        }
        let _ = write!(
            h,
            "</td><td>{}</td></tr>",
            escape(e.source.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</tbody></table>");
}

fn data_table(h: &mut String, t: &CopyTable) {
    let _ = write!(h, "<h3>{}</h3>", escape(&t.title));
    let heads: Vec<&str> = t.headings.iter().map(String::as_str).collect();
    table(h, &heads, t.cells.iter().cloned());
}
