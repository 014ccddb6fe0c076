//! Plans before writes, on the demo database on PostgreSQL, MariaDB and SQLite: an erasure's
//! plan is what its run does, table by table; a row changed between plan and run makes the run
//! refuse (`Stale`) and write nothing; a rectification's plan shows each value before and
//! after, and its run changes exactly that; a customer with a running contract keeps it, its
//! SIMs and devices and the customer row whole.

use std::collections::BTreeMap;

use tutela_connectors::demo::SCHEMA;
use tutela_connectors::{
    Connector, ConnectorError, DatasetPlan, ErasureReport, FieldEffect, PlanAction,
};
use tutela_core::datamap::{ConnectorKind, Rectify};
use tutela_store::testing::{PgSchema, temp_dir};

use super::typed::Raw;
use super::{data, ids, map, mariadb, now, policy};

/// C-4: a contract running until mid-2027 with its SIM, tracker and a usage record; an
/// invoice of 2024 (inside its 8 years); a ticket.
fn active_customer() -> Vec<String> {
    [
        "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (4, 'C-4', 'Dora Dahl', 'dora@example.org', '1985-07-08', 'Weg 4', 'Bonn', '2020-01-01')",
        "INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (24, 4, 'IoT M2M 2GB', '2020-01-01', '2027-06-30')",
        "INSERT INTO sims (id, contract_id, iccid, imsi, msisdn) VALUES (34, 24, '8949010000000000052', '262013333333333', '4915133333333')",
        "INSERT INTO devices (id, sim_id, imei, model) VALUES (44, 34, '490154203237534', 'Tracker T4')",
        "INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES (54, 34, '2026-11-01T00:00:00Z', 4096)",
        "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (64, 4, '2024-05-01', 500, 'DE89370400440532013000')",
        "INSERT INTO tickets (id, customer_id, opened_at, topic, summary) VALUES (84, 4, '2026-10-01', 'sim', 'SIM slow')",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn changes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// (table, action, keys) of every table plan, sorted.
fn shape(plan: &DatasetPlan) -> Vec<(String, PlanAction, Vec<String>)> {
    let mut out: Vec<(String, PlanAction, Vec<String>)> = plan
        .tables
        .iter()
        .map(|t| (t.table.clone(), t.action, t.keys.clone()))
        .collect();
    out.sort_by(|a, b| (&a.0, a.2.clone()).cmp(&(&b.0, b.2.clone())));
    out
}

fn entry(table: &str, action: PlanAction, keys: &[&str]) -> (String, PlanAction, Vec<String>) {
    (
        table.to_owned(),
        action,
        keys.iter().map(|k| (*k).to_owned()).collect(),
    )
}

/// What a plan says, in the terms of an erasure's report: rows deleted and anonymised per
/// table, rows restricted (table, rows, rule, until, why) and kept for a contract (table,
/// rows, until).
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    deleted: BTreeMap<String, usize>,
    anonymised: BTreeMap<String, usize>,
    restricted: Vec<(String, usize, String, String, String)>,
    kept: Vec<(String, usize, Option<String>)>,
}

fn planned(plan: &DatasetPlan) -> Outcome {
    let mut o = Outcome::default();
    for t in &plan.tables {
        let n = t.keys.len();
        match t.action {
            PlanAction::Delete => *o.deleted.entry(t.table.clone()).or_default() += n,
            PlanAction::Anonymise => *o.anonymised.entry(t.table.clone()).or_default() += n,
            PlanAction::Restrict => o.restricted.push((
                t.table.clone(),
                n,
                t.rule.clone().unwrap_or_default(),
                t.until.clone().unwrap_or_default(),
                t.why.clone().unwrap_or_default(),
            )),
            PlanAction::KeepForContract => o.kept.push((t.table.clone(), n, t.until.clone())),
            PlanAction::Change => panic!("no change in an erasure: {plan:?}"),
        }
    }
    o.restricted.sort();
    o.kept.sort();
    o
}

fn done(report: &ErasureReport) -> Outcome {
    let mut o = Outcome {
        deleted: report.deleted.clone(),
        anonymised: report.anonymised.clone(),
        restricted: report
            .restricted
            .iter()
            .map(|r| {
                (
                    r.table.clone(),
                    r.rows,
                    r.rule.clone(),
                    r.until.clone(),
                    r.why.to_owned(),
                )
            })
            .collect(),
        kept: report
            .kept_for_contract
            .iter()
            .map(|k| (k.table.clone(), k.rows, k.until.clone()))
            .collect(),
    };
    o.restricted.sort();
    o.kept.sort();
    o
}

fn effects(plan: &DatasetPlan, table: &str, action: PlanAction) -> Vec<(String, FieldEffect)> {
    plan.tables
        .iter()
        .find(|t| t.table == table && t.action == action)
        .map(|t| {
            t.fields
                .iter()
                .map(|f| (f.name.clone(), f.effect))
                .collect()
        })
        .unwrap_or_else(|| panic!("{table} {action:?} in {plan:?}"))
}

fn named(pairs: &[(&str, FieldEffect)]) -> Vec<(String, FieldEffect)> {
    pairs.iter().map(|(n, e)| ((*n).to_owned(), *e)).collect()
}

async fn plans_are_what_runs_do(kind: ConnectorKind, url: &str) {
    let connector = match kind {
        ConnectorKind::Postgres => "postgres",
        ConnectorKind::Mysql => "mysql",
        ConnectorKind::Sqlite => "sqlite",
    };
    let c = Connector::open(map(connector), Some(url), b"test-key".to_vec())
        .await
        .expect("open");
    let schema: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    c.run_statements(&schema).await.expect("schema");
    let mut rows = data();
    rows.extend(active_customer());
    c.run_statements(&rows).await.expect("data");
    c.check().await.expect("the database matches the map");
    let raw = Raw::connect(kind, url).await;
    let anna = ids("customer_number", "C-1");

    // The same data gives the same plan, digest included.
    let first = c.plan_erasure(&anna, &policy(), now()).await.expect("plan");
    assert_eq!(
        c.plan_erasure(&anna, &policy(), now())
            .await
            .expect("plan again"),
        first
    );
    assert_eq!(first.dataset, "operator");
    assert_eq!(first.digest.len(), 64, "hex SHA-256: {}", first.digest);

    // A row of the person changes after the plan: the run refuses and writes nothing.
    c.run_statements(&["UPDATE tickets SET summary = 'called again' WHERE id = 80".to_owned()])
        .await
        .expect("change");
    match c.erase(&anna, &policy(), now(), Some(&first.digest)).await {
        Err(e @ ConnectorError::Stale(_)) => {
            assert!(!e.is_permanent());
            let why = e.to_string();
            assert!(why.contains("changed since the plan was approved"), "{why}");
            assert!(!why.contains("called again"), "no values: {why}");
        }
        other => panic!("a stale plan must be refused: {other:?}"),
    }
    assert_eq!(
        raw.row(
            "SELECT CAST(email AS T), CAST(restricted AS T), \
             (SELECT CAST(COUNT(*) AS T) FROM usage_records WHERE sim_id = 30), \
             (SELECT CAST(COUNT(*) AS T) FROM tickets WHERE customer_id = 1) \
             FROM customers WHERE id = 1"
        )
        .await,
        vec![
            Some("anna@example.org".to_owned()),
            Some("0".to_owned()),
            Some("2".to_owned()),
            Some("1".to_owned()),
        ],
        "nothing written on {kind:?}"
    );

    // Planned again, the run with that digest does exactly what the plan says.
    let plan = c.plan_erasure(&anna, &policy(), now()).await.expect("plan");
    assert_ne!(
        plan.digest, first.digest,
        "the ticket's text is in the digest"
    );
    use PlanAction::{Anonymise, Delete, Restrict};
    assert_eq!(
        shape(&plan),
        vec![
            entry("contact_persons", Delete, &["10"]),
            entry("contracts", Delete, &["20"]),
            entry("customers", Restrict, &["1"]),
            entry("devices", Delete, &["40"]),
            entry("invoices", Restrict, &["60"]),
            entry("invoices", Anonymise, &["61"]),
            entry("payments", Restrict, &["70"]),
            entry("payments", Delete, &["71"]),
            entry("sims", Delete, &["30"]),
            entry("tickets", Delete, &["80"]),
            entry("usage_records", Delete, &["50", "51"]),
        ],
        "{kind:?}"
    );
    use FieldEffect::{Deleted, Fixed, Kept, Nulled};
    assert_eq!(
        effects(&plan, "customers", Restrict),
        named(&[
            ("customer_no", Kept),
            ("name", Kept),
            ("email", Nulled),
            ("birth_date", Nulled),
            ("street", Kept),
            ("city", Kept),
        ])
    );
    assert_eq!(
        effects(&plan, "invoices", Anonymise),
        named(&[("issued_at", Kept), ("amount_cents", Kept), ("iban", Fixed)])
    );
    assert_eq!(
        effects(&plan, "usage_records", Delete),
        named(&[("recorded_at", Deleted), ("bytes", Deleted)])
    );
    let customers = plan
        .tables
        .iter()
        .find(|t| t.table == "customers")
        .expect("customers");
    assert_eq!(
        (
            customers.rule.as_deref(),
            customers.until.as_deref(),
            customers.why.as_deref()
        ),
        (
            Some("booking_vouchers"),
            Some("2033-12-31"),
            Some("referenced_by_retained_record")
        )
    );
    assert!(customers.fields.iter().all(|f| f.changes.is_empty()));
    let report = c
        .erase(&anna, &policy(), now(), Some(&plan.digest))
        .await
        .expect("the approved plan runs");
    assert_eq!(done(&report), planned(&plan), "{kind:?}");
    assert_eq!(report.deleted.get("usage_records"), Some(&2));
    assert_eq!(
        raw.row(
            "SELECT CAST(email AS T), CAST(restricted AS T), \
             (SELECT CAST(COUNT(*) AS T) FROM usage_records WHERE sim_id = 30) \
             FROM customers WHERE id = 1"
        )
        .await,
        vec![None, Some("1".to_owned()), Some("0".to_owned())]
    );
    // What is left is only kept or restricted: planning again deletes nothing.
    let after = c.plan_erasure(&anna, &policy(), now()).await.expect("plan");
    assert!(
        after
            .tables
            .iter()
            .all(|t| t.action == Restrict || t.action == Anonymise),
        "{after:?}"
    );

    rectification(&c, &raw, kind).await;
    running_contract(&c, &raw, kind).await;
    raw.close().await;
}

/// A planned field change as seen: name, effect, who may change it, before, after.
type FieldSeen<'a> = (
    &'a str,
    FieldEffect,
    Option<Rectify>,
    Option<&'a str>,
    Option<&'a str>,
);

