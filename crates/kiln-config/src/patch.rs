//! JSON-patch operations on the YAML tree, with the semantics of the `yaml-patch` library
//! Skaffold uses (github.com/krishicks/yaml-patch), including its quirks:
//!
//! * `replace` needs the target to exist; `add` on a mapping overwrites.
//! * `move` and `copy` *set* the destination (on a sequence index: overwrite, growing the
//!   sequence with nulls if needed) instead of inserting.
//! * A path segment `key=value` (when the path contains `=`) selects every mapping below the
//!   current point whose `key` is the string `value`, e.g. `/build/artifacts/image=app/ko/main`.
//!
//! One deliberate difference: `copy` from a missing mapping key is an error here (yaml-patch
//! silently writes null).

use crate::yaml::{Node, Value};

/// The six RFC 6902 operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

pub(crate) const OP_NAMES: [&str; 6] = ["add", "remove", "replace", "move", "copy", "test"];

impl Op {
    pub(crate) fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "add" => Op::Add,
            "remove" => Op::Remove,
            "replace" => Op::Replace,
            "move" => Op::Move,
            "copy" => Op::Copy,
            "test" => Op::Test,
            _ => return None,
        })
    }
}

/// One operation; `value` defaults to null as in yaml-patch.
pub(crate) struct Patch<'a> {
    pub(crate) op: Op,
    pub(crate) path: &'a str,
    pub(crate) from: Option<&'a str>,
    pub(crate) value: Option<&'a Node>,
}

/// Applies `patch` to `doc`. Errors are plain messages; the caller adds the context.
pub(crate) fn apply(doc: &mut Node, patch: &Patch<'_>) -> Result<(), String> {
    let paths = if patch.path.contains('=') {
        let paths = expand(doc, &split(patch.path)?);
        if paths.is_empty() {
            return Err(format!("could not expand pointer `{}`", patch.path));
        }
        paths
    } else {
        vec![split(patch.path)?]
    };
    for path in paths {
        perform(doc, patch, &path)?;
        // `copy` can double the document, or nest it into itself: keep the tree within the
        // parser's limits so later walks stay cheap and shallow.
        if !doc.within_limits() {
            return Err("the patched document is too large or too deeply nested".to_owned());
        }
    }
    Ok(())
}

/// Splits and unescapes a JSON pointer (`~1` is `/`, `~0` is `~`).
fn split(pointer: &str) -> Result<Vec<String>, String> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("path `{pointer}` must start with `/`"));
    };
    Ok(rest
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn perform(doc: &mut Node, patch: &Patch<'_>, path: &[String]) -> Result<(), String> {
    let shown = display(path);
    let null = Node::null(doc.loc);
    let value = patch.value.unwrap_or(&null);
    match patch.op {
        Op::Add => {
            let (parent, key) = container(doc, path).map_err(|e| missing(&shown, e))?;
            add(parent, key, value.clone())
        }
        Op::Remove => {
            let (parent, key) = container(doc, path).map_err(|e| missing(&shown, e))?;
            remove(parent, key).map(drop)
        }
        Op::Replace => {
            let (parent, key) = container(doc, path).map_err(|e| missing(&shown, e))?;
            if get(parent, key).is_none() {
                return Err(format!("doc is missing key `{shown}`"));
            }
            set(parent, key, value.clone())
        }
        Op::Test => {
            let (parent, key) = container(doc, path).map_err(|e| missing(&shown, e))?;
            match get(parent, key) {
                Some(found) if found.semantic_eq(value) => Ok(()),
                None if value.is_null() => Ok(()),
                _ => Err(format!(
                    "test failed: `{shown}` does not have the expected value"
                )),
            }
        }
        Op::Move | Op::Copy => {
            let from = split(patch.from.unwrap_or_default())?;
            let from_shown = display(&from);
            let (parent, key) = container(doc, &from)
                .map_err(|e| format!("doc is missing from path `{from_shown}`: {e}"))?;
            let moved = if patch.op == Op::Move {
                remove(parent, key)?
            } else {
                get(parent, key)
                    .cloned()
                    .ok_or_else(|| format!("doc is missing from path `{from_shown}`"))?
            };
            let (parent, key) = container(doc, path)
                .map_err(|e| format!("doc is missing destination path `{shown}`: {e}"))?;
            set(parent, key, moved)
        }
    }
}

fn missing(path: &str, why: String) -> String {
    format!("doc is missing path `{path}`: {why}")
}

fn display(path: &[String]) -> String {
    let mut out = String::new();
    for p in path {
        out.push('/');
        out.push_str(&p.replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// Walks to the parent of the last segment.
fn container<'d, 'p>(
    doc: &'d mut Node,
    path: &'p [String],
) -> Result<(&'d mut Node, &'p str), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty path".to_owned());
    };
    let mut cur = doc;
    for part in parents {
        cur = match &mut cur.value {
            Value::Map(entries) => match entries.iter_mut().find(|e| e.key == *part) {
                Some(e) => &mut e.value,
                None => return Err(format!("no key `{part}`")),
            },
            Value::Seq(items) => {
                let i = index(part)?;
                let len = items.len();
                items
                    .get_mut(i)
                    .ok_or_else(|| format!("index {i} out of range (length {len})"))?
            }
            _ => return Err(format!("`{part}` is not inside a mapping or sequence")),
        };
    }
    match cur.value {
        Value::Map(_) | Value::Seq(_) => Ok((cur, last)),
        _ => Err(format!("parent of `{last}` is not a mapping or sequence")),
    }
}

fn index(part: &str) -> Result<usize, String> {
    part.parse::<usize>()
        .map_err(|_| format!("`{part}` is not a valid sequence index"))
}

fn get<'a>(parent: &'a Node, key: &str) -> Option<&'a Node> {
    match &parent.value {
        Value::Map(_) => parent.get(key),
        Value::Seq(items) => index(key).ok().and_then(|i| items.get(i)),
        _ => None,
    }
}

