//! `tutela retention`: the plan of a sweep, a legal hold that keeps a person's rows, and a run
//! to the end, against a SQLite operator database with the demo schema.

use super::{temp_dir, text, tutela_in};

const AT: &str = "2026-12-01T03:00:00Z";

fn seed(dir: &std::path::Path) {
    let file = dir.join("operator.db");
    std::fs::File::create(&file).expect("file");
    let map_text =
        tutela_connectors::demo::MAP.replace("connector = \"postgres\"", "connector = \"sqlite\"");
    std::fs::write(dir.join("demo.toml"), &map_text).expect("map");
    std::fs::write(
        dir.join("tutela.toml"),
        format!(
            "[[dataset]]\nmap = \"demo.toml\"\nurl = \"sqlite://{}\"\nretention_sweeps = true\n",
            file.display()
        ),
    )
    .expect("config");
    let policy = tutela_core::policy::load_policy(
        &tutela_core::policy::MemoryLoader::new().with(
            "reference.toml",
            include_str!("../../../policies/reference.toml"),
        ),
        "reference.toml",
    )
    .expect("policy");
    let map = tutela_core::datamap::load("demo.toml", &map_text, &policy).expect("map");
    let mut rows: Vec<String> = tutela_connectors::demo::SCHEMA
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    rows.extend([
        "INSERT INTO customers (id, customer_no, email, created_at) VALUES (1, 'R-1', 'r1@example.org', '2015-01-01')".to_owned(),
        "INSERT INTO contracts (id, customer_id, started_at) VALUES (1, 1, '2015-01-01')".to_owned(),
        "INSERT INTO sims (id, contract_id, iccid) VALUES (1, 1, '8949010000000000011')".to_owned(),
        "INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES (1, 1, '2026-06-01T00:00:00Z', 1), (2, 1, '2026-07-01T00:00:00Z', 1), (3, 1, '2026-08-31T23:00:00Z', 1), (4, 1, '2026-11-30T00:00:00Z', 1)".to_owned(),
    ]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let c = tutela_connectors::Connector::open(
            map,
            Some(&format!("sqlite://{}", file.display())),
            b"k".to_vec(),
        )
        .await
        .expect("open");
        c.run_statements(&rows).await.expect("seed");
    });
}

fn usage_line(out: &std::process::Output) -> String {
    text(out)
        .lines()
        .find(|l| l.starts_with("operator\tusage_records\t"))
        .unwrap_or_default()
        .to_owned()
}

