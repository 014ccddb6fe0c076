//! Typed writes: every value the connectors write (rectifications, the NULLs and fixed values of
//! an erasure, restriction flags) has its column's type, on PostgreSQL, MariaDB and SQLite; a
//! value not of the column's type is refused for good, naming the column and never the value;
//! and `audit` finds what in a database does not fit its map.

use std::collections::BTreeMap;

use tutela_connectors::{Connector, ConnectorError};
use tutela_core::datamap::{self, ConnectorKind};
use tutela_store::testing::{PgSchema, temp_dir};

use super::{ids, mariadb, now, policy};

/// A table with a column of every type tutela writes. PostgreSQL adds a `timestamptz`.
fn schema(kind: ConnectorKind) -> Vec<String> {
    let (timestamp, tz) = match kind {
        ConnectorKind::Postgres => ("TIMESTAMP", ", seen_tz TIMESTAMPTZ"),
        ConnectorKind::Mysql => ("DATETIME(6)", ""),
        ConnectorKind::Sqlite => ("DATETIME", ""),
    };
    vec![
        format!(
            "CREATE TABLE people (id BIGINT PRIMARY KEY, email VARCHAR(200), born DATE, \
             seen_at {timestamp}{tz}, visits INTEGER, vip BOOLEAN, balance NUMERIC(10,2), \
             note VARCHAR(20), nick VARCHAR(40) NOT NULL, \
             restricted BOOLEAN NOT NULL DEFAULT FALSE)"
        ),
        "INSERT INTO people (id, email, born, visits, vip, balance, note, nick) \
         VALUES (1, 'p1@example.org', '1970-01-01', 1, FALSE, 1.00, 'before', 'pe')"
            .to_owned(),
        "INSERT INTO people (id, email, nick) VALUES (2, 'p2@example.org', 'other')".to_owned(),
    ]
}

fn field(name: &str, category: &str, erase: &str) -> String {
    format!(
        "[[table.field]]\nname = \"{name}\"\ncategory = \"{category}\"\nrectify_as = \"{name}\"\nerase = \"{erase}\"\n"
    )
}

/// The map of `people`: erased by `update`, each field with an erasure of its type.
fn map_text(kind: ConnectorKind, nick_erase: &str) -> String {
    let connector = match kind {
        ConnectorKind::Postgres => "postgres",
        ConnectorKind::Mysql => "mysql",
        ConnectorKind::Sqlite => "sqlite",
    };
    let mut text = format!(
        "[dataset]\nid = \"typed\"\nconnector = \"{connector}\"\nurl_env = \"UNUSED\"\nperson_table = \"people\"\n\
         [[table]]\nname = \"people\"\nerase = \"update\"\nrestrict_flag = \"restricted\"\n\
         [[table.field]]\nname = \"email\"\ncategory = \"contact\"\nidentifies = \"email\"\nerase = \"hash\"\n"
    );
    for (name, category, erase) in [
        ("born", "identity", "null"),
        ("seen_at", "usage", "null"),
        ("visits", "usage", "fixed:0"),
        ("vip", "contract", "fixed:false"),
        ("balance", "payment", "null"),
        ("note", "contact", "fixed:erased"),
        ("nick", "identity", nick_erase),
    ] {
        text.push_str(&field(name, category, erase));
    }
    if kind == ConnectorKind::Postgres {
        text.push_str(&field("seen_tz", "usage", "null"));
    }
    text
}

async fn open(kind: ConnectorKind, url: &str, nick_erase: &str) -> Connector {
    let map = datamap::load("typed.toml", &map_text(kind, nick_erase), &policy())
        .unwrap_or_else(|e| panic!("map: {e}"));
    Connector::open(map, Some(url), b"test-key".to_vec())
        .await
        .expect("open")
}

/// Direct access to the database, to read back what the connector wrote.
pub(super) enum Raw {
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
    Lite(sqlx::SqlitePool),
}