fn add(parent: &mut Node, key: &str, value: Node) -> Result<(), String> {
    let loc = value.loc;
    match &mut parent.value {
        Value::Map(_) => {
            parent.set(key, loc, value);
            Ok(())
        }
        Value::Seq(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let i = index(key)?;
            if i > items.len() {
                return Err(format!("index {i} out of range (length {})", items.len()));
            }
            items.insert(i, value);
            Ok(())
        }
        _ => Err("not a mapping or sequence".to_owned()),
    }
}

fn set(parent: &mut Node, key: &str, value: Node) -> Result<(), String> {
    let loc = value.loc;
    match &mut parent.value {
        Value::Map(_) => {
            parent.set(key, loc, value);
            Ok(())
        }
        Value::Seq(items) => {
            let i = index(key)?;
            if i > crate::yaml::MAX_NODES {
                return Err(format!("index {i} out of range"));
            }
            while items.len() <= i {
                items.push(Node::null(loc));
            }
            items[i] = value;
            Ok(())
        }
        _ => Err("not a mapping or sequence".to_owned()),
    }
}

fn remove(parent: &mut Node, key: &str) -> Result<Node, String> {
    match &mut parent.value {
        Value::Map(_) => parent
            .remove(key)
            .map(|e| e.value)
            .ok_or_else(|| format!("unable to remove nonexistent key `{key}`")),
        Value::Seq(items) => {
            let i = index(key)?;
            if i >= items.len() {
                return Err(format!("unable to remove invalid index {i}"));
            }
            Ok(items.remove(i))
        }
        _ => Err("not a mapping or sequence".to_owned()),
    }
}

/// Expands `key=value` segments into concrete paths.
fn expand(doc: &Node, parts: &[String]) -> Vec<Vec<String>> {
    let mut routes: Vec<(Vec<String>, Option<&Node>)> = vec![(Vec::new(), Some(doc))];
    for part in parts {
        let mut next = Vec::new();
        if part == "-" {
            for (prefix, node) in routes {
                let mut p = prefix;
                p.push("-".to_owned());
                next.push((p, node));
            }
        } else if let Some((k, v)) = part.split_once('=').filter(|(_, v)| !v.contains('=')) {
            for (prefix, node) in &routes {
                if let Some(node) = node {
                    find_all(prefix, k, v, node, &mut next);
                }
            }
        } else {
            for (prefix, node) in routes {
                let Some(node) = node else { continue };
                let child = match &node.value {
                    Value::Map(_) => Some(node.get(part)),
                    Value::Seq(items) => index(part).ok().and_then(|i| items.get(i)).map(Some),
                    _ => None,
                };
                if let Some(child) = child {
                    let mut p = prefix;
                    p.push(part.clone());
                    next.push((p, child));
                }
            }
        }
        routes = next;
    }
    routes.into_iter().map(|(p, _)| p).collect()
}

