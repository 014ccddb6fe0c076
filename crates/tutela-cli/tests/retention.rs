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
            "[[dataset]]\nmap = \"demo.toml\"\nurl = \"sqlite://{}\"\n",
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
