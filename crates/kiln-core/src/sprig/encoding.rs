//! sprig's encodings, hashes, regular expressions, paths, URLs and semantic versions
//! (strings.go, crypto.go, regex.go, functions.go's path entries, url.go, semver.go).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use gotmpl::Value;
use regex::Regex;
use sha2::Digest as _;

use super::{Func, Result, arity, fail, int, list, map, string, text};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("b64enc", |a| {
        unary("b64enc", a, |s| {
            base64::engine::general_purpose::STANDARD.encode(s)
        })
    }),
    ("b64dec", |a| {
        // sprig returns the decoder's error message as the value.
        unary(
            "b64dec",
            a,
            |s| match base64::engine::general_purpose::STANDARD.decode(s) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => format!("illegal base64 data: {e}"),
            },
        )
    }),
    ("b32enc", |a| {
        unary("b32enc", a, |s| data_encoding::BASE32.encode(s.as_bytes()))
    }),
    ("b32dec", |a| {
        unary("b32dec", a, |s| {
            match data_encoding::BASE32.decode(s.as_bytes()) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => format!("illegal base32 data: {e}"),
            }
        })
    }),
    ("sha1sum", |a| {
        unary("sha1sum", a, |s| hex::encode(sha1::Sha1::digest(s)))
    }),
    ("sha256sum", |a| {
        unary("sha256sum", a, |s| hex::encode(sha2::Sha256::digest(s)))
    }),
    ("adler32sum", |a| {
        unary("adler32sum", a, |s| adler32(s.as_bytes()).to_string())
    }),
    ("regexMatch", |a| {
        arity("regexMatch", a, 2)?;
        Ok(Value::Bool(
            regex("regexMatch", &a[0])?.is_match(&text(&a[1])),
        ))
    }),
    ("regexFind", |a| {
        arity("regexFind", a, 2)?;
        let s = text(&a[1]);
        Ok(string(
            regex("regexFind", &a[0])?
                .find(&s)
                .map_or("", |m| m.as_str()),
        ))
    }),
    ("regexFindAll", |a| {
        arity("regexFindAll", a, 3)?;
        let s = text(&a[1]);
        let n = limit(int("regexFindAll", &a[2])?);
        let re = regex("regexFindAll", &a[0])?;
        Ok(list(re.find_iter(&s).take(n).map(|m| string(m.as_str()))))
    }),
    ("regexReplaceAll", |a| {
        arity("regexReplaceAll", a, 3)?;
        let (s, repl) = (text(&a[1]), text(&a[2]));
        Ok(string(
            regex("regexReplaceAll", &a[0])?
                .replace_all(&s, repl.as_str())
                .into_owned(),
        ))
    }),
    ("regexReplaceAllLiteral", |a| {
        arity("regexReplaceAllLiteral", a, 3)?;
        let (s, repl) = (text(&a[1]), text(&a[2]));
        let re = regex("regexReplaceAllLiteral", &a[0])?;
        Ok(string(
            re.replace_all(&s, regex::NoExpand(&repl)).into_owned(),
        ))
    }),
    ("regexSplit", |a| {
        arity("regexSplit", a, 3)?;
        let s = text(&a[1]);
        let n = int("regexSplit", &a[2])?;
        let re = regex("regexSplit", &a[0])?;
        Ok(match n {
            0 => list([]),
            n if n < 0 => list(re.split(&s).map(string)),
            n => list(re.splitn(&s, n as usize).map(string)),
        })
    }),
    ("base", |a| unary("base", a, |s| path_base(s).to_owned())),
    ("dir", |a| unary("dir", a, path_dir)),
    ("clean", |a| unary("clean", a, path_clean)),
    ("ext", |a| {
        unary("ext", a, |s| {
            let last = s.rsplit('/').next().unwrap_or(s);
            last.rfind('.').map_or("", |i| &last[i..]).to_owned()
        })
    }),
    ("isAbs", |a| {
        arity("isAbs", a, 1)?;
        Ok(Value::Bool(text(&a[0]).starts_with('/')))
    }),
    ("urlParse", |a| {
        arity("urlParse", a, 1)?;
        url_parse(&text(&a[0]))
    }),
    ("urlJoin", |a| {
        arity("urlJoin", a, 1)?;
        let Value::Map(parts) = &a[0] else {
            return Err(fail(format!(
                "urlJoin: expected a dict, got {}",
                a[0].type_name()
            )));
        };
        let part = |k: &str| parts.get(k).map(text).unwrap_or_default();
        Ok(string(url_join(&|k| part(k))))
    }),
    ("semver", |a| {
        arity("semver", a, 1)?;
        let original = text(&a[0]);
        let v = Version::parse(&original)
            .ok_or_else(|| fail(format!("semver: {original:?} is not a semantic version")))?;
        let entries = [
            ("Major", Value::Int(v.numbers[0] as i64)),
            ("Minor", Value::Int(v.numbers[1] as i64)),
            ("Patch", Value::Int(v.numbers[2] as i64)),
            ("Prerelease", string(v.pre.as_str())),
            ("Metadata", string(v.metadata.as_str())),
            ("Original", string(original.as_str())),
        ];
        Ok(map(entries
            .into_iter()
            .map(|(k, v)| (Arc::from(k), v))
            .collect()))
    }),
    ("semverCompare", |a| {
        arity("semverCompare", a, 2)?;
        let (constraint, version) = (text(&a[0]), text(&a[1]));
        let v = Version::parse(&version).ok_or_else(|| {
            fail(format!(
                "semverCompare: {version:?} is not a semantic version"
            ))
        })?;
        satisfies(&constraint, &v).map(Value::Bool)
    }),
];

