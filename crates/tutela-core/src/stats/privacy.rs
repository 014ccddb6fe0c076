//! Privacy parameters as exact integers, and the calibration of noise to them: epsilon in
//! millionths, delta in units of 10⁻¹², so a budget adds up without rounding and a spend can
//! be stored and compared exactly.

use super::noise::Ratio;

/// Epsilon, the privacy loss a release may cause, in millionths (`500_000` is ε = 0.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epsilon(u64);

/// Delta, the probability that the loss exceeds epsilon, in units of 10⁻¹².
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Delta(u64);

/// The largest epsilon one release or one budget may hold: beyond it noise protects nothing.
pub const MAX_EPSILON_MICROS: u64 = 20_000_000;
/// Delta must stay far below one over the number of persons; 10⁻³ is already generous.
pub const MAX_DELTA_PICOS: u64 = 1_000_000_000;

impl Epsilon {
    /// One millionth: the least a budget can hold.
    pub const MIN: Epsilon = Epsilon(1);

    /// From a decimal value, e.g. `0.5`; `None` outside `(0, 20]` or finer than a millionth.
    pub fn from_f64(value: f64) -> Option<Epsilon> {
        if !value.is_finite() {
            return None;
        }
        let micros = (value * 1e6).round();
        let exact = (micros - value * 1e6).abs() < 1e-3;
        ((1.0..=MAX_EPSILON_MICROS as f64).contains(&micros) && exact)
            .then_some(Epsilon(micros as u64))
    }

    pub fn from_micros(micros: u64) -> Option<Epsilon> {
        (1..=MAX_EPSILON_MICROS)
            .contains(&micros)
            .then_some(Epsilon(micros))
    }

    pub fn micros(self) -> u64 {
        self.0
    }

    pub fn value(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Two parts that add up to at most `self` (the smaller first); `None` below two
    /// millionths.
    pub fn halves(self) -> Option<(Epsilon, Epsilon)> {
        let low = self.0 / 2;
        (low >= 1).then_some((Epsilon(low), Epsilon(self.0 - low)))
    }
}

impl Delta {
    /// From a decimal value, e.g. `1e-6`; `None` outside `(0, 10⁻³]` or finer than 10⁻¹².
    pub fn from_f64(value: f64) -> Option<Delta> {
        if !value.is_finite() {
            return None;
        }
        let picos = (value * 1e12).round();
        (1.0..=MAX_DELTA_PICOS as f64)
            .contains(&picos)
            .then_some(Delta(picos as u64))
    }

    pub fn from_picos(picos: u64) -> Option<Delta> {
        (1..=MAX_DELTA_PICOS)
            .contains(&picos)
            .then_some(Delta(picos))
    }

    pub fn picos(self) -> u64 {
        self.0
    }

    pub fn value(self) -> f64 {
        self.0 as f64 / 1e12
    }

    pub fn halves(self) -> Option<(Delta, Delta)> {
        let low = self.0 / 2;
        (low >= 1).then_some((Delta(low), Delta(self.0 - low)))
    }
}

/// The scale `sensitivity / epsilon` of discrete Laplace noise that makes a query of that L1
/// sensitivity ε-differentially private.
pub fn laplace_scale(sensitivity: u64, epsilon: Epsilon) -> Option<Ratio> {
    let num = u128::from(sensitivity).checked_mul(1_000_000)?;
    Ratio::new(num, u128::from(epsilon.0))
}

/// The variance parameter σ² of discrete Gaussian noise that makes a query of that L2
/// sensitivity (ε, δ)-differentially private: σ² = Δ² / (2ρ) satisfies ρ-zCDP (Canonne,
/// Kamath and Steinke, 2020), and ρ-zCDP implies (ρ + 2√(ρ ln(1/δ)), δ)-DP (Bun and Steinke,
/// 2016), so ρ = (√(ln(1/δ) + ε) − √(ln(1/δ)))². The floating-point part only chooses σ²; it
/// is rounded up (more noise, never less) to a fraction with denominator 1024, and the
/// sampling itself stays exact.
pub fn gaussian_sigma2(sensitivity: u64, epsilon: Epsilon, delta: Delta) -> Option<Ratio> {
    let ln = (1.0 / delta.value()).ln();
    let rho = ((ln + epsilon.value()).sqrt() - ln.sqrt()).powi(2);
    let d = sensitivity as f64;
    // One part in a million above the bound absorbs the rounding of ln, sqrt and the division.
    let sigma2 = d * d / (2.0 * rho) * (1.0 + 1e-6);
    let scaled = (sigma2 * 1024.0).ceil();
    if !scaled.is_finite() || !(1.0..1e30).contains(&scaled) {
        return None;
    }
    Ratio::new(scaled as u128, 1024)
}

/// The epsilon a ρ-zCDP mechanism costs at `delta`, for reports.
pub fn zcdp_epsilon(rho: f64, delta: Delta) -> f64 {
    rho + 2.0 * (rho * (1.0 / delta.value()).ln()).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_is_read_exactly() {
        assert_eq!(Epsilon::from_f64(0.5).map(Epsilon::micros), Some(500_000));
        assert_eq!(Epsilon::from_f64(0.1).map(Epsilon::micros), Some(100_000));
        assert_eq!(Epsilon::from_f64(0.0), None);
        assert_eq!(Epsilon::from_f64(-1.0), None);
        assert_eq!(Epsilon::from_f64(21.0), None);
        assert_eq!(Epsilon::from_f64(0.000_000_1), None);
        assert_eq!(Epsilon::from_f64(f64::NAN), None);
        assert_eq!(Delta::from_f64(1e-6).map(Delta::picos), Some(1_000_000));
        assert_eq!(Delta::from_f64(0.01), None);
    }

    #[test]
    fn laplace_scale_is_sensitivity_over_epsilon() {
        let e = Epsilon::from_f64(0.5).unwrap_or_else(|| unreachable!());
        assert_eq!(laplace_scale(3, e), Ratio::new(6, 1));
    }

    #[test]
    fn gaussian_calibration_meets_its_epsilon() {
        let e = Epsilon::from_f64(1.0).unwrap_or_else(|| unreachable!());
        let d = Delta::from_f64(1e-6).unwrap_or_else(|| unreachable!());
        let sigma2 = gaussian_sigma2(1, e, d)
            .unwrap_or_else(|| unreachable!())
            .approx();
        let rho = 1.0 / (2.0 * sigma2);
        let spent = zcdp_epsilon(rho, d);
        assert!(spent <= 1.0 && spent > 0.999, "{spent}");
        // By hand: ln(10⁶) = 13.8155, ρ = (√14.8155 − √13.8155)² = 0.01747, σ = √(1/2ρ) = 5.35.
        assert!((5.3..5.4).contains(&sigma2.sqrt()), "{}", sigma2.sqrt());
    }
}
