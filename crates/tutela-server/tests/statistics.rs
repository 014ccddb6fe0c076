//! Anonymous statistics over the API (N7c, N16), on SQLite and PostgreSQL: groups under k
//! suppressed, exact figures only without noise, noisy releases that spend the dataset's budget
//! before they answer and are refused once it is used up, and bad queries named by field.

use axum::http::StatusCode;
use serde_json::{Value, json};
use tutela_store::{LogSource, LogStore};

use crate::support::TestApp;

/// 15 persons in `north`, 12 in `south`, 3 in `west`, two rows each.
fn usage_file(name: &str) -> std::path::PathBuf {
    let mut text = String::from("imsi,cell,volume_mb\n");
    for p in 0..30 {
        let cell = match p {
            0..15 => "north",
            15..27 => "south",
            _ => "west",
        };
        for r in 0..2 {
            text.push_str(&format!("26201{p:010},{cell},{}.5\n", 10 * r + p % 7));
        }
    }
    let file = crate::support::dataset_path(&format!("{name}-usage.csv"));
    std::fs::write(&file, text).expect("write");
    file
}

async fn register(app: &TestApp, purpose: &str, file: &std::path::Path) -> String {
    let (s, _, d) = app
        .call(
            "POST",
            "/v1/pseudonymised-datasets",
            Some(json!({
                "purpose": purpose,
                "location": file.to_string_lossy(),
                "columns": ["imsi=ff1:imsi"],
                "key_id": "pk-test",
                "rows": 60,
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    d["id"].as_str().expect("id").to_owned()
}

async fn stats(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let (s, _, b) = app.call("POST", "/v1/statistics", Some(body)).await;
    (s, b)
}

fn groups(b: &Value) -> Vec<(String, Value)> {
    b["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["key"][0].as_str().unwrap_or("").to_owned(),
                g["value"].clone(),
            )
        })
        .collect()
}

async fn run(app: TestApp, name: &str) {
    // covers: N7c, N16
    let file = usage_file(name);
    let id = register(&app, "service_quality_analysis", &file).await;
    let base =
        json!({"dataset": id, "person": "imsi", "group_by": ["cell"], "requested_by": "analyst-7"});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        b
    };

    // Exact: west (3 persons) is under k = 10 and suppressed; nothing is spent.
    let (s, b) = stats(&app, with(json!({"aggregate": "count"}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        groups(&b),
        [("north".into(), json!(30)), ("south".into(), json!(24))]
    );
    assert_eq!(
        (b["min_group_size"].clone(), b["suppressed_groups"].clone()),
        (json!(10), json!(1))
    );
    assert_eq!(b["budget"]["releases"], 0);
    let (s, b) = stats(
        &app,
        with(json!({"aggregate": "sum", "column": "volume_mb", "lower": 0, "upper": 12, "rows_per_person": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // One row per person (the first: p % 7 + 0.5), clamped to 12.
    let north: f64 = (0..15).map(|p| f64::from(p % 7) + 0.5).sum();
    assert_eq!(groups(&b)[0].1, json!(format!("{north:.3}")));

    // Noisy: the budget (3.0 in the reference policy) is spent before the answer.
    let (s, b) = stats(
        &app,
        with(
            json!({"aggregate": "count", "rows_per_person": 2, "noise": "laplace", "epsilon": 1.0}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["suppressed_groups"],
        Value::Null,
        "no exact figure under noise"
    );
    assert_eq!(b["noise"]["parts"][0]["sensitivity"], "2");
    let north = groups(&b)[0].1.as_f64().expect("count");
    assert!((north - 30.0).abs() < 40.0, "b = 2: {north}");
    assert_eq!(
        (
            b["budget"]["epsilon_spent"].clone(),
            b["budget"]["releases"].clone()
        ),
        (json!(1.0), json!(1))
    );
    let (s, b) = stats(
        &app,
        with(json!({"aggregate": "mean", "column": "volume_mb", "lower": 0, "upper": 20, "rows_per_person": 2,
                    "noise": "gaussian", "epsilon": 1.5, "delta": 1e-7})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let parts: Vec<_> = b["noise"]["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| p["figure"].clone())
        .collect();
    assert_eq!(parts, [json!("sum"), json!("count")]);
    assert_eq!(b["budget"]["epsilon_spent"], 2.5);
    let (s, b) = stats(
        &app,
        with(json!({"aggregate": "count", "noise": "laplace", "epsilon": 0.6})),
    )
    .await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::CONFLICT, json!("budget_exhausted")),
        "{b}"
    );
    let (s, _, budget) = app
        .call(
            "GET",
            &format!("/v1/pseudonymised-datasets/{id}/budget"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            budget["epsilon_spent"].clone(),
            budget["epsilon_limit"].clone(),
            budget["releases"].clone()
        ),
        (json!(2.5), json!(3.0), json!(2)),
        "the refused release spent nothing"
    );
    // A smaller one still fits.
    let (s, _) = stats(
        &app,
        with(json!({"aggregate": "count", "noise": "laplace", "epsilon": 0.5})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // Bad queries: named by field, nothing spent.
    for (extra, field) in [
        (json!({"aggregate": "median"}), "aggregate"),
        (
            json!({"aggregate": "sum", "column": "volume_mb", "lower": 5, "upper": 5}),
            "upper",
        ),
        (
            json!({"aggregate": "sum", "lower": 0, "upper": 5}),
            "column",
        ),
        (
            json!({"aggregate": "count", "group_by": ["imsi"]}),
            "group_by",
        ),
        (
            json!({"aggregate": "count", "group_by": ["region"]}),
            "group_by",
        ),
        (
            json!({"aggregate": "count", "person": "customer"}),
            "person",
        ),
        (json!({"aggregate": "count", "epsilon": 0.5}), "noise"),
        (
            json!({"aggregate": "count", "noise": "laplace", "epsilon": 0}),
            "epsilon",
        ),
        (
            json!({"aggregate": "count", "noise": "gaussian", "epsilon": 0.1}),
            "delta",
        ),
        (
            json!({"aggregate": "histogram", "column": "volume_mb", "edges": [3, 1]}),
            "aggregate.edges",
        ),
        (
            json!({"aggregate": "count", "dataset": "pds_none"}),
            "dataset",
        ),
        (
            json!({"aggregate": "count", "requested_by": ""}),
            "requested_by",
        ),
    ] {
        let (s, b) = stats(&app, with(extra.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{extra}: {b}");
        assert_eq!(b["field"], json!(field), "{extra}: {b}");
    }
    // A bad row stops the query with its line, or is skipped and counted.
    let bad = crate::support::dataset_path("bad.csv");
    std::fs::write(
        &bad,
        "imsi,cell,volume_mb\na,north,1\nb,north,lots\nc,north\n",
    )
    .expect("write");
    let bad_id = register(&app, "service_quality_analysis", &bad).await;
    let q = json!({"dataset": bad_id, "person": "imsi", "aggregate": "sum", "column": "volume_mb",
                   "lower": 0, "upper": 9, "requested_by": "analyst-7"});
    let (s, b) = stats(&app, q.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        b["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("line 3, column `volume_mb`")),
        "{b}"
    );
    let mut skip = q;
    skip["on_bad_row"] = json!("skip");
    let (s, b) = stats(&app, skip).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["rows_rejected"].clone(), b["rejected_lines"].clone()),
        (json!(2), json!([3, 4]))
    );
    assert_eq!(b["groups"], json!([]), "one person is fewer than k");

    // Only purposes [statistics] lists: risk-check data is not for statistics.
    let risk_id = register(&app, "risk_check", &file).await;
    let (s, b) = stats(
        &app,
        json!({"dataset": risk_id, "person": "imsi", "aggregate": "count", "requested_by": "a"}),
    )
    .await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("policy_violation"))
    );

    let audit = app
        .engine
        .store
        .log_contents(LogSource::Audit, 0, 1_000_000)
        .await
        .expect("audit");
    let spends: Vec<String> = audit
        .iter()
        .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
        .filter(|c| c.contains("\nprivacy_budget_spent\n"))
        .collect();
    assert_eq!(spends.len(), 3, "{spends:?}");
    assert!(
        spends
            .iter()
            .all(|c| c.contains("analyst-7") && !c.contains("26201")),
        "{spends:?}"
    );
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&bad);
    app.finish().await;
}

#[tokio::test]
async fn statistics_are_anonymous_and_budgeted_on_sqlite() {
    run(TestApp::sqlite().await, "sqlite").await;
}

#[tokio::test]
async fn statistics_are_anonymous_and_budgeted_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    run(app, "pg").await;
}
