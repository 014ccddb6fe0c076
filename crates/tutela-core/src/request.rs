//! Data subject requests (Art. 15–21 GDPR): their types, their lifecycle as an explicit state
//! machine, and their deadlines (Art. 12(3)–(5)).
//!
//! The lifecycle:
//!
//! ```text
//! received ──▶ awaiting_verification ──▶ verified ──▶ in_progress ──▶ completed
//!     │                 │                   │            │ ▲ ├────────▶ partially_refused
//!     │                 │                   │            ▼ │ │
//!     │                 │                   │   awaiting_approval
//!     │                 │                   ├──────────────┴─┴──────▶ no_data_held
//!     └─────────────────┴───────────────────┴──────────────┴────────▶ refused
//! ```
//!
//! `awaiting_approval`: the request's plan for the operator's databases (every row and field
//! an erasure or rectification will change) waits for an agent's approval before it runs.
//!
//! `no_data_held` is the answer for a request about a person of whom nothing is held anywhere
//! (no entry in the ledger, no row in any dataset): the person is told so, and the request is
//! never reported as a completed access or erasure.
//!
//! Every transition is a [`Transition`] checked by [`RequestState::apply`], which takes the
//! time as an argument. Extensions and classification change the request without changing its
//! status. Nothing here reads a clock or does IO.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestType {
    /// Art. 15 (N9a).
    Access,
    /// Art. 20 (N9g).
    Portability,
    /// Art. 16 (N9b).
    Rectification,
    /// Art. 17 (N9e).
    Erasure,
    /// Art. 18 (N9f).
    Restriction,
    /// Art. 21 (N9d).
    Objection,
    /// Art. 7(3) (N9c).
    WithdrawConsent,
    /// A message that could not be classified; an agent decides what it asks for.
    Unclassified,
}

impl RequestType {
    pub const ALL: [RequestType; 8] = [
        RequestType::Access,
        RequestType::Portability,
        RequestType::Rectification,
        RequestType::Erasure,
        RequestType::Restriction,
        RequestType::Objection,
        RequestType::WithdrawConsent,
        RequestType::Unclassified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Access => "access",
            RequestType::Portability => "portability",
            RequestType::Rectification => "rectification",
            RequestType::Erasure => "erasure",
            RequestType::Restriction => "restriction",
            RequestType::Objection => "objection",
            RequestType::WithdrawConsent => "withdraw_consent",
            RequestType::Unclassified => "unclassified",
        }
    }

    pub fn parse(s: &str) -> Option<RequestType> {
        RequestType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The article of the GDPR the request rests on.
    pub fn article(self) -> &'static str {
        match self {
            RequestType::Access => "Art. 15",
            RequestType::Portability => "Art. 20",
            RequestType::Rectification => "Art. 16",
            RequestType::Erasure => "Art. 17",
            RequestType::Restriction => "Art. 18",
            RequestType::Objection => "Art. 21",
            RequestType::WithdrawConsent => "Art. 7(3)",
            RequestType::Unclassified => "Art. 12",
        }
    }

    /// The clause of the notice that promises this right.
    pub fn notice_ref(self) -> &'static str {
        match self {
            RequestType::Access => "N9a",
            RequestType::Portability => "N9g",
            RequestType::Rectification => "N9b",
            RequestType::Erasure => "N9e",
            RequestType::Restriction => "N9f",
            RequestType::Objection => "N9d",
            RequestType::WithdrawConsent => "N9c",
            RequestType::Unclassified => "N10",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Received,
    AwaitingVerification,
    Verified,
    InProgress,
    /// The plan of what the request changes in the operator's databases waits for an agent.
    AwaitingApproval,
    Completed,
    Refused,
    PartiallyRefused,
    /// Nothing about the person is held anywhere: the answer is "no data about you is held".
    NoDataHeld,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Received,
        Status::AwaitingVerification,
        Status::Verified,
        Status::InProgress,
        Status::AwaitingApproval,
        Status::Completed,
        Status::Refused,
        Status::PartiallyRefused,
        Status::NoDataHeld,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::AwaitingVerification => "awaiting_verification",
            Status::Verified => "verified",
            Status::InProgress => "in_progress",
            Status::AwaitingApproval => "awaiting_approval",
            Status::Completed => "completed",
            Status::Refused => "refused",
            Status::PartiallyRefused => "partially_refused",
            Status::NoDataHeld => "no_data_held",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Nothing more happens to a request in a final status.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Refused | Status::PartiallyRefused | Status::NoDataHeld
        )
    }
}

