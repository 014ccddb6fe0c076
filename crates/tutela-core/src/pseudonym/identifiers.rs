//! Format-preserving pseudonyms of telecom and payment identifiers: the part that names a
//! network, issuer, device type or country stays, the rest is encrypted with FF1, and check
//! digits are computed anew, so the pseudonym passes every validator the original passed.

use super::ff1::{Ff1, Ff1Error};
use crate::checksum::{iban_check_digits, iban_valid, luhn_digit, luhn_valid};

/// The identifiers with a format-preserving pseudonym.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// 15 digits; the country code (MCC) and network code (MNC, two or three digits) stay.
    Imsi,
    /// 18 to 20 digits from `89`; the issuer prefix (7 digits, ITU-T E.118) stays, the Luhn
    /// digit is new.
    Iccid,
    /// An E.164 number, with or without `+`; the country code stays.
    Msisdn,
    /// 15 digits; the type allocation code (8 digits) stays, the Luhn digit is new.
    Imei,
    /// The country stays, the digits of the account part are encrypted, the check digits are new.
    Iban,
}

impl Identifier {
    pub const ALL: [Identifier; 5] = [
        Identifier::Imsi,
        Identifier::Iccid,
        Identifier::Msisdn,
        Identifier::Imei,
        Identifier::Iban,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Identifier::Imsi => "imsi",
            Identifier::Iccid => "iccid",
            Identifier::Msisdn => "msisdn",
            Identifier::Imei => "imei",
            Identifier::Iban => "iban",
        }
    }

    pub fn parse(name: &str) -> Option<Identifier> {
        Identifier::ALL.into_iter().find(|i| i.name() == name)
    }
}

/// Why a value is not the identifier it was said to be. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error("not an {0}: {1}")]
    Malformed(&'static str, &'static str),
    #[error(transparent)]
    Ff1(#[from] Ff1Error),
}

/// Mobile country codes whose network codes have three digits (North America and parts of
/// Latin America and the Caribbean); everywhere else they have two.
const THREE_DIGIT_MNC: [&[u8]; 25] = [
    b"302", b"310", b"311", b"312", b"313", b"314", b"315", b"316", b"334", b"338", b"342", b"344",
    b"346", b"348", b"354", b"356", b"358", b"360", b"365", b"366", b"376", b"708", b"722", b"732",
    b"750",
];

/// E.164 country codes of one or two digits; all others have three.
const SHORT_COUNTRY_CODES: [&[u8]; 46] = [
    b"1", b"7", b"20", b"27", b"30", b"31", b"32", b"33", b"34", b"36", b"39", b"40", b"41", b"43",
    b"44", b"45", b"46", b"47", b"48", b"49", b"51", b"52", b"53", b"54", b"55", b"56", b"57",
    b"58", b"60", b"61", b"62", b"63", b"64", b"65", b"66", b"81", b"82", b"84", b"86", b"90",
    b"91", b"92", b"93", b"94", b"95", b"98",
];

fn country_code_len(digits: &[u8]) -> usize {
    (1..=2)
        .find(|&n| SHORT_COUNTRY_CODES.contains(&&digits[..n.min(digits.len())]))
        .unwrap_or(3)
}

fn all_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// Encrypts (or decrypts) the ASCII digits in place.
fn digits(ff1: &Ff1, tweak: &[u8], ascii: &mut [u8], forward: bool) -> Result<(), Ff1Error> {
    for c in ascii.iter_mut() {
        *c -= b'0';
    }
    let run = if forward {
        ff1.encrypt(tweak, ascii)
    } else {
        ff1.decrypt(tweak, ascii)
    };
    for c in ascii.iter_mut() {
        *c += b'0';
    }
    run
}

