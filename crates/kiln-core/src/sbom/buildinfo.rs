//! `go version -m` output parsed into [`GoBuildInfo`]: the main module, the dependencies
//! with their go.sum hashes and replacements, and the build settings, with Go's string
//! quoting undone (`strconv.Unquote`).

use super::SbomError;

/// A module as `go version -m` lists it (`mod`, `dep` or `=>` line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoModule {
    pub path: String,
    /// `(devel)` for a main module Go could not stamp, empty for some directory replacements.
    pub version: String,
    /// The `h1:` go.sum hash; absent for vendored builds and directory replacements.
    pub sum: Option<String>,
    /// The `=>` line that follows, when go.mod replaces this module.
    pub replace: Option<Box<GoModule>>,
}

/// The build information Go embeds in a binary, as `go version -m` prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoBuildInfo {
    /// The binary as named on the first line (callers put its path in the image here).
    pub binary: String,
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    /// Absent for binaries built outside module mode.
    pub main: Option<GoModule>,
    pub deps: Vec<GoModule>,
    /// `build` lines (`-trimpath=true`, `GOARCH=amd64`, `vcs.revision=…`), in order.
    pub settings: Vec<(String, String)>,
}

impl GoBuildInfo {
    /// Parses `go version -m <binary>` output with the rules of Go's
    /// `debug.ParseBuildInfo`: lines it does not know are skipped, malformed known lines are
    /// errors.
    pub fn parse(text: &str) -> Result<GoBuildInfo, SbomError> {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        let Some((binary, go_version)) = header.rsplit_once(": ") else {
            return Err(SbomError::BuildInfo {
                line: 1,
                reason: format!("expected `<binary>: <go version>`, got `{header}`"),
            });
        };
        let mut info = GoBuildInfo {
            binary: binary.to_owned(),
            go_version: go_version.trim().to_owned(),
            ..GoBuildInfo::default()
        };
        // Where a `=>` line attaches: the module on the line before, if any.
        let mut last: Option<&mut GoModule> = None;
        for (number, line) in lines.enumerate() {
            let fail = |reason: String| SbomError::BuildInfo {
                line: number + 2,
                reason,
            };
            // `go version -m` indents every line after the first with a tab.
            let line = line.trim_start();
            let Some((word, rest)) = line.split_once('\t') else {
                last = None;
                continue;
            };
            match word {
                "path" => {
                    info.path = rest.to_owned();
                    last = None;
                }
                "mod" => last = Some(info.main.insert(module_line(rest).map_err(fail)?)),
                "dep" => {
                    info.deps.push(module_line(rest).map_err(fail)?);
                    last = info.deps.last_mut();
                }
                "=>" => {
                    let replacement = replacement_line(rest).map_err(fail)?;
                    let Some(module) = last.take() else {
                        return Err(fail("replacement with no module on the line before".into()));
                    };
                    module.replace = Some(Box::new(replacement));
                }
                "build" => {
                    info.settings.push(setting_line(rest).map_err(fail)?);
                    last = None;
                }
                _ => last = None,
            }
        }
        Ok(info)
    }
}

/// `path \t version [\t sum]`.
fn module_line(rest: &str) -> Result<GoModule, String> {
    let fields: Vec<&str> = rest.split('\t').collect();
    match fields[..] {
        [path, version] | [path, version, _] => Ok(GoModule {
            path: path.to_owned(),
            version: version.to_owned(),
            sum: fields
                .get(2)
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string()),
            replace: None,
        }),
        _ => Err(format!("expected 2 or 3 columns, got {}", fields.len())),
    }
}

/// `path \t version \t sum` (Go always prints the three columns after `=>`).
fn replacement_line(rest: &str) -> Result<GoModule, String> {
    let fields: Vec<&str> = rest.split('\t').collect();
    match fields[..] {
        [path, version, sum] => Ok(GoModule {
            path: path.to_owned(),
            version: version.to_owned(),
            sum: Some(sum.to_owned()).filter(|s| !s.is_empty()),
            replace: None,
        }),
        _ => Err(format!(
            "expected 3 columns for a replacement, got {}",
            fields.len()
        )),
    }
}

/// `key=value`, where Go quotes (`strconv.Quote`) a key or value that holds spaces, quotes
/// or `=` (in keys): `-ldflags="-s -w"`.
fn setting_line(kv: &str) -> Result<(String, String), String> {
    let (key, raw_value) = match kv.chars().next() {
        None => return Err("build line missing '='".into()),
        Some('=') => return Err("build line with missing key".into()),
        Some('"' | '`') => {
            let end = quoted_prefix_len(kv).ok_or("invalid quoted key in build line")?;
            let key = go_unquote(&kv[..end]).ok_or("invalid quoted key in build line")?;
            let value = kv[end..]
                .strip_prefix('=')
                .ok_or("build line missing '=' after quoted key")?;
            (key, value)
        }
        Some(_) => {
            let (key, value) = kv
                .split_once('=')
                .ok_or("build line missing '=' after key")?;
            (key.to_owned(), value)
        }
    };
    let value = match raw_value.chars().next() {
        Some('"' | '`') => go_unquote(raw_value).ok_or("invalid quoted value in build line")?,
        _ => raw_value.to_owned(),
    };
    Ok((key, value))
}

