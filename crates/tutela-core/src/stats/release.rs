//! From an exact tally to what may leave tutela: groups with fewer than k persons are
//! suppressed, and where the query asks for it every released figure carries noise calibrated
//! to what one person can change (their rows times the most one row adds).

use super::aggregate::Tally;
use super::noise::{RandomBits, TooWide, discrete_gaussian, discrete_laplace, gaussian_headroom};
use super::privacy::{gaussian_sigma2, laplace_scale};
use super::query::{Aggregate, Milli, Noise, Query};

/// One released group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedGroup {
    /// The group-by values, in the query's order; empty without group-by columns.
    pub key: Vec<String>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Count(u64),
    Sum(Milli),
    /// `None` when the (noisy) count is not positive.
    Mean(Option<Milli>),
    Histogram(Vec<u64>),
}

/// The noise added to one kind of figure.
#[derive(Debug, Clone, PartialEq)]
pub struct NoisePart {
    /// `count`, `sum` or `bins`.
    pub figure: &'static str,
    /// What one person can change: the L1 bound for Laplace, the L2 bound for Gaussian (the
    /// same here, as one person's rows may all fall into one group or bin).
    pub sensitivity: String,
    /// The noise's standard deviation in the figure's units: how far off a figure may be.
    pub stddev: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NoiseReport {
    pub noise: Noise,
    pub parts: Vec<NoisePart>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub groups: Vec<ReleasedGroup>,
    /// k: groups with fewer distinct persons were not released.
    pub min_group_size: u32,
    /// How many groups were suppressed; `None` under noise, where even that count would be
    /// an exact figure about the data.
    pub suppressed_groups: Option<u64>,
    pub noise: Option<NoiseReport>,
}

/// A noise sampler bound to one release: mechanism, budget share and sensitivity.
struct Sampler {
    noise: Noise,
    sensitivity: u64,
}

impl Sampler {
    fn sample(&self, rng: &mut dyn RandomBits) -> Result<i128, TooWide> {
        match self.noise {
            Noise::Laplace { epsilon } => {
                let scale = laplace_scale(self.sensitivity, epsilon).ok_or(TooWide)?;
                discrete_laplace(rng, scale)
            }
            Noise::Gaussian { epsilon, delta } => {
                let sigma2 = gaussian_sigma2(self.sensitivity, epsilon, delta).ok_or(TooWide)?;
                discrete_gaussian(rng, sigma2)
            }
        }
    }

    /// Whether every draw stays inside 128-bit arithmetic: Laplace and Gaussian draws up to 64
    /// scales from zero (a draw beyond has probability below e⁻⁶⁴ and is an error, not a
    /// wrong figure).
    fn check(&self) -> Result<(), TooWide> {
        match self.noise {
            Noise::Laplace { epsilon } => {
                let scale = laplace_scale(self.sensitivity, epsilon).ok_or(TooWide)?;
                scale.num.checked_mul(64).ok_or(TooWide)?;
            }
            Noise::Gaussian { epsilon, delta } => {
                let sigma2 = gaussian_sigma2(self.sensitivity, epsilon, delta).ok_or(TooWide)?;
                gaussian_headroom(sigma2, 64).ok_or(TooWide)?;
            }
        }
        Ok(())
    }

    /// The standard deviation in the sampler's integer units.
    fn stddev(&self) -> Result<f64, TooWide> {
        Ok(match self.noise {
            Noise::Laplace { epsilon } => {
                let b = laplace_scale(self.sensitivity, epsilon)
                    .ok_or(TooWide)?
                    .approx();
                // Var = 2 e^(-1/b) / (1 - e^(-1/b))² for the discrete Laplace.
                let q = (-1.0 / b).exp();
                (2.0 * q).sqrt() / (1.0 - q)
            }
            Noise::Gaussian { epsilon, delta } => gaussian_sigma2(self.sensitivity, epsilon, delta)
                .ok_or(TooWide)?
                .approx()
                .sqrt(),
        })
    }

    fn part(&self, figure: &'static str, unit: f64, milli: bool) -> Result<NoisePart, TooWide> {
        let sensitivity = if milli {
            Milli(i64::try_from(self.sensitivity).map_err(|_| TooWide)?).to_string()
        } else {
            self.sensitivity.to_string()
        };
        Ok(NoisePart {
            figure,
            sensitivity,
            stddev: self.stddev()? / unit,
        })
    }
}

/// The share of the budget each figure of an aggregate gets: a mean releases two figures.
fn split(noise: Noise) -> Result<(Noise, Noise), TooWide> {
    Ok(match noise {
        Noise::Laplace { epsilon } => {
            let (a, b) = epsilon.halves().ok_or(TooWide)?;
            (Noise::Laplace { epsilon: a }, Noise::Laplace { epsilon: b })
        }
        Noise::Gaussian { epsilon, delta } => {
            let (ea, eb) = epsilon.halves().ok_or(TooWide)?;
            let (da, db) = delta.halves().ok_or(TooWide)?;
            (
                Noise::Gaussian {
                    epsilon: ea,
                    delta: da,
                },
                Noise::Gaussian {
                    epsilon: eb,
                    delta: db,
                },
            )
        }
    })
}

fn noisy(exact: u64, sampler: Option<&Sampler>, rng: &mut dyn RandomBits) -> Result<u64, TooWide> {
    let Some(s) = sampler else {
        return Ok(exact);
    };
    let v = i128::from(exact) + s.sample(rng)?;
    // A negative count is impossible; clamping is post-processing and costs no privacy.
    Ok(u64::try_from(v.max(0)).unwrap_or(u64::MAX))
}

fn noisy_milli(
    exact: i128,
    sampler: Option<&Sampler>,
    rng: &mut dyn RandomBits,
) -> Result<i128, TooWide> {
    match sampler {
        None => Ok(exact),
        Some(s) => Ok(exact + s.sample(rng)?),
    }
}

fn to_milli(v: i128) -> Milli {
    Milli(i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX }))
}

