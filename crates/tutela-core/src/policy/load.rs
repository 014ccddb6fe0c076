//! Loading a policy and the modules it includes, through a loader the caller provides, so that
//! the core itself never touches the file system.

use std::collections::HashMap;

use super::Policy;
use super::error::{PolicyError, PolicyErrors, line_column};
use super::raw::RawPolicy;
use super::source::{ParsedFile, Source};
use super::validate::validate;

/// Provides the text of policy files. `from` is the name of the including file, if any.
pub trait SourceLoader {
    fn load(&self, from: Option<&str>, path: &str) -> Result<Source, String>;
}

/// A loader over files held in memory, keyed by name; paths are used as given.
#[derive(Debug, Default, Clone)]
pub struct MemoryLoader {
    files: HashMap<String, String>,
}

impl MemoryLoader {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with(mut self, name: &str, text: &str) -> Self {
        self.files.insert(name.to_owned(), text.to_owned());
        self
    }
}

impl SourceLoader for MemoryLoader {
    fn load(&self, _from: Option<&str>, path: &str) -> Result<Source, String> {
        self.files
            .get(path)
            .map(|text| Source {
                name: path.to_owned(),
                text: text.clone(),
            })
            .ok_or_else(|| format!("no policy file named `{path}`"))
    }
}

/// Loads `path` and everything it includes, then validates the whole into a [`Policy`].
pub fn load_policy(loader: &dyn SourceLoader, path: &str) -> Result<Policy, PolicyErrors> {
    let root = loader.load(None, path).map_err(|message| {
        PolicyErrors(vec![PolicyError {
            file: path.to_owned(),
            line: 1,
            column: 1,
            message,
            help: "check the path of the policy file".into(),
        }])
    })?;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut stack = Vec::new();
    collect(loader, root, &mut stack, &mut files, &mut errors);
    if !errors.is_empty() {
        return Err(PolicyErrors(errors));
    }
    validate(files)
}

fn collect(
    loader: &dyn SourceLoader,
    source: Source,
    stack: &mut Vec<String>,
    files: &mut Vec<ParsedFile>,
    errors: &mut Vec<PolicyError>,
) {
    let raw: RawPolicy = match toml::from_str(&source.text) {
        Ok(raw) => raw,
        Err(e) => {
            let (line, column) = line_column(&source.text, e.span().map_or(0, |s| s.start));
            errors.push(PolicyError {
                file: source.name.clone(),
                line,
                column,
                message: e.message().trim().to_owned(),
                help: "see docs/policy.md for the policy language".into(),
            });
            return;
        }
    };
    let includes: Vec<_> = raw
        .policy
        .as_ref()
        .map(|h| h.include.clone())
        .unwrap_or_default();
    stack.push(source.name.clone());
    let index = files.len();
    files.push(ParsedFile { source, raw });
    for include in includes {
        let here = &files[index];
        match loader.load(Some(&here.source.name), include.get_ref()) {
            Ok(child) => {
                if stack.contains(&child.name) {
                    let mut cycle = stack.clone();
                    cycle.push(child.name.clone());
                    errors.push(here.error(
                        include.span(),
                        format!("include cycle: {}", cycle.join(" -> ")),
                        "a module may include the files below it, never one that includes it",
                    ));
                } else if files.iter().any(|f| f.source.name == child.name) {
                    // Included twice along different paths: load it once.
                } else {
                    collect(loader, child, stack, files, errors);
                }
            }
            Err(message) => {
                let e = here.error(include.span(), message, "check the path in `include`");
                errors.push(e);
            }
        }
    }
    stack.pop();
}

/// One file a loader handed out: which file asked for which path, and what came back. A list
/// of these replays a policy exactly, includes and all, without the files it came from (a
/// version activated from one machine and loaded on another, or after the files changed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordedSource {
    pub from: Option<String>,
    pub path: String,
    pub name: String,
    pub text: String,
}

/// Wraps a loader and keeps what it loaded.
pub struct RecordingLoader<'l> {
    inner: &'l dyn SourceLoader,
    seen: std::cell::RefCell<Vec<RecordedSource>>,
}

impl<'l> RecordingLoader<'l> {
    pub fn new(inner: &'l dyn SourceLoader) -> Self {
        RecordingLoader {
            inner,
            seen: std::cell::RefCell::default(),
        }
    }

    /// Everything loaded, in load order.
    pub fn into_recorded(self) -> Vec<RecordedSource> {
        self.seen.into_inner()
    }
}

impl SourceLoader for RecordingLoader<'_> {
    fn load(&self, from: Option<&str>, path: &str) -> Result<Source, String> {
        let source = self.inner.load(from, path)?;
        self.seen.borrow_mut().push(RecordedSource {
            from: from.map(str::to_owned),
            path: path.to_owned(),
            name: source.name.clone(),
            text: source.text.clone(),
        });
        Ok(source)
    }
}

/// Loads a policy again from what a [`RecordingLoader`] kept.
pub struct ReplayLoader(pub Vec<RecordedSource>);

impl SourceLoader for ReplayLoader {
    fn load(&self, from: Option<&str>, path: &str) -> Result<Source, String> {
        self.0
            .iter()
            .find(|s| s.from.as_deref() == from && s.path == path)
            .map(|s| Source {
                name: s.name.clone(),
                text: s.text.clone(),
            })
            .ok_or_else(|| format!("`{path}` is not among the recorded policy files"))
    }
}

#[cfg(test)]
mod replay_tests {
    use super::*;

    #[test]
    fn a_replayed_policy_is_the_same_version() {
        let reference = include_str!("../../../../policies/reference.toml");
        let files = MemoryLoader::new().with("reference.toml", reference);
        let recording = RecordingLoader::new(&files);
        let first = load_policy(&recording, "reference.toml").expect("loads");
        let recorded = recording.into_recorded();
        assert_eq!(recorded.len(), 1);
        let again = load_policy(&ReplayLoader(recorded), "reference.toml").expect("replays");
        assert_eq!(first.hash, again.hash);
        assert!(load_policy(&ReplayLoader(vec![]), "reference.toml").is_err());
    }
}
