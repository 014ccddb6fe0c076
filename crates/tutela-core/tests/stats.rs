//! Anonymous statistics (N7c, N16, N25): the exact samplers against their distributions
//! (chi-square goodness of fit on seeded draws), the tally's bounds, and what a release shows.

use tutela_core::pseudonym::table::OnBadRow;
use tutela_core::stats::noise::{
    Ratio, bernoulli_exp, discrete_gaussian, discrete_laplace, uniform_below,
};
use tutela_core::stats::{
    Aggregate, Bounds, Delta, Epsilon, Milli, Noise, Query, RandomBits, Value, release, tally,
};

/// SplitMix64: a seeded generator for tests only; releases use the operating system's.
struct Seeded(u64);

impl RandomBits for Seeded {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn ratio(num: u128, den: u128) -> Ratio {
    Ratio::new(num, den).unwrap_or_else(|| unreachable!())
}

/// Pearson's chi-square of `samples` against `pmf` (unnormalised, symmetric), and its degrees
/// of freedom. Cells run over `-range..=range`, the tails folded into the outer cells, with
/// `range` as wide as keeps at least 20 expected draws in each outer cell.
fn chi_square(samples: &[i128], pmf: impl Fn(i128) -> f64) -> (f64, usize) {
    let n = samples.len() as f64;
    let total: f64 = (-10_000..=10_000).map(&pmf).sum();
    let p = |x: i128| pmf(x) / total;
    let mut range = 1;
    while (range + 1..10_000).map(p).sum::<f64>() * n >= 20.0 {
        range += 1;
    }
    let cells = (2 * range + 1) as usize;
    let mut observed = vec![0f64; cells];
    for &s in samples {
        observed[(s.clamp(-range, range) + range) as usize] += 1.0;
    }
    let mut expected = vec![0f64; cells];
    for x in -10_000..=10_000i128 {
        expected[(x.clamp(-range, range) + range) as usize] += p(x);
    }
    let chi = observed
        .iter()
        .zip(&expected)
        .map(|(o, e)| (o - e * n).powi(2) / (e * n))
        .sum();
    (chi, cells - 1)
}

/// The chi-square value a correct sampler exceeds with probability 10⁻⁴ (Wilson–Hilferty).
fn critical(df: usize) -> f64 {
    let k = df as f64;
    let z = 3.719; // the standard normal's 1 − 10⁻⁴ quantile
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

#[test]
fn discrete_laplace_follows_its_distribution() {
    // covers: N7c
    for (scale, seed) in [(ratio(2, 1), 1), (ratio(3, 4), 2), (ratio(10, 3), 3)] {
        let mut rng = Seeded(seed);
        let samples: Vec<i128> = (0..200_000)
            .map(|_| discrete_laplace(&mut rng, scale).unwrap_or_else(|e| unreachable!("{e}")))
            .collect();
        let b = scale.approx();
        let (chi, df) = chi_square(&samples, |x| (-(x.abs() as f64) / b).exp());
        assert!(
            chi < critical(df),
            "scale {b}: chi² {chi:.1} over {df} degrees of freedom"
        );
        let mean = samples.iter().sum::<i128>() as f64 / samples.len() as f64;
        assert!(mean.abs() < 0.05, "scale {b}: mean {mean}");
    }
}

#[test]
fn a_wrong_scale_is_caught_by_the_same_test() {
    // The check above can fail: samples of scale 2 do not pass as scale 2.2.
    let mut rng = Seeded(7);
    let samples: Vec<i128> = (0..200_000)
        .map(|_| discrete_laplace(&mut rng, ratio(2, 1)).unwrap_or_else(|e| unreachable!("{e}")))
        .collect();
    let (chi, df) = chi_square(&samples, |x| (-(x.abs() as f64) / 2.2).exp());
    assert!(chi > critical(df), "chi² {chi:.1}");
}

#[test]
fn discrete_gaussian_follows_its_distribution() {
    // covers: N7c
    for (sigma2, seed) in [(ratio(4, 1), 11), (ratio(9, 4), 12), (ratio(100, 1), 13)] {
        let mut rng = Seeded(seed);
        let samples: Vec<i128> = (0..200_000)
            .map(|_| discrete_gaussian(&mut rng, sigma2).unwrap_or_else(|e| unreachable!("{e}")))
            .collect();
        let s2 = sigma2.approx();
        let (chi, df) = chi_square(&samples, |x| (-((x * x) as f64) / (2.0 * s2)).exp());
        assert!(
            chi < critical(df),
            "σ² {s2}: chi² {chi:.1} over {df} degrees of freedom"
        );
        let n = samples.len() as f64;
        let var = samples.iter().map(|&x| (x * x) as f64).sum::<f64>() / n;
        // The discrete Gaussian's variance is just below σ² for σ ≥ 1.
        assert!((var / s2 - 1.0).abs() < 0.03, "σ² {s2}: variance {var}");
    }
}

#[test]
fn bernoulli_exp_has_probability_exp_minus_gamma() {
    for (gamma, seed) in [
        (ratio(1, 2), 21),
        (ratio(23, 10), 22),
        (ratio(0, 1), 23),
        (ratio(5, 1), 24),
    ] {
        let mut rng = Seeded(seed);
        let n = 100_000;
        let hits = (0..n)
            .filter(|_| bernoulli_exp(&mut rng, gamma).unwrap_or_else(|e| unreachable!("{e}")))
            .count() as f64;
        let p = (-gamma.approx()).exp();
        let sd = (p * (1.0 - p) * n as f64).sqrt().max(1.0);
        assert!(
            (hits - p * n as f64).abs() < 5.0 * sd,
            "γ {}: {hits} of {n}",
            gamma.approx()
        );
    }
}

#[test]
fn uniform_draws_have_no_modulo_bias() {
    let mut rng = Seeded(31);
    let n = 7u128;
    let mut counts = [0f64; 7];
    for _ in 0..70_000 {
        counts[uniform_below(&mut rng, n) as usize] += 1.0;
    }
    let chi: f64 = counts
        .iter()
        .map(|c| (c - 10_000.0).powi(2) / 10_000.0)
        .sum();
    assert!(chi < critical(6), "{chi}");
}

const USAGE: &str = "\
imsi,cell,volume_mb
p1,north,10
p1,north,20
p1,north,30
p2,north,5
p3,north,1000
p4,south,7
p5,south,8
";

fn milli(s: &str) -> Milli {
    Milli::parse(s).unwrap_or_else(|| unreachable!())
}

fn query(aggregate: Aggregate, rows_per_person: u32, noise: Option<Noise>) -> Query {
    Query::new(
        "imsi".into(),
        vec!["cell".into()],
        aggregate,
        rows_per_person,
        noise,
    )
    .unwrap_or_else(|e| unreachable!("{e}"))
}

fn sum_of_volume() -> Aggregate {
    Aggregate::Sum {
        column: "volume_mb".into(),
        bounds: Bounds::new(milli("0"), milli("100")).unwrap_or_else(|| unreachable!()),
    }
}

#[test]
fn small_groups_are_suppressed_and_persons_bounded() {
    // covers: N7c
    let q = query(sum_of_volume(), 2, None);
    let (t, errors) =
        tally(q.clone(), USAGE.as_bytes(), OnBadRow::Stop).unwrap_or_else(|e| unreachable!("{e}"));
    assert!(errors.is_empty());
    assert_eq!(t.rows_read, 7);
    assert_eq!(t.rows_over_limit, 1, "p1's third row is left out");
    assert_eq!(t.persons, 5);
    let north = &t.groups[0];
    assert_eq!((north.persons, north.rows), (3, 4));
    // 10 + 20 (p1, two rows) + 5 + 100 (1000 clamped), in thousandths.
    assert_eq!(north.sum, 135_000);
    let r = release(&t, &q, 3, &mut Seeded(1)).unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(r.groups.len(), 1, "south has two persons, fewer than k = 3");
    assert_eq!(r.groups[0].key, ["north"]);
    assert_eq!(r.groups[0].value, Value::Sum(milli("135")));
    assert_eq!(r.suppressed_groups, Some(1));
}

#[test]
fn histograms_bin_and_clamp_into_the_outer_bins() {
    let edges = ["0", "10", "100"].map(milli).to_vec();
    let q = query(
        Aggregate::Histogram {
            column: "volume_mb".into(),
            edges,
        },
        10,
        None,
    );
    let (t, _) =
        tally(q.clone(), USAGE.as_bytes(), OnBadRow::Stop).unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(
        t.groups[0].bins,
        [1, 4],
        "5 | 10, 20, 30, 1000 (past the last edge)"
    );
    assert_eq!(t.groups[1].bins, [2, 0]);
}

#[test]
fn bad_rows_name_their_line_and_column() {
    let text = "imsi,cell,volume_mb\np1,north,10\np2,north,ten\np3,north\n,north,3\n";
    let q = query(sum_of_volume(), 1, None);
    let err = tally(q.clone(), text.as_bytes(), OnBadRow::Stop)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "line 3, column `volume_mb`: not a decimal number with at most 15 digits before the point"
        )
    );
    let (t, errors) =
        tally(q, text.as_bytes(), OnBadRow::Reject).unwrap_or_else(|e| unreachable!("{e}"));
    let lines: Vec<_> = errors.iter().map(|e| (e.line, e.column.clone())).collect();
    assert_eq!(
        lines,
        [
            (3, Some("volume_mb".into())),
            (4, None),
            (5, Some("imsi".into()))
        ]
    );
    assert_eq!(t.rows_rejected, 3);
    assert_eq!(t.groups[0].rows, 1, "a rejected row counts nowhere");
}