/// Where one step of a request's fulfilment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepStatus {
    /// Not run yet, or made to run again.
    Pending,
    Done,
    /// Failed this time; retried later.
    Failed,
    /// Will not be carried out (a retention duty, a plan an agent refused): not retried.
    Refused,
}

impl StepStatus {
    pub const ALL: [StepStatus; 4] = [
        StepStatus::Pending,
        StepStatus::Done,
        StepStatus::Failed,
        StepStatus::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
            StepStatus::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<StepStatus> {
        StepStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// How the requester's identity was confirmed (Art. 12(6)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// A one-time code sent to the e-mail address on file was entered.
    Code,
    /// An agent checked the identity (letter, phone) and recorded a note.
    Agent,
}

impl Verification {
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::Code => "code",
            Verification::Agent => "agent",
        }
    }
}

/// What can happen to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The identity check started: a code was sent, or the request waits for an agent.
    AwaitVerification,
    Verify(Verification),
    /// The worker took the request up.
    Start,
    /// The plan for the operator's databases is ready and waits for an agent's approval.
    AwaitApproval,
    /// An agent approved the plan (or the policy lets it run without review): it runs.
    Approve,
    Complete,
    /// Part of the request was not carried out (for example data under a legal retention duty).
    PartiallyRefuse {
        reason: String,
    },
    /// Nothing about the person is held anywhere (no ledger entry, no dataset row): the request
    /// ends with that answer instead of a completed access or erasure.
    NoDataHeld,
    /// Art. 12(5): manifestly unfounded or excessive; the person is told why and where to complain.
    Refuse {
        reason: String,
    },
    /// Art. 12(3): up to two further months, with reasons, told to the person in the first month.
    Extend {
        months: u8,
        reason: String,
    },
    /// An agent says what an unclassified message asks for.
    Classify(RequestType),
}

impl Transition {
    pub fn name(&self) -> &'static str {
        match self {
            Transition::AwaitVerification => "awaiting_verification",
            Transition::Verify(_) => "verified",
            Transition::Start => "started",
            Transition::AwaitApproval => "awaiting_approval",
            Transition::Approve => "approved",
            Transition::Complete => "completed",
            Transition::PartiallyRefuse { .. } => "partially_refused",
            Transition::NoDataHeld => "no_data_held",
            Transition::Refuse { .. } => "refused",
            Transition::Extend { .. } => "extended",
            Transition::Classify(_) => "classified",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a request that is `{from}` cannot become `{to}`")]
    NotAllowed {
        from: &'static str,
        to: &'static str,
    },
    #[error("the request is already final (`{0}`)")]
    Final(&'static str),
    #[error(
        "an extension must be decided and told to the person within the first month (until {due})"
    )]
    ExtensionTooLate { due: Timestamp },
    #[error("an extension adds 1 or 2 months and at most 2 in all; {already} already added")]
    ExtensionTooLong { already: u8 },
    #[error("a reason is required")]
    ReasonMissing,
    #[error("only an unclassified request can be classified, and not as `unclassified`")]
    NotClassifiable,
    #[error("an unclassified request must be classified before it is carried out")]
    Unclassified,
}

/// How deadlines are computed. The values the law leaves open are settings.
#[derive(Clone, Debug)]
pub struct DeadlineRules {
    /// The controller's time zone: a period ends at the end of a calendar day there.
    pub time_zone: TimeZone,
    /// Reg. 1182/71 Art. 3(4): a period ending on a Saturday or Sunday ends on the next
    /// working day. Off by default: an earlier deadline is never wrong.
    pub roll_weekends: bool,
    /// How long before the due date a request counts as due soon.
    pub due_soon: Span,
}

impl Default for DeadlineRules {
    fn default() -> Self {
        DeadlineRules {
            time_zone: TimeZone::UTC,
            roll_weekends: false,
            due_soon: 7.days(),
        }
    }
}

