//! The connectors against real PostgreSQL, MariaDB and SQLite databases: the same demo schema
//! and the same checks on each. Under `CI=true` a database that cannot be reached fails the test.

#![allow(
    clippy::panic,
    clippy::print_stderr,
    reason = "test helpers fail by panicking and say why they skip"
)]

use std::collections::BTreeMap;

use tutela_connectors::demo::{MAP, SCHEMA};
use tutela_connectors::{Connector, ConnectorError, Identities};
use tutela_core::datamap::{self, DatasetMap};
use tutela_core::policy::{MemoryLoader, Policy, load_policy};
use tutela_store::testing::{PgSchema, temp_dir, unique};

const REFERENCE: &str = include_str!("../../../policies/reference.toml");

fn policy() -> Policy {
    let loader = MemoryLoader::new().with("reference.toml", REFERENCE);
    load_policy(&loader, "reference.toml").expect("reference policy")
}

fn map(connector: &str) -> DatasetMap {
    let text = MAP.replace(
        "connector = \"postgres\"",
        &format!("connector = \"{connector}\""),
    );
    datamap::load("demo-operator.toml", &text, &policy()).expect("the demo map is valid")
}

/// Two persons: C-1 with rows everywhere (an invoice inside the retention period and one
/// long past it, a contract ended in 2025), C-2 with a running contract and its SIM.
fn data() -> Vec<String> {
    [
        "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (1, 'C-1', 'Anna Müller', 'anna@example.org', '1980-02-03', 'Hauptstr. 1', 'Bonn', '2009-01-01')",
        "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (2, 'C-2', 'Bernd Meier', 'bernd@example.org', '1975-05-06', 'Nebenweg 2', 'Köln', '2012-01-01')",
        "INSERT INTO contact_persons (id, customer_id, name, email, phone) VALUES (10, 1, 'Carla Müller', 'carla@example.org', '+49 228 1234')",
        "INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (20, 1, 'IoT M2M 1GB', '2009-01-01', '2025-06-30')",
        "INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (21, 2, 'IoT M2M 5GB', '2012-01-01', NULL)",
        "INSERT INTO sims (id, contract_id, iccid, imsi, msisdn) VALUES (30, 20, '8949010000000000011', '262011234567890', '4915112345678')",
        "INSERT INTO sims (id, contract_id, iccid, imsi, msisdn) VALUES (31, 21, '8949010000000000029', '262019876543210', '4915187654321')",
        "INSERT INTO devices (id, sim_id, imei, model) VALUES (40, 30, '490154203237518', 'Tracker T1')",
        "INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES (50, 30, '2026-05-01T00:00:00Z', 1048576)",
        "INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES (51, 30, '2026-05-02T00:00:00Z', 2048)",
        "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (60, 1, '2025-03-01', 1999, 'DE89370400440532013000')",
        "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (61, 1, '2010-03-01', 999, 'DE89370400440532013000')",
        "INSERT INTO payments (id, invoice_id, paid_at, amount_cents) VALUES (70, 60, '2025-03-10', 1999)",
        "INSERT INTO payments (id, invoice_id, paid_at, amount_cents) VALUES (71, 61, '2010-03-10', 999)",
        "INSERT INTO tickets (id, customer_id, opened_at, topic, summary) VALUES (80, 1, '2026-04-01', 'billing', 'asked about, \"roaming\"')",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn ids(kind: &str, value: &str) -> Identities {
    BTreeMap::from([(kind.to_owned(), vec![value.to_owned()])])
}

fn count(c: &Connector, rows: &tutela_connectors::Collected, table: &str) -> usize {
    c.map
        .table(table)
        .and_then(|t| rows.get(&t))
        .map_or(0, Vec::len)
}

fn now() -> jiff::Timestamp {
    "2026-11-30T12:00:00Z".parse().expect("time")
}

async fn run_all(c: &Connector) {
    let schema: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    c.run_statements(&schema).await.expect("schema");
    c.run_statements(&data()).await.expect("data");
    c.check().await.expect("the database matches the map");

    // Access: the same person from every identifier; nothing of anyone else.
    let by_no = c
        .collect(&ids("customer_number", "C-1"))
        .await
        .expect("collect");
    for (table, n) in [
        ("customers", 1),
        ("contact_persons", 1),
        ("contracts", 1),
        ("sims", 1),
        ("devices", 1),
        ("usage_records", 2),
        ("invoices", 2),
        ("payments", 2),
        ("tickets", 1),
    ] {
        assert_eq!(count(c, &by_no, table), n, "{table} on {:?}", c.kind());
    }
    for (kind, value) in [
        ("email", "anna@example.org"),
        ("iccid", "8949010000000000011"),
        ("imei", "490154203237518"),
        ("msisdn", "4915112345678"),
    ] {
        assert_eq!(
            c.collect(&ids(kind, value)).await.expect("collect"),
            by_no,
            "{kind}"
        );
    }
    assert!(
        c.collect(&ids("email", "nobody@example.org"))
            .await
            .expect("collect")
            .is_empty()
    );
    let tables = c.tables(&by_no, false);
    let customers = tables
        .iter()
        .find(|t| t.table == "customers")
        .expect("customers");
    assert_eq!(customers.columns[..3], ["id", "customer_no", "name"]);
    assert_eq!(customers.rows[0][2].as_deref(), Some("Anna Müller"));
    assert_eq!(customers.categories[3], "contact");
    let tickets = tables
        .iter()
        .find(|t| t.table == "tickets")
        .expect("tickets");
    assert_eq!(
        tickets.rows[0][3].as_deref(),
        Some("asked about, \"roaming\"")
    );
    assert!(
        !c.tables(&by_no, true).iter().any(|t| t.table == "invoices"),
        "invoices are not portable"
    );

    // Rectification of named fields; an unknown name changes nothing.
    let changes = BTreeMap::from([("email".to_owned(), "anna.mueller@example.org".to_owned())]);
    assert_eq!(
        c.rectify(&ids("customer_number", "C-1"), &changes, None)
            .await
            .expect("rectify"),
        1
    );
    assert_eq!(
        c.collect(&ids("email", "anna.mueller@example.org"))
            .await
            .expect("collect"),
        c.collect(&ids("customer_number", "C-1"))
            .await
            .expect("collect")
    );
    assert!(c.rectifiable().contains("date_of_birth"));
    let unknown = BTreeMap::from([("shoe_size".to_owned(), "44".to_owned())]);
    assert!(matches!(
        c.rectify(&ids("customer_number", "C-1"), &unknown, None)
            .await,
        Err(ConnectorError::Refused(_))
    ));

    // Restriction flags where the map names them.
    assert_eq!(
        c.restrict(&ids("customer_number", "C-1"))
            .await
            .expect("restrict"),
        4
    );

    // Erasure: children first, the booking vouchers inside 8 years restricted, the rows they
    // reference anonymised instead of deleted, the rest deleted.
    let report = c
        .erase(&ids("customer_number", "C-1"), &policy(), now(), None)
        .await
        .expect("erase");
    assert_eq!(report.deleted.get("usage_records"), Some(&2));
    assert_eq!(report.deleted.get("devices"), Some(&1));
    assert_eq!(report.deleted.get("sims"), Some(&1));
    assert_eq!(report.deleted.get("contracts"), Some(&1));
    assert_eq!(report.deleted.get("tickets"), Some(&1));
    assert_eq!(report.deleted.get("contact_persons"), Some(&1));
    assert_eq!(
        report.deleted.get("payments"),
        Some(&1),
        "the 2010 payment is past 8 years"
    );
    assert_eq!(
        report.anonymised.get("invoices"),
        Some(&1),
        "the 2010 invoice"
    );
    assert!(!report.deleted.contains_key("customers"));
    let restricted: Vec<(&str, &str, &str)> = report
        .restricted
        .iter()
        .map(|r| (r.table.as_str(), r.until.as_str(), r.why))
        .collect();
    assert!(
        restricted.contains(&("payments", "2033-12-31", "legal_retention")),
        "{restricted:?}"
    );
    assert!(
        restricted.contains(&("invoices", "2033-12-31", "legal_retention")),
        "{restricted:?}"
    );
    // The invoice needs the customer it was addressed to: that row is kept, restricted.
    assert!(
        restricted.contains(&("customers", "2033-12-31", "referenced_by_retained_record")),
        "{restricted:?}"
    );
    // What is left of the person: the retained vouchers and the customer row they name.
    let left = c
        .collect(&ids("customer_number", "C-1"))
        .await
        .expect("collect");
    for (table, n) in [
        ("customers", 1),
        ("invoices", 2),
        ("payments", 1),
        ("contracts", 0),
        ("sims", 0),
        ("tickets", 0),
    ] {
        assert_eq!(count(c, &left, table), n, "{table} after erasure");
    }
    let old_invoice = c
        .tables(&left, false)
        .into_iter()
        .find(|t| t.table == "invoices")
        .and_then(|t| t.rows.into_iter().find(|r| r[0].as_deref() == Some("61")))
        .expect("the 2010 invoice");
    assert_eq!(
        old_invoice[3].as_deref(),
        Some("erased"),
        "its IBAN is gone"
    );
    let other = c
        .collect(&ids("customer_number", "C-2"))
        .await
        .expect("collect");
    assert_eq!(count(c, &other, "customers"), 1);
    assert_eq!(count(c, &other, "sims"), 1);
    // Idempotent: erasing again deletes nothing more and keeps the same records.
    let again = c
        .erase(&ids("customer_number", "C-1"), &policy(), now(), None)
        .await
        .expect("erase again");
    assert!(again.deleted.is_empty(), "{again:?}");
    assert_eq!(again.restricted, report.restricted);
    // Nine years on, the vouchers' period is over: payments go, invoices keep only their
    // amounts (the map says `update`), so the customer row they reference is anonymised.
    let later: jiff::Timestamp = "2035-01-01T00:00:00Z".parse().expect("time");
    let last = c
        .erase(&ids("customer_number", "C-1"), &policy(), later, None)
        .await
        .expect("erase later");
    assert!(last.restricted.is_empty(), "{last:?}");
    assert_eq!(last.deleted.get("payments"), Some(&1));
    assert_eq!(last.anonymised.get("customers"), Some(&1));
    assert!(
        c.collect(&ids("customer_number", "C-1"))
            .await
            .expect("collect")
            .is_empty()
    );
    sweep_checks(c).await;
}

/// C-3: usage records on both sides of the 3-month cutoff (25 of them at one instant, so
/// batches cross ties), one held; an old invoice with an old payment, an old invoice whose
/// payment is still inside its period, an old invoice whose old payment is held, and an old
/// invoice whose payment has no date (never swept).
fn sweep_data() -> Vec<String> {
    let mut s: Vec<String> = [
        "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (3, 'C-3', 'Cem Kaya', 'cem@example.org', '1990-01-01', 'Ring 3', 'Bonn', '2015-01-01')",
        "INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (22, 3, 'IoT M2M 1GB', '2015-01-01', NULL)",
        "INSERT INTO sims (id, contract_id, iccid, imsi, msisdn) VALUES (32, 22, '8949010000000000037', '262011111111111', '4915111111111')",
        "INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES (90, 32, '2026-08-29T23:59:59Z', 1)",
        "INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES (91, 32, '2026-08-30T00:00:00Z', 1)",
        "INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES (93, 32, '2026-02-01T00:00:00Z', 1)",
        "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (95, 3, '2016-03-01', 100, 'DE89370400440532013000')",
        "INSERT INTO payments (id, invoice_id, paid_at, amount_cents) VALUES (96, 95, '2016-03-10', 100)",
        "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (97, 3, '2016-05-01', 100, 'DE89370400440532013000')",
        "INSERT INTO payments (id, invoice_id, paid_at, amount_cents) VALUES (98, 97, '2019-01-01', 100)",
        "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (130, 3, '2016-06-01', 100, 'DE89370400440532013000')",
        "INSERT INTO payments (id, invoice_id, paid_at, amount_cents) VALUES (131, 130, '2016-06-10', 100)",
        "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (132, 3, '2016-07-01', 100, 'DE89370400440532013000')",
        "INSERT INTO payments (id, invoice_id, paid_at, amount_cents) VALUES (133, 132, NULL, 100)",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for id in 100..125 {
        s.push(format!("INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES ({id}, 32, '2026-01-01T00:00:00Z', 1)"));
    }
    s
}

/// The sweep step on the demo schema: what is due goes, in small batches; held rows, rows
/// inside their period and rows still referenced stay.
async fn sweep_checks(c: &Connector) {
    // covers: N6, N7b, N5a
    use std::collections::BTreeSet;
    use tutela_core::retention::plan_sweep;
    c.run_statements(&sweep_data()).await.expect("sweep data");
    let today = jiff::civil::date(2026, 11, 30);
    let plan = plan_sweep(&policy(), std::slice::from_ref(&c.map), today);
    // Usage record 93 and payment 131 are held.
    let held_by_table: BTreeMap<usize, BTreeSet<String>> =
        [("usage_records", "93"), ("payments", "131")]
            .into_iter()
            .map(|(t, k)| {
                (
                    c.map.table(t).expect("table"),
                    BTreeSet::from([k.to_owned()]),
                )
            })
            .collect();
    let held = |t: &str| {
        c.map
            .table(t)
            .and_then(|ti| held_by_table.get(&ti))
            .cloned()
            .unwrap_or_default()
    };
    let due = |t: &str| {
        let ix = plan
            .targets
            .iter()
            .position(|x| x.table_name == t)
            .expect("target");
        let rows = plan.due_rows(ix).expect("due rows");
        let held = &held_by_table;
        async move { c.count_due(&rows, held).await.expect("count") }
    };
    // 90 and the 25 tied ones (93 is held); payment 96; invoice 61 of C-1 (2010) and 95, freed
    // in the same sweep by deleting payment 96 first. Not 130, whose payment 131 is held, nor
    // 132, whose undated payment is never swept, nor 97, whose payment is inside its period.
    // The plan counts all before anything runs.
    let mut planned = BTreeMap::new();
    for t in &plan.targets {
        planned.insert(t.table_name.clone(), due(&t.table_name).await);
    }
    assert_eq!(planned.get("usage_records"), Some(&26), "{:?}", c.kind());
    assert_eq!(planned.get("invoices"), Some(&2), "{:?}", c.kind());
    assert_eq!(planned.get("payments"), Some(&1), "{:?}", c.kind());
    // A lock limit far above what these batches take: set on PostgreSQL, never reached.
    let limit = Some(std::time::Duration::from_secs(10));
    let mut deleted = BTreeMap::new();
    for target in &plan.targets {
        let mut cursor = None;
        let mut batches = 0;
        loop {
            let b = c
                .sweep_batch(target, cursor.as_ref(), 4, &held(&target.table_name), limit)
                .await
                .expect("batch");
            *deleted.entry(target.table_name.clone()).or_insert(0) += b.deleted;
            batches += 1;
            assert!(batches < 100, "the cursor advances");
            match b.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    assert_eq!(deleted.get("usage_records"), Some(&26), "{:?}", c.kind());
    // Payments run first, so invoice 95 has no payment left when invoices run.
    assert_eq!(deleted.get("payments"), Some(&1));
    assert_eq!(deleted.get("invoices"), Some(&2));
    // The plan is what ran, table by table.
    assert_eq!(planned, deleted, "{:?}", c.kind());
    for t in ["usage_records", "invoices", "payments"] {
        assert_eq!(due(t).await, 0, "{t} after the sweep");
    }
    let left = c
        .collect(&ids("customer_number", "C-3"))
        .await
        .expect("collect");
    let keys = |t: &str| -> Vec<String> {
        let ti = c.map.table(t).expect("table");
        let mut k: Vec<String> = left
            .get(&ti)
            .into_iter()
            .flatten()
            .map(|r| r.key.clone())
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys("usage_records"), vec!["91", "93"], "{:?}", c.kind());
    assert_eq!(keys("invoices"), vec!["130", "132", "97"]);
    assert_eq!(keys("payments"), vec!["131", "133", "98"]);
    assert_eq!(
        keys("customers"),
        vec!["3"],
        "tables without a rule are not swept"
    );
    // Another sweep finds nothing; once the hold is lifted, the held row goes.
    for target in &plan.targets {
        let again = c
            .sweep_batch(target, None, 100, &held(&target.table_name), None)
            .await
            .expect("batch");
        assert_eq!(
            (again.deleted, again.cursor),
            (0, None),
            "{}",
            target.table_name
        );
    }
    let usage = plan
        .targets
        .iter()
        .find(|t| t.table_name == "usage_records")
        .expect("usage");
    let lifted = c
        .sweep_batch(usage, None, 100, &BTreeSet::new(), None)
        .await
        .expect("batch");
    assert_eq!(lifted.deleted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_on_sqlite() {
    let dir = temp_dir("connector");
    let url = format!("sqlite://{}", dir.join("operator.db").to_string_lossy());
    std::fs::File::create(dir.join("operator.db")).expect("db file");
    let c = Connector::open(map("sqlite"), Some(&url), b"test-key".to_vec())
        .await
        .expect("open");
    run_all(&c).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let c = Connector::open(map("postgres"), Some(&pg.store_url()), b"test-key".to_vec())
        .await
        .expect("open");
    run_all(&c).await;
    drop(c);
    pg.drop_schema().await;
}

/// A fresh MariaDB database; `None` only outside CI when MariaDB is unreachable.
async fn mariadb() -> Option<(String, String)> {
    let admin_url = std::env::var("TUTELA_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let admin = match sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&admin_url)
        .await
    {
        Ok(p) => p,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!(
                "skipping: MariaDB at {admin_url} unreachable ({e}); CI=true makes this a failure"
            );
            return None;
        }
        Err(e) => panic!("MariaDB at {admin_url} is required under CI=true: {e}"),
    };
    let db = format!("tutela_test_{}", unique());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {db} CHARACTER SET utf8mb4"
    )))
    .execute(&admin)
    .await
    .expect("create database");
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    Some((format!("{base}/{db}"), db))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_on_mariadb() {
    let Some((url, db)) = mariadb().await else {
        return;
    };
    let c = Connector::open(map("mysql"), Some(&url), b"test-key".to_vec())
        .await
        .expect("open");
    run_all(&c).await;
    drop(c);
    let admin = sqlx::MySqlPool::connect(&url).await.expect("admin");
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {db}")))
        .execute(&admin)
        .await;
}

#[tokio::test]
async fn a_database_that_does_not_match_its_map_is_named() {
    let dir = temp_dir("connector-map");
    let url = format!("sqlite://{}", dir.join("operator.db").to_string_lossy());
    std::fs::File::create(dir.join("operator.db")).expect("db file");
    let c = Connector::open(map("sqlite"), Some(&url), b"k".to_vec())
        .await
        .expect("open");
    match c.check().await {
        Err(ConnectorError::Map { dataset, why }) => {
            assert_eq!(dataset, "operator");
            assert!(why.contains("customers"), "{why}");
        }
        other => panic!("expected a map error, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable_not_a_map_error() {
    let r = Connector::open(
        map("postgres"),
        Some("postgres://nobody@127.0.0.1:1/none?connect_timeout=1"),
        b"k".to_vec(),
    )
    .await;
    assert!(
        matches!(r, Err(ConnectorError::Unavailable { .. })),
        "{:?}",
        r.err()
    );
}

/// A PostgreSQL map of people and their events, swept 3 months after `at`.
const PG_EVENTS_MAP: &str = "[dataset]\nid = \"net\"\nconnector = \"postgres\"\nurl_env = \"UNUSED\"\nperson_table = \"people\"\n\
        [[table]]\nname = \"people\"\n[[table.field]]\nname = \"email\"\ncategory = \"contact\"\nidentifies = \"email\"\n\
        [[table]]\nname = \"events\"\nreferences = [{ column = \"person_id\", table = \"people\" }]\n\
        retention = \"service_quality_data\"\nretention_from = \"at\"\n[[table.field]]\nname = \"bytes\"\ncategory = \"usage\"\n";

/// PostgreSQL time columns (`timestamptz`, `date`) compare with the cutoff as times, not text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_postgres_time_columns() {
    // covers: N7b
    use std::collections::BTreeSet;
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let text = format!(
        "{PG_EVENTS_MAP}\
        [[table]]\nname = \"days\"\nreferences = [{{ column = \"person_id\", table = \"people\" }}]\n\
        retention = \"service_quality_data\"\nretention_from = \"on_day\"\n[[table.field]]\nname = \"bytes\"\ncategory = \"usage\"\n"
    );
    let map = datamap::load("net.toml", &text, &policy()).expect("map");
    let c = Connector::open(map, Some(&pg.store_url()), b"k".to_vec())
        .await
        .expect("open");
    c.run_statements(&[
        "CREATE TABLE people (id BIGINT PRIMARY KEY, email TEXT)".to_owned(),
        "CREATE TABLE events (id BIGINT PRIMARY KEY, person_id BIGINT REFERENCES people (id), at TIMESTAMPTZ NOT NULL, bytes BIGINT)".to_owned(),
        "CREATE TABLE days (id BIGINT PRIMARY KEY, person_id BIGINT REFERENCES people (id), on_day DATE NOT NULL, bytes BIGINT)".to_owned(),
        "INSERT INTO people VALUES (1, 'p@example.org')".to_owned(),
        // The cutoff on 2026-11-30 is 2026-08-30 00:00 UTC; a time zone must not move it.
        "INSERT INTO events VALUES (1, 1, '2026-08-29 23:59:59.999999+00', 1), (2, 1, '2026-08-30 00:00:00+00', 1), (3, 1, '2026-08-30 01:00:00+02', 1), (4, 1, '2020-01-01 00:00:00+00', 1)".to_owned(),
        "INSERT INTO days VALUES (1, 1, '2026-08-29', 1), (2, 1, '2026-08-30', 1)".to_owned(),
    ])
    .await
    .expect("schema");
    let plan = tutela_core::retention::plan_sweep(
        &policy(),
        std::slice::from_ref(&c.map),
        jiff::civil::date(2026, 11, 30),
    );
    // The counts compare as times too, and equal what the sweep deletes.
    let mut counted = BTreeMap::new();
    for ix in 0..plan.targets.len() {
        let rows = plan.due_rows(ix).expect("target");
        let n = c.count_due(&rows, &BTreeMap::new()).await.expect("count");
        counted.insert(rows.target.table_name.clone(), n);
    }
    let mut gone = BTreeMap::new();
    for t in &plan.targets {
        let mut cursor = None;
        loop {
            let b = c
                .sweep_batch(t, cursor.as_ref(), 1, &BTreeSet::new(), None)
                .await
                .expect("batch");
            *gone.entry(t.table_name.clone()).or_insert(0) += b.deleted;
            match b.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    // 01:00+02 is 23:00 UTC of the 29th: before the cutoff.
    assert_eq!(gone.get("events"), Some(&3));
    assert_eq!(gone.get("days"), Some(&1));
    assert_eq!(counted, gone);
    let left = c
        .collect(&ids("email", "p@example.org"))
        .await
        .expect("collect");
    let events = c.map.table("events").expect("events");
    assert_eq!(
        left.get(&events)
            .map(|r| r.iter().map(|x| x.key.clone()).collect::<Vec<_>>()),
        Some(vec!["2".to_owned()])
    );
    drop(c);
    pg.drop_schema().await;
}

/// On PostgreSQL a batch whose `DELETE` runs past the lock limit is cancelled by the database
/// itself: it deletes nothing and leaves the cursor where it was, and the next try deletes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_past_its_lock_limit_is_cancelled_and_changes_nothing() {
    // covers: N7b
    use std::collections::BTreeSet;
    use std::time::Duration;
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let text = PG_EVENTS_MAP;
    let map = datamap::load("net.toml", text, &policy()).expect("map");
    let c = Connector::open(map, Some(&pg.store_url()), b"k".to_vec())
        .await
        .expect("open");
    c.run_statements(&[
        "CREATE TABLE people (id BIGINT PRIMARY KEY, email TEXT)".to_owned(),
        "CREATE TABLE events (id BIGINT PRIMARY KEY, person_id BIGINT REFERENCES people (id), at TIMESTAMPTZ NOT NULL, bytes BIGINT)".to_owned(),
        "INSERT INTO people VALUES (1, 'p@example.org')".to_owned(),
        "INSERT INTO events VALUES (1, 1, '2020-01-01 00:00:00+00', 1), (2, 1, '2020-01-02 00:00:00+00', 1), (3, 1, '2020-01-03 00:00:00+00', 1)".to_owned(),
    ])
    .await
    .expect("schema");
    let plan = tutela_core::retention::plan_sweep(
        &policy(),
        std::slice::from_ref(&c.map),
        jiff::civil::date(2026, 11, 30),
    );
    let events = plan
        .targets
        .iter()
        .find(|t| t.table_name == "events")
        .expect("events are swept");
    // Another transaction holds a due row, so the batch's DELETE waits until it is cancelled.
    let blocker = pg
        .lock_rows("SELECT id FROM events WHERE id = 2 FOR UPDATE")
        .await;
    let none = BTreeSet::new();
    let limit = Some(Duration::from_millis(100));
    let b = c
        .sweep_batch(events, None, 10, &none, limit)
        .await
        .expect("a cancelled batch is no error");
    assert!(b.cancelled, "{b:?}");
    assert_eq!((b.deleted, b.cursor.clone()), (0, None));
    assert!(
        b.elapsed >= Duration::from_millis(100) && b.elapsed < Duration::from_secs(5),
        "cancelled at the limit: {:?}",
        b.elapsed
    );
    let rows = plan
        .targets
        .iter()
        .position(|t| t.table_name == "events")
        .and_then(|ix| plan.due_rows(ix))
        .expect("events");
    let no_holds = BTreeMap::new();
    assert_eq!(c.count_due(&rows, &no_holds).await.expect("count"), 3);
    blocker.release().await;
    let b = c
        .sweep_batch(events, None, 10, &none, limit)
        .await
        .expect("batch");
    assert!(!b.cancelled, "{b:?}");
    assert_eq!(b.deleted, 3);
    assert_eq!(c.count_due(&rows, &no_holds).await.expect("count"), 0);
    pg.drop_schema().await;
}

mod find;
mod keep;
mod plan;
mod typed;
