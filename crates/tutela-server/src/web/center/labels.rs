//! Requests' channels, types and statuses and ledger events, each in a few words in German
//! or English, for the privacy center and the console.

use tutela_core::render::Lang;

/// How a request reached the operator, in words.
pub(crate) fn channel_label(channel: &str, lang: Lang) -> String {
    let (de, en) = match channel {
        "api" => ("Schnittstelle (API)", "interface (API)"),
        "email" => ("E-Mail", "e-mail"),
        "privacy_center" => ("Datenschutz-Center", "privacy center"),
        "letter" => ("Brief", "letter"),
        "phone" => ("Telefon", "phone"),
        other => (other, other),
    };
    match lang {
        Lang::De => de.to_owned(),
        Lang::En => en.to_owned(),
    }
}

pub(crate) fn request_label(t: &str, lang: Lang) -> String {
    tutela_runtime::requests::words::request_kind(tutela_core::request::RequestType::parse(t), lang)
        .to_owned()
}

/// A request's status as the privacy office reads it (the console); the person reads
/// [`Progress`], which speaks to them.
pub(crate) fn status_label(s: &str, lang: Lang) -> String {
    let (de, en) = match s {
        "received" => ("eingegangen", "received"),
        "awaiting_verification" => ("wartet auf Identitätsprüfung", "awaiting identity check"),
        "verified" => ("Identität bestätigt", "identity verified"),
        "in_progress" => ("in Bearbeitung", "in progress"),
        "awaiting_approval" => ("Plan wartet auf Freigabe", "plan awaiting approval"),
        "completed" => ("erledigt", "completed"),
        "partially_refused" => ("teilweise abgelehnt", "partly refused"),
        "refused" => ("abgelehnt", "refused"),
        "no_data_held" => (
            "keine Daten über die Person gespeichert",
            "no data held about the person",
        ),
        "unclassified" => ("noch nicht eingeordnet", "not yet classified"),
        _ => ("unbekannter Stand", "unknown state"),
    };
    match lang {
        Lang::De => de.to_owned(),
        Lang::En => en.to_owned(),
    }
}

pub(super) fn event_label(kind: &str, lang: Lang) -> String {
    let (de, en) = match kind {
        "relationship_set" => ("Vertragsbeziehung", "Relationship"),
        "consent_given" => ("Einwilligung erteilt", "Consent given"),
        "consent_withdrawn" => ("Einwilligung widerrufen", "Consent withdrawn"),
        "consent_used" => ("Einwilligung genutzt", "Consent used"),
        "objection_raised" => ("Widerspruch", "Objection"),
        "restriction_set" => ("Einschränkung", "Restriction"),
        "restriction_lifted" => ("Einschränkung aufgehoben", "Restriction lifted"),
        "transfer_consent_given" => ("Einwilligung in Übermittlung", "Transfer consent given"),
        "transfer_consent_withdrawn" => ("Übermittlung widerrufen", "Transfer consent withdrawn"),
        "call_consent_given" => (
            "Einwilligung in Aufzeichnung dieses Gesprächs",
            "Consent to recording this call",
        ),
        "call_consent_withdrawn" => (
            "Aufzeichnung dieses Gesprächs beendet",
            "Recording of this call ended",
        ),
        "transfer_necessity_recorded" => (
            "Übermittlung für Ihren Vertrag erforderlich",
            "Transfer necessary for your contract",
        ),
        "transfer_necessity_ended" => (
            "Übermittlung für Ihren Vertrag beendet",
            "Transfer for your contract ended",
        ),
        "identifier_linked" => (
            "Kennung (SIM oder Gerät) Ihrem Vertrag zugeordnet",
            "Identifier (SIM or device) linked to your contract",
        ),
        "identifier_unlinked" => (
            "Kennung (SIM oder Gerät) nicht mehr zugeordnet",
            "Identifier (SIM or device) no longer linked",
        ),
        "erased" => ("Gelöscht", "Erased"),
        other => (other, other),
    };
    match lang {
        Lang::De => de.to_owned(),
        Lang::En => en.to_owned(),
    }
}
