//! Issue 31, "start safely": every configuration error of `tutela serve` is reported before a
//! file is created or the socket bound, naming the setting and, in a file, line and column; a
//! PostgreSQL store needs its own key store; `tutela policy activate` refuses at once what
//! every server would refuse.

use std::path::Path;
use std::process::Command;

use super::{BIN, free_port, root, temp_dir, text, tutela_in};

/// `tutela serve` in a fresh directory holding only `files`, on a port the test holds.
/// Returns its output; asserts it failed and left the directory as it was.
fn serve_refused(name: &str, files: &[(&str, &str)], extra: &[&str]) -> String {
    let dir = temp_dir(name);
    for (file, content) in files {
        std::fs::write(dir.join(file), content).expect("write");
    }
    let before = listing(&dir);
    // Held by the test: a server that binds before checking its configuration fails with
    // "binding …" instead of naming the setting.
    let port = free_port();
    let held = std::net::TcpListener::bind(("127.0.0.1", port)).expect("hold the port");
    let mut args = vec!["--config", "tutela.toml", "serve", "--listen"];
    let listen = format!("127.0.0.1:{port}");
    args.push(&listen);
    args.extend_from_slice(extra);
    let out = Command::new(BIN)
        .args(&args)
        .current_dir(&dir)
        .env_remove("TUTELA_API_TOKEN")
        .env_remove("TUTELA_LOG_KEY")
        .env_remove("TUTELA_DATABASE_URL")
        .env_remove("TUTELA_MASTER_KEYS")
        .env_remove("TUTELA_HMAC_KEY")
        .env_remove("TUTELA_PSEUDONYMISATION_KEYS")
        .output()
        .expect("run tutela serve");
    drop(held);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(!t.contains("binding"), "the socket came first: {t}");
    assert!(!t.contains("is serving"), "{t}");
    assert_eq!(
        listing(&dir),
        before,
        "nothing is created (database, key files, token, outbox): {t}"
    );
    let _ = std::fs::remove_dir_all(dir);
    t
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// covers: N33
#[test]
fn serve_reports_each_configuration_error_before_creating_a_file_or_binding() {
    // The time zone, with the place of the setting in the file.
    let t = serve_refused(
        "start-tz",
        &[(
            "tutela.toml",
            "# deadlines end in the controller's time zone\ntime_zone = \"Mars/Olympus_Mons\"\n",
        )],
        &[],
    );
    assert!(
        t.contains("tutela.toml:2:13: time_zone") && t.contains("Mars/Olympus_Mons"),
        "{t}"
    );
    // The risk model.
    let t = serve_refused(
        "start-risk",
        &[("tutela.toml", "risk_model = \"nowhere/card.json\"\n")],
        &[],
    );
    assert!(
        t.contains("tutela.toml:1:14: risk_model") && t.contains("nowhere/card.json"),
        "{t}"
    );
    // A dataset map that is not TOML: its own file, line and column.
    let t = serve_refused(
        "start-map",
        &[
            (
                "tutela.toml",
                "[[dataset]]\nmap = \"crm.toml\"\nurl = \"sqlite://crm.db\"\n",
            ),
            ("crm.toml", "[dataset]\nid = \"crm\"\nconnector = \n"),
        ],
        &[],
    );
    assert!(
        t.contains("tutela.toml:2:7: dataset.0.map") && t.contains("crm.toml:3:"),
        "{t}"
    );
    // A map whose table and field a person would read by their database names (issue 32):
    // each named with the map's file, line and column.
    let t = serve_refused(
        "start-map-unlabelled",
        &[
            (
                "tutela.toml",
                "[[dataset]]\nmap = \"crm.toml\"\nurl = \"sqlite://crm.db\"\n",
            ),
            (
                "crm.toml",
                "[dataset]\nid = \"crm\"\nconnector = \"sqlite\"\nurl = \"sqlite://crm.db\"\n\
                 person_table = \"people\"\n[[table]]\nname = \"people\"\n[[table.field]]\nname = \"email\"\ncategory = \"contact\"\n",
            ),
        ],
        &[],
    );
    assert!(
        t.contains("tutela.toml:2:7: dataset.0.map")
            && t.contains("crm.toml:7:8: error: table `people` has no `label`")
            && t.contains("crm.toml:9:8: error: field `people.email` has no `label`"),
        "{t}"
    );
    // A map that is missing.
    let t = serve_refused(
        "start-map-missing",
        &[("tutela.toml", "[[dataset]]\nmap = \"gone.toml\"\n")],
        &[],
    );
    assert!(
        t.contains("dataset.0.map") && t.contains("gone.toml"),
        "{t}"
    );
    // A recipient the policy does not know.
    let t = serve_refused(
        "start-notify",
        &[(
            "tutela.toml",
            "[[notify]]\nrecipient = \"nobody_we_know\"\nurl = \"http://127.0.0.1:9/hook\"\n",
        )],
        &[],
    );
    assert!(
        t.contains("tutela.toml:2:13: notify.0.recipient") && t.contains("nobody_we_know"),
        "{t}"
    );
    // [web] and the file itself: an unknown setting, a value that is not TOML.
    let t = serve_refused(
        "start-web",
        &[(
            "tutela.toml",
            "[web]\ntrusted_proxies = [\"not-an-address\"]\n",
        )],
        &[],
    );
    assert!(t.contains("web.trusted_proxies"), "{t}");
    let t = serve_refused(
        "start-unknown",
        &[(
            "tutela.toml",
            "listen = \"127.0.0.1:8080\"\ntime_zon = \"UTC\"\n",
        )],
        &[],
    );
    assert!(
        t.contains("tutela.toml:2:1:") && t.contains("time_zon"),
        "{t}"
    );
    let t = serve_refused("start-syntax", &[("tutela.toml", "time_zone = \n")], &[]);
    assert!(t.contains("tutela.toml:1:"), "{t}");
    // [smtp] with a security the mailer does not know.
    let t = serve_refused(
        "start-smtp",
        &[(
            "tutela.toml",
            "[smtp]\nhost = \"mail.example.org\"\nsecurity = \"maybe\"\nfrom = \"privacy@example.org\"\n",
        )],
        &[],
    );
    assert!(
        t.contains("tutela.toml:3:12: smtp.security") && t.contains("maybe"),
        "{t}"
    );
    // Several mistakes: all of them at once, each with its place, not only the first.
    let t = serve_refused(
        "start-several",
        &[(
            "tutela.toml",
            "time_zone = \"Mars/Olympus_Mons\"\nrisk_model = \"nowhere/card.json\"\n[smtp]\nhost = \"mail.example.org\"\nsecurity = \"maybe\"\nfrom = \"privacy@example.org\"\n[[notify]]\nrecipient = \"nobody_we_know\"\nurl = \"ftp://x\"\n",
        )],
        &[],
    );
    assert!(t.contains("5 mistakes in the configuration"), "{t}");
    for place in [
        "tutela.toml:1:13: time_zone",
        "tutela.toml:2:14: risk_model",
        "tutela.toml:5:12: smtp.security",
        "tutela.toml:8:13: notify.0.recipient",
        "tutela.toml:9:7: notify.0.url",
    ] {
        assert!(t.contains(place), "{place} in {t}");
    }
}

// A PostgreSQL store kept its per-person keys in a local SQLite file of each instance.
// covers: N9c
#[test]
fn serve_on_postgres_without_a_key_store_is_refused_with_the_setting() {
    let t = serve_refused(
        "start-pg-keystore",
        &[("tutela.toml", "time_zone = \"Europe/Berlin\"\n")],
        &["--database", "postgres://postgres@127.0.0.1:5432/test"],
    );
    assert!(t.contains("keystore") && t.contains("key store"), "{t}");
    // The same for the commands that open the keys.
    let dir = temp_dir("start-pg-keys-cmd");
    let out = tutela_in(
        &dir,
        &[
            "keys",
            "status",
            "--database",
            "postgres://postgres@127.0.0.1:5432/test",
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("keystore"), "{}", text(&out));
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
    let _ = std::fs::remove_dir_all(dir);
}

/// The reference policy as notice version 2026-07 with phone marketing widened to contract
/// data, with or without the renewal rule the servers require.
fn widened(renewal: bool) -> String {
    let reference =
        std::fs::read_to_string(root().join("policies/reference.toml")).expect("reference");
    let text = reference
        .replacen("version = \"2026-01\"", "version = \"2026-07\"", 1)
        .replacen(
            "categories = [\"identity\", \"contact\"]\nchannels = [\"phone\"]",
            "categories = [\"identity\", \"contact\", \"contract\"]\nchannels = [\"phone\"]",
            1,
        );
    let anchor = "consent_evidence_kept = \"P5Y\"\nnotice_ref = [\"N18\"]\n";
    assert!(
        text.contains(anchor) && text.contains("\"contract\"]\nchannels = [\"phone\"]"),
        "the reference policy changed; update the test"
    );
    let rule = if renewal {
        "[purpose.renewal]\nsince = \"2026-07\"\nuntil_renewed = \"suspend\"\n"
    } else {
        ""
    };
    text.replacen(anchor, &format!("{anchor}{rule}"), 1)
}

// `policy activate` printed "scheduled" for a version every server then refused.
// covers: N33
#[test]
fn policy_activate_refuses_at_once_what_every_server_would_refuse() {
    let dir = temp_dir("activate-refused");
    std::fs::write(dir.join("widened.toml"), widened(false)).expect("write");
    std::fs::write(dir.join("renewed.toml"), widened(true)).expect("write");
    let db = ["--database", "sqlite://tutela.db"];
    let activate = |file: &str| {
        let mut args = vec!["policy", "activate", file];
        args.extend_from_slice(&db);
        tutela_in(&dir, &args)
    };
    let migrated = tutela_in(&dir, &["migrate", "--database", "sqlite://tutela.db"]);
    assert!(migrated.status.success(), "{}", text(&migrated));
    // No version activated yet: the servers run the reference policy and compare with it.
    let out = activate("widened.toml");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("phone_marketing") && t.contains("renewal"),
        "{t}"
    );
    assert!(!t.contains("scheduled"), "{t}");
    let mut args = vec!["policy", "activations"];
    args.extend_from_slice(&db);
    let list = tutela_in(&dir, &args);
    assert!(list.status.success(), "{}", text(&list));
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains("act_"),
        "nothing stored: {}",
        text(&list)
    );
    // With its renewal rule it is scheduled.
    let out = activate("renewed.toml");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("scheduled"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(dir);
}

// Issue 31: read-only commands created `tutela.db` and key files where there was none, and
// reported on an empty database. Now they refuse and leave the directory as it was.
#[test]
fn read_only_commands_refuse_a_missing_database_and_create_nothing() {
    let dir = temp_dir("read-only-commands");
    for args in [
        &["log", "verify"][..],
        &["operators", "list"],
        &["keys", "status"],
        &["policy", "activations"],
        &["retention", "holds"],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .current_dir(&dir)
            .env_remove("TUTELA_DATABASE_URL")
            .env_remove("TUTELA_CONFIG")
            .env_remove("TUTELA_MASTER_KEYS")
            .output()
            .expect("run tutela");
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("no database at"),
            "{args:?}: {}",
            text(&out)
        );
        assert_eq!(
            listing(&dir),
            Vec::<String>::new(),
            "{args:?} created files"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
