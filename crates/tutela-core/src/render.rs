//! The privacy notice, written from the policy in German or English, as Markdown or HTML.
//! The notice a person reads and the rules tutela enforces come from the same file.
//!
//! Sections render in the policy's order: heading, text, the purposes assigned to the section,
//! then, by section id, the rights and authorities (`rights`), the recipients (`recipients`),
//! the transfer rules (`transfers`) and the controller (`controller`), then the closing text.

use std::fmt::Write;

use crate::basis::LegalBasis;
use crate::policy::{Policy, RecipientKind, Text};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    De,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }
}

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

fn blocks(policy: &Policy, lang: Lang) -> Vec<Block> {
    let tx = |x: &Text| x.get(lang).to_owned();
    let mut out = vec![
        Block::Title(tx(&policy.title)),
        Block::Para(format!(
            "{} {}",
            t(lang, "Stand:", "Version:"),
            policy.version
        )),
    ];
    for (si, section) in policy.sections.iter().enumerate() {
        out.push(Block::Heading(tx(&section.heading)));
        if let Some(text) = &section.text {
            out.push(Block::Para(tx(text)));
        }
        let purposes: Vec<String> = policy
            .purposes
            .iter()
            .filter(|p| p.section == si)
            .map(|p| {
                let mut line = format!(
                    "**{}** ({}): {}",
                    tx(&p.label),
                    bases_label(lang, p.bases.iter().map(|b| b.legal_basis)),
                    tx(&p.description)
                );
                for note in p.bases.iter().filter_map(|b| b.note.as_ref()) {
                    line.push(' ');
                    line.push_str(note.get(lang));
                }
                if let Some(r) = p.retention.and_then(|r| policy.retention.get(r)) {
                    let _ = write!(line, " {}", tx(&r.label));
                }
                line
            })
            .collect();
        if !purposes.is_empty() {
            out.push(Block::List(purposes));
        }
        match section.id.as_str() {
            "rights" => {
                out.push(Block::List(
                    policy
                        .rights
                        .iter()
                        .map(|r| format!("{} ({})", tx(&r.text), tx(&r.article)))
                        .collect(),
                ));
                out.push(Block::List(
                    policy
                        .authorities
                        .iter()
                        .map(|a| {
                            format!(
                                "{}: {}, {}, {}, {}",
                                t(
                                    lang,
                                    if a.competent_for
                                        == crate::basis::ContractKind::Telecommunications
                                    {
                                        "Für Telekommunikationsverträge"
                                    } else {
                                        "Im Übrigen"
                                    },
                                    if a.competent_for
                                        == crate::basis::ContractKind::Telecommunications
                                    {
                                        "For telecommunication contracts"
                                    } else {
                                        "Otherwise"
                                    }
                                ),
                                tx(&a.name),
                                a.address,
                                a.email,
                                a.web
                            )
                        })
                        .collect(),
                ));
                out.push(Block::Para(format!(
                    "{} {}",
                    t(
                        lang,
                        "Um Ihre Rechte geltend zu machen, kontaktieren Sie uns bitte per E-Mail an",
                        "To exercise your rights, please e-mail"
                    ),
                    policy.controller.rights_email
                )));
            }
            "recipients" => {
                for kind in [
                    RecipientKind::Processor,
                    RecipientKind::Partner,
                    RecipientKind::Controller,
                    RecipientKind::Authority,
                ] {
                    let items: Vec<String> = policy
                        .recipients
                        .iter()
                        .filter(|r| r.kind == kind)
                        .map(|r| {
                            let mut s = tx(&r.label);
                            if !r.countries.is_empty() {
                                let list: Vec<&str> =
                                    r.countries.iter().map(|c| c.as_str()).collect();
                                let _ = write!(
                                    s,
                                    " ({}: {})",
                                    t(lang, "Länder", "countries"),
                                    list.join(", ")
                                );
                            }
                            s
                        })
                        .collect();
                    if !items.is_empty() {
                        out.push(Block::List(items));
                    }
                }
            }
            "transfers" => {
                let eea: Vec<&str> = policy.transfers.eea.iter().map(|c| c.as_str()).collect();
                out.push(Block::Para(format!(
                    "{}: {}",
                    t(lang, "EU/EWR-Staaten", "EU/EEA states"),
                    eea.join(", ")
                )));
                out.push(Block::List(
                    policy
                        .transfers
                        .adequacy
                        .iter()
                        .map(|a| {
                            format!(
                                "{}: {} {}{}",
                                a.country,
                                t(lang, "Angemessenheitsbeschluss vom", "adequacy decision of"),
                                a.decided,
                                if a.requires_dpf {
                                    t(
                                        lang,
                                        " (nur für nach dem EU-US Data Privacy Framework zertifizierte Empfänger)",
                                        " (only for recipients certified under the EU-US Data Privacy Framework)",
                                    )
                                } else {
                                    ""
                                }
                            )
                        })
                        .collect(),
                ));
            }
            "controller" => {
                let c = &policy.controller;
                out.push(Block::Para(format!(
                    "{}: {}, {}. {}: {}. {}: {}, {}",
                    t(lang, "Verantwortlich", "Controller"),
                    c.name,
                    c.address,
                    t(lang, "Kundenservice", "Customer service"),
                    c.contact_url,
                    t(lang, "Datenschutzbeauftragter", "Data protection officer"),
                    c.dpo_address,
                    c.dpo_email
                )));
            }
            _ => {}
        }
        if let Some(after) = &section.after {
            out.push(Block::Para(tx(after)));
        }
    }
    out
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
