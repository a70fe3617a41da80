//! Writing a string as a YAML scalar that every reader of Kubernetes manifests (go-yaml v2's
//! YAML 1.1 in kubectl, go-yaml v3 in ko and Skaffold, YAML 1.2 parsers) reads back as the
//! same string.

use crate::yaml::{Resolved, resolve_plain};

/// Whether `s` can be written as a plain (unquoted) scalar and still be read as this string.
/// `in_flow` is true inside `[...]`/`{...}`, where `,[]{}` end a plain scalar.
pub(crate) fn plain_safe(s: &str, in_flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if resolve_plain(s) != Resolved::Str || yaml11_non_string(s) {
        return false;
    }
    // `-` starts a plain scalar when a non-blank follows (`--headless`), except a document
    // marker.
    let dash_ok = first == '-'
        && s.chars().nth(1).is_some_and(|c| !c.is_whitespace())
        && !s.starts_with("---");
    if first.is_whitespace()
        || (!dash_ok && "-?:,[]{}#&*!|>'\"%@`".contains(first))
        || s.starts_with("...")
        || s.chars().last().is_some_and(char::is_whitespace)
        || s.ends_with(':')
        || s.contains(": ")
        || s.contains(":\t")
        || s.contains(" #")
        || s.contains("\t#")
        || s.chars().any(needs_escape)
    {
        return false;
    }
    !(in_flow && s.contains([',', '[', ']', '{', '}']))
}

/// Strings that YAML 1.1 (go-yaml v2, which kubectl uses) reads as something else even though
/// YAML 1.2 does not: `yes`/`no`/`on`/`off`/`y`/`n`, `=` and base-60 numbers (`1:20`).
fn yaml11_non_string(s: &str) -> bool {
    const WORDS: [&str; 17] = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF", "=",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let starts_numeric = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '+' || c == '-' || c == '.');
    starts_numeric
        && s.contains(':')
        && s.chars().all(|c| c.is_ascii_digit() || "_:.+-".contains(c))
}

/// Characters that only a double-quoted scalar can carry as-is.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// `'...'`, or `None` if `s` has a line break or a control character (which single quotes
/// cannot carry unchanged).
pub(crate) fn single_quoted(s: &str) -> Option<String> {
    if s.chars().any(needs_escape) {
        return None;
    }
    Some(format!("'{}'", s.replace('\'', "''")))
}

/// `"..."` with YAML escapes.
pub(crate) fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (c as u32) < 0x100 && needs_escape(c) => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A new string for a position where any flow scalar may stand: plain when safe, else single
/// quotes, else double quotes (go-yaml's order of preference).
pub(crate) fn any_style(s: &str, in_flow: bool) -> String {
    if plain_safe(s, in_flow) {
        s.to_owned()
    } else {
        single_quoted(s).unwrap_or_else(|| double_quoted(s))
    }
}

/// Whether `s` fits on one line of a `|-`/`>-` block scalar unchanged.
pub(crate) fn block_line_safe(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with([' ', '\t'])
        && !s.ends_with([' ', '\t'])
        && !s.chars().any(needs_escape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_only_when_read_back_as_the_same_string() {
        for s in [
            "gcr.io/p/app:v1@sha256:0123",
            "ko://github.com/a/b",
            "a:b",
            "a#b",
            "--headless",
            "--listen=:56268",
            "-x",
            "hello world",
        ] {
            assert!(plain_safe(s, false), "{s}");
        }
        for s in [
            "",
            "8080",
            "true",
            "yes",
            "off",
            "null",
            "~",
            "1:20",
            "- x",
            "a: b",
            "a #b",
            "#x",
            "*x",
            "&x",
            "!x",
            "{a}",
            "'q'",
            " x",
            "x ",
            "a\nb",
            "x:",
            "1e3",
            "2001-01-01",
            "0x1F",
            "@x",
            "-",
            "---",
            "--- x",
            "...",
            "-1",
            "-.5",
        ] {
            assert!(!plain_safe(s, false), "{s:?}");
        }
        assert!(!plain_safe("a,b", true));
        assert!(plain_safe("a,b", false));
    }

    #[test]
    fn quoting() {
        assert_eq!(single_quoted("it's").as_deref(), Some("'it''s'"));
        assert_eq!(single_quoted("a\nb"), None);
        assert_eq!(double_quoted("a\"b\\c\n\t\u{1}"), r#""a\"b\\c\n\t\x01""#);
        assert_eq!(any_style("{\"a\":1}", false), r#"'{"a":1}'"#);
        assert_eq!(any_style("8080", false), "'8080'");
        assert_eq!(any_style("x", false), "x");
    }
}