impl DeadlineRules {
    /// The end of the period of `months` months from `received` (Reg. 1182/71 Art. 3(2)(c)):
    /// the receipt day does not count; the period ends with the last hour of the day with the
    /// same number in the last month, or of that month's last day when it has no such day.
    pub fn due(&self, received: Timestamp, months: u8) -> Timestamp {
        let day = received.to_zoned(self.time_zone.clone()).date();
        // jiff clamps to the last day of a shorter month (31 Jan + 1 month = 28/29 Feb).
        let mut end = day
            .checked_add(i64::from(months).months())
            .unwrap_or(Date::MAX);
        if self.roll_weekends {
            end = match end.weekday() {
                jiff::civil::Weekday::Saturday => end.checked_add(2.days()).unwrap_or(end),
                jiff::civil::Weekday::Sunday => end.checked_add(1.days()).unwrap_or(end),
                _ => end,
            };
        }
        end_of_day(end, &self.time_zone)
    }
}

/// The last instant of `day` in `tz`.
fn end_of_day(day: Date, tz: &TimeZone) -> Timestamp {
    let next = day.checked_add(1.days()).unwrap_or(Date::MAX);
    next.to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .ok()
        .and_then(|t| t.checked_sub(1.nanoseconds()).ok())
        .unwrap_or(Timestamp::MAX)
}

/// A request's lifecycle state: what the state machine needs, nothing personal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestState {
    pub request_type: RequestType,
    pub status: Status,
    pub received_at: Timestamp,
    /// One month after receipt, plus any extension.
    pub due_at: Timestamp,
    pub extended_months: u8,
    pub verification: Option<Verification>,
}

impl RequestState {
    pub fn new(request_type: RequestType, received_at: Timestamp, rules: &DeadlineRules) -> Self {
        RequestState {
            request_type,
            status: Status::Received,
            received_at,
            due_at: rules.due(received_at, 1),
            extended_months: 0,
            verification: None,
        }
    }

    /// The state after `t` at `now`, or why `t` is not allowed.
    pub fn apply(
        &self,
        t: &Transition,
        now: Timestamp,
        rules: &DeadlineRules,
    ) -> Result<RequestState, TransitionError> {
        if self.status.is_final() {
            return Err(TransitionError::Final(self.status.as_str()));
        }
        let mut next = self.clone();
        let to = |s: Status| -> Result<Status, TransitionError> {
            let allowed = matches!(
                (self.status, s),
                (Status::Received, Status::AwaitingVerification)
                    | (Status::AwaitingVerification, Status::Verified)
                    | (Status::Verified, Status::InProgress)
                    | (Status::InProgress, Status::AwaitingApproval)
                    | (Status::InProgress, Status::Completed)
                    | (Status::InProgress, Status::PartiallyRefused)
                    | (Status::Verified, Status::NoDataHeld)
                    | (Status::InProgress, Status::NoDataHeld)
            );
            if allowed {
                Ok(s)
            } else {
                Err(TransitionError::NotAllowed {
                    from: self.status.as_str(),
                    to: s.as_str(),
                })
            }
        };
        match t {
            Transition::AwaitVerification => next.status = to(Status::AwaitingVerification)?,
            Transition::Verify(how) => {
                next.status = to(Status::Verified)?;
                next.verification = Some(*how);
            }
            Transition::Start => {
                if self.request_type == RequestType::Unclassified {
                    return Err(TransitionError::Unclassified);
                }
                next.status = to(Status::InProgress)?;
            }
            Transition::AwaitApproval => next.status = to(Status::AwaitingApproval)?,
            Transition::Approve => {
                if self.status != Status::AwaitingApproval {
                    return Err(TransitionError::NotAllowed {
                        from: self.status.as_str(),
                        to: "approved",
                    });
                }
                next.status = Status::InProgress;
            }
            Transition::Complete => next.status = to(Status::Completed)?,
            Transition::NoDataHeld => next.status = to(Status::NoDataHeld)?,
            Transition::PartiallyRefuse { reason } => {
                require(reason)?;
                next.status = to(Status::PartiallyRefused)?;
            }
            Transition::Refuse { reason } => {
                require(reason)?;
                next.status = Status::Refused;
            }
            Transition::Extend { months, reason } => {
                require(reason)?;
                let first_month = rules.due(self.received_at, 1);
                if now > first_month {
                    return Err(TransitionError::ExtensionTooLate { due: first_month });
                }
                let total = self.extended_months.saturating_add(*months);
                if *months == 0 || total > 2 {
                    return Err(TransitionError::ExtensionTooLong {
                        already: self.extended_months,
                    });
                }
                next.extended_months = total;
                next.due_at = rules.due(self.received_at, 1 + total);
            }
            Transition::Classify(t) => {
                if self.request_type != RequestType::Unclassified || *t == RequestType::Unclassified
                {
                    return Err(TransitionError::NotClassifiable);
                }
                next.request_type = *t;
            }
        }
        Ok(next)
    }