// covers: N5a, N7b
#[test]
fn retention_plans_holds_and_runs_a_sweep_to_its_end() {
    let dir = temp_dir("retention-cli");
    seed(&dir);
    let run = |args: &[&str]| {
        let mut all = vec!["--config", "tutela.toml", "retention"];
        all.extend_from_slice(args);
        tutela_in(&dir, &all)
    };
    // A read-only command needs the server's database; it never makes one.
    let plan = run(&["plan", "--at", AT]);
    assert!(!plan.status.success(), "{}", text(&plan));
    assert!(text(&plan).contains("no database at"), "{}", text(&plan));
    let migrated = tutela_in(&dir, &["--config", "tutela.toml", "migrate"]);
    assert!(migrated.status.success(), "{}", text(&migrated));
    let plan = run(&["plan", "--at", AT]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert_eq!(
        usage_line(&plan),
        "operator\tusage_records\tservice_quality_data\tN7b\t2026-09-01\t3\t0",
        "{}",
        text(&plan)
    );
    assert!(text(&plan).contains("operator\tinvoices\tbooking_vouchers\tN6\t2018-01-01\t0\t0"));

    // A hold on the person keeps all four of their usage records.
    let hold = run(&[
        "hold",
        "--subject",
        "R-1",
        "--reference",
        "claim-1",
        "--by",
        "dpo-1",
    ]);
    assert!(hold.status.success(), "{}", text(&hold));
    let id = text(&hold).trim().to_owned();
    assert!(id.starts_with("lh_"), "{id}");
    let plan = run(&["plan", "--at", AT]);
    assert_eq!(
        usage_line(&plan),
        "operator\tusage_records\tservice_quality_data\tN7b\t2026-09-01\t0\t4"
    );
    let holds = run(&["holds"]);
    assert!(text(&holds).contains(&id) && text(&holds).contains("claim-1"));
    let bad = run(&[
        "hold",
        "--record",
        "invoices",
        "--reference",
        "x",
        "--by",
        "dpo-1",
    ]);
    assert!(!bad.status.success() && text(&bad).contains("DATASET.TABLE=KEY"));

    assert!(run(&["lift", &id, "--by", "dpo-1"]).status.success());
    assert!(
        !run(&["lift", &id, "--by", "dpo-1"]).status.success(),
        "lifted once"
    );
    // The first sweep of each rule waits for a DPO's approval of its plan.
    let waiting = run(&["run", "--at", AT]);
    assert_eq!(waiting.status.code(), Some(3), "{}", text(&waiting));
    let t = text(&waiting);
    assert!(
        t.contains("awaits a DPO's approval")
            && t.contains("first sweep of rule `service_quality_data` on operator.usage_records")
            && t.contains(
                "operator.usage_records\tservice_quality_data\tdelete_before 2026-09-01\tdue 3"
            ),
        "{t}"
    );
    let sweep = t
        .split_whitespace()
        .find(|w| w.starts_with("rs_"))
        .expect("sweep id")
        .to_owned();
    assert!(text(&run(&["plan", "--at", AT])).contains(&format!("sweep {sweep} awaits")));
    let approved = run(&["approve", &sweep, "--by", "dpo-1"]);
    assert!(approved.status.success(), "{}", text(&approved));
    assert!(
        text(&approved).contains(&format!("sweep {sweep} approved by dpo-1: 3 rows planned")),
        "{}",
        text(&approved)
    );
    assert!(!run(&["approve", &sweep, "--by", "dpo-1"]).status.success());
    let swept = run(&["run", "--at", AT]);
    assert!(swept.status.success(), "{}", text(&swept));
    assert!(
        text(&swept).contains("operator.usage_records\tservice_quality_data\tdeleted 3"),
        "{}",
        text(&swept)
    );
    assert!(
        text(&swept).contains("finished: 3 rows deleted"),
        "{}",
        text(&swept)
    );
    let plan = run(&["plan", "--at", AT]);
    assert_eq!(
        usage_line(&plan),
        "operator\tusage_records\tservice_quality_data\tN7b\t2026-09-01\t0\t0"
    );
    let again = run(&["run", "--at", AT]);
    assert!(
        text(&again).contains("finished: 0 rows deleted"),
        "{}",
        text(&again)
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Rows of the tables a sweep of the demo would delete from, in `pg`'s schema.
fn swept_rows(rt: &tokio::runtime::Runtime, pg: &tutela_store::testing::PgSchema) -> Vec<i64> {
    ["usage_records", "invoices", "payments"]
        .iter()
        .map(|t| {
            let q = format!("SELECT count(*) FROM {}.{t}", pg.schema);
            rt.block_on(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(q)).fetch_one(&pg.admin))
                .expect("count")
        })
        .collect()
}

/// The demo database on PostgreSQL, seeded by `tutela demo seed` into `dir`'s map
/// `demo-operator.toml`, and a `tutela.toml` naming it with `extra` lines in its [[dataset]].
fn demo_on_postgres(
    dir: &std::path::Path,
    pg: &tutela_store::testing::PgSchema,
    extra: &str,
) -> String {
    let url = pg.store_url();
    let seed = tutela_in(
        dir,
        &["demo", "seed", "--subjects", "40", "--database", &url],
    );
    assert!(seed.status.success(), "{}", text(&seed));
    std::fs::write(
        dir.join("tutela.toml"),
        format!("[[dataset]]\nmap = \"demo-operator.toml\"\nurl = \"{url}\"\n{extra}"),
    )
    .expect("config");
    url
}

// Issue 31: `tutela serve` with one [[dataset]] deleted every invoice, payment and usage
// record of the demo within a second of starting. Its sweeps are now off until the
// [[dataset]] turns them on; the plan still shows what would be due.
// covers: N6, N7b
#[test]
fn serve_with_a_dataset_deletes_nothing_until_its_sweeps_are_turned_on() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let Some(pg) = rt.block_on(tutela_store::testing::PgSchema::create()) else {
        return;
    };
    let dir = temp_dir("retention-serve");
    demo_on_postgres(&dir, &pg, "");
    let before = swept_rows(&rt, &pg);
    assert!(before.iter().all(|n| *n > 0), "{before:?}");
    let server = super::start(&dir, "sqlite://tutela.db");
    // The worker ticks every second; the old code deleted at its first tick.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    drop(server);
    assert_eq!(swept_rows(&rt, &pg), before, "nothing deleted at start");

    let plan = tutela_in(&dir, &["--config", "tutela.toml", "retention", "plan"]);
    assert!(plan.status.success(), "{}", text(&plan));
    let usage = text(&plan)
        .lines()
        .find(|l| l.starts_with("operator\tusage_records\t"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        usage.ends_with("\tsweeps off for this dataset"),
        "{}",
        text(&plan)
    );
    let run = tutela_in(&dir, &["--config", "tutela.toml", "retention", "run"]);
    assert!(!run.status.success(), "{}", text(&run));
    assert!(
        text(&run).contains("retention_sweeps = true"),
        "{}",
        text(&run)
    );
    assert_eq!(swept_rows(&rt, &pg), before);
    rt.block_on(pg.drop_schema());
    let _ = std::fs::remove_dir_all(dir);
}

// Issue 31: with a map the server had just reported as not matching its database, it swept
// all the same. Now that dataset is broken: nothing deleted even with its sweeps on, and
// /readyz (still 200: decisions go on) names the dataset and the column.
// covers: N6, N7b
#[test]
fn serve_with_a_broken_map_deletes_nothing_and_readyz_names_the_column() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let Some(pg) = rt.block_on(tutela_store::testing::PgSchema::create()) else {
        return;
    };
    let dir = temp_dir("retention-broken");
    demo_on_postgres(&dir, &pg, "retention_sweeps = true\n");
    let map = std::fs::read_to_string(dir.join("demo-operator.toml")).expect("map");
    std::fs::write(
        dir.join("demo-operator.toml"),
        map.replace("name = \"birth_date\"", "name = \"date_of_birth\""),
    )
    .expect("map");
    let before = swept_rows(&rt, &pg);
    let server = super::start(&dir, "sqlite://tutela.db");
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let (status, body) = super::http(server.port, "GET", "/readyz", "", "");
    drop(server);
    assert_eq!(swept_rows(&rt, &pg), before, "nothing deleted");
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(ready["datasets"][0]["status"], "broken", "{body}");
    assert_eq!(ready["datasets"][0]["id"], "operator", "{body}");
    assert!(
        ready["datasets"][0]["why"]
            .as_str()
            .is_some_and(|w| w.contains("`customers.date_of_birth` does not exist")),
        "{body}"
    );
    // `retention run` says the same, not that another process holds a sweep.
    let run = tutela_in(&dir, &["--config", "tutela.toml", "retention", "run"]);
    let out = text(&run);
    assert!(!run.status.success(), "{out}");
    assert!(
        out.contains("dataset `operator` is not swept")
            && out.contains("`customers.date_of_birth`")
            && !out.contains("another process"),
        "{out}"
    );
    assert_eq!(swept_rows(&rt, &pg), before, "nothing deleted");
    rt.block_on(pg.drop_schema());
    let _ = std::fs::remove_dir_all(dir);
}

// Issue 31: on the demo database on PostgreSQL with sweeps turned on, neither the server nor
// `retention run` deletes before a DPO approved the plan; after the approval the run deletes.
// covers: N6, N7b
#[test]
fn a_sweep_of_the_demo_on_postgres_waits_for_approval_then_runs() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let Some(pg) = rt.block_on(tutela_store::testing::PgSchema::create()) else {
        return;
    };
    let dir = temp_dir("retention-approve");
    demo_on_postgres(&dir, &pg, "retention_sweeps = true\n");
    let before = swept_rows(&rt, &pg);
    let server = super::start(&dir, "sqlite://tutela.db");
    std::thread::sleep(std::time::Duration::from_millis(3500));
    drop(server);
    assert_eq!(swept_rows(&rt, &pg), before, "the server's sweep waits");
    let run = |args: &[&str]| {
        let mut all = vec!["--config", "tutela.toml", "retention"];
        all.extend_from_slice(args);
        tutela_in(&dir, &all)
    };
    // The server planned the sweep; the CLI shows it and waits too.
    let waiting = run(&["run"]);
    assert_eq!(waiting.status.code(), Some(3), "{}", text(&waiting));
    assert_eq!(swept_rows(&rt, &pg), before);
    let t = text(&waiting);
    let sweep = t
        .split_whitespace()
        .find(|w| w.starts_with("rs_"))
        .expect("sweep id")
        .to_owned();
    let planned: i64 = t
        .lines()
        .find(|l| l.contains("operator.usage_records\tservice_quality_data"))
        .and_then(|l| l.rsplit("due ").next())
        .and_then(|n| n.trim().parse().ok())
        .expect("planned usage records");
    assert!(planned > 0, "{t}");
    let approved = run(&["approve", &sweep, "--by", "dpo-1"]);
    assert!(approved.status.success(), "{}", text(&approved));
    let swept = run(&["run"]);
    assert!(swept.status.success(), "{}", text(&swept));
    assert!(
        text(&swept).contains(&format!(
            "operator.usage_records\tservice_quality_data\tdeleted {planned}\t"
        )),
        "{}",
        text(&swept)
    );
    assert_eq!(swept_rows(&rt, &pg)[0], before[0] - planned);
    rt.block_on(pg.drop_schema());
    let _ = std::fs::remove_dir_all(dir);
}

