//! The person's ledger history in words: each event a sentence ("Am 07.12.2026 um 07:27 Uhr
//! haben Sie in Werbung per Telefon eingewilligt (über das Datenschutz-Center).") naming the
//! purpose and channel as the policy does and the source as a person would, never a code.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tutela_core::basis::Relationship;
use tutela_core::ledger::{EventKind, ObjectionScope};
use tutela_core::policy::Policy;
use tutela_core::render::Lang;
use tutela_store::{PolicyVersionRecord, StoredEvent};

use crate::web::{date, date_time};

/// One event of the history; the console's page of a person shows the same.
pub(crate) struct HistoryRow {
    pub at: String,
    /// What happened, in a few words ("Einwilligung erteilt").
    pub event: String,
    /// The purpose (and channel) it was about, by the policy's name.
    pub subject_of: String,
    /// Where it came from, in words ("über das Datenschutz-Center").
    pub source: String,
    pub version: String,
    pub version_label: String,
    /// The whole event as one sentence addressed to the person.
    pub sentence: String,
}

/// `e` as the person reads it.
pub(crate) fn history_row(
    policy: &Policy,
    e: StoredEvent,
    versions: &[PolicyVersionRecord],
    tz: &TimeZone,
    lang: Lang,
) -> HistoryRow {
    let (subject_of, source) = match &e.event.kind {
        EventKind::Consent {
            purpose,
            channel,
            source,
            ..
        } => (
            purpose_name(policy, purpose, channel.as_deref(), lang),
            source_words(source, lang).to_owned(),
        ),
        EventKind::ConsentUse { purpose, channel } => (
            purpose_name(policy, purpose, channel.as_deref(), lang),
            String::new(),
        ),
        EventKind::Objection { scope } => (objection_words(policy, scope, lang), String::new()),
        _ => (String::new(), String::new()),
    };
    let version_label = versions
        .iter()
        .find(|v| v.hash == e.policy_version)
        .map(|v| tutela_core::words::version(&v.notice_version, lang))
        // A version no longer on record: said so, not by its hash.
        .unwrap_or_else(|| {
            match lang {
                Lang::De => "eine frühere Fassung",
                Lang::En => "an earlier version",
            }
            .to_owned()
        });
    HistoryRow {
        at: date_time(e.event.at, tz, lang),
        event: super::labels::event_label(e.event.kind.name(), lang),
        sentence: sentence(policy, &e.event.kind, e.event.at, tz, lang),
        subject_of,
        source,
        version: e.policy_version,
        version_label,
    }
}

/// The purpose by its name in the policy, with the channel when the name does not already
/// say it ("Werbung per Telefon", not "Werbung per Telefon (Telefon)").
pub(crate) fn purpose_name(
    policy: &Policy,
    purpose: &str,
    channel: Option<&str>,
    lang: Lang,
) -> String {
    let name = policy
        .purposes
        .iter()
        .find(|p| p.id == purpose)
        .map_or_else(|| unknown_purpose(lang), |p| p.label.get(lang).to_owned());
    match channel.and_then(|c| policy.channels.iter().find(|x| x.id == c)) {
        Some(ch)
            if !name
                .to_lowercase()
                .contains(&ch.label.get(lang).to_lowercase()) =>
        {
            let by = match lang {
                Lang::De => "per",
                Lang::En => "by",
            };
            format!("{name} {by} {}", ch.label.get(lang))
        }
        _ => name,
    }
}

/// A purpose the policy in force no longer has: said so, rather than its id.
fn unknown_purpose(lang: Lang) -> String {
    match lang {
        Lang::De => "einen früheren Zweck".to_owned(),
        Lang::En => "an earlier purpose".to_owned(),
    }
}

/// Where a consent was given or withdrawn, as a person would say it. Sources are free text
/// from the operator's systems; the ones tutela knows are named, any other is "through our
/// systems", so no code reaches the page.
pub(crate) fn source_words(source: &str, lang: Lang) -> &'static str {
    let (de, en) = match source {
        "privacy_center" => ("über das Datenschutz-Center", "through the privacy center"),
        "web" | "website" => ("auf unserer Website", "on our website"),
        "app" => ("in unserer App", "in our app"),
        "tcf_banner" | "cookie_banner" => (
            "über das Cookie-Banner unserer Website",
            "through our website's cookie banner",
        ),
        "call" | "call_center" | "phone" | "hotline" => (
            "am Telefon mit unserem Kundenservice",
            "on the phone with our customer service",
        ),
        "shop" | "store" => ("in einem unserer Shops", "in one of our shops"),
        "letter" | "post" => ("per Brief", "by letter"),
        "email" => ("per E-Mail", "by e-mail"),
        "console" | "agent" | "staff" => ("durch einen Mitarbeiter", "by our staff"),
        "data_subject_request" | "request" => ("mit Ihrer Anfrage", "with your request"),
        _ => ("über unsere Systeme", "through our systems"),
    };
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}

