//! The report for the reference policy and the demo operator's map, in both languages: what a
//! person reads holds no identifier, no raw timestamp, no DPV id, and every section is there.

#![allow(clippy::panic, reason = "tests fail by panicking")]

use regex::Regex;

use super::*;
use crate::basis::{ContractKind, CountryCode, Relationship};
use crate::datamap::DatasetMap;
use crate::ledger::{EventKind, ObjectionScope};
use crate::policy::{MemoryLoader, load_policy};

const REFERENCE: &str = include_str!("../../../../policies/reference.toml");
const DEMO: &str = include_str!("../../../../policies/datasets/demo-operator.toml");

fn policy() -> CompiledPolicy {
    let loader = MemoryLoader::new().with("reference.toml", REFERENCE);
    match load_policy(&loader, "reference.toml") {
        Ok(p) => CompiledPolicy::new(p),
        Err(e) => panic!("the reference policy must load:\n{e}"),
    }
}

fn demo_map(cp: &CompiledPolicy) -> DatasetMap {
    match crate::datamap::load("demo-operator.toml", DEMO, &cp.policy) {
        Ok(m) => m,
        Err(e) => panic!("the demo map must load:\n{e}"),
    }
}

fn history(at: &str, event: &str) -> HistoryEntry {
    HistoryEntry {
        at: at.to_owned(),
        event: event.to_owned(),
        purpose: None,
        channel: None,
        scope: None,
        source: None,
        notice_version: None,
        evidence: None,
        reason: None,
        policy_version: None,
    }
}

fn histories() -> Vec<HistoryEntry> {
    let consent = HistoryEntry {
        purpose: Some("phone_marketing".into()),
        channel: Some("phone".into()),
        source: Some("privacy_center".into()),
        notice_version: Some("2026-01".into()),
        policy_version: Some("abc123".into()),
        ..history("2026-12-07T06:27:53.905462736Z", "consent_given")
    };
    let objection = HistoryEntry {
        scope: Some("direct_marketing".into()),
        ..history("2026-12-07T08:00:00Z", "objection_raised")
    };
    let transfer = HistoryEntry {
        scope: Some("IN".into()),
        ..history("2026-12-07T09:00:00Z", "transfer_necessity_recorded")
    };
    vec![
        history("2026-01-02T10:00:00Z", "relationship_set"),
        consent,
        objection,
        transfer,
        history("2026-12-07T10:00:00Z", "identifier_linked"),
    ]
}

/// Every table of the map with one row whose values look as databases write them.
fn tables(map: &DatasetMap) -> Vec<CollectedTable> {
    map.tables
        .iter()
        .map(|t| {
            let mut columns = vec![t.key.clone()];
            let mut categories = vec!["customer_number".to_owned()];
            let mut labels = vec![None];
            let mut row = vec![Some("17".to_owned())];
            for (i, f) in t.fields.iter().enumerate() {
                columns.push(f.name.clone());
                categories.push(f.category.clone());
                labels.push(f.label.clone());
                row.push(Some(match i % 3 {
                    0 => "2026-03-01 10:00:00+00".to_owned(),
                    1 => "2026-03-01T10:00:00Z".to_owned(),
                    _ => "Beispiel".to_owned(),
                }));
            }
            CollectedTable {
                dataset: map.id.clone(),
                table: t.name.clone(),
                columns,
                categories,
                rows: vec![row],
                label: t.label.clone(),
                labels,
            }
        })
        .collect()
}

fn state(cp: &CompiledPolicy) -> SubjectState {
    let mut s = SubjectState::UNKNOWN;
    let india = CountryCode::parse("IN").unwrap_or_else(|| unreachable!());
    for e in [
        EventKind::Relationship {
            relationship: Relationship::Customer,
            contract_kind: ContractKind::Telecommunications,
        },
        EventKind::Consent {
            purpose: "phone_marketing".into(),
            channel: Some("phone".into()),
            granted: true,
            source: "privacy_center".into(),
            notice_version: "2026-01".into(),
        },
        EventKind::Objection {
            scope: ObjectionScope::Purpose("product_analytics".into()),
        },
        EventKind::TransferNecessity {
            country: india,
            active: true,
        },
    ] {
        s.apply(cp, &e);
    }
    s
}

