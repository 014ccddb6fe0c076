//! What changed between two versions of a policy, in words (German and English): purposes
//! added or removed, legal bases, categories, channels, recipients, retention and transfers.
//! A consent-based purpose that now does more than people agreed to is flagged: their consents
//! need renewal (the caller counts them from the ledger).

use std::collections::BTreeSet;

use crate::basis::LegalBasis;
use crate::policy::{Policy, Purpose};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The purpose, recipient, rule or country it concerns.
    pub subject: String,
    pub de: String,
    pub en: String,
    /// A consent-based purpose now processes more than its consents covered.
    pub widens_consent: bool,
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> BTreeSet<String> {
    items.iter().map(|x| id(x).to_owned()).collect()
}

fn category_ids(p: &Policy, purpose: &Purpose) -> BTreeSet<String> {
    purpose
        .categories
        .iter()
        .map(|&c| p.categories[c].id.clone())
        .collect()
}

fn channel_ids(p: &Policy, purpose: &Purpose) -> BTreeSet<String> {
    purpose
        .channels
        .iter()
        .map(|&c| p.channels[c].id.clone())
        .collect()
}

fn bases(purpose: &Purpose) -> BTreeSet<&'static str> {
    purpose
        .bases
        .iter()
        .map(|b| b.legal_basis.dpv_id())
        .collect()
}