#[test]
fn queries_that_would_single_out_are_refused() {
    let e = Query::new(
        "imsi".into(),
        vec!["imsi".into()],
        Aggregate::Count,
        1,
        None,
    );
    assert_eq!(e.err().map(|e| e.field), Some("group_by"));
    let e = Query::new("imsi".into(), vec![], Aggregate::Count, 0, None);
    assert_eq!(e.err().map(|e| e.field), Some("rows_per_person"));
    let edges = vec![milli("5"), milli("5")];
    let e = Query::new(
        "imsi".into(),
        vec![],
        Aggregate::Histogram {
            column: "v".into(),
            edges,
        },
        1,
        None,
    );
    assert_eq!(e.err().map(|e| e.field), Some("aggregate.edges"));
}

fn big_table(persons: usize, rows_each: usize) -> String {
    let mut t = String::from("imsi,cell,volume_mb\n");
    for p in 0..persons {
        for r in 0..rows_each {
            t.push_str(&format!(
                "p{p},{},{}\n",
                ["north", "south"][p % 2],
                (p + r) % 50
            ));
        }
    }
    t
}

#[test]
fn noise_has_the_spread_the_release_reports() {
    // covers: N7c, N16
    let table = big_table(400, 3);
    let epsilon = Epsilon::from_f64(0.5).unwrap_or_else(|| unreachable!());
    let delta = Delta::from_f64(1e-6).unwrap_or_else(|| unreachable!());
    for noise in [
        Noise::Laplace { epsilon },
        Noise::Gaussian { epsilon, delta },
    ] {
        let q = query(Aggregate::Count, 3, Some(noise));
        let (t, _) = tally(q.clone(), table.as_bytes(), OnBadRow::Stop)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let exact = t.groups[0].rows as f64;
        let mut rng = Seeded(41);
        let mut squares = 0.0;
        let runs = 4_000;
        let mut reported = 0.0;
        for _ in 0..runs {
            let r = release(&t, &q, 10, &mut rng).unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(r.suppressed_groups, None, "no exact figure under noise");
            let Value::Count(c) = r.groups[0].value else {
                unreachable!()
            };
            squares += (c as f64 - exact).powi(2);
            reported = r.noise.map(|n| n.parts[0].stddev).unwrap_or_default();
        }
        let observed = (squares / runs as f64).sqrt();
        // Laplace: b = 3 / 0.5 = 6, sd ≈ √2·6 = 8.5; Gaussian: σ = 3 / √(2ρ) ≈ 31.8.
        assert!(
            (observed / reported - 1.0).abs() < 0.06,
            "{noise:?}: {observed} against {reported}"
        );
    }
}

