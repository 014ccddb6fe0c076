//! Finding and redacting personal data in free text (N24, N25: call summaries and transcripts
//! before they enter a training set), German and English. Recognisers check what a pattern
//! alone cannot: IBAN check digits, Luhn digits of cards, IMEIs and ICCIDs, known issuer and
//! country prefixes, and context words for dates of birth; so dates and order numbers are not
//! taken for phone numbers, and IMEIs not for cards. Names come from what tutela knows of the
//! person and from context words (`names.rs`), and then wherever they recur (`repeat.rs`);
//! German postal addresses from street, number, postcode and town (`places.rs`).

mod names;
mod places;
mod repeat;

use regex::Regex;

use crate::pseudonym::DomainPseudonyms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    Email,
    Iban,
    PaymentCard,
    Iccid,
    Imei,
    Imsi,
    Phone,
    DateOfBirth,
    CustomerNumber,
    Msisdn,
    Name,
    Address,
}

impl Entity {
    pub fn label(self) -> &'static str {
        match self {
            Entity::Email => "EMAIL",
            Entity::Iban => "IBAN",
            Entity::PaymentCard => "PAYMENT_CARD",
            Entity::Iccid => "ICCID",
            Entity::Imei => "IMEI",
            Entity::Imsi => "IMSI",
            Entity::Phone => "PHONE",
            Entity::DateOfBirth => "DATE_OF_BIRTH",
            Entity::CustomerNumber => "CUSTOMER_NUMBER",
            Entity::Msisdn => "MSISDN",
            Entity::Name => "PERSON",
            Entity::Address => "ADDRESS",
        }
    }

    /// Every entity, in label order of the reports.
    pub const ALL: [Entity; 12] = [
        Entity::Email,
        Entity::Iban,
        Entity::PaymentCard,
        Entity::Iccid,
        Entity::Imei,
        Entity::Imsi,
        Entity::Msisdn,
        Entity::Phone,
        Entity::DateOfBirth,
        Entity::CustomerNumber,
        Entity::Name,
        Entity::Address,
    ];

    pub fn parse(label: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.label() == label)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub entity: Entity,
    /// Byte offsets into the text.
    pub start: usize,
    pub end: usize,
}

/// The compiled recognisers; cheap to clone (the automata are shared).
#[derive(Debug, Clone)]
pub struct Recognisers {
    email: Regex,
    iban: Regex,
    digits: Regex,
    phone: Regex,
    date: Regex,
    customer: Option<Regex>,
    names: names::Names,
    address: Regex,
}

/// Mobile country codes of Europe's networks (IMSIs start with one).
const MCC: &[&str] = &[
    "262", "232", "228", "208", "204", "206", "214", "222", "234", "238", "240", "244", "260",
    "268", "270", "272", "278", "280", "284", "293", "294", "295", "297",
];

/// Type allocation code prefixes of IMEIs (reporting bodies).
const TAC: &[&str] = &[
    "01", "35", "44", "45", "49", "50", "51", "52", "53", "54", "86", "91", "98", "99",
];

const DOB_CONTEXT: &[&str] = &[
    "geboren",
    "geb.",
    "geburtsdatum",
    "born",
    "date of birth",
    "dob",
    "birthday",
];