fn list(set: &BTreeSet<String>) -> String {
    set.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every change from `old` to `new`, purposes first.
pub fn diff(old: &Policy, new: &Policy) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |subject: &str, de: String, en: String, widens: bool| {
        out.push(Change {
            subject: subject.to_owned(),
            de,
            en,
            widens_consent: widens,
        });
    };
    let old_p = ids(&old.purposes, |p| &p.id);
    let new_p = ids(&new.purposes, |p| &p.id);
    for id in new_p.difference(&old_p) {
        push(
            id,
            format!("Neuer Zweck `{id}`."),
            format!("New purpose `{id}`."),
            false,
        );
    }
    for id in old_p.difference(&new_p) {
        push(
            id,
            format!("Zweck `{id}` entfällt."),
            format!("Purpose `{id}` is removed."),
            false,
        );
    }
    for a in &old.purposes {
        let Some(b) = new.purposes.iter().find(|p| p.id == a.id) else {
            continue;
        };
        let id = &a.id;
        let on_consent = b.bases.iter().any(|x| x.legal_basis == LegalBasis::Consent);
        let (ba, bb) = (bases(a), bases(b));
        if ba != bb {
            let fmt = |s: &BTreeSet<&str>| s.iter().copied().collect::<Vec<_>>().join(", ");
            push(
                id,
                format!(
                    "Zweck `{id}` hat eine geänderte Rechtsgrundlage: {} statt {}.",
                    fmt(&bb),
                    fmt(&ba)
                ),
                format!(
                    "Purpose `{id}` has a changed legal basis: {} instead of {}.",
                    fmt(&bb),
                    fmt(&ba)
                ),
                false,
            );
        }
        let (ca, cb) = (category_ids(old, a), category_ids(new, b));
        let added: BTreeSet<String> = cb.difference(&ca).cloned().collect();
        let removed: BTreeSet<String> = ca.difference(&cb).cloned().collect();
        if !added.is_empty() {
            push(
                id,
                format!(
                    "{}Zweck `{id}` verwendet jetzt auch {}.",
                    if on_consent {
                        "Einwilligungsbasierter "
                    } else {
                        ""
                    },
                    list(&added)
                ),
                format!(
                    "{}urpose `{id}` now also uses {}.",
                    if on_consent { "Consent-based p" } else { "P" },
                    list(&added)
                ),
                on_consent,
            );
        }
        if !removed.is_empty() {
            push(
                id,
                format!("Zweck `{id}` verwendet {} nicht mehr.", list(&removed)),
                format!("Purpose `{id}` no longer uses {}.", list(&removed)),
                false,
            );
        }
        let (cha, chb) = (channel_ids(old, a), channel_ids(new, b));
        let new_channels: BTreeSet<String> = chb.difference(&cha).cloned().collect();
        if !new_channels.is_empty() {
            push(
                id,
                format!(
                    "Zweck `{id}` nutzt jetzt auch die Kanäle {}.",
                    list(&new_channels)
                ),
                format!(
                    "Purpose `{id}` now also uses the channels {}.",
                    list(&new_channels)
                ),
                on_consent && !b.consent_per_channel,
            );
        }
        let ra: BTreeSet<String> = old
            .recipients
            .iter()
            .filter(|r| r.purposes.iter().any(|&x| old.purposes[x].id == *id))
            .map(|r| r.id.clone())
            .collect();
        let rb: BTreeSet<String> = new
            .recipients
            .iter()
            .filter(|r| r.purposes.iter().any(|&x| new.purposes[x].id == *id))
            .map(|r| r.id.clone())
            .collect();
        let more: BTreeSet<String> = rb.difference(&ra).cloned().collect();
        if !more.is_empty() {
            push(
                id,
                format!(
                    "Für Zweck `{id}` erhalten jetzt auch {} Daten.",
                    list(&more)
                ),
                format!("For purpose `{id}`, {} now also receive data.", list(&more)),
                on_consent,
            );
        }
    }
    // Retention rules: periods.
    for r in &new.retention {
        match old.retention.iter().find(|o| o.id == r.id) {
            None => push(
                &r.id,
                format!("Neue Speicherregel `{}` ({}).", r.id, r.period),
                format!("New retention rule `{}` ({}).", r.id, r.period),
                false,
            ),
            Some(o) if o.period != r.period => push(
                &r.id,
                format!("Speicherregel `{}`: {} statt {}.", r.id, r.period, o.period),
                format!(
                    "Retention rule `{}`: {} instead of {}.",
                    r.id, r.period, o.period
                ),
                false,
            ),
            Some(_) => {}
        }
    }
    for o in old
        .retention
        .iter()
        .filter(|o| !new.retention.iter().any(|r| r.id == o.id))
    {
        push(
            &o.id,
            format!("Speicherregel `{}` entfällt.", o.id),
            format!("Retention rule `{}` is removed.", o.id),
            false,
        );
    }
    // Recipients and their countries.
    for r in &new.recipients {
        match old.recipients.iter().find(|o| o.id == r.id) {
            None => push(
                &r.id,
                format!("Neuer Empfänger `{}`.", r.id),
                format!("New recipient `{}`.", r.id),
                false,
            ),
            Some(o) => {
                let ca: BTreeSet<&str> = o.countries.iter().map(|c| c.as_str()).collect();
                let cb: BTreeSet<&str> = r.countries.iter().map(|c| c.as_str()).collect();
                let more: Vec<&str> = cb.difference(&ca).copied().collect();
                if !more.is_empty() {
                    push(
                        &r.id,
                        format!(
                            "Empfänger `{}` verarbeitet jetzt auch in {}.",
                            r.id,
                            more.join(", ")
                        ),
                        format!(
                            "Recipient `{}` now also processes in {}.",
                            r.id,
                            more.join(", ")
                        ),
                        false,
                    );
                }
            }
        }
    }
    for o in old
        .recipients
        .iter()
        .filter(|o| !new.recipients.iter().any(|r| r.id == o.id))
    {
        push(
            &o.id,
            format!("Empfänger `{}` entfällt.", o.id),
            format!("Recipient `{}` is removed.", o.id),
            false,
        );
    }
    // Adequacy decisions.
    for a in &old.transfers.adequacy {
        match new
            .transfers
            .adequacy
            .iter()
            .find(|n| n.country == a.country)
        {
            None => push(
                a.country.as_str(),
                format!(
                    "Der Angemessenheitsbeschluss für {} entfällt.",
                    a.country.as_str()
                ),
                format!(
                    "The adequacy decision for {} is withdrawn.",
                    a.country.as_str()
                ),
                false,
            ),
            Some(n) if n.until != a.until => push(
                a.country.as_str(),
                format!(
                    "Der Angemessenheitsbeschluss für {} gilt jetzt bis {}.",
                    a.country.as_str(),
                    n.until.map_or("auf Weiteres".to_owned(), |u| u.to_string())
                ),
                format!(
                    "The adequacy decision for {} now holds until {}.",
                    a.country.as_str(),
                    n.until
                        .map_or("further notice".to_owned(), |u| u.to_string())
                ),
                false,
            ),
            Some(_) => {}
        }
    }
    for n in new.transfers.adequacy.iter().filter(|n| {
        !old.transfers
            .adequacy
            .iter()
            .any(|a| a.country == n.country)
    }) {
        push(
            n.country.as_str(),
            format!(
                "Neuer Angemessenheitsbeschluss für {} vom {}.",
                n.country.as_str(),
                n.decided
            ),
            format!(
                "New adequacy decision for {} of {}.",
                n.country.as_str(),
                n.decided
            ),
            false,
        );
    }
    out
}

/// Purposes `new` widens beyond what their consents under `old` covered without saying, in a
/// `[purpose.renewal]` since `new`'s notice version, what those consents still cover (N33).
/// A version with such a gap must not take effect: the operator would process more than the
/// person agreed to, or silently stop, and nobody would have decided which.
pub fn renewal_gaps(old: &Policy, new: &Policy) -> Vec<String> {
    let widened: BTreeSet<&str> = diff(old, new)
        .iter()
        .filter(|c| c.widens_consent)
        .map(|c| c.subject.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter_map(|id| {
            new.purposes
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.id.as_str())
        })
        .collect();
    widened
        .into_iter()
        .filter(|id| {
            !new.purposes.iter().any(|p| {
                p.id == *id
                    && p.renewal
                        .as_ref()
                        .is_some_and(|r| r.since == new.version && old.version < new.version)
            })
        })
        .map(str::to_owned)
        .collect()
}
