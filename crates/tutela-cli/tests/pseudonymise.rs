//! `tutela pseudonymise` and `tutela keys pseudonyms`: a CSV file in, pseudonyms out, nothing
//! half-written.

use super::{http, start, temp_dir, text, tutela_in};

const USAGE: &str = "ts,imsi,msisdn,bytes\n\
2026-01-05T10:00:00Z,262011234567890,+4915112345678,100\n\
2026-01-05T10:00:01Z,26201123,+4915112345679,200\n\
2026-01-05T10:00:02Z,262011234567892,+4915112345670,300\n";

/// `tutela pseudonymise --in usage.csv --out OUT --column … --domain DOMAIN EXTRA…`.
fn pseudonymise_to(
    dir: &std::path::Path,
    out: &str,
    columns: &[&str],
    domain: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "pseudonymise",
        "--in",
        "usage.csv",
        "--out",
        out,
        "--domain",
        domain,
    ];
    for c in columns {
        args.extend_from_slice(&["--column", c]);
    }
    args.extend_from_slice(extra);
    tutela_in(dir, &args)
}

fn pseudonymise(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    pseudonymise_to(
        dir,
        "out.csv",
        &["imsi=ff1", "msisdn=hmac"],
        "service_quality_analysis",
        extra,
    )
}