fn unary(name: &str, args: &[Value], f: fn(&str) -> String) -> Result<Value> {
    arity(name, args, 1)?;
    Ok(string(f(&text(&args[0]))))
}

fn regex(name: &str, pattern: &Value) -> Result<Regex> {
    let pattern = text(pattern);
    Regex::new(&pattern).map_err(|e| {
        fail(format!(
            "{name}: invalid regular expression {pattern:?}: {e}"
        ))
    })
}

/// Go's `n` for "how many": negative means all.
fn limit(n: i64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Adler-32 (RFC 1950), what Go's `hash/adler32` gives; six lines, so no crate.
fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// Go's `path.Base`.
fn path_base(s: &str) -> &str {
    if s.is_empty() {
        return ".";
    }
    let trimmed = s.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Go's `path.Dir`: everything before the last `/`, cleaned.
fn path_dir(s: &str) -> String {
    let dir = s.rfind('/').map_or("", |i| &s[..=i]);
    path_clean(dir)
}

/// Go's `path.Clean`: one `/` between elements, no `.`, `..` resolved lexically.
fn path_clean(s: &str) -> String {
    if s.is_empty() {
        return ".".to_owned();
    }
    let rooted = s.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in s.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// sprig's `urlParse`: the parts of `scheme://userinfo@host/path?query#fragment` as a
/// dict with sprig's keys.
fn url_parse(s: &str) -> Result<Value> {
    let (rest, fragment) = s.split_once('#').unwrap_or((s, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (scheme, rest) = match rest.split_once(':') {
        Some((scheme, after))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (scheme.to_ascii_lowercase(), after)
        }
        _ => (String::new(), rest),
    };
    let (authority, path, opaque) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            (&after[..end], &after[end..], "")
        }
        None if !scheme.is_empty() && !rest.starts_with('/') => ("", "", rest),
        None => ("", rest, ""),
    };
    let (userinfo, host) = authority.rsplit_once('@').unwrap_or(("", authority));
    let hostname = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let entries = [
        ("scheme", scheme.as_str()),
        ("host", host),
        ("hostname", hostname),
        ("path", path),
        ("query", query),
        ("opaque", opaque),
        ("fragment", fragment),
        ("userinfo", userinfo),
    ];
    Ok(map(entries
        .into_iter()
        .map(|(k, v)| (Arc::from(k), string(v)))
        .collect::<BTreeMap<_, _>>()))
}

/// Go's `url.URL.String` of the parts sprig's `urlJoin` reads (characters are not
/// escaped: the parts are taken as already escaped).
fn url_join(part: &dyn Fn(&str) -> String) -> String {
    let (scheme, host, path, user) = (part("scheme"), part("host"), part("path"), part("userinfo"));
    let mut out = String::new();
    if !scheme.is_empty() {
        out.push_str(&scheme);
        out.push(':');
    }
    let opaque = part("opaque");
    if !opaque.is_empty() {
        out.push_str(&opaque);
    } else {
        if (!scheme.is_empty() || !host.is_empty() || !user.is_empty())
            && (!host.is_empty() || !path.is_empty() || !user.is_empty())
        {
            out.push_str("//");
            if !user.is_empty() {
                out.push_str(&user);
                out.push('@');
            }
            out.push_str(&host);
        }
        if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
            out.push('/');
        }
        out.push_str(&path);
    }
    for (mark, key) in [('?', "query"), ('#', "fragment")] {
        let value = part(key);
        if !value.is_empty() {
            out.push(mark);
            out.push_str(&value);
        }
    }
    out
}

/// A semantic version as Masterminds/semver v1 reads it: an optional `v`, one to three
/// numbers, a pre-release and build metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    numbers: [u64; 3],
    pre: String,
    metadata: String,
}

