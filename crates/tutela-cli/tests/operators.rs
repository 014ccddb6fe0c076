//! `tutela operators`: offboarding a leaver from the command line (issue 32). Disable, enable,
//! reset the second factor and remove by name; the last active DPO stays; refusals are said
//! in German and English and exit non-zero.

use std::process::Command;

use super::{BIN, temp_dir, text};

fn operators(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("operators")
        .args(args)
        .current_dir(dir)
        .env("TUTELA_OPERATOR_PASSWORD", "correct horse battery")
        .env_remove("TUTELA_DATABASE_URL")
        .env_remove("TUTELA_CONFIG")
        .env_remove("TUTELA_MASTER_KEYS")
        .output()
        .expect("run tutela")
}

fn line_of(list: &str, name: &str) -> String {
    list.lines()
        .find(|l| l.starts_with(&format!("{name}\t")))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_leaver_is_offboarded_from_the_command_line() {
    let dir = temp_dir("operators-offboarding");
    // Nothing to offboard without a database: refused, nothing created.
    let out = operators(&dir, &["disable", "erika"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("no database at"), "{}", text(&out));
    for (name, role) in [("dora", "dpo"), ("erika", "agent")] {
        let out = operators(&dir, &["add", name, "--role", role]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = operators(&dir, &["disable", "erika"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("erika is disabled"), "{}", text(&out));
    assert!(text(&out).contains("erika ist gesperrt"), "{}", text(&out));
    let list = text(&operators(&dir, &["list"]));
    assert!(line_of(&list, "erika").contains("\tdisabled\t"), "{list}");
    let out = operators(&dir, &["enable", "erika"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = operators(&dir, &["reset-totp", "erika"]);
    assert!(out.status.success(), "{}", text(&out));
    let list = text(&operators(&dir, &["list"]));
    assert!(
        line_of(&list, "erika").contains("active (second factor reset)"),
        "{list}"
    );
    // The last active DPO stays, in both languages, with a non-zero exit.
    for action in ["disable", "remove"] {
        let out = operators(&dir, &[action, "dora"]);
        assert!(!out.status.success(), "{action}: {}", text(&out));
        assert!(text(&out).contains("last active data protection officer"));
        assert!(text(&out).contains("letzte aktive Person"));
    }
    let out = operators(&dir, &["remove", "erika"]);
    assert!(out.status.success(), "{}", text(&out));
    let list = text(&operators(&dir, &["list"]));
    assert!(
        line_of(&list, "erika").contains("\tremoved\t"),
        "the name stays: {list}"
    );
    let out = operators(&dir, &["enable", "erika"]);
    assert!(!out.status.success(), "a removed account stays removed");
    let out = operators(&dir, &["add", "erika", "--role", "agent"]);
    assert!(!out.status.success(), "the name is not given out again");
    let out = operators(&dir, &["disable", "nobody"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no such account"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(dir);
}
