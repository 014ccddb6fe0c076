//! Time-based one-time passwords (RFC 6238 over HOTP, RFC 4226): HMAC-SHA-1, 30-second
//! steps, six digits, the form every authenticator app reads from an `otpauth://` URI.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

pub const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;

/// The HOTP value of `key` at counter `step`.
pub fn hotp(key: &[u8], step: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return 0;
    };
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ]);
    bin % 10u32.pow(digits)
}

/// The time step of a Unix time.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The six-digit code of `key` at `unix_seconds`, zero-padded.
pub fn code_at(key: &[u8], unix_seconds: i64) -> String {
    let step = u64::try_from(step_at(unix_seconds)).unwrap_or(0);
    format!("{:06}", hotp(key, step, DIGITS))
}

/// The step whose code `presented` is, within one step of `unix_seconds` (clock drift).
pub fn verify(key: &[u8], presented: &str, unix_seconds: i64) -> Option<i64> {
    let presented = presented.trim();
    if presented.len() != DIGITS as usize || !presented.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_seconds);
    (now - 1..=now + 1).find(|&s| {
        let code = format!("{:06}", hotp(key, u64::try_from(s).unwrap_or(0), DIGITS));
        crate::same_secret(code.as_bytes(), presented.as_bytes())
    })
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps expect.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| *c != b'=' && *c != b' ') {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())?;
        buf = (buf << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buf >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vectors_for_sha1() {
        // Appendix B of RFC 6238: the ASCII key "12345678901234567890", eight digits.
        let key = b"12345678901234567890";
        for (t, want) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            let step = u64::try_from(step_at(t)).expect("positive");
            assert_eq!(hotp(key, step, 8), want, "t = {t}");
        }
        assert_eq!(code_at(key, 59), "287082");
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let key = b"12345678901234567890";
        let code = code_at(key, 1_000_000);
        assert_eq!(verify(key, &code, 1_000_000), Some(step_at(1_000_000)));
        assert!(verify(key, &code, 1_000_000 + STEP_SECONDS).is_some());
        assert!(verify(key, &code, 1_000_000 + 3 * STEP_SECONDS).is_none());
        assert!(verify(key, "12345", 1_000_000).is_none());
        assert!(verify(key, "abcdef", 1_000_000).is_none());
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(
            base32_decode("mzxw6ytboi======").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(base32_decode("MZ1"), None);
    }
}
