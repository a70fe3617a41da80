//! sprig's lists, dicts, defaults, type reflection and `fail` (list.go, dict.go,
//! defaults.go, reflect.go). Template values are immutable here: `set`, `unset`, `merge`
//! and `append` return the changed value, and the dict or list passed in is unchanged
//! (sprig also changes it in place).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;

use super::{Func, Result, arity, at_least, fail, int, is_empty, list, map, string, text};

pub(super) const FUNCS: &[(&str, Func)] = &[
    // Lists.
    ("list", |a| Ok(list(a.iter().cloned()))),
    ("tuple", |a| Ok(list(a.iter().cloned()))),
    ("append", |a| push("append", a)),
    ("push", |a| push("push", a)),
    ("prepend", |a| {
        arity("prepend", a, 2)?;
        Ok(list(
            std::iter::once(a[1].clone()).chain(items("prepend", &a[0])?),
        ))
    }),
    ("first", |a| {
        one_list("first", a, |l| l.first().cloned().unwrap_or(Value::Nil))
    }),
    ("last", |a| {
        one_list("last", a, |l| l.last().cloned().unwrap_or(Value::Nil))
    }),
    ("rest", |a| {
        one_list("rest", a, |l| list(l.iter().skip(1).cloned()))
    }),
    ("initial", |a| {
        one_list("initial", a, |l| {
            list(l.iter().take(l.len().saturating_sub(1)).cloned())
        })
    }),
    ("reverse", |a| {
        one_list("reverse", a, |l| list(l.iter().rev().cloned()))
    }),
    ("compact", |a| {
        one_list("compact", a, |l| {
            list(l.iter().filter(|v| !is_empty(v)).cloned())
        })
    }),
    ("uniq", |a| {
        one_list("uniq", a, |l| {
            let mut seen: Vec<Value> = Vec::new();
            for v in l {
                if !seen.contains(v) {
                    seen.push(v.clone());
                }
            }
            list(seen)
        })
    }),
    ("without", |a| {
        at_least("without", a, 1, usize::MAX)?;
        let omit = &a[1..];
        Ok(list(
            items("without", &a[0])?
                .into_iter()
                .filter(|v| !omit.contains(v)),
        ))
    }),
    ("has", |a| {
        arity("has", a, 2)?;
        Ok(Value::Bool(match &a[1] {
            Value::Nil => false,
            other => items("has", other)?.contains(&a[0]),
        }))
    }),
    ("slice", |a| {
        at_least("slice", a, 1, 3)?;
        let l = items("slice", &a[0])?;
        let start = a.get(1).map(|v| int("slice", v)).transpose()?.unwrap_or(0);
        let end = a
            .get(2)
            .map(|v| int("slice", v))
            .transpose()?
            .unwrap_or(l.len() as i64);
        usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(s, e)| l.get(s..e))
            .map(|part| list(part.iter().cloned()))
            .ok_or_else(|| {
                fail(format!(
                    "slice: index out of range [{start}:{end}] with length {}",
                    l.len()
                ))
            })
    }),
    ("concat", |a| {
        let mut all = Vec::new();
        for v in a {
            all.extend(items("concat", v)?);
        }
        Ok(list(all))
    }),
    // Dicts.
    ("dict", |a| {
        let mut d = BTreeMap::new();
        for pair in a.chunks(2) {
            let value = pair.get(1).cloned().unwrap_or_else(|| string(""));
            d.insert(Arc::from(text(&pair[0])), value);
        }
        Ok(map(d))
    }),
    ("set", |a| {
        arity("set", a, 3)?;
        let mut d = entries("set", &a[0])?;
        d.insert(Arc::from(text(&a[1])), a[2].clone());
        Ok(map(d))
    }),
    ("unset", |a| {
        arity("unset", a, 2)?;
        let mut d = entries("unset", &a[0])?;
        d.remove(text(&a[1]).as_str());
        Ok(map(d))
    }),
    ("hasKey", |a| {
        arity("hasKey", a, 2)?;
        Ok(Value::Bool(
            entries("hasKey", &a[0])?.contains_key(text(&a[1]).as_str()),
        ))
    }),
    ("pluck", |a| {
        at_least("pluck", a, 1, usize::MAX)?;
        let key = text(&a[0]);
        let mut found = Vec::new();
        for d in &a[1..] {
            found.extend(entries("pluck", d)?.get(key.as_str()).cloned());
        }
        Ok(list(found))
    }),
    ("keys", |a| {
        let mut keys = Vec::new();
        for d in a {
            keys.extend(entries("keys", d)?.into_keys().map(Value::String));
        }
        Ok(list(keys))
    }),
    ("values", |a| {
        arity("values", a, 1)?;
        Ok(list(entries("values", &a[0])?.into_values()))
    }),
    ("pick", |a| {
        at_least("pick", a, 1, usize::MAX)?;
        let wanted: Vec<String> = a[1..].iter().map(text).collect();
        let mut d = entries("pick", &a[0])?;
        d.retain(|k, _| wanted.iter().any(|w| **w == **k));
        Ok(map(d))
    }),
    ("omit", |a| {
        at_least("omit", a, 1, usize::MAX)?;
        let unwanted: Vec<String> = a[1..].iter().map(text).collect();
        let mut d = entries("omit", &a[0])?;
        d.retain(|k, _| !unwanted.iter().any(|w| **w == **k));
        Ok(map(d))
    }),
    ("merge", |a| merge("merge", a, false)),
    ("mergeOverwrite", |a| merge("mergeOverwrite", a, true)),
    ("deepCopy", |a| {
        arity("deepCopy", a, 1)?;
        Ok(a[0].clone())
    }),
    // Defaults.
    ("default", |a| {
        at_least("default", a, 1, 2)?;
        Ok(match a.get(1) {
            Some(given) if !is_empty(given) => given.clone(),
            _ => a[0].clone(),
        })
    }),
    ("empty", |a| {
        arity("empty", a, 1)?;
        Ok(Value::Bool(is_empty(&a[0])))
    }),
    ("coalesce", |a| {
        Ok(a.iter()
            .find(|v| !is_empty(v))
            .cloned()
            .unwrap_or(Value::Nil))
    }),
    ("ternary", |a| {
        arity("ternary", a, 3)?;
        Ok(if a[2].is_truthy() {
            a[0].clone()
        } else {
            a[1].clone()
        })
    }),
    ("toJson", |a| {
        arity("toJson", a, 1)?;
        Ok(string(json(&a[0]).to_string()))
    }),
    ("toPrettyJson", |a| {
        arity("toPrettyJson", a, 1)?;
        Ok(string(
            serde_json::to_string_pretty(&json(&a[0])).unwrap_or_default(),
        ))
    }),
    // Reflection.
    ("typeOf", |a| {
        arity("typeOf", a, 1)?;
        Ok(string(go_type(&a[0])))
    }),
    ("typeIs", |a| {
        arity("typeIs", a, 2)?;
        Ok(Value::Bool(text(&a[0]) == go_type(&a[1])))
    }),
    ("typeIsLike", |a| {
        arity("typeIsLike", a, 2)?;
        let t = text(&a[0]);
        let actual = go_type(&a[1]);
        Ok(Value::Bool(t == actual || t == format!("*{actual}")))
    }),
    ("kindOf", |a| {
        arity("kindOf", a, 1)?;
        Ok(string(go_kind(&a[0])))
    }),
    ("kindIs", |a| {
        arity("kindIs", a, 2)?;
        Ok(Value::Bool(text(&a[0]) == go_kind(&a[1])))
    }),
    ("deepEqual", |a| {
        arity("deepEqual", a, 2)?;
        Ok(Value::Bool(a[0] == a[1]))
    }),
    ("fail", |a| {
        arity("fail", a, 1)?;
        Err(fail(text(&a[0])))
    }),
];

