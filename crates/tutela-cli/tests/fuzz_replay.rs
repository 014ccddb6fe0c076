//! The fuzz targets' inputs in every test run (issue 33): each file under
//! `fuzz/corpus/<target>/` (the committed seeds, and inputs fuzzing once crashed on) goes
//! through the code its target in `fuzz/fuzz_targets/` drives, with that target's own checks,
//! and none may panic. Fuzzing itself needs the nightly toolchain and a long build, so it is
//! opt-in (`FUZZ=1 .ci/run`, `scripts/fuzz`; docs/fuzzing.md); this replay keeps what it found
//! covered on stable, in seconds.
//!
//! The bodies are the targets' own (`fuzz/checks/<target>.rs`, which each target includes): one
//! copy, so the replay and the fuzzing cannot drift apart. A target without a replay here, or a
//! corpus without a target, fails the test.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use super::root;

#[path = "../../../fuzz/checks/csv.rs"]
mod csv;
#[path = "../../../fuzz/checks/datamap.rs"]
mod datamap;
#[path = "../../../fuzz/checks/decision_json.rs"]
mod decision_json;
#[path = "../../../fuzz/checks/gate.rs"]
mod gate;
#[path = "../../../fuzz/checks/maildir.rs"]
mod maildir;
#[path = "../../../fuzz/checks/model.rs"]
mod model;
#[path = "../../../fuzz/checks/policy.rs"]
mod policy;
#[path = "../../../fuzz/checks/pseudonymise.rs"]
mod pseudonymise;
#[path = "../../../fuzz/checks/redact.rs"]
mod redact;
#[path = "../../../fuzz/checks/request_json.rs"]
mod request_json;
#[path = "../../../fuzz/checks/tcf.rs"]
mod tcf;

/// The body of a fuzz target, run on one input.
type Body = fn(&[u8]);

/// Each target by name, with its body.
const TARGETS: &[(&str, Body)] = &[
    ("csv", csv::check),
    ("datamap", datamap::check),
    ("decision_json", decision_json::check),
    ("gate", gate::check),
    ("maildir", maildir::check),
    ("model", model::check),
    ("policy", policy::check),
    ("pseudonymise", pseudonymise::check),
    ("redact", redact::check),
    ("request_json", request_json::check),
    ("tcf", tcf::check),
];

fn corpus(target: &str) -> PathBuf {
    root().join("fuzz/corpus").join(target)
}

#[test]
fn every_fuzz_target_has_a_replay_and_a_corpus() {
    let manifest =
        std::fs::read_to_string(root().join("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    let manifest: toml::Table = manifest.parse().expect("fuzz/Cargo.toml is TOML");
    let declared: BTreeSet<String> = manifest["bin"]
        .as_array()
        .expect("[[bin]] tables")
        .iter()
        .map(|b| b["name"].as_str().expect("a bin's name").to_owned())
        .collect();
    let corpora: BTreeSet<String> = std::fs::read_dir(root().join("fuzz/corpus"))
        .expect("fuzz/corpus")
        .map(|e| e.expect("entry"))
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let replayed: BTreeSet<String> = TARGETS.iter().map(|(t, _)| (*t).to_owned()).collect();
    assert_eq!(
        replayed, declared,
        "fuzz/Cargo.toml's targets and this replay's"
    );
    assert_eq!(
        corpora, declared,
        "fuzz/corpus's directories and the targets"
    );
}

#[test]
fn every_fuzz_corpus_input_replays_without_a_panic() {
    let mut replayed = 0;
    let mut failed = Vec::new();
    for (target, run) in TARGETS {
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(corpus(target))
            .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_file())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "fuzz/corpus/{target} has no input");
        for input in inputs {
            let data = std::fs::read(&input).expect("read an input");
            // The panic's message is printed by the hook; the test names the file.
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                failed.push(input.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(failed.is_empty(), "panicked on {failed:#?}");
    assert!(replayed >= TARGETS.len());
}
