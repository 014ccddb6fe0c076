//! Erasure under a retention duty keeps only what the duty needs, and rectification follows
//! the map's rules, on the demo database on PostgreSQL, MariaDB and SQLite: after erasing a
//! customer whose invoices must be kept, the customer row holds no e-mail or date of birth and
//! the invoices no IBAN, what stays is flagged restricted; identifiers never change, and no
//! change is written onto several records.

use std::collections::BTreeMap;

use tutela_connectors::demo::{MAP, SCHEMA};
use tutela_connectors::{Connector, ConnectorError};
use tutela_core::datamap::{self, ConnectorKind};
use tutela_store::testing::{PgSchema, temp_dir};

use super::typed::Raw;
use super::{data, ids, mariadb, now, policy};

/// The demo map, with a device's model correctable (so that a change could reach both
/// trackers of a person with two).
fn map(kind: ConnectorKind) -> datamap::DatasetMap {
    let connector = match kind {
        ConnectorKind::Postgres => "postgres",
        ConnectorKind::Mysql => "mysql",
        ConnectorKind::Sqlite => "sqlite",
    };
    let text = MAP
        .replace(
            "connector = \"postgres\"",
            &format!("connector = \"{connector}\""),
        )
        .replace(
            "name = \"model\"\ncategory = \"device\"\n",
            "name = \"model\"\ncategory = \"device\"\nrectify_as = \"tracker_model\"\n",
        );
    datamap::load("demo-operator.toml", &text, &policy()).expect("the demo map is valid")
}

