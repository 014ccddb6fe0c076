//! The notice written from the policy: the German rendering carries every statement of the
//! original notice; both languages and both formats render.

use tutela_core::render::{Format, Lang, render_notice};

use crate::support::reference;

/// Statements of the original notice (datenschutzhinweis-2026-01.txt), clause by clause.
const STATEMENTS: &[(&str, &str)] = &[
    ("N1", "Datenschutzhinweisen für das jeweilige Produkt"),
    ("N2", "d. h. nur, soweit und solange"),
    (
        "N3",
        "vorvertraglicher Maßnahmen, die auf Ihre Anfrage erfolgen",
    ),
    ("N4", "Einwilligung in die Verarbeitung erteilt haben"),
    (
        "N5a",
        "Geltendmachung von Ansprüchen, Verteidigung bei Rechtsstreitigkeiten",
    ),
    ("N5b", "Erkennung und Beseitigung von Missbrauch"),
    ("N5c", "Verhinderung und Aufklärung von Straftaten"),
    ("N5d", "Gewährleistung des sicheren IT-Betriebs der Telekom"),
    ("N5e", "mittels analytischer und statistischer Verfahren"),
    ("N5f", "Befragung bei einzelnen Kundenkontakten"),
    ("N5g", "Consulting-Leistungen (Unternehmensberatungen)"),
    ("N5h", "Verhinderung von Vertragsabschlüssen"),
    (
        "N6",
        "Aufbewahrung von Unterlagen für handels- und steuerrechtliche Zwecke",
    ),
    ("N7a", "so dass der Personenbezug entfällt"),
    ("N7b", "Diese Informationen werden nach 3 Monaten gelöscht."),
    ("N7c", "pseudonymen und anonymen Statistiken"),
    ("N8", "können Sie jederzeit widersprechen"),
    ("N9a", "der geplanten Speicherdauer"),
    ("N9b", "unrichtiger bzw. unvollständiger"),
    ("N9c", "mit Wirkung für die Zukunft zu widerrufen"),
    ("N9d", "ohne Angabe dieser Gründe widersprechen"),
    ("N9e", "die Löschung von Daten zu verlangen"),
    ("N9f", "die Löschpflicht streitig ist"),
    ("N9g", "wie z.B. CSV"),
    (
        "N9h",
        "Landesbeauftragte für Datenschutz und Informationsfreiheit Nordrhein-Westfalen",
    ),
    ("N10", "IoT_Sales_Operations@telekom.de"),
    ("N11", "die erst später vergütet werden"),
    ("N12", "Zahlungsabwicklungen und Umsatzzahlen"),
    ("N13", "Namen, Adresse, Geburtsdatum und IBAN übermitteln"),
    ("N14", "mathematisch-statistisch anerkannten"),
    ("N15", "speichern wir für ein Jahr"),
    ("N16", "orientiert an Ihren Interessen als Bestandskunde"),
    (
        "N17",
        "per Email an IoT_Sales_Operations@telekom.de widersprechen",
    ),
    ("N18", "nur mit Ihrer Einwilligung"),
    (
        "N19",
        "Endgerätedaten zu werblichen Zwecken nur mit Ihrer Einwilligung",
    ),
    ("N20", "Cookie-Banner"),
    ("N21", "selbstbindenden Leitlinie KI"),
    ("N22", "Chatbot M2M Service Portal"),
    ("N23", "sofern Sie nicht ausdrücklich eingewilligt haben"),
    ("N24", "die Zusammenfassung überprüft hat"),
    (
        "N25",
        "mit anonymisierten Daten, bei berechtigtem Interesse",
    ),
    (
        "N26",
        "IT, Vertrieb, Marketing, Finanzen, Beratung, Kundenservice, Personalwesen, Logistik, Druck",
    ),
    ("N27", "in die Einbindung des Partners einwilligen"),
    ("N28", "§ 101 Urheberrechtsgesetz"),
    ("N29", "in Deutschland und im europäischen Ausland"),
    ("N30", "Angemessenheitsbeschluss der EU Kommission"),
    (
        "N31",
        "ausdrücklich eingewilligt haben oder es für unsere Leistungserbringung",
    ),
    ("N32", "Landgrabenweg 149"),
    ("N33", "Stand: Januar 2026"),
];

