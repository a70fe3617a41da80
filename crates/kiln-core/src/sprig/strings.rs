//! sprig's string functions (strings.go), in sprig's argument order: the string being
//! worked on comes last, so `{{ .X | trimPrefix "v" }}` reads naturally.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;

use super::{Func, Result, arity, fail, int, list, map, string, text};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("hello", |_| Ok(string("Hello!"))),
    ("upper", |a| unary("upper", a, |s| s.to_uppercase())),
    ("lower", |a| unary("lower", a, |s| s.to_lowercase())),
    ("trim", |a| unary("trim", a, |s| s.trim().to_owned())),
    ("title", |a| unary("title", a, title)),
    ("untitle", |a| unary("untitle", a, untitle)),
    ("swapcase", |a| unary("swapcase", a, swapcase)),
    ("initials", |a| unary("initials", a, initials)),
    ("snakecase", |a| {
        unary("snakecase", a, |s| delimited(s, '_'))
    }),
    ("kebabcase", |a| {
        unary("kebabcase", a, |s| delimited(s, '-'))
    }),
    ("camelcase", |a| unary("camelcase", a, camelcase)),
    ("nospace", |a| {
        unary("nospace", a, |s| s.split_whitespace().collect())
    }),
    ("toString", |a| unary("toString", a, str::to_owned)),
    ("trimAll", |a| {
        binary("trimAll", a, |s, cut| {
            string(s.trim_matches(|c| cut.contains(c)))
        })
    }),
    ("trimall", |a| {
        binary("trimall", a, |s, cut| {
            string(s.trim_matches(|c| cut.contains(c)))
        })
    }),
    ("trimPrefix", |a| {
        binary("trimPrefix", a, |s, p| {
            string(s.strip_prefix(p).unwrap_or(s))
        })
    }),
    ("trimSuffix", |a| {
        binary("trimSuffix", a, |s, p| {
            string(s.strip_suffix(p).unwrap_or(s))
        })
    }),
    ("contains", |a| {
        binary("contains", a, |s, sub| Value::Bool(s.contains(sub)))
    }),
    ("hasPrefix", |a| {
        binary("hasPrefix", a, |s, p| Value::Bool(s.starts_with(p)))
    }),
    ("hasSuffix", |a| {
        binary("hasSuffix", a, |s, p| Value::Bool(s.ends_with(p)))
    }),
    ("quote", |a| Ok(string(quoted(a, |s| format!("{s:?}"))))),
    ("squote", |a| Ok(string(quoted(a, |s| format!("'{s}'"))))),
    ("cat", |a| Ok(string(quoted(a, str::to_owned)))),
    ("replace", |a| {
        arity("replace", a, 3)?;
        Ok(string(text(&a[2]).replace(&text(&a[0]), &text(&a[1]))))
    }),
    ("repeat", |a| {
        arity("repeat", a, 2)?;
        let n = usize::try_from(int("repeat", &a[0])?)
            .map_err(|_| fail("repeat: negative Repeat count"))?;
        Ok(string(text(&a[1]).repeat(n)))
    }),
    ("trunc", |a| {
        arity("trunc", a, 2)?;
        Ok(string(trunc(int("trunc", &a[0])?, &text(&a[1]))))
    }),
    ("substr", |a| {
        arity("substr", a, 3)?;
        substr(int("substr", &a[0])?, int("substr", &a[1])?, &text(&a[2])).map(string)
    }),
    ("abbrev", |a| {
        arity("abbrev", a, 2)?;
        Ok(string(abbreviate(&text(&a[1]), 0, int("abbrev", &a[0])?)))
    }),
    ("abbrevboth", |a| {
        arity("abbrevboth", a, 3)?;
        let (left, right) = (int("abbrevboth", &a[0])?, int("abbrevboth", &a[1])?);
        let s = text(&a[2]);
        Ok(string(if right < 4 || (left > 0 && right < 7) {
            s
        } else {
            abbreviate(&s, left, right)
        }))
    }),
    ("indent", |a| {
        arity("indent", a, 2)?;
        Ok(string(indent(int("indent", &a[0])?, &text(&a[1]))))
    }),
    ("nindent", |a| {
        arity("nindent", a, 2)?;
        Ok(string(format!(
            "\n{}",
            indent(int("nindent", &a[0])?, &text(&a[1]))
        )))
    }),
    ("wrap", |a| {
        arity("wrap", a, 2)?;
        Ok(string(wrap(&text(&a[1]), int("wrap", &a[0])?, "\n", false)))
    }),
    ("wrapWith", |a| {
        arity("wrapWith", a, 3)?;
        Ok(string(wrap(
            &text(&a[2]),
            int("wrapWith", &a[0])?,
            &text(&a[1]),
            true,
        )))
    }),
    ("plural", |a| {
        arity("plural", a, 3)?;
        Ok(if int("plural", &a[2])? == 1 {
            a[0].clone()
        } else {
            a[1].clone()
        })
    }),
    ("split", |a| {
        arity("split", a, 2)?;
        Ok(numbered(text(&a[1]).split(&*text(&a[0]))))
    }),
    ("splitn", |a| {
        arity("splitn", a, 3)?;
        let n = int("splitn", &a[1])?;
        let (orig, sep) = (text(&a[2]), text(&a[0]));
        Ok(match usize::try_from(n) {
            Ok(0) => numbered(std::iter::empty()),
            Ok(n) => numbered(orig.splitn(n, &*sep)),
            Err(_) => numbered(orig.split(&*sep)),
        })
    }),
    ("splitList", |a| {
        arity("splitList", a, 2)?;
        Ok(list(text(&a[1]).split(&*text(&a[0])).map(string)))
    }),
    ("join", |a| {
        arity("join", a, 2)?;
        Ok(string(strslice(&a[1]).join(&text(&a[0]))))
    }),
    ("sortAlpha", |a| {
        arity("sortAlpha", a, 1)?;
        let mut items = strslice(&a[0]);
        items.sort();
        Ok(list(items.into_iter().map(string)))
    }),
    ("toStrings", |a| {
        arity("toStrings", a, 1)?;
        Ok(list(strslice(&a[0]).into_iter().map(string)))
    }),
];