fn changes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn keeps_only_what_the_duty_needs(kind: ConnectorKind, url: &str) {
    let c = Connector::open(map(kind), Some(url), b"test-key".to_vec())
        .await
        .expect("open");
    let schema: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    c.run_statements(&schema).await.expect("schema");
    let mut rows = data();
    // A second contract of C-1 (ended too: a running one would keep the customer whole), with
    // its own SIM and tracker.
    rows.extend([
        "INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (23, 1, 'IoT M2M 5GB', '2020-01-01', '2026-10-31')".to_owned(),
        "INSERT INTO sims (id, contract_id, iccid, imsi, msisdn) VALUES (33, 23, '8949010000000000045', '262012222222222', '4915122222222')".to_owned(),
        "INSERT INTO devices (id, sim_id, imei, model) VALUES (41, 33, '490154203237526', 'Tracker T2')".to_owned(),
    ]);
    c.run_statements(&rows).await.expect("data");
    c.check().await.expect("the database matches the map");
    let raw = Raw::connect(kind, url).await;
    let me = ids("customer_number", "C-1");

    // Rectification by rule: identifiers never change; a change never reaches two records;
    // the person's city does.
    for name in ["customer_number", "imsi", "iccid", "msisdn", "imei"] {
        assert!(!c.rectifiable().contains(name), "{name}");
        assert!(c.never_rectified(name), "{name}");
        let r = c.rectify(&me, &changes(&[(name, "X-EVIL-1")]), None).await;
        assert!(
            matches!(r, Err(ConnectorError::Refused(_))),
            "{name}: {r:?}"
        );
    }
    let r = c
        .rectify(&me, &changes(&[("tracker_model", "Tracker X")]), None)
        .await;
    match r {
        Err(ConnectorError::Refused(why)) => {
            assert!(why.contains("`devices.model` is held in 2 rows"), "{why}");
        }
        other => panic!("a change onto two trackers must be refused: {other:?}"),
    }
    assert_eq!(
        raw.row("SELECT CAST(model AS T) FROM devices WHERE id = 41")
            .await,
        vec![Some("Tracker T2".to_owned())],
        "nothing written"
    );
    assert_eq!(
        c.rectify(&me, &changes(&[("city", "Köln")]), None)
            .await
            .expect("the city is corrected"),
        1
    );
    let labels: Vec<(String, &'static str, String)> = c
        .rectifiable_fields()
        .into_iter()
        .map(|f| {
            (
                f.name,
                f.rule.as_str(),
                f.label.map(|l| l.en).unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        labels.contains(&("city".to_owned(), "agent", "City".to_owned())),
        "{labels:?}"
    );
    assert!(
        labels.contains(&("email".to_owned(), "person", "E-mail address".to_owned())),
        "{labels:?}"
    );

    // Erasure: invoice 60 (2025) is inside its 8 years, so it and its customer row stay,
    // restricted, with only what the duty needs.
    let report = c.erase(&me, &policy(), now(), None).await.expect("erase");
    let customers = report
        .restricted
        .iter()
        .find(|r| r.table == "customers")
        .expect("the customer row is kept");
    assert_eq!(customers.why, "referenced_by_retained_record");
    assert_eq!(customers.kept, ["customer_no", "name", "street", "city"]);
    assert_eq!(customers.erased, ["email", "birth_date"]);
    // `restricted` is an INTEGER column of the demo schema on every engine.
    let (yes, no) = ("1", "0");
    assert_eq!(
        raw.row(
            "SELECT CAST(customer_no AS T), CAST(name AS T), CAST(email AS T), \
             CAST(birth_date AS T), CAST(street AS T), CAST(city AS T), \
             CAST(restricted AS T) FROM customers WHERE id = 1"
        )
        .await,
        vec![
            Some("C-1".to_owned()),
            Some("Anna Müller".to_owned()),
            None,
            None,
            Some("Hauptstr. 1".to_owned()),
            Some("Köln".to_owned()),
            Some(yes.to_owned()),
        ],
        "{kind:?}"
    );
    // The kept invoice: date and amount, no IBAN, restricted; the expired one anonymised.
    assert_eq!(
        raw.row(
            "SELECT CAST(issued_at AS T), CAST(amount_cents AS T), CAST(iban AS T), \
             CAST(restricted AS T) FROM invoices WHERE id = 60"
        )
        .await,
        vec![
            Some("2025-03-01".to_owned()),
            Some("1999".to_owned()),
            Some("erased".to_owned()),
            Some(yes.to_owned()),
        ],
        "{kind:?}"
    );
    assert_eq!(
        raw.row("SELECT CAST(iban AS T) FROM invoices WHERE id = 61")
            .await,
        vec![Some("erased".to_owned())]
    );
    // Contact persons (their phone), contracts, SIMs, devices, tickets: gone.
    for table in ["contact_persons", "contracts", "sims", "devices", "tickets"] {
        assert_eq!(
            raw.row(&format!(
                "SELECT CAST(COUNT(*) AS T) FROM {table} WHERE id IN (10, 20, 23, 30, 33, 40, 41, 80)"
            ))
            .await,
            vec![Some("0".to_owned())],
            "{table}"
        );
    }
    // The other customer is untouched.
    assert_eq!(
        raw.row(
            "SELECT CAST(email AS T), CAST(birth_date AS T), CAST(restricted AS T) \
             FROM customers WHERE id = 2"
        )
        .await,
        vec![
            Some("bernd@example.org".to_owned()),
            Some("1975-05-06".to_owned()),
            Some(no.to_owned()),
        ]
    );
    // Again: nothing more goes, the same rows stay.
    let again = c
        .erase(&me, &policy(), now(), None)
        .await
        .expect("erase again");
    assert!(again.deleted.is_empty(), "{again:?}");
    assert_eq!(again.restricted, report.restricted);
    raw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_keeps_only_what_the_duty_needs_on_postgres() {
    // covers: N6
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    keeps_only_what_the_duty_needs(ConnectorKind::Postgres, &pg.store_url()).await;
    pg.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_keeps_only_what_the_duty_needs_on_sqlite() {
    // covers: N6
    let dir = temp_dir("keep");
    let url = format!("sqlite://{}", dir.join("operator.db").to_string_lossy());
    std::fs::File::create(dir.join("operator.db")).expect("db file");
    keeps_only_what_the_duty_needs(ConnectorKind::Sqlite, &url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_keeps_only_what_the_duty_needs_on_mariadb() {
    // covers: N6
    let Some((url, db)) = mariadb().await else {
        return;
    };
    keeps_only_what_the_duty_needs(ConnectorKind::Mysql, &url).await;
    let admin = sqlx::MySqlPool::connect(&url).await.expect("admin");
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {db}")))
        .execute(&admin)
        .await;
}
