//! Exact noise for differential privacy: Bernoulli trials, the discrete Laplace and the
//! discrete Gaussian distribution, sampled as Canonne, Kamath and Steinke describe ("The
//! Discrete Gaussian for Differential Privacy", NeurIPS 2020, algorithms 1 to 3). Every step is
//! integer arithmetic on random bits, so no floating-point rounding shapes the noise; naive
//! floating-point Laplace noise leaks the value it hides (Mironov, CCS 2012).
//!
//! The random bits come from the caller: the core reads no randomness of its own, and tests
//! drive the samplers with a seeded generator.

/// A source of uniformly random bits. Releases use the operating system's generator; tests a
/// seeded one.
pub trait RandomBits {
    fn next_u64(&mut self) -> u64;
}

/// A cryptographically secure generator: AES-256 in counter mode under a key the caller draws
/// from the operating system once. Deterministic for a key, so the core stays pure; a key is
/// never reused, and the counter never wraps in any release (2^128 blocks).
pub struct AesCtrBits {
    cipher: Box<aes::Aes256>,
    counter: u128,
    block: [u8; 16],
    at: usize,
}

impl AesCtrBits {
    pub fn new(key: &[u8; 32]) -> AesCtrBits {
        use aes::cipher::KeyInit;
        AesCtrBits {
            cipher: Box::new(aes::Aes256::new(key.into())),
            counter: 0,
            block: [0; 16],
            at: 16,
        }
    }
}

impl std::fmt::Debug for AesCtrBits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesCtrBits(…)")
    }
}

impl RandomBits for AesCtrBits {
    fn next_u64(&mut self) -> u64 {
        use aes::cipher::BlockCipherEncrypt;
        if self.at == 16 {
            self.block = self.counter.to_le_bytes();
            self.counter = self.counter.wrapping_add(1);
            let b: &mut aes::Block = (&mut self.block).into();
            self.cipher.encrypt_block(b);
            self.at = 0;
        }
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.block[self.at..self.at + 8]);
        self.at += 8;
        u64::from_le_bytes(word)
    }
}

/// A non-negative rational `num / den`, `den > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub num: u128,
    pub den: u128,
}

impl Ratio {
    /// `num / den` in lowest terms; `None` when `den` is 0.
    pub fn new(num: u128, den: u128) -> Option<Ratio> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        Some(Ratio {
            num: num / g,
            den: den / g,
        })
    }

    /// The value, for reports; sampling never uses it.
    pub fn approx(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

/// The numbers grew past what 128-bit integers hold: the caller asked for noise so wide that
/// the release would be useless anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the noise is too wide to sample exactly; narrow the bounds, lower the rows per person or raise epsilon"
)]
pub struct TooWide;

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The integer square root: the largest `r` with `r * r <= n`.
pub fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    // Newton's method from an upper bound converges from above.
    let mut x = 1u128 << (128 - n.leading_zeros()).div_ceil(2);
    loop {
        let y = (x + n / x) / 2;
        if y >= x {
            return x;
        }
        x = y;
    }
}