fn unary(name: &str, args: &[Value], f: fn(&str) -> String) -> Result<Value> {
    arity(name, args, 1)?;
    Ok(string(f(&text(&args[0]))))
}

/// `name ARG S` is `f(S, ARG)`.
fn binary(name: &str, args: &[Value], f: fn(&str, &str) -> Value) -> Result<Value> {
    arity(name, args, 2)?;
    Ok(f(&text(&args[1]), &text(&args[0])))
}

/// Each non-nil argument through `f`, joined by spaces (`quote`, `squote`, `cat`).
fn quoted(args: &[Value], f: fn(&str) -> String) -> String {
    args.iter()
        .filter(|v| !matches!(v, Value::Nil))
        .map(|v| f(&text(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// sprig's `strslice`: a list's non-nil items as strings, anything else as one string.
pub(super) fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(items) => items
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(text)
            .collect(),
        Value::Nil => Vec::new(),
        other => vec![text(other)],
    }
}

/// sprig's `split`: a dict `_0`, `_1`, … of the parts.
fn numbered<'a>(parts: impl Iterator<Item = &'a str>) -> Value {
    map(parts
        .enumerate()
        .map(|(i, p)| (Arc::from(format!("_{i}")), string(p)))
        .collect::<BTreeMap<_, _>>())
}

/// Go's `strings.Title`: the first letter of every word upper-cased.
fn title(s: &str) -> String {
    let mut out = String::new();
    let mut at_start = true;
    for c in s.chars() {
        if at_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        // Go's `isSeparator`: ASCII other than letters, digits and `_`, and Unicode space.
        at_start = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        };
    }
    out
}