/// The length of the Go string literal at the start of `s` (Go's `strconv.QuotedPrefix`).
fn quoted_prefix_len(s: &str) -> Option<usize> {
    let quote = s.chars().next()?;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' if quote == '"' => escaped = true,
            '\n' => return None,
            c if c == quote => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Go's `strconv.Unquote` for the literals `strconv.Quote` writes (and raw backquoted ones).
fn go_unquote(literal: &str) -> Option<String> {
    if let Some(raw) = literal.strip_prefix('`') {
        return raw
            .strip_suffix('`')
            .filter(|r| !r.contains('`'))
            .map(str::to_owned);
    }
    let body = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    let digits = |chars: &mut std::str::Chars, n: usize, radix: u32| -> Option<u32> {
        let text: String = chars.by_ref().take(n).collect();
        let valid = text.len() == n && text.chars().all(|c| c.is_digit(radix));
        valid.then(|| u32::from_str_radix(&text, radix).ok())?
    };
    while let Some(c) = chars.next() {
        let decoded = match c {
            '"' | '\n' => return None,
            '\\' => match chars.next()? {
                'a' => '\x07',
                'b' => '\x08',
                'f' => '\x0c',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'v' => '\x0b',
                '\\' => '\\',
                '"' => '"',
                // `\xHH` is a byte: invalid UTF-8 stays bytes until the end.
                'x' => {
                    out.push(u8::try_from(digits(&mut chars, 2, 16)?).ok()?);
                    continue;
                }
                'u' => char::from_u32(digits(&mut chars, 4, 16)?)?,
                'U' => char::from_u32(digits(&mut chars, 8, 16)?)?,
                d @ '0'..='7' => {
                    let low = digits(&mut chars, 2, 8)?;
                    let value = d.to_digit(8)? * 64 + low;
                    out.push(u8::try_from(value).ok()?);
                    continue;
                }
                _ => return None,
            },
            c => c,
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(decoded.encode_utf8(&mut buf).as_bytes());
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::fixtures::*;

    #[test]
    fn module_mode_output_gives_main_deps_sums_and_replacements() {
        let info = GoBuildInfo::parse(MODULE_MODE).unwrap();
        assert_eq!(info.binary, "/tmp/kiln/bin/out");
        assert_eq!(info.go_version, "go1.27.3");
        assert_eq!(info.path, "example.com/app");
        assert_eq!(info.main, Some(module("example.com/app", "(devel)", None)));
        assert_eq!(
            info.deps,
            [
                replaced(
                    module("example.com/local", "v0.0.0", None),
                    module("./local", "(devel)", None)
                ),
                module(
                    "github.com/Example/Greet",
                    "v1.2.3",
                    Some("h1:1WJsvkhs8gQ7X2tjufKeatcKEL+OUJjJw3trnWG/lXM=")
                ),
                replaced(
                    module("golang.org/x/fake", "v0.3.0", None),
                    module(
                        "example.net/fork",
                        "v1.0.1",
                        Some("h1:u8BOPdhFTbpx5ZtQVue3K1QIragc88sZusYZk/TMcOI=")
                    )
                ),
            ]
        );
        assert_eq!(info.settings.len(), 9);
        assert_eq!(info.settings[2], ("-tags".into(), "netgo,osusergo".into()));
        assert_eq!(info.settings[8], ("GOAMD64".into(), "v1".into()));
    }

    #[test]
    fn vendored_output_has_no_sums_and_quoted_settings_are_unquoted() {
        let info = GoBuildInfo::parse(VENDORED_VCS).unwrap();
        assert_eq!(info.main, Some(module("example.com/app", "v1.4.0", None)));
        assert!(info.deps.iter().all(|d| d.sum.is_none()));
        let setting = |key: &str| {
            info.settings
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(setting("-gcflags"), Some("all=-N -l"));
        assert_eq!(setting("-ldflags"), Some("-s -w -X 'main.v=a b'"));
        assert_eq!(setting("vcs.modified"), Some("false"));
    }

    #[test]
    fn gopath_binaries_have_no_main_module() {
        let info = GoBuildInfo::parse(GOPATH_MODE).unwrap();
        assert_eq!(info.path, "github.com/containers/skopeo/cmd/skopeo");
        assert_eq!((info.main, info.deps.len()), (None, 0));
        assert_eq!(info.settings.len(), 6);
    }

    #[test]
    fn malformed_output_names_the_line() {
        for (text, line, reason) in [
            ("", 1, "expected `<binary>: <go version>`"),
            (
                "/b: go1.22\n\t=>\tx\tv1\t\n",
                2,
                "replacement with no module",
            ),
            (
                "/b: go1.22\n\tpath\tp\n\tdep\tonly-path\n",
                3,
                "2 or 3 columns",
            ),
            ("/b: go1.22\n\tmod\tm\tv1\t\n\t=>\tx\tv1\n", 3, "3 columns"),
            ("/b: go1.22\n\tbuild\t=x\n", 2, "missing key"),
            ("/b: go1.22\n\tbuild\tnoequals\n", 2, "missing '='"),
            ("/b: go1.22\n\tbuild\tk=\"open\n", 2, "invalid quoted value"),
            (
                "/b: go1.22\n\tbuild\t\"k\"v\n",
                2,
                "missing '=' after quoted key",
            ),
        ] {
            match GoBuildInfo::parse(text) {
                Err(SbomError::BuildInfo { line: l, reason: r }) => {
                    assert_eq!(l, line, "{text:?}");
                    assert!(r.contains(reason), "{text:?}: {r}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn go_string_literals_unquote_as_strconv_does() {
        assert_eq!(
            go_unquote(r#""a\tb\u00e9\x41\101\"\\""#).as_deref(),
            Some("a\tbéAA\"\\")
        );
        assert_eq!(go_unquote("`raw \\n`").as_deref(), Some("raw \\n"));
        for bad in [
            r#""\q""#,
            r#""\x4""#,
            r#""\400""#,
            r#""a"b""#,
            "\"open",
            "`a`b`",
        ] {
            assert_eq!(go_unquote(bad), None, "{bad}");
        }
        assert_eq!(
            setting_line(r#""a=b"="x y""#),
            Ok(("a=b".to_owned(), "x y".to_owned()))
        );
    }
}
