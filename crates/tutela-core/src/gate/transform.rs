//! One event through the gate: scan, find the person, decide, pseudonymise, give an expiry,
//! serialise. Pure: the policy, the states, the index and the time come in, a verdict and the
//! bytes to publish come out. Pseudonyms and tokens of values seen before come from bounded
//! caches, since a network's events name the same SIMs over and over.

use hashbrown::HashTable;
use rustc_hash::FxHashMap;

use super::config::{FieldAction, Route};
use super::index::{IdentifierIndex, TOKEN_DOMAIN, canonical, token128};
use super::json::{Member, ValueKind, scan_object};
use crate::compiled::CompiledPolicy;
use crate::index::StateIndex;
use crate::index::{Key, hash};
use crate::pseudonym::{DomainPseudonyms, KeyFileError, Method, PseudonymKeys};
use crate::reason::{Outcome, Reason};
use crate::state::SubjectState;

/// How far an event's timestamp may lie ahead of the gate's clock: devices' clocks drift, but
/// an event from the far future would carry an expiry far beyond its purpose's period.
pub const MAX_CLOCK_SKEW_MS: i64 = 24 * 3600 * 1000;

/// Entries per cache before it is emptied and refilled.
pub const CACHE_ENTRIES: usize = 1 << 20;

const DAY_MS: i64 = 86_400_000;

/// Values up to this many bytes are cached (every identifier is shorter).
const CACHED_VALUE: usize = 24;
/// Pseudonyms up to this many bytes are cached (an HMAC pseudonym has 32 hex digits).
const CACHED_PSEUDONYM: usize = 32;
/// Token keys whose tokens the cache holds; more (a second rotation still linked) are
/// computed per event.
const CACHED_TOKENS: usize = 2;

/// What the gate made of one value of one field, inline so that a hit costs one probe and no
/// pointer chase.
struct Entry {
    value: [u8; CACHED_VALUE],
    value_len: u8,
    /// 0 when the value is not the identifier its method needs.
    pseudonym_len: u8,
    /// Person field: whether the value is an identifier of the route's kind.
    identifier: bool,
    pseudonym: [u8; CACHED_PSEUDONYM],
    /// Person field: who the index links the value to, as it did when the entry was made;
    /// the entry is evicted when one of its tokens changes.
    subject: Option<Key>,
}

impl Entry {
    fn value(&self) -> &[u8] {
        &self.value[..usize::from(self.value_len)]
    }
}

/// Why an event went to the dead-letter subject. The string form is part of the contract of
/// the dead letters and of the gate's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadReason {
    Oversized,
    Malformed,
    BadTimestamp,
    NoIdentifier,
    BadIdentifier,
    UnknownIdentifier,
    Erased,
    Restricted,
}

impl DeadReason {
    pub const ALL: [DeadReason; 8] = [
        DeadReason::Oversized,
        DeadReason::Malformed,
        DeadReason::BadTimestamp,
        DeadReason::NoIdentifier,
        DeadReason::BadIdentifier,
        DeadReason::UnknownIdentifier,
        DeadReason::Erased,
        DeadReason::Restricted,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DeadReason::Oversized => "oversized",
            DeadReason::Malformed => "malformed",
            DeadReason::BadTimestamp => "bad_timestamp",
            DeadReason::NoIdentifier => "no_identifier",
            DeadReason::BadIdentifier => "bad_identifier",
            DeadReason::UnknownIdentifier => "unknown_identifier",
            DeadReason::Erased => "subject_erased",
            DeadReason::Restricted => "restricted",
        }
    }
}

/// What the gate did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Lawful: the output is the pseudonymised event for the target.
    Pass,
    /// No lawful basis for the route's purpose; nothing is published. The reason is the
    /// decision's.
    Drop(Reason),
    /// Past its `expires_at` already; nothing is published.
    Expired,
    /// The output is a dead letter naming the reason.
    Dead(DeadReason),
}

