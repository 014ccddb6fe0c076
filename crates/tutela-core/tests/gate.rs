//! The gate's transform (N7b, N19): every verdict, the pseudonyms, the expiry, and route
//! errors with line and column.

use tutela_core::compiled::CompiledPolicy;
use tutela_core::gate::{
    DeadReason, Destination, Gate, IdentifierIndex, Outputs, Route, TOKEN_DOMAIN, Verdict, World,
    identifier_token, parse_routes,
};
use tutela_core::index::StateIndex;
use tutela_core::ledger::{EventKind, ObjectionScope};
use tutela_core::pseudonym::{Identifier, PseudonymKeys};

use crate::support::compiled;

const ROUTES: &str = include_str!("../../../policies/gate.toml");
const IMSI: &str = "262011234567890";
const MSISDN: &str = "+491701234567";

struct Fixture {
    policy: CompiledPolicy,
    keys: PseudonymKeys,
    states: StateIndex,
    index: IdentifierIndex,
}

fn now() -> jiff::Timestamp {
    "2026-03-10T12:00:00Z"
        .parse()
        .unwrap_or_else(|e| unreachable!("{e}"))
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            policy: compiled(),
            keys: PseudonymKeys::new("k1", [9; 32]),
            states: StateIndex::default(),
            index: IdentifierIndex::default(),
        }
    }

    fn apply(&mut self, subject: &str, kind: EventKind) {
        self.states
            .get_or_insert(subject)
            .apply(&self.policy, &kind);
        self.index.apply(subject, &kind);
    }

    fn link(&mut self, subject: &str, kind: Identifier, value: &str) {
        let k = self
            .keys
            .domain(TOKEN_DOMAIN, None)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let token = identifier_token(&k, kind, value).unwrap_or_else(|e| unreachable!("{e}"));
        self.apply(
            subject,
            EventKind::Identifier {
                kind,
                key_id: "k1".into(),
                token,
                active: true,
            },
        );
    }

    fn route(&self) -> Route {
        parse_routes("gate.toml", ROUTES, &self.policy)
            .unwrap_or_else(|e| unreachable!("{e}"))
            .remove(0)
    }

    fn gate(&self) -> Gate {
        Gate::new(self.route(), self.keys.clone()).unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn run(&self, gate: &mut Gate, event: &str) -> (Verdict, String) {
        let world = World {
            policy: &self.policy,
            states: &self.states,
            index: &self.index,
            now: now(),
        };
        let mut out = Vec::new();
        let v = gate.transform(event.as_bytes(), &world, &mut out);
        (
            v,
            String::from_utf8(out).unwrap_or_else(|e| unreachable!("{e}")),
        )
    }
}

fn event(ts: &str) -> String {
    format!(
        r#"{{"imsi":"{IMSI}","msisdn":"{MSISDN}","ts":{ts},"cell":"26201-4711","bytes_up":1200,"bytes_down":98000,"secret_note":"x"}}"#
    )
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| unreachable!("{e}: {s}"))
}

// covers: N7b
#[test]
fn lawful_events_leave_pseudonymised_with_their_expiry() {
    let mut f = Fixture::new();
    f.link("alice", Identifier::Imsi, IMSI);
    let mut gate = f.gate();
    let (v, out) = f.run(&mut gate, &event("1773144000123"));
    assert_eq!(v, Verdict::Pass, "{out}");
    let o = json(&out);
    let imsi = o["imsi"].as_str().unwrap_or_default();
    assert_eq!(imsi.len(), 15);
    assert!(
        imsi.starts_with("26201"),
        "the country and network code stay: {imsi}"
    );
    assert_ne!(imsi, IMSI);
    assert_eq!(o["msisdn"].as_str().map(str::len), Some(32));
    assert!(!out.contains("491701234567"));
    assert_eq!(o["ts"], 1_773_144_000_123_i64);
    assert_eq!(o["bytes_down"], 98000);
    assert!(
        o.get("secret_note").is_none(),
        "undeclared fields stay behind"
    );
    // 2026-03-10T12:00:00.123Z plus the three months of service_quality_data.
    assert_eq!(o["expires_at"], "2026-06-10T12:00:00.123Z");
    assert_eq!(gate.expiry_day(), "20260610");
    assert_eq!(gate.counts.fields_dropped, 1);
    // The same event again gives the same bytes (the caches change nothing).
    let (_, again) = f.run(&mut gate, &event("1773144000123"));
    assert_eq!(again, out);
    // An RFC 3339 timestamp is passed on as it came, with the same expiry.
    let (v, out) = f.run(&mut gate, &event("\"2026-03-10T12:00:00.123Z\""));
    assert_eq!(v, Verdict::Pass);
    assert_eq!(json(&out)["expires_at"], "2026-06-10T12:00:00.123Z");
    // Another domain's key gives other pseudonyms: they cannot be joined.
    let mut other = Gate::new(f.route(), PseudonymKeys::new("k2", [10; 32]))
        .unwrap_or_else(|e| unreachable!("{e}"));
    let (_, theirs) = f.run(&mut other, &event("1773144000123"));
    assert_ne!(json(&theirs)["imsi"], o["imsi"]);
}

