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
    ("N33", "Stand: 2026-01"),
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