/// Events per verdict since the gate started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateCounts {
    pub passed: u64,
    pub expired: u64,
    pub dropped: FxHashMap<&'static str, u64>,
    pub dead: FxHashMap<&'static str, u64>,
    /// Members of events that the route does not declare, left out of the output.
    pub fields_dropped: u64,
    /// Events the stream delivered again (after a gate died or an ack was lost); the caller
    /// counts them, the target's deduplication stores their outputs once.
    pub redelivered: u64,
}

impl GateCounts {
    pub fn count(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Expired => self.expired += 1,
            Verdict::Drop(r) => *self.dropped.entry(r.code()).or_default() += 1,
            Verdict::Dead(d) => *self.dead.entry(d.code()).or_default() += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.passed
            + self.expired
            + self.dropped.values().sum::<u64>()
            + self.dead.values().sum::<u64>()
    }
}

/// What the gate needs to know of the world for one event.
#[derive(Clone, Copy)]
pub struct World<'a> {
    pub policy: &'a CompiledPolicy,
    pub states: &'a StateIndex,
    pub index: &'a IdentifierIndex,
    pub now: jiff::Timestamp,
}

/// A member the route declares (or its timestamp), in input order.
const TIMESTAMP: usize = usize::MAX;

struct Day {
    day: i64,
    /// The expiry of the day's first millisecond, in epoch milliseconds.
    expiry_ms: i64,
    /// The expiry day as `YYYY-MM-DDT`.
    prefix: [u8; 11],
}

/// The gate of one route: its pseudonyms, caches and counters.
pub struct Gate {
    route: Route,
    keys: PseudonymKeys,
    domain: DomainPseudonyms,
    /// Token keys in the order of the index's key ids; `None` for an id the key file lacks.
    token_keys: Vec<Option<DomainPseudonyms>>,
    /// Per field: the pseudonyms (and for the person field the person) of values seen.
    cache: Vec<HashTable<Entry>>,
    /// The person field's cached values by token, to evict them when the index changes.
    by_token: FxHashMap<u128, ([u8; CACHED_VALUE], u8)>,
    /// The index's change count the cache is up to date with.
    seen_changes: u64,
    day: Option<Day>,
    members: Vec<(usize, Member)>,
    /// The expiry day (`YYYYMMDD`) of the last event that passed.
    expiry_day: [u8; 8],
    pub counts: GateCounts,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("route", &self.route.id)
            .finish_non_exhaustive()
    }
}

fn inner<'e>(input: &'e [u8], m: &Member) -> Option<&'e [u8]> {
    match m.kind {
        ValueKind::String { escaped: false } => input.get(m.value.start + 1..m.value.end - 1),
        ValueKind::Number => input.get(m.value.clone()),
        _ => None,
    }
}