// covers: N7b, N8
#[test]
fn an_objection_takes_effect_for_the_very_next_event() {
    let mut f = Fixture::new();
    f.link("alice", Identifier::Imsi, IMSI);
    let mut gate = f.gate();
    assert_eq!(f.run(&mut gate, &event("1773144000000")).0, Verdict::Pass);
    f.apply(
        "alice",
        EventKind::Objection {
            scope: ObjectionScope::Purpose("service_quality_analysis".into()),
        },
    );
    let (v, out) = f.run(&mut gate, &event("1773144000001"));
    assert!(
        matches!(v, Verdict::Drop(r) if r.code() == "objected"),
        "{v:?}"
    );
    assert!(out.is_empty());
    assert_eq!(gate.counts.dropped.get("objected"), Some(&1));
    assert_eq!(gate.counts.passed, 1);
}

// covers: N7b
#[test]
fn erased_restricted_and_unknown_persons_go_to_dead_letters_pseudonymised() {
    let mut f = Fixture::new();
    f.link("alice", Identifier::Imsi, IMSI);
    f.link("bob", Identifier::Imsi, "262019999999999");
    f.apply("alice", EventKind::Erasure);
    f.apply("bob", EventKind::Restriction { active: true });
    let mut gate = f.gate();
    let (v, out) = f.run(&mut gate, &event("1773144000000"));
    assert_eq!(v, Verdict::Dead(DeadReason::Erased));
    let o = json(&out);
    assert_eq!(o["reason"], "subject_erased");
    assert_eq!(o["route"], "quality");
    assert!(
        !out.contains(IMSI) && !out.contains("491701234567"),
        "{out}"
    );
    let bob = event("1773144000000").replace(IMSI, "262019999999999");
    assert_eq!(
        f.run(&mut gate, &bob).0,
        Verdict::Dead(DeadReason::Restricted)
    );
    let stranger = event("1773144000000").replace(IMSI, "262015555555555");
    let (v, out) = f.run(&mut gate, &stranger);
    assert_eq!(v, Verdict::Dead(DeadReason::UnknownIdentifier));
    assert!(!out.contains("262015555555555"));
    assert_eq!(gate.counts.dead.len(), 3);
}

