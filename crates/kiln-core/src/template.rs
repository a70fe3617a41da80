//! Go `text/template` rendering of build flags, ldflags and env values, in the two
//! dialects kiln accepts, on top of the `gotmpl` crate.
//!
//! * **ko** ([`render_ko`], `.ko.yaml` `flags`/`ldflags`): `missingkey=error` over
//!   `.Env`, `.GoEnv`, `.Date`, `.Timestamp` and `.Git.*`, as ko's `createTemplateData`.
//! * **Skaffold** ([`render_skaffold`], skaffold.yaml `ko.env`/`flags`/`ldflags`): the data
//!   is the environment map itself (`{{.FOO}}`), and `{{.Env.` is first rewritten to `{{.`
//!   as Skaffold does. kiln differs from Skaffold on purpose in two ways: an unset variable
//!   is an error naming it (Skaffold prints `<no value>`), and the ko values (`.Git.*`,
//!   `.Date`, `.Timestamp`, `.GoEnv`) are available too when the caller supplies them.
//!
//! The Skaffold dialect also has sprig's functions and Skaffold's `cmd`, over the
//! environment, clock and command runner the caller passes in (see [`crate::sprig`]). The Go builtins
//! (`printf`, `index`, `len`, `eq`, `and`, ...) all work.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{MissingKey, Template, ToValue, Value};

use crate::gotime::rfc3339_utc;
use crate::sprig::TemplateInputs;

/// Go's zero `time.Time` as Unix seconds (`0001-01-01T00:00:00Z`): what ko's `.Git`
/// commit date is outside a git repository.
pub const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// The template does not parse. `message` is gotmpl's Go-style message, with position.
    #[error("invalid template {template:?}: {message}")]
    Parse { template: String, message: String },
    /// ko dialect: a field the data does not have (`missingkey=error`).
    #[error("template {template:?}: map has no entry for key {key:?}")]
    MissingKey { template: String, key: String },
    /// Skaffold dialect: the template names a variable that is not set.
    #[error(
        "template {template:?}: map has no entry for key {name:?}: no environment variable or template value is named {name:?}"
    )]
    UnsetVariable { template: String, name: String },
    /// Any other execution error (wrong argument types, calling an unknown function, ...).
    #[error("template {template:?}: {message}")]
    Exec { template: String, message: String },
}

/// What ko knows about the git checkout (its `git.Info`). The caller runs git; see
/// ko's `pkg/internal/git/info.go` for the commands. Outside a repository use
/// `GitInfo::default()`, which is what ko renders then (empty strings, `clean`, and Go's
/// zero time as the commit date). Inside a repository without tags ko sets `tag` to
/// `v0.0.0`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitInfo {
    pub branch: String,
    pub tag: String,
    pub short_commit: String,
    pub full_commit: String,
    /// Commit time in Unix seconds (`git show --format=%ct`); `None` for Go's zero time.
    pub commit_unix: Option<i64>,
    pub dirty: bool,
}

impl GitInfo {
    /// ko's `TemplateValue`: the `.Git` map.
    fn to_value(&self) -> Value {
        let commit = self.commit_unix.unwrap_or(GO_ZERO_TIME_UNIX);
        let tree_state = if self.dirty { "dirty" } else { "clean" };
        let entries: [(&str, Value); 9] = [
            ("Branch", self.branch.to_value()),
            ("Tag", self.tag.to_value()),
            ("ShortCommit", self.short_commit.to_value()),
            ("FullCommit", self.full_commit.to_value()),
            ("CommitDate", rfc3339_utc(commit).to_value()),
            ("CommitTimestamp", Value::Int(commit)),
            ("IsDirty", Value::Bool(self.dirty)),
            ("IsClean", Value::Bool(!self.dirty)),
            ("TreeState", tree_state.to_value()),
        ];
        map_value(entries.into_iter().map(|(k, v)| (k.to_owned(), v)))
    }
}

/// The data of ko's templates (`createTemplateData`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KoTemplateData {
    /// `.Env`: the final build environment (OS env included).
    pub env: BTreeMap<String, String>,
    /// `.GoEnv`: parsed `go env`.
    pub go_env: BTreeMap<String, String>,
    /// `.Date`: the build time, RFC 3339.
    pub date: String,
    /// `.Timestamp`: the build time, Unix seconds.
    pub timestamp: i64,
    /// `.Git`.
    pub git: GitInfo,
}

