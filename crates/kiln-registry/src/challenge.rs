//! A small, forgiving parser for `WWW-Authenticate` (RFC 7235 §4.1):
//! `Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull,push"`.
//!
//! Registries send malformed headers often enough (unquoted values, stray commas, several
//! challenges in one header) that the parser never fails: it returns what it understood.

/// One authentication challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// Lower-cased scheme: `bearer`, `basic`, …
    pub scheme: String,
    /// Parameters with lower-cased names, in order.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | ',')) {
            self.bump();
        }
    }

    fn token(&mut self) -> &str {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.bump();
        }
        &self.s[start..self.i]
    }

    /// A quoted string (opening quote already seen); an unterminated one runs to the end.
    fn quoted(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.bump() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some(n) = self.bump() {
                        out.push(n);
                    }
                }
                c => out.push(c),
            }
        }
        out
    }

    /// An unquoted value: anything up to a comma or whitespace (more lenient than `token`,
    /// since registries send unquoted URLs).
    fn bare_value(&mut self) -> &str {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c != ',' && c != ' ' && c != '\t')
        {
            self.bump();
        }
        &self.s[start..self.i]
    }
}

/// Parses one header value into its challenges.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut cur = Cursor { s: header, i: 0 };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        cur.skip_ws_and_commas();
        if cur.peek().is_none() {
            break;
        }
        let scheme = cur.token().to_ascii_lowercase();
        if scheme.is_empty() {
            // Not a token character: skip it and resynchronise.
            cur.bump();
            continue;
        }
        let mut challenge = Challenge {
            scheme,
            params: Vec::new(),
        };
        // auth-params (or a token68, which we skip).
        loop {
            cur.skip_ws_and_commas();
            let name_start = cur.i;
            let name = cur.token().to_ascii_lowercase();
            if name.is_empty() {
                match cur.peek() {
                    None => break,
                    Some('"') => {
                        // A stray quoted string: skip it.
                        cur.bump();
                        cur.quoted();
                        continue;
                    }
                    Some(_) => {
                        cur.bump();
                        continue;
                    }
                }
            }
            cur.skip_ws();
            if cur.peek() != Some('=') {
                // A bare token: the next challenge's scheme. Rewind to it.
                cur.i = name_start;
                break;
            }
            cur.bump(); // '='
            if matches!(cur.peek(), Some('=' | ',') | None) {
                // token68 padding such as `abc==`: consume and ignore.
                while cur.peek() == Some('=') {
                    cur.bump();
                }
                continue;
            }
            cur.skip_ws();
            let value = if cur.peek() == Some('"') {
                cur.bump();
                cur.quoted()
            } else {
                cur.bare_value().to_owned()
            };
            challenge.params.push((name, value));
        }
        out.push(challenge);
    }
    out
}

/// The challenge to answer among all `WWW-Authenticate` headers: Bearer over Basic.
pub fn pick<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let all: Vec<Challenge> = headers.into_iter().flat_map(parse).collect();
    let find = |s: &str| all.iter().find(|c| c.scheme == s).cloned();
    find("bearer").or_else(|| find("basic"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(h: &str) -> Challenge {
        let v = parse(h);
        assert_eq!(v.len(), 1, "{h:?} → {v:?}");
        v.into_iter().next().unwrap()
    }

    #[test]
    fn docker_hub_bearer_with_comma_inside_quotes() {
        let c = one(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push",error="insufficient_scope""#,
        );
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(
            c.param("scope"),
            Some("repository:samalba/my-app:pull,push")
        );
        assert_eq!(c.param("error"), Some("insufficient_scope"));
    }

    #[test]
    fn basic_quoted_unquoted_and_case() {
        assert_eq!(
            one(r#"Basic realm="Registry Realm""#).param("realm"),
            Some("Registry Realm")
        );
        let c = one("BASIC Realm=registry");
        assert_eq!(
            (c.scheme.as_str(), c.param("realm")),
            ("basic", Some("registry"))
        );
        let c = one("Bearer  realm = \"http://127.0.0.1:1/token\" , service=svc,,");
        assert_eq!(c.param("realm"), Some("http://127.0.0.1:1/token"));
        assert_eq!(c.param("service"), Some("svc"));
        let c = one("bearer realm=https://x/token?a=b,service=s");
        assert_eq!(c.param("realm"), Some("https://x/token?a=b"));
        assert_eq!(one("Basic").params, vec![]);
    }

    #[test]
    fn escapes_and_unterminated_quotes() {
        let c = one(r#"Bearer realm="a\"b\\c",service="unterminated"#);
        assert_eq!(c.param("realm"), Some(r#"a"b\c"#));
        assert_eq!(c.param("service"), Some("unterminated"));
    }

    #[test]
    fn several_challenges_in_one_header() {
        let v = parse(r#"Basic realm="b", Bearer realm="https://t", service="s""#);
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0].param("realm"), Some("b"));
        assert_eq!(v[1].scheme, "bearer");
        assert_eq!(v[1].param("service"), Some("s"));
        let v = parse("Negotiate abc==, Basic realm=x");
        assert_eq!(
            v.iter().map(|c| c.scheme.as_str()).collect::<Vec<_>>(),
            ["negotiate", "basic"]
        );
        assert_eq!(
            pick(["Basic realm=x", r#"Bearer realm="r""#])
                .unwrap()
                .scheme,
            "bearer"
        );
        assert_eq!(
            pick(["Negotiate", "Basic realm=x"]).unwrap().scheme,
            "basic"
        );
        assert_eq!(pick(["Negotiate"]), None);
    }

    /// Deterministic pseudo-random inputs: the parser must never panic or loop, and must
    /// find the realm in every prefix-complete mutation of a valid header.
    #[test]
    fn fuzzish_inputs_never_panic() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: Vec<char> = "Bearer realm=\"\\,= \t;:/service scope=Basicé\u{0}\""
            .chars()
            .collect();
        for _ in 0..5000 {
            let len = (next() % 64) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let _ = parse(&s);
        }
        let valid =
            r#"Bearer realm="https://r/token",service="s",scope="repository:a/b:pull,push""#;
        for i in 0..=valid.len() {
            let _ = parse(&valid[..i]);
        }
        for i in 0..valid.len() {
            // Drop one character anywhere.
            let mut s = valid.to_owned();
            if s.is_char_boundary(i) {
                s.remove(i);
                let _ = parse(&s);
            }
        }
        for bytes in [
            &b"\xff\xfe"[..],
            b"=\"",
            b",,,,",
            b"a=b=c",
            b"\"\"\"",
            b"Bearer =",
        ] {
            let _ = parse(&String::from_utf8_lossy(bytes));
        }
    }
}