#[test]
fn bad_events_are_counted_dead_letters_never_crashes() {
    let mut f = Fixture::new();
    f.link("alice", Identifier::Imsi, IMSI);
    let mut gate = f.gate();
    let cases: Vec<(String, DeadReason)> = vec![
        (
            format!("{{\"imsi\":\"{IMSI}\",\"ts\":1"),
            DeadReason::Malformed,
        ),
        (
            format!("{{\"imsi\":\"{IMSI}\",\"imsi\":\"1\",\"ts\":1}}"),
            DeadReason::Malformed,
        ),
        ("not json".into(), DeadReason::Malformed),
        (
            format!("{{\"imsi\":\"{IMSI}\",\"pad\":\"{}\"}}", "x".repeat(9000)),
            DeadReason::Oversized,
        ),
        (
            r#"{"ts":1773144000000,"bytes_up":1}"#.into(),
            DeadReason::NoIdentifier,
        ),
        (
            r#"{"imsi":"12ab","ts":1773144000000}"#.into(),
            DeadReason::BadIdentifier,
        ),
        (
            r#"{"imsi":{"a":1},"ts":1773144000000}"#.into(),
            DeadReason::BadIdentifier,
        ),
        (format!("{{\"imsi\":\"{IMSI}\"}}"), DeadReason::BadTimestamp),
        (
            format!("{{\"imsi\":\"{IMSI}\",\"ts\":\"yesterday\"}}"),
            DeadReason::BadTimestamp,
        ),
        (
            format!("{{\"imsi\":\"{IMSI}\",\"ts\":1.5}}"),
            DeadReason::BadTimestamp,
        ),
        // A year ahead of the clock: its expiry would outlast the purpose's period.
        (
            format!("{{\"imsi\":\"{IMSI}\",\"ts\":1804680000000}}"),
            DeadReason::BadTimestamp,
        ),
        (
            format!("{{\"imsi\":\"{IMSI}\",\"ts\":1773144000000,\"imei\":\"35\"}}"),
            DeadReason::BadIdentifier,
        ),
    ];
    for (input, reason) in &cases {
        let (v, out) = f.run(&mut gate, input);
        assert_eq!(v, Verdict::Dead(*reason), "{input}");
        let o = json(&out);
        assert_eq!(o["reason"], reason.code());
        assert!(!out.contains(IMSI), "{out}");
    }
    let malformed = json(&f.run(&mut gate, &cases[0].0).1);
    assert_eq!(malformed["offset"], 32, "the end of the input");
    assert_eq!(gate.counts.total(), cases.len() as u64 + 1);
}

// covers: N7b
#[test]
fn events_past_their_expiry_are_dropped_and_counted() {
    let mut f = Fixture::new();
    f.link("alice", Identifier::Imsi, IMSI);
    let mut gate = f.gate();
    // 2025-12-01: three months later is 2026-03-01, before the gate's clock.
    let (v, out) = f.run(&mut gate, &event("1764590400000"));
    assert_eq!(v, Verdict::Expired);
    assert!(out.is_empty());
    assert_eq!(gate.counts.expired, 1);
}

#[test]
fn a_reassigned_identifier_follows_its_latest_link() {
    let mut f = Fixture::new();
    f.link("alice", Identifier::Imsi, IMSI);
    let mut gate = f.gate();
    assert_eq!(f.run(&mut gate, &event("1773144000000")).0, Verdict::Pass);
    f.apply("alice", EventKind::Restriction { active: true });
    f.link("bob", Identifier::Imsi, IMSI);
    assert_eq!(f.run(&mut gate, &event("1773144000000")).0, Verdict::Pass);
    // A key rotation: links under the new key are found beside the old ones.
    f.keys.rotate("k2", [11; 32]);
    let k2 = f
        .keys
        .domain(TOKEN_DOMAIN, None)
        .unwrap_or_else(|e| unreachable!("{e}"));
    let carol = "262017777777777";
    let token =
        identifier_token(&k2, Identifier::Imsi, carol).unwrap_or_else(|e| unreachable!("{e}"));
    f.apply(
        "carol",
        EventKind::Identifier {
            kind: Identifier::Imsi,
            key_id: "k2".into(),
            token,
            active: true,
        },
    );
    let mut gate = f.gate();
    assert_eq!(
        f.run(&mut gate, &event("1773144000000").replace(IMSI, carol))
            .0,
        Verdict::Pass
    );
    assert_eq!(f.run(&mut gate, &event("1773144000000")).0, Verdict::Pass);
}

#[test]
fn route_errors_name_line_and_column() {
    let policy = compiled();
    let err = |text: &str| match parse_routes("r.toml", text, &policy) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    let base = ROUTES.replace("usage.quality.dead", "usage.q.dead");
    assert!(err(&base).is_empty());
    let bad = base.replace("service_quality_analysis", "tracking");
    assert!(
        err(&bad).contains("r.toml:10:11: error: unknown purpose `tracking`"),
        "{}",
        err(&bad)
    );
    let bad = base.replace("pseudonym = \"ff1\"        #", "#");
    assert!(
        err(&bad).contains("would leave the gate in clear"),
        "{}",
        err(&bad)
    );
    let bad = base.replace("category = \"usage\"", "category = \"payment\"");
    assert!(
        err(&bad).contains("does not process `payment`"),
        "{}",
        err(&bad)
    );
    let bad = base.replace("target = \"usage.quality\"", "target = \"usage.*\"");
    assert!(
        err(&bad).contains(":8:10: error: `usage.*` is not a NATS subject"),
        "{}",
        err(&bad)
    );
    let bad = base.replace(
        "purpose = \"service_quality_analysis\"",
        "purpose = \"statistics\"",
    );
    assert!(err(&bad).contains("has no retention rule"), "{}", err(&bad));
    let bad = base.replace("timestamp = \"ts\"", "timestamp = \"ts\"\nspeed = 1");
    assert!(err(&bad).contains("unknown field `speed`"), "{}", err(&bad));
    let bad = base.replace("name = \"cell\"", "name = \"imsi\"");
    assert!(err(&bad).contains("declared twice"), "{}", err(&bad));
}

