//! Marketing audiences (N16–N19): which persons of a list a campaign may contact, and why not
//! the others, in the words a marketing team uses. The decision engine decides each person;
//! this module only names the outcome.

use crate::basis::LegalBasis;
use crate::compiled::{CompiledPolicy, Query};
use crate::index::StateIndex;
use crate::lang::Lang;
use crate::reason::Reason;

/// Why a person is left out of an audience.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exclusion {
    NoConsent,
    Objection,
    NotAnExistingCustomer,
    Restricted,
    Erased,
    /// Anything else, by its reason code (a category or channel the purpose does not use…).
    Other(Reason),
}

impl Exclusion {
    pub fn of(reason: Reason) -> Exclusion {
        match reason {
            Reason::NoConsent | Reason::ConsentWithdrawn => Exclusion::NoConsent,
            Reason::Objected
            | Reason::ObjectedDirectMarketing
            | Reason::ObjectedLegitimateInterest => Exclusion::Objection,
            Reason::RelationshipRequired => Exclusion::NotAnExistingCustomer,
            Reason::Restricted => Exclusion::Restricted,
            Reason::Erased => Exclusion::Erased,
            other => Exclusion::Other(other),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Exclusion::NoConsent => "no_consent",
            Exclusion::Objection => "objection",
            Exclusion::NotAnExistingCustomer => "not_an_existing_customer",
            Exclusion::Restricted => "restricted",
            Exclusion::Erased => "erased",
            Exclusion::Other(r) => r.code(),
        }
    }
}

/// One person's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// May be contacted; the legal basis is the one the engine found.
    Contact(LegalBasis),
    Exclude(Exclusion),
}

/// Decides every id of `ids` for the campaign `q`, in order.
pub fn select<'a>(
    policy: &CompiledPolicy,
    states: &StateIndex,
    q: &Query,
    ids: impl IntoIterator<Item = &'a str>,
    now: jiff::Timestamp,
    out: &mut Vec<Verdict>,
) {
    for id in ids {
        let d = policy.decide(states.state(id), q, now);
        out.push(match (d.allowed(), d.legal_basis) {
            (true, Some(basis)) => Verdict::Contact(basis),
            _ => Verdict::Exclude(Exclusion::of(d.reason)),
        });
    }
}

/// Contact by e-mail or SMS without consent rests on section 7(3) UWG: every message must tell
/// the person that they can object at any time (N18).
pub fn needs_objection_notice(verdicts: &[Verdict]) -> bool {
    verdicts
        .iter()
        .any(|v| matches!(v, Verdict::Contact(LegalBasis::LegitimateInterest)))
}

/// The objection notice section 7(3) no. 4 UWG asks for in every message sent without consent:
/// that the person can object at any time, free of charge beyond the transmission costs at the
/// basic rates, and where (`link`, the privacy center). German is the notice's language.
pub fn objection_notice(lang: Lang, link: &str) -> String {
    match lang {
        Lang::De => format!(
            "Sie können der Verwendung Ihrer Daten für Werbung jederzeit widersprechen, ohne dass \
             hierfür andere als die Übermittlungskosten nach den Basistarifen entstehen: {link}"
        ),
        Lang::En => format!(
            "You can object to the use of your data for advertising at any time, at no cost other \
             than the transmission costs at the basic rates: {link}"
        ),
    }
}

/// The line `tutela audience` ends with: how many may be contacted, and the notice every
/// message must carry when one is required.
pub fn summary(lang: Lang, contactable: usize, total: usize, notice: Option<&str>) -> String {
    let mut line = match lang {
        Lang::De => format!("{contactable} von {total} dürfen kontaktiert werden."),
        Lang::En => format!("{contactable} of {total} may be contacted."),
    };
    if let Some(notice) = notice {
        line.push_str(match lang {
            Lang::De => " Jede Nachricht ohne Einwilligung muss enthalten: ",
            Lang::En => " Every message sent without consent must say: ",
        });
        line.push_str(notice);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://privacy.example/";

    #[test]
    fn objection_notice_in_german() {
        let n = objection_notice(Lang::De, LINK);
        assert!(n.contains("jederzeit widersprechen"));
        assert!(n.contains("Übermittlungskosten nach den Basistarifen"));
        assert!(n.ends_with(LINK));
        assert!(!n.contains("  "), "{n}");
    }

    #[test]
    fn objection_notice_in_english() {
        let n = objection_notice(Lang::En, LINK);
        assert!(n.contains("object to the use of your data for advertising at any time"));
        assert!(n.contains("transmission costs at the basic rates"));
        assert!(n.ends_with(LINK));
        assert!(!n.contains("  "), "{n}");
    }

    #[test]
    fn summary_names_the_notice_only_when_required() {
        assert_eq!(
            summary(Lang::De, 2, 7, None),
            "2 von 7 dürfen kontaktiert werden."
        );
        let en = summary(Lang::En, 2, 7, Some("N"));
        assert_eq!(
            en,
            "2 of 7 may be contacted. Every message sent without consent must say: N"
        );
    }
}