fn risk_checks() -> Vec<RiskCheckEntry> {
    vec![RiskCheckEntry {
        at: "2026-11-30T12:00:00Z".into(),
        outcome: "decline".into(),
        review: Some("pending".into()),
        probability: 0.4213,
        points: 480.0,
        reasons: vec![crate::risk::ScoreReason {
            feature: "contract_months".into(),
            value: "3".into(),
            points_lost: 40.0,
            label: None,
        }],
        agency_queried: true,
        kept_until: "2027-11-30T12:00:00Z".into(),
    }]
}

fn disclosures() -> Vec<DisclosureEntry> {
    vec![DisclosureEntry {
        at: "2026-10-01T08:15:00Z".into(),
        recipient: "state_authorities".into(),
        purpose: "authority_disclosure".into(),
        categories: vec!["identity".into(), "traffic".into()],
        legal_basis: Some("eu-gdpr:A6-1-c".into()),
        reference: Some("court order 12/26".into()),
    }]
}

fn render(lang: Lang) -> (String, DatasetMap) {
    let cp = policy();
    let map = demo_map(&cp);
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or(jiff::tz::TimeZone::UTC);
    let state = state(&cp);
    let html = render_html(&build(&ReportInput {
        policy: &cp,
        subject: "K-4711",
        state: &state,
        email: Some("anna@example.org"),
        history: &histories(),
        tables: &tables(&map),
        risk_checks: &risk_checks(),
        disclosures: &disclosures(),
        now: "2026-12-07T06:27:53.905462736Z"
            .parse()
            .unwrap_or_else(|_| unreachable!()),
        lang,
        time_zone: &tz,
    }));
    (html, map)
}

/// What a reader sees: the page without its stylesheet and tags.
fn visible(html: &str) -> String {
    let no_style =
        Regex::new(r"(?s)<style>.*?</style>").map(|r| r.replace_all(html, " ").into_owned());
    let text = no_style.unwrap_or_default();
    Regex::new(r"<[^>]*>")
        .map(|r| r.replace_all(&text, " ").into_owned())
        .unwrap_or_default()
}

/// The map's identifiers that are not also ordinary words of its labels or the policy's texts
/// (`model` is both a column and a word of "Device model").
fn identifiers(map: &DatasetMap, words: &str) -> Vec<String> {
    let mut ids: Vec<String> = vec![map.id.clone()];
    for t in &map.tables {
        ids.push(t.name.clone());
        ids.push(t.key.clone());
        ids.extend(t.fields.iter().map(|f| f.name.clone()));
    }
    ids.into_iter()
        .filter(|id| {
            Regex::new(&format!(r"\b{}\b", regex::escape(id))).is_ok_and(|r| !r.is_match(words))
        })
        .collect()
}

/// The words of the map's labels and the policy's own texts (`name` is a column and a word of
/// "Identity data (name, date of birth)"; `contracts` a table and a word of a purpose's text).
fn label_words(map: &DatasetMap, cp: &CompiledPolicy) -> String {
    let mut w = String::new();
    let p = &cp.policy;
    let texts = p
        .categories
        .iter()
        .map(|c| &c.label)
        .chain(p.purposes.iter().flat_map(|x| [&x.label, &x.description]));
    let more = p
        .rights
        .iter()
        .map(|r| &r.text)
        .chain(p.retention.iter().map(|r| &r.label))
        .chain(p.recipients.iter().map(|r| &r.label));
    for t in texts.chain(more) {
        w.push_str(&format!(" {} {} ", t.de, t.en));
    }
    for t in &map.tables {
        for l in t
            .label
            .iter()
            .chain(t.fields.iter().filter_map(|f| f.label.as_ref()))
        {
            w.push_str(&format!(" {} {} ", l.de, l.en));
        }
    }
    w
}