impl KoTemplateData {
    /// Builds the data as ko does: `.Env` gets `LDFLAGS=""` unless set, `.GoEnv` entries
    /// are overridden by env entries of the same name, and `.Date`/`.Timestamp` come from
    /// `build_time_unix` (SOURCE_DATE_EPOCH or now, chosen by the caller). `.Date` is
    /// written in UTC (`…Z`); ko writes the same instant in the local zone.
    pub fn new(
        mut env: BTreeMap<String, String>,
        mut go_env: BTreeMap<String, String>,
        git: GitInfo,
        build_time_unix: i64,
    ) -> Self {
        env.entry("LDFLAGS".to_owned()).or_default();
        for (k, v) in &mut go_env {
            if let Some(e) = env.get(k) {
                v.clone_from(e);
            }
        }
        KoTemplateData {
            env,
            go_env,
            date: rfc3339_utc(build_time_unix),
            timestamp: build_time_unix,
            git,
        }
    }

    /// The non-`.Env` entries, shared by both dialects.
    fn extra_entries(&self) -> [(String, Value); 4] {
        [
            ("GoEnv".to_owned(), self.go_env.to_value()),
            ("Git".to_owned(), self.git.to_value()),
            ("Date".to_owned(), self.date.to_value()),
            ("Timestamp".to_owned(), Value::Int(self.timestamp)),
        ]
    }
}

fn map_value(entries: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Map(Arc::new(
        entries
            .into_iter()
            .map(|(k, v)| (Arc::<str>::from(k), v))
            .collect(),
    ))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Ko,
    Skaffold,
}

/// Go's `index` builtin, with Go's result for a missing map key: the zero value of the
/// map's element type. ko's `.Env`/`.GoEnv` and Skaffold's data are `map[string]string`,
/// so that is `""`; ko's top-level and `.Git` maps are `map[string]any`, giving `nil`
/// (`<no value>`). gotmpl's own `index` always gives `nil`. In the ko dialect a map is
/// taken as `map[string]string` when all its values are strings (exact for ko's data);
/// in the Skaffold dialect every map is.
fn go_index(dialect: Dialect, args: &[Value]) -> gotmpl::Result<Value> {
    let Some((first, indices)) = args.split_first() else {
        return Err(gotmpl::TemplateError::ArgCount {
            name: "index".to_owned(),
            expected: 1,
            got: 0,
        });
    };
    let mut item = first.clone();
    for idx in indices {
        let next = item.index(idx)?;
        item = match (&item, &next, idx) {
            (Value::Map(m), Value::Nil, Value::String(k))
                if !m.contains_key(k)
                    && (dialect == Dialect::Skaffold
                        || m.values().all(|v| matches!(v, Value::String(_)))) =>
            {
                Value::String(Arc::from(""))
            }
            _ => next,
        };
    }
    Ok(item)
}

fn render(
    dialect: Dialect,
    source: &str,
    user_template: &str,
    data: &Value,
    inputs: &TemplateInputs,
) -> Result<String, TemplateError> {
    let name = match dialect {
        Dialect::Ko => "argsTmpl",
        Dialect::Skaffold => "envTemplate",
    };
    let tmpl = Template::new(name)
        .missing_key(MissingKey::Error)
        .func("index", move |args| go_index(dialect, args));
    // Skaffold's templates also have sprig's functions and `cmd`; ko's have neither.
    let tmpl = match dialect {
        Dialect::Skaffold => crate::sprig::register(tmpl, inputs),
        Dialect::Ko => tmpl,
    };
    let tmpl = tmpl.parse(source).map_err(|e| TemplateError::Parse {
        template: user_template.to_owned(),
        message: e.to_string(),
    })?;
    tmpl.execute_to_string(data).map_err(|e| match e {
        gotmpl::TemplateError::MissingKey { key } => match dialect {
            Dialect::Ko => TemplateError::MissingKey {
                template: user_template.to_owned(),
                key,
            },
            Dialect::Skaffold => TemplateError::UnsetVariable {
                template: user_template.to_owned(),
                name: key,
            },
        },
        other => TemplateError::Exec {
            template: user_template.to_owned(),
            message: other.to_string(),
        },
    })
}

