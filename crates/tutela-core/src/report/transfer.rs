//! Art. 15(2): the ground of each transfer to a third country, in words a person reads: the
//! adequacy decision by its date, a safeguard by its name (standard contractual clauses with
//! the Commission's decision and module), or the person's own Art. 49 grounds (N31).

use crate::basis::CountryCode;
use crate::compiled::CompiledPolicy;
use crate::lang::Lang;
use crate::policy::{Adequacy, Recipient};
use crate::state::SubjectState;
use crate::words::long_day;

use super::terms::pick;

/// The ground for sending `r`'s data to `c` on `today`, in words, with the DPV id of the
/// safeguard when the ground is one.
pub(super) fn ground(
    cp: &CompiledPolicy,
    state: &SubjectState,
    r: &Recipient,
    c: CountryCode,
    today: jiff::civil::Date,
    lang: Lang,
) -> (String, Option<String>) {
    let p = &cp.policy;
    let adequacy = p
        .transfers
        .adequacy
        .iter()
        .find(|a| a.country == c && a.decided <= today && a.until.is_none_or(|u| today < u));
    match adequacy {
        Some(a) if !a.requires_dpf || r.dpf_certified => return (adequate(a, lang), None),
        _ => {}
    }
    match r.safeguards.iter().find(|s| s.countries.contains(&c)) {
        Some(s) => (
            safeguard(&s.mechanism, s.reference.as_deref(), lang),
            Some(s.mechanism.clone()),
        ),
        None => (art49(cp, state, c, lang), None),
    }
}

fn adequate(a: &Adequacy, lang: Lang) -> String {
    let day = long_day(a.decided, lang);
    let mut s = match lang {
        Lang::De => format!("Angemessenheitsbeschluss der EU-Kommission vom {day} (Art. 45 DSGVO)"),
        Lang::En => format!("adequacy decision of the European Commission of {day} (Art. 45 GDPR)"),
    };
    if a.requires_dpf {
        s.push_str(pick(
            lang,
            "; der Empfänger ist nach dem EU-US Data Privacy Framework zertifiziert",
            "; the recipient is certified under the EU-US Data Privacy Framework",
        ));
    }
    // A note in both languages is for the person too (a plain string is the operator's).
    if let Some(note) = a.note.as_ref().and_then(|n| n.for_reader(lang)) {
        s.push_str("; ");
        s.push_str(note);
    }
    s
}

/// An Art. 46 or 47 safeguard by name; standard contractual clauses with the Commission's
/// decision and module when the reference names them (`SCC 2021/914 module 2`).
pub(super) fn safeguard(mechanism: &str, reference: Option<&str>, lang: Lang) -> String {
    let (name, article) = match mechanism.trim_start_matches("eu-gdpr:") {
        "A46-2-a" => (
            pick(
                lang,
                "rechtlich bindende Vereinbarung zwischen Behörden",
                "legally binding instrument between public authorities",
            ),
            pick(lang, "Art. 46 Abs. 2 lit. a DSGVO", "Art. 46(2)(a) GDPR"),
        ),
        "A46-2-b" | "A47" => (
            pick(
                lang,
                "verbindliche interne Datenschutzvorschriften (Binding Corporate Rules)",
                "binding corporate rules",
            ),
            pick(lang, "Art. 47 DSGVO", "Art. 47 GDPR"),
        ),
        "A46-2-c" => (
            pick(
                lang,
                "EU-Standardvertragsklauseln",
                "EU standard contractual clauses",
            ),
            pick(lang, "Art. 46 Abs. 2 lit. c DSGVO", "Art. 46(2)(c) GDPR"),
        ),
        "A46-2-d" => (
            pick(
                lang,
                "Standarddatenschutzklauseln einer Aufsichtsbehörde",
                "standard data protection clauses of a supervisory authority",
            ),
            pick(lang, "Art. 46 Abs. 2 lit. d DSGVO", "Art. 46(2)(d) GDPR"),
        ),
        "A46-2-e" => (
            pick(
                lang,
                "genehmigte Verhaltensregeln",
                "an approved code of conduct",
            ),
            pick(lang, "Art. 46 Abs. 2 lit. e DSGVO", "Art. 46(2)(e) GDPR"),
        ),
        "A46-2-f" => (
            pick(
                lang,
                "genehmigter Zertifizierungsmechanismus",
                "an approved certification mechanism",
            ),
            pick(lang, "Art. 46 Abs. 2 lit. f DSGVO", "Art. 46(2)(f) GDPR"),
        ),
        "A46-3-a" => (
            pick(
                lang,
                "von der Aufsichtsbehörde genehmigte Vertragsklauseln",
                "contractual clauses authorised by the supervisory authority",
            ),
            pick(lang, "Art. 46 Abs. 3 lit. a DSGVO", "Art. 46(3)(a) GDPR"),
        ),
        _ => (
            pick(
                lang,
                "Verwaltungsvereinbarung zwischen Behörden",
                "administrative arrangement between public authorities",
            ),
            pick(lang, "Art. 46 Abs. 3 lit. b DSGVO", "Art. 46(3)(b) GDPR"),
        ),
    };
    match reference.map(|r| scc_reference(r, lang)) {
        Some(detail) if !detail.is_empty() => format!("{name} ({detail}; {article})"),
        _ => format!("{name} ({article})"),
    }
}

/// `SCC 2021/914 module 2` → "Beschluss 2021/914, Modul 2"; any other reference as written.
fn scc_reference(r: &str, lang: Lang) -> String {
    let words: Vec<&str> = r.split_whitespace().collect();
    let decision = words.iter().find(|w| {
        w.split_once('/').is_some_and(|(a, b)| {
            a.len() == 4 && [a, b].iter().all(|x| x.bytes().all(|c| c.is_ascii_digit()))
        })
    });
    let module = words
        .windows(2)
        .find(|w| w[0].eq_ignore_ascii_case("module") || w[0].eq_ignore_ascii_case("modul"))
        .map(|w| w[1]);
    match (decision, module) {
        (Some(d), Some(m)) => match lang {
            Lang::De => format!("Beschluss {d}, Modul {m}"),
            Lang::En => format!("Decision {d}, module {m}"),
        },
        (Some(d), None) => match lang {
            Lang::De => format!("Beschluss {d}"),
            Lang::En => format!("Decision {d}"),
        },
        _ => r.to_owned(),
    }
}

/// The person's own Art. 49 grounds for a country without adequacy or safeguards (N31).
pub(super) fn art49(
    cp: &CompiledPolicy,
    state: &SubjectState,
    c: CountryCode,
    lang: Lang,
) -> String {
    let bit = cp.third_country_bit(c).unwrap_or(0);
    let mut grounds = Vec::new();
    if state.transfer_consents & bit != 0 {
        grounds.push(pick(
            lang,
            "Ihre ausdrückliche Einwilligung (Art. 49 Abs. 1 lit. a DSGVO)",
            "your explicit consent (Art. 49(1)(a) GDPR)",
        ));
    }
    if state.transfer_necessities & bit != 0 {
        grounds.push(pick(
            lang,
            "für Ihren Vertrag erforderlich (Art. 49 Abs. 1 lit. b DSGVO)",
            "necessary for your contract (Art. 49(1)(b) GDPR)",
        ));
    }
    if grounds.is_empty() {
        grounds.push(pick(
            lang,
            "keine für Sie erfasste Grundlage: Ihre Daten werden nicht dorthin übermittelt",
            "no ground recorded for you: your data is not transferred there",
        ));
    }
    grounds.join("; ")
}
