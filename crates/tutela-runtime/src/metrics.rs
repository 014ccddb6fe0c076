//! Prometheus metrics, kept in atomics. Labels never carry personal data: only outcomes,
//! reason codes and status classes.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use tutela_core::reason::{Outcome, Reason};

static HTTP: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
static DECISIONS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
static REASONS: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];
static LEDGER_WRITES: AtomicU64 = AtomicU64::new(0);
static LEDGER_FOLLOWED: AtomicU64 = AtomicU64::new(0);
static REQUESTS_OVERDUE: AtomicU64 = AtomicU64::new(0);
static REQUESTS_OPEN: AtomicU64 = AtomicU64::new(0);
static REQUEST_STEP_FAILURES: AtomicU64 = AtomicU64::new(0);
static EVENTS_PUBLISHED: AtomicU64 = AtomicU64::new(0);
static EVENTS_FAILURES: AtomicU64 = AtomicU64::new(0);
static EVENTS_LEDGER_CURSOR: AtomicU64 = AtomicU64::new(0);

/// Rows of the ledgers stored in the event stream (crate::events).
pub fn events_published(rows: u64) {
    EVENTS_PUBLISHED.fetch_add(rows, Ordering::Relaxed);
}

pub fn events_failed() {
    EVENTS_FAILURES.fetch_add(1, Ordering::Relaxed);
}

/// The ledger sequence number the event stream holds every row up to.
pub fn events_ledger_cursor(seq: u64) {
    EVENTS_LEDGER_CURSOR.fetch_max(seq, Ordering::Relaxed);
}

/// Open and overdue requests, as the request worker last counted them.
pub fn requests(open: u64, overdue: u64) {
    REQUESTS_OPEN.store(open, Ordering::Relaxed);
    REQUESTS_OVERDUE.store(overdue, Ordering::Relaxed);
}

pub fn request_step_failed() {
    REQUEST_STEP_FAILURES.fetch_add(1, Ordering::Relaxed);
}

fn outcome_index(o: Outcome) -> usize {
    match o {
        Outcome::Allow => 0,
        Outcome::Deny => 1,
        Outcome::Gap => 2,
    }
}

fn reason_index(r: Reason) -> usize {
    Reason::ALL
        .iter()
        .position(|x| *x == r)
        .unwrap_or(63)
        .min(63)
}

/// Decision counts of one request, added to the shared counters once.
pub struct Tally {
    outcomes: [u64; 3],
    reasons: [u64; 64],
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            outcomes: [0; 3],
            reasons: [0; 64],
        }
    }
}

impl Tally {
    #[inline]
    pub fn record(&mut self, outcome: Outcome, reason: Reason) {
        self.outcomes[outcome_index(outcome)] += 1;
        self.reasons[reason_index(reason)] += 1;
    }

    pub fn flush(self) {
        for (shared, n) in DECISIONS.iter().zip(self.outcomes) {
            if n > 0 {
                shared.fetch_add(n, Ordering::Relaxed);
            }
        }
        for (shared, n) in REASONS.iter().zip(self.reasons) {
            if n > 0 {
                shared.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}

/// Ledger rows folded from the database rather than from this instance's own commits.
pub fn ledger_followed(n: usize) {
    LEDGER_FOLLOWED.fetch_add(n as u64, Ordering::Relaxed);
}

pub fn ledger_writes(n: usize) {
    LEDGER_WRITES.fetch_add(n as u64, Ordering::Relaxed);
}

/// One HTTP response with `status`, counted by its class (2xx, 4xx…).
pub fn http_response(status: u16) {
    let class = usize::from(status / 100).min(5);
    HTTP[class].fetch_add(1, Ordering::Relaxed);
}

pub fn render(subjects: usize, ready: bool) -> String {
    let mut out = String::new();
    out.push_str("# HELP tutela_http_responses_total HTTP responses by status class.\n# TYPE tutela_http_responses_total counter\n");
    for (i, c) in HTTP.iter().enumerate().skip(1) {
        let _ = writeln!(
            out,
            "tutela_http_responses_total{{class=\"{i}xx\"}} {}",
            c.load(Ordering::Relaxed)
        );
    }
    out.push_str("# HELP tutela_decisions_total Decisions by outcome.\n# TYPE tutela_decisions_total counter\n");
    for o in [Outcome::Allow, Outcome::Deny, Outcome::Gap] {
        let _ = writeln!(
            out,
            "tutela_decisions_total{{outcome=\"{}\"}} {}",
            o.as_str(),
            DECISIONS[outcome_index(o)].load(Ordering::Relaxed)
        );
    }
    out.push_str("# HELP tutela_decision_reasons_total Decisions by primary reason code.\n# TYPE tutela_decision_reasons_total counter\n");
    for r in Reason::ALL {
        let n = REASONS[reason_index(*r)].load(Ordering::Relaxed);
        if n > 0 {
            let _ = writeln!(
                out,
                "tutela_decision_reasons_total{{reason=\"{}\"}} {n}",
                r.code()
            );
        }
    }
    let _ = write!(
        out,
        "# HELP tutela_ledger_writes_total Ledger events committed.\n# TYPE tutela_ledger_writes_total counter\ntutela_ledger_writes_total {}\n\
         # HELP tutela_ledger_followed_total Ledger events folded from other instances' writes.\n# TYPE tutela_ledger_followed_total counter\ntutela_ledger_followed_total {}\n\
         # HELP tutela_subjects Persons with decision state in memory.\n# TYPE tutela_subjects gauge\ntutela_subjects {subjects}\n\
         # HELP tutela_ready Whether the state is loaded.\n# TYPE tutela_ready gauge\ntutela_ready {}\n\
         # HELP tutela_requests_open Data subject requests not yet final.\n# TYPE tutela_requests_open gauge\ntutela_requests_open {}\n\
         # HELP tutela_requests_overdue Data subject requests past their due date (Art. 12(3)).\n# TYPE tutela_requests_overdue gauge\ntutela_requests_overdue {}\n\
         # HELP tutela_request_step_failures_total Failed fulfilment steps (each is retried).\n# TYPE tutela_request_step_failures_total counter\ntutela_request_step_failures_total {}\n",
        LEDGER_WRITES.load(Ordering::Relaxed),
        LEDGER_FOLLOWED.load(Ordering::Relaxed),
        u8::from(ready),
        REQUESTS_OPEN.load(Ordering::Relaxed),
        REQUESTS_OVERDUE.load(Ordering::Relaxed),
        REQUEST_STEP_FAILURES.load(Ordering::Relaxed),
    );
    let _ = write!(
        out,
        "# HELP tutela_events_published_total Ledger rows stored in the event stream.\n# TYPE tutela_events_published_total counter\ntutela_events_published_total {}\n\
         # HELP tutela_events_failures_total Failed publishing steps (each is retried).\n# TYPE tutela_events_failures_total counter\ntutela_events_failures_total {}\n\
         # HELP tutela_events_ledger_cursor The ledger sequence number the event stream holds every event up to.\n# TYPE tutela_events_ledger_cursor gauge\ntutela_events_ledger_cursor {}\n",
        EVENTS_PUBLISHED.load(Ordering::Relaxed),
        EVENTS_FAILURES.load(Ordering::Relaxed),
        EVENTS_LEDGER_CURSOR.load(Ordering::Relaxed),
    );
    out
}