impl Raw {
    pub(super) async fn connect(kind: ConnectorKind, url: &str) -> Raw {
        match kind {
            ConnectorKind::Postgres => Raw::Pg(sqlx::PgPool::connect(url).await.expect("pg")),
            ConnectorKind::Mysql => Raw::My(sqlx::MySqlPool::connect(url).await.expect("mysql")),
            ConnectorKind::Sqlite => {
                Raw::Lite(sqlx::SqlitePool::connect(url).await.expect("sqlite"))
            }
        }
    }

    /// The first row of `select`, each column cast to text (`T` stands for the text type).
    pub(super) async fn row(&self, select: &str) -> Vec<Option<String>> {
        use sqlx::Row;
        let text = match self {
            Raw::My(_) => "CHAR",
            Raw::Pg(_) | Raw::Lite(_) => "TEXT",
        };
        let sql = sqlx::AssertSqlSafe(select.replace(" AS T)", &format!(" AS {text})")));
        macro_rules! first {
            ($pool:expr) => {{
                let r = sqlx::query(sql)
                    .fetch_one($pool)
                    .await
                    .unwrap_or_else(|e| panic!("{select}: {e}"));
                (0..r.len())
                    .map(|i| r.try_get::<Option<String>, _>(i).expect("text"))
                    .collect()
            }};
        }
        match self {
            Raw::Pg(p) => first!(p),
            Raw::My(p) => first!(p),
            Raw::Lite(p) => first!(p),
        }
    }

    pub(super) async fn close(self) {
        match self {
            Raw::Pg(p) => p.close().await,
            Raw::My(p) => p.close().await,
            Raw::Lite(p) => p.close().await,
        }
    }
}

const READ: &str = "SELECT CAST(born AS T), CAST(seen_at AS T), CAST(visits AS T), \
    CAST(vip AS T), CAST(balance AS T), CAST(note AS T), CAST(restricted AS T), \
    CAST(email AS T), CAST(nick AS T) FROM people WHERE id = 1";

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_owned())).collect()
}

