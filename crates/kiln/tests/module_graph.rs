//! ARCHITECTURE.md's invariant for every crate of the workspace: its files can be read
//! bottom-up, no two import each other, directly or around a circle. Read from the sources
//! (`crate::` and `super::` paths in code, not comments, outside `#[cfg(test)]`), so a new
//! circle fails here, naming its crate and its files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`session::ko`; the crate root is "") → its source without test code.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in walk(src) {
        let rel = entry.strip_prefix(src).unwrap().with_extension("");
        let name = rel.to_str().unwrap().replace('/', "::");
        let name = name
            .trim_end_matches("::mod")
            .trim_start_matches("lib")
            .to_owned();
        let text = std::fs::read_to_string(&entry).unwrap();
        let code = text
            .split("#[cfg(test)]")
            .next()
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        out.insert(name, code);
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The identifier-and-`::` run after each occurrence of `prefix` in `code`.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .map(|(at, _)| {
            let rest = &code[at + prefix.len()..];
            let end = rest
                .find(|c: char| {
                    !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':')
                })
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches(':')
        })
        .collect()
}

/// Which modules each module imports (the longest module path a `crate::` path names; a
/// `super::` path names a sibling, or the parent itself).
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<&str, BTreeSet<&str>> {
    let known = |path: &str| -> Option<&str> {
        let parts: Vec<&str> = path.split("::").collect();
        (1..=parts.len())
            .rev()
            .map(|n| parts[..n].join("::"))
            .find_map(|p| modules.get_key_value(&p).map(|(k, _)| k.as_str()))
    };
    let mut graph = BTreeMap::new();
    for (name, code) in modules {
        let parent = name.rsplit_once("::").map_or("", |(p, _)| p);
        let mut to = BTreeSet::new();
        for path in paths_after(code, "crate::") {
            to.extend(known(path));
        }
        if !name.is_empty() {
            for path in paths_after(code, "super::") {
                let sibling = if parent.is_empty() {
                    path.to_owned()
                } else {
                    format!("{parent}::{path}")
                };
                to.extend(
                    known(&sibling)
                        .or(Some(parent))
                        .and_then(|m| modules.get_key_value(m))
                        .map(|(k, _)| k.as_str()),
                );
            }
        }
        to.remove(name.as_str());
        graph.insert(name.as_str(), to);
    }
    graph
}

/// A circle through `start`, if its imports lead back to it.
fn circle<'a>(
    graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    start: &'a str,
) -> Option<Vec<&'a str>> {
    let mut stack = vec![(start, vec![start])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for &next in &graph[at] {
            if next == start {
                return Some(path);
            }
            if seen.insert(next) {
                let mut longer = path.clone();
                longer.push(next);
                stack.push((next, longer));
            }
        }
    }
    None
}

#[test]
fn no_two_files_of_a_crate_import_each_other_directly_or_around_a_circle() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut read = Vec::new();
    let mut circles = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        let name = src
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let modules = modules(&src);
        let graph = imports(&modules);
        // The crate root declares and re-exports its modules: that is not an import.
        for circle in graph
            .keys()
            .filter(|m| !m.is_empty())
            .filter_map(|m| circle(&graph, m))
            .filter(|c| !c.contains(&""))
        {
            circles.push(format!("{name}: {}", circle.join(" → ")));
        }
        read.push((name, graph.len()));
    }
    assert!(circles.is_empty(), "import circles: {circles:#?}");
    assert!(
        read.iter()
            .any(|(name, n)| name == "kiln-pipeline" && *n > 30),
        "the sources were read: {read:?}"
    );
}