/// The pseudonym of `value` as `id` (or, with `forward` false, the value behind a pseudonym),
/// appended to `out`. `ff1` is a radix-10 cipher.
pub fn transform(
    ff1: &Ff1,
    id: Identifier,
    value: &str,
    forward: bool,
    out: &mut String,
) -> Result<(), IdentifierError> {
    let bad = |what| IdentifierError::Malformed(id.name(), what);
    let tweak = id.name().as_bytes();
    let mut buf = [0u8; 40];
    let v = value.as_bytes();
    let text = match id {
        Identifier::Imsi => {
            if v.len() != 15 || !all_digits(v) {
                return Err(bad("an IMSI is 15 digits"));
            }
            let keep = if THREE_DIGIT_MNC.contains(&&v[..3]) {
                6
            } else {
                5
            };
            let b = &mut buf[..15];
            b.copy_from_slice(v);
            digits(ff1, tweak, &mut b[keep..], forward)?;
            &buf[..15]
        }
        Identifier::Imei => {
            if v.len() != 15 || !all_digits(v) || !luhn_valid(v) {
                return Err(bad("an IMEI is 15 digits ending in a Luhn check digit"));
            }
            let b = &mut buf[..15];
            b.copy_from_slice(v);
            digits(ff1, tweak, &mut b[8..14], forward)?;
            b[14] = luhn_digit(&b[..14]).ok_or_else(|| bad("digits only"))?;
            &buf[..15]
        }
        Identifier::Iccid => {
            if !(18..=20).contains(&v.len()) || !all_digits(v) || !v.starts_with(b"89") {
                return Err(bad("an ICCID is 18 to 20 digits starting with 89"));
            }
            if !luhn_valid(v) {
                return Err(bad("the Luhn check digit does not match"));
            }
            let n = v.len();
            let b = &mut buf[..n];
            b.copy_from_slice(v);
            digits(ff1, tweak, &mut b[7..n - 1], forward)?;
            b[n - 1] = luhn_digit(&b[..n - 1]).ok_or_else(|| bad("digits only"))?;
            &buf[..n]
        }
        Identifier::Msisdn => {
            let (plus, d) = match v.strip_prefix(b"+") {
                Some(rest) => (1, rest),
                None => (0, v),
            };
            if !(8..=15).contains(&d.len()) || !all_digits(d) || d[0] == b'0' {
                return Err(bad(
                    "an MSISDN is 8 to 15 digits in international format, `+` optional",
                ));
            }
            let keep = plus + country_code_len(d);
            let n = v.len();
            let b = &mut buf[..n];
            b.copy_from_slice(v);
            digits(ff1, tweak, &mut b[keep..], forward)?;
            &buf[..n]
        }
        Identifier::Iban => return iban(ff1, tweak, v, forward, out),
    };
    // Every branch wrote ASCII digits (and a kept ASCII prefix) only.
    out.extend(text.iter().map(|&c| char::from(c)));
    Ok(())
}

fn iban(
    ff1: &Ff1,
    tweak: &[u8],
    v: &[u8],
    forward: bool,
    out: &mut String,
) -> Result<(), IdentifierError> {
    let bad = |what| IdentifierError::Malformed("iban", what);
    let mut compact = [0u8; 34];
    let mut n = 0;
    for &c in v.iter().filter(|c| **c != b' ') {
        *compact
            .get_mut(n)
            .ok_or_else(|| bad("an IBAN has at most 34 characters"))? = c.to_ascii_uppercase();
        n += 1;
    }
    let iban = &mut compact[..n];
    if !iban_valid(iban) {
        return Err(bad("the check digits do not match"));
    }
    let mut numerals = [0u8; 30];
    let mut positions = [0usize; 30];
    let mut m = 0;
    for (i, &c) in iban.iter().enumerate().skip(4) {
        if c.is_ascii_digit() {
            numerals[m] = c;
            positions[m] = i;
            m += 1;
        }
    }
    digits(ff1, tweak, &mut numerals[..m], forward)?;
    for (&p, &c) in positions[..m].iter().zip(&numerals[..m]) {
        iban[p] = c;
    }
    let check =
        iban_check_digits(&iban[..2], &iban[4..]).ok_or_else(|| bad("letters and digits only"))?;
    iban[2..4].copy_from_slice(&check);
    // The format as given: spaces where they were, lower-case letters where they were.
    let mut next = iban.iter();
    for &c in v {
        if c == b' ' {
            out.push(' ');
        } else if let Some(&p) = next.next() {
            out.push(char::from(if c.is_ascii_lowercase() {
                p.to_ascii_lowercase()
            } else {
                p
            }));
        }
    }
    Ok(())
}
