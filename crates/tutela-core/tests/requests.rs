//! The request lifecycle and its deadlines (Art. 12(3)–(5), Reg. 1182/71).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tutela_core::request::{
    DeadlineRules, RequestState, RequestType, Status, Transition, TransitionError, Verification,
};

fn at(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| unreachable!("{s}: {e}"))
}

fn berlin() -> DeadlineRules {
    DeadlineRules {
        time_zone: TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC),
        ..DeadlineRules::default()
    }
}

#[test]
fn due_date_is_the_same_day_next_month_at_its_end() {
    let rules = DeadlineRules::default();
    assert_eq!(
        rules.due(at("2026-03-10T08:00:00Z"), 1),
        at("2026-04-10T23:59:59.999999999Z")
    );
    // The receipt time of day does not matter: the receipt day is not counted.
    assert_eq!(
        rules.due(at("2026-03-10T23:59:00Z"), 1),
        rules.due(at("2026-03-10T00:00:00Z"), 1)
    );
}

#[test]
fn due_date_without_that_day_is_the_last_day_of_the_month() {
    let rules = DeadlineRules::default();
    assert_eq!(
        rules.due(at("2026-01-31T12:00:00Z"), 1),
        at("2026-02-28T23:59:59.999999999Z")
    );
    assert_eq!(
        rules.due(at("2028-01-31T12:00:00Z"), 1),
        at("2028-02-29T23:59:59.999999999Z"),
        "leap year"
    );
    assert_eq!(
        rules.due(at("2026-08-31T12:00:00Z"), 3),
        at("2026-11-30T23:59:59.999999999Z")
    );
}

#[test]
fn due_date_ends_at_midnight_in_the_controllers_time_zone() {
    let rules = berlin();
    // 23:30 UTC on 9 March is already 10 March in Berlin (CET, UTC+1).
    assert_eq!(
        rules.due(at("2026-03-09T23:30:00Z"), 1),
        // 10 April is in summer time (CEST, UTC+2): midnight there is 22:00 UTC.
        at("2026-04-10T21:59:59.999999999Z")
    );
}

#[test]
fn weekend_roll_is_a_setting() {
    let mut rules = DeadlineRules::default();
    // 2026-05-09 is a Saturday.
    assert_eq!(
        rules.due(at("2026-04-09T10:00:00Z"), 1),
        at("2026-05-09T23:59:59.999999999Z")
    );
    rules.roll_weekends = true;
    assert_eq!(
        rules.due(at("2026-04-09T10:00:00Z"), 1),
        at("2026-05-11T23:59:59.999999999Z")
    );
}

fn walk(state: &RequestState, steps: &[Transition]) -> Result<RequestState, TransitionError> {
    let rules = DeadlineRules::default();
    let mut s = state.clone();
    for t in steps {
        s = s.apply(t, at("2026-03-12T00:00:00Z"), &rules)?;
    }
    Ok(s)
}

fn new(t: RequestType) -> RequestState {
    RequestState::new(t, at("2026-03-10T08:00:00Z"), &DeadlineRules::default())
}

