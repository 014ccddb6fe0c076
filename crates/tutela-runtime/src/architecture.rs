//! The invariants of ARCHITECTURE.md that a test can check, stated as absences: the runtime
//! depends on no HTTP server, template engine or OpenAPI crate; the core reads no clock and does
//! no IO; no handler or page of the server writes to a store directly.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Crates of the HTTP edge that the runtime must never reach, directly or through another crate.
const EDGE_CRATES: &[&str] = &["axum", "axum-core", "askama", "utoipa", "tower-http"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every package the runtime's normal (not dev, not build) dependencies reach.
fn runtime_dependencies() -> BTreeSet<String> {
    let out = std::process::Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON");
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .expect("resolve")
        .iter()
        .map(|n| (n["id"].as_str().unwrap_or(""), n))
        .collect();
    let start = names
        .iter()
        .find(|(_, name)| **name == "tutela-runtime")
        .map(|(id, _)| *id)
        .expect("tutela-runtime is a workspace member");
    let mut seen = BTreeSet::new();
    let mut todo = vec![start];
    while let Some(id) = todo.pop() {
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            let pkg = dep["pkg"].as_str().unwrap_or("");
            if normal && seen.insert(names[pkg].to_owned()) {
                todo.push(pkg);
            }
        }
    }
    seen
}

#[test]
fn the_runtime_depends_on_no_http_server_templates_or_openapi() {
    let deps = runtime_dependencies();
    assert!(
        deps.contains("tutela-core") && deps.contains("tokio"),
        "{deps:?}"
    );
    let edge: Vec<_> = EDGE_CRATES.iter().filter(|c| deps.contains(**c)).collect();
    assert!(edge.is_empty(), "the runtime reaches {edge:?}");
}

/// The `.rs` files under `dir`, with their text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("source directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source file");
                out.push((path, text));
            }
        }
    }
    assert!(!out.is_empty(), "no sources under {}", dir.display());
    out
}

/// The lines of `files` that contain any of `needles`, outside comments.
fn lines_with(files: &[(PathBuf, String)], needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files {
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if needles.iter().any(|n| code.contains(n)) {
                found.push(format!("{}:{}: {}", path.display(), i + 1, code));
            }
        }
    }
    found
}

#[test]
fn the_core_reads_no_clock_and_does_no_io() {
    let core = sources(&workspace().join("crates/tutela-core/src"));
    let found = lines_with(
        &core,
        &[
            "::now()",
            "std::fs",
            "std::net",
            "std::env::var",
            "std::process",
            "tokio",
            "rand::",
            "getrandom",
        ],
    );
    assert!(
        found.is_empty(),
        "the core reads a clock or does IO:\n{}",
        found.join("\n")
    );
}

/// The store's methods that write. A route or a page calls the runtime for these (the engine's
/// writer, the request service, `records.rs`), never the store.
const STORE_WRITES: &[&str] = &[
    "advance_totp_step",
    "append",
    "append_leaves",
    "approve_sweep",
    "archive_policy",
    "change_operator",
    "claim_signin_mails",
    "claim_sweep",
    "count_code_attempt",
    "count_hit",
    "count_signin_attempt",
    "dataset_swept",
    "decide_activation",
    "delete_code",
    "delete_session",
    "delete_signin",
    "enrol_totp",
    "erase",
    "expire_summaries",
    "finish_sweep",
    "insert_activation",
    "insert_disclosure",
    "insert_event",
    "insert_head",
    "insert_operator",
    "insert_request",
    "insert_risk_check",
    "insert_risk_checks",
    "insert_session",
    "insert_summary",
    "lift_disclosure_bar",
    "lift_hold",
    "migrate",
    "open_sweep",
    "place_hold",
    "purge_requests",
    "purge_risk_checks",
    "purge_web",
    "put_code",
    "put_result",
    "put_results",
    "put_signin",
    "put_step",
    "put_steps",
    "record_report_download",
    "record_reversal",
    "register_dataset",
    "release_lease",
    "review_risk_check",
    "review_summary",
    "save_snapshot",
    "save_sweep",
    "signin_mail_later",
    "signin_mail_sent",
    "spend_budget",
    "take_lease",
    "update_request",
    "update_request_with_steps",
    "write_steps",
];

/// Calls of a store's writing method in `text`: `store.name(`, `store().name(` or
/// `XStore::name(`, across line breaks.
fn store_writes_in(text: &str) -> Vec<&'static str> {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join("");
    STORE_WRITES
        .iter()
        .filter(|m| {
            [".store.", ".store().", "store.", "Store::"]
                .iter()
                .any(|recv| flat.contains(&format!("{recv}{m}(")))
        })
        .copied()
        .collect()
}

#[test]
fn no_route_or_page_writes_to_a_store_directly() {
    let server = sources(&workspace().join("crates/tutela-server/src"));
    let found: Vec<String> = server
        .iter()
        .flat_map(|(path, text)| {
            store_writes_in(text)
                .into_iter()
                .map(move |m| format!("{}: {m}", path.display()))
        })
        .collect();
    assert!(
        found.is_empty(),
        "the server writes to a store directly:\n{}",
        found.join("\n")
    );
    // The check finds what it looks for.
    assert_eq!(
        store_writes_in("state\n    .engine\n    .store\n    .lift_hold(&id, by, at)"),
        ["lift_hold"]
    );
    assert!(store_writes_in("state.engine.store.holds(true)").is_empty());
}
