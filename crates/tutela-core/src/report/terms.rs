//! The words for what the policy does not name itself: ledger events as sentences, the
//! person's relationship, where a consent was given, the kinds of recipients, legal bases and
//! risk check outcomes, in German and English. Anything a table does not know is written with
//! spaces for underscores rather than shown as an identifier.

use crate::basis::{LegalBasis, Relationship};
use crate::lang::Lang;
use crate::policy::{Policy, RecipientKind};

use super::HistoryEntry;

pub(super) fn pick(lang: Lang, de: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}

/// An identifier no table knows, made readable: `call_center` → `call center`.
pub(super) fn loose(id: &str) -> String {
    id.replace(['_', '-'], " ")
}

/// A relationship as people name it (the report, the console's person page).
pub fn relationship(r: Relationship, lang: Lang) -> &'static str {
    match r {
        Relationship::Unknown => pick(lang, "keine erfasst", "none recorded"),
        Relationship::Prospect => pick(lang, "Interessent/Interessentin", "prospective customer"),
        Relationship::Customer => pick(lang, "Kunde/Kundin", "customer"),
        Relationship::FormerCustomer => {
            pick(lang, "ehemaliger Kunde/ehemalige Kundin", "former customer")
        }
    }
}

pub fn recipient_kind(k: RecipientKind, lang: Lang) -> &'static str {
    match k {
        RecipientKind::Processor => pick(
            lang,
            "Auftragsverarbeiter (handelt in unserem Auftrag)",
            "processor (acts on our behalf)",
        ),
        RecipientKind::Partner => pick(lang, "Kooperationspartner", "cooperation partner"),
        RecipientKind::Controller => pick(
            lang,
            "eigenständig Verantwortlicher",
            "independent controller",
        ),
        RecipientKind::Authority => pick(lang, "staatliche Stelle", "public authority"),
    }
}

/// The legal basis in words, with its article.
pub(super) fn legal_basis(b: LegalBasis, lang: Lang) -> String {
    let words = match b {
        LegalBasis::Consent => pick(lang, "Ihre Einwilligung", "your consent"),
        LegalBasis::Contract => pick(
            lang,
            "Erfüllung Ihres Vertrags oder vorvertragliche Maßnahmen",
            "performance of your contract or steps before it",
        ),
        LegalBasis::LegalObligation => {
            pick(lang, "eine rechtliche Verpflichtung", "a legal obligation")
        }
        LegalBasis::VitalInterest => pick(lang, "lebenswichtige Interessen", "vital interests"),
        LegalBasis::PublicInterest => pick(
            lang,
            "eine Aufgabe im öffentlichen Interesse",
            "a task in the public interest",
        ),
        LegalBasis::LegitimateInterest => pick(
            lang,
            "unsere berechtigten Interessen",
            "our legitimate interests",
        ),
        LegalBasis::CompatibleFurtherProcessing => pick(
            lang,
            "Weiterverarbeitung zu einem vereinbaren Zweck",
            "further processing for a compatible purpose",
        ),
    };
    format!("{words} ({})", b.article(lang))
}

/// A legal basis given as its DPV id (`eu-gdpr:A6-1-c`), in words.
pub(super) fn legal_basis_id(id: &str, lang: Lang) -> String {
    id.parse::<LegalBasis>()
        .map(|b| legal_basis(b, lang))
        .unwrap_or_else(|_| loose(id.trim_start_matches("eu-gdpr:")))
}

