//! Issue 31, "a request finds its person": `Connector::find` resolves any identifier the map
//! names (customer number, e-mail, ICCID, IMSI, MSISDN, IMEI, in any table) to the person's
//! row and customer number, on PostgreSQL, MariaDB and SQLite; nothing found is an empty answer.

use tutela_connectors::Connector;
use tutela_connectors::demo::SCHEMA;
use tutela_store::testing::{PgSchema, temp_dir};

use super::{data, ids, map, mariadb};

async fn finds(c: &Connector) {
    let schema: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    c.run_statements(&schema).await.expect("schema");
    c.run_statements(&data()).await.expect("data");
    for (kind, value) in [
        ("customer_number", "C-1"),
        ("email", "anna@example.org"),
        ("iccid", "8949010000000000011"),
        ("imsi", "262011234567890"),
        ("msisdn", "4915112345678"),
        ("imei", "490154203237518"),
    ] {
        let found = c.find(&ids(kind, value)).await.expect("find");
        assert_eq!(found.len(), 1, "{kind} on {:?}", c.kind());
        assert_eq!(found[0].customer_number.as_deref(), Some("C-1"), "{kind}");
        assert_eq!(found[0].key, "1", "{kind}");
    }
    // Two identifiers of two persons: both, once each.
    let mut both = ids("email", "bernd@example.org");
    both.insert("msisdn".into(), vec!["4915112345678".into()]);
    both.insert("customer_number".into(), vec!["C-1".into()]);
    let mut numbers: Vec<Option<String>> = c
        .find(&both)
        .await
        .expect("find")
        .into_iter()
        .map(|p| p.customer_number)
        .collect();
    numbers.sort();
    assert_eq!(numbers, [Some("C-1".to_owned()), Some("C-2".to_owned())]);
    // An address nobody has, an identifier kind the map does not name: nobody.
    assert!(
        c.find(&ids("email", "stranger@example.org"))
            .await
            .expect("find")
            .is_empty()
    );
    assert!(
        c.find(&ids("passport", "X123"))
            .await
            .expect("find")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_on_sqlite_postgres_and_mariadb() {
    let dir = temp_dir("find");
    let url = format!("sqlite://{}", dir.join("operator.db").to_string_lossy());
    std::fs::File::create(dir.join("operator.db")).expect("db file");
    let c = Connector::open(map("sqlite"), Some(&url), b"test-key".to_vec())
        .await
        .expect("open");
    finds(&c).await;
    drop(c);
    let _ = std::fs::remove_dir_all(dir);

    if let Some(pg) = PgSchema::create().await {
        let c = Connector::open(map("postgres"), Some(&pg.store_url()), b"test-key".to_vec())
            .await
            .expect("open");
        finds(&c).await;
        drop(c);
        pg.drop_schema().await;
    }

    if let Some((url, db)) = mariadb().await {
        let c = Connector::open(map("mysql"), Some(&url), b"test-key".to_vec())
            .await
            .expect("open");
        finds(&c).await;
        drop(c);
        let admin = sqlx::MySqlPool::connect(&url).await.expect("admin");
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {db}")))
            .execute(&admin)
            .await;
    }
}