// Issue 31: without a configuration `retention plan` printed an empty table, exited 0 and
// created tutela.db and key files. It now refuses, naming what is missing, and creates
// nothing.
#[test]
fn plan_and_run_without_a_dataset_refuse_and_create_nothing() {
    let dir = temp_dir("retention-none");
    for cmd in ["plan", "run"] {
        let out = tutela_in(&dir, &["retention", cmd]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("no [[dataset]] is configured"),
            "{}",
            text(&out)
        );
    }
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The demo schema filled with statements all three engines accept: 40 customers, each with a
/// contract, a SIM and four usage records of 2026; six invoices each (2014), 200 of them paid
/// in 2014; five invoices of 2020 paid then; an invoice of 2015 paid in 2019 (inside its
/// period, so it keeps its invoice); an invoice of 2015 whose payment has no date.
fn portable_demo() -> Vec<String> {
    let day = |start: jiff::civil::Date, n: i64| -> String {
        start
            .checked_add(jiff::Span::new().days(n))
            .expect("date")
            .to_string()
    };
    let d2014 = jiff::civil::date(2014, 1, 1);
    let d2026 = jiff::civil::date(2026, 1, 1);
    let values = |rows: Vec<String>| rows.join(", ");
    let mut out: Vec<String> = tutela_connectors::demo::SCHEMA
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    out.push(format!(
        "INSERT INTO customers (id, customer_no, name, email, created_at) VALUES {}",
        values(
            (1..=40)
                .map(|g| format!(
                    "({g}, 'C{g:08}', 'Person {g}', 'p{g}@example.org', '2012-01-01')"
                ))
                .collect()
        )
    ));
    out.push(format!(
        "INSERT INTO contracts (id, customer_id, product, started_at) VALUES {}",
        values(
            (1..=40)
                .map(|g| format!("({g}, {g}, 'IoT M2M 1GB', '2012-01-01')"))
                .collect()
        )
    ));
    out.push(format!(
        "INSERT INTO sims (id, contract_id, iccid) VALUES {}",
        values(
            (1..=40)
                .map(|g| format!("({g}, {g}, '8949{g:015}')"))
                .collect()
        )
    ));
    out.push(format!(
        "INSERT INTO usage_records (id, sim_id, recorded_at, bytes) VALUES {}",
        values(
            (1..=160)
                .map(|g| {
                    format!(
                        "({g}, {}, '{}T00:00:00Z', {g})",
                        (g - 1) % 40 + 1,
                        day(d2026, g * 2)
                    )
                })
                .collect()
        )
    ));
    let mut invoices: Vec<String> = (1..=240)
        .map(|g| {
            format!(
                "({g}, {}, '{}', {}, 'DE89370400440532013000')",
                (g - 1) % 40 + 1,
                day(d2014, g),
                1000 + g
            )
        })
        .collect();
    let mut payments: Vec<String> = (1..=200)
        .map(|g| format!("({g}, {g}, '{}', {})", day(d2014, g + 9), 1000 + g))
        .collect();
    for g in 241..=245 {
        invoices.push(format!("({g}, 1, '2020-03-01', 10, NULL)"));
        payments.push(format!("({g}, {g}, '2020-03-10', 10)"));
    }
    invoices.push("(246, 2, '2015-03-01', 10, NULL)".to_owned());
    payments.push("(246, 246, '2019-03-10', 10)".to_owned());
    invoices.push("(247, 3, '2015-04-01', 10, NULL)".to_owned());
    payments.push("(247, 247, NULL, 10)".to_owned());
    out.push(format!(
        "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES {}",
        values(invoices)
    ));
    out.push(format!(
        "INSERT INTO payments (id, invoice_id, paid_at, amount_cents) VALUES {}",
        values(payments)
    ));
    out
}

/// A MariaDB database for one test and its URL; `None` outside CI when MariaDB is away.
fn mariadb(rt: &tokio::runtime::Runtime) -> Option<(String, String)> {
    let admin_url = std::env::var("TUTELA_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let admin = match rt.block_on(
        sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&admin_url),
    ) {
        Ok(p) => p,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipping: MariaDB at {admin_url} unreachable ({e})");
            return None;
        }
        Err(e) => panic!("MariaDB at {admin_url} is required under CI=true: {e}"),
    };
    let db = format!("tutela_test_{}", tutela_store::testing::unique());
    rt.block_on(
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {db} CHARACTER SET utf8mb4"
        )))
        .execute(&admin),
    )
    .expect("create database");
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    Some((format!("{base}/{db}"), db))
}

