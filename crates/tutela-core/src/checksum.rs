//! Check digits of identifiers: Luhn (payment cards, IMEI, ICCID) and ISO 7064 MOD 97-10
//! (IBAN). Shared by the recognisers and the format-preserving pseudonyms.

/// Whether the ASCII digits `digits` end in a valid Luhn check digit.
pub fn luhn_valid(digits: &[u8]) -> bool {
    match digits.split_last() {
        Some((&last, body)) => last.is_ascii_digit() && luhn_digit(body) == Some(last),
        None => false,
    }
}

/// The Luhn check digit (ASCII) to append to `body`, or `None` when it holds a non-digit.
pub fn luhn_digit(body: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in body.iter().rev().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        let mut d = u32::from(c - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    Some(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// The IBAN's remainder under ISO 7064 MOD 97-10 with the first four characters moved to the
/// end; 1 for a valid IBAN. `None` when a character is neither a digit nor an upper-case letter.
fn iban_remainder(country: &[u8], check: &[u8], bban: &[u8]) -> Option<u32> {
    let mut rem = 0u32;
    for &c in bban.iter().chain(country).chain(check) {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return None,
        };
    }
    Some(rem)
}

/// Whether `iban` (compact, upper case) has valid check digits and a plausible length.
pub fn iban_valid(iban: &[u8]) -> bool {
    if !(15..=34).contains(&iban.len())
        || !iban[..2].iter().all(u8::is_ascii_uppercase)
        || !iban[2..4].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    // Check digits are 98 − (n mod 97), so 02–98: 00, 01 and 99 pass mod 97 only by accident
    // (00 ≡ 97), and a pseudonym's new check digits would not reverse to them.
    if !(b"02".as_slice()..=b"98".as_slice()).contains(&&iban[2..4]) {
        return false;
    }
    iban_remainder(&iban[..2], &iban[2..4], &iban[4..]) == Some(1)
}

/// The two check digits (ASCII) for `country` and `bban`.
pub fn iban_check_digits(country: &[u8], bban: &[u8]) -> Option<[u8; 2]> {
    let rem = iban_remainder(country, b"00", bban)?;
    let check = 98 - rem;
    Some([b'0' + (check / 10) as u8, b'0' + (check % 10) as u8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_outside_02_to_98_are_refused() {
        // Found by the pseudonymise fuzz target: "00" passed mod 97 and came back as "97".
        assert!(iban_valid(b"GB82WEST12345698765432"));
        let bban = b"WEST12345698765432";
        for bad in [b"00", b"01", b"99"] {
            let mut v = b"GB".to_vec();
            v.extend_from_slice(bad);
            v.extend_from_slice(bban);
            assert!(!iban_valid(&v), "{}", String::from_utf8_lossy(&v));
        }
    }

    #[test]
    fn luhn_of_known_numbers() {
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"79927398710"));
        assert_eq!(luhn_digit(b"7992739871"), Some(b'3'));
        assert!(luhn_valid(b"490154203237518"));
        assert!(luhn_valid(b"8949020000001234562"));
    }

    #[test]
    fn iban_of_known_numbers() {
        assert!(iban_valid(b"DE89370400440532013000"));
        assert!(!iban_valid(b"DE89370400440532013001"));
        assert_eq!(
            iban_check_digits(b"DE", b"370400440532013000"),
            Some(*b"89")
        );
        assert!(iban_valid(b"GB82WEST12345698765432"));
        // Check digits are digits, whatever the remainder (found by fuzzing).
        assert!(!iban_valid(b"DREZ0K03DRK03Q24A"));
        assert_eq!(
            iban_check_digits(b"GB", b"WEST12345698765432"),
            Some(*b"82")
        );
    }
}
