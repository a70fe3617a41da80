//! Skaffold's template functions beyond Go's builtins: every function of sprig v2.22
//! (github.com/Masterminds/sprig, whose `FuncMap` Skaffold's `ParseEnvTemplate` registers)
//! and Skaffold's `cmd`.
//!
//! kiln-core does no I/O, so what sprig reads from the process comes in as data
//! ([`TemplateInputs`]): `env`/`expandenv` read the given environment, `now` and the date
//! functions read the given clock, and `cmd` calls the given runner. Functions whose
//! result would differ on every run (`randAlpha`, `uuidv4`, `shuffle`, key and certificate
//! generation, AES) or that need the network (`getHostByName`) are an error that says so:
//! a template that uses them could never give a reproducible build.

mod dates;
mod encoding;
mod lists;
mod numbers;
mod strings;

pub(crate) use lists::to_json;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use gotmpl::{Template, TemplateError, Value};

/// Runs one `{{cmd "name" "arg"…}}` call for a template (Skaffold's `runCmdFunc`): the
/// program with its arguments; the trimmed stdout, or a message naming the command and
/// why it failed.
pub trait CommandRunner: Send + Sync {
    fn run(&self, program: &str, args: &[String]) -> std::result::Result<String, String>;
}

/// What Skaffold's template functions read from outside the template.
#[derive(Clone, Default)]
pub struct TemplateInputs {
    /// The process environment, for `env` and `expandenv` (Skaffold reads the live one).
    pub environment: BTreeMap<String, String>,
    /// The current time in Unix seconds, for `now`, `ago` and `date` without a time.
    /// `None`: those are an error saying no clock was given.
    pub now_unix: Option<i64>,
    /// Runs `cmd`. `None`: `cmd` is an error saying this template cannot run commands.
    pub commands: Option<Arc<dyn CommandRunner>>,
}

impl fmt::Debug for TemplateInputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateInputs")
            .field("environment", &self.environment.len())
            .field("now_unix", &self.now_unix)
            .field("commands", &self.commands.is_some())
            .finish()
    }
}

/// Equal when they have the same environment and clock and both can run commands or
/// neither can (a runner is a way to run, not a value: two plans made in the same run
/// compare equal).
impl PartialEq for TemplateInputs {
    fn eq(&self, other: &Self) -> bool {
        self.environment == other.environment
            && self.now_unix == other.now_unix
            && self.commands.is_some() == other.commands.is_some()
    }
}

impl Eq for TemplateInputs {}

type Result<T> = std::result::Result<T, TemplateError>;

fn fail(message: impl Into<String>) -> TemplateError {
    TemplateError::Exec(message.into())
}

/// sprig's `strval`: a string as itself, anything else as Go's `%v` (nil as `<nil>`).
fn text(v: &Value) -> String {
    v.to_string()
}

fn string(s: impl Into<Arc<str>>) -> Value {
    Value::String(s.into())
}

fn list(items: impl IntoIterator<Item = Value>) -> Value {
    Value::List(items.into_iter().collect::<Vec<_>>().into())
}

fn map(entries: BTreeMap<Arc<str>, Value>) -> Value {
    Value::Map(Arc::new(entries))
}

/// Checks the argument count: exactly `n`.
fn arity(name: &str, args: &[Value], n: usize) -> Result<()> {
    at_least(name, args, n, n)
}

/// Checks the argument count: `min..=max`.
fn at_least(name: &str, args: &[Value], min: usize, max: usize) -> Result<()> {
    if (min..=max).contains(&args.len()) {
        return Ok(());
    }
    let wanted = if min == max {
        format!("{min}")
    } else if max == usize::MAX {
        format!("at least {min}")
    } else {
        format!("{min} to {max}")
    };
    Err(fail(format!(
        "wrong number of args for {name}: want {wanted} got {}",
        args.len()
    )))
}

/// An `int` parameter: Go's template refuses anything but an integer there.
fn int(name: &str, v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => i64::try_from(*u).map_err(|_| fail(format!("{name}: {u} overflows int"))),
        other => Err(fail(format!(
            "{name}: wrong type for value; expected int; got {}",
            other.type_name()
        ))),
    }
}

