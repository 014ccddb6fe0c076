//! The `tutela` binary, end to end: policy commands, scenarios, and a real server on a socket.

#![allow(
    clippy::panic,
    clippy::print_stderr,
    reason = "test helpers fail by panicking and say why they skip"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tutela");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tutela(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root())
        .output()
        .expect("run tutela")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn temp_dir(name: &str) -> PathBuf {
    tutela_store::testing::temp_dir(name)
}

#[test]
fn policy_check_accepts_the_reference_and_locates_errors() {
    let ok = tutela(&["policy", "check", "policies/reference.toml"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("ok — 29 purposes"), "{}", text(&ok));

    let dir = temp_dir("check");
    let bad = dir.join("bad.toml");
    let reference = std::fs::read_to_string(root().join("policies/reference.toml")).expect("read");
    std::fs::write(
        &bad,
        reference.replacen("period = \"P1Y\"", "period = \"one year\"", 1),
    )
    .expect("write");
    let out = tutela(&["policy", "check", &bad.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains("bad.toml:") && t.contains(":10: error: bad duration `one year`"),
        "{t}"
    );
    let out = tutela(&["policy", "check", "/nonexistent/policy.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("cannot read"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_module_loads_with_its_base_from_disk() {
    let out = tutela(&[
        "policy",
        "check",
        "policies/modules/m2m-service-portal.toml",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("30 purposes"), "{}", text(&out));
}

// covers: N1, N33
#[test]
fn policy_coverage_finds_every_clause_encoded_and_tested() {
    let out = tutela(&[
        "policy",
        "coverage",
        "policies/reference.toml",
        "--tests",
        "tests/scenarios",
        "--tests",
        "crates",
        "--strict",
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("51 clauses, 0 without element or test"), "{t}");
    assert!(t.contains("N18   ok "), "{t}");
}

#[test]
fn policy_render_writes_both_languages_and_formats() {
    let de = tutela(&[
        "policy",
        "render",
        "policies/reference.toml",
        "--lang",
        "de",
        "--format",
        "md",
    ]);
    assert!(
        text(&de)
            .contains("Anrufe zu Werbezwecken erhalten Sie von uns nur mit Ihrer Einwilligung.")
    );
    let en = tutela(&[
        "policy",
        "render",
        "policies/reference.toml",
        "--lang",
        "en",
        "--format",
        "html",
    ]);
    assert!(text(&en).contains("<html lang=\"en\">"));
    let bad = tutela(&[
        "policy",
        "render",
        "policies/reference.toml",
        "--lang",
        "fr",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn policy_test_runs_the_scenarios_through_the_cli() {
    let out = tutela(&[
        "policy",
        "test",
        "policies/reference.toml",
        "--scenarios",
        "tests/scenarios/decisions.toml",
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("passed, 0 failed"), "{t}");
}

// covers: N23
#[test]
fn decide_answers_every_scenario_as_the_library_and_the_api_do() {
    use tutela_core::scenario::{self, Actual, ScenarioFile};
    use tutela_store::Store;

    let corpus =
        std::fs::read_to_string(root().join("tests/scenarios/decisions.toml")).expect("scenarios");
    let file: ScenarioFile = toml::from_str(&corpus).expect("scenario file");
    let cases: Vec<_> = file.cases.iter().filter(|c| !c.library_only).collect();
    // The policy `tutela decide` loads without `--policy`: the embedded reference.
    let reference = std::fs::read_to_string(root().join("policies/reference.toml")).expect("read");
    let loader = tutela_core::policy::MemoryLoader::new().with("reference.toml", &reference);
    let policy = tutela_core::compiled::CompiledPolicy::new(
        tutela_core::policy::load_policy(&loader, "reference.toml").expect("reference policy"),
    );
    let dir = temp_dir("decide-scenarios");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let path = dir.join("tutela.db").to_string_lossy().into_owned();
        let store = tutela_store::SqliteStore::open(&path).await.expect("open");
        store.migrate().await.expect("migrate");
        let at = jiff::Timestamp::now();
        let version = policy.policy_version();
        let events: Vec<_> = cases
            .iter()
            .enumerate()
            .flat_map(|(i, case)| {
                case.events.iter().map(move |e| tutela_store::NewEvent {
                    subject: format!("scenario-{i}"),
                    at,
                    kind: e.kind().unwrap_or_else(|m| panic!("{}: {m}", case.name)),
                    evidence: e.evidence.clone(),
                    reason: e.reason.clone(),
                    email: None,
                    idempotency_key: None,
                    policy_version: version.to_owned(),
                })
            })
            .collect();
        for r in store.append(&events).await.expect("append") {
            r.expect("appended");
        }
    });
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let q = &case.query;
        let subject = format!("scenario-{i}");
        let mut args = vec!["decide", "--subject", &subject, "--purpose", &q.purpose];
        for c in &q.categories {
            args.extend(["--category", c]);
        }
        for (flag, value) in [
            ("--channel", &q.channel),
            ("--recipient", &q.recipient),
            ("--country", &q.country),
            ("--call", &q.call),
        ] {
            if let Some(v) = value {
                args.extend([flag, v]);
            }
        }
        args.extend(["--database", "sqlite://tutela.db"]);
        let out = Command::new(BIN)
            .args(&args)
            .current_dir(&dir)
            .output()
            .expect("decide");
        let library = scenario::prepare(&policy, case)
            .unwrap_or_else(|e| panic!("{e}"))
            .ask(&policy, case);
        let actual = match library {
            // Refused as malformed, as the API's 422: exit code 2, naming the flag.
            Err(e) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(2), "{}: {}", case.name, text(&out));
                assert!(
                    stderr.contains(&format!("`--{}`", e.field())),
                    "{}: {stderr}",
                    case.name
                );
                Actual::refused(e.field())
            }
            Ok(answer) => {
                let d: serde_json::Value = serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("{}: {e}: {}", case.name, text(&out)));
                assert_eq!(
                    d,
                    serde_json::to_value(answer).expect("answer"),
                    "{}: the CLI and the library disagree",
                    case.name
                );
                let code = if answer.allowed() { 0 } else { 1 };
                assert_eq!(out.status.code(), Some(code), "{}", case.name);
                scenario::Actual::of(Ok(answer))
            }
        };
        if let Some(diff) = case.expect.check(&actual) {
            failures.push(format!("{}: {diff}", case.name));
        }
    }
    assert!(cases.len() >= 50, "only {} scenarios ran", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(dir);
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// `tutela serve` in `dir` on `db`, with `dir/tutela.toml` as its configuration when the
/// test wrote one.
fn start(dir: &Path, db: &str) -> Server {
    let port = free_port();
    let mut command = Command::new(BIN);
    if dir.join("tutela.toml").exists() {
        command.args(["--config", "tutela.toml"]);
    }
    let child = command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            db,
        ])
        .current_dir(dir)
        .env_remove("TUTELA_API_TOKEN")
        .env_remove("TUTELA_LOG_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server did not start");
}

fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

// covers: N4, N9c
#[test]
fn serve_generates_a_private_token_and_answers_on_a_socket_then_decide_reads_the_same_database() {
    let dir = temp_dir("serve");
    let server = start(&dir, "sqlite://tutela.db");
    let token_path = dir.join("tutela.token");
    let token = std::fs::read_to_string(&token_path)
        .expect("token file")
        .trim()
        .to_owned();
    assert_eq!(token.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_path)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let (s, _) = http(server.port, "GET", "/v1/policy", "wrong-token-wrong", "");
    assert_eq!(s, 401);
    let (s, b) = http(
        server.port,
        "PUT",
        "/v1/subjects/cli-1",
        &token,
        r#"{"relationship":"customer"}"#,
    );
    assert_eq!(s, 201, "{b}");
    let (s, b) = http(
        server.port,
        "POST",
        "/v1/subjects/cli-1/consents",
        &token,
        r#"{"purpose":"phone_marketing","channel":"phone","granted":true,"source":"call_center"}"#,
    );
    assert_eq!(s, 201, "{b}");
    let (s, b) = http(
        server.port,
        "POST",
        "/v1/decisions",
        &token,
        r#"{"subject":"cli-1","purpose":"phone_marketing","categories":["contact"],"channel":"phone"}"#,
    );
    assert_eq!(s, 200);
    assert!(b.contains("\"allowed\":true"), "{b}");
    drop(server);

    let out = Command::new(BIN)
        .args([
            "decide",
            "--subject",
            "cli-1",
            "--purpose",
            "phone_marketing",
            "--category",
            "contact",
            "--channel",
            "phone",
            "--database",
            "sqlite://tutela.db",
        ])
        .current_dir(&dir)
        .output()
        .expect("decide");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("\"reason\": \"consent_given\""),
        "{}",
        text(&out)
    );
    let out = Command::new(BIN)
        .args([
            "decide",
            "--subject",
            "cli-1",
            "--purpose",
            "advertising_with_usage_data",
            "--category",
            "usage",
            "--database",
            "sqlite://tutela.db",
        ])
        .current_dir(&dir)
        .output()
        .expect("decide");
    assert_eq!(out.status.code(), Some(1), "a refusal exits 1");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn migrate_and_serve_on_postgres() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let Some(pg) = rt.block_on(tutela_store::testing::PgSchema::create()) else {
        return;
    };
    let db = pg.store_url();
    let out = tutela(&["migrate", "--database", &db]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("migrated postgres database"));
    let dir = temp_dir("pg");
    // The key store is a database apart from the data, as docs/operations.md says: serve
    // refuses a PostgreSQL store without one.
    let Some(keys) = rt.block_on(tutela_store::testing::PgSchema::create()) else {
        return;
    };
    std::fs::write(
        dir.join("tutela.toml"),
        format!("keystore = \"{}\"\n", keys.store_url()),
    )
    .expect("config");
    let server = start(&dir, &db);
    let token = std::fs::read_to_string(dir.join("tutela.token"))
        .expect("token")
        .trim()
        .to_owned();
    let (s, b) = http(
        server.port,
        "PUT",
        "/v1/subjects/pg-1",
        &token,
        r#"{"relationship":"prospect"}"#,
    );
    assert_eq!(s, 201, "{b}");
    let (s, b) = http(server.port, "GET", "/readyz", &token, "");
    assert_eq!(s, 200, "{b}");
    drop(server);
    let query = format!("SELECT count(*) FROM {}.ledger", pg.schema);
    let rows: i64 = rt
        .block_on(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(query)).fetch_one(&pg.admin))
        .expect("count");
    assert_eq!(rows, 1, "the write reached the schema the URL names");
    assert!(
        !dir.join("tutela-keys.db").exists(),
        "no local key store beside a PostgreSQL store"
    );
    rt.block_on(pg.drop_schema());
    rt.block_on(keys.drop_schema());
    let _ = std::fs::remove_dir_all(dir);
}

fn tutela_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("TUTELA_API_TOKEN")
        .output()
        .expect("run tutela")
}

// covers: N10
#[test]
fn intake_files_a_maildir_and_requests_commands_follow_them() {
    let dir = temp_dir("intake");
    let server = start(&dir, "sqlite://tutela.db");
    let token = std::fs::read_to_string(dir.join("tutela.token")).expect("token");
    let token = token.trim();
    let (s, b) = http(
        server.port,
        "PUT",
        "/v1/subjects/K-1",
        token,
        r#"{"relationship":"customer","email":"kunde@example.org"}"#,
    );
    assert_eq!(s, 201, "{b}");
    let maildir = dir.join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    let messages = [
        (
            "1.m1",
            "From: Kunde <kunde@example.org>\r\nSubject: =?UTF-8?Q?L=C3=B6schung_meiner_Daten?=\r\nMessage-ID: <a@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nBitte l=C3=B6schen Sie alle meine Daten.\r\n",
        ),
        (
            "2.m2",
            "From: someone@example.net\r\nSubject: Subject access request\r\nMessage-ID: <b@example.net>\r\n\r\nPlease send me a copy of my personal data.\r\n",
        ),
        (
            "3.m3",
            "From: other@example.net\r\nSubject: Frage\r\nMessage-ID: <c@example.net>\r\n\r\nWann kommt meine SIM-Karte?\r\n",
        ),
        ("4.m4", "Subject: no sender\r\n\r\nDelete my data.\r\n"),
    ];
    for (name, text) in messages {
        std::fs::write(maildir.join("new").join(name), text).expect("write mail");
    }
    let server_url = format!("http://127.0.0.1:{}", server.port);
    let md = maildir.to_string_lossy().into_owned();
    let out = tutela_in(&dir, &["intake", "--server", &server_url, "maildir", &md]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "one message is kept: {t}");
    assert!(t.contains("3 filed, 1 kept in new/"), "{t}");
    assert!(
        t.contains("erasure") && t.contains("access") && t.contains("unclassified"),
        "{t}"
    );
    assert!(
        !t.contains("löschen") && !t.contains("kunde@example.org"),
        "no content in the output: {t}"
    );
    let kept: Vec<_> = std::fs::read_dir(maildir.join("new"))
        .expect("new")
        .collect();
    assert_eq!(kept.len(), 1, "the message without sender stays");
    assert_eq!(
        std::fs::read_dir(maildir.join("cur")).expect("cur").count(),
        3
    );

    // Filing the same message again is the same request.
    std::fs::write(maildir.join("new").join("5.m1"), messages[0].1).expect("write mail");
    let again = tutela_in(&dir, &["intake", "--server", &server_url, "maildir", &md]);
    let list = tutela_in(&dir, &["requests", "--server", &server_url, "list"]);
    let l = text(&list);
    assert!(list.status.success(), "{l}");
    assert_eq!(
        l.lines().filter(|x| x.contains("req_")).count(),
        3,
        "{}\n{l}",
        text(&again)
    );
    let erasure_id = l
        .lines()
        .find(|x| x.contains("erasure"))
        .and_then(|x| x.split_whitespace().next())
        .expect("erasure listed")
        .to_owned();
    let show = tutela_in(
        &dir,
        &["requests", "--server", &server_url, "show", &erasure_id],
    );
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(v["status"], "awaiting_verification");
    assert_eq!(v["subject"], "K-1", "known sender resolved to the person");
    assert_eq!(v["channel"], "email");
    let refuse = tutela_in(
        &dir,
        &[
            "requests",
            "--server",
            &server_url,
            "refuse",
            &erasure_id,
            "--reason",
            "",
        ],
    );
    assert_eq!(refuse.status.code(), Some(2));
    assert!(
        text(&refuse).contains("field `reason`"),
        "{}",
        text(&refuse)
    );
    let agent = tutela_in(
        &dir,
        &[
            "requests",
            "--server",
            &server_url,
            "verify-by-agent",
            &erasure_id,
            "--note",
            "call-back to the number on file",
            "--agent",
            "a-1",
        ],
    );
    assert!(agent.status.success(), "{}", text(&agent));
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

// covers: N14
#[test]
fn risk_train_writes_a_model_or_nothing() {
    let dir = temp_dir("risk");
    let data = std::fs::read_to_string(root().join("data/german-credit/germancredit.csv"))
        .expect("German Credit");
    let good = dir.join("good.csv");
    std::fs::write(&good, &data).expect("write");
    let model = dir.join("card.json");
    let m = model.to_string_lossy().into_owned();
    let out = tutela(&[
        "risk",
        "train",
        &good.to_string_lossy(),
        "--target",
        "creditability",
        "--positive",
        "bad",
        "--drop",
        "personal_status_and_sex,foreign_worker",
        "--out",
        &m,
        "--cv",
        "5",
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("mean 0.7"), "{t}");
    assert!(model.exists());
    assert!(
        t.contains("warning: no label for `status_of_existing_checking_account`"),
        "{t}"
    );
    let explain = tutela(&["risk", "explain", "--model", &m, "--lang", "en"]);
    assert!(text(&explain).contains("status_of_existing_checking_account"));
    // With the shipped labels (issue 32): in the model, and no warning.
    let labels = root().join("policies/risk/german-credit-labels.toml");
    let labelled = dir.join("labelled.json");
    let l = labelled.to_string_lossy().into_owned();
    let train = |labels: &str, out: &str| {
        tutela(&[
            "risk",
            "train",
            &good.to_string_lossy(),
            "--target",
            "creditability",
            "--positive",
            "bad",
            "--drop",
            "personal_status_and_sex,foreign_worker",
            "--out",
            out,
            "--labels",
            labels,
        ])
    };
    let out = train(&labels.to_string_lossy(), &l);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(!t.contains("warning: no label"), "{t}");
    let card = std::fs::read_to_string(&labelled).expect("model");
    assert!(card.contains("Kontostand des Girokontos"), "{card}");
    let explain = tutela(&["risk", "explain", "--model", &l, "--lang", "de"]);
    assert!(
        text(&explain).contains("Kontostand des Girokontos — status_of_existing_checking_account"),
        "{}",
        text(&explain)
    );
    // A label for a column the data does not have: file, line and column; no model.
    let typo = dir.join("typo.toml");
    std::fs::write(&typo, "[duration]\nde = \"Laufzeit\"\nen = \"Duration\"\n").expect("write");
    let none = dir.join("none.json");
    let out = train(&typo.to_string_lossy(), &none.to_string_lossy());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("typo.toml:1:2: error: `duration` is not a column of the training data"),
        "{t}"
    );
    assert!(!none.exists(), "no model file on error");
    // A word where numbers are expected: the error names row and column, no file is written.
    let mut lines: Vec<String> = data.lines().map(str::to_owned).collect();
    let (first, rest) = lines[17].split_once(',').expect("a row");
    let (_, after) = rest.split_once(',').expect("a row");
    lines[17] = format!("{first},six,{after}");
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, lines.join("\n")).expect("write");
    let other = dir.join("other.json");
    let o = other.to_string_lossy().into_owned();
    let out = tutela(&[
        "risk",
        "train",
        &bad.to_string_lossy(),
        "--target",
        "creditability",
        "--drop",
        "personal_status_and_sex,foreign_worker",
        "--out",
        &o,
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("row 18") && t.contains("duration_in_month") && t.contains("`six`"),
        "{t}"
    );
    assert!(!other.exists(), "no model file on error");
    // Protected attributes are refused by the policy.
    let out = tutela(&[
        "risk",
        "train",
        &good.to_string_lossy(),
        "--target",
        "creditability",
        "--out",
        &o,
    ]);
    assert!(
        text(&out).contains("excludes these features"),
        "{}",
        text(&out)
    );
    assert!(!other.exists());
    let _ = std::fs::remove_dir_all(dir);
}

// covers: N18
#[test]
fn audience_reads_a_csv_and_writes_who_may_be_contacted() {
    let dir = temp_dir("audience");
    let server = start(&dir, "sqlite://tutela.db");
    let token = std::fs::read_to_string(dir.join("tutela.token")).expect("token");
    for (id, body) in [
        ("a-1", r#"{"relationship":"customer"}"#),
        ("a-2", r#"{"relationship":"prospect"}"#),
    ] {
        let (s, _) = http(
            server.port,
            "PUT",
            &format!("/v1/subjects/{id}"),
            token.trim(),
            body,
        );
        assert_eq!(s, 201);
    }
    std::fs::write(dir.join("list.csv"), "subject\na-1\na-2\n").expect("write");
    let url = format!("http://127.0.0.1:{}", server.port);
    let out = tutela_in(
        &dir,
        &[
            "audience",
            "--server",
            &url,
            "--purpose",
            "email_marketing",
            "--channel",
            "email",
            "--category",
            "contact",
            "--in",
            "list.csv",
            "--out",
            "result.csv",
        ],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        // German unless asked otherwise, as the notice is.
        t.contains("1 von 2 dürfen kontaktiert werden") && t.contains("widersprechen"),
        "{t}"
    );
    let result = std::fs::read_to_string(dir.join("result.csv")).expect("result");
    assert_eq!(
        result,
        "subject,contact,reason\r\na-1,yes,\r\na-2,no,not_an_existing_customer\r\n"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

// covers: N33
#[test]
fn policy_diff_says_what_changed_and_counts_consents_to_renew() {
    let dir = temp_dir("diff");
    let reference =
        std::fs::read_to_string(root().join("policies/reference.toml")).expect("reference");
    let widened = reference.replace(
        "categories = [\"identity\", \"contact\"]\nchannels = [\"phone\"]",
        "categories = [\"identity\", \"contact\", \"contract\"]\nchannels = [\"phone\"]",
    );
    std::fs::write(dir.join("old.toml"), &reference).expect("write");
    std::fs::write(dir.join("new.toml"), &widened).expect("write");
    let db = dir.join("t.db").to_string_lossy().into_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        use tutela_store::Store;
        let store = tutela_store::SqliteStore::open(&db).await.expect("open");
        store.migrate().await.expect("migrate");
        let consent = |who: &str, granted: bool| tutela_store::NewEvent {
            subject: who.into(),
            at: jiff::Timestamp::now(),
            kind: tutela_core::ledger::EventKind::Consent {
                purpose: "phone_marketing".into(),
                channel: Some("phone".into()),
                granted,
                source: "call".into(),
                notice_version: "2026-01".into(),
            },
            evidence: None,
            reason: None,
            email: None,
            idempotency_key: None,
            policy_version: "v".into(),
        };
        store
            .append(&[
                consent("p-1", true),
                consent("p-2", true),
                consent("p-3", true),
                consent("p-3", false),
            ])
            .await
            .expect("append");
    });
    let out = tutela_in(
        &dir,
        &[
            "policy",
            "diff",
            "old.toml",
            "new.toml",
            "--lang",
            "en",
            "--database",
            &format!("sqlite://{db}"),
        ],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("Consent-based purpose `phone_marketing` now also uses `contract`. 2 consents were given for the narrower purpose and need renewal."),
        "{t}"
    );
    let de = tutela_in(&dir, &["policy", "diff", "old.toml", "new.toml"]);
    assert!(
        text(&de).contains("müssen erneuert werden"),
        "{}",
        text(&de)
    );
    let same = tutela_in(
        &dir,
        &["policy", "diff", "old.toml", "old.toml", "--lang", "en"],
    );
    assert!(text(&same).contains("No changes."));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let mut child = Command::new(BIN)
        .args([
            "policy",
            "render",
            &root().join("policies/reference.toml").to_string_lossy(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // The reader goes away before the command has written anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0));
}

// covers: N24, N25
#[test]
fn redact_replaces_personal_data_in_a_text_file() {
    let dir = temp_dir("redact");
    std::fs::write(
        dir.join("summary.txt"),
        "Kundin (geb. 03.02.1980) ruft an: IBAN DE89 3704 0044 0532 0130 00, Tel. +49 228 1234567, Auftragsnummer 0123 4567890.\n\
         Herr Jan Kowalski, KD-0012345, Hauptstraße 5, 10115 Berlin. Rückfrage an Petra Lang.\n",
    )
    .expect("write");
    let policy = root().join("policies/reference.toml");
    let out = tutela_in(
        &dir,
        &[
            "redact",
            "--in",
            "summary.txt",
            "--out",
            "clean.txt",
            "--name",
            "Petra Lang",
            "--policy",
            &policy.to_string_lossy(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let clean = std::fs::read_to_string(dir.join("clean.txt")).expect("clean");
    assert_eq!(
        clean,
        "Kundin (geb. <DATE_OF_BIRTH>) ruft an: IBAN <IBAN>, Tel. <PHONE>, Auftragsnummer 0123 4567890.\n\
         Herr <PERSON>, <CUSTOMER_NUMBER>, <ADDRESS>. Rückfrage an <PERSON>.\n"
    );
    assert!(text(&out).contains("7 findings"), "{}", text(&out));
    let out = tutela_in(
        &dir,
        &["redact", "--in", "summary.txt", "--operator", "pseudonym"],
    );
    assert!(
        !out.status.success() && text(&out).contains("--domain"),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(dir);
}

// covers: N33
#[test]
fn policy_activate_schedules_a_valid_version_and_refuses_bad_input() {
    let dir = temp_dir("activate");
    let db = format!("sqlite://{}", dir.join("t.db").display());
    let policy = root().join("policies/reference.toml");
    let policy = policy.to_string_lossy();
    // No database there (a mistyped path): refused, and none created.
    let o = tutela(&["policy", "activate", &policy, "--database", &db]);
    assert!(
        !o.status.success() && text(&o).contains("no database at"),
        "{}",
        text(&o)
    );
    assert!(!dir.join("t.db").exists());
    let o = tutela(&["migrate", "--database", &db]);
    assert!(o.status.success(), "{}", text(&o));
    // A time in the past, an unreadable time, a broken file: nothing is stored.
    let o = tutela(&[
        "policy",
        "activate",
        &policy,
        "--at",
        "2020-01-01T00:00:00Z",
        "--database",
        &db,
    ]);
    assert!(
        !o.status.success() && text(&o).contains("has passed"),
        "{}",
        text(&o)
    );
    let o = tutela(&[
        "policy",
        "activate",
        &policy,
        "--at",
        "tomorrow",
        "--database",
        &db,
    ]);
    assert!(
        !o.status.success() && text(&o).contains("RFC 3339"),
        "{}",
        text(&o)
    );
    std::fs::write(dir.join("bad.toml"), "[policy]\nid = 1\n").expect("write");
    let bad = dir.join("bad.toml");
    let o = tutela(&[
        "policy",
        "activate",
        &bad.to_string_lossy(),
        "--database",
        &db,
    ]);
    assert!(
        !o.status.success() && text(&o).contains("nothing was activated"),
        "{}",
        text(&o)
    );
    let o = tutela(&["policy", "activations", "--database", &db]);
    assert!(
        o.status.success() && text(&o).trim().is_empty(),
        "{}",
        text(&o)
    );
    // A valid version in the future is scheduled and listed.
    let at = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string();
    let o = tutela(&[
        "policy",
        "activate",
        &policy,
        "--at",
        &at,
        "--database",
        &db,
        "--by",
        "dpo",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("scheduled for"), "{}", text(&o));
    let o = tutela(&["policy", "activations", "--database", &db]);
    let listed = text(&o);
    assert!(
        listed.contains("\tscheduled\t") && listed.contains("cli:dpo"),
        "{listed}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

// covers: N25
#[test]
fn ai_training_set_exports_only_consented_texts_and_never_objectors() {
    use tutela_core::ledger::{EventKind, ObjectionScope};
    let dir = temp_dir("training");
    let db_path = dir.join("t.db").to_string_lossy().into_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        use tutela_store::{Store, SummaryStore};
        let store = tutela_store::SqliteStore::open(&db_path)
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        let event = |who: &str, kind: EventKind| tutela_store::NewEvent {
            subject: who.into(),
            at: jiff::Timestamp::now(),
            kind,
            evidence: Some("checkbox".into()),
            reason: Some("particular situation".into()),
            email: None,
            idempotency_key: None,
            policy_version: "v".into(),
        };
        let consent = || EventKind::Consent {
            purpose: "ai_training".into(),
            channel: None,
            granted: true,
            source: "app".into(),
            notice_version: "2026-01".into(),
        };
        store
            .append(&[
                event("A-1", consent()),
                event("C-1", consent()),
                event(
                    "C-1",
                    EventKind::Objection {
                        scope: ObjectionScope::Purpose("ai_training".into()),
                    },
                ),
            ])
            .await
            .expect("append");
        for (who, text) in [
            ("A-1", "Alpha text"),
            ("B-1", "Bravo text: Frau Berta Bauer, berta@example.org"),
            ("C-1", "Charlie text"),
        ] {
            let now = jiff::Timestamp::now();
            store
                .insert_summary(&tutela_store::SummaryRecord {
                    id: format!("cs-{who}"),
                    subject: who.into(),
                    call_id: format!("call-{who}"),
                    agent: "op-1".into(),
                    draft: None,
                    text: Some(text.into()),
                    status: "approved".into(),
                    created_at: now,
                    expires_at: now,
                    reviewed_at: Some(now),
                    reviewed_by: Some("operator:op-1".into()),
                })
                .await
                .expect("summary");
        }
    });
    let db = format!("sqlite://{db_path}");
    let out = dir.join("train.jsonl");
    let out_s = out.to_string_lossy();
    let o = tutela(&[
        "ai",
        "training-set",
        "--out",
        &out_s,
        "--basis",
        "redacted",
        "--database",
        &db,
    ]);
    // Redacted (legitimate interest): every person but the objector, personal data replaced.
    assert!(o.status.success(), "{}", text(&o));
    let written = std::fs::read_to_string(&out).expect("written");
    assert!(
        written.contains("Alpha text")
            && written.contains("Bravo text: Frau <PERSON>, <EMAIL>")
            && !written.contains("Berta")
            && !written.contains("Charlie"),
        "{written}"
    );
    assert!(
        written.contains("legitimate_interest_redacted"),
        "{written}"
    );
    let o = tutela(&["ai", "training-set", "--out", &out_s, "--database", &db]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("1 summaries written")
            && text(&o).contains("1 objected")
            && text(&o).contains("1 without consent"),
        "{}",
        text(&o)
    );
    let written = std::fs::read_to_string(&out).expect("written");
    assert!(written.contains("Alpha text"), "{written}");
    assert!(
        !written.contains("Bravo") && !written.contains("Charlie"),
        "{written}"
    );
    assert!(!written.contains("A-1"), "no ids leave: {written}");
    let _ = std::fs::remove_dir_all(dir);
}

// covers: N29, N30, N31
#[test]
fn transfers_report_counts_the_art49_grounds_recorded_per_person() {
    use tutela_core::basis::CountryCode;
    use tutela_core::ledger::EventKind;
    let dir = temp_dir("transfers");
    let db_path = dir.join("t.db").to_string_lossy().into_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        use tutela_store::Store;
        let store = tutela_store::SqliteStore::open(&db_path)
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        let india = CountryCode::parse("IN").expect("code");
        let event = |who: &str, kind: EventKind| tutela_store::NewEvent {
            subject: who.into(),
            at: jiff::Timestamp::now(),
            kind,
            evidence: Some("roaming order R-7".into()),
            reason: None,
            email: None,
            idempotency_key: None,
            policy_version: "v".into(),
        };
        store
            .append(&[
                event(
                    "A-1",
                    EventKind::TransferNecessity {
                        country: india,
                        active: true,
                    },
                ),
                event(
                    "B-1",
                    EventKind::TransferConsent {
                        country: india,
                        granted: true,
                    },
                ),
                event(
                    "B-1",
                    EventKind::TransferNecessity {
                        country: india,
                        active: true,
                    },
                ),
            ])
            .await
            .expect("append");
    });
    let db = format!("sqlite://{db_path}");
    let o = tutela(&[
        "transfers",
        "report",
        "--at",
        "2026-11-30",
        "--database",
        &db,
    ]);
    let t = text(&o);
    assert!(o.status.success(), "every flow has a ground: {t}");
    assert!(
        t.contains("## Art. 49 derogations recorded per person") && t.contains("| IN | 1 | 2 |"),
        "{t}"
    );
    // Without a database: the flows alone; the CSV is the same either way.
    let o = tutela(&["transfers", "report", "--at", "2026-11-30"]);
    assert!(!text(&o).contains("recorded per person"));
    let o = tutela(&[
        "transfers",
        "report",
        "--at",
        "2026-11-30",
        "--format",
        "csv",
    ]);
    assert!(text(&o).starts_with("recipient,country,ground,purposes,categories"));
}

// covers: N9c
#[test]
fn a_proof_from_the_server_checks_without_the_store_and_the_log_verifies_from_it() {
    let dir = temp_dir("log");
    let server = start(&dir, "sqlite://tutela.db");
    let token = std::fs::read_to_string(dir.join("tutela.token"))
        .expect("token")
        .trim()
        .to_owned();
    let (s, b) = http(
        server.port,
        "PUT",
        "/v1/subjects/log-1",
        &token,
        r#"{"relationship":"customer"}"#,
    );
    assert_eq!(s, 201, "{b}");
    let (s, b) = http(server.port, "POST", "/v1/log/head", &token, "");
    assert_eq!(s, 201, "{b}");
    let (s, proof) = http(server.port, "GET", "/v1/log/proof/ledger:1", &token, "");
    assert_eq!(s, 200, "{proof}");
    drop(server);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("tutela-log.key"))
            .expect("the key is a file of its own, outside the database")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(&dir)
            .env_remove("TUTELA_LOG_KEY")
            .output()
            .expect("run")
    };
    let out = run(&["log", "public-key", "--key", "tutela-log.key"]);
    let public = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(public.len(), 64, "{}", text(&out));

    let proof_path = dir.join("proof.json");
    std::fs::write(&proof_path, &proof).expect("write");
    let p = proof_path.to_string_lossy().into_owned();
    let out = run(&["log", "check-proof", "--proof", &p, "--public-key", &public]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("ok: ledger:1 is leaf 0"),
        "{}",
        text(&out)
    );
    // A proof for another leaf, or a head signed by another key, is refused.
    let mut v: serde_json::Value = serde_json::from_str(&proof).expect("json");
    v["leaf_hash"] = serde_json::json!("00".repeat(32));
    std::fs::write(&proof_path, v.to_string()).expect("write");
    let out = run(&["log", "check-proof", "--proof", &p, "--public-key", &public]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    std::fs::write(&proof_path, &proof).expect("write");
    let other = "11".repeat(32);
    let out = run(&["log", "check-proof", "--proof", &p, "--public-key", &other]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not signed by key"), "{}", text(&out));

    let out = run(&[
        "log",
        "verify",
        "--database",
        "sqlite://tutela.db",
        "--public-key",
        &public,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("every signature valid"),
        "{}",
        text(&out)
    );
    // Issue 30: without a public key it reported success having checked no signature. Now
    // the key file's public half checks them, and without either nothing is verified.
    let out = run(&[
        "log",
        "verify",
        "--database",
        "sqlite://tutela.db",
        "--head",
        &p,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("holding the 1 kept heads"),
        "{}",
        text(&out)
    );
    let out = run(&["log", "verify", "--database", "sqlite://tutela.db"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("every signature valid with the public half of tutela-log.key"),
        "{}",
        text(&out)
    );
    let out = run(&[
        "log",
        "verify",
        "--database",
        "sqlite://tutela.db",
        "--key",
        "elsewhere.key",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("log not verified"), "{}", text(&out));
    assert!(
        !dir.join("elsewhere.key").exists(),
        "never created by verify"
    );
    let _ = std::fs::remove_dir_all(dir);
}

// covers: N9c
#[test]
fn no_personal_data_reaches_the_log_output_of_any_flow() {
    let dir = temp_dir("logs");
    let log_path = dir.join("server.log");
    let port = free_port();
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            "sqlite://tutela.db",
        ])
        .current_dir(&dir)
        .env_remove("TUTELA_API_TOKEN")
        .env_remove("TUTELA_LOG_KEY")
        // Everything tutela and its libraries log at debug, more than production's info.
        .env("TUTELA_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("spawn");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let token = std::fs::read_to_string(dir.join("tutela.token"))
        .expect("token")
        .trim()
        .to_owned();
    // Known personal values, each used in a flow that stores, refuses or mails it.
    const EMAIL: &str = "erika.mustermann@example.org";
    const NAME: &str = "Mustermann";
    const IBAN: &str = "DE89370400440532013000";
    const STREET: &str = "Heidestraße 17";
    const CUSTOMER: &str = "K-4711-0815";
    let personal = [EMAIL, NAME, IBAN, STREET, CUSTOMER];
    let call = |method: &str, path: &str, body: &str| http(port, method, path, &token, body);
    let steps: Vec<(&str, String, String)> = vec![
        (
            "PUT",
            format!("/v1/subjects/{CUSTOMER}"),
            format!(r#"{{"relationship":"customer","email":"{EMAIL}"}}"#),
        ),
        (
            "POST",
            format!("/v1/subjects/{CUSTOMER}/consents"),
            format!(
                r#"{{"purpose":"email_marketing","channel":"email","granted":true,"source":"web","evidence":"signed by Erika {NAME}, {STREET}"}}"#
            ),
        ),
        (
            "POST",
            format!("/v1/subjects/{CUSTOMER}/objections"),
            format!(r#"{{"scope":"legitimate_interest","reason":"{NAME} moved to {STREET}"}}"#),
        ),
        (
            "POST",
            format!("/v1/subjects/{CUSTOMER}/transfer-necessities"),
            format!(
                r#"{{"country":"IN","active":true,"contract":"roaming order for {NAME}, {IBAN}"}}"#
            ),
        ),
        (
            "POST",
            format!("/v1/subjects/{CUSTOMER}/call-consents"),
            format!(
                r#"{{"purpose":"call_recording","call":"c-1","granted":true,"evidence":"{NAME} said yes"}}"#
            ),
        ),
        (
            "POST",
            "/v1/decisions".into(),
            format!(
                r#"{{"subject":"{CUSTOMER}","purpose":"call_recording","categories":["call_audio"],"call":"c-1"}}"#
            ),
        ),
        (
            "POST",
            "/v1/call-summaries".into(),
            format!(
                r#"{{"subject":"{CUSTOMER}","call_id":"c-1","agent":"nobody","text":"{NAME} pays from {IBAN}"}}"#
            ),
        ),
        (
            "POST",
            "/v1/disclosures".into(),
            format!(
                r#"{{"subject":"{CUSTOMER}","recipient":"nobody","purpose":"contract_performance","categories":["contact"],"basis":"contract","reference":"{NAME}"}}"#
            ),
        ),
        (
            "POST",
            "/v1/requests".into(),
            format!(r#"{{"type":"access","subject":"{CUSTOMER}","email":"{EMAIL}"}}"#),
        ),
        (
            "POST",
            "/v1/requests".into(),
            format!(
                r#"{{"type":"erasure","email":"{EMAIL}","details":{{"note":"{NAME}, {STREET}"}}}}"#
            ),
        ),
        // Bad input that carries personal data: refused, and the refusal not logged with it.
        (
            "POST",
            format!("/v1/subjects/{CUSTOMER}/consents"),
            format!(r#"{{"purpose":"{EMAIL}","granted":true,"source":"web"}}"#),
        ),
        (
            "PUT",
            format!("/v1/subjects/{CUSTOMER}"),
            format!(r#"{{"relationship":"{IBAN}"}}"#),
        ),
        (
            "POST",
            "/v1/decisions".into(),
            format!(r#"{{"subject":"{CUSTOMER}","purpose":"{NAME}""#),
        ),
        ("POST", "/v1/log/head".into(), String::new()),
        (
            "POST",
            format!("/v1/subjects/{CUSTOMER}/erasure"),
            String::new(),
        ),
    ];
    for (method, path, body) in &steps {
        let (s, b) = call(method, path, body);
        assert!(s != 0 && s < 500, "{method} {path}: {s} {b}");
    }
    // The request worker runs and the log is sealed while the server lives.
    std::thread::sleep(Duration::from_millis(2500));
    drop(server);
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(log.len() > 200, "the server logged at debug: {log}");
    for value in personal {
        assert!(
            !log.contains(value),
            "`{value}` appears in the log output:\n{}",
            log.lines()
                .filter(|l| l.contains(value))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

// Encryption at rest (issue 10): what the server stores of a person is sealed in the database
// file; the master key rotates and the old one is retired, and the data still reads back.
#[test]
fn personal_attributes_are_sealed_and_the_master_key_rotates() {
    let dir = temp_dir("keys");
    let evidence = "signed form 4711 at the shop in Bonn";
    let email = "sealed.person@example.org";
    let server = start(&dir, "sqlite://tutela.db");
    let token = std::fs::read_to_string(dir.join("tutela.token"))
        .expect("token")
        .trim()
        .to_owned();
    let body = format!(r#"{{"relationship":"customer","email":"{email}"}}"#);
    let (s, b) = http(server.port, "PUT", "/v1/subjects/k-1", &token, &body);
    assert_eq!(s, 201, "{b}");
    let body = format!(
        r#"{{"purpose":"phone_marketing","channel":"phone","granted":true,"source":"shop","evidence":"{evidence}"}}"#
    );
    let (s, b) = http(
        server.port,
        "POST",
        "/v1/subjects/k-1/consents",
        &token,
        &body,
    );
    assert_eq!(s, 201, "{b}");
    drop(server);

    let data: Vec<u8> = ["tutela.db", "tutela.db-wal"]
        .iter()
        .filter_map(|f| std::fs::read(dir.join(f)).ok())
        .flatten()
        .collect();
    for plain in [evidence, email] {
        assert!(
            !data.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "{plain:?} is in the database file in plaintext"
        );
    }
    assert!(dir.join("tutela-master.key").exists());
    assert!(dir.join("tutela-keys.db").exists());

    let status = text(&tutela_in(&dir, &["keys", "status"]));
    let old = status
        .lines()
        .find_map(|l| l.strip_prefix("master key ")?.strip_suffix(" (active)"))
        .expect("an active key")
        .to_owned();
    assert!(
        status.contains(&format!("1 data keys wrapped under {old}")),
        "{status}"
    );
    let out = tutela_in(&dir, &["keys", "rotate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("1 data keys wrapped with it"),
        "{}",
        text(&out)
    );
    let refused = tutela_in(&dir, &["keys", "retire", "mk-unknown"]);
    assert!(!refused.status.success());
    let out = tutela_in(&dir, &["keys", "retire", &old]);
    assert!(out.status.success(), "{}", text(&out));
    let status = text(&tutela_in(&dir, &["keys", "status"]));
    assert!(!status.contains(&old), "{status}");

    let server = start(&dir, "sqlite://tutela.db");
    let (s, b) = http(server.port, "GET", "/v1/subjects/k-1/consents", &token, "");
    assert_eq!(s, 200, "{b}");
    assert!(
        b.contains(evidence),
        "the evidence reads back after the rotation: {b}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

mod checkout;
mod cluster;
mod datasets;
mod events;
mod fuzz_replay;
mod gate;
mod gate_cluster;
mod operators;
mod pseudonymise;
mod quick_signin;
mod retention;
mod startup;
mod stats;