// covers: N7b
#[test]
fn pseudonymise_writes_the_whole_file_or_nothing_and_needs_its_key_first() {
    let dir = temp_dir("pseudonymise");
    std::fs::write(dir.join("usage.csv"), USAGE).expect("write");

    // No key file: the run stops before any output exists, and says how to make one.
    let out = pseudonymise(&dir, &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("tutela keys pseudonyms new"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("out.csv").exists());

    let new = tutela_in(&dir, &["keys", "pseudonyms", "new"]);
    assert!(new.status.success(), "{}", text(&new));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("tutela-pseudonym.key"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        !tutela_in(&dir, &["keys", "pseudonyms", "new"])
            .status
            .success(),
        "never replaced"
    );

    // A bad row stops the run: nothing written, no partial file left.
    let out = pseudonymise(&dir, &[]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("line 3, column `imsi`") && t.contains("nothing was written"),
        "{t}"
    );
    assert!(!t.contains("26201123,"), "the value is never shown: {t}");
    assert!(!dir.join("out.csv").exists() && !dir.join("out.csv.partial").exists());

    // With a reject file the run goes on; the bad row goes there as it was.
    let out = pseudonymise(&dir, &["--rejects", "rejects.csv"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not registered"), "{}", text(&out));
    assert!(
        text(&out).contains("3 rows read, 4 pseudonyms"),
        "{}",
        text(&out)
    );
    let result = std::fs::read_to_string(dir.join("out.csv")).expect("out");
    let rejects = std::fs::read_to_string(dir.join("rejects.csv")).expect("rejects");
    assert_eq!(
        rejects,
        "ts,imsi,msisdn,bytes\n2026-01-05T10:00:01Z,26201123,+4915112345679,200\n"
    );
    let rows: Vec<Vec<&str>> = result.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0], ["ts", "imsi", "msisdn", "bytes"]);
    for (row, original) in rows[1..].iter().zip(["262011234567890", "262011234567892"]) {
        assert_eq!(row[1].len(), 15);
        assert!(row[1].starts_with("26201") && row[1] != original);
        assert_eq!(row[2].len(), 32, "an HMAC pseudonym: {}", row[2]);
        assert!(!result.contains("+49151"));
    }
    assert_eq!(rows[1][3], "100");

    // Another domain gives other pseudonyms; a rotated key too, and the old key still works.
    let first = result.clone();
    let out = pseudonymise_to(
        &dir,
        "stats.csv",
        &["msisdn=hmac"],
        "statistics",
        &["--rejects", "r2.csv"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stats = std::fs::read_to_string(dir.join("stats.csv")).expect("stats");
    assert_ne!(
        stats.lines().nth(1).map(|l| l.split(',').nth(2)),
        first.lines().nth(1).map(|l| l.split(',').nth(2))
    );
    let old_id = String::from_utf8_lossy(&tutela_in(&dir, &["keys", "pseudonyms", "list"]).stdout)
        .split_whitespace()
        .nth(2)
        .expect("an id")
        .to_owned();
    assert!(
        tutela_in(&dir, &["keys", "pseudonyms", "rotate"])
            .status
            .success()
    );
    assert!(
        pseudonymise(&dir, &["--rejects", "rejects.csv"])
            .status
            .success()
    );
    assert_ne!(
        std::fs::read_to_string(dir.join("out.csv")).expect("out"),
        first
    );
    assert!(
        pseudonymise(&dir, &["--rejects", "rejects.csv", "--key-id", &old_id])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out.csv")).expect("out"),
        first
    );

    // A key id the file does not hold, or a column the file does not have: nothing written.
    std::fs::remove_file(dir.join("out.csv")).expect("rm");
    assert!(
        !pseudonymise(&dir, &["--key-id", "pk-none"])
            .status
            .success()
    );
    let out = pseudonymise_to(&dir, "out.csv", &["iccid=ff1"], "q", &[]);
    assert!(text(&out).contains("no column `iccid`"), "{}", text(&out));
    assert!(!dir.join("out.csv").exists());
    let _ = std::fs::remove_dir_all(dir);
}

// covers: N7b
#[test]
fn a_pseudonymised_file_is_registered_before_it_appears_and_the_server_makes_the_key() {
    let dir = temp_dir("pseudonymise-register");
    std::fs::write(
        dir.join("usage.csv"),
        USAGE.replace("26201123,", "262011234567891,"),
    )
    .expect("write");
    // The datasets' own directory: never the one holding the database, the keys and the token.
    std::fs::create_dir_all(dir.join("exports")).expect("exports");
    std::fs::write(
        dir.join("tutela.toml"),
        format!("pseudonymised_dirs = [{:?}]\n", dir.join("exports")),
    )
    .expect("config");
    let db = format!("sqlite://{}", dir.join("tutela.db").display());
    let server = start(&dir, &db);
    // The server's first start made the key file the CLI then uses.
    assert!(dir.join("tutela-pseudonym.key").exists());
    let url = format!("http://127.0.0.1:{}", server.port);

    // A purpose without a retention rule cannot hold a pseudonymised dataset: nothing written.
    let to_exports = |extra: &[&str]| {
        pseudonymise_to(
            &dir,
            "exports/out.csv",
            &["imsi=ff1", "msisdn=hmac"],
            "service_quality_analysis",
            extra,
        )
    };
    let out = to_exports(&["--register-for", "statistics", "--server", &url]);
    assert!(!out.status.success());
    assert!(text(&out).contains("retention"), "{}", text(&out));
    assert!(!dir.join("exports/out.csv").exists() && !dir.join("exports/out.csv.partial").exists());

    // Beside the database, the keys and the token: refused, nothing written.
    let out = pseudonymise(
        &dir,
        &[
            "--register-for",
            "service_quality_analysis",
            "--server",
            &url,
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("pseudonymised_dirs"), "{}", text(&out));
    assert!(!dir.join("out.csv").exists());

    let out = to_exports(&[
        "--register-for",
        "service_quality_analysis",
        "--server",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("registered as pds_"), "{}", text(&out));
    let token = std::fs::read_to_string(dir.join("tutela.token")).expect("token");
    let (status, body) = http(
        server.port,
        "GET",
        "/v1/pseudonymised-datasets",
        token.trim(),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("json");
    let d = &list[0];
    assert_eq!(d["purpose"], "service_quality_analysis");
    assert_eq!(d["rows"], 3);
    assert_eq!(
        d["columns"],
        serde_json::json!(["imsi=ff1:imsi", "msisdn=hmac"])
    );
    let location = d["location"].as_str().expect("location");
    assert!(location.ends_with("out.csv") && std::path::Path::new(location).exists());
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

// Issue 30, defect 1: the working directory (database, keys, token) was the default.
#[test]
fn serve_refuses_a_dataset_directory_that_holds_its_database_or_keys() {
    let dir = temp_dir("pseudonymised-dirs-refused");
    std::fs::write(
        dir.join("tutela.toml"),
        format!("pseudonymised_dirs = [{:?}]\n", dir),
    )
    .expect("config");
    let out = tutela_in(
        &dir,
        &[
            "--config",
            "tutela.toml",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("pseudonymised_dirs") && text(&out).contains("holds"),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(dir);
}
