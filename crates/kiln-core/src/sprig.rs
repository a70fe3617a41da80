//! Skaffold's template functions beyond Go's builtins: the commonly used part of sprig
//! (github.com/Masterminds/sprig/v3, which Skaffold's `ExpandEnvTemplate` registers) and
//! Skaffold's `cmd`. kiln-core runs no process, so `cmd` calls a runner the caller installs
//! once ([`install_command_runner`]); until then it is an error that says so.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use gotmpl::{Template, TemplateError, Value};
use sha2::{Digest as _, Sha256};

/// Runs `name` with `args` and returns its trimmed stdout, or a message on failure.
pub type CommandRunner =
    Arc<dyn Fn(&str, &[String]) -> std::result::Result<String, String> + Send + Sync>;

static RUNNER: OnceLock<CommandRunner> = OnceLock::new();

/// Gives Skaffold's `cmd` template function its process runner (the first call wins).
pub fn install_command_runner(runner: CommandRunner) {
    let _ = RUNNER.set(runner);
}

type Result<T> = std::result::Result<T, TemplateError>;

fn fail(message: String) -> TemplateError {
    TemplateError::Exec(message)
}

/// A string argument as sprig's `toString` gives it (`Display`, nil as empty).
fn text(v: &Value) -> String {
    match v {
        Value::Nil => String::new(),
        other => other.to_string(),
    }
}

fn arg<'a>(name: &str, args: &'a [Value], i: usize, of: usize) -> Result<&'a Value> {
    if args.len() != of {
        return Err(fail(format!(
            "{name} takes {of} argument(s), got {}",
            args.len()
        )));
    }
    Ok(&args[i])
}

fn string(s: impl Into<Arc<str>>) -> Value {
    Value::String(s.into())
}

/// sprig's `empty`: Go's zero values and empty collections.
fn is_empty(v: &Value) -> bool {
    !v.is_truthy()
}

/// One-string functions: `f(s)`.
fn unary(t: Template, name: &'static str, f: fn(&str) -> String) -> Template {
    t.func(name, move |args| {
        Ok(string(f(&text(arg(name, args, 0, 1)?))))
    })
}

/// Two-string functions in sprig's pipeline order: `name ARG S` is `f(S, ARG)`.
fn binary(t: Template, name: &'static str, f: fn(&str, &str) -> Value) -> Template {
    t.func(name, move |args| {
        let a = text(arg(name, args, 0, 2)?);
        Ok(f(&text(&args[1]), &a))
    })
}

