//! Privacy budgets (N7c, N16), on every store: spends add up to the limit and no further, a
//! refused spend changes nothing, concurrent spends never pass the limit together, and every
//! spend is an audit row.

use tutela_store::{
    BudgetLimit, BudgetSpend, BudgetUse, LogSource, LogStore, SpendOutcome, StatisticsStore,
};

fn spend(dataset: &str, epsilon_micros: u64, delta_picos: u64) -> BudgetSpend {
    BudgetSpend {
        dataset: dataset.into(),
        at: "2026-05-01T00:00:00Z".parse().expect("timestamp"),
        epsilon_micros,
        delta_picos,
        actor: "analyst-1".into(),
        query: r#"{"aggregate":"count","group_by":["cell"]}"#.into(),
    }
}

const LIMIT: BudgetLimit = BudgetLimit {
    epsilon_micros: 1_000_000,
    delta_picos: 2_000_000,
};

pub async fn run_all<S: StatisticsStore + LogStore + Sync>(store: &S) {
    // covers: N7c
    let audit_before = store
        .log_contents(LogSource::Audit, 0, 1_000_000)
        .await
        .expect("audit")
        .len();
    assert_eq!(
        store.budget_use("ds-1").await.expect("use"),
        BudgetUse::default()
    );
    let first = store
        .spend_budget(&spend("ds-1", 400_000, 0), LIMIT)
        .await
        .expect("spend");
    assert_eq!(
        first,
        SpendOutcome::Spent(BudgetUse {
            epsilon_micros: 400_000,
            delta_picos: 0,
            releases: 1
        })
    );
    let second = store
        .spend_budget(&spend("ds-1", 600_000, 1_000_000), LIMIT)
        .await
        .expect("spend");
    assert!(matches!(
        second,
        SpendOutcome::Spent(BudgetUse {
            epsilon_micros: 1_000_000,
            releases: 2,
            ..
        })
    ));
    // The budget is used up: a millionth more is refused, and the refusal spends nothing.
    let third = store
        .spend_budget(&spend("ds-1", 1, 0), LIMIT)
        .await
        .expect("spend");
    let exhausted = BudgetUse {
        epsilon_micros: 1_000_000,
        delta_picos: 1_000_000,
        releases: 2,
    };
    assert_eq!(third, SpendOutcome::Exhausted(exhausted.clone()));
    assert_eq!(store.budget_use("ds-1").await.expect("use"), exhausted);
    // Delta runs out on its own.
    let d = store
        .spend_budget(&spend("ds-2", 1, 2_000_001), LIMIT)
        .await
        .expect("spend");
    assert_eq!(d, SpendOutcome::Exhausted(BudgetUse::default()));
    // Ten releases of 0.15 at once on a budget of 1: exactly six pass.
    let spends: Vec<_> = (0..10).map(|_| spend("ds-3", 150_000, 0)).collect();
    let outcomes = futures_join(store, &spends).await;
    let passed = outcomes
        .iter()
        .filter(|o| matches!(o, SpendOutcome::Spent(_)))
        .count();
    assert_eq!(passed, 6, "{outcomes:?}");
    assert_eq!(
        store.budget_use("ds-3").await.expect("use").epsilon_micros,
        900_000
    );

    let audit = store
        .log_contents(LogSource::Audit, 0, 1_000_000)
        .await
        .expect("audit");
    let spent = audit[audit_before..]
        .iter()
        .filter(|(_, c)| String::from_utf8_lossy(c).contains("\nprivacy_budget_spent\n"))
        .count();
    assert_eq!(spent, 2 + 6);
}

async fn futures_join<S: StatisticsStore + Sync>(
    store: &S,
    spends: &[BudgetSpend],
) -> Vec<SpendOutcome> {
    let mut set = Vec::new();
    for s in spends {
        set.push(store.spend_budget(s, LIMIT));
    }
    let mut out = Vec::new();
    for r in join_all(set).await {
        out.push(r.expect("spend"));
    }
    out
}

/// Polls every future in turn until all are done, so their transactions overlap.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