/// Renders one ko flag or ldflag template (`missingkey=error`).
pub fn render_ko(template: &str, data: &KoTemplateData) -> Result<String, TemplateError> {
    let value = map_value(
        std::iter::once(("Env".to_owned(), data.env.to_value())).chain(data.extra_entries()),
    );
    render(
        Dialect::Ko,
        template,
        template,
        &value,
        &TemplateInputs::default(),
    )
}

/// Renders one skaffold.yaml `ko` env/flag/ldflag template.
///
/// `env` is what Skaffold would use: the OS environment plus `IMAGE_REPO`, `IMAGE_NAME`
/// and `IMAGE_TAG` of the final reference (the caller fills it). The data is one map:
///
/// * every `env` entry at the top level (`{{.FOO}}`), and also under `.Env` (so
///   `{{.Env.FOO}}` works even where Skaffold's literal `{{.Env.` → `{{.` rewrite does
///   not apply, e.g. `{{ .Env.FOO }}` or `{{ index .Env "FOO" }}`);
/// * when `ko` is given, kiln's extension: `.GoEnv`, `.Git`, `.Date`, `.Timestamp`
///   from it (its own `env` is not used).
///
/// An environment variable wins over a ko value of the same name (`Date`, `Git`, ...),
/// so a template that renders under Skaffold renders identically here. A missing key is
/// an error naming it. `inputs` is what sprig's functions and `cmd` read from outside.
pub fn render_skaffold(
    template: &str,
    env: &BTreeMap<String, String>,
    ko: Option<&KoTemplateData>,
    inputs: &TemplateInputs,
) -> Result<String, TemplateError> {
    let mut data: BTreeMap<String, Value> = BTreeMap::new();
    data.insert("Env".to_owned(), env.to_value());
    if let Some(ko) = ko {
        data.extend(ko.extra_entries());
    }
    data.extend(env.iter().map(|(k, v)| (k.clone(), v.to_value())));
    let source = template.replace("{{.Env.", "{{.");
    render(
        Dialect::Skaffold,
        &source,
        template,
        &map_value(data),
        inputs,
    )
}

/// Skaffold's `build --output` template: Go template over `{Builds: [{ImageName, Tag}]}`,
/// with Skaffold's `json` function (which writes the JSON field names, `imageName`).
pub fn render_build_output(
    template: &str,
    builds: &[(String, String)],
) -> Result<String, TemplateError> {
    let builds: Vec<Value> = builds
        .iter()
        .map(|(image, tag)| {
            map_value([
                ("ImageName".to_owned(), image.to_value()),
                ("Tag".to_owned(), tag.to_value()),
            ])
        })
        .collect();
    let data = map_value([("Builds".to_owned(), Value::List(builds.into()))]);
    let exec_error = |message: String| TemplateError::Exec {
        template: template.to_owned(),
        message,
    };
    Template::new("output")
        .missing_key(MissingKey::Error)
        .func("json", |args| match args {
            [value] => Ok(Value::String(json_of(value).to_string().into())),
            _ => Err(gotmpl::TemplateError::Exec(
                "json takes one argument".into(),
            )),
        })
        .parse(template)
        .map_err(|e| TemplateError::Parse {
            template: template.to_owned(),
            message: e.to_string(),
        })?
        .execute_to_string(&data)
        .map_err(|e| exec_error(e.to_string()))
}

