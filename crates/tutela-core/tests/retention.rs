//! The retention planner: cutoffs per rule (from collection, from the end of the calendar
//! year), the order of targets, legal holds, and the adaptive batch size.

use std::collections::BTreeMap;

use jiff::civil::{Date, date};
use tutela_core::datamap::{self, Row};
use tutela_core::policy::Policy;
use tutela_core::retention::{BatchSize, HoldScope, held_keys, plan_sweep};

use crate::support::reference;

const DEMO: &str = include_str!("../../../policies/datasets/demo-operator.toml");

fn rule_cutoff(policy: &Policy, id: &str, today: Date) -> Option<Date> {
    policy
        .retention
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| unreachable!("no rule {id}"))
        .cutoff(today)
}

#[test]
fn three_months_from_collection() {
    // covers: N7b
    let p = reference();
    assert_eq!(
        rule_cutoff(&p, "service_quality_data", date(2026, 12, 1)),
        Some(date(2026, 9, 1))
    );
    // A row of 31 August is past on 1 December; one of 1 September is not yet.
}

#[test]
fn one_year_for_the_risk_check() {
    // covers: N15
    let p = reference();
    assert_eq!(
        rule_cutoff(&p, "risk_check_result", date(2026, 12, 1)),
        Some(date(2025, 12, 1))
    );
}

#[test]
fn commercial_periods_run_from_the_end_of_the_calendar_year() {
    // covers: N6
    let p = reference();
    // law.md 2.1: an invoice of 10 March 2026 is kept until 31 December 2034 and may go
    // from 1 January 2035.
    let on_last_day = rule_cutoff(&p, "booking_vouchers", date(2034, 12, 31));
    assert_eq!(on_last_day, Some(date(2026, 1, 1)));
    assert!(date(2026, 3, 10) >= on_last_day.unwrap_or_default());
    let day_after = rule_cutoff(&p, "booking_vouchers", date(2035, 1, 1));
    assert_eq!(day_after, Some(date(2027, 1, 1)));
    assert!(date(2026, 3, 10) < day_after.unwrap_or_default());
    assert_eq!(
        rule_cutoff(&p, "commercial_books", date(2036, 6, 30)),
        Some(date(2026, 1, 1))
    );
    assert_eq!(
        rule_cutoff(&p, "business_letters", date(2033, 1, 1)),
        Some(date(2027, 1, 1))
    );
}

#[test]
fn legal_duties_are_marked_and_limits_are_not() {
    // covers: N6, N7b
    let p = reference();
    let duty = |id: &str| p.retention.iter().any(|r| r.id == id && r.obligation);
    assert!(duty("booking_vouchers") && duty("commercial_books") && duty("business_letters"));
    assert!(!duty("service_quality_data") && !duty("risk_check_result"));
}

fn demo() -> (Policy, datamap::DatasetMap) {
    let p = reference();
    let map = datamap::load("demo-operator.toml", DEMO, &p).unwrap_or_else(|e| unreachable!("{e}"));
    (p, map)
}

#[test]
fn the_demo_plan_sweeps_children_before_parents() {
    // covers: N6, N7b
    let (p, map) = demo();
    let plan = plan_sweep(&p, std::slice::from_ref(&map), date(2026, 12, 1));
    let names: Vec<(&str, &str)> = plan
        .targets
        .iter()
        .map(|t| (t.table_name.as_str(), t.rule.as_str()))
        .collect();
    assert!(names.contains(&("usage_records", "service_quality_data")));
    let pos = |n: &str| names.iter().position(|x| x.0 == n);
    assert!(pos("payments") < pos("invoices"), "{names:?}");
    let invoices = &plan.targets[pos("invoices").unwrap_or_default()];
    assert_eq!(invoices.column, "issued_at");
    assert_eq!(invoices.cutoff, date(2018, 1, 1));
    assert_eq!(
        invoices.children,
        vec![("payments".to_owned(), "invoice_id".to_owned())]
    );
    let usage = &plan.targets[pos("usage_records").unwrap_or_default()];
    assert_eq!(usage.cutoff, date(2026, 9, 1));
    assert!(usage.notice_refs.iter().any(|c| c == "N7b"));
    // Tables without a rule are never swept.
    assert!(pos("customers").is_none() && pos("tickets").is_none());
}

