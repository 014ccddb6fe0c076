//! Events through the gate's transform (issue 11): arbitrary bytes as an event of the
//! reference route, then as a message of JSON lines. Nothing may panic; every output (a
//! passed event or a dead letter) must be one JSON object, a passed event must carry
//! `expires_at` and no IMSI in clear, and every event of a message is counted.

use std::sync::OnceLock;

use tutela_core::compiled::CompiledPolicy;
use tutela_core::gate::{
    Gate, IdentifierIndex, Outputs, TOKEN_DOMAIN, Verdict, World, events, identifier_token,
    parse_routes,
};
use tutela_core::index::StateIndex;
use tutela_core::ledger::EventKind;
use tutela_core::policy::{MemoryLoader, load_policy};
use tutela_core::pseudonym::{Identifier, PseudonymKeys};

const IMSI: &str = "262011234567890";

struct Fixture {
    policy: CompiledPolicy,
    states: StateIndex,
    index: IdentifierIndex,
    keys: PseudonymKeys,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let loader = MemoryLoader::new().with(
            "reference.toml",
            include_str!("../../policies/reference.toml"),
        );
        let policy = CompiledPolicy::new(
            load_policy(&loader, "reference.toml").unwrap_or_else(|_| unreachable!()),
        );
        let keys = PseudonymKeys::new("k1", [3; 32]);
        let t = keys
            .domain(TOKEN_DOMAIN, None)
            .unwrap_or_else(|_| unreachable!());
        let link = EventKind::Identifier {
            kind: Identifier::Imsi,
            key_id: "k1".into(),
            token: identifier_token(&t, Identifier::Imsi, IMSI).unwrap_or_else(|_| unreachable!()),
            active: true,
        };
        let mut states = StateIndex::default();
        let mut index = IdentifierIndex::default();
        states.get_or_insert("alice").apply(&policy, &link);
        index.apply("alice", &link);
        Fixture {
            policy,
            states,
            index,
            keys,
        }
    })
}

/// The target's body, run on one input: a panic is a finding.
pub fn check(data: &[u8]) {
    let f = fixture();
    let route = parse_routes(
        "gate.toml",
        include_str!("../../policies/gate.toml"),
        &f.policy,
    )
    .unwrap_or_else(|_| unreachable!())
    .remove(0);
    let mut gate = Gate::new(route, f.keys.clone()).unwrap_or_else(|_| unreachable!());
    let world = World {
        policy: &f.policy,
        states: &f.states,
        index: &f.index,
        now: "2026-03-10T12:00:00Z"
            .parse()
            .unwrap_or_else(|_| unreachable!()),
    };
    let mut out = Vec::new();
    // Twice: the second run goes through the caches the first one filled.
    for _ in 0..2 {
        let verdict = gate.transform(data, &world, &mut out);
        match verdict {
            Verdict::Pass | Verdict::Dead(_) => {
                let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
                    panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out))
                });
                assert!(v.is_object());
                if verdict == Verdict::Pass {
                    assert!(v["expires_at"].is_string());
                    assert!(!String::from_utf8_lossy(&out).contains(IMSI));
                }
            }
            Verdict::Drop(_) | Verdict::Expired => assert!(out.is_empty()),
        }
    }
    // The same bytes as a message of JSON lines: every event counted, every output line one
    // JSON object.
    let before = gate.counts.total();
    let mut outputs = Outputs::default();
    gate.transform_message(data, &world, &mut outputs);
    assert_eq!(gate.counts.total() - before, events(data).count() as u64);
    for (_, body) in outputs.groups() {
        for line in body.split(|&b| b == b'\n') {
            let v: serde_json::Value = serde_json::from_slice(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(line)));
            assert!(v.is_object());
        }
    }
}
