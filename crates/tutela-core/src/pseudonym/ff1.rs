//! FF1 format-preserving encryption (NIST SP 800-38G, section 5.1) over numeral strings whose
//! halves fit in 96 bits: up to 56 decimal digits, 36 digits in radix 36. The numerals are held
//! in `u128`, so a round is one AES block (the first block of the CBC-MAC is the same for every
//! round of a length and is computed once) and a few integer operations, not a big-number
//! library. Checked against NIST's published samples.

use aes::cipher::{BlockCipherEncrypt, KeyInit};

/// AES under a 128-, 192- or 256-bit key (NIST's samples use all three; tutela derives 256).
#[derive(Clone)]
enum Cipher {
    A128(Box<aes::Aes128>),
    A192(Box<aes::Aes192>),
    A256(Box<aes::Aes256>),
}

impl Cipher {
    fn encrypt(&self, block: &mut [u8; 16]) {
        let b: &mut aes::Block = block.into();
        match self {
            Cipher::A128(c) => c.encrypt_block(b),
            Cipher::A192(c) => c.encrypt_block(b),
            Cipher::A256(c) => c.encrypt_block(b),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ff1Error {
    #[error("an FF1 key is 16, 24 or 32 bytes")]
    KeyLength,
    #[error("the radix must be between 2 and 36")]
    Radix,
    #[error(
        "{0} numerals are too few (the domain must hold at least a million values) or too many"
    )]
    Length(usize),
    #[error("a numeral is outside the radix")]
    Numeral,
    #[error("the tweak is longer than 40 bytes")]
    Tweak,
}

/// An FF1 cipher for one key and radix.
#[derive(Clone)]
pub struct Ff1 {
    cipher: Cipher,
    radix: u32,
}

impl std::fmt::Debug for Ff1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ff1")
            .field("radix", &self.radix)
            .finish_non_exhaustive()
    }
}

/// radix^m, or `None` past u128.
fn power(radix: u32, m: usize) -> Option<u128> {
    let mut p: u128 = 1;
    for _ in 0..m {
        p = p.checked_mul(u128::from(radix))?;
    }
    Some(p)
}

impl Ff1 {
    pub fn new(key: &[u8], radix: u32) -> Result<Ff1, Ff1Error> {
        if !(2..=36).contains(&radix) {
            return Err(Ff1Error::Radix);
        }
        let cipher = match key.len() {
            16 => Cipher::A128(Box::new(
                aes::Aes128::new_from_slice(key).map_err(|_| Ff1Error::KeyLength)?,
            )),
            24 => Cipher::A192(Box::new(
                aes::Aes192::new_from_slice(key).map_err(|_| Ff1Error::KeyLength)?,
            )),
            32 => Cipher::A256(Box::new(
                aes::Aes256::new_from_slice(key).map_err(|_| Ff1Error::KeyLength)?,
            )),
            _ => return Err(Ff1Error::KeyLength),
        };
        Ok(Ff1 { cipher, radix })
    }

    pub fn radix(&self) -> u32 {
        self.radix
    }

    /// Encrypts the numerals `x` (each below the radix) in place under `tweak`.
    pub fn encrypt(&self, tweak: &[u8], x: &mut [u8]) -> Result<(), Ff1Error> {
        self.run(tweak, x, true)
    }

    /// The inverse of [`Ff1::encrypt`].
    pub fn decrypt(&self, tweak: &[u8], x: &mut [u8]) -> Result<(), Ff1Error> {
        self.run(tweak, x, false)
    }