fn find_all<'a>(
    prefix: &[String],
    key: &str,
    value: &str,
    node: &'a Node,
    out: &mut Vec<(Vec<String>, Option<&'a Node>)>,
) {
    if node.get(key).and_then(Node::as_str) == Some(value) {
        out.push((prefix.to_vec(), Some(node)));
        return;
    }
    match &node.value {
        Value::Map(entries) => {
            for e in entries {
                let mut p = prefix.to_vec();
                p.push(e.key.clone());
                find_all(&p, key, value, &e.value, out);
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut p = prefix.to_vec();
                p.push(i.to_string());
                find_all(&p, key, value, item, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn doc(text: &str) -> Node {
        parse_documents(text).expect("yaml").remove(0)
    }

    fn run(
        d: &mut Node,
        op: Op,
        path: &str,
        from: Option<&str>,
        value: Option<&str>,
    ) -> Result<(), String> {
        let value = value.map(doc);
        apply(
            d,
            &Patch {
                op,
                path,
                from,
                value: value.as_ref(),
            },
        )
    }

    fn same(a: &Node, text: &str) -> bool {
        a.semantic_eq(&doc(text))
    }

    #[test]
    fn add_remove_replace() {
        let mut d = doc("a: {list: [1, 2]}\n");
        run(&mut d, Op::Add, "/a/list/-", None, Some("3")).expect("append");
        run(&mut d, Op::Add, "/a/list/0", None, Some("0")).expect("insert");
        run(&mut d, Op::Add, "/a/new", None, Some("x")).expect("add key");
        assert!(same(&d, "a: {list: [0, 1, 2, 3], new: x}"));
        run(&mut d, Op::Remove, "/a/list/1", None, None).expect("remove index");
        run(&mut d, Op::Replace, "/a/new", None, Some("y")).expect("replace");
        assert!(same(&d, "a: {list: [0, 2, 3], new: y}"));
        assert!(run(&mut d, Op::Replace, "/a/missing", None, Some("y")).is_err());
        assert!(run(&mut d, Op::Remove, "/a/missing", None, None).is_err());
        assert!(run(&mut d, Op::Add, "/a/list/9", None, Some("1")).is_err());
        assert!(run(&mut d, Op::Add, "/nope/x", None, Some("1")).is_err());
        assert!(run(&mut d, Op::Add, "no-slash", None, Some("1")).is_err());
    }

    #[test]
    fn move_copy_test() {
        let mut d = doc("a: [x, y]\nb: {c: 1}\n");
        run(&mut d, Op::Copy, "/b/d", Some("/b/c"), None).expect("copy");
        run(&mut d, Op::Move, "/a/0", Some("/b/c"), None).expect("move overwrites index");
        assert!(same(&d, "a: [1, y]\nb: {d: 1}"));
        run(&mut d, Op::Test, "/b/d", None, Some("1")).expect("test ok");
        assert!(run(&mut d, Op::Test, "/b/d", None, Some("'1'")).is_err());
        assert!(run(&mut d, Op::Copy, "/b/e", Some("/b/nope"), None).is_err());
    }

    #[test]
    fn self_copies_cannot_grow_without_bound() {
        let mut d = doc("a: {b: [1, 2, 3, 4, 5, 6, 7, 8]}\n");
        let mut result = Ok(());
        for _ in 0..400 {
            result = run(&mut d, Op::Copy, "/a/b/0", Some("/a"), None);
            if result.is_err() {
                break;
            }
        }
        assert!(result.is_err_and(|e| e.contains("too large or too deeply nested")));
    }

    #[test]
    fn escaped_and_extended_paths() {
        let mut d = doc(
            "m: {a/b: 1, t~: 2}\nartifacts:\n- image: one\n  ko: {main: .}\n- image: two\n  ko: {main: .}\n",
        );
        run(&mut d, Op::Replace, "/m/a~1b", None, Some("3")).expect("escaped slash");
        run(&mut d, Op::Replace, "/m/t~0", None, Some("4")).expect("escaped tilde");
        run(
            &mut d,
            Op::Replace,
            "/artifacts/image=two/ko/main",
            None,
            Some("./cmd/two"),
        )
        .expect("extended");
        assert_eq!(
            d.get("artifacts")
                .and_then(|a| a.index(1))
                .and_then(|a| a.get("ko"))
                .and_then(|k| k.get("main"))
                .and_then(Node::as_str),
            Some("./cmd/two")
        );
        assert!(
            run(
                &mut d,
                Op::Replace,
                "/artifacts/image=three/ko/main",
                None,
                Some("x")
            )
            .is_err()
        );
    }
}