/// What an objection was against, in words.
fn objection_words(policy: &Policy, scope: &ObjectionScope, lang: Lang) -> String {
    match (scope, lang) {
        (ObjectionScope::DirectMarketing, Lang::De) => "Direktwerbung".to_owned(),
        (ObjectionScope::DirectMarketing, Lang::En) => "direct marketing".to_owned(),
        (ObjectionScope::LegitimateInterest, Lang::De) => {
            "Verarbeitung auf Grund berechtigter Interessen".to_owned()
        }
        (ObjectionScope::LegitimateInterest, Lang::En) => {
            "processing based on legitimate interests".to_owned()
        }
        (ObjectionScope::Purpose(p), _) => purpose_name(policy, p, None, lang),
    }
}

/// The date and the time of `at` apart, from the pages' own helpers (whatever their format):
/// the time is what `date_time` adds to `date`.
fn when(at: Timestamp, tz: &TimeZone, lang: Lang) -> (String, String) {
    let day = date(at, tz, lang);
    let full = date_time(at, tz, lang);
    let time = full
        .strip_prefix(day.as_str())
        .map(|t| t.trim_start_matches([',', ' ']).to_owned())
        .unwrap_or_default();
    (day, time)
}

/// "Am 07.12.2026 um 07:27 Uhr" / "On 7 December 2026 at 07:27".
fn opening(at: Timestamp, tz: &TimeZone, lang: Lang) -> String {
    let (day, time) = when(at, tz, lang);
    match lang {
        Lang::De if time.is_empty() => format!("Am {day}"),
        Lang::De if time.ends_with("Uhr") => format!("Am {day} um {time}"),
        Lang::De => format!("Am {day} um {time} Uhr"),
        Lang::En if time.is_empty() => format!("On {day}"),
        Lang::En => format!("On {day} at {time}"),
    }
}

/// The event as one sentence to the person.
fn sentence(policy: &Policy, kind: &EventKind, at: Timestamp, tz: &TimeZone, lang: Lang) -> String {
    let start = opening(at, tz, lang);
    let (de, en) = what(policy, kind, lang);
    match lang {
        Lang::De => format!("{start} {de}."),
        Lang::En => format!("{start} {en}."),
    }
}

/// The rest of the sentence after its opening, in both languages (only `lang`'s is filled
/// where it needs the policy's names).
fn what(policy: &Policy, kind: &EventKind, lang: Lang) -> (String, String) {
    let name = |p: &str, c: Option<&str>| purpose_name(policy, p, c, lang);
    match kind {
        EventKind::Consent {
            purpose,
            channel,
            granted,
            source,
            ..
        } => {
            let n = name(purpose, channel.as_deref());
            let from = source_words(source, lang);
            if *granted {
                (
                    format!("haben Sie in {n} eingewilligt ({from})"),
                    format!("you consented to {n} ({from})"),
                )
            } else {
                (
                    format!("haben Sie Ihre Einwilligung in {n} widerrufen ({from})"),
                    format!("you withdrew your consent to {n} ({from})"),
                )
            }
        }
        EventKind::ConsentUse { purpose, channel } => {
            let n = name(purpose, channel.as_deref());
            (
                format!("haben wir Sie auf Grund Ihrer Einwilligung in {n} kontaktiert"),
                format!("we contacted you based on your consent to {n}"),
            )
        }
        EventKind::Objection { scope } => {
            let n = objection_words(policy, scope, lang);
            match scope {
                ObjectionScope::Purpose(_) => (
                    format!("haben Sie der Verarbeitung für {n} widersprochen"),
                    format!("you objected to processing for {n}"),
                ),
                _ => (
                    format!("haben Sie der {n} widersprochen"),
                    format!("you objected to {n}"),
                ),
            }
        }
        other => fixed(other, lang),
    }
}

