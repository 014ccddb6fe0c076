//! The checkout stands alone (issue 33): no file names a path outside it, and every file a
//! Rust source includes is inside it, so a clone anywhere builds and passes its tests. Test
//! data is in `data/` (German Credit, the notice's clause index); the Fides harness of the
//! request benchmark is named by `FIDES_DIR`, which `bench/dsr/*.sh` require.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::root;

/// The directory beside the checkout that test data used to come from; split in two so that
/// this file does not name it.
const OUTSIDE: &str = concat!("..", "/shared");

/// Markdown files whose prose may say where a figure's baseline was measured: a record of a
/// past run, not a path anything reads. Their commands (fenced code blocks) are checked.
const PROSE_MAY_NAME_IT: &[&str] = &["BENCHMARKS.md"];

/// The files of the checkout: tracked and new ones as git lists them (ignored ones left out),
/// or, where there is no git repository (a source archive), every file outside build output.
fn files(root: &Path) -> Vec<PathBuf> {
    let git = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output();
    if let Ok(out) = git
        && out.status.success()
    {
        return out
            .stdout
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
            .collect();
    }
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a directory") {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if path.is_dir() {
                if ![".git", "target", "node_modules", "artifacts"].contains(&name.as_ref()) {
                    dirs.push(path);
                }
            } else {
                found.push(path);
            }
        }
    }
    found
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn no_file_names_a_path_outside_the_checkout() {
    let root = root().canonicalize().expect("the checkout");
    let mut named = Vec::new();
    for path in files(&root) {
        // A tracked file deleted in the work tree, or one that is not text: nothing to check.
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let rel = relative(&root, &path);
        let prose_allowed = PROSE_MAY_NAME_IT.contains(&rel.as_str());
        let mut in_code = false;
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
            }
            if line.contains(OUTSIDE) && (in_code || !prose_allowed) {
                named.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        named.is_empty(),
        "paths outside the checkout (test data belongs in data/, the Fides harness in \
         $FIDES_DIR):\n{}",
        named.join("\n")
    );
}

#[test]
fn every_included_file_is_inside_the_checkout() {
    let root = root().canonicalize().expect("the checkout");
    let mut outside = Vec::new();
    let mut checked = 0;
    for path in files(&root) {
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let dir = path.parent().expect("a file's directory");
        for marker in ["include_str!(\"", "include_bytes!(\""] {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                let Some(end) = rest.find('"') else {
                    continue;
                };
                let included = dir.join(&rest[..end]);
                checked += 1;
                match included.canonicalize() {
                    Ok(p) if p.starts_with(&root) => {}
                    _ => outside.push(format!("{}: {}", relative(&root, &path), &rest[..end])),
                }
            }
        }
    }
    assert!(checked > 0, "no include_str! found: is this the checkout?");
    assert!(
        outside.is_empty(),
        "included files missing or outside the checkout:\n{}",
        outside.join("\n")
    );
}
