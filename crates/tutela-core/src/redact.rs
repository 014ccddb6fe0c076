//! Finding and redacting personal data in free text (N24, N25: call summaries and transcripts
//! before they enter a training set), German and English. Recognisers check what a pattern
//! alone cannot: IBAN check digits, Luhn digits of cards, IMEIs and ICCIDs, known issuer and
//! country prefixes, and context words for dates of birth; so dates and order numbers are not
//! taken for phone numbers, and IMEIs not for cards.

use regex::Regex;

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
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub entity: Entity,
    /// Byte offsets into the text.
    pub start: usize,
    pub end: usize,
}

/// The compiled recognisers.
pub struct Recognisers {
    email: Regex,
    iban: Regex,
    digits: Regex,
    phone: Regex,
    date: Regex,
    customer: Option<Regex>,
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
            iban: Regex::new(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")?,
            digits: Regex::new(r"\b[0-9](?:[ \-]?[0-9]){12,19}\b")?,
            phone: Regex::new(
                r"(?:\+|\b00)[1-9][0-9]{0,2}[ /\-]?(?:\(0\))?[0-9]{2,5}[ /\-]?[0-9]{3,9}\b|\b0[1-9][0-9]{1,4}[ /\-]?[0-9]{4,9}\b",
            )?,
            date: Regex::new(
                r"\b(?:[0-3]?[0-9]\.[01]?[0-9]\.(?:19|20)[0-9]{2}|(?:19|20)[0-9]{2}-[01][0-9]-[0-3][0-9])\b",
            )?,
            customer: customer_number.map(Regex::new).transpose()?,
        })
    }

    /// Every finding, in text order, without overlaps (the earlier, then the longer wins).
    pub fn find(&self, text: &str) -> Vec<Finding> {
        let mut out: Vec<Finding> = Vec::new();
        let lower = text.to_lowercase();
        let add =
            |out: &mut Vec<Finding>, entity, start, end| out.push(Finding { entity, start, end });
        for m in self.email.find_iter(text) {
            add(&mut out, Entity::Email, m.start(), m.end());
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
            let before = &lower[m.start().saturating_sub(40)..m.start()];
            if DOB_CONTEXT.iter().any(|w| before.contains(w)) {
                add(&mut out, Entity::DateOfBirth, m.start(), m.end());
            }
        }
        for m in self.phone.find_iter(text) {
            let before = &lower[m.start().saturating_sub(25)..m.start()];
            let order = [
                "bestellnummer",
                "auftragsnummer",
                "order no",
                "order number",
                "rechnungsnummer",
                "invoice",
                "iban",
            ];
            if order.iter().any(|w| before.contains(w)) || self.date.is_match(m.as_str()) {
                continue;
            }
            add(&mut out, Entity::Phone, m.start(), m.end());
        }
        out.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut kept: Vec<Finding> = Vec::with_capacity(out.len());
        for f in out {
            if kept.last().is_some_and(|k| f.start < k.end) {
                continue;
            }
            kept.push(f);
        }
        kept
    }
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
    if card_prefix(d) && luhn(d) {
        return Some(Entity::PaymentCard);
    }
    if d.len() == 15 && TAC.iter().any(|t| d.starts_with(t)) && luhn(d) {
        return Some(Entity::Imei);
    }
    if d.len() == 15 && MCC.iter().any(|m| d.starts_with(m)) {
        return Some(Entity::Imsi);
    }
    None
}

fn iban_valid(s: &str) -> bool {
    let compact: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    crate::checksum::iban_valid(&compact)
}

/// How findings are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `<IBAN>`, `<PHONE>`…
    Replace,
    /// Every character but spaces becomes `*`.
    Mask,
}

/// The text with every finding replaced.
pub fn redact(text: &str, findings: &[Finding], op: Operator) -> String {
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
    }
}
