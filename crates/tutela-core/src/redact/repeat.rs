//! Names found once, found again. A context word introduces a name once ("mein Name ist Anna
//! Schmidt"); the text then repeats it bare ("Mit freundlichen Grüßen / Anna Schmidt",
//! "Regards, John"). Every name the recognisers found is looked for again in the whole text,
//! before and after: the name as found, and each of its words that is a full name word (not an
//! initial, a title or a particle) of at least 3 letters.
//!
//! To keep false positives low, a repetition must match a whole word, with the same case, and
//! start with a capital letter: "Anna" is found as "Anna", never inside "Annahme" or
//! "Marie-Anna" or as "anna". Repetitions never override another finding.

use std::collections::HashSet;

use super::{Entity, Finding};

/// Letters of a name word are alphanumeric; a hyphen joins words into one name ("Anna-Lena"
/// is not "Anna").
fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-'
}

/// The words of a found name worth looking for on their own: capitalised, no initial, title or
/// abbreviation ("Dr.", "J."), at least 3 letters; a hyphenated name also by its parts
/// ("Schmidt-Weber": "Schmidt", "Weber").
fn name_words(name: &str, out: &mut HashSet<String>) {
    for word in name.split_whitespace() {
        let word = word.trim_end_matches([',', ';', ':']);
        if word.ends_with('.') {
            continue;
        }
        let parts = std::iter::once(word).chain(word.split('-').filter(|_| word.contains('-')));
        for part in parts {
            let capital = part.chars().next().is_some_and(char::is_uppercase);
            if capital && part.chars().filter(|c| c.is_alphabetic()).count() >= 3 {
                out.insert(part.to_owned());
            }
        }
    }
}

/// The repetitions in `text` of the names among `found` (sorted, without overlaps), as new name
/// findings that overlap none of `found`. One pass over the text's words.
pub(super) fn repeated_names(text: &str, found: &[Finding]) -> Vec<Finding> {
    let mut words = HashSet::new();
    let mut full: Vec<&str> = Vec::new();
    for f in found.iter().filter(|f| f.entity == Entity::Name) {
        let name = &text[f.start..f.end];
        name_words(name, &mut words);
        // The name as a whole, without its titles: "Jo Lee" again though "Jo" alone is short.
        let bare = name
            .split_whitespace()
            .find(|w| !w.ends_with('.'))
            .and_then(|first| name.find(first).map(|at| &name[at..]));
        if let Some(bare) = bare.filter(|b| b.contains(' ')) {
            full.push(bare);
        }
    }
    if words.is_empty() && full.is_empty() {
        return Vec::new();
    }
    // Longer names first, so "Anna Maria Schmidt" wins over "Anna Maria".
    full.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut out: Vec<Finding> = Vec::new();
    // The end of a whole name just taken: its later words are part of it.
    let mut taken_to = 0;
    for (start, end) in word_spans(text) {
        if start < taken_to {
            continue;
        }
        let whole = full.iter().find(|n| {
            text[start..].starts_with(**n)
                && !text[start + n.len()..]
                    .chars()
                    .next()
                    .is_some_and(word_char)
        });
        let end = match whole {
            Some(n) => start + n.len(),
            None if words.contains(&text[start..end]) => end,
            None => continue,
        };
        taken_to = end;
        let candidate = Finding {
            entity: Entity::Name,
            start,
            end,
        };
        if overlaps_any(found, &candidate) {
            continue;
        }
        // Words of one name next to each other ("Anna Schmidt") are one finding.
        match out.last_mut() {
            Some(last) if text[last.end..start].chars().all(|c| c == ' ') => last.end = end,
            _ => out.push(candidate),
        }
    }
    out
}

/// Byte ranges of the words of `text` that begin with a capital letter.
fn word_spans(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        loop {
            let (start, c) = chars.next()?;
            if !word_char(c) {
                continue;
            }
            let mut end = start + c.len_utf8();
            while let Some(&(i, n)) = chars.peek() {
                if !word_char(n) {
                    break;
                }
                end = i + n.len_utf8();
                chars.next();
            }
            if c.is_uppercase() {
                return Some((start, end));
            }
        }
    })
}

/// Whether `r` overlaps a finding of `found` (sorted by start, without overlaps).
fn overlaps_any(found: &[Finding], r: &Finding) -> bool {
    let i = found.partition_point(|f| f.end <= r.start);
    found.get(i).is_some_and(|f| f.start < r.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(start: usize, end: usize) -> Finding {
        Finding {
            entity: Entity::Name,
            start,
            end,
        }
    }

    #[test]
    fn words_of_a_name_skip_titles_initials_and_short_words() {
        let mut w = HashSet::new();
        name_words("Dr. J. Anna von Schmidt-Weber", &mut w);
        let mut got: Vec<&str> = w.iter().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, ["Anna", "Schmidt", "Schmidt-Weber", "Weber"]);
        let mut short = HashSet::new();
        name_words("Li Wu", &mut short);
        assert!(short.is_empty());
    }

    #[test]
    fn repetitions_are_whole_words_with_the_same_case() {
        let text = "Anna Schmidt. Annahme, anna, Marie-Anna, ANNA; Anna Schmidt und Schmidt.";
        let got = repeated_names(text, &[name(0, 12)]);
        let spans: Vec<&str> = got.iter().map(|f| &text[f.start..f.end]).collect();
        assert_eq!(spans, ["Anna Schmidt", "Schmidt"]);
    }

    #[test]
    fn a_whole_name_is_found_again_though_a_word_of_it_is_short() {
        let text = "Dr. Jo Lee rief an. Gruß, Jo Lee";
        let got = repeated_names(text, &[name(0, 10)]);
        let spans: Vec<&str> = got.iter().map(|f| &text[f.start..f.end]).collect();
        assert_eq!(spans, ["Jo Lee"]);
    }

    #[test]
    fn a_repetition_inside_another_finding_is_left_to_it() {
        let text = "Anna Meier, Meier Allee 3";
        let address = Finding {
            entity: Entity::Address,
            start: 12,
            end: 25,
        };
        assert!(repeated_names(text, &[name(0, 10), address]).is_empty());
    }
}
