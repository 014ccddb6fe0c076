//! No two source files of a crate depend on each other, directly or around a loop: a cycle
//! between files means neither can be read, changed or moved without the other, and it usually
//! hides an item that lives in the wrong file (issue 33).
//!
//! The rule this test checks, for every crate under `crates/`:
//!
//! - Each `.rs` file under `src/` is one module: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`,
//!   `lib.rs` and `main.rs` are the crate root. Files declared under `#[cfg(test)]` (and files
//!   with `#![cfg(test)]`) are left out, and so is every `#[cfg(test)]` item inside a file.
//! - File A depends on file B when A names an item that B defines: through a `crate::`,
//!   `super::` or `self::` path in a `use` (grouped trees included) or in an expression or type,
//!   or through a `use` of one of its own submodules. A path resolves to the longest prefix that
//!   is a file; if the next segment is a name that file only imports (`use`, `pub use`, a glob),
//!   the import is followed to the file that defines the item, so a re-export neither hides nor
//!   invents a dependency. Comments and string literals are not read.
//! - Edges between a module file and the files below it (its descendants) do not count: a
//!   module declares, re-exports and drives its submodules, and they use what it shares. So the
//!   crate root depends on nothing and nothing depends on it. Every other pair — siblings,
//!   cousins — counts.
//! - The files must form no strongly connected component of two or more files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles that are known and kept for now, each as the sorted list of its files (relative to
/// the workspace); any other cycle, or a known one that grows, fails. Empty: none is kept.
const ALLOWED: &[&[&str]] = &[];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Colons,
    Punct(char),
}

impl Tok {
    fn is_ident(&self, name: &str) -> bool {
        matches!(self, Tok::Ident(s) if s == name)
    }

    fn ident(&self) -> Option<&str> {
        match self {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }
}

/// The tokens of Rust source that matter for paths: identifiers, `::` and single punctuation.
/// Comments, string, char and number literals and lifetimes are dropped.
fn lex(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            i = skip_block_comment(&c, i);
        } else if ch == '"' {
            i = skip_string(&c, i + 1);
        } else if ch == '\'' {
            i = skip_quote(&c, i);
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let raw_prefix = matches!(word.as_str(), "r" | "br" | "cr");
            if raw_prefix && (c.get(i) == Some(&'"') || c.get(i) == Some(&'#')) {
                let mut hashes = 0;
                while c.get(i + hashes) == Some(&'#') {
                    hashes += 1;
                }
                if c.get(i + hashes) == Some(&'"') {
                    i = skip_raw_string(&c, i + hashes + 1, hashes);
                    continue;
                }
                if word == "r" && hashes == 1 {
                    // A raw identifier, `r#type`: the identifier follows.
                    i += 1;
                    continue;
                }
            }
            if matches!(word.as_str(), "b" | "c") && c.get(i) == Some(&'"') {
                i = skip_string(&c, i + 1);
                continue;
            }
            if word == "b" && c.get(i) == Some(&'\'') {
                i = skip_quote(&c, i);
                continue;
            }
            out.push(Tok::Ident(word));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Tok::Colons);
            i += 2;
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    out
}