impl Version {
    fn parse(s: &str) -> Option<Version> {
        let s = s.trim().strip_prefix('v').unwrap_or(s.trim());
        let (s, metadata) = s.split_once('+').unwrap_or((s, ""));
        let (core, pre) = s.split_once('-').unwrap_or((s, ""));
        let mut numbers = [0u64; 3];
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            *slot = part.parse().ok()?;
        }
        Some(Version {
            numbers,
            pre: pre.to_owned(),
            metadata: metadata.to_owned(),
        })
    }

    /// Semver precedence (metadata ignored).
    fn cmp(&self, other: &Version) -> std::cmp::Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                (false, false) => {
                    let ids = |p: &str| -> Vec<(bool, u64, String)> {
                        p.split('.')
                            .map(|id| match id.parse::<u64>() {
                                Ok(n) => (false, n, String::new()),
                                Err(_) => (true, 0, id.to_owned()),
                            })
                            .collect()
                    };
                    ids(&self.pre).cmp(&ids(&other.pre))
                }
            }
        })
    }
}

/// Masterminds/semver v1 constraints: `||` between alternatives, `,` or spaces between
/// terms that must all hold; a term is an operator (`=`, `!=`, `>`, `<`, `>=`, `<=`,
/// `~`, `^`) and a version whose missing or `x`/`*` parts are wildcards. A pre-release
/// version only satisfies terms that name a pre-release.
fn satisfies(constraint: &str, v: &Version) -> Result<bool> {
    let bad = || {
        fail(format!(
            "semverCompare: {constraint:?} is not a version constraint"
        ))
    };
    for alternative in constraint.split("||") {
        let mut all = true;
        let terms: Vec<&str> = alternative
            .split([',', ' '])
            .filter(|t| !t.is_empty())
            .collect();
        // `>= 1.2` is written with a space too: glue operators to their version.
        let mut glued: Vec<String> = Vec::new();
        for term in terms {
            match glued.last_mut() {
                Some(last) if last.chars().all(|c| "=!<>~^".contains(c)) => last.push_str(term),
                _ => glued.push(term.to_owned()),
            }
        }
        if glued.is_empty() {
            return Err(bad());
        }
        for term in glued {
            all &= term_holds(&term, v).ok_or_else(bad)?;
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

fn term_holds(term: &str, v: &Version) -> Option<bool> {
    let op_len = term
        .find(|c: char| !"=!<>~^".contains(c))
        .unwrap_or(term.len());
    let (op, version) = term.split_at(op_len);
    let version = version.strip_prefix('v').unwrap_or(version);
    let (core, pre) = version.split_once('-').unwrap_or((version, ""));
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return None;
    }
    let mut numbers = [0u64; 3];
    let mut given = 0;
    for (i, part) in parts.iter().enumerate() {
        if matches!(*part, "x" | "X" | "*") {
            break;
        }
        numbers[i] = part.parse().ok()?;
        given = i + 1;
    }
    if !v.pre.is_empty() && pre.is_empty() {
        return Some(false);
    }
    let c = Version {
        numbers,
        pre: pre.to_owned(),
        metadata: String::new(),
    };
    use std::cmp::Ordering::*;
    let ord = v.cmp(&c);
    // The first version past the wildcard range (`1.2` → `1.3.0`).
    let upper = |at: usize| {
        let mut n = [0u64; 3];
        n[..at].copy_from_slice(&numbers[..at]);
        if at > 0 {
            n[at - 1] += 1;
        }
        Version {
            numbers: n,
            pre: String::new(),
            metadata: String::new(),
        }
    };
    let in_range = |at: usize| at == 0 || (ord != Less && v.cmp(&upper(at)) == Less);
    Some(match op {
        "" | "=" if given < 3 => in_range(given),
        "" | "=" => ord == Equal,
        "!=" if given < 3 => !in_range(given),
        "!=" => ord != Equal,
        ">" if given < 3 => given == 0 || v.cmp(&upper(given)) != Less,
        ">" => ord == Greater,
        "<" => ord == Less,
        ">=" | "=>" => ord != Less,
        "<=" | "=<" if given < 3 => given == 0 || v.cmp(&upper(given)) == Less,
        "<=" | "=<" => ord != Greater,
        "~" => ord != Less && v.cmp(&upper(given.clamp(1, 2))) == Less,
        "^" => ord != Less && v.numbers[0] == numbers[0],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::check;

    #[test]
    fn encodings_and_hashes_give_sprigs_documented_results() {
        // Expected values from sprig's docs (docs/encoding.md, docs/crypto.md) and Go.
        check(&[
            (
                r#"{{"hi" | b64enc}} {{"aGk=" | b64dec}} {{"hi" | b32enc}} {{"NBUQ====" | b32dec}}"#,
                "aGk= hi NBUQ==== hi",
            ),
            (
                r#"{{"abc" | sha256sum | trunc 8}} {{"abc" | sha1sum}}"#,
                "ba7816bf a9993e364706816aba3e25717850c26c9cd0d89d",
            ),
            (r#"{{"Hello world!" | adler32sum}}"#, "487130206"),
        ]);
    }

    #[test]
    fn regex_functions_give_sprigs_documented_results() {
        // Expected values from sprig's docs (docs/strings.md, regex section).
        check(&[
            (
                r#"{{regexMatch "^[a-z]+@[a-z]+\\.com$" "test@acme.com"}}"#,
                "true",
            ),
            (
                r#"{{regexFindAll "[2,4,6,8]" "123456789" -1}} {{regexFind "[a-zA-Z][1-9]" "abcd1234"}}"#,
                "[2 4 6 8] d1",
            ),
            (
                r#"{{regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W"}} {{regexReplaceAllLiteral "a(x*)b" "-ab-axxb-" "${1}"}}"#,
                "-W-xxW- -${1}-${1}-",
            ),
            (r#"{{regexSplit "z+" "pizza" -1}}"#, "[pi a]"),
        ]);
    }

    #[test]
    fn paths_and_urls_give_gos_results() {
        check(&[
            (
                r#"{{base "foo/bar/baz"}} {{dir "foo/bar/baz"}} {{clean "foo/../bar//x/."}} {{ext "foo.bar"}} {{isAbs "/a"}}"#,
                "baz foo/bar bar/x .bar true",
            ),
            (r#"{{dir "baz"}} {{base "/"}} {{clean "/../a"}}"#, ". / /a"),
            (
                r#"{{$u := urlParse "https://u@example.com:8080/p/a?x=1#frag"}}{{$u.scheme}} {{$u.host}} {{$u.hostname}} {{$u.path}} {{$u.query}} {{$u.fragment}} {{$u.userinfo}}"#,
                "https example.com:8080 example.com /p/a x=1 frag u",
            ),
        ]);
    }

    #[test]
    fn semver_functions_follow_masterminds_semver() {
        // Expected values from sprig's docs (docs/semver.md) and Masterminds/semver's rules.
        check(&[
            (
                r#"{{(semver "1.2.3-alpha.1+123").Major}} {{(semver "v1.2.3-alpha.1+123").Prerelease}}"#,
                "1 alpha.1",
            ),
            (
                r#"{{semverCompare "^1.2.0" "1.2.3"}} {{semverCompare "^1.2.0" "2.0.0"}} {{semverCompare "~1.2.0" "1.3.0"}}"#,
                "true false false",
            ),
            (
                r#"{{semverCompare ">= 1.2, < 2" "1.9.9"}} {{semverCompare "1.2.x" "1.2.7"}} {{semverCompare "<1.0 || >=3" "3.1.0"}}"#,
                "true true true",
            ),
            (
                r#"{{semverCompare ">1.0.0" "1.1.0-beta"}} {{semverCompare ">1.0.0-0" "1.1.0-beta"}} {{semverCompare "!=1.2.3" "1.2.3"}}"#,
                "false true false",
            ),
        ]);
    }
}