    /// Past its due date and not final.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        !self.status.is_final() && now > self.due_at
    }

    /// Due within `rules.due_soon` and not final or overdue.
    pub fn is_due_soon(&self, now: Timestamp, rules: &DeadlineRules) -> bool {
        !self.status.is_final()
            && now <= self.due_at
            && now
                .to_zoned(rules.time_zone.clone())
                .checked_add(rules.due_soon)
                .is_ok_and(|soon| soon.timestamp() >= self.due_at)
    }
}

fn require(reason: &str) -> Result<(), TransitionError> {
    if reason.trim().is_empty() {
        Err(TransitionError::ReasonMissing)
    } else {
        Ok(())
    }
}

/// The steps that fulfil a request of type `t` with the operator's `datasets`, in the order
/// they run. Step names sort in that order; the worker runs each once and records it, so a
/// crash resumes at the first step not recorded as done.
/// Rectification, erasure and restriction also tell every recipient in `notify` (Art. 19).
/// Rectification and erasure in datasets are first planned (`30-plan`, read-only) and the
/// plans reviewed (`35-review`) before anything is written (`40-…`).
pub fn plan(t: RequestType, datasets: &[&str], notify: &[&str]) -> Vec<String> {
    let each = |prefix: &str| -> Vec<String> {
        datasets.iter().map(|d| format!("{prefix}:{d}")).collect()
    };
    let tell = || -> Vec<String> { notify.iter().map(|n| format!("70-notify:{n}")).collect() };
    let mut steps: Vec<String> = match t {
        RequestType::Access => {
            let mut s = vec!["10-collect:tutela".to_owned()];
            s.extend(each("10-collect"));
            s.push("90-report".to_owned());
            s
        }
        RequestType::Portability => {
            let mut s = vec!["10-collect:tutela".to_owned()];
            s.extend(each("10-collect"));
            s.push("90-export".to_owned());
            s
        }
        RequestType::Rectification => {
            let mut s = reviewed(each("30-plan"));
            s.extend(each("40-rectify"));
            s.push("50-rectify:tutela".to_owned());
            s.extend(tell());
            s.push("90-summary".to_owned());
            s
        }
        RequestType::Erasure => {
            // The operator's databases first: tutela's own tombstone comes last, once
            // everything else is gone.
            let mut s = reviewed(each("30-plan"));
            s.extend(each("40-erase"));
            s.push("50-erase:tutela".to_owned());
            s.extend(tell());
            s.push("90-summary".to_owned());
            s
        }
        RequestType::Restriction => {
            let mut s = each("40-restrict");
            s.push("50-restrict:tutela".to_owned());
            s.extend(tell());
            s.push("90-summary".to_owned());
            s
        }
        RequestType::Objection => vec!["50-object:tutela".to_owned()],
        RequestType::WithdrawConsent => vec!["50-withdraw:tutela".to_owned()],
        RequestType::Unclassified => Vec::new(),
    };
    steps.sort();
    steps
}

/// The plan steps and, when there are any, the review that follows them.
fn reviewed(mut plans: Vec<String>) -> Vec<String> {
    if !plans.is_empty() {
        plans.push(REVIEW_STEP.to_owned());
    }
    plans
}

/// The step at which a request's plans wait for approval.
pub const REVIEW_STEP: &str = "35-review";