// covers: N1, N2, N3, N4, N5, N5a, N5b, N5c, N5d, N5e, N5f, N5g, N5h, N6, N7, N7a, N7b, N7c, N8, N9a, N9b, N9c, N9d, N9e, N9f, N9g, N9h, N10, N11, N12, N13, N14, N15, N16, N17, N18, N19, N20, N21, N22, N23, N24, N25, N26, N27, N28, N29, N30, N31, N32, N33
#[test]
fn the_german_notice_carries_every_statement_of_the_original() {
    let md = render_notice(&reference(), Lang::De, Format::Markdown);
    let missing: Vec<_> = STATEMENTS
        .iter()
        .filter(|(_, s)| !md.contains(s))
        .map(|(c, s)| format!("{c}: {s}"))
        .collect();
    assert!(
        missing.is_empty(),
        "missing statements:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_english_notice_is_english() {
    let md = render_notice(&reference(), Lang::En, Format::Markdown);
    assert!(md.starts_with("# Privacy notice of Deutsche Telekom IoT GmbH"));
    assert!(md.contains("only with your consent"));
    assert!(md.contains("Art. 6(1)(f) GDPR"));
    assert!(!md.contains("Einwilligung"));
}

#[test]
fn html_is_escaped_and_declares_its_language() {
    let html = render_notice(&reference(), Lang::De, Format::Html);
    assert!(html.contains("<html lang=\"de\">"));
    assert!(html.contains("<strong>Werbung per Telefon</strong>"));
    assert!(html.contains("&amp;") || !html.contains(" & "));
}

/// Both languages, Markdown, for the reading checks below.
fn both() -> [(Lang, String); 2] {
    let p = reference();
    [
        (Lang::De, render_notice(&p, Lang::De, Format::Markdown)),
        (Lang::En, render_notice(&p, Lang::En, Format::Markdown)),
    ]
}

fn finished(s: &str) -> bool {
    s.ends_with(['.', '!', '?', ':', '“', '”'])
}

#[test]
fn every_sentence_ends_where_pieces_of_the_policy_are_joined() {
    let p = reference();
    for (lang, md) in both() {
        // A retention text or a note follows a purpose's description: whatever comes before
        // it ends a sentence ("…steuerrechtliche Zwecke. Buchungsbelege…").
        let joined =
            p.retention
                .iter()
                .map(|r| r.label.get(lang))
                .chain(p.purposes.iter().flat_map(|pu| {
                    pu.bases
                        .iter()
                        .filter_map(|b| b.note.as_ref().map(|n| n.get(lang)))
                }));
        for piece in joined {
            for (at, _) in md.match_indices(piece) {
                let before = md[..at].trim_end();
                assert!(
                    finished(before) || before.ends_with("): **") || before.ends_with("):"),
                    "{lang:?}: a sentence runs into “{piece}”:\n…{}",
                    &before[before.len().saturating_sub(80)..]
                );
            }
        }
        // Every paragraph and every purpose ends its sentence; the rights continue “Sie haben
        // das Recht,” and end with a semicolon, the last with a full stop.
        // The version line is a label; a paragraph that leads into a list ("Sie haben das
        // Recht,") continues in the list, whose items end the sentence.
        let lines: Vec<&str> = md.lines().filter(|l| !l.is_empty()).collect();
        for (i, line) in lines.iter().enumerate() {
            let leads_into_list = lines.get(i + 1).is_some_and(|n| n.starts_with("- "));
            if line.starts_with('#') || line.starts_with("Stand: ") || line.starts_with("Version: ")
            {
                continue;
            }
            if let Some(item) = line.strip_prefix("- ") {
                if item.starts_with("**") {
                    assert!(finished(item), "{lang:?}: purpose unfinished: {item}");
                }
            } else if !leads_into_list {
                assert!(finished(line), "{lang:?}: paragraph unfinished: {line}");
            }
        }
        let rights: Vec<&str> = md
            .lines()
            .filter(|l| l.contains(" DSGVO);") || l.contains(" GDPR);"))
            .collect();
        assert_eq!(rights.len(), p.rights.len() - 1, "{lang:?}: {rights:?}");
    }
}

#[test]
fn dates_are_written_in_words() {
    let iso = regex::Regex::new(r"\b\d{4}-\d{2}(-\d{2})?\b").unwrap_or_else(|e| panic!("{e}"));
    for (lang, md) in both() {
        let raw: Vec<&str> = iso.find_iter(&md).map(|m| m.as_str()).collect();
        assert!(raw.is_empty(), "{lang:?}: raw dates {raw:?}");
    }
    let [(_, de), (_, en)] = both();
    assert!(
        de.contains("Guernsey: Angemessenheitsbeschluss der EU-Kommission vom 21. November 2003")
    );
    assert!(
        en.contains("Guernsey: adequacy decision of the European Commission of 21 November 2003")
    );
    assert!(de.contains("Stand: Januar 2026"));
    assert!(en.contains("Version: January 2026"));
    assert!(de.contains("(befristet bis zum 27. Dezember 2031)"));
}

#[test]
fn countries_are_named_not_coded() {
    let after_marker = regex::Regex::new(
        r"(?m)^- [A-Z]{2}([:,)]|$)|: [A-Z]{2}(, [A-Z]{2})*\b[.)]|\b[A-Z]{2}, [A-Z]{2}\b",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for (lang, md) in both() {
        let codes: Vec<&str> = after_marker.find_iter(&md).map(|m| m.as_str()).collect();
        assert!(codes.is_empty(), "{lang:?}: country codes {codes:?}");
    }
    let [(_, de), (_, en)] = both();
    assert!(de.contains("IT-Dienstleister (Länder: Deutschland, Niederlande)"));
    assert!(en.contains("IT service providers (countries: Germany, Netherlands)"));
    assert!(de.contains("Österreich") && de.contains("Zypern."));
}

#[test]
fn references_resolve_and_lists_are_labelled() {
    let letter = regex::Regex::new(r"\s\([a-h]\)").unwrap_or_else(|e| panic!("{e}"));
    for (lang, md) in both() {
        assert!(
            !md.contains("oben ("),
            "{lang:?}: “oben (…)” refers to nothing"
        );
        assert!(
            !md.contains("above ("),
            "{lang:?}: “above (…)” refers to nothing"
        );
        let refs: Vec<&str> = letter.find_iter(&md).map(|m| m.as_str()).collect();
        assert!(refs.is_empty(), "{lang:?}: letter references {refs:?}");
        // A list follows a heading or a paragraph that introduces it, never another list.
        let lines: Vec<&str> = md.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let starts_list = l.starts_with("- ") && !lines[i - 1].starts_with("- ");
            if starts_list {
                let before = lines[..i - 1].iter().rev().find(|l| !l.is_empty());
                let ok = before.is_some_and(|b| {
                    b.starts_with('#')
                        || b.ends_with(':')
                        || b.ends_with(',')
                        || *b == "You have the right"
                });
                assert!(ok, "{lang:?}: unlabelled list before “{l}”");
            }
        }
    }
    let [(_, de), (_, en)] = both();
    assert!(de.contains("### Auftragsverarbeiter (Art. 28 DSGVO)"));
    assert!(en.contains("### Processors (Art. 28 GDPR)"));
}