/// Where a consent was given or withdrawn.
pub(super) fn source(s: &str, lang: Lang) -> String {
    let known = match s {
        "web" | "website" => pick(lang, "Website", "website"),
        "app" => pick(lang, "App", "app"),
        "shop" | "store" | "retail" => pick(lang, "Shop", "shop"),
        "privacy_center" => pick(lang, "Datenschutz-Center", "privacy center"),
        "call_center" => pick(
            lang,
            "Kundenservice am Telefon",
            "customer service by phone",
        ),
        "tcf_banner" => pick(
            lang,
            "Einwilligungsbanner der Website",
            "website consent banner",
        ),
        "data_subject_request" => pick(lang, "Ihre Datenschutzanfrage", "your privacy request"),
        "console" | "agent" => pick(lang, "unser Datenschutzteam", "our privacy team"),
        "letter" | "post" => pick(lang, "Brief", "letter"),
        "email" => pick(lang, "E-Mail", "e-mail"),
        "phone" => pick(lang, "Telefon", "phone"),
        "sms" => pick(lang, "SMS", "SMS"),
        "api" | "system" => pick(lang, "unsere Systeme", "our systems"),
        "import" | "migration" => pick(lang, "Datenübernahme", "data import"),
        _ => return loose(s),
    };
    known.to_owned()
}

pub(super) fn risk_outcome(o: &str, lang: Lang) -> String {
    match o {
        "accept" => pick(lang, "positiv", "positive").to_owned(),
        "refer" => pick(
            lang,
            "an eine Mitarbeiterin oder einen Mitarbeiter zur Prüfung gegeben",
            "referred to a member of staff",
        )
        .to_owned(),
        "decline" => pick(lang, "negativ", "negative").to_owned(),
        other => loose(other),
    }
}

pub(super) fn risk_review(r: &str, lang: Lang) -> String {
    match r {
        "pending" => pick(
            lang,
            "Prüfung durch einen Menschen steht aus",
            "review by a person pending",
        )
        .to_owned(),
        "accepted" => pick(
            lang,
            "nach Prüfung durch einen Menschen angenommen",
            "accepted after review by a person",
        )
        .to_owned(),
        "declined" => pick(
            lang,
            "nach Prüfung durch einen Menschen abgelehnt",
            "declined after review by a person",
        )
        .to_owned(),
        other => loose(other),
    }
}

fn purpose(p: &Policy, id: Option<&str>, lang: Lang) -> String {
    let id = id.unwrap_or_default();
    p.purpose(id)
        .map(|i| p.purposes[i].label.get(lang).to_owned())
        .unwrap_or_else(|| loose(id))
}

fn channel(p: &Policy, id: Option<&str>, lang: Lang) -> Option<String> {
    let id = id?;
    Some(
        p.channel(id)
            .map(|i| p.channels[i].label.get(lang).to_owned())
            .unwrap_or_else(|| loose(id)),
    )
}

fn country(id: Option<&str>, lang: Lang) -> String {
    crate::countries::country_name(id.unwrap_or_default(), lang)
}