/// Some text around byte `at`, for a failure message.
fn snippet(text: &str, at: usize) -> String {
    text.chars()
        .skip(text[..at].chars().count().saturating_sub(60))
        .take(120)
        .collect()
}

fn assert_plain(lang: Lang, headings: &[&str]) {
    let (html, map) = render(lang);
    let text = visible(&html);
    for pattern in [r"\b[a-z]+_[a-z_]+\b", r"\d{4}-\d{2}-\d{2}T", r"eu-gdpr:"] {
        let re = Regex::new(pattern).unwrap_or_else(|e| panic!("{e}"));
        let at = re.find(&text).map(|m| snippet(&text, m.start()));
        assert!(at.is_none(), "{pattern} in the {lang:?} report: {at:?}");
    }
    let words = label_words(&map, &policy());
    for id in identifiers(&map, &words) {
        let re =
            Regex::new(&format!(r"\b{}\b", regex::escape(&id))).unwrap_or_else(|e| panic!("{e}"));
        let at = re.find(&text).map(|m| snippet(&text, m.start()));
        assert!(
            at.is_none(),
            "identifier `{id}` in the {lang:?} report: {at:?}"
        );
    }
    for h in headings {
        assert!(
            text.contains(h),
            "heading `{h}` missing from the {lang:?} report:\n{text}"
        );
    }
    assert!(html.contains("@media print"), "no print stylesheet");
}

#[test]
fn the_german_report_speaks_plain_german() {
    assert_plain(
        Lang::De,
        &[
            "Zu welchen Zwecken wir Ihre Daten verarbeiten",
            "Welche Daten wir über Sie haben",
            "Wer Ihre Daten erhält",
            "Wie lange wir sie speichern",
            "Ihre Rechte",
            "Beschwerde bei einer Aufsichtsbehörde",
            "Woher die Daten stammen",
            "Automatisierte Entscheidungen",
            "Übermittlung in Drittländer und Garantien",
            "Kopie Ihrer Daten",
            "07.12.2026, 07:27 Uhr",
            "Sie haben in „Werbung per Telefon“ eingewilligt (Kanal: Telefon).",
            "Datenschutz-Center",
            "Kunde/Kundin",
            "Vereinigte Staaten",
            "Angemessenheitsbeschluss der EU-Kommission vom 10. Juli 2023",
            "EU-Standardvertragsklauseln (Beschluss 2021/914, Modul 2",
            "Geburtsdatum",
            "Sie haben der Direktwerbung widersprochen.",
        ],
    );
}

#[test]
fn the_english_report_speaks_plain_english() {
    assert_plain(
        Lang::En,
        &[
            "Why we process your data",
            "What data we hold about you",
            "Who receives your data",
            "How long we keep it",
            "Your rights",
            "Complaint to a supervisory authority",
            "Where the data comes from",
            "Automated decisions",
            "Transfers to third countries and safeguards",
            "Copy of your data",
            "Art. 15(1)(h)",
            "7 December 2026, 07:27",
            "You consented to “Marketing by phone” (channel: phone).",
            "privacy center",
            "United States",
            "adequacy decision of the European Commission of 10 July 2023",
            "EU standard contractual clauses (Decision 2021/914, module 2",
            "Date of birth",
        ],
    );
}

#[test]
fn the_summary_comes_first_and_names_the_controller() {
    let (html, _) = render(Lang::De);
    let text = visible(&html);
    let summary = text.find("hat diese Auskunft am 07.12.2026, 07:27 Uhr für Sie erstellt");
    let first = text.find("Zu welchen Zwecken");
    assert!(summary.is_some() && summary < first, "{text}");
    assert!(text.contains("Deutsche Telekom IoT GmbH"), "{text}");
}