/// Registers the sprig functions kiln offers, and `cmd`, on `t`.
pub(crate) fn register(t: Template) -> Template {
    let t = unary(t, "upper", str::to_uppercase);
    let t = unary(t, "lower", str::to_lowercase);
    let t = unary(t, "trim", |s| s.trim().to_owned());
    let t = unary(t, "title", |s| {
        s.split(' ')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            })
            .collect::<Vec<String>>()
            .join(" ")
    });
    let t = unary(t, "nospace", |s| s.split_whitespace().collect());
    let t = unary(t, "quote", |s| format!("{s:?}"));
    let t = unary(t, "squote", |s| format!("'{s}'"));
    let t = unary(t, "toString", str::to_owned);
    let t = unary(t, "b64enc", |s| {
        base64::engine::general_purpose::STANDARD.encode(s)
    });
    let t = unary(t, "sha256sum", |s| {
        hex::encode(Sha256::digest(s.as_bytes()))
    });
    let t = t.func("b64dec", |args| {
        let s = text(arg("b64dec", args, 0, 1)?);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(|e| fail(format!("b64dec: {e}")))?;
        Ok(string(String::from_utf8_lossy(&bytes).into_owned()))
    });
    let t = binary(t, "trimPrefix", |s, p| {
        string(s.strip_prefix(p).unwrap_or(s))
    });
    let t = binary(t, "trimSuffix", |s, p| {
        string(s.strip_suffix(p).unwrap_or(s))
    });
    let t = binary(t, "trimAll", |s, cut| {
        string(s.trim_matches(|c| cut.contains(c)))
    });
    let t = binary(t, "contains", |s, sub| Value::Bool(s.contains(sub)));
    let t = binary(t, "hasPrefix", |s, p| Value::Bool(s.starts_with(p)));
    let t = binary(t, "hasSuffix", |s, p| Value::Bool(s.ends_with(p)));
    let t = t.func("replace", |args| {
        let old = text(arg("replace", args, 0, 3)?);
        Ok(string(text(&args[2]).replace(&old, &text(&args[1]))))
    });
    let t = t.func("repeat", |args| {
        let n = text(arg("repeat", args, 0, 2)?);
        let n: usize = n
            .parse()
            .map_err(|_| fail(format!("repeat: `{n}` is not a count")))?;
        Ok(string(text(&args[1]).repeat(n)))
    });
    let t = t.func("trunc", |args| {
        let n = text(arg("trunc", args, 0, 2)?);
        let n: i64 = n
            .parse()
            .map_err(|_| fail(format!("trunc: `{n}` is not a length")))?;
        let s: Vec<char> = text(&args[1]).chars().collect();
        let len = s.len() as i64;
        // sprig: a negative length keeps the end.
        let kept: String = if n >= 0 {
            s[..n.min(len) as usize].iter().collect()
        } else {
            s[(len + n).max(0) as usize..].iter().collect()
        };
        Ok(string(kept))
    });
    let t = t.func("default", |args| {
        let fallback = arg("default", args, 0, 2)?;
        Ok(if is_empty(&args[1]) {
            fallback.clone()
        } else {
            args[1].clone()
        })
    });
    let t = t.func("empty", |args| {
        Ok(Value::Bool(is_empty(arg("empty", args, 0, 1)?)))
    });
    let t = t.func("coalesce", |args| {
        Ok(args
            .iter()
            .find(|v| !is_empty(v))
            .cloned()
            .unwrap_or(Value::Nil))
    });
    let t = t.func("ternary", |args| {
        let yes = arg("ternary", args, 0, 3)?;
        Ok(if args[2].is_truthy() {
            yes.clone()
        } else {
            args[1].clone()
        })
    });
    let t = t.func("cat", |args| {
        Ok(string(
            args.iter()
                .filter(|v| !matches!(v, Value::Nil))
                .map(text)
                .collect::<Vec<_>>()
                .join(" "),
        ))
    });
    t.func("cmd", |args| {
        let Some((name, rest)) = args.split_first() else {
            return Err(fail(
                "cmd takes a command name and its arguments".to_owned(),
            ));
        };
        let Some(runner) = RUNNER.get() else {
            return Err(fail("cmd cannot run a process in this template".to_owned()));
        };
        let rest: Vec<String> = rest.iter().map(text).collect();
        runner(&text(name), &rest).map(string).map_err(fail)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::template::render_skaffold;

    fn render(template: &str) -> String {
        let env = BTreeMap::from([
            ("EMPTY".to_owned(), String::new()),
            ("RELEASE".to_owned(), "v1.2.3".to_owned()),
        ]);
        render_skaffold(template, &env, None).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn sprig_string_functions_give_sprigs_results() {
        // Expected values from sprig v3's documented behaviour (strings.go, defaults.go).
        for (template, expected) in [
            (r#"{{.RELEASE | upper | trimPrefix "V"}}"#, "1.2.3"),
            (r#"{{.EMPTY | default "dev"}}"#, "dev"),
            (r#"{{.RELEASE | default "dev"}}"#, "v1.2.3"),
            (r#"{{replace "." "-" .RELEASE}}"#, "v1-2-3"),
            (r#"{{.RELEASE | trunc 2}}-{{.RELEASE | trunc -2}}"#, "v1-.3"),
            (r#"{{"a b" | quote}} {{"x" | squote}}"#, r#""a b" 'x'"#),
            (
                r#"{{hasPrefix "v" .RELEASE}} {{contains "9" .RELEASE}}"#,
                "true false",
            ),
            (
                r#"{{coalesce .EMPTY "" "z"}} {{ternary "y" "n" true}}"#,
                "z y",
            ),
            (r#"{{"hi" | b64enc}} {{"aGk=" | b64dec}}"#, "aGk= hi"),
            (
                r#"{{"hello world" | title}} {{" a b " | nospace}}"#,
                "Hello World ab",
            ),
            (
                r#"{{"-" | repeat 3}} {{cat "a" "b"}} {{empty .EMPTY}}"#,
                "--- a b true",
            ),
            (r#"{{"abc" | sha256sum | trunc 8}}"#, "ba7816bf"),
            (
                r#"{{"xxhixx" | trimAll "x"}} {{"f.go" | trimSuffix ".go"}}"#,
                "hi f",
            ),
        ] {
            assert_eq!(render(template), expected, "{template}");
        }
    }

    #[test]
    fn cmd_without_an_installed_runner_is_an_error_that_says_so() {
        // The unit-test process installs no runner (the CLI does, through kiln-pipeline).
        assert!(
            render(r#"{{cmd "echo" "x"}}"#).contains("cmd cannot run a process"),
            "{}",
            render(r#"{{cmd "echo" "x"}}"#)
        );
    }
}