/// One ledger event as a sentence addressed to the person.
pub(super) fn event(p: &Policy, e: &HistoryEntry, lang: Lang) -> String {
    let what = purpose(p, e.purpose.as_deref(), lang);
    let via = channel(p, e.channel.as_deref(), lang)
        .map(|c| match lang {
            Lang::De => format!(" (Kanal: {c})"),
            Lang::En => format!(" (channel: {c})"),
        })
        .unwrap_or_default();
    let land = country(e.scope.as_deref(), lang);
    match (e.event.as_str(), lang) {
        ("consent_given", Lang::De) => format!("Sie haben in „{what}“ eingewilligt{via}."),
        ("consent_given", Lang::En) => format!("You consented to “{what}”{via}."),
        ("consent_withdrawn", Lang::De) => {
            format!("Sie haben Ihre Einwilligung in „{what}“ widerrufen{via}.")
        }
        ("consent_withdrawn", Lang::En) => {
            format!("You withdrew your consent to “{what}”{via}.")
        }
        ("consent_used", Lang::De) => {
            format!("Wir haben Sie mit Ihrer Einwilligung in „{what}“ angesprochen{via}.")
        }
        ("consent_used", Lang::En) => {
            format!("We contacted you with your consent to “{what}”{via}.")
        }
        ("call_consent_given", Lang::De) => {
            format!("Sie haben für ein Gespräch in „{what}“ eingewilligt.")
        }
        ("call_consent_given", Lang::En) => format!("You consented to “{what}” for one call."),
        ("call_consent_withdrawn", Lang::De) => {
            format!("Sie haben Ihre Einwilligung in „{what}“ für ein Gespräch widerrufen.")
        }
        ("call_consent_withdrawn", Lang::En) => {
            format!("You withdrew your consent to “{what}” for one call.")
        }
        ("objection_raised", _) => objection(p, e.scope.as_deref(), lang),
        ("transfer_consent_given", Lang::De) => format!(
            "Sie haben ausdrücklich eingewilligt, dass wir Ihre Daten in ein Drittland übermitteln: {land}."
        ),
        ("transfer_consent_given", Lang::En) => format!(
            "You explicitly consented to the transfer of your data to a third country: {land}."
        ),
        ("transfer_consent_withdrawn", Lang::De) => format!(
            "Sie haben Ihre Einwilligung in die Übermittlung Ihrer Daten in ein Drittland widerrufen: {land}."
        ),
        ("transfer_consent_withdrawn", Lang::En) => format!(
            "You withdrew your consent to the transfer of your data to a third country: {land}."
        ),
        ("transfer_necessity_recorded", Lang::De) => format!(
            "Für Ihren Vertrag ist es erforderlich, Ihre Daten in ein Drittland zu übermitteln: {land}."
        ),
        ("transfer_necessity_recorded", Lang::En) => {
            format!("Your contract requires a transfer of your data to a third country: {land}.")
        }
        ("transfer_necessity_ended", Lang::De) => format!(
            "Für Ihren Vertrag ist keine Übermittlung Ihrer Daten in dieses Drittland mehr erforderlich: {land}."
        ),
        ("transfer_necessity_ended", Lang::En) => format!(
            "Your contract no longer requires a transfer of your data to this third country: {land}."
        ),
        (other, _) => fixed_event(other, lang),
    }
}

/// Events whose sentence names nothing but the event.
fn fixed_event(kind: &str, lang: Lang) -> String {
    match kind {
        "relationship_set" => pick(
            lang,
            "Ihre Geschäftsbeziehung zu uns wurde erfasst oder geändert.",
            "Your relationship with us was recorded or changed.",
        ),
        "restriction_set" => pick(
            lang,
            "Die Verarbeitung Ihrer Daten wurde eingeschränkt.",
            "The processing of your data was restricted.",
        ),
        "restriction_lifted" => pick(
            lang,
            "Die Einschränkung der Verarbeitung Ihrer Daten wurde aufgehoben.",
            "The restriction of the processing of your data was lifted.",
        ),
        "identifier_linked" => pick(
            lang,
            "Eine Kennung (etwa eine SIM-Karte oder Rufnummer) wurde Ihnen zugeordnet.",
            "An identifier (such as a SIM card or phone number) was linked to you.",
        ),
        "identifier_unlinked" => pick(
            lang,
            "Eine Kennung (etwa eine SIM-Karte oder Rufnummer) ist Ihnen nicht mehr zugeordnet.",
            "An identifier (such as a SIM card or phone number) is no longer linked to you.",
        ),
        "erased" => pick(lang, "Ihre Daten wurden gelöscht.", "Your data was erased."),
        _ => pick(
            lang,
            "Ein Ereignis wurde erfasst.",
            "An event was recorded.",
        ),
    }
    .to_owned()
}

fn objection(p: &Policy, scope: Option<&str>, lang: Lang) -> String {
    match scope.unwrap_or_default() {
        "direct_marketing" => pick(
            lang,
            "Sie haben der Direktwerbung widersprochen.",
            "You objected to direct marketing.",
        )
        .to_owned(),
        "legitimate_interest" => pick(
            lang,
            "Sie haben der Verarbeitung auf Grundlage unserer berechtigten Interessen widersprochen.",
            "You objected to processing based on our legitimate interests.",
        )
        .to_owned(),
        other => {
            let what = purpose(p, Some(other), lang);
            match lang {
                Lang::De => format!("Sie haben der Verarbeitung für „{what}“ widersprochen."),
                Lang::En => format!("You objected to processing for “{what}”."),
            }
        }
    }
}
