//! What the person is told when their request ends otherwise than in full (Art. 12(4) GDPR):
//! why, what stays, until when, and where they may complain, in German and English as the
//! refusal's mail is, without a code of tutela's or a name of the operator's tables.

use tutela_core::policy::Policy;
use tutela_core::render::Lang;
use tutela_core::request::RequestType;
use tutela_store::StepRecord;

/// A request's type as people name it; a type this version does not know is not classified.
pub fn request_kind(t: Option<RequestType>, lang: Lang) -> &'static str {
    let (de, en) = match t {
        Some(RequestType::Access) => ("Auskunft", "Access"),
        Some(RequestType::Portability) => ("Datenübertragbarkeit", "Portability"),
        Some(RequestType::Rectification) => ("Berichtigung", "Rectification"),
        Some(RequestType::Erasure) => ("Löschung", "Erasure"),
        Some(RequestType::Restriction) => ("Einschränkung", "Restriction"),
        Some(RequestType::Objection) => ("Widerspruch", "Objection"),
        Some(RequestType::WithdrawConsent) => {
            ("Widerruf einer Einwilligung", "Withdrawal of consent")
        }
        Some(RequestType::Unclassified) | None => ("Nicht eingeordnet", "Unclassified"),
    };
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}

/// The subject line and text of the mail that tells the person their request of type
/// `request_type` was carried out in part: what the erasure steps kept and why (from
/// `steps`), or that a rectification found nothing to correct, or that a part was refused;
/// then where to complain (`authority`, already in words).
pub(crate) fn partly_done_mail(
    request_type: Option<RequestType>,
    steps: &[StepRecord],
    nothing_corrected: bool,
    policy: &Policy,
    authority: &str,
) -> (String, String) {
    let kept = super::kept::kept(steps);
    let mut text = String::new();
    for lang in [Lang::De, Lang::En] {
        let kind = request_kind(request_type, lang);
        let mut lines = super::kept::sentences(&kept, policy, lang);
        if nothing_corrected {
            lines.push(pick(
                lang,
                "Zu den Angaben, die Sie berichtigen lassen wollten, haben wir keine Daten über Sie gefunden; geändert wurde nichts.",
                "We hold none of the data you asked us to correct; nothing was changed.",
            ));
        }
        if lines.is_empty() {
            lines.push(pick(
                lang,
                "Einen Teil Ihrer Anfrage konnten wir nicht ausführen. Auf Nachfrage nennen wir Ihnen die Gründe.",
                "We could not carry out part of your request. Ask us and we will tell you why.",
            ));
        }
        let (lead, complain) = match lang {
            Lang::De => (
                format!(
                    "Ihre Datenschutzanfrage ({kind}) haben wir ausgeführt, bis auf Folgendes:"
                ),
                "Sie können sich bei der zuständigen Aufsichtsbehörde beschweren oder gerichtlichen Rechtsschutz suchen:",
            ),
            Lang::En => (
                format!(
                    "We have carried out your privacy request ({kind}), except for the following:"
                ),
                "You may complain to the competent supervisory authority or seek a judicial remedy:",
            ),
        };
        text.push_str(&lead);
        text.push('\n');
        for l in &lines {
            text.push_str("- ");
            text.push_str(l);
            text.push('\n');
        }
        text.push_str(complain);
        text.push(' ');
        text.push_str(authority);
        text.push_str("\n\n");
    }
    let subject = format!(
        "Ihre Datenschutzanfrage: teilweise ausgeführt / Your privacy request: carried out in part ({} / {})",
        request_kind(request_type, Lang::De),
        request_kind(request_type, Lang::En)
    );
    (subject, text)
}

fn pick(lang: Lang, de: &str, en: &str) -> String {
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
    .to_owned()
}
