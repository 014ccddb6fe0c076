//! Messages that carry several events, one JSON line each: a network element batches its
//! usage records, and the gate answers a message with at most one message per target
//! subject. A message is the unit of acknowledgement and deduplication, so a batch of events
//! costs the stream one stored message and one ack instead of one per event.

use super::{Gate, Verdict, World};

/// Where a group of outputs goes: events that passed, by the day they expire, or the dead
/// letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// `YYYYMMDD`, UTC.
    Expires([u8; 8]),
    DeadLetters,
}

impl Destination {
    /// The day the events expire on, `YYYYMMDD`; None for the dead letters.
    pub fn expiry_day(&self) -> Option<&str> {
        match self {
            Destination::Expires(day) => std::str::from_utf8(day).ok(),
            Destination::DeadLetters => None,
        }
    }
}

/// The outputs of one message, JSON lines grouped by destination, in the order the
/// destinations first occur. Reused from message to message.
#[derive(Debug, Default)]
pub struct Outputs {
    groups: Vec<(Destination, Vec<u8>)>,
    used: usize,
    scratch: Vec<u8>,
}

impl Outputs {
    /// The groups of the last message: destination and body (lines joined by `\n`).
    pub fn groups(&self) -> impl Iterator<Item = (&Destination, &[u8])> {
        self.groups[..self.used]
            .iter()
            .map(|(d, body)| (d, body.as_slice()))
    }

    fn clear(&mut self) {
        self.used = 0;
    }

    fn push(&mut self, destination: Destination, line: &[u8]) {
        let found = self.groups[..self.used]
            .iter()
            .position(|(d, _)| *d == destination);
        let i = match found {
            Some(i) => i,
            None => {
                if self.used == self.groups.len() {
                    self.groups.push((destination, Vec::new()));
                } else {
                    self.groups[self.used].0 = destination;
                    self.groups[self.used].1.clear();
                }
                self.used += 1;
                self.used - 1
            }
        };
        let body = &mut self.groups[i].1;
        if !body.is_empty() {
            body.push(b'\n');
        }
        body.extend_from_slice(line);
    }
}

/// The events of a message: its lines, without empty ones and without a line's trailing
/// `\r`. A message with no event at all is one (empty, so malformed) event, so that nothing
/// goes uncounted.
pub fn events(payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut lines = payload
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .peekable();
    let empty = lines.peek().is_none();
    lines.chain(empty.then_some(payload))
}

impl Gate {
    /// Runs every event of a message through the gate; `outputs` receives what is to be
    /// published, grouped by destination. Each event is counted as [`Gate::transform`] counts.
    pub fn transform_message(&mut self, payload: &[u8], world: &World<'_>, outputs: &mut Outputs) {
        outputs.clear();
        let mut line = std::mem::take(&mut outputs.scratch);
        for event in events(payload) {
            let destination = match self.transform(event, world, &mut line) {
                Verdict::Pass => {
                    let mut day = [b'0'; 8];
                    if let Ok(d) = <[u8; 8]>::try_from(self.expiry_day().as_bytes()) {
                        day = d;
                    }
                    Destination::Expires(day)
                }
                Verdict::Dead(_) => Destination::DeadLetters,
                Verdict::Drop(_) | Verdict::Expired => continue,
            };
            outputs.push(destination, &line);
        }
        outputs.scratch = line;
    }
}