/// Writes the demo map for `connector` into `dir`, fills `url` with [`portable_demo`] and
/// names it in `tutela.toml` with its sweeps on.
fn demo_portable(rt: &tokio::runtime::Runtime, dir: &std::path::Path, connector: &str, url: &str) {
    let map_text = tutela_connectors::demo::MAP.replace(
        "connector = \"postgres\"",
        &format!("connector = \"{connector}\""),
    );
    std::fs::write(dir.join("demo-operator.toml"), &map_text).expect("map");
    let policy = tutela_core::policy::load_policy(
        &tutela_core::policy::MemoryLoader::new().with(
            "reference.toml",
            include_str!("../../../policies/reference.toml"),
        ),
        "reference.toml",
    )
    .expect("policy");
    let map = tutela_core::datamap::load("demo-operator.toml", &map_text, &policy).expect("map");
    rt.block_on(async {
        let c = tutela_connectors::Connector::open(map, Some(url), b"k".to_vec())
            .await
            .expect("open");
        c.run_statements(&portable_demo()).await.expect("seed");
    });
    std::fs::write(
        dir.join("tutela.toml"),
        format!(
            "[[dataset]]\nmap = \"demo-operator.toml\"\nurl = \"{url}\"\nretention_sweeps = true\n"
        ),
    )
    .expect("config");
}

