//! Pseudonymisation (N7b, N7c, N16, N25): keyed pseudonyms that cannot be joined across
//! domains, and format-preserving pseudonyms for identifiers that downstream systems validate.
//!
//! Every domain (a purpose, or a dataset) has its own keys, derived from a secret of the
//! pseudonymisation key file and the domain's name: the same IMSI has unrelated pseudonyms in
//! two domains, and a key of one domain says nothing of another's. The key file lives outside
//! the data store; this module only ever sees its bytes.

pub mod ff1;
mod hmac256;
pub mod identifiers;
pub mod keys;
pub mod table;

pub use identifiers::{Identifier, IdentifierError};
pub use keys::{KeyFileError, PseudonymKeys};

use ff1::Ff1;
use hmac256::Hmac256;

/// How a value becomes a pseudonym.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// HMAC-SHA-256 under the domain's key: 32 hex digits (128 bits), one-way.
    Hmac,
    /// FF1 under the domain's key: the same format, reversible with the key.
    Ff1(Identifier),
}

impl Method {
    pub fn name(self) -> String {
        match self {
            Method::Hmac => "hmac".to_owned(),
            Method::Ff1(id) => format!("ff1:{}", id.name()),
        }
    }

    /// `hmac`, `ff1:<identifier>`, or `ff1` with the identifier taken from `column`.
    pub fn parse(text: &str, column: &str) -> Option<Method> {
        match text {
            "hmac" => Some(Method::Hmac),
            "ff1" => Identifier::parse(column).map(Method::Ff1),
            _ => Identifier::parse(text.strip_prefix("ff1:")?).map(Method::Ff1),
        }
    }
}

/// A domain's key for one use: HMAC-SHA-256 of the secret over a label naming the use and the
/// domain, so keys of different domains or methods are unrelated.
pub fn domain_key(secret: &[u8; 32], method: &str, domain: &str) -> [u8; 32] {
    let label = [
        b"tutela pseudonym v1\0",
        method.as_bytes(),
        b"\0",
        domain.as_bytes(),
    ]
    .concat();
    Hmac256::new(secret).mac(&label)
}

/// Pseudonyms of one domain under one key, for every method.
#[derive(Clone)]
pub struct DomainPseudonyms {
    key_id: String,
    hmac: Hmac256,
    ff1: Ff1,
}

impl std::fmt::Debug for DomainPseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainPseudonyms")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl DomainPseudonyms {
    pub fn new(key_id: &str, secret: &[u8; 32], domain: &str) -> DomainPseudonyms {
        let hmac = Hmac256::new(&domain_key(secret, "hmac", domain));
        let ff1 = Ff1::new(&domain_key(secret, "ff1", domain), 10)
            .unwrap_or_else(|_| unreachable!("a 32-byte key and radix 10 are valid"));
        DomainPseudonyms {
            key_id: key_id.to_owned(),
            hmac,
            ff1,
        }
    }

    pub(crate) fn ff1(&self) -> &Ff1 {
        &self.ff1
    }

    /// The id of the key these pseudonyms are made with.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Appends the HMAC pseudonym of `value` (32 lower-case hex digits) to `out`.
    pub fn hmac_into(&self, value: &[u8], out: &mut Vec<u8>) {
        let digest = self.hmac.mac(value);
        let mut hex = [0u8; 32];
        for (pair, b) in hex.chunks_exact_mut(2).zip(&digest[..16]) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0x0f)];
        }
        out.extend_from_slice(&hex);
    }

    /// The first 128 bits of the HMAC of `value`: the same bits [`Self::hmac_into`] writes in
    /// hex, as a number for hash tables.
    pub fn hmac128(&self, value: &[u8]) -> u128 {
        let digest = self.hmac.mac(value);
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        u128::from_be_bytes(first)
    }

    /// The pseudonym of `value` by `method`.
    pub fn pseudonym(&self, method: Method, value: &str) -> Result<String, IdentifierError> {
        match method {
            Method::Hmac => {
                let mut out = Vec::with_capacity(32);
                self.hmac_into(value.as_bytes(), &mut out);
                Ok(out.iter().map(|&c| char::from(c)).collect())
            }
            Method::Ff1(id) => {
                let mut out = String::with_capacity(value.len());
                identifiers::transform(&self.ff1, id, value, true, &mut out)?;
                Ok(out)
            }
        }
    }

    /// The value behind a format-preserving pseudonym. The caller records every reversal.
    pub fn reverse(&self, id: Identifier, pseudonym: &str) -> Result<String, IdentifierError> {
        let mut out = String::with_capacity(pseudonym.len());
        identifiers::transform(&self.ff1, id, pseudonym, false, &mut out)?;
        Ok(out)
    }
}
