//! The privacy notice, written from the policy in German or English, as Markdown or HTML.
//! The notice a person reads and the rules tutela enforces come from the same file.
//!
//! Sections render in the policy's order: heading, text, the purposes assigned to the section,
//! then, by section id, the rights and authorities (`rights`), the recipients (`recipients`),
//! the transfer rules (`transfers`) and the controller (`controller`), then the closing text.

use std::fmt::Write;

use crate::basis::{ContractKind, CountryCode, LegalBasis};
use crate::countries::country_name;
use crate::policy::{Policy, RecipientKind};
use crate::words::long_day;

/// Kept here too: the notice is where callers have always found the language.
pub use crate::lang::Lang;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "md" | "markdown" => Some(Format::Markdown),
            "html" => Some(Format::Html),
            _ => None,
        }
    }
}

/// The notice as a list of blocks, then written in one format.
enum Block {
    Title(String),
    Heading(String),
    /// A heading inside a section, labelling the list after it.
    Subheading(String),
    Para(String),
    List(Vec<String>),
}

fn t<'a>(lang: Lang, de: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}

fn bases_label(lang: Lang, bases: impl Iterator<Item = LegalBasis>) -> String {
    bases
        .map(|b| b.article(lang))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `s` as a finished sentence: a full stop unless it already ends with one, a question or
/// exclamation mark, a colon or a closing quotation mark (which follows the sentence's own
/// punctuation in the policy's texts). Pieces of the policy are joined into one list item, and
/// a piece written as a fragment must not run into the next piece's capitalised first word.
fn sentence(s: &str) -> String {
    let s = s.trim_end();
    match s.chars().last() {
        None => String::new(),
        Some('.' | '!' | '?' | ':' | '“' | '”' | '"' | '’') => s.to_owned(),
        Some(_) => format!("{s}."),
    }
}

/// A text of the policy as paragraphs: a blank line (`\n\n` in the TOML string) starts a new one.
fn paragraphs(text: &str) -> impl Iterator<Item = Block> + '_ {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| Block::Para(p.to_owned()))
}

/// Country names for codes, sorted as a reader looks them up (umlauts with their base letter).
fn country_names<'a>(codes: impl Iterator<Item = &'a CountryCode>, lang: Lang) -> Vec<String> {
    let mut names: Vec<String> = codes.map(|c| country_name(c.as_str(), lang)).collect();
    names.sort_by_key(|n| sort_key(n));
    names
}

fn sort_key(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'Ä' => 'A',
            'Ö' => 'O',
            'Ü' => 'U',
            'ä' => 'a',
            'ö' => 'o',
            'ü' => 'u',
            c => c,
        })
        .collect()
}

fn blocks(policy: &Policy, lang: Lang) -> Vec<Block> {
    let mut out = vec![
        Block::Title(policy.title.get(lang).to_owned()),
        Block::Para(format!(
            "{} {}",
            t(lang, "Stand:", "Version:"),
            crate::words::version(&policy.version, lang)
        )),
    ];
    for (si, section) in policy.sections.iter().enumerate() {
        out.push(Block::Heading(section.heading.get(lang).to_owned()));
        if let Some(text) = &section.text {
            out.extend(paragraphs(text.get(lang)));
        }
        purpose_blocks(policy, si, lang, &mut out);
        match section.id.as_str() {
            "rights" => rights_blocks(policy, lang, &mut out),
            "recipients" => recipient_blocks(policy, lang, &mut out),
            "transfers" => transfer_blocks(policy, lang, &mut out),
            "controller" => controller_blocks(policy, lang, &mut out),
            _ => {}
        }
        if let Some(after) = &section.after {
            out.extend(paragraphs(after.get(lang)));
        }
    }
    out
}

