//! One-time codes: the 8-digit codes mailed to the address on file, for the privacy center's
//! sign-in ([`crate::signin`]) and for a request's identity check ([`crate::requests`]).
//! How a code is drawn, stored, compared and when it expires lives here once; where it is
//! kept (the store's `signin_codes` and `request_codes`) and how its attempts are counted
//! stay with its caller (the store counts an attempt before the check, in one statement).
//!
//! A code is stored only as an HMAC under the server's key ([`crate::hmac_key`]), with a
//! random salt and a label per [`Purpose`], so a copy of the database does not give the code
//! by trying all 10^8, and a sign-in's hash can never pass as a request's.

use jiff::{SignedDuration, Timestamp};

use crate::hmac_key::{HmacKey, NoKey};

/// What a code opens, with what its hash is bound to.
///
/// Each purpose keeps the label and the parts its hashes had before they were written here
/// (`signin-check` over the pending sign-in's hash and salt; `request-code` over the salt):
/// [`hash`] gives byte for byte what was stored, so codes pending when a server is upgraded
/// still verify. The labels differ on purpose and must stay: changing one would turn every
/// pending code of that kind into a wrong one.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose<'a> {
    /// A pending sign-in to the privacy center: its row is found by `id_hash` (the SHA-256 of
    /// its cookie), and the hash is bound to that row too.
    SignIn { id_hash: &'a str, salt: &'a str },
    /// The identity check of a request, by its row's salt.
    Request { salt: &'a str },
}

/// A fresh random code.
pub(crate) fn random() -> Result<String, getrandom::Error> {
    let mut draw = [0u8; 8];
    getrandom::fill(&mut draw)?;
    Ok(digits(draw))
}

/// The code of a pending sign-in, derived from its salt with the server's key: its mail is
/// written when it is sent (maybe by another instance, after a restart), from the row, which
/// keeps only the code's hash.
pub(crate) fn derived(key: &HmacKey, salt: &str) -> Result<String, NoKey> {
    let mac = key.mac(&[b"signin-code", salt.as_bytes()])?;
    let mut draw = [0u8; 8];
    draw.copy_from_slice(&mac[..8]);
    Ok(digits(draw))
}

/// Eight digits from eight bytes. A random code was drawn little-endian before this module,
/// a derived one big-endian: for random bytes either order gives the same distribution, and
/// a code itself is never stored, so nothing depends on the order.
fn digits(draw: [u8; 8]) -> String {
    format!("{:08}", u64::from_be_bytes(draw) % 100_000_000)
}

/// The stored form of `code` for `purpose`.
pub(crate) fn hash(key: &HmacKey, purpose: Purpose<'_>, code: &str) -> Result<String, NoKey> {
    match purpose {
        Purpose::SignIn { id_hash, salt } => key.mac_hex(&[
            b"signin-check",
            id_hash.as_bytes(),
            salt.as_bytes(),
            code.as_bytes(),
        ]),
        Purpose::Request { salt } => {
            key.mac_hex(&[b"request-code", salt.as_bytes(), code.as_bytes()])
        }
    }
}

/// Whether the code a person entered is the one stored as `stored_hash`, compared in constant
/// time. Whitespace anywhere is ignored: a code copied from a mail or typed in groups
/// ("1234 5678") is the same code.
pub(crate) fn matches(
    key: &HmacKey,
    purpose: Purpose<'_>,
    presented: &str,
    stored_hash: &str,
) -> Result<bool, NoKey> {
    let presented: String = presented.split_whitespace().collect();
    let presented = hash(key, purpose, &presented)?;
    Ok(crate::same_secret(
        presented.as_bytes(),
        stored_hash.as_bytes(),
    ))
}

/// When a code made at `now` expires.
pub(crate) fn expires_at(now: Timestamp, validity: SignedDuration) -> Timestamp {
    now.checked_add(validity).unwrap_or(Timestamp::MAX)
}

/// Whether a code expiring at `expires_at` is no good at `now`. (The store's sign-in check,
/// `count_signin_attempt`, asks the same in SQL: `expires_at > now` is still good.)
pub(crate) fn expired(expires_at: Timestamp, now: Timestamp) -> bool {
    now > expires_at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> HmacKey {
        HmacKey::from_bytes([7; 32])
    }

    /// The stored formats, as they were written before this module: rows written then verify.
    #[test]
    fn hashes_are_the_formats_already_stored() -> Result<(), NoKey> {
        let k = key();
        let signin = Purpose::SignIn {
            id_hash: "ab12",
            salt: "s1",
        };
        assert_eq!(
            hash(&k, signin, "01234567")?,
            k.mac_hex(&[b"signin-check", b"ab12", b"s1", b"01234567"])?
        );
        let request = Purpose::Request { salt: "s1" };
        assert_eq!(
            hash(&k, request, "01234567")?,
            k.mac_hex(&[b"request-code", b"s1", b"01234567"])?
        );
        // The same code and salt never hash alike for the two purposes.
        assert_ne!(
            hash(
                &k,
                Purpose::SignIn {
                    id_hash: "",
                    salt: "s1"
                },
                "01234567"
            )?,
            hash(&k, request, "01234567")?
        );
        Ok(())
    }

    #[test]
    fn a_code_matches_with_spaces_and_not_when_wrong() -> Result<(), NoKey> {
        let k = key();
        let p = Purpose::Request { salt: "s" };
        let stored = hash(&k, p, "12345678")?;
        assert!(matches(&k, p, "12345678", &stored)?);
        assert!(matches(&k, p, " 1234 5678\n", &stored)?);
        assert!(!matches(&k, p, "12345679", &stored)?);
        assert!(!matches(&k, p, "", &stored)?);
        Ok(())
    }

    #[test]
    fn codes_have_eight_digits() -> Result<(), NoKey> {
        assert_eq!(digits([0; 8]), "00000000");
        assert_eq!(digits([0, 0, 0, 0, 0, 0, 0, 42]), "00000042");
        let drawn = random().map_err(|_| NoKey)?;
        assert!(drawn.len() == 8 && drawn.bytes().all(|b| b.is_ascii_digit()));
        // A sign-in's code is the one its mail was written with before this module.
        let k = key();
        let mac = k.mac(&[b"signin-code", b"salt"])?;
        let mut draw = [0u8; 8];
        draw.copy_from_slice(&mac[..8]);
        let before = format!("{:08}", u64::from_be_bytes(draw) % 100_000_000);
        assert_eq!(derived(&k, "salt")?, before);
        Ok(())
    }

    #[test]
    fn a_code_is_good_until_its_end() {
        let at = Timestamp::UNIX_EPOCH;
        let end = expires_at(at, SignedDuration::from_mins(15));
        assert!(!expired(end, end));
        assert!(expired(end, end + SignedDuration::from_micros(1)));
    }
}