// covers: N9a, N10
#[test]
fn lifecycle_runs_received_to_completed_in_order() {
    let done = walk(
        &new(RequestType::Access),
        &[
            Transition::AwaitVerification,
            Transition::Verify(Verification::Code),
            Transition::Start,
            Transition::Complete,
        ],
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(done.status, Status::Completed);
    assert_eq!(done.verification, Some(Verification::Code));
}

#[test]
fn lifecycle_refuses_skipping_the_identity_check() {
    let r = new(RequestType::Erasure);
    assert_eq!(
        walk(&r, &[Transition::Start]),
        Err(TransitionError::NotAllowed {
            from: "received",
            to: "in_progress"
        })
    );
    assert!(
        walk(
            &r,
            &[
                Transition::AwaitVerification,
                Transition::Start // not verified yet
            ]
        )
        .is_err()
    );
    assert!(walk(&r, &[Transition::Complete]).is_err());
}

#[test]
fn lifecycle_final_states_accept_nothing() {
    let refused = walk(
        &new(RequestType::Access),
        &[Transition::Refuse {
            reason: "manifestly excessive: fifth identical request this month".into(),
        }],
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(refused.status, Status::Refused);
    for t in [
        Transition::AwaitVerification,
        Transition::Complete,
        Transition::Refuse { reason: "x".into() },
        Transition::Extend {
            months: 1,
            reason: "x".into(),
        },
    ] {
        assert_eq!(walk(&refused, &[t]), Err(TransitionError::Final("refused")));
    }
}

#[test]
fn refusal_and_partial_refusal_need_reasons() {
    let r = new(RequestType::Erasure);
    assert_eq!(
        walk(&r, &[Transition::Refuse { reason: " ".into() }]),
        Err(TransitionError::ReasonMissing)
    );
    let partial = walk(
        &r,
        &[
            Transition::AwaitVerification,
            Transition::Verify(Verification::Agent),
            Transition::Start,
            Transition::PartiallyRefuse {
                reason: "invoices kept under section 147 AO".into(),
            },
        ],
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(partial.status, Status::PartiallyRefused);
}

#[test]
fn extension_adds_at_most_two_months_within_the_first_month() {
    let rules = DeadlineRules::default();
    let r = new(RequestType::Access);
    let reason = "complex: data in 14 systems".to_owned();
    let ext = |s: &RequestState, months: u8, now: &str| {
        s.apply(
            &Transition::Extend {
                months,
                reason: reason.clone(),
            },
            at(now),
            &rules,
        )
    };
    let one = ext(&r, 1, "2026-03-20T00:00:00Z").unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(one.due_at, at("2026-05-10T23:59:59.999999999Z"));
    let two = ext(&one, 1, "2026-04-01T00:00:00Z").unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(two.due_at, at("2026-06-10T23:59:59.999999999Z"));
    assert_eq!(
        ext(&two, 1, "2026-04-01T00:00:00Z"),
        Err(TransitionError::ExtensionTooLong { already: 2 })
    );
    assert!(matches!(
        ext(&r, 3, "2026-03-20T00:00:00Z"),
        Err(TransitionError::ExtensionTooLong { .. })
    ));
    assert!(matches!(
        ext(&r, 0, "2026-03-20T00:00:00Z"),
        Err(TransitionError::ExtensionTooLong { .. })
    ));
    // After the first month the person can no longer be told in time.
    assert!(matches!(
        ext(&r, 1, "2026-04-11T00:00:00Z"),
        Err(TransitionError::ExtensionTooLate { .. })
    ));
}

#[test]
fn overdue_and_due_soon() {
    let rules = DeadlineRules::default();
    let r = new(RequestType::Access);
    assert!(!r.is_overdue(at("2026-04-10T23:00:00Z")));
    assert!(r.is_overdue(at("2026-04-11T00:00:00Z")));
    assert!(!r.is_due_soon(at("2026-03-20T00:00:00Z"), &rules));
    assert!(r.is_due_soon(at("2026-04-05T00:00:00Z"), &rules));
    assert!(
        !r.is_due_soon(at("2026-04-12T00:00:00Z"), &rules),
        "overdue"
    );
    let done = walk(
        &r,
        &[Transition::Refuse {
            reason: "unfounded".into(),
        }],
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    assert!(!done.is_overdue(at("2027-01-01T00:00:00Z")));
}

#[test]
fn unclassified_requests_are_classified_before_they_run() {
    let r = walk(
        &new(RequestType::Unclassified),
        &[
            Transition::AwaitVerification,
            Transition::Verify(Verification::Agent),
        ],
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(
        walk(&r, &[Transition::Start]),
        Err(TransitionError::Unclassified)
    );
    let classified = walk(&r, &[Transition::Classify(RequestType::Erasure)])
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(classified.request_type, RequestType::Erasure);
    assert!(walk(&classified, &[Transition::Start]).is_ok());
    assert_eq!(
        walk(&classified, &[Transition::Classify(RequestType::Access)]),
        Err(TransitionError::NotClassifiable)
    );
}

// covers: N9a, N9e
#[test]
fn no_data_held_is_its_own_final_answer_and_only_after_verification() {
    // Only a verified request about someone can be answered with "no data about you is held":
    // before the identity check nothing about the person may be told.
    for early in [
        vec![Transition::NoDataHeld],
        vec![Transition::AwaitVerification, Transition::NoDataHeld],
    ] {
        assert!(
            matches!(
                walk(&new(RequestType::Erasure), &early),
                Err(TransitionError::NotAllowed {
                    to: "no_data_held",
                    ..
                })
            ),
            "{early:?}"
        );
    }
    let verified = [
        Transition::AwaitVerification,
        Transition::Verify(Verification::Agent),
    ];
    for t in [RequestType::Access, RequestType::Erasure] {
        // Decided before the steps are planned, or after the worker took it up.
        for started in [false, true] {
            let mut path = verified.to_vec();
            if started {
                path.push(Transition::Start);
            }
            path.push(Transition::NoDataHeld);
            let s = walk(&new(t), &path).unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(s.status, Status::NoDataHeld);
            assert_ne!(s.status, Status::Completed, "never a completed {t:?}");
            assert!(s.status.is_final());
            assert_eq!(
                walk(&s, &[Transition::Complete]),
                Err(TransitionError::Final("no_data_held"))
            );
        }
    }
    assert_eq!(Status::parse("no_data_held"), Some(Status::NoDataHeld));
    assert_eq!(Transition::NoDataHeld.name(), "no_data_held");
}

// covers: N9b, N9e
#[test]
fn approval_comes_only_between_start_and_the_run() {
    let waiting = walk(
        &new(RequestType::Erasure),
        &[
            Transition::AwaitVerification,
            Transition::Verify(Verification::Agent),
            Transition::Start,
            Transition::AwaitApproval,
        ],
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(waiting.status, Status::AwaitingApproval);
    assert!(!waiting.status.is_final());
    // Nothing completes, starts again or waits twice while the plan waits.
    for t in [
        Transition::Complete,
        Transition::Start,
        Transition::AwaitApproval,
    ] {
        assert!(walk(&waiting, &[t]).is_err());
    }
    let running = walk(&waiting, &[Transition::Approve]).unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(running.status, Status::InProgress);
    // Approval needs a waiting plan: not before the start, not twice.
    assert!(walk(&running, &[Transition::Approve]).is_err());
    assert!(walk(&new(RequestType::Erasure), &[Transition::Approve]).is_err());
    // A waiting plan can be refused instead (Art. 12(5), with a reason).
    let refused = walk(
        &waiting,
        &[Transition::Refuse {
            reason: "the person withdrew the request".into(),
        }],
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(refused.status, Status::Refused);
}

#[test]
fn dataset_writes_are_planned_and_reviewed_first() {
    use tutela_core::request::{REVIEW_STEP, plan};
    let erase = plan(RequestType::Erasure, &["operator"], &["crm"]);
    assert_eq!(
        erase,
        [
            "30-plan:operator",
            REVIEW_STEP,
            "40-erase:operator",
            "50-erase:tutela",
            "70-notify:crm",
            "90-summary"
        ]
    );
    let rectify = plan(RequestType::Rectification, &["operator"], &[]);
    assert_eq!(
        rectify,
        [
            "30-plan:operator",
            REVIEW_STEP,
            "40-rectify:operator",
            "50-rectify:tutela",
            "90-summary"
        ]
    );
    // Without datasets nothing of the operator's is written: nothing to review.
    assert!(
        !plan(RequestType::Erasure, &[], &[])
            .iter()
            .any(|s| s.starts_with("30-") || s == REVIEW_STEP)
    );
}
