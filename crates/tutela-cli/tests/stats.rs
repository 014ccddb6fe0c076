//! `tutela stats`: exact, k-suppressed figures from a local file; noisy releases only through
//! the server, from a registered dataset whose budget they spend.

use super::{start, temp_dir, text, tutela_in};

/// 15 persons in `north`, 5 in `west`, two rows each; IMSIs the FF1 pseudonym keeps valid.
fn usage() -> String {
    let mut t = String::from("imsi,cell,volume_mb\n");
    for p in 0..20 {
        let cell = if p < 15 { "north" } else { "west" };
        for r in 0..2 {
            t.push_str(&format!("26201{p:010},{cell},{}\n", r + 1));
        }
    }
    t
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// covers: N7c, N16
#[test]
fn stats_releases_groups_of_k_and_noise_only_under_the_servers_budget() {
    let dir = temp_dir("stats");
    std::fs::write(dir.join("usage.csv"), usage()).expect("write");
    let local = |extra: &[&str]| {
        let mut args = vec![
            "stats",
            "--in",
            "usage.csv",
            "--person",
            "imsi",
            "--group-by",
            "cell",
        ];
        args.extend_from_slice(extra);
        tutela_in(&dir, &args)
    };
    let out = local(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        stdout(&out),
        "cell,count\r\nnorth,30\r\n",
        "west has 5 persons, fewer than k = 10"
    );
    assert!(text(&out).contains("(1 suppressed)"), "{}", text(&out));
    let out = local(&[
        "--aggregate",
        "histogram",
        "--column",
        "volume_mb",
        "--edges",
        "0,2,10",
    ]);
    assert_eq!(
        stdout(&out),
        "cell,0.000..2.000,2.000..10.000\r\nnorth,15,15\r\n",
        "{}",
        text(&out)
    );
    let out = local(&[
        "--aggregate",
        "mean",
        "--column",
        "volume_mb",
        "--lower",
        "0",
        "--upper",
        "10",
        "--rows-per-person",
        "1",
    ]);
    assert_eq!(
        stdout(&out),
        "cell,mean\r\nnorth,1.000\r\n",
        "{}",
        text(&out)
    );
    let out = local(&["--noise", "laplace", "--epsilon", "1"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--dataset"), "{}", text(&out));
    let out = local(&["--group-by", "imsi"]);
    assert!(
        !out.status.success() && text(&out).contains("--group-by"),
        "{}",
        text(&out)
    );

    std::fs::create_dir_all(dir.join("exports")).expect("exports");
    std::fs::write(
        dir.join("tutela.toml"),
        format!("pseudonymised_dirs = [{:?}]\n", dir.join("exports")),
    )
    .expect("config");
    let db = format!("sqlite://{}", dir.join("tutela.db").display());
    let server = start(&dir, &db);
    let url = format!("http://127.0.0.1:{}", server.port);
    let out = tutela_in(
        &dir,
        &[
            "pseudonymise",
            "--in",
            "usage.csv",
            "--out",
            "exports/pseudonymised.csv",
            "--column",
            "imsi=ff1",
            "--domain",
            "service_quality_analysis",
            "--register-for",
            "service_quality_analysis",
            "--server",
            &url,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    let id = t
        .split_whitespace()
        .find(|w| w.starts_with("pds_"))
        .expect("dataset id")
        .trim_end_matches(',')
        .to_owned();
    let remote = |epsilon: &str| {
        tutela_in(
            &dir,
            &[
                "stats",
                "--dataset",
                &id,
                "--person",
                "imsi",
                "--group-by",
                "cell",
                "--rows-per-person",
                "2",
                "--noise",
                "laplace",
                "--epsilon",
                epsilon,
                "--requested-by",
                "analyst-3",
                "--server",
                &url,
            ],
        )
    };
    let out = remote("1");
    assert!(out.status.success(), "{}", text(&out));
    let csv = stdout(&out);
    assert!(
        csv.starts_with("cell,count\r\nnorth,") && !csv.contains("west"),
        "{csv}"
    );
    assert!(
        text(&out).contains("epsilon 1.0 of 3.0 spent in 1 releases"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("laplace noise on each count"),
        "{}",
        text(&out)
    );
    let out = remote("2.5");
    assert!(!out.status.success());
    assert!(text(&out).contains("budget"), "{}", text(&out));
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