impl Recognisers {
    /// `customer_number` is the policy's pattern of customer numbers, if any.
    pub fn new(customer_number: Option<&str>) -> Result<Recognisers, regex::Error> {
        Ok(Recognisers {
            email: Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")?,
            iban: Regex::new(
                r"(?-u:\b)[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?-u:\b)",
            )?,
            digits: Regex::new(r"(?-u:\b)[0-9](?:[ \-]?[0-9]){11,19}(?-u:\b)")?,
            phone: Regex::new(
                // International: a country code, then groups ("+33 1 40 37 12 00", "+49 (0)30
                // 1234567"); national: a trunk 0 and an area code, in brackets or not. The
                // digit count is checked after the match.
                r"(?:\+|(?-u:\b)00)[1-9][0-9]{0,2}(?:[ /\-]?(?:\(0\) ?)?[0-9]{1,5}){1,6}(?-u:\b)|(?:(?-u:\b)0[1-9][0-9]{1,4}|\(0[1-9][0-9]{1,4}\))[ /\-]?[0-9]{3,9}(?-u:\b)",
            )?,
            date: Regex::new(
                r"(?-u:\b)(?:[0-3]?[0-9]\.[01]?[0-9]\.(?:19|20)[0-9]{2}|(?:19|20)[0-9]{2}-[01][0-9]-[0-3][0-9])(?-u:\b)",
            )?,
            // Word boundaries are taken as ASCII ones: a Unicode boundary makes the regex engine
            // leave its fast automaton on text with umlauts, and customer numbers are ASCII.
            customer: customer_number
                .map(|p| Regex::new(&p.replace(r"\b", r"(?-u:\b)")))
                .transpose()?,
            names: names::Names::new(&[])?,
            address: places::address()?,
        })
    }

    /// The same, also finding `known` names (the person's name as tutela has it, and the
    /// family name alone).
    pub fn with_names(mut self, known: &[String]) -> Result<Recognisers, regex::Error> {
        self.names = names::Names::new(known)?;
        Ok(self)
    }

    /// Every finding, in text order, without overlaps (the earlier, then the longer wins).
    pub fn find(&self, text: &str) -> Vec<Finding> {
        let mut out: Vec<Finding> = Vec::new();
        let add =
            |out: &mut Vec<Finding>, entity, start, end| out.push(Finding { entity, start, end });
        // Each recogniser runs only where its one necessary character occurs.
        if memchr::memchr(b'@', text.as_bytes()).is_some() {
            for m in self.email.find_iter(text) {
                add(&mut out, Entity::Email, m.start(), m.end());
            }
        }
        for m in self.iban.find_iter(text) {
            if iban_valid(m.as_str()) {
                add(&mut out, Entity::Iban, m.start(), m.end());
            }
        }
        for m in self.digits.find_iter(text) {
            let d: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
            if let Some(entity) = classify_digits(&d) {
                add(&mut out, entity, m.start(), m.end());
            }
        }
        if let Some(c) = &self.customer {
            for m in c.find_iter(text) {
                add(&mut out, Entity::CustomerNumber, m.start(), m.end());
            }
        }
        for m in self.date.find_iter(text) {
            // A date is personal here only when the words before it say it is a birth date.
            let before = window_before(text, m.start(), 40);
            if DOB_CONTEXT.iter().any(|w| has_word(&before, w)) {
                add(&mut out, Entity::DateOfBirth, m.start(), m.end());
            }
        }
        for m in self.phone.find_iter(text) {
            let before = window_before(text, m.start(), 25);
            let order = [
                "bestellnummer",
                "auftragsnummer",
                "order no",
                "order number",
                "rechnungsnummer",
                "invoice",
                "iban",
                "serial",
                "seriennummer",
            ];
            let digits = m.as_str().bytes().filter(u8::is_ascii_digit).count();
            // A bare run of 13 or more digits is an identifier (or a wrong one), not a number
            // anyone dials; a phone number has 7 to 15 digits.
            let bare = m.as_str().bytes().all(|b| b.is_ascii_digit());
            if order.iter().any(|w| before.contains(w))
                || self.date.is_match(m.as_str())
                || !(7..=15).contains(&digits)
                || (bare && digits >= 13)
            {
                continue;
            }
            add(&mut out, Entity::Phone, m.start(), m.end());
        }
        // Addresses before names: a street named after a person ("Hans-Böckler-Straße") is
        // part of the address.
        for m in self.address.find_iter(text) {
            add(&mut out, Entity::Address, m.start(), m.end());
        }
        let mut spans = Vec::new();
        self.names.find(text, &mut spans);
        for (start, end) in spans {
            add(&mut out, Entity::Name, start, end);
        }
        out.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut kept: Vec<Finding> = Vec::with_capacity(out.len());
        for f in out {
            if kept.last().is_some_and(|k| f.start < k.end) {
                continue;
            }
            kept.push(f);
        }
        // A name found once is personal wherever it recurs, with or without a context word.
        let again = repeat::repeated_names(text, &kept);
        if !again.is_empty() {
            kept.extend(again);
            kept.sort_by_key(|f| f.start);
        }
        kept
    }
}