    fn run(&self, tweak: &[u8], x: &mut [u8], forward: bool) -> Result<(), Ff1Error> {
        let n = x.len();
        let radix = self.radix;
        if x.iter().any(|&d| u32::from(d) >= radix) {
            return Err(Ff1Error::Numeral);
        }
        let u = n / 2;
        let v = n - u;
        let (Some(ru), Some(rv)) = (power(radix, u), power(radix, v)) else {
            return Err(Ff1Error::Length(n));
        };
        // NIST SP 800-38G Rev. 1: radix^minlen >= 1,000,000.
        if ru.saturating_mul(rv) < 1_000_000 || n < 2 {
            return Err(Ff1Error::Length(n));
        }
        // b = ceil(ceil(v * log2(radix)) / 8): the bytes of the largest number of v numerals.
        let bits = 128 - (rv - 1).leading_zeros() as usize;
        let b = bits.div_ceil(8);
        let d = 4 * b.div_ceil(4) + 4;
        if d > 16 {
            return Err(Ff1Error::Length(n));
        }
        let t = tweak.len();
        if t > 40 {
            return Err(Ff1Error::Tweak);
        }
        let mut p = [0u8; 16];
        p[..3].copy_from_slice(&[1, 2, 1]);
        p[3..6].copy_from_slice(&radix.to_be_bytes()[1..]);
        p[6] = 10;
        p[7] = (u % 256) as u8;
        p[8..12].copy_from_slice(&(n as u32).to_be_bytes());
        p[12..16].copy_from_slice(&(t as u32).to_be_bytes());
        self.cipher.encrypt(&mut p);
        let pad = (16 - (t + b + 1) % 16) % 16;
        let q_len = t + pad + 1 + b;
        let mut q = [0u8; 64];
        let q = q.get_mut(..q_len).ok_or(Ff1Error::Tweak)?;
        q[..t].copy_from_slice(tweak);

        let num = |s: &[u8]| {
            s.iter()
                .fold(0u128, |a, &c| a * u128::from(radix) + u128::from(c))
        };
        let (a_part, b_part) = x.split_at(u);
        let mut a = num(a_part);
        let mut bb = num(b_part);
        let rounds: [u8; 10] = if forward {
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        } else {
            [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
        };
        for i in rounds {
            // Encryption feeds B into the round function; decryption feeds A.
            let fed = if forward { bb } else { a };
            q[t + pad] = i;
            q[t + pad + 1..].copy_from_slice(&fed.to_be_bytes()[16 - b..]);
            let mut r = p;
            for block in q.chunks_exact(16) {
                for (ri, qi) in r.iter_mut().zip(block) {
                    *ri ^= qi;
                }
                self.cipher.encrypt(&mut r);
            }
            let modulus = if i % 2 == 0 { ru } else { rv };
            let y = reduce(&r[..d], modulus);
            // Both operands are below the modulus: one subtraction reduces the sum.
            if forward {
                let mut c = a + y;
                if c >= modulus {
                    c -= modulus;
                }
                a = bb;
                bb = c;
            } else {
                let mut c = bb + modulus - y;
                if c >= modulus {
                    c -= modulus;
                }
                bb = a;
                a = c;
            }
        }
        write_numerals(a, radix, &mut x[..u]);
        write_numerals(bb, radix, &mut x[u..]);
        Ok(())
    }
}

/// NUM(S) mod `modulus`, in 64-bit arithmetic where both fit (every identifier tutela
/// pseudonymises): a 128-bit remainder is a library call and cost a third of a pseudonym.
fn reduce(s: &[u8], modulus: u128) -> u128 {
    if let (true, Ok(m)) = (s.len() <= 8, u64::try_from(modulus)) {
        let y = s.iter().fold(0u64, |acc, &c| (acc << 8) | u64::from(c));
        return u128::from(y % m);
    }
    s.iter().fold(0u128, |acc, &c| (acc << 8) | u128::from(c)) % modulus
}

fn write_numerals(value: u128, radix: u32, out: &mut [u8]) {
    // 64-bit division where the value fits: u128 division is a library call.
    if let Ok(mut v) = u64::try_from(value) {
        for o in out.iter_mut().rev() {
            *o = (v % u64::from(radix)) as u8;
            v /= u64::from(radix);
        }
        return;
    }
    let mut v = value;
    for o in out.iter_mut().rev() {
        *o = (v % u128::from(radix)) as u8;
        v /= u128::from(radix);
    }
}