fn changes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The same checks on each engine.
async fn typed_writes(kind: ConnectorKind, url: &str) {
    let c = open(kind, url, "keep").await;
    c.run_statements(&schema(kind)).await.expect("schema");
    let raw = Raw::connect(kind, url).await;
    let (yes, no) = match kind {
        ConnectorKind::Postgres => ("true", "false"),
        ConnectorKind::Mysql | ConnectorKind::Sqlite => ("1", "0"),
    };
    let me = ids("email", "p1@example.org");

    assert!(
        c.audit(&policy(), now().to_zoned(jiff::tz::TimeZone::UTC).date())
            .await
            .expect("audit")
            .is_empty(),
        "the map fits the database on {kind:?}"
    );

    // Rectification: a date, a timestamp (given with an offset: stored as UTC), an integer,
    // a boolean, a number and text, each as its column's type.
    let mut good = vec![
        ("born", "1980-02-03"),
        ("seen_at", "2026-03-01T10:00:00+01:00"),
        ("visits", "42"),
        ("vip", "true"),
        ("balance", "12.50"),
        ("note", "after"),
    ];
    if kind == ConnectorKind::Postgres {
        good.push(("seen_tz", "2026-03-01 10:00:00"));
    }
    // One row, however many of its fields change.
    assert_eq!(
        c.rectify(&me, &changes(&good), None)
            .await
            .expect("rectify"),
        1
    );
    let balance = match kind {
        // SQLite's numeric affinity keeps 12.50 as the real 12.5.
        ConnectorKind::Sqlite => "12.5",
        ConnectorKind::Postgres | ConnectorKind::Mysql => "12.50",
    };
    let seen = match kind {
        ConnectorKind::Mysql => "2026-03-01 09:00:00.000000",
        ConnectorKind::Postgres | ConnectorKind::Sqlite => "2026-03-01 09:00:00",
    };
    assert_eq!(
        raw.row(READ).await,
        some(&[
            "1980-02-03",
            seen,
            "42",
            yes,
            balance,
            "after",
            no,
            "p1@example.org",
            "pe"
        ]),
        "{kind:?}"
    );
    // Compared as their types, not as text.
    let typed = match kind {
        ConnectorKind::Postgres => {
            "SELECT CAST(COUNT(*) AS T) FROM people WHERE born = DATE '1980-02-03' \
             AND seen_at = TIMESTAMP '2026-03-01 09:00:00' AND visits = 42 AND vip IS TRUE \
             AND balance = 12.5 AND seen_tz = TIMESTAMPTZ '2026-03-01 10:00:00+00'"
        }
        ConnectorKind::Mysql => {
            "SELECT CAST(COUNT(*) AS T) FROM people WHERE born = DATE '1980-02-03' \
             AND seen_at = TIMESTAMP '2026-03-01 09:00:00' AND visits = 42 AND vip IS TRUE \
             AND balance = 12.5"
        }
        ConnectorKind::Sqlite => {
            "SELECT CAST(COUNT(*) AS T) FROM people WHERE typeof(born) = 'text' \
             AND typeof(visits) = 'integer' AND visits = 42 AND typeof(vip) = 'integer' \
             AND vip = 1 AND typeof(balance) = 'real' AND date(born) = '1980-02-03' \
             AND datetime(seen_at) = '2026-03-01 09:00:00'"
        }
    };
    assert_eq!(raw.row(typed).await, some(&["1"]), "{kind:?}");

    // A value not of its column's type: refused for good, naming the table, the column and
    // what it takes, never the value; nothing of the rectification is written.
    for (name, bad, expected) in [
        ("born", "yesterday", "a date (YYYY-MM-DD)"),
        ("seen_at", "soon", "a date and time"),
        ("visits", "many", "an integer"),
        ("vip", "maybe", "a boolean"),
        ("balance", "1,5", "a number"),
    ] {
        let e = c
            .rectify(&me, &changes(&[("note", "changed"), (name, bad)]), None)
            .await
            .expect_err(bad);
        assert!(e.is_permanent(), "{e}");
        match &e {
            ConnectorError::Value {
                table,
                column,
                expected: takes,
                ..
            } => {
                assert_eq!((table.as_str(), column.as_str()), ("people", name));
                assert!(takes.starts_with(expected), "{takes}");
            }
            other => panic!("expected a value error, got {other:?}"),
        }
        let message = e.to_string();
        assert!(
            message.contains(&format!("`people.{name}`")) && !message.contains(bad),
            "{message}"
        );
    }
    let after = raw.row(READ).await;
    assert_eq!(after[5].as_deref(), Some("after"), "nothing was written");

    // An empty value clears a column that is not text.
    c.rectify(&me, &changes(&[("born", "")]), None)
        .await
        .expect("clear");
    assert_eq!(raw.row(READ).await[0], None);
    c.rectify(&me, &changes(&[("born", "1980-02-03")]), None)
        .await
        .expect("again");

    // Restriction: the boolean flag set to TRUE.
    assert_eq!(c.restrict(&me).await.expect("restrict"), 1);
    assert_eq!(raw.row(READ).await[6].as_deref(), Some(yes), "{kind:?}");

    // An erasure that would put NULL into a NOT NULL column is refused for good, naming it,
    // and writes nothing.
    let strict = open(kind, url, "null").await;
    let e = strict
        .erase(&me, &policy(), now(), None)
        .await
        .expect_err("NOT NULL");
    assert!(e.is_permanent(), "{e}");
    assert!(matches!(e, ConnectorError::Rejected { .. }), "{e:?}");
    assert!(e.to_string().contains("`people.nick`"), "{e}");
    assert_eq!(raw.row(READ).await[0].as_deref(), Some("1980-02-03"));
    let problems = strict
        .audit(&policy(), jiff::civil::date(2026, 11, 30))
        .await
        .expect("audit");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].column.as_deref(), Some("nick"));
    drop(strict);

    // Erasure by `update`: NULL into the date, timestamp and numeric columns, 0 into the
    // integer, false into the boolean, the keyed hash into the text identifier.
    let report = c.erase(&me, &policy(), now(), None).await.expect("erase");
    assert_eq!(report.anonymised.get("people"), Some(&1));
    let erased = raw.row(READ).await;
    assert_eq!(
        erased[..7],
        [
            None,
            None,
            Some("0".to_owned()),
            Some(no.to_owned()),
            None,
            Some("erased".to_owned()),
            Some(yes.to_owned())
        ],
        "{kind:?}"
    );
    let hash = erased[7].clone().unwrap_or_default();
    assert!(
        hash.len() == 32 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{hash}"
    );
    if kind == ConnectorKind::Postgres {
        assert_eq!(
            raw.row("SELECT CAST(seen_tz AS T) FROM people WHERE id = 1")
                .await,
            vec![None]
        );
    }
    // The other person is untouched.
    assert_eq!(
        raw.row("SELECT CAST(email AS T), CAST(restricted AS T) FROM people WHERE id = 2")
            .await,
        some(&["p2@example.org", no])
    );
    raw.close().await;
}