/// The number after `prefix` in each line of `out` that starts with `operator` and a table:
/// per table, from `retention plan` (due, its sixth column) or `retention run` (deleted).
fn per_table(
    out: &str,
    column: impl Fn(&str) -> Option<u64>,
) -> std::collections::BTreeMap<String, u64> {
    out.lines()
        .filter_map(|l| {
            let l = l.trim();
            let table = l
                .strip_prefix("operator\t")
                .or_else(|| l.strip_prefix("operator."))?
                .split('\t')
                .next()?
                .to_owned();
            Some((table, column(l)?))
        })
        .collect()
}

/// Plans the demo database in `dir` with two holds (a person, one payment), runs the sweep to
/// its end after the approval, and returns (planned, deleted) per table.
fn plan_and_run(
    dir: &std::path::Path,
) -> (
    std::collections::BTreeMap<String, u64>,
    std::collections::BTreeMap<String, u64>,
) {
    let run = |args: &[&str]| {
        let mut all = vec!["--config", "tutela.toml", "retention"];
        all.extend_from_slice(args);
        tutela_in(dir, &all)
    };
    for hold in [
        &["--subject", "C00000002"][..],
        &["--record", "operator.payments=5"][..],
    ] {
        let mut args = vec!["hold"];
        args.extend_from_slice(hold);
        args.extend_from_slice(&["--reference", "audit-1", "--by", "dpo-1"]);
        let out = run(&args);
        assert!(out.status.success(), "{}", text(&out));
    }
    let plan = run(&["plan", "--at", AT]);
    assert!(plan.status.success(), "{}", text(&plan));
    let planned = per_table(&text(&plan), |l| {
        l.split('\t').nth(5).and_then(|n| n.parse().ok())
    });
    let waiting = run(&["run", "--at", AT]);
    assert_eq!(waiting.status.code(), Some(3), "{}", text(&waiting));
    let t = text(&waiting);
    // The plan a DPO approves carries the same counts as `retention plan`.
    let approving = per_table(&t, |l| l.rsplit("due ").next()?.trim().parse().ok());
    assert_eq!(approving, planned, "{t}");
    let sweep = t
        .split_whitespace()
        .find(|w| w.starts_with("rs_"))
        .expect("sweep id")
        .to_owned();
    let approved = run(&["approve", &sweep, "--by", "dpo-1"]);
    assert!(approved.status.success(), "{}", text(&approved));
    // The run counts again before its first batch: equal counts, so it runs at once.
    let swept = run(&["run", "--at", AT]);
    assert!(swept.status.success(), "{}", text(&swept));
    let deleted = per_table(&text(&swept), |l| {
        l.split('\t')
            .find_map(|f| f.strip_prefix("deleted "))?
            .parse()
            .ok()
    });
    (planned, deleted)
}

