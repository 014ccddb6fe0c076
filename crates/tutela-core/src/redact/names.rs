//! Person names: the names tutela knows of the person a text is about (from their record), and
//! names that context words introduce ("Herr Meier", "Frau Dr. Anna Schmidt", "my name is John
//! Smith", "Kundin Petra Wagner"). A capitalised word alone is never taken for a name: German
//! capitalises every noun.

use regex::Regex;

/// One capitalised name word, with hyphenated or apostrophe parts (Müller-Lüdenscheidt,
/// O'Brien).
const WORD: &str = r"[A-ZÄÖÜ][a-zäöüßéèáàóòíìúùçñ]*(?:'[A-Z])?[a-zäöüßéèáàóòíìúùçñ]+(?:-[A-ZÄÖÜ][a-zäöüßéèáàóòíìúùçñ]+)?";
/// Nobility and family particles between name words.
const PARTICLE: &str = r"(?:von|van|de|der|zu|den|von der|van der|de la)";

/// Titles after which the next capitalised words are a name.
const TITLES: &str = r"(?-u:\b)(?:Herrn?|Frau|Hr\.|Fr\.|Mr\.?|Mrs\.?|Ms\.?|Miss|Mx\.?)";
/// Phrases that introduce a name, matched with either case of their first letter.
const PHRASES: &[&str] = &[
    "mein Name ist",
    "my name is",
    "ich heiße",
    "ich heisse",
    "Name",
    "Kundin",
    "Kunde",
    "customer",
    "spoke with",
    "sprach mit",
    "gesprochen mit",
    "Ansprechpartnerin",
    "Ansprechpartner",
    "Anruferin",
    "Anrufer",
    "caller",
    "contact",
    "Kontakt",
    "Inhaberin",
    "Inhaber",
    "account holder",
    "this is",
    "hier ist",
    "namens",
    "named",
];

/// `phrase` as a pattern whose first letter may be either case.
pub(super) fn either_case(phrase: &str) -> String {
    let mut chars = phrase.chars();
    match chars.next() {
        Some(first) if first.is_alphabetic() => {
            let upper: String = first.to_uppercase().collect();
            let lower: String = first.to_lowercase().collect();
            format!("[{upper}{lower}]{}", regex::escape(chars.as_str()))
        }
        _ => regex::escape(phrase),
    }
}

#[derive(Debug, Clone)]
pub(super) struct Names {
    pub(super) context: Regex,
    /// The context part alone, anchored: where in a match of `context` the name begins. (A
    /// second short search is cheaper than asking `context` for its capture group.)
    prefix: Regex,
    pub(super) known: Option<Regex>,
}

impl Names {
    pub(super) fn new(known: &[String]) -> Result<Names, regex::Error> {
        let title = r"(?:(?:Dr\.|Prof\.|Dipl\.-Ing\.)\s+)*";
        let phrases: Vec<String> = PHRASES.iter().map(|p| either_case(p)).collect();
        let lead = format!(r"(?:{TITLES}|(?-u:\b)(?:{}):?)\s+", phrases.join("|"));
        let context = Regex::new(&format!(
            r"{lead}{title}{WORD}(?:\s+(?:{PARTICLE}\s+)?{WORD}){{0,2}}"
        ))?;
        let prefix = Regex::new(&format!("^{lead}"))?;
        let mut words: Vec<String> = Vec::new();
        for name in known {
            let name = name.trim();
            if name.chars().count() < 2 {
                continue;
            }
            words.push(regex::escape(name));
            // The family name alone ("Frau Schmidt" without the first name) when it is long
            // enough not to be an everyday word.
            if let Some(last) = name.split_whitespace().last()
                && last != name
                && last.chars().count() >= 4
            {
                words.push(regex::escape(last));
            }
        }
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        words.dedup();
        let known = if words.is_empty() {
            None
        } else {
            Some(Regex::new(&format!(r"\b(?:{})\b", words.join("|")))?)
        };
        Ok(Names {
            context,
            prefix,
            known,
        })
    }

    /// Byte ranges of names in `text`.
    pub(super) fn find(&self, text: &str, out: &mut Vec<(usize, usize)>) {
        for m in self.context.find_iter(text) {
            let lead = self.prefix.find(m.as_str()).map_or(0, |p| p.end());
            if m.start() + lead < m.end() {
                out.push((m.start() + lead, m.end()));
            }
        }
        if let Some(k) = &self.known {
            for m in k.find_iter(text) {
                out.push((m.start(), m.end()));
            }
        }
    }
}
