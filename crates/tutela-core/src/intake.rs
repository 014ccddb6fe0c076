//! Recognising what a message asks for (N10: rights are exercised by e-mail), in German and
//! English. Each request type has cue phrases with weights; the type with the highest score
//! wins when it leads clearly. Anything else is [`RequestType::Unclassified`] for an agent: a
//! message is never dropped for being unclear.

use crate::request::RequestType;

/// Cue phrases, lower case, matched as substrings of the normalised text.
const CUES: &[(RequestType, &[(&str, u32)])] = &[
    (
        RequestType::Access,
        &[
            ("auskunft", 3),
            ("art. 15", 4),
            ("artikel 15", 4),
            ("art 15", 4),
            ("welche daten", 2),
            ("gespeicherten daten", 2),
            ("kopie meiner daten", 3),
            ("subject access", 4),
            ("access request", 3),
            ("right of access", 4),
            ("copy of my data", 3),
            ("copy of my personal data", 4),
            ("what data", 2),
            ("which data", 2),
            ("data you hold", 3),
            ("data you have about me", 3),
        ],
    ),
    (
        RequestType::Portability,
        &[
            ("datenübertragbarkeit", 5),
            ("art. 20", 4),
            ("artikel 20", 4),
            ("portabilität", 4),
            ("maschinenlesbar", 3),
            ("portability", 5),
            ("machine-readable", 3),
            ("machine readable", 3),
            ("export my data", 3),
            ("transfer my data", 3),
            ("csv", 1),
        ],
    ),
    (
        RequestType::Rectification,
        &[
            ("berichtigung", 5),
            ("berichtigen", 4),
            ("korrigieren", 3),
            ("korrektur", 3),
            ("falsch gespeichert", 3),
            ("ist falsch", 2),
            ("art. 16", 4),
            ("artikel 16", 4),
            ("rectification", 5),
            ("rectify", 4),
            ("correct my", 3),
            ("is wrong", 2),
            ("is incorrect", 2),
            ("update my address", 3),
            ("spelled", 1),
        ],
    ),
    (
        RequestType::Erasure,
        &[
            ("löschung", 4),
            ("löschen", 4),
            ("loeschen", 4),
            ("art. 17", 4),
            ("artikel 17", 4),
            ("vergessenwerden", 4),
            ("vergessen zu werden", 4),
            ("erasure", 5),
            ("erase", 4),
            ("delete", 4),
            ("deletion", 4),
            ("right to be forgotten", 5),
            ("remove my data", 4),
        ],
    ),
    (
        RequestType::Restriction,
        &[
            ("einschränkung", 5),
            ("einschränken", 4),
            ("sperrung", 3),
            ("sperren", 2),
            ("art. 18", 4),
            ("artikel 18", 4),
            ("restriction", 5),
            ("restrict", 4),
        ],
    ),
    (
        RequestType::Objection,
        &[
            ("widerspruch", 4),
            ("widerspreche", 5),
            ("art. 21", 4),
            ("artikel 21", 4),
            ("keine werbung", 4),
            ("werbung", 1),
            ("object to", 4),
            ("objection", 4),
            ("unsubscribe", 4),
            ("no more marketing", 4),
            ("stop sending", 3),
            ("direct marketing", 2),
        ],
    ),
    (
        RequestType::WithdrawConsent,
        &[
            ("widerrufe", 5),
            ("widerruf", 4),
            ("einwilligung", 2),
            ("art. 7", 3),
            ("withdraw my consent", 5),
            ("withdraw consent", 5),
            ("revoke my consent", 5),
            ("revoke consent", 5),
            ("consent", 1),
        ],
    ),
];

/// The recognised type and the scores behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub request_type: RequestType,
    /// The winner's score; 0 for an unclassified message.
    pub score: u32,
    /// The runner-up's score: a close second makes the message unclassified.
    pub runner_up: u32,
}