type Samplers = (Option<Sampler>, Option<Sampler>);

/// The samplers of `query`: the main figure's, and a mean's count's.
fn samplers(query: &Query) -> Result<Samplers, TooWide> {
    let rows = u64::from(query.rows_per_person());
    let sampler = |noise: Option<Noise>, per_row: u64| -> Result<Option<Sampler>, TooWide> {
        noise
            .map(|noise| {
                let s = Sampler {
                    noise,
                    sensitivity: rows.checked_mul(per_row).ok_or(TooWide)?,
                };
                s.check()?;
                Ok(s)
            })
            .transpose()
    };
    let (first, second) = match (query.noise(), query.aggregate()) {
        (Some(n), Aggregate::Mean { .. }) => {
            let (a, b) = split(n)?;
            (Some(a), Some(b))
        }
        (n, _) => (n, None),
    };
    Ok(match query.aggregate() {
        Aggregate::Count | Aggregate::Histogram { .. } => (sampler(first, 1)?, None),
        Aggregate::Sum { bounds, .. } => (sampler(first, bounds.reach())?, None),
        Aggregate::Mean { bounds, .. } => (sampler(first, bounds.reach())?, sampler(second, 1)?),
    })
}

/// Whether `query`'s noise can be drawn exactly: checked before a budget is spent, so a
/// release that cannot be made costs nothing.
pub fn preflight(query: &Query) -> Result<(), TooWide> {
    samplers(query).map(|_| ())
}

/// Releases `tally` for `query`: groups of fewer than `min_group_size` persons suppressed,
/// noise drawn from `rng` when the query asks for it.
pub fn release(
    tally: &Tally,
    query: &Query,
    min_group_size: u32,
    rng: &mut dyn RandomBits,
) -> Result<Release, TooWide> {
    let (main, count) = samplers(query)?;
    let mut groups = Vec::new();
    let mut suppressed = 0;
    for g in &tally.groups {
        if g.persons < u64::from(min_group_size) {
            suppressed += 1;
            continue;
        }
        let value = match query.aggregate() {
            Aggregate::Count => Value::Count(noisy(g.rows, main.as_ref(), rng)?),
            Aggregate::Sum { .. } => Value::Sum(to_milli(noisy_milli(g.sum, main.as_ref(), rng)?)),
            Aggregate::Mean { bounds, .. } => {
                let sum = noisy_milli(g.sum, main.as_ref(), rng)?;
                let n = noisy(g.rows, count.as_ref(), rng)?;
                // Rounded to the nearest thousandth, then kept inside the bounds (noise can
                // push a small group's mean outside them).
                let mean = (n > 0).then(|| {
                    let n = i128::from(n);
                    let q = (2 * sum + n).div_euclid(2 * n);
                    bounds.clamp(to_milli(q))
                });
                Value::Mean(mean)
            }
            Aggregate::Histogram { .. } => Value::Histogram(
                g.bins
                    .iter()
                    .map(|&b| noisy(b, main.as_ref(), rng))
                    .collect::<Result<_, _>>()?,
            ),
        };
        groups.push(ReleasedGroup {
            key: g.key.clone(),
            value,
        });
    }
    let noise = match (query.noise(), &main) {
        (Some(noise), Some(m)) => {
            let mut parts = Vec::new();
            match query.aggregate() {
                Aggregate::Count => parts.push(m.part("count", 1.0, false)?),
                Aggregate::Histogram { .. } => parts.push(m.part("bins", 1.0, false)?),
                Aggregate::Sum { .. } => parts.push(m.part("sum", 1000.0, true)?),
                Aggregate::Mean { .. } => {
                    parts.push(m.part("sum", 1000.0, true)?);
                    if let Some(c) = &count {
                        parts.push(c.part("count", 1.0, false)?);
                    }
                }
            }
            Some(NoiseReport { noise, parts })
        }
        _ => None,
    };
    Ok(Release {
        groups,
        min_group_size,
        suppressed_groups: noise.is_none().then_some(suppressed),
        noise,
    })
}