/// A map that does not fit its database: every problem named, with its column.
async fn audit_names_each_problem(kind: ConnectorKind, url: &str) {
    let text = map_text(kind, "keep")
        // A hash cannot go into a date; the flag is not a boolean; the key is no text.
        .replace(
            "name = \"born\"\ncategory = \"identity\"\nrectify_as = \"born\"\nerase = \"null\"",
            "name = \"born\"\ncategory = \"identity\"\nrectify_as = \"born\"\nerase = \"hash\"",
        )
        .replace("restrict_flag = \"restricted\"", "restrict_flag = \"note\"")
        .replace(
            "erase = \"update\"\n",
            "erase = \"update\"\nkey_type = \"text\"\n",
        )
        .replace("name = \"balance\"", "name = \"saldo\"");
    let map = datamap::load("typed.toml", &text, &policy()).unwrap_or_else(|e| panic!("{e}"));
    let c = Connector::open(map, Some(url), b"k".to_vec())
        .await
        .expect("open");
    let problems = c
        .audit(&policy(), jiff::civil::date(2026, 11, 30))
        .await
        .expect("audit");
    let named: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.table.as_str(), p.column.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        named,
        [
            ("people", "saldo"),
            ("people", "id"),
            ("people", "note"),
            ("people", "born"),
        ],
        "{kind:?}: {problems:#?}"
    );
    assert!(problems[0].message.contains("does not exist"));
    assert!(problems[1].message.contains("key_type = \"text\""));
    assert!(problems[2].message.contains("restriction flag"));
    assert!(problems[3].message.contains("erase = \"hash\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_writes_on_sqlite() {
    let dir = temp_dir("typed");
    let file = dir.join("operator.db");
    std::fs::File::create(&file).expect("db file");
    let url = format!("sqlite://{}", file.to_string_lossy());
    typed_writes(ConnectorKind::Sqlite, &url).await;
    audit_names_each_problem(ConnectorKind::Sqlite, &url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_writes_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    typed_writes(ConnectorKind::Postgres, &pg.store_url()).await;
    audit_names_each_problem(ConnectorKind::Postgres, &pg.store_url()).await;
    pg.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_writes_on_mariadb() {
    let Some((url, db)) = mariadb().await else {
        return;
    };
    typed_writes(ConnectorKind::Mysql, &url).await;
    audit_names_each_problem(ConnectorKind::Mysql, &url).await;
    let admin = sqlx::MySqlPool::connect(&url).await.expect("admin");
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {db}")))
        .execute(&admin)
        .await;
}