fn parse_millis(digits: &[u8]) -> Option<i64> {
    let (neg, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some(if neg { -n } else { n })
}

fn push_2(out: &mut Vec<u8>, n: i64) {
    out.push(b'0' + (n / 10 % 10) as u8);
    out.push(b'0' + (n % 10) as u8);
}

impl Gate {
    /// The gate of `route` with the active pseudonymisation key of the route's domain.
    pub fn new(route: Route, keys: PseudonymKeys) -> Result<Gate, KeyFileError> {
        let domain = keys.domain(route.domain(), None)?;
        let cache = route.fields.iter().map(|_| HashTable::new()).collect();
        Ok(Gate {
            route,
            keys,
            domain,
            token_keys: Vec::new(),
            cache,
            by_token: FxHashMap::default(),
            seen_changes: 0,
            day: None,
            members: Vec::with_capacity(16),
            expiry_day: *b"00000000",
            counts: GateCounts::default(),
        })
    }

    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The day (UTC, `YYYYMMDD`) the last event that passed expires on: the caller files
    /// events by it, so that a whole day can be deleted when it comes.
    pub fn expiry_day(&self) -> &str {
        std::str::from_utf8(&self.expiry_day).unwrap_or("00000000")
    }

    /// Key ids of the index that the key file lacks: identifiers linked under them are unknown
    /// to this gate.
    pub fn missing_keys<'a>(&self, index: &'a IdentifierIndex) -> Vec<&'a str> {
        index
            .key_ids()
            .filter(|id| self.keys.domain(TOKEN_DOMAIN, Some(id)).is_err())
            .collect()
    }

    fn sync_token_keys(&mut self, index: &IdentifierIndex) {
        if self.token_keys.len() == index.key_ids().count() {
            return;
        }
        self.token_keys = index
            .key_ids()
            .map(|id| self.keys.domain(TOKEN_DOMAIN, Some(id)).ok())
            .collect();
        for c in &mut self.cache {
            c.clear();
        }
        self.by_token.clear();
    }

    /// Evicts the persons whose tokens the index changed since the last event.
    fn sync_changes(&mut self, index: &IdentifierIndex) {
        if index.changed() == self.seen_changes {
            return;
        }
        let person = &mut self.cache[self.route.person];
        match index.changes_since(self.seen_changes) {
            Some(tokens) => {
                for t in tokens {
                    if let Some((v, len)) = self.by_token.remove(&t) {
                        let value = &v[..usize::from(len)];
                        if let Ok(e) = person.find_entry(hash(value), |e| e.value() == value) {
                            e.remove();
                        }
                    }
                }
            }
            None => {
                person.clear();
                self.by_token.clear();
            }
        }
        self.seen_changes = index.changed();
    }

    fn tokens_of(&self, digits: &[u8], out: &mut [u128]) {
        let kind = self.route.person_kind;
        for (t, k) in out.iter_mut().zip(&self.token_keys) {
            *t = k.as_ref().map_or(0, |k| token128(k, kind, digits));
        }
    }

    /// The cache entry of `value` in field `f`, made on a miss.
    fn entry(&mut self, f: usize, value: &[u8], index: &IdentifierIndex) -> Option<&Entry> {
        let person = f == self.route.person;
        if value.len() > CACHED_VALUE || (person && self.token_keys.len() > CACHED_TOKENS) {
            return None;
        }
        let h = hash(value);
        if self.cache[f].find(h, |e| e.value() == value).is_none() {
            let mut e = Entry {
                value: [0; CACHED_VALUE],
                value_len: value.len() as u8,
                pseudonym_len: 0,
                identifier: false,
                pseudonym: [0; CACHED_PSEUDONYM],
                subject: None,
            };
            e.value[..value.len()].copy_from_slice(value);
            let mut p = Vec::with_capacity(CACHED_PSEUDONYM);
            if let FieldAction::Pseudonym(method) = self.route.fields[f].action
                && self.make_pseudonym(method, value, &mut p)
                && p.len() <= CACHED_PSEUDONYM
            {
                e.pseudonym[..p.len()].copy_from_slice(&p);
                e.pseudonym_len = p.len() as u8;
            }
            let cache_full = self.cache[f].len() >= CACHE_ENTRIES;
            if cache_full {
                self.cache[f].clear();
                if person {
                    self.by_token.clear();
                }
            }
            if person && let Ok(digits) = canonical(self.route.person_kind, value) {
                let mut tokens = [0; CACHED_TOKENS];
                let tokens = &mut tokens[..self.token_keys.len()];
                self.tokens_of(digits, tokens);
                e.identifier = true;
                e.subject = self.find(tokens, index).map(Key::new);
                for (k, &t) in tokens.iter().enumerate() {
                    if self.token_keys[k].is_some() {
                        self.by_token.insert(t, (e.value, e.value_len));
                    }
                }
            }
            self.cache[f].insert_unique(h, e, |e| hash(e.value()));
        }
        self.cache[f].find(h, |e| e.value() == value)
    }

    fn find<'w>(&self, tokens: &[u128], index: &'w IdentifierIndex) -> Option<&'w str> {
        tokens
            .iter()
            .enumerate()
            .filter(|(k, _)| self.token_keys[*k].is_some())
            .find_map(|(k, &t)| index.person(k, t))
    }

    /// The state of the person behind the identifier in `value`: `Err` when it is no such
    /// identifier, `Ok(None)` when no person is linked to it.
    fn person_state(
        &mut self,
        value: &[u8],
        world: &World<'_>,
    ) -> Result<Option<SubjectState>, ()> {
        if let Some(e) = self.entry(self.route.person, value, world.index) {
            if !e.identifier {
                return Err(());
            }
            return Ok(e.subject.as_ref().map(|s| *world.states.state(s.as_str())));
        }
        let digits = canonical(self.route.person_kind, value).map_err(|_| ())?;
        let mut tokens = vec![0; self.token_keys.len()];
        self.tokens_of(digits, &mut tokens);
        Ok(self
            .find(&tokens, world.index)
            .map(|s| *world.states.state(s)))
    }

    fn make_pseudonym(&self, method: Method, value: &[u8], out: &mut Vec<u8>) -> bool {
        match method {
            Method::Hmac => {
                self.domain.hmac_into(value, out);
                true
            }
            Method::Ff1(_) => match std::str::from_utf8(value)
                .ok()
                .and_then(|v| self.domain.pseudonym(method, v).ok())
            {
                Some(p) => {
                    out.extend_from_slice(p.as_bytes());
                    true
                }
                None => false,
            },
        }
    }

    /// Appends the pseudonym of `value` for field `f`, quoted; `false` when the value is not
    /// the identifier the method needs.
    fn pseudonym_into(
        &mut self,
        f: usize,
        method: Method,
        value: &[u8],
        index: &IdentifierIndex,
        out: &mut Vec<u8>,
    ) -> bool {
        out.push(b'"');
        // An HMAC costs less than a cache miss; only FF1 pseudonyms (and the person's tokens)
        // are worth remembering.
        let cached = match method {
            Method::Hmac if f != self.route.person => None,
            _ => self.entry(f, value, index),
        };
        let made = match cached {
            Some(e) => {
                out.extend_from_slice(&e.pseudonym[..usize::from(e.pseudonym_len)]);
                e.pseudonym_len > 0
            }
            None => self.make_pseudonym(method, value, out),
        };
        out.push(b'"');
        made
    }

    /// The expiry of an event at `ts_ms`, in epoch milliseconds, and the day it falls on.
    fn expiry(&mut self, ts_ms: i64) -> Option<(i64, [u8; 11])> {
        let day = ts_ms.div_euclid(DAY_MS);
        if self.day.as_ref().is_none_or(|d| d.day != day) {
            let start = jiff::Timestamp::from_millisecond(day.checked_mul(DAY_MS)?).ok()?;
            let end = start
                .to_zoned(jiff::tz::TimeZone::UTC)
                .checked_add(self.route.period.to_span())
                .ok()?;
            let date = end.date();
            let mut prefix = *b"0000-00-00T";
            let y = i64::from(date.year());
            if !(0..=9999).contains(&y) {
                return None;
            }
            for (i, div) in [1000, 100, 10, 1].into_iter().enumerate() {
                prefix[i] = b'0' + (y / div % 10) as u8;
            }
            let (m, d) = (i64::from(date.month()), i64::from(date.day()));
            prefix[5] = b'0' + (m / 10) as u8;
            prefix[6] = b'0' + (m % 10) as u8;
            prefix[8] = b'0' + (d / 10) as u8;
            prefix[9] = b'0' + (d % 10) as u8;
            self.day = Some(Day {
                day,
                expiry_ms: end.timestamp().as_millisecond(),
                prefix,
            });
        }
        let d = self.day.as_ref()?;
        Some((d.expiry_ms + (ts_ms - day * DAY_MS), d.prefix))
    }

    /// Runs one event through the gate. `out` is cleared and receives the bytes to publish:
    /// the pseudonymised event for [`Verdict::Pass`], the dead letter for [`Verdict::Dead`],
    /// nothing otherwise. The verdict is counted.
    pub fn transform(&mut self, event: &[u8], world: &World<'_>, out: &mut Vec<u8>) -> Verdict {
        out.clear();
        let verdict = self.judge(event, world, out);
        self.counts.count(verdict);
        verdict
    }

    fn judge(&mut self, event: &[u8], world: &World<'_>, out: &mut Vec<u8>) -> Verdict {
        if event.len() > self.route.max_event_bytes {
            return self.dead_without_event(DeadReason::Oversized, None, event.len(), out);
        }
        self.sync_token_keys(world.index);
        self.sync_changes(world.index);
        let mut members = std::mem::take(&mut self.members);
        members.clear();
        let mut seen = 0u64;
        let mut duplicate = None;
        let mut undeclared = 0u64;
        let fields = &self.route.fields;
        let timestamp = self.route.timestamp.as_bytes();
        let scanned = scan_object(event, |m| {
            let key = &event[m.key.clone()];
            let slot = if m.key_escaped {
                None
            } else if key == timestamp {
                Some((TIMESTAMP, 63))
            } else {
                fields
                    .iter()
                    .position(|f| f.name.as_bytes() == key)
                    .map(|i| (i, i))
            };
            match slot {
                Some((i, bit)) => {
                    if seen & (1 << bit) != 0 {
                        duplicate.get_or_insert(m.key.start);
                    }
                    seen |= 1 << bit;
                    members.push((i, m));
                }
                None => undeclared += 1,
            }
        });
        let verdict = match (scanned, duplicate) {
            (Err(e), _) => {
                self.dead_without_event(DeadReason::Malformed, Some(e.offset), event.len(), out)
            }
            (Ok(()), Some(offset)) => {
                self.dead_without_event(DeadReason::Malformed, Some(offset), event.len(), out)
            }
            (Ok(()), None) => {
                self.counts.fields_dropped += undeclared;
                self.judge_members(event, &members, world, out)
            }
        };
        self.members = members;
        verdict
    }

    fn judge_members(
        &mut self,
        event: &[u8],
        members: &[(usize, Member)],
        world: &World<'_>,
        out: &mut Vec<u8>,
    ) -> Verdict {
        let person_field = self.route.person;
        let Some((_, pm)) = members.iter().find(|(i, _)| *i == person_field) else {
            return self.dead_letter(DeadReason::NoIdentifier, event, members, world.index, out);
        };
        let Some(value) = inner(event, pm) else {
            return self.dead_letter(DeadReason::BadIdentifier, event, members, world.index, out);
        };
        let state = match self.person_state(value, world) {
            Err(()) => {
                return self.dead_letter(
                    DeadReason::BadIdentifier,
                    event,
                    members,
                    world.index,
                    out,
                );
            }
            Ok(None) => {
                return self.dead_letter(
                    DeadReason::UnknownIdentifier,
                    event,
                    members,
                    world.index,
                    out,
                );
            }
            Ok(Some(s)) => s,
        };
        let now_ms = world.now.as_millisecond();
        let ts = members
            .iter()
            .find(|(i, _)| *i == TIMESTAMP)
            .and_then(|(_, m)| match m.kind {
                ValueKind::Number => parse_millis(&event[m.value.clone()]),
                ValueKind::String { escaped: false } => std::str::from_utf8(inner(event, m)?)
                    .ok()?
                    .parse::<jiff::Timestamp>()
                    .ok()
                    .map(|t| t.as_millisecond()),
                _ => None,
            })
            .filter(|&ts| ts <= now_ms.saturating_add(MAX_CLOCK_SKEW_MS));
        let Some((ts, (expiry_ms, prefix))) = ts.and_then(|ts| Some((ts, self.expiry(ts)?))) else {
            return self.dead_letter(DeadReason::BadTimestamp, event, members, world.index, out);
        };
        let decision = world.policy.decide(&state, &self.route.query, world.now);
        if decision.outcome != Outcome::Allow {
            return match decision.reason {
                Reason::Erased => {
                    self.dead_letter(DeadReason::Erased, event, members, world.index, out)
                }
                Reason::Restricted => {
                    self.dead_letter(DeadReason::Restricted, event, members, world.index, out)
                }
                reason => Verdict::Drop(reason),
            };
        }
        if expiry_ms <= now_ms {
            return Verdict::Expired;
        }
        if !self.write_event(event, members, world.index, out) {
            out.clear();
            return self.dead_letter(DeadReason::BadIdentifier, event, members, world.index, out);
        }
        for (to, from) in self.expiry_day.iter_mut().zip([0, 1, 2, 3, 5, 6, 8, 9]) {
            *to = prefix[from];
        }
        out.pop();
        out.extend_from_slice(b",\"expires_at\":\"");
        out.extend_from_slice(&prefix);
        let tod = ts - ts.div_euclid(DAY_MS) * DAY_MS;
        push_2(out, tod / 3_600_000);
        out.push(b':');
        push_2(out, tod / 60_000 % 60);
        out.push(b':');
        push_2(out, tod / 1000 % 60);
        out.push(b'.');
        let ms = tod % 1000;
        out.push(b'0' + (ms / 100) as u8);
        push_2(out, ms);
        out.extend_from_slice(b"Z\"}");
        Verdict::Pass
    }

    /// Writes the declared members in input order, identifiers pseudonymised, as an object.
    /// `false` when an identifier is not what its method needs (written as `null`).
    fn write_event(
        &mut self,
        event: &[u8],
        members: &[(usize, Member)],
        index: &IdentifierIndex,
        out: &mut Vec<u8>,
    ) -> bool {
        let mut ok = true;
        out.push(b'{');
        for (n, (i, m)) in members.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(&event[m.key.clone()]);
            out.extend_from_slice(b"\":");
            let action = match *i {
                TIMESTAMP => FieldAction::Keep,
                i => self.route.fields[i].action,
            };
            match action {
                FieldAction::Keep => out.extend_from_slice(&event[m.value.clone()]),
                FieldAction::Pseudonym(method) => {
                    let mark = out.len();
                    let written = inner(event, m)
                        .is_some_and(|v| self.pseudonym_into(*i, method, v, index, out));
                    if !written {
                        out.truncate(mark);
                        out.extend_from_slice(b"null");
                        ok = false;
                    }
                }
            }
        }
        out.push(b'}');
        ok
    }

    fn dead_head(&self, reason: DeadReason, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"route\":\"");
        out.extend_from_slice(self.route.id.as_bytes());
        out.extend_from_slice(b"\",\"reason\":\"");
        out.extend_from_slice(reason.code().as_bytes());
        out.push(b'"');
    }

    /// A dead letter with the event's declared members, identifiers pseudonymised.
    fn dead_letter(
        &mut self,
        reason: DeadReason,
        event: &[u8],
        members: &[(usize, Member)],
        index: &IdentifierIndex,
        out: &mut Vec<u8>,
    ) -> Verdict {
        out.clear();
        self.dead_head(reason, out);
        out.extend_from_slice(b",\"event\":");
        self.write_event(event, members, index, out);
        out.push(b'}');
        Verdict::Dead(reason)
    }

    /// A dead letter for an event the gate cannot read: its bytes may hold identifiers the
    /// gate cannot find, so only the size and where reading failed go with it.
    fn dead_without_event(
        &mut self,
        reason: DeadReason,
        offset: Option<usize>,
        size: usize,
        out: &mut Vec<u8>,
    ) -> Verdict {
        out.clear();
        self.dead_head(reason, out);
        out.extend_from_slice(format!(",\"size\":{size}").as_bytes());
        if let Some(offset) = offset {
            out.extend_from_slice(format!(",\"offset\":{offset}").as_bytes());
        }
        out.push(b'}');
        Verdict::Dead(reason)
    }
}