/// The purposes assigned to section `si`: label, legal bases, then description, notes and
/// retention, each a finished sentence. A list after a paragraph that does not introduce it
/// ("Im Einzelnen:") gets a label of its own.
fn purpose_blocks(policy: &Policy, si: usize, lang: Lang, out: &mut Vec<Block>) {
    let items: Vec<String> = policy
        .purposes
        .iter()
        .filter(|p| p.section == si)
        .map(|p| {
            let mut line = format!(
                "**{}** ({}): {}",
                p.label.get(lang),
                bases_label(lang, p.bases.iter().map(|b| b.legal_basis)),
                sentence(p.description.get(lang))
            );
            for note in p.bases.iter().filter_map(|b| b.note.as_ref()) {
                line.push(' ');
                line.push_str(&sentence(note.get(lang)));
            }
            if let Some(r) = p.retention.and_then(|r| policy.retention.get(r)) {
                line.push(' ');
                line.push_str(&sentence(r.label.get(lang)));
            }
            line
        })
        .collect();
    if items.is_empty() {
        return;
    }
    if matches!(out.last(), Some(Block::Para(p)) if !p.ends_with(':')) {
        out.push(Block::Para(
            t(
                lang,
                "Die Verarbeitungen im Einzelnen:",
                "The processing operations in detail:",
            )
            .to_owned(),
        ));
    }
    out.push(Block::List(items));
}

/// The rights continue the section's "Sie haben das Recht,": each item ends with a semicolon,
/// the last with a full stop. Then the supervisory authorities, under a label, and how to
/// exercise the rights.
fn rights_blocks(policy: &Policy, lang: Lang, out: &mut Vec<Block>) {
    let last = policy.rights.len().saturating_sub(1);
    out.push(Block::List(
        policy
            .rights
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let end = if i == last { '.' } else { ';' };
                format!("{} ({}){end}", r.text.get(lang), r.article.get(lang))
            })
            .collect(),
    ));
    out.push(Block::Para(
        t(
            lang,
            "Zuständige Aufsichtsbehörden:",
            "Competent supervisory authorities:",
        )
        .to_owned(),
    ));
    out.push(Block::List(
        policy
            .authorities
            .iter()
            .map(|a| {
                let telecoms = a.competent_for == ContractKind::Telecommunications;
                let scope = match (telecoms, lang) {
                    (true, Lang::De) => "Für Telekommunikationsverträge",
                    (true, Lang::En) => "For telecommunication contracts",
                    (false, Lang::De) => "Im Übrigen",
                    (false, Lang::En) => "Otherwise",
                };
                format!(
                    "{scope}: {}, {}, {}, {}",
                    a.name.get(lang),
                    a.address,
                    a.email,
                    a.web
                )
            })
            .collect(),
    ));
    out.push(Block::Para(format!(
        "{} {}.",
        t(
            lang,
            "Um Ihre Rechte geltend zu machen, kontaktieren Sie uns bitte per E-Mail an",
            "To exercise your rights, please e-mail"
        ),
        policy.controller.rights_email
    )));
}

/// The recipients, one labelled list per kind of recipient, with the countries by name.
fn recipient_blocks(policy: &Policy, lang: Lang, out: &mut Vec<Block>) {
    for (kind, de, en) in [
        (
            RecipientKind::Processor,
            "Auftragsverarbeiter (Art. 28 DSGVO)",
            "Processors (Art. 28 GDPR)",
        ),
        (
            RecipientKind::Partner,
            "Kooperationspartner",
            "Cooperation partners",
        ),
        (
            RecipientKind::Controller,
            "Weitere Verantwortliche",
            "Other controllers",
        ),
        (
            RecipientKind::Authority,
            "Empfänger aufgrund gesetzlicher Verpflichtung",
            "Recipients under a legal obligation",
        ),
    ] {
        let items: Vec<String> = policy
            .recipients
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| {
                let label = r.label.get(lang);
                let names = country_names(r.countries.iter(), lang);
                let countries = match (names.len(), lang) {
                    (0, _) => return label.to_owned(),
                    (1, Lang::De) => "Land",
                    (1, Lang::En) => "country",
                    (_, Lang::De) => "Länder",
                    (_, Lang::En) => "countries",
                };
                format!("{label} ({countries}: {})", names.join(", "))
            })
            .collect();
        if !items.is_empty() {
            out.push(Block::Subheading(t(lang, de, en).to_owned()));
            out.push(Block::List(items));
        }
    }
}