fn skip_block_comment(c: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < c.len() {
        if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// Past the closing quote of a string whose body starts at `i`.
fn skip_string(c: &[char], mut i: usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn skip_raw_string(c: &[char], mut i: usize, hashes: usize) -> usize {
    while i < c.len() {
        if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// Past a char literal (`'a'`, `'\n'`, `'{'`) or a lifetime (`'a`) starting at the quote `i`.
fn skip_quote(c: &[char], i: usize) -> usize {
    if c.get(i + 1) == Some(&'\\') {
        // Past the escaped character, so that `'\''` ends at its last quote.
        let mut j = i + 3;
        while j < c.len() && c[j] != '\'' {
            j += 1;
        }
        return j + 1;
    }
    if c.get(i + 2) == Some(&'\'') {
        return i + 3;
    }
    let mut j = i + 1;
    while j < c.len() && (c[j].is_alphanumeric() || c[j] == '_') {
        j += 1;
    }
    j
}

/// The tokens without `#[cfg(test)]` items, and the names of submodule files declared under
/// `#[cfg(test)]`. `None` when the whole file is `#![cfg(test)]`.
fn strip_test_items(toks: &[Tok]) -> Option<(Vec<Tok>, Vec<String>)> {
    let mut out = Vec::new();
    let mut test_mods = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if let Some(after) = cfg_test_attribute(toks, i) {
            if toks[i + 1] == Tok::Punct('!') {
                return None;
            }
            let mut j = after;
            while toks.get(j) == Some(&Tok::Punct('#')) {
                j = skip_group(toks, j + 1);
            }
            if let Some(name) = declared_file_module(toks, j) {
                test_mods.push(name);
            }
            i = skip_item(toks, j);
        } else {
            out.push(toks[i].clone());
            i += 1;
        }
    }
    Some((out, test_mods))
}

/// Where the item after `#[cfg(test)]` (or `#![cfg(test)]`) at `i` starts.
fn cfg_test_attribute(toks: &[Tok], i: usize) -> Option<usize> {
    let bang = usize::from(toks.get(i + 1) == Some(&Tok::Punct('!')));
    let want = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    let at = |k: usize| toks.get(if k == 0 { i } else { i + k + bang });
    want.iter()
        .enumerate()
        .all(|(k, t)| at(k) == Some(t))
        .then_some(i + want.len() + bang)
}

/// `mod name;` (with any visibility) at `i`: the module's name.
fn declared_file_module(toks: &[Tok], mut i: usize) -> Option<String> {
    i = skip_visibility(toks, i);
    let name = toks.get(i + 1)?.ident()?;
    (toks[i].is_ident("mod") && toks.get(i + 2) == Some(&Tok::Punct(';'))).then(|| name.into())
}

fn skip_visibility(toks: &[Tok], mut i: usize) -> usize {
    if toks.get(i).is_some_and(|t| t.is_ident("pub")) {
        i += 1;
        if toks.get(i) == Some(&Tok::Punct('(')) {
            i = skip_group(toks, i);
        }
    }
    i
}

/// Past the bracketed group that opens at `i` (`(`, `[` or `{`).
fn skip_group(toks: &[Tok], mut i: usize) -> usize {
    let mut depth = 0i32;
    while i < toks.len() {
        match toks[i] {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// Past the item starting at `i`: up to its `;` or the end of its first top-level block.
fn skip_item(toks: &[Tok], i: usize) -> usize {
    let mut j = i;
    while j < toks.len() {
        match toks[j] {
            Tok::Punct(';') => return j + 1,
            Tok::Punct('(' | '[') => j = skip_group(toks, j),
            Tok::Punct('{') => {
                let end = skip_group(toks, j);
                let is_use = toks[skip_visibility(toks, i)].is_ident("use");
                return if !is_use {
                    end
                } else if toks.get(end) == Some(&Tok::Punct(';')) {
                    end + 1
                } else {
                    end
                };
            }
            _ => j += 1,
        }
    }
    j
}

/// One `use` of a file: the absolute path it names and what it binds.
#[derive(Debug)]
struct Import {
    target: Vec<String>,
    binding: Binding,
}

/// A source file seen as a module.
#[derive(Debug, Default)]
struct File {
    rel: String,
    module: Vec<String>,
    toks: Vec<Tok>,
    test_mods: Vec<String>,
    /// Names of items the file defines (functions, types, constants, inline modules, macros).
    defines: BTreeSet<String>,
    imports: Vec<Import>,
    /// Absolute paths the file names, each with its text for the report.
    refs: Vec<(Vec<String>, String)>,
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut segs: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = segs.pop().expect("a file name");
    match last.as_str() {
        "mod.rs" => {}
        "lib.rs" | "main.rs" if segs.is_empty() => {}
        _ => segs.push(last.trim_end_matches(".rs").to_owned()),
    }
    segs
}

/// The files of one crate, with `#[cfg(test)]` files and items removed.
fn crate_files(workspace: &Path, krate: &Path) -> Vec<File> {
    let src = krate.join("src");
    let mut paths = Vec::new();
    rs_files(&src, &mut paths);
    paths.sort();
    let mut files: Vec<File> = paths
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).expect("readable source");
            let (toks, test_mods) = strip_test_items(&lex(&text))?;
            Some(File {
                rel: p
                    .strip_prefix(workspace)
                    .unwrap_or(p)
                    .to_string_lossy()
                    .into_owned(),
                module: module_of(&src, p),
                toks,
                test_mods,
                ..File::default()
            })
        })
        .collect();
    let test_modules: BTreeSet<Vec<String>> = files
        .iter()
        .flat_map(|f| {
            f.test_mods.iter().map(|m| {
                let mut path = f.module.clone();
                path.push(m.clone());
                path
            })
        })
        .collect();
    files.retain(|f| !test_modules.iter().any(|t| f.module.starts_with(t)));
    files
}

const DEFINING: &[&str] = &[
    "fn",
    "struct",
    "enum",
    "trait",
    "type",
    "const",
    "static",
    "union",
    "mod",
    "macro_rules",
];

/// Reads a file's definitions, imports and paths; `modules` are the crate's file modules.
fn scan(file: &mut File, modules: &BTreeSet<Vec<String>>) {
    let toks = std::mem::take(&mut file.toks);
    for w in toks.windows(3) {
        if let Tok::Ident(kw) = &w[0]
            && DEFINING.contains(&kw.as_str())
        {
            let name = if w[1] == Tok::Punct('!') {
                &w[2]
            } else {
                &w[1]
            };
            if let Some(n) = name.ident() {
                file.defines.insert(n.to_owned());
            }
        }
    }
    let mut i = 0;
    while i < toks.len() {
        if toks[i].is_ident("use") {
            let end = toks[i..]
                .iter()
                .position(|t| *t == Tok::Punct(';'))
                .map_or(toks.len(), |p| i + p);
            let mut leaves = Vec::new();
            use_tree(&toks[i + 1..end], &[], &mut leaves);
            for (path, binding) in leaves {
                if let Some(target) = absolute(file, modules, &path) {
                    file.refs.push((target.clone(), path.join("::")));
                    file.imports.push(Import { target, binding });
                }
            }
            i = end + 1;
            continue;
        }
        let anchored = matches!(toks[i].ident(), Some("crate" | "super" | "self"))
            && toks.get(i + 1) == Some(&Tok::Colons);
        let macro_var = i > 0 && toks[i - 1] == Tok::Punct('$');
        let visibility = i > 1 && toks[i - 1].is_ident("in") && toks[i - 2] == Tok::Punct('(');
        if anchored && !macro_var && !visibility {
            let mut path = vec![toks[i].ident().unwrap_or_default().to_owned()];
            let mut j = i + 1;
            while toks.get(j) == Some(&Tok::Colons) {
                match toks.get(j + 1).and_then(Tok::ident) {
                    Some(seg) => path.push(seg.to_owned()),
                    None => break,
                }
                j += 2;
            }
            if let Some(target) = absolute(file, modules, &path) {
                file.refs.push((target, path.join("::")));
            }
            i = j;
            continue;
        }
        i += 1;
    }
}

/// What a leaf of a use tree binds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Binding {
    Name(String),
    Glob,
    /// `as _`: nothing nameable.
    Nothing,
}

/// Expands a use tree into paths, each with what it binds.
fn use_tree(toks: &[Tok], prefix: &[String], out: &mut Vec<(Vec<String>, Binding)>) {
    let mut path = prefix.to_vec();
    let mut i = usize::from(toks.first() == Some(&Tok::Colons));
    while let Some(tok) = toks.get(i) {
        match tok {
            Tok::Punct('*') => {
                out.push((path, Binding::Glob));
                return;
            }
            Tok::Punct('{') => {
                let end = skip_group(toks, i);
                for part in split_top(&toks[i + 1..end.saturating_sub(1)]) {
                    use_tree(part, &path, out);
                }
                return;
            }
            Tok::Ident(seg) => {
                path.push(seg.clone());
                if toks.get(i + 1) == Some(&Tok::Colons) {
                    i += 2;
                    continue;
                }
                if seg == "self" {
                    // `a::{self}`: the module `a` itself.
                    path.pop();
                }
                let binding = match (toks.get(i + 1), toks.get(i + 2)) {
                    (Some(t), Some(Tok::Ident(alias))) if t.is_ident("as") => {
                        if alias == "_" {
                            Binding::Nothing
                        } else {
                            Binding::Name(alias.clone())
                        }
                    }
                    _ => Binding::Name(path.last().cloned().unwrap_or_default()),
                };
                out.push((path, binding));
                return;
            }
            _ => return,
        }
    }
}

/// The comma-separated parts of a group's contents, nested groups kept whole.
fn split_top(toks: &[Tok]) -> Vec<&[Tok]> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut depth = 0;
    for (k, t) in toks.iter().enumerate() {
        match t {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                parts.push(&toks[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&toks[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// `path` as an absolute path in the crate, or `None` for a path into another crate.
fn absolute(file: &File, modules: &BTreeSet<Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    let mut base = file.module.clone();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &path[1..];
        }
        Some("self") => rest = &path[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        Some(first) => {
            // A relative path names a submodule of this file (a file or an inline module);
            // anything else is another crate.
            let mut child = file.module.clone();
            child.push(first.to_owned());
            if !modules.contains(&child) && !file.defines.contains(first) {
                return None;
            }
        }
        None => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The crate's files and the edges between them, each with the paths that make it.
struct Graph {
    files: Vec<File>,
    edges: BTreeMap<(usize, usize), Vec<String>>,
}

impl Graph {
    fn of_crate(workspace: &Path, krate: &Path) -> Graph {
        let mut files = crate_files(workspace, krate);
        let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
        for f in &mut files {
            scan(f, &modules);
        }
        let mut graph = Graph {
            files,
            edges: BTreeMap::new(),
        };
        for a in 0..graph.files.len() {
            let refs = graph.files[a].refs.clone();
            for (target, text) in refs {
                let b = graph.resolve(&target);
                let (ma, mb) = (&graph.files[a].module, &graph.files[b].module);
                if a != b && !ma.starts_with(mb) && !mb.starts_with(ma) {
                    graph.edges.entry((a, b)).or_default().push(text);
                }
            }
        }
        graph
    }

    /// The file that defines what the absolute `path` names.
    fn resolve(&self, path: &[String]) -> usize {
        let (file, _) = self.prefix_file(path);
        self.defining(path, 0).unwrap_or(file)
    }

    /// The file of the longest prefix of `path` that is a file module, and that prefix's length.
    fn prefix_file(&self, path: &[String]) -> (usize, usize) {
        (0..=path.len())
            .rev()
            .find_map(|k| {
                self.files
                    .iter()
                    .position(|f| f.module == path[..k])
                    .map(|i| (i, k))
            })
            .expect("the crate root is a file")
    }

    /// Follows imports to the file that defines the item `path` names; `None` if no file of
    /// the crate is seen to define it.
    fn defining(&self, path: &[String], depth: usize) -> Option<usize> {
        let (file, k) = self.prefix_file(path);
        let Some(name) = path.get(k) else {
            return Some(file);
        };
        let f = &self.files[file];
        if f.defines.contains(name) {
            return Some(file);
        }
        if depth > 16 {
            return None;
        }
        let through = |target: &[String]| {
            let mut next = target.to_vec();
            next.extend(path[k + 1..].iter().cloned());
            next
        };
        let named = Binding::Name(name.clone());
        if let Some(import) = f.imports.iter().find(|i| i.binding == named) {
            let next = through(&import.target);
            return Some(
                self.defining(&next, depth + 1)
                    .unwrap_or_else(|| self.prefix_file(&next).0),
            );
        }
        f.imports
            .iter()
            .filter(|i| i.binding == Binding::Glob)
            .find_map(|glob| {
                let mut target = glob.target.clone();
                target.push(name.clone());
                self.defining(&through(&target), depth + 1)
            })
    }

    /// Strongly connected components of two or more files.
    fn cycles(&self) -> Vec<Vec<usize>> {
        let n = self.files.len();
        let mut successors = vec![Vec::new(); n];
        for &(a, b) in self.edges.keys() {
            successors[a].push(b);
        }
        let mut tarjan = Tarjan {
            successors,
            index: vec![usize::MAX; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            next: 0,
            components: Vec::new(),
        };
        for v in 0..n {
            if tarjan.index[v] == usize::MAX {
                tarjan.visit(v);
            }
        }
        tarjan.components
    }

    /// The cycle's files and the edges between them, with the paths that make each edge.
    fn describe(&self, component: &[usize]) -> String {
        let mut text = String::new();
        for (&(a, b), paths) in &self.edges {
            if component.contains(&a) && component.contains(&b) {
                let mut paths = paths.clone();
                paths.sort();
                paths.dedup();
                text.push_str(&format!(
                    "    {} -> {}  ({})\n",
                    self.files[a].rel,
                    self.files[b].rel,
                    paths.join(", ")
                ));
            }
        }
        text
    }

    fn names(&self, component: &[usize]) -> Vec<String> {
        let mut names: Vec<String> = component
            .iter()
            .map(|&i| self.files[i].rel.clone())
            .collect();
        names.sort();
        names
    }
}

/// Tarjan's algorithm over file indices.
struct Tarjan {
    successors: Vec<Vec<usize>>,
    index: Vec<usize>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
    /// Components of two or more files.
    components: Vec<Vec<usize>>,
}

impl Tarjan {
    fn visit(&mut self, v: usize) {
        self.index[v] = self.next;
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for k in 0..self.successors[v].len() {
            let w = self.successors[v][k];
            if self.index[w] == usize::MAX {
                self.visit(w);
                self.low[v] = self.low[v].min(self.low[w]);
            } else if self.on_stack[w] {
                self.low[v] = self.low[v].min(self.index[w]);
            }
        }
        if self.low[v] == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                self.components.push(component);
            }
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn crates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace().join("crates"))
        .expect("crates/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn no_two_files_of_a_crate_depend_on_each_other() {
    let workspace = workspace();
    let mut report = String::new();
    for krate in crates() {
        let graph = Graph::of_crate(&workspace, &krate);
        for component in graph.cycles() {
            let names = graph.names(&component);
            if ALLOWED.iter().any(|allowed| *allowed == names.as_slice()) {
                continue;
            }
            report.push_str(&format!(
                "cycle: {}\n{}",
                names.join(" <-> "),
                graph.describe(&component)
            ));
        }
    }
    assert!(
        report.is_empty(),
        "files that depend on each other:\n{report}"
    );
}

#[test]
fn the_reader_finds_paths_imports_and_re_exports() {
    let toks = lex(r##"
        use crate::{a::{self, B as C}, d::*};
        // use crate::not_me;
        const S: &str = "crate::not_me_either";
        const R: &str = r#"crate::nor_me"#;
        fn f<'a>(x: &'a str) -> char { super::e::g(x); 'x' }
        #[cfg(test)]
        mod tests { use crate::hidden; }
        #[cfg(test)]
        mod more;
    "##);
    let (toks, test_mods) = strip_test_items(&toks).expect("not a test file");
    assert_eq!(test_mods, ["more"]);
    let modules: BTreeSet<Vec<String>> = [vec![], vec!["x".into()]].into_iter().collect();
    let mut file = File {
        module: vec!["x".into()],
        toks,
        ..File::default()
    };
    scan(&mut file, &modules);
    let refs: Vec<String> = file.refs.iter().map(|(_, text)| text.clone()).collect();
    assert_eq!(refs, ["crate::a", "crate::a::B", "crate::d", "super::e::g"]);
    let bindings: Vec<_> = file.imports.iter().map(|i| i.binding.clone()).collect();
    assert_eq!(
        bindings,
        [
            Binding::Name("a".into()),
            Binding::Name("C".into()),
            Binding::Glob
        ]
    );
}

#[test]
fn a_re_export_leads_to_the_file_that_defines_the_item() {
    let root = std::env::temp_dir().join(format!("tutela-file-cycles-{}", std::process::id()));
    let src = root.join("src");
    std::fs::create_dir_all(src.join("a")).expect("temp dir");
    let files = [
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        (
            "a/mod.rs",
            "mod inner;\npub use crate::c::Item;\npub use inner::*;\n",
        ),
        ("a/inner.rs", "pub struct Deep;\n"),
        (
            "b.rs",
            "use crate::a::Item;\nfn f(_: crate::a::Deep) -> char { '\\'' }\n",
        ),
        (
            "c.rs",
            "pub struct Item;\nfn g() { let _ = super::b::f; }\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(src.join(name), text).expect("temp file");
    }
    let graph = Graph::of_crate(&root, &root);
    std::fs::remove_dir_all(&root).ok();
    let edges: Vec<(String, String)> = graph
        .edges
        .keys()
        .map(|&(a, b)| (graph.files[a].rel.clone(), graph.files[b].rel.clone()))
        .collect();
    let edge = |a: &str, b: &str| (format!("src/{a}"), format!("src/{b}"));
    assert_eq!(
        edges,
        [
            edge("a/mod.rs", "c.rs"),
            edge("b.rs", "a/inner.rs"),
            edge("b.rs", "c.rs"),
            edge("c.rs", "b.rs")
        ]
    );
    let cycles: Vec<Vec<String>> = graph.cycles().iter().map(|c| graph.names(c)).collect();
    assert_eq!(cycles, [["src/b.rs", "src/c.rs"]]);
}