// Issue 31: the plan counted only invoices with no payment left, the run deleted those freed
// by deleting their payments in the same sweep too. The due rows of a parent now name the
// children swept before it, with what makes their rows go.
// covers: N6
#[test]
fn a_parent_is_due_with_the_children_swept_before_it() {
    let (p, map) = demo();
    let plan = plan_sweep(&p, std::slice::from_ref(&map), date(2026, 12, 1));
    let pos = |n: &str| {
        plan.targets
            .iter()
            .position(|t| t.table_name == n)
            .unwrap_or_else(|| unreachable!("no target {n}"))
    };
    let invoices = plan
        .due_rows(pos("invoices"))
        .unwrap_or_else(|| unreachable!("invoices"));
    assert_eq!(invoices.target.table_name, "invoices");
    assert_eq!(invoices.children.len(), 1);
    let payments = &invoices.children[0];
    assert_eq!(
        (payments.table_name.as_str(), payments.column.as_str()),
        ("payments", "invoice_id")
    );
    let swept = payments
        .swept
        .as_ref()
        .unwrap_or_else(|| unreachable!("payments run before invoices"));
    assert_eq!(swept.target.column, "paid_at");
    assert!(swept.children.is_empty());
    // Usage records reference SIMs, which have no rule: nothing cascades there.
    let usage = plan
        .due_rows(pos("usage_records"))
        .unwrap_or_else(|| unreachable!("usage"));
    assert!(usage.children.is_empty());
    assert!(plan.due_rows(plan.targets.len()).is_none());
    // A child that runs after its parent (not in this plan's order) deletes nothing first.
    let mut reversed = plan.clone();
    reversed.targets.reverse();
    let ix = reversed
        .targets
        .iter()
        .position(|t| t.table_name == "invoices")
        .unwrap_or_default();
    let late = reversed
        .due_rows(ix)
        .unwrap_or_else(|| unreachable!("invoices"));
    assert!(late.children[0].swept.is_none());
}

#[test]
fn an_erasure_is_not_held_back_by_a_limit() {
    // covers: N7b
    // Usage records carry the 3-month rule; inside it an erasure still deletes them, because
    // the rule only limits keeping them.
    let (p, map) = demo();
    let usage = map.table("usage_records").unwrap_or_default();
    let mut rows = BTreeMap::new();
    rows.insert(
        usage,
        vec![Row {
            key: "1".into(),
            parents: vec![Some("9".into())],
            retention_from: Some("2026-11-30T10:00:00Z".into()),
            contract_end: None,
            values: vec![],
        }],
    );
    let actions = datamap::plan_erasure(
        &map,
        &p,
        &rows,
        "2026-12-01T00:00:00Z"
            .parse()
            .unwrap_or_else(|e| unreachable!("{e}")),
    );
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, datamap::Action::Delete { table, .. } if *table == usage)),
        "{actions:?}"
    );
}

#[test]
fn holds_keep_a_persons_rows_and_named_records() {
    // covers: N5a
    let (_, map) = demo();
    let usage = map.table("usage_records").unwrap_or_default();
    let invoices = map.table("invoices").unwrap_or_default();
    let mut person = BTreeMap::new();
    person.insert(
        usage,
        vec![Row {
            key: "7".into(),
            parents: vec![],
            retention_from: None,
            contract_end: None,
            values: vec![],
        }],
    );
    let holds = vec![
        HoldScope::Subject("C-1".into()),
        HoldScope::Record {
            dataset: "operator".into(),
            table: "invoices".into(),
            key: "42".into(),
        },
        HoldScope::Record {
            dataset: "another".into(),
            table: "invoices".into(),
            key: "43".into(),
        },
    ];
    let held = held_keys(&map, &holds, &[person]);
    assert_eq!(
        held.get(&usage)
            .map(|s| s.iter().cloned().collect::<Vec<_>>()),
        Some(vec!["7".to_owned()])
    );
    assert_eq!(
        held.get(&invoices)
            .map(|s| s.iter().cloned().collect::<Vec<_>>()),
        Some(vec!["42".to_owned()])
    );
}

#[test]
fn batches_adapt_to_the_time_they_take() {
    let b = BatchSize::default();
    assert_eq!(b.next(5, b.rows).rows, 2_000);
    // A short batch that found fewer rows than asked does not grow.
    assert_eq!(b.next(5, 10).rows, 1_000);
    assert_eq!(b.next(30, b.rows).rows, 1_000);
    assert_eq!(b.next(80, b.rows).rows, 500);
    let small = BatchSize { rows: 50, ..b };
    assert_eq!(small.next(500, 50).rows, 50);
    let big = BatchSize { rows: 50_000, ..b };
    assert_eq!(big.next(1, 50_000).rows, 50_000);
    // A batch cancelled at the lock limit comes again at a quarter, never under the minimum.
    assert_eq!(big.cancelled().rows, 12_500);
    assert_eq!(small.cancelled().rows, 50);
}