/// The EU/EEA states by name, then the adequacy decisions with the country's name and the
/// date in words.
fn transfer_blocks(policy: &Policy, lang: Lang, out: &mut Vec<Block>) {
    let eea = country_names(policy.transfers.eea.iter(), lang);
    if !eea.is_empty() {
        out.push(Block::Para(format!(
            "{} {}.",
            t(
                lang,
                "Zur Europäischen Union und zum Europäischen Wirtschaftsraum (EU/EWR) gehören:",
                "The European Union and the European Economic Area (EU/EEA) comprise:"
            ),
            eea.join(", ")
        )));
    }
    let mut decisions: Vec<(String, String)> = policy
        .transfers
        .adequacy
        .iter()
        .map(|a| {
            let name = country_name(a.country.as_str(), lang);
            let mut line = format!(
                "{name}: {} {}",
                t(
                    lang,
                    "Angemessenheitsbeschluss der EU-Kommission vom",
                    "adequacy decision of the European Commission of"
                ),
                long_day(a.decided, lang)
            );
            if let Some(until) = a.until {
                let _ = write!(
                    line,
                    " ({} {})",
                    t(lang, "befristet bis zum", "valid until"),
                    long_day(until, lang)
                );
            }
            if a.requires_dpf {
                line.push_str(t(
                    lang,
                    " (nur für nach dem EU-US Data Privacy Framework zertifizierte Empfänger)",
                    " (only for recipients certified under the EU-US Data Privacy Framework)",
                ));
            }
            (sort_key(&name), line)
        })
        .collect();
    if decisions.is_empty() {
        return;
    }
    decisions.sort();
    out.push(Block::Para(
        t(
            lang,
            "Angemessenheitsbeschlüsse (Art. 45 DSGVO) bestehen für folgende Staaten und Gebiete:",
            "Adequacy decisions (Art. 45 GDPR) exist for these countries and territories:",
        )
        .to_owned(),
    ));
    out.push(Block::List(decisions.into_iter().map(|(_, l)| l).collect()));
}

/// The controller, customer service and data protection officer, each under its label.
fn controller_blocks(policy: &Policy, lang: Lang, out: &mut Vec<Block>) {
    let c = &policy.controller;
    out.push(Block::List(vec![
        format!(
            "{}: {}, {}",
            t(lang, "Verantwortlicher", "Controller"),
            c.name,
            c.address
        ),
        format!(
            "{}: {}",
            t(lang, "Kundenservice", "Customer service"),
            c.contact_url
        ),
        format!(
            "{}: {}, {}",
            t(lang, "Datenschutzbeauftragter", "Data protection officer"),
            c.dpo_address,
            c.dpo_email
        ),
    ]));
}

pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Inline `**bold**` of the Markdown blocks, as HTML.
fn html_inline(s: &str) -> String {
    let escaped = escape(s);
    let mut out = String::with_capacity(escaped.len());
    for (i, part) in escaped.split("**").enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<strong>{part}</strong>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Writes the notice.
pub fn render_notice(policy: &Policy, lang: Lang, format: Format) -> String {
    let mut out = String::new();
    let blocks = blocks(policy, lang);
    match format {
        Format::Markdown => {
            for b in blocks {
                match b {
                    Block::Title(s) => {
                        let _ = writeln!(out, "# {s}\n");
                    }
                    Block::Heading(s) => {
                        let _ = writeln!(out, "## {s}\n");
                    }
                    Block::Subheading(s) => {
                        let _ = writeln!(out, "### {s}\n");
                    }
                    Block::Para(s) => {
                        let _ = writeln!(out, "{s}\n");
                    }
                    Block::List(items) => {
                        for i in items {
                            let _ = writeln!(out, "- {i}");
                        }
                        out.push('\n');
                    }
                }
            }
        }
        Format::Html => {
            let _ = write!(
                out,
                "<!doctype html>\n<html lang=\"{}\">\n<head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title></head>\n<body><main>\n",
                lang.as_str(),
                escape(policy.title.get(lang))
            );
            for b in blocks {
                match b {
                    Block::Title(s) => {
                        let _ = writeln!(out, "<h1>{}</h1>", html_inline(&s));
                    }
                    Block::Heading(s) => {
                        let _ = writeln!(out, "<h2>{}</h2>", html_inline(&s));
                    }
                    Block::Subheading(s) => {
                        let _ = writeln!(out, "<h3>{}</h3>", html_inline(&s));
                    }
                    Block::Para(s) => {
                        let _ = writeln!(out, "<p>{}</p>", html_inline(&s));
                    }
                    Block::List(items) => {
                        out.push_str("<ul>\n");
                        for i in items {
                            let _ = writeln!(out, "<li>{}</li>", html_inline(&i));
                        }
                        out.push_str("</ul>\n");
                    }
                }
            }
            out.push_str("</main></body>\n</html>\n");
        }
    }
    out
}