/// sprig's `toInt64`: lenient, 0 for what it cannot read.
fn to_int64(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Int(i) => *i,
        Value::Uint(u) => i64::try_from(*u).unwrap_or(i64::MAX),
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

/// sprig's `toFloat64`: lenient, 0 for what it cannot read.
fn to_float64(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0.0),
        Value::Int(i) => *i as f64,
        Value::Uint(u) => *u as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// sprig's `empty`: Go's zero values and empty collections.
fn is_empty(v: &Value) -> bool {
    !v.is_truthy()
}

/// A template function as a plain function pointer.
type Func = fn(&[Value]) -> Result<Value>;

/// The functions that cannot be pure, each with the reason.
const UNSUPPORTED: [(&str, &str); 15] = [
    ("randAlphaNum", "it gives a different value every run"),
    ("randAlpha", "it gives a different value every run"),
    ("randAscii", "it gives a different value every run"),
    ("randNumeric", "it gives a different value every run"),
    ("shuffle", "it gives a different value every run"),
    ("uuidv4", "it gives a different value every run"),
    ("genPrivateKey", "it gives a different value every run"),
    ("genCA", "it gives a different value every run"),
    ("genSelfSignedCert", "it gives a different value every run"),
    ("genSignedCert", "it gives a different value every run"),
    (
        "buildCustomCert",
        "kiln does not handle certificates in templates",
    ),
    (
        "derivePassword",
        "kiln does not derive passwords in templates",
    ),
    ("encryptAES", "it gives a different value every run"),
    ("decryptAES", "kiln does not decrypt in templates"),
    ("getHostByName", "it needs the network"),
];

/// Registers every sprig function and `cmd` on `t`, reading `inputs` where sprig reads
/// the process.
pub(crate) fn register(t: Template, inputs: &TemplateInputs) -> Template {
    let mut t = t;
    for (name, f) in strings::FUNCS
        .iter()
        .chain(numbers::FUNCS)
        .chain(lists::FUNCS)
        .chain(encoding::FUNCS)
        .chain(dates::PURE_FUNCS)
    {
        let f: Func = *f;
        t = t.func(name, f);
    }
    for (name, reason) in UNSUPPORTED {
        t = t.func(name, move |_| {
            Err(fail(format!(
                "sprig's `{name}` is not supported by kiln: {reason} (kiln renders templates reproducibly)"
            )))
        });
    }
    let t = dates::register_clock(t, inputs.now_unix);
    let environment = Arc::new(inputs.environment.clone());
    let t = {
        let environment = environment.clone();
        t.func("env", move |args| {
            arity("env", args, 1)?;
            Ok(string(
                environment
                    .get(&text(&args[0]))
                    .cloned()
                    .unwrap_or_default(),
            ))
        })
    };
    let t = t.func("expandenv", move |args| {
        arity("expandenv", args, 1)?;
        Ok(string(strings::expand_env(&text(&args[0]), &environment)))
    });
    let runner = inputs.commands.clone();
    t.func("cmd", move |args| {
        let Some((name, rest)) = args.split_first() else {
            return Err(fail("cmd takes a command name and its arguments"));
        };
        let Some(runner) = &runner else {
            return Err(fail("cmd cannot run a process in this template"));
        };
        let rest: Vec<String> = rest.iter().map(text).collect();
        runner.run(&text(name), &rest).map(string).map_err(fail)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::template::render_skaffold;

    /// Renders `template` over a small environment, at a fixed clock, with no runner;
    /// an error renders as its message.
    pub(crate) fn render(template: &str) -> String {
        render_with(
            template,
            &TemplateInputs {
                environment: BTreeMap::from([("HOME".to_owned(), "/home/me".to_owned())]),
                now_unix: Some(1_700_000_000),
                commands: None,
            },
        )
    }

    pub(crate) fn render_with(template: &str, inputs: &TemplateInputs) -> String {
        let env = BTreeMap::from([
            ("EMPTY".to_owned(), String::new()),
            ("RELEASE".to_owned(), "v1.2.3".to_owned()),
        ]);
        render_skaffold(template, &env, None, inputs).unwrap_or_else(|e| e.to_string())
    }

    pub(crate) fn check(cases: &[(&str, &str)]) {
        for (template, expected) in cases {
            assert_eq!(render(template), *expected, "{template}");
        }
    }

    struct Echo;
    impl CommandRunner for Echo {
        fn run(&self, program: &str, args: &[String]) -> std::result::Result<String, String> {
            match program {
                "fail" => Err(format!("cmd {program}: exit status: 1")),
                _ => Ok(format!("{program}({})", args.join(","))),
            }
        }
    }

    /// Every name in sprig v2.22's `genericMap` (functions.go), which Skaffold registers.
    const SPRIG_V2_22: &[&str] = &[
        "hello",
        "date",
        "date_in_zone",
        "date_modify",
        "now",
        "htmlDate",
        "htmlDateInZone",
        "dateInZone",
        "dateModify",
        "ago",
        "toDate",
        "unixEpoch",
        "abbrev",
        "abbrevboth",
        "trunc",
        "trim",
        "upper",
        "lower",
        "title",
        "untitle",
        "substr",
        "repeat",
        "trimall",
        "trimAll",
        "trimSuffix",
        "trimPrefix",
        "nospace",
        "initials",
        "randAlphaNum",
        "randAlpha",
        "randAscii",
        "randNumeric",
        "swapcase",
        "shuffle",
        "snakecase",
        "camelcase",
        "kebabcase",
        "wrap",
        "wrapWith",
        "contains",
        "hasPrefix",
        "hasSuffix",
        "quote",
        "squote",
        "cat",
        "indent",
        "nindent",
        "replace",
        "plural",
        "sha1sum",
        "sha256sum",
        "adler32sum",
        "toString",
        "atoi",
        "int64",
        "int",
        "float64",
        "toDecimal",
        "split",
        "splitList",
        "splitn",
        "toStrings",
        "until",
        "untilStep",
        "add1",
        "add",
        "sub",
        "div",
        "mod",
        "mul",
        "biggest",
        "max",
        "min",
        "ceil",
        "floor",
        "round",
        "join",
        "sortAlpha",
        "default",
        "empty",
        "coalesce",
        "compact",
        "deepCopy",
        "toJson",
        "toPrettyJson",
        "ternary",
        "typeOf",
        "typeIs",
        "typeIsLike",
        "kindOf",
        "kindIs",
        "deepEqual",
        "env",
        "expandenv",
        "getHostByName",
        "base",
        "dir",
        "clean",
        "ext",
        "isAbs",
        "b64enc",
        "b64dec",
        "b32enc",
        "b32dec",
        "tuple",
        "list",
        "dict",
        "set",
        "unset",
        "hasKey",
        "pluck",
        "keys",
        "pick",
        "omit",
        "merge",
        "mergeOverwrite",
        "values",
        "append",
        "push",
        "prepend",
        "first",
        "rest",
        "last",
        "initial",
        "reverse",
        "uniq",
        "without",
        "has",
        "slice",
        "concat",
        "genPrivateKey",
        "derivePassword",
        "buildCustomCert",
        "genCA",
        "genSelfSignedCert",
        "genSignedCert",
        "encryptAES",
        "decryptAES",
        "uuidv4",
        "semver",
        "semverCompare",
        "fail",
        "regexMatch",
        "regexFindAll",
        "regexFind",
        "regexReplaceAll",
        "regexReplaceAllLiteral",
        "regexSplit",
        "urlParse",
        "urlJoin",
    ];

    #[test]
    fn every_sprig_function_skaffold_registers_is_defined() {
        let undefined = render("{{nosuchfunction}}");
        assert!(undefined.contains("nosuchfunction"), "{undefined}");
        let undefined = undefined.replace("nosuchfunction", "");
        for name in SPRIG_V2_22 {
            // Called without arguments: a result or an argument error, never "undefined".
            let out = render(&format!("{{{{{name}}}}}")).replace(name, "");
            assert_ne!(out, undefined, "{name}");
        }
    }

    #[test]
    fn cmd_calls_the_given_runner_and_fails_without_one() {
        let inputs = TemplateInputs {
            commands: Some(Arc::new(Echo)),
            ..TemplateInputs::default()
        };
        assert_eq!(
            render_with(r#"{{cmd "git" "describe" "--tags"}}"#, &inputs),
            "git(describe,--tags)"
        );
        assert!(
            render_with(r#"{{cmd "fail"}}"#, &inputs).contains("cmd fail: exit status: 1"),
            "{}",
            render_with(r#"{{cmd "fail"}}"#, &inputs)
        );
        assert!(render(r#"{{cmd "echo" "x"}}"#).contains("cmd cannot run a process"));
    }

    #[test]
    fn os_functions_read_the_given_environment() {
        check(&[
            (r#"{{env "HOME"}}|{{env "NOPE"}}"#, "/home/me|"),
            (
                r#"{{expandenv "at $HOME/${HOME}x $NOPE."}}"#,
                "at /home/me//home/mex .",
            ),
        ]);
    }

    #[test]
    fn impure_functions_are_errors_that_say_why() {
        for f in [
            "randAlpha 3",
            "uuidv4",
            "genCA \"x\" 3",
            "getHostByName \"a\"",
        ] {
            let out = render(&format!("{{{{{f}}}}}"));
            assert!(out.contains("is not supported by kiln"), "{f}: {out}");
        }
    }
}