/// The items of a list argument; sprig panics ("Cannot NAME on type T") on anything else.
fn items(name: &str, v: &Value) -> Result<Vec<Value>> {
    match v {
        Value::List(l) => Ok(l.to_vec()),
        other => Err(fail(format!("Cannot {name} on type {}", go_type(other)))),
    }
}

/// The entries of a dict argument.
fn entries(name: &str, v: &Value) -> Result<BTreeMap<Arc<str>, Value>> {
    match v {
        Value::Map(m) => Ok((**m).clone()),
        other => Err(fail(format!(
            "{name}: expected a dict, got {}",
            go_type(other)
        ))),
    }
}

fn one_list(name: &str, args: &[Value], f: fn(&[Value]) -> Value) -> Result<Value> {
    arity(name, args, 1)?;
    Ok(f(&items(name, &args[0])?))
}

fn push(name: &str, args: &[Value]) -> Result<Value> {
    arity(name, args, 2)?;
    Ok(list(
        items(name, &args[0])?.into_iter().chain([args[1].clone()]),
    ))
}

/// `merge` keeps the first dict's values; `mergeOverwrite` lets later dicts win. Nested
/// dicts are merged the same way (mergo's behaviour).
fn merge(name: &str, args: &[Value], overwrite: bool) -> Result<Value> {
    at_least(name, args, 1, usize::MAX)?;
    let mut dst = entries(name, &args[0])?;
    for src in &args[1..] {
        for (k, v) in entries(name, src)? {
            let merged = match (dst.get(&k), &v) {
                (Some(Value::Map(_)), Value::Map(_)) => {
                    merge(name, &[dst[&k].clone(), v.clone()], overwrite)?
                }
                (Some(old), _) if !overwrite || is_empty(&v) => old.clone(),
                _ => v,
            };
            dst.insert(k, merged);
        }
    }
    Ok(map(dst))
}