/// Sentences that need nothing from the policy but, at most, a country's name.
fn fixed(kind: &EventKind, lang: Lang) -> (String, String) {
    let country = |c: &tutela_core::basis::CountryCode| {
        tutela_core::countries::country_name(c.as_str(), lang)
    };
    let (de, en): (String, String) = match kind {
        EventKind::Relationship { relationship, .. } => {
            let (de, en) = relationship_words(*relationship);
            (
                // Also what a change of the address on file records: "your details", not a
                // new relationship.
                format!("haben wir Ihre Angaben festgehalten: {de}"),
                format!("we recorded your details: {en}"),
            )
        }
        EventKind::Restriction { active: true } => (
            "haben wir die Verarbeitung Ihrer Daten eingeschränkt".into(),
            "we restricted the processing of your data".into(),
        ),
        EventKind::Restriction { active: false } => (
            "haben wir die Einschränkung der Verarbeitung aufgehoben".into(),
            "we lifted the restriction of processing".into(),
        ),
        EventKind::TransferConsent {
            country: c,
            granted,
        } => {
            let n = country(c);
            if *granted {
                (
                    format!(
                        "haben Sie in die Übermittlung Ihrer Daten in das Land {n} eingewilligt"
                    ),
                    format!("you consented to the transfer of your data to {n}"),
                )
            } else {
                (
                    format!(
                        "haben Sie Ihre Einwilligung in die Übermittlung in das Land {n} widerrufen"
                    ),
                    format!("you withdrew your consent to the transfer to {n}"),
                )
            }
        }
        EventKind::TransferNecessity { country: c, active } => {
            let n = country(c);
            if *active {
                (
                    format!(
                        "haben wir festgehalten, dass Ihr Vertrag eine Übermittlung in das Land {n} erfordert"
                    ),
                    format!("we recorded that your contract requires a transfer to {n}"),
                )
            } else {
                (
                    format!(
                        "haben wir festgehalten, dass Ihr Vertrag keine Übermittlung in das Land {n} mehr erfordert"
                    ),
                    format!("we recorded that your contract no longer requires a transfer to {n}"),
                )
            }
        }
        EventKind::CallConsent { granted: true, .. } => (
            "haben Sie in die Aufzeichnung eines Gesprächs eingewilligt".into(),
            "you consented to the recording of a call".into(),
        ),
        EventKind::CallConsent { granted: false, .. } => (
            "haben Sie die Aufzeichnung eines Gesprächs beendet".into(),
            "you ended the recording of a call".into(),
        ),
        EventKind::Identifier { active: true, .. } => (
            "haben wir Ihrem Vertrag eine SIM-Karte, Rufnummer oder ein Gerät zugeordnet".into(),
            "we linked a SIM card, phone number or device to your contract".into(),
        ),
        EventKind::Identifier { active: false, .. } => (
            "haben wir eine SIM-Karte, Rufnummer oder ein Gerät von Ihrem Vertrag gelöst".into(),
            "we unlinked a SIM card, phone number or device from your contract".into(),
        ),
        EventKind::Erasure => (
            "haben wir Ihre Daten gelöscht".into(),
            "we erased your data".into(),
        ),
        // Handled by `what`; kept here so that every kind has words.
        EventKind::Consent { .. } | EventKind::ConsentUse { .. } | EventKind::Objection { .. } => (
            "haben wir Ihre Angaben erfasst".into(),
            "we recorded your choice".into(),
        ),
    };
    (de, en)
}

/// A relationship as a fact about the person.
fn relationship_words(r: Relationship) -> (&'static str, &'static str) {
    match r {
        Relationship::Customer => ("Sie sind unser Kunde", "you are our customer"),
        Relationship::Prospect => (
            "Sie interessieren sich für unsere Angebote",
            "you are interested in our offers",
        ),
        Relationship::FormerCustomer => (
            "Sie sind nicht mehr unser Kunde",
            "you are no longer our customer",
        ),
        Relationship::Unknown => (
            "wir stehen in keiner Vertragsbeziehung",
            "we have no contractual relationship",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_sources_are_our_systems_never_their_code() {
        assert_eq!(source_words("crm_sync_v2", Lang::De), "über unsere Systeme");
        assert_eq!(
            source_words("privacy_center", Lang::En),
            "through the privacy center"
        );
    }
}
