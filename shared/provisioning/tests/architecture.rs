//! The shape of the domain crate, checked from its source: no module imports a module
//! that imports it back (directly or through others), and no file, environment, console
//! or AWS wire access (those are adapters, outside the domain).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src`, by module path (`resources::update`; `""` for lib.rs).
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(&src).expect("under src").with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|last| last == "mod" || last == "lib") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&file).expect("source");
            // Unit tests may use what they like.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_string();
            (parts.join("::"), code)
        })
        .collect()
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else { return vec![path.to_string()] };
    let (prefix, rest) = (&path[..open], &path[open + 1..path.len() - 1]);
    let (mut items, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in rest.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            items.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    items.push(current);
    items.iter().filter(|i| !i.is_empty()).flat_map(|item| expand(&format!("{prefix}{item}"))).collect()
}

/// The modules a file names through `crate::` paths, in `use` statements or inline.
fn imports(code: &str, modules: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let is_use = rest[..at].trim_end().ends_with("use");
        let end = if is_use {
            after.find(';').unwrap_or(after.len())
        } else {
            after.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(after.len())
        };
        let path: String = after[..end].chars().filter(|c| !c.is_whitespace()).collect();
        paths.extend(expand(&path));
        rest = &after[end..];
    }
    paths
        .iter()
        .filter_map(|path| {
            let segments: Vec<&str> = path.trim_end_matches("::self").split("::").collect();
            (1..=segments.len()).rev().map(|n| segments[..n].join("::")).find(|candidate| modules.contains_key(candidate))
        })
        .collect()
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let modules = modules();
    assert!(modules.len() > 20, "the walk found the crate's files");
    let graph: BTreeMap<&str, BTreeSet<String>> = modules
        .iter()
        .map(|(name, code)| {
            let mut targets = imports(code, &modules);
            targets.remove(name);
            (name.as_str(), targets)
        })
        .collect();
    // A module reaches itself through its imports only if it is on a circle.
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut frontier: Vec<&str> = graph[start].iter().map(String::as_str).collect();
        let mut path = BTreeMap::new();
        for next in &frontier {
            path.insert(next.to_string(), start.to_string());
        }
        while let Some(module) = frontier.pop() {
            assert_ne!(module, *start, "{start} imports a module that imports it back (through {})", path[module]);
            if seen.insert(module.to_string()) {
                for target in graph.get(module).into_iter().flatten() {
                    path.entry(target.clone()).or_insert_with(|| module.to_string());
                    frontier.push(target);
                }
            }
        }
    }
    // The check sees imports at all: the service's own are known.
    assert_eq!(graph["service"], BTreeSet::from(["clock".to_string(), "tenancy::grant_cache".to_string()]));
}

#[test]
fn the_domain_reaches_no_files_environment_console_or_aws_shapes() {
    let forbidden =
        ["std::fs", "std::env", "std::io", "std::net", "println!", "eprintln!", "\"NewImage\"", "\"SequenceNumber\"", "\"eventName\""];
    for (module, code) in modules() {
        for word in forbidden {
            assert!(!code.contains(word), "{module} uses {word}: adapters belong outside the domain");
        }
    }
}