/// Go's `%T` of the value as it would be in Skaffold's template (strings, int, float64,
/// bool, `[]interface {}` lists and `map[string]interface {}` dicts).
fn go_type(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        _ => "func",
    }
    .to_owned()
}

/// Go's `reflect.Kind` name of the value.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "invalid",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        _ => "func",
    }
}

/// A template value as Go's `json.Marshal` writes it, map keys through `key`.
pub(crate) fn to_json(v: &Value, key: &dyn Fn(&str) -> String) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Uint(u) => (*u).into(),
        Value::Float(f) => (*f).into(),
        Value::String(s) => s.as_ref().into(),
        Value::List(l) => l.iter().map(|v| to_json(v, key)).collect(),
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| (key(k), to_json(v, key)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => text(other).into(),
    }
}

fn json(v: &Value) -> serde_json::Value {
    to_json(v, &str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::super::tests::check;

    #[test]
    fn list_functions_give_sprigs_documented_results() {
        // Expected values from sprig's docs (docs/lists.md).
        check(&[
            (
                r#"{{list 1 2 3 | first}} {{list 1 2 3 | last}} {{list 1 2 3 | rest}} {{list 1 2 3 | initial}}"#,
                "1 3 [2 3] [1 2]",
            ),
            (
                r#"{{append (list 1 2) 3}} {{prepend (list 1 2) 0}} {{concat (list 1) (list 2 3)}}"#,
                "[1 2 3] [0 1 2] [1 2 3]",
            ),
            (
                r#"{{list 1 2 3 | reverse}} {{list 1 1 2 | uniq}} {{without (list 1 2 3) 2}}"#,
                "[3 2 1] [1 2] [1 3]",
            ),
            (
                r#"{{has 4 (list 1 2 3 4)}} {{compact (list 1 "" 2)}} {{slice (list 1 2 3 4) 1 3}}"#,
                "true [1 2] [2 3]",
            ),
        ]);
    }

    #[test]
    fn dict_functions_give_sprigs_documented_results() {
        // Expected values from sprig's docs (docs/dicts.md).
        check(&[
            (
                r#"{{$d := dict "name1" "value1" "name2" "value2"}}{{$d.name1}} {{hasKey $d "name2"}} {{keys $d}}"#,
                "value1 true [name1 name2]",
            ),
            (
                r#"{{$d := dict "a" 1 "b" 2}}{{set $d "c" 3}} {{unset $d "a"}} {{pick $d "a"}} {{omit $d "a"}} {{values $d}}"#,
                "map[a:1 b:2 c:3] map[b:2] map[a:1] map[b:2] [1 2]",
            ),
            (
                r#"{{pluck "name1" (dict "name1" "a") (dict "name1" "b")}}"#,
                "[a b]",
            ),
            (
                r#"{{merge (dict "a" 1) (dict "a" 2 "b" 3)}} {{mergeOverwrite (dict "a" 1) (dict "a" 2)}}"#,
                "map[a:1 b:3] map[a:2]",
            ),
        ]);
    }

    #[test]
    fn defaults_and_reflection_give_sprigs_documented_results() {
        // Expected values from sprig's docs (docs/defaults.md, docs/reflection.md).
        check(&[
            (
                r#"{{.EMPTY | default "dev"}} {{.RELEASE | default "dev"}} {{default "x"}}"#,
                "dev v1.2.3 x",
            ),
            (
                r#"{{coalesce .EMPTY "" "z"}} {{ternary "y" "n" true}} {{empty .EMPTY}}"#,
                "z y true",
            ),
            (r#"{{toJson (dict "a" (list 1 "b"))}}"#, r#"{"a":[1,"b"]}"#),
            (
                r#"{{typeOf "x"}} {{typeIs "int" 3}} {{kindOf (list)}} {{kindIs "map" (dict)}} {{deepEqual (list 1) (list 1)}}"#,
                "string true slice true true",
            ),
        ]);
        assert!(super::super::tests::render(r#"{{fail "stop here"}}"#).contains("stop here"));
    }
}