#[test]
fn the_json_keeps_the_ids_beside_the_words() {
    let cp = policy();
    let state = state(&cp);
    let r = build(&ReportInput {
        policy: &cp,
        subject: "K-1",
        state: &state,
        email: None,
        history: &histories(),
        tables: &[],
        risk_checks: &[],
        disclosures: &[],
        now: "2026-12-07T06:27:53Z"
            .parse()
            .unwrap_or_else(|_| unreachable!()),
        lang: Lang::En,
        time_zone: &jiff::tz::TimeZone::UTC,
    });
    assert_eq!(r.copy.tutela.history[1].event, "consent_given");
    assert_eq!(r.copy.tutela.relationship, "customer");
    assert_eq!(r.copy.tutela.relationship_text, "customer");
    let json = serde_json::to_value(&r).unwrap_or_default();
    assert_eq!(
        json["copy"]["tutela"]["events"][1]["source"],
        "privacy center"
    );
    assert!(r.transfer_safeguards.iter().any(|s| {
        s.country == "US"
            && s.ground
                .contains("adequacy decision of the European Commission of 10 July 2023")
    }));
}

#[test]
fn the_demo_map_names_every_table_and_field_for_people() {
    let cp = policy();
    assert_eq!(demo_map(&cp).unlabelled(), Vec::<String>::new());
}

#[test]
fn a_table_without_labels_is_named_by_its_categories_never_its_identifiers() {
    let cp = policy();
    let t = CollectedTable {
        dataset: "crm".into(),
        table: "cust_rows".into(),
        columns: vec!["id".into(), "birth_date".into(), "full_name".into()],
        categories: vec![
            "customer_number".into(),
            "identity".into(),
            "identity".into(),
        ],
        rows: vec![vec![
            Some("1".into()),
            Some("1990-05-01".into()),
            Some("Anna".into()),
        ]],
        label: None,
        labels: Vec::new(),
    };
    let tz = jiff::tz::TimeZone::UTC;
    let c = copy::table(&cp.policy, &t, &tz, Lang::De);
    assert_eq!(c.title, "Identitätsdaten (Name, Geburtsdatum)");
    assert_eq!(c.headings[1], "Identitätsdaten (Name, Geburtsdatum)");
    assert_eq!(c.cells[0][1], "01.05.1990");
}