/// Whether `word` occurs in `window` as a word of its own (not inside "Dobesring").
fn has_word(window: &str, word: &str) -> bool {
    window.match_indices(word).any(|(i, _)| {
        let before = window[..i].chars().next_back();
        let after = window[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Up to `n` bytes of `text` before `at`, from a character boundary, in ASCII lower case (byte
/// offsets stay as they were; context words are ASCII).
fn window_before(text: &str, at: usize, n: usize) -> String {
    let mut from = at.saturating_sub(n);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    text[from..at].to_ascii_lowercase()
}

fn luhn(digits: &str) -> bool {
    crate::checksum::luhn_valid(digits.as_bytes())
}

fn card_prefix(d: &str) -> bool {
    let two: u32 = d.get(..2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let four: u32 = d.get(..4).and_then(|p| p.parse().ok()).unwrap_or(0);
    match d.len() {
        15 => two == 34 || two == 37,
        13 | 19 => d.starts_with('4'),
        16 => {
            d.starts_with('4')
                || (51..=55).contains(&two)
                || (2221..=2720).contains(&four)
                || four == 6011
                || two == 65
        }
        _ => false,
    }
}

/// Which identifier a run of digits is, if any.
fn classify_digits(d: &str) -> Option<Entity> {
    if (19..=20).contains(&d.len()) && d.starts_with("89") && luhn(d) {
        return Some(Entity::Iccid);
    }
    // A German mobile number in international form without "+": 49, then 15x, 16x or 17x
    // (before cards: 13-digit cards starting with 4 are no longer issued).
    if (12..=13).contains(&d.len())
        && d.starts_with("491")
        && matches!(d.as_bytes()[3], b'5'..=b'7')
    {
        return Some(Entity::Msisdn);
    }
    if card_prefix(d) && luhn(d) {
        return Some(Entity::PaymentCard);
    }
    if d.len() == 15 && TAC.iter().any(|t| d.starts_with(t)) && luhn(d) {
        return Some(Entity::Imei);
    }
    if d.len() == 15 && MCC.iter().any(|m| d.starts_with(m)) {
        return Some(Entity::Imsi);
    }
    // A German mobile number in international form without "+": 49, then 15x, 16x or 17x.
    if (12..=13).contains(&d.len())
        && d.starts_with("491")
        && matches!(d.as_bytes()[3], b'5'..=b'7')
    {
        return Some(Entity::Msisdn);
    }
    None
}

fn iban_valid(s: &str) -> bool {
    let compact: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    crate::checksum::iban_valid(&compact)
}

/// How findings are replaced.
#[derive(Debug, Clone, Copy)]
pub enum Operator<'a> {
    /// `<IBAN>`, `<PHONE>`…
    Replace,
    /// Every character but spaces becomes `*`.
    Mask,
    /// `<EMAIL:3f9a…>`: the type and the keyed HMAC pseudonym of the value (16 hex digits), the
    /// same for the same value in one domain, so texts can still be linked without the value.
    Pseudonym(&'a DomainPseudonyms),
}

impl Operator<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            Operator::Replace => "replace",
            Operator::Mask => "mask",
            Operator::Pseudonym(_) => "pseudonym",
        }
    }
}

/// The text with every finding replaced.
pub fn redact(text: &str, findings: &[Finding], op: Operator<'_>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in findings {
        out.push_str(&text[at..f.start]);
        match op {
            Operator::Replace => {
                out.push('<');
                out.push_str(f.entity.label());
                out.push('>');
            }
            Operator::Mask => out.extend(
                text[f.start..f.end]
                    .chars()
                    .map(|c| if c == ' ' { ' ' } else { '*' }),
            ),
            Operator::Pseudonym(d) => {
                out.push('<');
                out.push_str(f.entity.label());
                out.push(':');
                let mut p = Vec::with_capacity(32);
                d.hmac_into(&text.as_bytes()[f.start..f.end], &mut p);
                out.push_str(std::str::from_utf8(&p[..16.min(p.len())]).unwrap_or_default());
                out.push('>');
            }
        }
        at = f.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::{Entity, Operator, Recognisers, redact};

    fn found(text: &str) -> Vec<(Entity, String)> {
        let r = Recognisers::new(Some(r"\bC[0-9]{8}\b")).unwrap_or_else(|e| unreachable!("{e}"));
        r.find(text)
            .into_iter()
            .map(|f| (f.entity, text[f.start..f.end].to_owned()))
            .collect()
    }

    #[test]
    fn identifiers_are_found_with_their_checks() {
        let text = "Kunde C00001234, Mail anna.mueller@example.org, IBAN DE89 3704 0044 0532 0130 00, \
                    Karte 4111 1111 1111 1111, IMEI 490154203237518, ICCID 8949010000000000016, \
                    IMSI 262011234567890, Tel. +49 228 1234567, geboren am 03.02.1980.";
        let got = found(text);
        let kinds: Vec<Entity> = got.iter().map(|g| g.0).collect();
        assert_eq!(
            kinds,
            [
                Entity::CustomerNumber,
                Entity::Email,
                Entity::Iban,
                Entity::PaymentCard,
                Entity::Imei,
                Entity::Iccid,
                Entity::Imsi,
                Entity::Phone,
                Entity::DateOfBirth
            ]
        );
        assert!(got.contains(&(Entity::Iban, "DE89 3704 0044 0532 0130 00".to_owned())));
        assert!(got.contains(&(Entity::PaymentCard, "4111 1111 1111 1111".to_owned())));
        assert!(got.contains(&(Entity::Iccid, "8949010000000000016".to_owned())));
        assert!(got.contains(&(Entity::Imsi, "262011234567890".to_owned())));
        assert!(got.contains(&(Entity::Phone, "+49 228 1234567".to_owned())));
        assert!(got.contains(&(Entity::DateOfBirth, "03.02.1980".to_owned())));
        assert!(got.contains(&(Entity::Email, "anna.mueller@example.org".to_owned())));
    }

    #[test]
    fn dates_order_numbers_and_bad_checksums_are_not_personal_data() {
        assert!(found("Termin am 03.02.2026, Bestellnummer 0123 4567890.").is_empty());
        assert!(
            found("IBAN DE00 3704 0044 0532 0130 00").is_empty(),
            "wrong check digits"
        );
        assert!(
            found("Karte 4111 1111 1111 1112").is_empty(),
            "wrong Luhn digit"
        );
        // An IMEI (valid Luhn, TAC 35…) is not a card.
        let imei = found("Gerät 356938035643809");
        assert_eq!(imei, vec![(Entity::Imei, "356938035643809".to_owned())]);
    }

    #[test]
    fn names_and_addresses_are_found_by_context_and_shape() {
        let text = "Frau Dr. Anna Schmidt-Weber rief an, Anschrift Hans-Böckler-Str. 5/9, 53225 Bonn. \
                    Later Mr. John O'Brien, Am Anger 3a, 04109 Leipzig. Rechnung an Bergstraße 12 folgt.";
        let got = found(text);
        assert_eq!(
            got,
            [
                (Entity::Name, "Dr. Anna Schmidt-Weber".to_owned()),
                (
                    Entity::Address,
                    "Hans-Böckler-Str. 5/9, 53225 Bonn".to_owned()
                ),
                (Entity::Name, "John O'Brien".to_owned()),
                (Entity::Address, "Am Anger 3a, 04109 Leipzig".to_owned()),
            ],
            "a street without postcode and town is not an address"
        );
        let known = Recognisers::new(None)
            .and_then(|r| r.with_names(&["Petra Wagner".to_owned()]))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let t = "Petra Wagner schrieb; Wagner bittet um Rückruf.";
        let names: Vec<&str> = known.find(t).iter().map(|f| &t[f.start..f.end]).collect();
        assert_eq!(names, ["Petra Wagner", "Wagner"]);
    }

    #[test]
    fn a_name_found_once_is_redacted_where_it_recurs() {
        let r = Recognisers::new(None).unwrap_or_else(|e| unreachable!("{e}"));
        let de = "Guten Tag, mein Name ist Anna Schmidt. Mein Router ist defekt.\n\
                  Mit freundlichen Grüßen\nAnna Schmidt";
        assert_eq!(
            redact(de, &r.find(de), Operator::Replace),
            "Guten Tag, mein Name ist <PERSON>. Mein Router ist defekt.\n\
             Mit freundlichen Grüßen\n<PERSON>"
        );
        let en = "Hello, my name is John. The SIM does not work. Regards, John";
        assert_eq!(
            redact(en, &r.find(en), Operator::Replace),
            "Hello, my name is <PERSON>. The SIM does not work. Regards, <PERSON>"
        );
        // Earlier mentions too, and the family name alone.
        let before = "Schmidt hat angerufen. Später: Kundin Anna Schmidt bestätigt.";
        assert_eq!(
            redact(before, &r.find(before), Operator::Replace),
            "<PERSON> hat angerufen. Später: Kundin <PERSON> bestätigt."
        );
    }

    #[test]
    fn recurring_names_do_not_redact_other_words() {
        let r = Recognisers::new(None).unwrap_or_else(|e| unreachable!("{e}"));
        // Inside words, other case, joined by a hyphen, or a short word: left alone.
        let text = "Kunde Anna Weber: Annahme bestätigt, anna@ nicht, Marie-Anna anders, \
                    WEBER-Test, Weberei. Herr Ed Li rief an, Ed ist Ed.";
        let got: Vec<&str> = r.find(text).iter().map(|f| &text[f.start..f.end]).collect();
        assert_eq!(got, ["Anna Weber", "Ed Li"]);
    }

    #[test]
    fn text_with_umlauts_before_a_date_or_number_does_not_panic() {
        // The context window before a match may begin inside a multi-byte character.
        let text = "äöüäöüäöüäöüäöüäöüäöüäöüäöü geboren 03.02.1980 ÄÖÜßäöüäöüäöüäöü 0228 1234567";
        let kinds: Vec<Entity> = found(text).iter().map(|f| f.0).collect();
        assert_eq!(kinds, [Entity::DateOfBirth, Entity::Phone]);
        assert_eq!(
            found("4915112345678"),
            [(Entity::Msisdn, "4915112345678".to_owned())]
        );
    }

    #[test]
    fn redaction_replaces_or_masks() {
        let r = Recognisers::new(None).unwrap_or_else(|e| unreachable!("{e}"));
        let text = "Bitte an max@example.org schreiben.";
        let f = r.find(text);
        assert_eq!(
            redact(text, &f, Operator::Replace),
            "Bitte an <EMAIL> schreiben."
        );
        assert_eq!(
            redact(text, &f, Operator::Mask),
            "Bitte an *************** schreiben."
        );
        let keys = crate::pseudonym::PseudonymKeys::new("pk-1", [7; 32]);
        let d = keys
            .domain("ai_training", None)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let p = redact(text, &f, Operator::Pseudonym(&d));
        assert!(
            p.starts_with("Bitte an <EMAIL:") && p.ends_with("> schreiben."),
            "{p}"
        );
        assert_eq!(
            p,
            redact(text, &f, Operator::Pseudonym(&d)),
            "the same value, the same pseudonym"
        );
        assert_eq!(p.len(), "Bitte an <EMAIL:> schreiben.".len() + 16);
    }
}