/// Classifies a message by its subject line and body.
pub fn classify(subject: &str, body: &str) -> Classification {
    let text = normalise(&format!("{subject}\n{subject}\n{body}"));
    let mut scores: Vec<(RequestType, u32)> = CUES
        .iter()
        .map(|(t, cues)| {
            let score = cues
                .iter()
                .filter(|(cue, _)| text.contains(cue))
                .map(|(_, w)| w)
                .sum();
            (*t, score)
        })
        .collect();
    scores.sort_by_key(|s| std::cmp::Reverse(s.1));
    let (best, score) = scores[0];
    let runner_up = scores[1].1;
    // A winner needs a clear cue (3 or more) and a lead of at least 2 over the next type.
    let request_type = if score >= 3 && score >= runner_up + 2 {
        best
    } else {
        RequestType::Unclassified
    };
    Classification {
        request_type,
        score: if request_type == RequestType::Unclassified {
            0
        } else {
            score
        },
        runner_up,
    }
}

/// Lower case, quoted reply lines dropped, whitespace collapsed.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let l = line.trim_start();
        if l.starts_with('>') {
            continue;
        }
        for word in l.split_whitespace() {
            out.push_str(&word.to_lowercase());
            out.push(' ');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::classify;
    use crate::request::RequestType;

    #[test]
    fn german_and_english_wording_is_recognised() {
        let cases = [
            (
                "Auskunft nach Art. 15 DSGVO",
                "Bitte teilen Sie mir mit, welche Daten Sie über mich gespeichert haben.",
                RequestType::Access,
            ),
            (
                "Subject access request",
                "Please send me a copy of my personal data.",
                RequestType::Access,
            ),
            (
                "Löschung meiner Daten",
                "Hiermit fordere ich Sie auf, meine Daten zu löschen.",
                RequestType::Erasure,
            ),
            (
                "Please delete my account data",
                "I want my data erased under the right to be forgotten.",
                RequestType::Erasure,
            ),
            (
                "Widerspruch Werbung",
                "Ich widerspreche der Nutzung meiner Daten für Werbung.",
                RequestType::Objection,
            ),
            (
                "Unsubscribe",
                "Please stop sending me marketing e-mails. I object to direct marketing.",
                RequestType::Objection,
            ),
            (
                "Widerruf meiner Einwilligung",
                "Ich widerrufe meine Einwilligung zur Telefonwerbung.",
                RequestType::WithdrawConsent,
            ),
            (
                "Consent",
                "I withdraw my consent to call recording.",
                RequestType::WithdrawConsent,
            ),
            (
                "Berichtigung",
                "Meine Adresse ist falsch gespeichert, bitte berichtigen.",
                RequestType::Rectification,
            ),
            (
                "Datenübertragbarkeit",
                "Bitte senden Sie mir meine Daten maschinenlesbar (CSV).",
                RequestType::Portability,
            ),
            (
                "Data portability",
                "I'd like to export my data in a machine-readable format.",
                RequestType::Portability,
            ),
            (
                "Einschränkung der Verarbeitung",
                "Bitte schränken Sie die Verarbeitung ein, Einschränkung nach Art. 18.",
                RequestType::Restriction,
            ),
        ];
        for (subject, body, want) in cases {
            assert_eq!(classify(subject, body).request_type, want, "{subject}");
        }
    }

    #[test]
    fn unclear_messages_are_unclassified_not_dropped() {
        for (subject, body) in [
            ("Frage", "Wann kommt meine SIM-Karte?"),
            ("Hello", "My router is broken."),
            // Two rights at once: an agent splits it.
            (
                "Auskunft und Löschung",
                "Auskunft nach Art. 15 und danach Löschung nach Art. 17.",
            ),
            ("", ""),
        ] {
            assert_eq!(
                classify(subject, body).request_type,
                RequestType::Unclassified,
                "{subject}"
            );
        }
    }

    #[test]
    fn quoted_replies_do_not_count() {
        let body = "Danke.\n> Sie können jederzeit die Löschung Ihrer Daten verlangen.";
        assert_eq!(
            classify("Re: Ihre Rechnung", body).request_type,
            RequestType::Unclassified
        );
    }
}
