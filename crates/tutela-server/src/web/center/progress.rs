//! Where a request stands, as the person reads it: one place for the word in the list, the
//! status on the request's page and the sentence below it, so the three cannot disagree
//! ("erledigt" next to "Noch in Bearbeitung").

use tutela_core::render::Lang;
use tutela_core::request::Status;

/// A request's state as the person sees it; several internal states read as one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    Received,
    AwaitingIdentity,
    /// Verified and being worked on.
    Working,
    AwaitingReview,
    Completed,
    PartlyRefused,
    Refused,
    NoDataHeld,
}

impl Progress {
    /// The person-facing state of a request in `status`.
    pub(crate) fn of(status: Status) -> Progress {
        match status {
            Status::Received => Progress::Received,
            Status::AwaitingVerification => Progress::AwaitingIdentity,
            Status::Verified | Status::InProgress => Progress::Working,
            Status::AwaitingApproval => Progress::AwaitingReview,
            Status::Completed => Progress::Completed,
            Status::PartiallyRefused => Progress::PartlyRefused,
            Status::Refused => Progress::Refused,
            Status::NoDataHeld => Progress::NoDataHeld,
        }
    }

    /// Whether the request's result (report, export) was made and may be offered.
    pub(crate) fn has_result(self) -> bool {
        matches!(self, Progress::Completed | Progress::PartlyRefused)
    }

    /// The state in a word or two, for the list and the page.
    pub(crate) fn word(self, lang: Lang) -> &'static str {
        let (de, en) = match self {
            Progress::Received => ("eingegangen", "received"),
            Progress::AwaitingIdentity => (
                "wartet auf Bestätigung Ihrer Identität",
                "waiting for confirmation of your identity",
            ),
            Progress::Working => ("in Bearbeitung", "in progress"),
            Progress::AwaitingReview => (
                "wartet auf Prüfung durch unsere Mitarbeiter",
                "waiting for review by our staff",
            ),
            Progress::Completed => ("erledigt", "completed"),
            Progress::PartlyRefused => ("teilweise abgelehnt", "partly refused"),
            Progress::Refused => ("abgelehnt", "refused"),
            Progress::NoDataHeld => (
                "keine Daten über Sie gespeichert",
                "no data about you is held",
            ),
        };
        pick(lang, de, en)
    }

    /// One sentence on what it means and what comes next.
    pub(crate) fn line(self, lang: Lang) -> &'static str {
        let (de, en) = match self {
            Progress::Received => (
                "Ihre Anfrage ist bei uns eingegangen. Wir beginnen bald mit der Bearbeitung; diese Seite zeigt den Stand.",
                "We have received your request. We will start on it soon; this page shows its progress.",
            ),
            Progress::AwaitingIdentity => (
                "Bevor wir Ihre Anfrage bearbeiten, bestätigen wir, dass sie von Ihnen stammt. Wir melden uns dazu bei Ihnen; diese Seite zeigt den Stand.",
                "Before we act on your request, we confirm that it comes from you. We will contact you about this; this page shows its progress.",
            ),
            Progress::Working => (
                "Wir bearbeiten Ihre Anfrage. Diese Seite zeigt den Stand.",
                "We are working on your request. This page shows its progress.",
            ),
            Progress::AwaitingReview => (
                "Unsere Mitarbeiter prüfen, was Ihre Anfrage in unseren Systemen ändert, bevor es ausgeführt wird. Diese Seite zeigt den Stand.",
                "Our staff are reviewing what your request changes in our systems before it is carried out. This page shows its progress.",
            ),
            Progress::Completed => (
                "Ihre Anfrage ist erledigt.",
                "Your request has been completed.",
            ),
            Progress::PartlyRefused => (
                "Ihre Anfrage ist erledigt, einen Teil davon konnten wir aber nicht erfüllen.",
                "Your request has been completed, but we could not fulfil part of it.",
            ),
            Progress::Refused => (
                "Wir haben Ihre Anfrage abgelehnt. Sie können sich an unseren Datenschutzbeauftragten oder eine Aufsichtsbehörde wenden.",
                "We have refused your request. You can contact our data protection officer or a supervisory authority.",
            ),
            Progress::NoDataHeld => (
                "Wir haben keine Daten über Sie gespeichert; es gab nichts zu tun.",
                "We hold no data about you; there was nothing to do.",
            ),
        };
        pick(lang, de, en)
    }
}

fn pick(lang: Lang, de: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_as_one_state_whose_word_and_line_agree() {
        for s in Status::ALL {
            let p = Progress::of(s);
            // An unfinished request never says it is done, a finished one never that it is
            // still being worked on; only a finished one has a result to offer.
            for lang in [Lang::De, Lang::En] {
                let line = p.line(lang);
                let ongoing =
                    line.contains("zeigt den Stand") || line.contains("shows its progress");
                assert_eq!(ongoing, !s.is_final(), "{s:?}");
            }
            assert!(!p.has_result() || s.is_final(), "{s:?}");
        }
    }
}
