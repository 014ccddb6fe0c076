//! Art. 15(3): the copy of the person's data as a person reads it. The operator's tables and
//! columns are named by the dataset map's labels, else by their data category's name, never
//! by the database's identifiers; dates and times are written in words.

use jiff::tz::TimeZone;

use crate::datamap::Label;
use crate::lang::Lang;
use crate::policy::Policy;
use crate::words::{date_time, stored_time};

use super::terms::{event, loose, pick, source};
use super::{CollectedTable, CopyTable, EventLine, HistoryEntry};

fn label(l: &Label, lang: Lang) -> String {
    match lang {
        Lang::De => l.de.clone(),
        Lang::En => l.en.clone(),
    }
}

fn category(p: &Policy, id: &str, lang: Lang) -> Option<String> {
    p.category(id)
        .map(|c| p.categories[c].label.get(lang).to_owned())
}

/// A table of the copy with its title, headings and cells in words.
pub(super) fn table(p: &Policy, t: &CollectedTable, tz: &TimeZone, lang: Lang) -> CopyTable {
    let headings = (0..t.columns.len())
        .map(|i| {
            t.labels
                .get(i)
                .and_then(Option::as_ref)
                .map(|l| label(l, lang))
                .or_else(|| t.categories.get(i).and_then(|c| category(p, c, lang)))
                .unwrap_or_else(|| pick(lang, "Angabe", "Item").to_owned())
        })
        .collect();
    // Without a table label, the table is named by the category most of its columns hold
    // (its key column aside).
    let title = t.label.as_ref().map(|l| label(l, lang)).unwrap_or_else(|| {
        main_category(t)
            .and_then(|c| category(p, c, lang))
            .unwrap_or_else(|| pick(lang, "Weitere Daten", "Further data").to_owned())
    });
    let cells = t
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| {
                    let v = v.as_deref().unwrap_or("");
                    stored_time(v, tz, lang).unwrap_or_else(|| v.to_owned())
                })
                .collect()
        })
        .collect();
    CopyTable {
        data: t.clone(),
        title,
        headings,
        cells,
    }
}

fn main_category(t: &CollectedTable) -> Option<&str> {
    let cats: Vec<&str> = t.categories.iter().skip(1).map(String::as_str).collect();
    cats.iter()
        .max_by_key(|c| cats.iter().filter(|x| x == c).count())
        .copied()
        .or_else(|| t.categories.first().map(String::as_str))
}

/// The history as sentences, each with its time in words and the notice the person saw.
pub(super) fn events(
    p: &Policy,
    history: &[HistoryEntry],
    tz: &TimeZone,
    lang: Lang,
) -> Vec<EventLine> {
    history
        .iter()
        .map(|e| EventLine {
            at: e
                .at
                .parse::<jiff::Timestamp>()
                .map(|at| date_time(at, tz, lang))
                .unwrap_or_else(|_| loose(&e.at)),
            text: event(p, e, lang),
            source: e.source.as_deref().map(|s| source(s, lang)),
            notice: e.policy_version.clone().zip(e.notice_version.clone()),
        })
        .collect()
}