#[test]
fn a_noisy_mean_stays_within_its_bounds() {
    let table = big_table(60, 1);
    let epsilon = Epsilon::from_f64(0.1).unwrap_or_else(|| unreachable!());
    let bounds = Bounds::new(milli("0"), milli("49")).unwrap_or_else(|| unreachable!());
    let q = query(
        Aggregate::Mean {
            column: "volume_mb".into(),
            bounds,
        },
        1,
        Some(Noise::Laplace { epsilon }),
    );
    let (t, _) =
        tally(q.clone(), table.as_bytes(), OnBadRow::Stop).unwrap_or_else(|e| unreachable!("{e}"));
    let mut rng = Seeded(51);
    for _ in 0..500 {
        let r = release(&t, &q, 10, &mut rng).unwrap_or_else(|e| unreachable!("{e}"));
        let parts: Vec<_> = r
            .noise
            .iter()
            .flat_map(|n| n.parts.iter().map(|p| p.figure))
            .collect();
        assert_eq!(parts, ["sum", "count"]);
        for g in &r.groups {
            match g.value {
                Value::Mean(Some(m)) => assert!(m >= milli("0") && m <= milli("49"), "{m}"),
                Value::Mean(None) => {}
                ref v => unreachable!("{v:?}"),
            }
        }
    }
}