/// Issue 32: a model trained with `--labels` gives its reasons by their labels in the reader's
/// language; one without names the column, written with spaces.
#[test]
fn risk_check_reasons_appear_by_their_labels_in_both_languages() {
    let cp = policy();
    let state = state(&cp);
    let header: Vec<String> = ["duration_in_month", "purpose", "creditability"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let rows: Vec<Vec<String>> = (0..200)
        .map(|i| {
            let bad = i % 4 == 0;
            let months = if bad { 36 + i % 12 } else { 6 + i % 18 };
            let purpose = if bad == (i % 3 == 0) {
                "car (new)"
            } else {
                "radio/television"
            };
            vec![
                months.to_string(),
                purpose.to_owned(),
                if bad { "bad" } else { "good" }.to_owned(),
            ]
        })
        .collect();
    let opts = crate::risk::TrainOptions {
        target: "creditability".into(),
        positive_class: Some("bad".into()),
        ..crate::risk::TrainOptions::default()
    };
    let mut card = crate::risk::train(&header, &rows, &opts, None)
        .unwrap_or_else(|e| unreachable!("{e}"))
        .scorecard;
    assert!(!card.unlabelled().is_empty());
    let labels = crate::risk::parse_labels(
        "labels.toml",
        "[duration_in_month]\nde = \"Laufzeit des Kredits in Monaten\"\nen = \"Duration of the credit in months\"\n\
         [purpose]\nde = \"Verwendungszweck\"\nen = \"Purpose of the credit\"\n",
        &header[..2],
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    card.set_labels(&labels);
    assert!(card.unlabelled().is_empty(), "{:?}", card.unlabelled());
    // The model file keeps the labels, and a file without them still loads.
    let json = serde_json::to_string(&card).unwrap_or_default();
    let again: crate::risk::Scorecard =
        serde_json::from_str(&json).unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(again, card);
    let mut old = serde_json::to_value(&card).unwrap_or_default();
    for f in old["features"].as_array_mut().into_iter().flatten() {
        f.as_object_mut().map(|o| o.remove("label"));
    }
    let old: crate::risk::Scorecard =
        serde_json::from_value(old).unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(old.unlabelled().len(), card.features.len());

    let applicant = std::collections::HashMap::from([
        ("duration_in_month".to_owned(), "45".to_owned()),
        ("purpose".to_owned(), "car (new)".to_owned()),
    ]);
    let reasons = card
        .score(&applicant)
        .unwrap_or_else(|e| unreachable!("{e}"))
        .reasons;
    assert!(!reasons.is_empty());
    // As the server keeps them with the check and reads them back for the report.
    let stored = serde_json::to_string(&reasons).unwrap_or_default();
    let reasons: Vec<crate::risk::ScoreReason> = serde_json::from_str(&stored).unwrap_or_default();
    let unlabelled: Vec<crate::risk::ScoreReason> = old
        .score(&applicant)
        .unwrap_or_else(|e| unreachable!("{e}"))
        .reasons;
    let report = |reasons: Vec<crate::risk::ScoreReason>, lang: Lang| {
        let checks = vec![RiskCheckEntry {
            reasons,
            ..risk_checks().remove(0)
        }];
        build(&ReportInput {
            policy: &cp,
            subject: "K-1",
            state: &state,
            email: None,
            history: &[],
            tables: &[],
            risk_checks: &checks,
            disclosures: &[],
            now: "2026-12-07T06:27:53Z"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
            lang,
            time_zone: &jiff::tz::TimeZone::UTC,
        })
        .risk_checks_text
        .remove(0)
        .reasons
    };
    let de = report(reasons.clone(), Lang::De);
    let en = report(reasons, Lang::En);
    assert!(
        de.contains(&"Laufzeit des Kredits in Monaten: 45".to_owned()),
        "{de:?}"
    );
    assert!(
        en.contains(&"Duration of the credit in months: 45".to_owned()),
        "{en:?}"
    );
    assert!(
        de.iter().chain(&en).all(|r| !r.contains("duration")
            && !r.contains("duration_in_month")
            && !r.starts_with("purpose")),
        "{de:?} {en:?}"
    );
    // Without labels: the column, with spaces for underscores.
    let plain = report(unlabelled, Lang::En);
    assert!(
        plain.contains(&"duration in month: 45".to_owned()),
        "{plain:?}"
    );
}

/// Issue 32: an adequacy note in German and English is told with the decision in the reader's
/// language; a plain string stays the operator's.
#[test]
fn adequacy_notes_are_told_in_the_readers_language() {
    let cp = policy();
    let state = state(&cp);
    let us = |lang: Lang| {
        build(&ReportInput {
            policy: &cp,
            subject: "K-1",
            state: &state,
            email: None,
            history: &[],
            tables: &[],
            risk_checks: &[],
            disclosures: &[],
            now: "2026-12-07T06:27:53Z"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
            lang,
            time_zone: &jiff::tz::TimeZone::UTC,
        })
        .transfer_safeguards
        .into_iter()
        .find(|s| s.country == "US")
        .map(|s| s.ground)
        .unwrap_or_default()
    };
    let (de, en) = (us(Lang::De), us(Lang::En));
    assert!(
        de.contains("Durchführungsbeschluss (EU) 2023/1795; ein Rechtsmittel"),
        "{de}"
    );
    assert!(
        en.contains("Implementing Decision (EU) 2023/1795; an appeal"),
        "{en}"
    );
    let notes: Vec<_> = cp
        .policy
        .transfers
        .adequacy
        .iter()
        .filter_map(|a| a.note.as_ref())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| matches!(n, crate::policy::Note::Operator(s) if s.starts_with("UNCERTAIN")))
    );
    assert!(notes.iter().all(|n| match n {
        crate::policy::Note::Operator(s) =>
            n.for_reader(Lang::En).is_none() && !de.contains(s.as_str()),
        crate::policy::Note::Reader(t) => !t.de.is_empty() && !t.en.is_empty(),
    }));
}