/// goutils' `Uncapitalize`: the first letter of every space-separated word lower-cased.
fn untitle(s: &str) -> String {
    let mut out = String::new();
    let mut at_start = true;
    for c in s.chars() {
        if at_start {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        at_start = c.is_whitespace();
    }
    out
}

/// goutils' `SwapCase`.
fn swapcase(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_uppercase() {
                c.to_lowercase().collect::<Vec<_>>()
            } else {
                c.to_uppercase().collect()
            }
        })
        .collect()
}

/// goutils' `Initials`: the first letter of every word.
fn initials(s: &str) -> String {
    s.split_whitespace()
        .filter_map(|w| w.chars().next())
        .collect()
}

/// xstrings' `ToSnakeCase`/`ToKebabCase`: words split at case changes, spaces and
/// punctuation, lower-cased and joined by `sep` (`FirstName` → `first_name`).
fn delimited(s: &str, sep: char) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !out.is_empty() && !out.ends_with(sep) {
                out.push(sep);
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1);
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if boundary && !out.is_empty() && !out.ends_with(sep) {
            out.push(sep);
        }
        out.extend(c.to_lowercase());
    }
    out.trim_end_matches(sep).to_owned()
}

/// xstrings' `ToCamelCase`: `_`-separated words joined, each capitalised
/// (`http_server` → `HttpServer`).
fn camelcase(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// sprig's `trunc`: the first `n` characters; kiln also takes a negative `n` as sprig v3
/// does (the last `-n` characters), where sprig v2 fails.
fn trunc(n: i64, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as i64;
    if n >= 0 {
        chars[..n.min(len) as usize].iter().collect()
    } else {
        chars[(len + n).max(0) as usize..].iter().collect()
    }
}

/// sprig's `substr`: bytes `start..end`, `start < 0` meaning 0 and `end` out of range
/// meaning the end.
fn substr(start: i64, end: i64, s: &str) -> Result<String> {
    let len = s.len() as i64;
    let (from, to) = if start < 0 {
        (0, end)
    } else if end < 0 || end > len {
        (start, len)
    } else {
        (start, end)
    };
    usize::try_from(from)
        .ok()
        .zip(usize::try_from(to).ok())
        .and_then(|(f, t)| s.get(f..t))
        .map(str::to_owned)
        .ok_or_else(|| {
            fail(format!(
                "substr: slice bounds out of range [{from}:{to}] of {s:?}"
            ))
        })
}

/// goutils' `AbbreviateFull`: at most `width` characters, `...` where text was cut,
/// keeping the text from `offset` (`abbrev` is offset 0; widths under 4 keep `s`).
fn abbreviate(s: &str, offset: i64, width: i64) -> String {
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as i64;
    if width < 4 || len <= width {
        return s.to_owned();
    }
    let cut = |from: i64, to: i64| chars[from as usize..to as usize].iter().collect::<String>();
    let mut offset = offset.min(len);
    if len - offset < width - 3 {
        offset = len - (width - 3);
    }
    if offset <= 4 {
        return format!("{}...", cut(0, width - 3));
    }
    if width < 7 {
        return s.to_owned();
    }
    if offset + width - 3 < len {
        return format!("...{}", abbreviate(&cut(offset, len), 0, width - 3));
    }
    format!("...{}", cut(len - (width - 3), len))
}

fn indent(spaces: i64, s: &str) -> String {
    let pad = " ".repeat(usize::try_from(spaces).unwrap_or(0));
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// goutils' `WrapCustom`: words joined by spaces until a line would pass `width`, then
/// `newline`; `long_words` also breaks words longer than the width.
fn wrap(s: &str, width: i64, newline: &str, long_words: bool) -> String {
    let width = usize::try_from(width.max(1)).unwrap_or(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let mut word = word.to_owned();
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        while long_words && line.is_empty() && word.chars().count() > width {
            let rest = word.chars().skip(width).collect();
            lines.push(word.chars().take(width).collect());
            word = rest;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines.join(newline)
}

/// Go's `os.Expand` over `environment`: `$NAME` and `${NAME}`, unset as empty.
pub(super) fn expand_env(s: &str, environment: &BTreeMap<String, String>) -> String {
    let lookup = |name: &str| environment.get(name).cloned().unwrap_or_default();
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) if end > 0 => {
                    out.push_str(&lookup(&braced[..end]));
                    rest = &braced[end + 1..];
                }
                // Go drops a bad `${` syntax.
                _ => rest = braced.find('}').map_or("", |end| &braced[end + 1..]),
            }
            continue;
        }
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if len == 0 {
            out.push('$');
        } else {
            out.push_str(&lookup(&after[..len]));
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::check;

    #[test]
    fn string_functions_give_sprigs_documented_results() {
        // Expected values from sprig's docs (docs/strings.md) and strings_test.go.
        check(&[
            (r#"{{.RELEASE | upper | trimPrefix "V"}}"#, "1.2.3"),
            (r#"{{replace "." "-" .RELEASE}}"#, "v1-2-3"),
            (r#"{{.RELEASE | trunc 2}}-{{.RELEASE | trunc -2}}"#, "v1-.3"),
            (
                r#"{{"a b" | quote}} {{"x" | squote}} {{quote "a" 1}}"#,
                r#""a b" 'x' "a" "1""#,
            ),
            (
                r#"{{hasPrefix "v" .RELEASE}} {{contains "9" .RELEASE}}"#,
                "true false",
            ),
            (
                r#"{{"hello world" | title}} {{" a b " | nospace}}"#,
                "Hello World ab",
            ),
            (r#"{{"don't x-ray" | title}}"#, "Don'T X-Ray"),
            (
                r#"{{"-" | repeat 3}} {{cat "hello" "beautiful" "world"}}"#,
                "--- hello beautiful world",
            ),
            (
                r#"{{"xxhixx" | trimAll "x"}} {{"f.go" | trimSuffix ".go"}}"#,
                "hi f",
            ),
            (r#"{{abbrev 5 "hello world"}}"#, "he..."),
            (r#"{{abbrevboth 5 10 "1234 5678 9123"}}"#, "...5678..."),
            (
                r#"{{untitle "Hello World"}} {{swapcase "This Is A.Test"}}"#,
                "hello world tHIS iS a.tEST",
            ),
            (
                r#"{{initials "First Try"}} {{substr 0 5 "hello world"}}"#,
                "FT hello",
            ),
            (
                r#"{{snakecase "FirstName"}} {{kebabcase "FirstName"}} {{camelcase "http_server"}}"#,
                "first_name first-name HttpServer",
            ),
            (r#"{{wrap 5 "Hello World"}}"#, "Hello\nWorld"),
            (r#"{{wrapWith 5 "\t" "Hello World"}}"#, "Hello\tWorld"),
            (
                r#"[{{indent 4 "a\nb"}}][{{nindent 2 "x"}}]"#,
                "[    a\n    b][\n  x]",
            ),
            (
                r#"{{plural "one anchovy" "many anchovies" 2}}"#,
                "many anchovies",
            ),
            (
                r#"{{$a := split "$" "foo$bar$baz"}}{{$a._0}} {{$a._2}}"#,
                "foo baz",
            ),
            (
                r#"{{$a := splitn "$" 2 "foo$bar$baz"}}{{$a._1}}"#,
                "bar$baz",
            ),
            (r#"{{splitList "$" "foo$bar$baz"}}"#, "[foo bar baz]"),
            (
                r#"{{list "a" "b" | join "-"}} {{list "c" "a" "b" | sortAlpha}}"#,
                "a-b [a b c]",
            ),
            (r#"{{hello}} {{toString 12}}"#, "Hello! 12"),
        ]);
    }
}
