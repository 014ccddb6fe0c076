//! Workload generation for tutela's benchmarks: a seeded random population of persons with
//! ledger histories, and random decision queries over them. Deterministic for a given seed, so
//! every engine under comparison sees exactly the same input.

#![allow(clippy::print_stdout, reason = "benchmark reports go to stdout")]

pub mod redact_eval;
pub mod seed;

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

/// The header of the usage records that [`usage_record`] writes: one data session of a SIM,
/// with the identifiers a mobile network's usage records carry (docs/pseudonymisation.md).
pub const USAGE_HEADER: &str = "start,end,imsi,iccid,msisdn,imei,plmn,cell,rat,apn,charging_id,bytes_up,bytes_down,roaming,cause\n";

fn digits(rng: &mut Rng, n: usize, out: &mut Vec<u8>) {
    for _ in 0..n {
        out.push(b'0' + (rng.next_u64() % 10) as u8);
    }
}

/// An ISO 8601 time with milliseconds, `second` seconds after 2026-01-01T00:00:00Z (within
/// January).
fn iso(second: u64, millis: u64, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let (day, rest) = (second / 86_400 % 31, second % 86_400);
    let _ = write!(
        out,
        "2026-01-{:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        day + 1,
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    );
}

/// Appends one usage record (about 210 bytes) with valid identifiers: an IMSI of a German
/// network, an ICCID and an IMEI with their Luhn digits, a German mobile number.
pub fn usage_record(rng: &mut Rng, i: u64, out: &mut Vec<u8>) {
    use std::io::Write as _;
    const TACS: [&[u8]; 4] = [b"35332811", b"86891704", b"35875409", b"01326300"];
    const RATS: [&str; 4] = ["LTE-M", "NB-IoT", "LTE", "5G-SA"];
    const CAUSES: [&str; 3] = ["normal", "timeout", "abnormal"];
    let second = i / 40;
    iso(second, i % 1000, out);
    out.push(b',');
    iso(second + rng.next_u64() % 3600, rng.next_u64() % 1000, out);
    out.extend_from_slice(b",26201");
    digits(rng, 10, out);
    let start = out.len();
    out.extend_from_slice(b",8949010");
    digits(rng, 11, out);
    let check = tutela_core::checksum::luhn_digit(&out[start + 1..]).unwrap_or(b'0');
    out.push(check);
    out.extend_from_slice(b",+49151");
    digits(rng, 8, out);
    out.push(b',');
    let start = out.len();
    out.extend_from_slice(TACS[rng.below(4)]);
    digits(rng, 6, out);
    let check = tutela_core::checksum::luhn_digit(&out[start..]).unwrap_or(b'0');
    out.push(check);
    let roaming = rng.chance(80);
    let _ = writeln!(
        out,
        ",{},26201-{}-{},{},iot.example.net,{},{},{},{},{}",
        if roaming { "20801" } else { "26201" },
        rng.below(65_536),
        rng.below(1 << 28),
        RATS[rng.below(4)],
        rng.next_u64() % 10_000_000_000,
        rng.below(100_000),
        rng.below(10_000_000),
        u8::from(roaming),
        CAUSES[rng.below(3)]
    );
}
/// A usage-record CSV of at least `bytes` bytes, the header first; the same for the same seed.
pub fn usage_csv(bytes: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(bytes + 256);
    out.extend_from_slice(USAGE_HEADER.as_bytes());
    let mut i = 0;
    while out.len() < bytes {
        usage_record(&mut rng, i, &mut out);
        i += 1;
    }
    out
}

/// The IMSI of the `i`-th SIM of the gate benchmarks (a German network, 15 digits).
pub fn bench_imsi(i: usize) -> String {
    format!("26201{:010}", i % 10_000_000_000)
}

/// A usage event of the `i`-th SIM at `ts_ms`, as the network would send it to the gate
/// (`policies/gate.toml` names its fields).
pub fn usage_event(i: usize, ts_ms: i64) -> String {
    format!(
        r#"{{"imsi":"{}","msisdn":"+4917{:08}","ts":{ts_ms},"cell":"26201-{}","rat":"nbiot","bytes_up":{},"bytes_down":{},"duration_ms":{}}}"#,
        bench_imsi(i),
        i % 100_000_000,
        i % 9973,
        (i * 37) % 4096,
        (i * 101) % 65536,
        (i * 7) % 60_000
    )
}

/// The gate's view of `pop`: its states, and the identifier index with the `i`-th person
/// linked to the `i`-th SIM's IMSI under the key `k1` of `keys`.
pub fn gate_index(
    pop: &Population,
    keys: &tutela_core::pseudonym::PseudonymKeys,
) -> (StateIndex, tutela_core::gate::IdentifierIndex) {
    let tokens = keys
        .domain(tutela_core::gate::TOKEN_DOMAIN, None)
        .unwrap_or_else(|e| unreachable!("{e}"));
    let mut ids = tutela_core::gate::IdentifierIndex::default();
    for (i, id) in pop.ids.iter().enumerate() {
        let token = tutela_core::gate::identifier_token(
            &tokens,
            tutela_core::pseudonym::Identifier::Imsi,
            &bench_imsi(i),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        ids.apply(
            id,
            &EventKind::Identifier {
                kind: tutela_core::pseudonym::Identifier::Imsi,
                key_id: tokens.key_id().to_owned(),
                token,
                active: true,
            },
        );
    }
    (index(pop), ids)
}
