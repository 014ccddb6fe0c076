//! `tutela datasets check MAP --url URL`: the demo database that `tutela demo seed` makes on
//! PostgreSQL fits its map (exit 0); once a column is renamed, a retention column turned into
//! a number and a sweep's index dropped, each problem is named with the map's file, line and
//! column (exit 1); usage errors and an unreachable database exit 2; nothing is created.

use super::{temp_dir, text, tutela_in};

/// The line and column (from 1) where `needle` starts in the `nth` (from 0) of its
/// occurrences in `text`, as the check names it.
fn position(text: &str, needle: &str, nth: usize) -> String {
    let (at, _) = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{needle}` in the map"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{column}")
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn datasets_check_names_each_problem_of_a_map_against_postgres() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let Some(pg) = rt.block_on(tutela_store::testing::PgSchema::create()) else {
        return;
    };
    let url = pg.store_url();
    let dir = temp_dir("datasets-check");
    let seed = tutela_in(
        &dir,
        &[
            "demo",
            "seed",
            "--subjects",
            "20",
            "--database",
            &url,
            "--map-out",
            "demo.toml",
        ],
    );
    assert!(seed.status.success(), "{}", text(&seed));
    let map = std::fs::read_to_string(dir.join("demo.toml")).expect("map");

    let ok = tutela_in(&dir, &["datasets", "check", "demo.toml", "--url", &url]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(
        text(&ok).contains("ok — dataset `operator`: 9 tables fit"),
        "{}",
        text(&ok)
    );
    assert_eq!(files(&dir), ["demo.toml"], "the check creates no file");

    // A renamed column, a retention column that holds numbers, a sweep's index gone.
    let run = |sql: &str| {
        rt.block_on(
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "SET search_path = {}; {sql}",
                pg.schema
            )))
            .execute(&pg.admin),
        )
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    };
    run("ALTER TABLE customers RENAME COLUMN city TO town");
    run("ALTER TABLE payments ALTER COLUMN paid_at TYPE BIGINT USING 0");
    run("DROP INDEX usage_records_by_time");
    let bad = tutela_in(&dir, &["datasets", "check", "demo.toml", "--url", &url]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    for expected in [
        // The second `"city"`: the first is in the customers' `keep` list.
        format!(
            "demo.toml:{}: error: column `customers.city` does not exist (the map names it as a field)",
            position(&map, "\"city\"", 1)
        ),
        // `paid_at` is named first as the table's timestamp (line of `timestamp = "paid_at"`).
        format!(
            "demo.toml:{}: error: `payments.paid_at` is a `bigint` column; the retention period runs from it",
            position(&map, "\"paid_at\"", 0)
        ),
        format!(
            "demo.toml:{}: error: no index starts with `usage_records.recorded_at`",
            position(&map, "\"recorded_at\"", 0)
        ),
    ] {
        assert!(out.contains(&expected), "{expected}\nin\n{out}");
    }
    assert!(out.contains("3 problem(s)"), "{out}");
    assert!(
        out.contains("CREATE INDEX usage_records_by_recorded_at ON usage_records (recorded_at)"),
        "{out}"
    );
    assert_eq!(files(&dir), ["demo.toml"]);

    // Usage errors and a check that cannot run: exit 2, nothing created.
    let none = tutela_in(&dir, &["datasets", "check"]);
    assert_eq!(none.status.code(), Some(2), "{}", text(&none));
    let missing = tutela_in(&dir, &["datasets", "check", "nowhere.toml", "--url", &url]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(text(&missing).contains("cannot read `nowhere.toml`"));
    std::fs::write(
        dir.join("lite.toml"),
        map.replace("connector = \"postgres\"", "connector = \"sqlite\""),
    )
    .expect("lite map");
    let away = tutela_in(
        &dir,
        &[
            "datasets",
            "check",
            "lite.toml",
            "--url",
            "sqlite://operator.db",
        ],
    );
    assert_eq!(away.status.code(), Some(2), "{}", text(&away));
    assert_eq!(
        files(&dir),
        ["demo.toml", "lite.toml"],
        "no SQLite file was created"
    );
    // An invalid map: its errors, exit 1.
    std::fs::write(
        dir.join("bad.toml"),
        map.replacen("category = \"contact\"", "category = \"shoe_size\"", 1),
    )
    .expect("bad map");
    let invalid = tutela_in(&dir, &["datasets", "check", "bad.toml", "--url", &url]);
    assert_eq!(invalid.status.code(), Some(1), "{}", text(&invalid));
    assert!(
        text(&invalid).contains("bad.toml:")
            && text(&invalid).contains("unknown category `shoe_size`"),
        "{}",
        text(&invalid)
    );
    rt.block_on(pg.drop_schema());
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 32: a table or field a person would read by its database name is an error of the
/// map, named with file, line and column, before the database is asked (none exists here).
#[test]
fn datasets_check_names_each_table_and_field_without_a_label() {
    let dir = temp_dir("datasets-unlabelled");
    let map = "[dataset]\nid = \"crm\"\nconnector = \"sqlite\"\nurl = \"sqlite://crm.db\"\n\
               person_table = \"people\"\n[[table]]\nname = \"people\"\n\
               label = { de = \"Personen\", en = \"People\" }\n\
               [[table.field]]\nname = \"email\"\ncategory = \"contact\"\n\
               [[table.field]]\nname = \"phone\"\ncategory = \"contact\"\n\
               label = { de = \"Telefon\", en = \"Phone\" }\n";
    std::fs::write(dir.join("crm.toml"), map).expect("map");
    let out = tutela_in(&dir, &["datasets", "check", "crm.toml"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains(&format!(
            "crm.toml:{}: error: field `people.email` has no `label` in German and English",
            position(map, "\"email\"", 0)
        )),
        "{t}"
    );
    assert!(t.contains("1 error(s) in the map"), "{t}");
    assert_eq!(files(&dir), ["crm.toml"], "the check creates no file");
    let _ = std::fs::remove_dir_all(dir);
}