/// A template value as JSON, with Go struct field names turned into their JSON names
/// (`ImageName` → `imageName`), as Skaffold's types declare them.
fn json_of(value: &Value) -> serde_json::Value {
    crate::sprig::to_json(value, &|k| {
        let mut chars = k.chars();
        chars
            .next()
            .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_output_templates_match_skaffold() {
        let builds = [("app".to_owned(), "r/app:v1@sha256:00".to_owned())];
        assert_eq!(
            render_build_output("{{json .}}", &builds).unwrap(),
            r#"{"builds":[{"imageName":"app","tag":"r/app:v1@sha256:00"}]}"#
        );
        assert_eq!(
            render_build_output("{{range .Builds}}{{.ImageName}}={{.Tag}};{{end}}", &builds)
                .unwrap(),
            "app=r/app:v1@sha256:00;"
        );
        assert!(render_build_output("{{.Nope}}", &builds).is_err());
    }

    use super::*;

    fn ko_data() -> KoTemplateData {
        KoTemplateData {
            env: BTreeMap::from([
                ("VERSION".to_owned(), "v1.2.3".to_owned()),
                ("HOME".to_owned(), "/root".to_owned()),
            ]),
            go_env: BTreeMap::from([("GOOS".to_owned(), "linux".to_owned())]),
            date: "2024-05-06T07:08:09Z".to_owned(),
            timestamp: 1_714_979_289,
            git: GitInfo {
                branch: "main".into(),
                tag: "v1.2.3".into(),
                short_commit: "abc1234".into(),
                full_commit: "abc1234def5678abc1234def5678abc1234def56".into(),
                commit_unix: Some(1_700_000_000),
                dirty: true,
            },
        }
    }

    fn ko(t: &str) -> Result<String, TemplateError> {
        render_ko(t, &ko_data())
    }

    /// rust-deps.md §5: the 8 checks run against Go 1.27 `text/template`, with ko's
    /// `missingkey=error` (Go's output there is an error, not `<no value>`).
    #[test]
    fn go_parity_table() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            (
                "-X main.version={{.Env.VERSION}}",
                Ok("-X main.version=v1.2.3"),
            ),
            (
                "{{.Git.ShortCommit}} {{.Date}}",
                Ok("abc1234 2024-05-06T07:08:09Z"),
            ),
            ("{{.Env.MISSING}}", Err("MISSING")),
            ("{{ if .Git.IsDirty }}dirty{{ end }}", Ok("dirty")),
            (
                "{{- .Env.VERSION -}} / {{ printf \"%s-%d\" .Env.VERSION 7 }}",
                Ok("v1.2.3/ v1.2.3-7"),
            ),
            (
                "{{ index .Env \"VERSION\" }} {{ len .Env }}",
                Ok("v1.2.3 2"),
            ),
            ("{{ .Env.VERSION | printf \"%q\" }}", Ok("\"v1.2.3\"")),
            ("{{ .Nope.Deeper }}", Err("Nope")),
        ];
        for (t, want) in cases {
            match (ko(t), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, *w, "{t}"),
                (Err(TemplateError::MissingKey { key, .. }), Err(k)) => assert_eq!(key, *k, "{t}"),
                (got, _) => panic!("{t}: unexpected {got:?}"),
            }
        }
    }

    #[test]
    fn ko_values_and_builtins() {
        assert_eq!(
            ko("{{.Git.Branch}} {{.Git.Tag}} {{.Git.FullCommit}} {{.Git.TreeState}}").unwrap(),
            "main v1.2.3 abc1234def5678abc1234def5678abc1234def56 dirty"
        );
        assert_eq!(
            ko("{{.Git.CommitDate}} {{.Git.CommitTimestamp}} {{.Timestamp}} {{.GoEnv.GOOS}}")
                .unwrap(),
            "2023-11-14T22:13:20Z 1700000000 1714979289 linux"
        );
        assert_eq!(
            ko("{{ if .Git.IsClean }}clean{{ else }}dirty{{ end }}-{{.Git.IsDirty}}").unwrap(),
            "dirty-true"
        );
        assert_eq!(
            ko("{{ printf \"%s@%.7s\" .Git.Branch .Git.FullCommit }}").unwrap(),
            "main@abc1234"
        );
        assert_eq!(ko("a  {{- \" b \" -}}  c").unwrap(), "a b c");
        assert_eq!(ko("{{ index .GoEnv \"GOOS\" }}").unwrap(), "linux");
        // Go: indexing a map[string]string with a missing key gives "" (no missingkey error);
        // indexing a map[string]any gives nil, printed `<no value>`.
        assert_eq!(ko("[{{ index .Env \"NOPE\" }}]").unwrap(), "[]");
        assert_eq!(ko("[{{ index .Git \"Nope\" }}]").unwrap(), "[<no value>]");
        assert_eq!(
            ko("{{ if index .Env \"NOPE\" }}set{{ else }}unset{{ end }}").unwrap(),
            "unset"
        );
        assert_eq!(ko("{{ eq .Git.TreeState \"dirty\" }}").unwrap(), "true");
    }

    #[test]
    fn ko_errors_name_the_template_and_the_key() {
        let err = ko("-X main.v={{.Env.NOPE}}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "template \"-X main.v={{.Env.NOPE}}\": map has no entry for key \"NOPE\""
        );
        assert!(
            matches!(ko("{{.Git.Shortcommit}}"), Err(TemplateError::MissingKey { key, .. }) if key == "Shortcommit")
        );
        let err = ko("{{ .Env.VERSION").unwrap_err();
        assert!(matches!(&err, TemplateError::Parse { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("invalid template \"{{ .Env.VERSION\": template: argsTmpl:"),
            "{err}"
        );
        assert!(matches!(
            ko("{{ nosuchfunc 1 }}"),
            Err(TemplateError::Parse { .. } | TemplateError::Exec { .. })
        ));
    }

    #[test]
    fn ko_data_is_built_like_ko() {
        let env = BTreeMap::from([("GOOS".to_owned(), "windows".to_owned())]);
        let go_env = BTreeMap::from([
            ("GOOS".to_owned(), "linux".to_owned()),
            ("GOARCH".to_owned(), "amd64".to_owned()),
        ]);
        let d = KoTemplateData::new(env, go_env, GitInfo::default(), 0);
        assert_eq!(d.env.get("LDFLAGS").map(String::as_str), Some(""));
        assert_eq!(d.go_env["GOOS"], "windows");
        assert_eq!(d.go_env["GOARCH"], "amd64");
        assert_eq!(d.date, "1970-01-01T00:00:00Z");
        // Outside a git repository.
        assert_eq!(
            render_ko(
                "[{{.Git.Branch}}|{{.Git.TreeState}}|{{.Git.CommitDate}}|{{.Git.CommitTimestamp}}]",
                &d
            )
            .unwrap(),
            "[|clean|0001-01-01T00:00:00Z|-62135596800]"
        );
        assert_eq!(
            render_ko("{{.Env.LDFLAGS}}{{.Date}}", &d).unwrap(),
            "1970-01-01T00:00:00Z"
        );
    }

    fn env() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("FOO".to_owned(), "foo".to_owned()),
            ("IMAGE_REPO".to_owned(), "gcr.io/p".to_owned()),
            ("IMAGE_NAME".to_owned(), "app".to_owned()),
            ("IMAGE_TAG".to_owned(), "v1".to_owned()),
        ])
    }

    #[test]
    fn skaffold_dialect() {
        let env = env();
        let sk = |t: &str| render_skaffold(t, &env, None, &TemplateInputs::default());
        assert_eq!(sk("-X main.foo={{.FOO}}").unwrap(), "-X main.foo=foo");
        assert_eq!(sk("-X main.foo={{.Env.FOO}}").unwrap(), "-X main.foo=foo");
        assert_eq!(
            sk("{{ .Env.FOO }}/{{ index .Env \"FOO\" }}").unwrap(),
            "foo/foo"
        );
        assert_eq!(
            sk("{{.IMAGE_REPO}}/{{.IMAGE_NAME}}:{{.IMAGE_TAG}}").unwrap(),
            "gcr.io/p/app:v1"
        );
        assert_eq!(sk("[{{ index . \"NOPE\" }}]").unwrap(), "[]");
        let err = sk("-X main.v={{.Env.NOPE}}").unwrap_err();
        assert_eq!(
            err,
            TemplateError::UnsetVariable {
                template: "-X main.v={{.Env.NOPE}}".into(),
                name: "NOPE".into()
            }
        );
        assert!(err.to_string().contains("\"NOPE\""), "{err}");
        // ko values are not there unless supplied...
        assert!(
            matches!(sk("{{.Git.ShortCommit}}"), Err(TemplateError::UnsetVariable { name, .. }) if name == "Git")
        );
        // ... and resolve from the ko data when they are, next to the environment.
        let data = ko_data();
        let both = |t: &str| render_skaffold(t, &env, Some(&data), &TemplateInputs::default());
        assert_eq!(
            both("-X main.commit={{.Git.ShortCommit}} -X main.date={{.Date}} -X main.foo={{.Env.FOO}}").unwrap(),
            "-X main.commit=abc1234 -X main.date=2024-05-06T07:08:09Z -X main.foo=foo"
        );
        assert_eq!(
            both("{{.Timestamp}} {{.GoEnv.GOOS}} {{.FOO}}").unwrap(),
            "1714979289 linux foo"
        );
        // The ko data's own env is not the Skaffold environment.
        assert!(both("{{.VERSION}}").is_err());
        // An environment variable wins over a ko value of the same name.
        let mut shadow = env.clone();
        shadow.insert("Date".into(), "from-env".into());
        assert_eq!(
            render_skaffold(
                "{{.Date}}",
                &shadow,
                Some(&data),
                &TemplateInputs::default()
            )
            .unwrap(),
            "from-env"
        );
    }
}
