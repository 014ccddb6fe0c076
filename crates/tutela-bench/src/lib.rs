//! Workload generation for tutela's benchmarks: a seeded random population of persons with
//! ledger histories, and random decision queries over them. Deterministic for a given seed, so
//! every engine under comparison sees exactly the same input.

#![allow(clippy::print_stdout, reason = "benchmark reports go to stdout")]

use tutela_core::basis::{ContractKind, CountryCode, Relationship};
use tutela_core::compiled::{CompiledPolicy, Query};
use tutela_core::index::StateIndex;
use tutela_core::ledger::{EventKind, ObjectionScope};
use tutela_core::policy::{MemoryLoader, load_policy};
use tutela_core::state::SubjectState;

pub const REFERENCE: &str = include_str!("../../../policies/reference.toml");

/// The reference policy, compiled.
pub fn reference() -> Result<CompiledPolicy, String> {
    let loader = MemoryLoader::new().with("reference.toml", REFERENCE);
    load_policy(&loader, "reference.toml")
        .map(CompiledPolicy::new)
        .map_err(|e| e.to_string())
}

/// xorshift64*: small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % (n.max(1) as u64)) as usize
    }
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.next_u64() % 1000 < per_mille
    }
}

/// A random ledger history for one person.
pub fn random_events(policy: &CompiledPolicy, rng: &mut Rng) -> Vec<EventKind> {
    let p = &policy.policy;
    let mut events = Vec::new();
    let relationship = [
        Relationship::Prospect,
        Relationship::Customer,
        Relationship::Customer,
        Relationship::FormerCustomer,
    ][rng.below(4)];
    if !rng.chance(50) {
        events.push(EventKind::Relationship {
            relationship,
            contract_kind: if rng.chance(500) {
                ContractKind::Telecommunications
            } else {
                ContractKind::Other
            },
        });
    }
    let consent_purposes: Vec<&tutela_core::policy::Purpose> = p
        .purposes
        .iter()
        // Consent per call (N23) lives outside the compact state.
        .filter(|x| x.consent_basis().is_some() && x.consent_per_call.is_none())
        .collect();
    for _ in 0..rng.below(6) {
        match rng.below(10) {
            0..=5 => {
                let purpose = consent_purposes[rng.below(consent_purposes.len())];
                let channel = if purpose.consent_per_channel {
                    Some(
                        p.channels[purpose.channels[rng.below(purpose.channels.len())]]
                            .id
                            .clone(),
                    )
                } else {
                    None
                };
                events.push(EventKind::Consent {
                    purpose: purpose.id.clone(),
                    channel,
                    granted: !rng.chance(250),
                    source: "bench".into(),
                    notice_version: "2026-01".into(),
                });
            }
            6 => events.push(EventKind::Objection {
                scope: ObjectionScope::DirectMarketing,
            }),
            7 => events.push(EventKind::Objection {
                scope: if rng.chance(300) {
                    ObjectionScope::LegitimateInterest
                } else {
                    let objectable: Vec<&str> = p
                        .purposes
                        .iter()
                        .filter(|x| x.bases.iter().any(|b| b.legal_basis.objectable()))
                        .map(|x| x.id.as_str())
                        .collect();
                    ObjectionScope::Purpose(objectable[rng.below(objectable.len())].to_owned())
                },
            }),
            8 => {
                let third = policy.third_countries();
                events.push(EventKind::TransferConsent {
                    country: third[rng.below(third.len())],
                    granted: true,
                });
            }
            _ => events.push(EventKind::Restriction {
                active: rng.chance(600),
            }),
        }
    }
    if rng.chance(20) {
        events.push(EventKind::Erasure);
    }
    events
}

/// A population: ids, and each person's folded state.
pub struct Population {
    pub ids: Vec<String>,
    pub states: Vec<SubjectState>,
}

pub fn population(policy: &CompiledPolicy, n: usize, seed: u64) -> Population {
    let mut rng = Rng::new(seed);
    let mut ids = Vec::with_capacity(n);
    let mut states = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = SubjectState::UNKNOWN;
        for e in random_events(policy, &mut rng) {
            s.apply(policy, &e);
        }
        ids.push(format!("C{i:08}"));
        states.push(s);
    }
    Population { ids, states }
}

/// A query over the population; `subject` may name a person tutela has never seen.
#[derive(Clone, Debug)]
pub struct BenchQuery {
    pub subject: String,
    pub query: Query,
    /// The countries a transfer check looks at: the named one, or the recipient's.
    pub countries: Vec<CountryCode>,
}

pub fn queries(policy: &CompiledPolicy, pop: &Population, n: usize, seed: u64) -> Vec<BenchQuery> {
    let mut rng = Rng::new(seed);
    let p = &policy.policy;
    let countries: Vec<CountryCode> = ["DE", "FR", "US", "IN", "CH", "GB", "BR", "CN"]
        .iter()
        .filter_map(|c| CountryCode::parse(c))
        .collect();
    (0..n)
        .map(|_| {
            let subject = if rng.chance(50) {
                format!("ghost-{}", rng.below(1_000_000))
            } else {
                pop.ids[rng.below(pop.ids.len())].clone()
            };
            let pi = rng.below(p.purposes.len());
            let purpose = &p.purposes[pi];
            let mut cats = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let c = if rng.chance(850) {
                    purpose.categories[rng.below(purpose.categories.len())]
                } else {
                    rng.below(p.categories.len())
                };
                cats.push(p.categories[c].id.as_str());
            }
            let channel = match rng.below(10) {
                0..=5 if !purpose.channels.is_empty() => Some(
                    p.channels[purpose.channels[rng.below(purpose.channels.len())]]
                        .id
                        .as_str(),
                ),
                0..=7 => None,
                _ => Some(p.channels[rng.below(p.channels.len())].id.as_str()),
            };
            let recipient = if rng.chance(250) {
                let candidates: Vec<usize> = (0..p.recipients.len())
                    .filter(|r| p.recipients[*r].purposes.contains(&pi) || rng.chance(100))
                    .collect();
                candidates.get(rng.below(candidates.len().max(1))).copied()
            } else {
                None
            };
            let country = rng
                .chance(200)
                .then(|| countries[rng.below(countries.len())]);
            let country_s = country.map(|c| c.as_str().to_owned());
            let query = policy
                .resolve(
                    &purpose.id,
                    cats.iter().copied(),
                    channel,
                    recipient.map(|r| p.recipients[r].id.as_str()),
                    country_s.as_deref(),
                )
                .unwrap_or_else(|_| unreachable!("generated queries use known ids"));
            let countries = match (country, recipient) {
                (Some(c), _) => vec![c],
                (None, Some(r)) => p.recipients[r].countries.clone(),
                (None, None) => vec![],
            };
            BenchQuery {
                subject,
                query,
                countries,
            }
        })
        .collect()
}

/// The in-memory index tutela's server keeps, filled with the population.
pub fn index(pop: &Population) -> StateIndex {
    let mut idx = StateIndex::with_capacity(pop.ids.len());
    for (id, s) in pop.ids.iter().zip(&pop.states) {
        *idx.get_or_insert(id) = *s;
    }
    idx
}

/// A count from the environment variable `name`, or `default` when it is unset or not a number
/// (the benchmarks' sizes).
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