#[test]
fn a_link_or_unlink_reaches_a_running_gate_for_the_very_next_event() {
    let mut f = Fixture::new();
    let mut gate = f.gate();
    assert_eq!(
        f.run(&mut gate, &event("1773144000000")).0,
        Verdict::Dead(DeadReason::UnknownIdentifier)
    );
    f.link("alice", Identifier::Imsi, IMSI);
    assert_eq!(f.run(&mut gate, &event("1773144000000")).0, Verdict::Pass);
    let k = f
        .keys
        .domain(TOKEN_DOMAIN, None)
        .unwrap_or_else(|e| unreachable!("{e}"));
    let token =
        identifier_token(&k, Identifier::Imsi, IMSI).unwrap_or_else(|e| unreachable!("{e}"));
    f.apply(
        "alice",
        EventKind::Identifier {
            kind: Identifier::Imsi,
            key_id: "k1".into(),
            token,
            active: false,
        },
    );
    assert_eq!(
        f.run(&mut gate, &event("1773144000000")).0,
        Verdict::Dead(DeadReason::UnknownIdentifier)
    );
}

// covers: N7b
#[test]
fn a_message_of_several_events_gives_one_output_per_destination() {
    let mut f = Fixture::new();
    f.link("alice", Identifier::Imsi, IMSI);
    f.link("bob", Identifier::Imsi, "262019999999999");
    f.apply(
        "bob",
        EventKind::Objection {
            scope: ObjectionScope::Purpose("service_quality_analysis".into()),
        },
    );
    let mut gate = f.gate();
    let world = World {
        policy: &f.policy,
        states: &f.states,
        index: &f.index,
        now: now(),
    };
    let bob = event("1773144000000").replace(IMSI, "262019999999999");
    // Two of alice's events a month apart, bob's (objected), a malformed line, a blank line
    // and CRLF line ends.
    let message = format!(
        "{}\r\n{bob}\n\n{{\"imsi\":\n{}\r\n",
        event("1773144000000"),
        event("1770724800000")
    );
    let mut outputs = Outputs::default();
    gate.transform_message(message.as_bytes(), &world, &mut outputs);
    let groups: Vec<(Destination, String)> = outputs
        .groups()
        .map(|(d, b)| (*d, String::from_utf8_lossy(b).into_owned()))
        .collect();
    let days: Vec<Option<&str>> = groups.iter().map(|(d, _)| d.expiry_day()).collect();
    assert_eq!(
        days,
        [Some("20260610"), None, Some("20260510")],
        "{groups:?}"
    );
    for (_, body) in &groups {
        assert_eq!(body.lines().count(), 1, "{body}");
        assert!(!body.contains(IMSI), "{body}");
    }
    assert_eq!(json(&groups[1].1)["reason"], "malformed");
    assert_eq!(gate.counts.passed, 2);
    assert_eq!(gate.counts.dropped.get("objected"), Some(&1));
    assert_eq!(gate.counts.total(), 4);
    // The same day twice is one output of two lines.
    let twice = format!("{}\n{}", event("1773144000000"), event("1773144000001"));
    gate.transform_message(twice.as_bytes(), &world, &mut outputs);
    let bodies: Vec<&[u8]> = outputs.groups().map(|(_, b)| b).collect();
    assert_eq!(bodies.len(), 1);
    assert_eq!(String::from_utf8_lossy(bodies[0]).lines().count(), 2);
    // An empty message is one malformed event, counted, never nothing.
    gate.transform_message(b"", &world, &mut outputs);
    assert_eq!(outputs.groups().count(), 1);
    assert_eq!(gate.counts.total(), 7);
}