/// C-2's e-mail address and city: the plan shows before and after; a change of the row in
/// between refuses the run; the run of a fresh plan writes exactly those two fields.
async fn rectification(c: &Connector, raw: &Raw, kind: ConnectorKind) {
    let bernd = ids("customer_number", "C-2");
    let wanted = changes(&[("email", "bernd.meier@example.org"), ("city", "Bonn")]);
    // Refused as the run refuses, before anything: identifiers, unknown names, a value its
    // column does not take.
    for bad in [
        changes(&[("imsi", "262010000000000")]),
        changes(&[("shoe_size", "44")]),
    ] {
        assert!(
            matches!(
                c.plan_rectification(&bernd, &bad).await,
                Err(ConnectorError::Refused(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        c.plan_rectification(&bernd, &changes(&[("date_of_birth", "yesterday")]))
            .await,
        Err(ConnectorError::Value { .. })
    ));
    let first = c.plan_rectification(&bernd, &wanted).await.expect("plan");
    assert_eq!(first.tables.len(), 1, "{first:?}");
    let t = &first.tables[0];
    assert_eq!(
        (t.table.as_str(), t.action, t.keys.clone()),
        ("customers", PlanAction::Change, vec!["2".to_owned()])
    );
    let fields: Vec<FieldSeen<'_>> = t
        .fields
        .iter()
        .map(|f| {
            assert_eq!(f.changes.len(), 1, "{f:?}");
            (
                f.name.as_str(),
                f.effect,
                f.rectify,
                f.changes[0].before.as_deref(),
                f.changes[0].after.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        vec![
            (
                "email",
                FieldEffect::Changed,
                Some(Rectify::Person),
                Some("bernd@example.org"),
                Some("bernd.meier@example.org")
            ),
            (
                "city",
                FieldEffect::Changed,
                Some(Rectify::Agent),
                Some("Köln"),
                Some("Bonn")
            ),
        ]
    );
    assert_eq!(
        t.fields[1].label.as_ref().map(|l| l.en.as_str()),
        Some("City")
    );
    // Another field of the row changes after the plan: refused, nothing written.
    c.run_statements(&["UPDATE customers SET street = 'Nebenweg 3' WHERE id = 2".to_owned()])
        .await
        .expect("change");
    assert!(matches!(
        c.rectify(&bernd, &wanted, Some(&first.digest)).await,
        Err(ConnectorError::Stale(_))
    ));
    let select =
        "SELECT CAST(email AS T), CAST(city AS T), CAST(street AS T) FROM customers WHERE id = 2";
    assert_eq!(
        raw.row(select).await,
        vec![
            Some("bernd@example.org".to_owned()),
            Some("Köln".to_owned()),
            Some("Nebenweg 3".to_owned()),
        ],
        "nothing written on {kind:?}"
    );
    let plan = c.plan_rectification(&bernd, &wanted).await.expect("plan");
    assert_ne!(plan.digest, first.digest);
    assert_eq!(
        c.rectify(&bernd, &wanted, Some(&plan.digest))
            .await
            .expect("the approved plan runs"),
        1,
        "two fields of one row: one row corrected"
    );
    assert_eq!(
        raw.row(select).await,
        vec![
            Some("bernd.meier@example.org".to_owned()),
            Some("Bonn".to_owned()),
            Some("Nebenweg 3".to_owned()),
        ],
        "{kind:?}"
    );
}

/// C-4's contract runs until 2027-06-30: the erasure keeps it, its SIM and tracker and the
/// customer row whole (not restricted, nothing erased in it); the usage record (its own rule)
/// and the ticket go; the 2024 invoice is restricted under its duty.
async fn running_contract(c: &Connector, raw: &Raw, kind: ConnectorKind) {
    let dora = ids("email", "dora@example.org");
    let plan = c.plan_erasure(&dora, &policy(), now()).await.expect("plan");
    use PlanAction::{Delete, KeepForContract, Restrict};
    assert_eq!(
        shape(&plan),
        vec![
            entry("contracts", KeepForContract, &["24"]),
            entry("customers", KeepForContract, &["4"]),
            entry("devices", KeepForContract, &["44"]),
            entry("invoices", Restrict, &["64"]),
            entry("sims", KeepForContract, &["34"]),
            entry("tickets", Delete, &["84"]),
            entry("usage_records", Delete, &["54"]),
        ],
        "{kind:?}"
    );
    for t in plan.tables.iter().filter(|t| t.action == KeepForContract) {
        assert_eq!(
            (t.rule.as_deref(), t.until.as_deref(), t.why.as_deref()),
            (
                Some("running_contract"),
                Some("2027-06-30"),
                Some("running_contract")
            ),
            "{}",
            t.table
        );
        assert!(
            t.fields.iter().all(|f| f.effect == FieldEffect::Kept),
            "{t:?}"
        );
    }
    let report = c
        .erase(&dora, &policy(), now(), Some(&plan.digest))
        .await
        .expect("erase");
    assert_eq!(done(&report), planned(&plan), "{kind:?}");
    let kept: Vec<(&str, usize, Option<&str>)> = report
        .kept_for_contract
        .iter()
        .map(|k| (k.table.as_str(), k.rows, k.until.as_deref()))
        .collect();
    let until = Some("2027-06-30");
    assert_eq!(
        kept,
        vec![
            ("devices", 1, until),
            ("sims", 1, until),
            ("contracts", 1, until),
            ("customers", 1, until),
        ]
    );
    assert_eq!(
        report
            .restricted
            .iter()
            .map(|r| r.table.as_str())
            .collect::<Vec<_>>(),
        ["invoices"]
    );
    // The customer row whole and not flagged; contract, SIM, tracker as they were.
    assert_eq!(
        raw.row(
            "SELECT CAST(c.email AS T), CAST(c.birth_date AS T), CAST(c.restricted AS T), \
             CAST(k.restricted AS T), CAST(k.product AS T), CAST(s.imsi AS T), CAST(d.model AS T) \
             FROM customers c JOIN contracts k ON k.customer_id = c.id \
             JOIN sims s ON s.contract_id = k.id JOIN devices d ON d.sim_id = s.id WHERE c.id = 4"
        )
        .await,
        vec![
            Some("dora@example.org".to_owned()),
            Some("1985-07-08".to_owned()),
            Some("0".to_owned()),
            Some("0".to_owned()),
            Some("IoT M2M 2GB".to_owned()),
            Some("262013333333333".to_owned()),
            Some("Tracker T4".to_owned()),
        ],
        "{kind:?}"
    );
    assert_eq!(
        raw.row(
            "SELECT (SELECT CAST(COUNT(*) AS T) FROM usage_records WHERE id = 54), \
             (SELECT CAST(COUNT(*) AS T) FROM tickets WHERE id = 84), \
             (SELECT CAST(iban AS T) FROM invoices WHERE id = 64)"
        )
        .await,
        vec![
            Some("0".to_owned()),
            Some("0".to_owned()),
            Some("erased".to_owned())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_are_what_runs_do_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    plans_are_what_runs_do(ConnectorKind::Postgres, &pg.store_url()).await;
    pg.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_are_what_runs_do_on_sqlite() {
    let dir = temp_dir("plan");
    let url = format!("sqlite://{}", dir.join("operator.db").to_string_lossy());
    std::fs::File::create(dir.join("operator.db")).expect("db file");
    plans_are_what_runs_do(ConnectorKind::Sqlite, &url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_are_what_runs_do_on_mariadb() {
    let Some((url, db)) = mariadb().await else {
        return;
    };
    plans_are_what_runs_do(ConnectorKind::Mysql, &url).await;
    let admin = sqlx::MySqlPool::connect(&url).await.expect("admin");
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {db}")))
        .execute(&admin)
        .await;
}