fn next_u128(rng: &mut dyn RandomBits) -> u128 {
    (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
}

/// A uniform integer in `0..n`, `n > 0`, by rejection (no modulo bias).
pub fn uniform_below(rng: &mut dyn RandomBits, n: u128) -> u128 {
    if n.is_power_of_two() {
        return next_u128(rng) & (n - 1);
    }
    // 2^128 mod n values at the top would make small results likelier: draw again there.
    let excess = (u128::MAX % n + 1) % n;
    loop {
        let x = next_u128(rng);
        if x <= u128::MAX - excess {
            return x % n;
        }
    }
}

/// True with probability `p`, `p <= 1`.
pub fn bernoulli(rng: &mut dyn RandomBits, p: Ratio) -> bool {
    uniform_below(rng, p.den) < p.num
}

/// True with probability `exp(-gamma)` (algorithm 1).
pub fn bernoulli_exp(rng: &mut dyn RandomBits, gamma: Ratio) -> Result<bool, TooWide> {
    let whole = gamma.num / gamma.den;
    // exp(-gamma) = exp(-1)^floor(gamma) * exp(-(gamma - floor(gamma))).
    let mut i = 0;
    while i < whole {
        if !bernoulli_exp_fraction(rng, 1, 1)? {
            return Ok(false);
        }
        i += 1;
    }
    bernoulli_exp_fraction(rng, gamma.num % gamma.den, gamma.den)
}

/// True with probability `exp(-num/den)` for `num <= den`: the first K with a failed
/// Bernoulli(gamma / K) trial is odd with exactly that probability.
fn bernoulli_exp_fraction(rng: &mut dyn RandomBits, num: u128, den: u128) -> Result<bool, TooWide> {
    let mut k: u128 = 1;
    loop {
        let den_k = den.checked_mul(k).ok_or(TooWide)?;
        if bernoulli(rng, Ratio { num, den: den_k }) {
            k += 1;
        } else {
            return Ok(k % 2 == 1);
        }
    }
}

/// A sample of the discrete Laplace distribution with scale `scale` (algorithm 2):
/// `P(x) ∝ exp(-|x| / scale)` on the integers.
pub fn discrete_laplace(rng: &mut dyn RandomBits, scale: Ratio) -> Result<i128, TooWide> {
    let (t, s) = (scale.num, scale.den);
    if t == 0 {
        return Ok(0);
    }
    loop {
        let u = uniform_below(rng, t);
        if !bernoulli_exp(rng, Ratio { num: u, den: t })? {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp_fraction(rng, 1, 1)? {
            v += 1;
        }
        let x = t
            .checked_mul(v)
            .and_then(|tv| tv.checked_add(u))
            .ok_or(TooWide)?;
        let y = x / s;
        let negative = bernoulli(rng, Ratio { num: 1, den: 2 });
        if negative && y == 0 {
            continue;
        }
        let y = i128::try_from(y).map_err(|_| TooWide)?;
        return Ok(if negative { -y } else { y });
    }
}

/// `Some` when discrete Gaussian draws for `sigma2` up to `scales` times its Laplace scale stay
/// inside 128-bit arithmetic.
pub fn gaussian_headroom(sigma2: Ratio, scales: u128) -> Option<()> {
    let (a, b) = (sigma2.num, sigma2.den);
    let t = isqrt(a / b) + 1;
    2u128
        .checked_mul(a)?
        .checked_mul(b)?
        .checked_mul(t)?
        .checked_mul(t)?;
    let far = t
        .checked_mul(scales)?
        .checked_mul(t)?
        .checked_mul(b)?
        .max(a);
    far.checked_mul(far)?;
    Some(())
}

/// A sample of the discrete Gaussian distribution with variance parameter `sigma2` (algorithm
/// 3): `P(x) ∝ exp(-x² / (2 sigma2))` on the integers, by rejection from a discrete Laplace.
pub fn discrete_gaussian(rng: &mut dyn RandomBits, sigma2: Ratio) -> Result<i128, TooWide> {
    let (a, b) = (sigma2.num, sigma2.den);
    if a == 0 {
        return Ok(0);
    }
    // floor(sqrt(a/b)) = isqrt(floor(a/b)).
    let t = isqrt(a / b) + 1;
    // gamma = (|y| - sigma2/t)² / (2 sigma2) = (|y| t b - a)² / (2 a b t²).
    let den = 2u128
        .checked_mul(a)
        .and_then(|x| x.checked_mul(b))
        .and_then(|x| x.checked_mul(t))
        .and_then(|x| x.checked_mul(t))
        .ok_or(TooWide)?;
    loop {
        let y = discrete_laplace(rng, Ratio { num: t, den: 1 })?;
        let ytb = y
            .unsigned_abs()
            .checked_mul(t)
            .and_then(|x| x.checked_mul(b))
            .ok_or(TooWide)?;
        let diff = ytb.abs_diff(a);
        let num = diff.checked_mul(diff).ok_or(TooWide)?;
        if bernoulli_exp(rng, Ratio { num, den })? {
            return Ok(y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isqrt_is_the_floor_of_the_root() {
        for n in (0u128..10_000).chain([u128::MAX, u128::MAX - 1, 1 << 100, (1 << 100) - 1]) {
            let r = isqrt(n);
            assert!(r * r <= n, "{n}");
            assert!(
                r.checked_add(1)
                    .and_then(|r1| r1.checked_mul(r1))
                    .is_none_or(|sq| sq > n),
                "{n}"
            );
        }
    }

    #[test]
    fn ratios_are_kept_in_lowest_terms() {
        assert_eq!(Ratio::new(6, 4), Some(Ratio { num: 3, den: 2 }));
        assert_eq!(Ratio::new(0, 5), Some(Ratio { num: 0, den: 1 }));
        assert_eq!(Ratio::new(1, 0), None);
    }
}