// Issue 31: `retention plan` said 29 invoices due, `retention run` deleted 174: invoices freed
// in the same sweep by deleting their payments first were not counted. The plan now counts
// them, leaves out held rows and the rows they reference, and equals the run table by table,
// on each engine.
// covers: N6, N7b, N5a
#[test]
fn the_plan_equals_the_run_on_the_demo_database_on_every_engine() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let table = |pairs: &[(&str, u64)]| -> std::collections::BTreeMap<String, u64> {
        pairs.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
    };

    // SQLite and MariaDB: the portable demo. 121 usage records are past their 3 months, three
    // of them customer 2's. Customer 2's six invoices (2, 42, …, 202) and their five payments
    // are held with the person, payment 5 keeps invoice 5; 246 waits for its payment of 2019,
    // 247 for its undated one; the five of 2020 are inside their period. Every other invoice
    // goes, 200 of them freed only by their payments going first in the same sweep.
    let portable = table(&[
        ("usage_records", 121 - 3),
        ("payments", 200 - 5 - 1),
        ("invoices", 240 - 6 - 1),
    ]);
    let dir = temp_dir("retention-equal-sqlite");
    let file = dir.join("operator.db");
    std::fs::File::create(&file).expect("file");
    demo_portable(&rt, &dir, "sqlite", &format!("sqlite://{}", file.display()));
    let (planned, deleted) = plan_and_run(&dir);
    assert_eq!(planned, portable, "sqlite");
    assert_eq!(deleted, planned, "sqlite: the plan is what ran");
    let _ = std::fs::remove_dir_all(dir);

    if let Some((url, db)) = mariadb(&rt) {
        let dir = temp_dir("retention-equal-mariadb");
        demo_portable(&rt, &dir, "mysql", &url);
        let (planned, deleted) = plan_and_run(&dir);
        assert_eq!(planned, portable, "mariadb");
        assert_eq!(deleted, planned, "mariadb: the plan is what ran");
        let admin = rt.block_on(sqlx::MySqlPool::connect(&url)).expect("admin");
        let _ = rt.block_on(
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {db}"))).execute(&admin),
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    // PostgreSQL: `tutela demo seed`, 40 persons. Its 240 invoices and 200 payments are
    // spread over 2014-2025: some past their 8 years, some inside them.
    if let Some(pg) = rt.block_on(tutela_store::testing::PgSchema::create()) {
        let dir = temp_dir("retention-equal-postgres");
        demo_on_postgres(&dir, &pg, "retention_sweeps = true\n");
        let (planned, deleted) = plan_and_run(&dir);
        let (payments, invoices) = (
            planned.get("payments").copied().unwrap_or(0),
            planned.get("invoices").copied().unwrap_or(0),
        );
        assert!(
            payments > 0 && payments < 200 && invoices > 0 && invoices < 240,
            "postgres: some due, some kept: {planned:?}"
        );
        assert_eq!(deleted, planned, "postgres: the plan is what ran");
        rt.block_on(pg.drop_schema());
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Polls request `id` until `done` says so (10 s at most); its last view.
fn wait_for(
    port: u16,
    token: &str,
    id: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, b) = super::http(port, "GET", &format!("/v1/requests/{id}"), token, "");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap_or_default();
        if done(&v) || std::time::Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

// Issue 31: an erasure on the demo database waits with its plan; `tutela requests plan` shows
// it to the agent, `tutela requests approve` approves it, then it runs.
// covers: N9e
#[test]
fn an_agent_reviews_and_approves_an_erasure_plan_from_the_command_line() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let Some(pg) = rt.block_on(tutela_store::testing::PgSchema::create()) else {
        return;
    };
    let dir = temp_dir("requests-plan-cli");
    demo_on_postgres(&dir, &pg, "");
    let server = super::start(&dir, "sqlite://tutela.db");
    let token = std::fs::read_to_string(dir.join("tutela.token")).expect("token");
    let token = token.trim();
    let url = format!("http://127.0.0.1:{}", server.port);
    let (s, b) = super::http(
        server.port,
        "POST",
        "/v1/requests",
        token,
        r#"{"type":"erasure","subject":"C00000007"}"#,
    );
    assert_eq!(s, 201, "{b}");
    let id = serde_json::from_str::<serde_json::Value>(&b).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (s, b) = super::http(
        server.port,
        "POST",
        &format!("/v1/requests/{id}/verify-by-agent"),
        token,
        r#"{"note":"call-back to the number on file","agent":"a.schmidt","subject":"C00000007"}"#,
    );
    assert_eq!(s, 200, "{b}");
    let v = wait_for(server.port, token, &id, |v| {
        v["status"] == "awaiting_approval"
    });
    assert_eq!(v["status"], "awaiting_approval", "{v}");
    let cli = |args: &[&str]| {
        let mut all = vec!["requests", "--server", &url, "--token-file", "tutela.token"];
        all.extend_from_slice(args);
        tutela_in(&dir, &all)
    };
    let plan = cli(&["plan", &id]);
    let out = text(&plan);
    assert!(plan.status.success(), "{out}");
    assert!(
        out.contains("dataset operator")
            && out.contains("approval needed")
            && out.contains("customers"),
        "{out}"
    );
    let approve = cli(&[
        "approve",
        &id,
        "--agent",
        "b.weber",
        "--note",
        "plan checked",
    ]);
    assert!(approve.status.success(), "{}", text(&approve));
    let v = wait_for(server.port, token, &id, |v| {
        matches!(
            v["status"].as_str(),
            Some("completed" | "partially_refused")
        )
    });
    assert!(
        matches!(
            v["status"].as_str(),
            Some("completed" | "partially_refused")
        ),
        "{v}"
    );
    let plan = cli(&["plan", &id]);
    assert!(
        text(&plan).contains("approved by b.weber"),
        "{}",
        text(&plan)
    );
    drop(server);
    rt.block_on(pg.drop_schema());
    let _ = std::fs::remove_dir_all(dir);
}
