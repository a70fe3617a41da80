//! The two shell helpers Skaffold's debug transform uses on `sh -c` command lines:
//! go-shellquote's `Split` and Skaffold's `shJoin`.

/// go-shellquote's `Split`: /bin/sh word splitting with backslash escapes, single and double
/// quotes, no expansion. `None` for an unterminated quote or a trailing backslash.
pub(crate) fn split(input: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = input.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, ' ' | '\n' | '\t') {
            i += 1;
            continue;
        }
        if c == '\\' {
            match chars.get(i + 1) {
                None => return None,
                Some('\n') => {
                    i += 2;
                    continue;
                }
                Some(_) => {}
            }
        }
        let (word, next) = split_word(&chars, i)?;
        words.push(word);
        i = next;
    }
    Some(words)
}

fn split_word(chars: &[char], mut i: usize) -> Option<(String, usize)> {
    let mut word = String::new();
    while i < chars.len() {
        match chars[i] {
            ' ' | '\n' | '\t' => return Some((word, i + 1)),
            '\\' => {
                let c = *chars.get(i + 1)?;
                if c != '\n' {
                    word.push(c);
                }
                i += 2;
            }
            '\'' => {
                let close = chars[i + 1..].iter().position(|&c| c == '\'')? + i + 1;
                word.extend(&chars[i + 1..close]);
                i = close + 1;
            }
            '"' => {
                i += 1;
                loop {
                    let c = *chars.get(i)?;
                    match c {
                        '"' => {
                            i += 1;
                            break;
                        }
                        '\\' => {
                            let &next = chars.get(i + 1)?;
                            if matches!(next, '$' | '`' | '"' | '\n' | '\\') {
                                if next != '\n' {
                                    word.push(next);
                                }
                            } else {
                                word.push('\\');
                                word.push(next);
                            }
                            i += 2;
                        }
                        c => {
                            word.push(c);
                            i += 1;
                        }
                    }
                }
            }
            c => {
                word.push(c);
                i += 1;
            }
        }
    }
    Some((word, i))
}

/// Skaffold's `shJoin`: joins arguments for `sh -c`, double-quoting those with blanks,
/// quotes, parentheses, brackets or braces (but not `$`, so `$PORT` still expands).
pub(crate) fn join(args: &[String]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if arg.contains([
            ' ', '\t', '\r', '\n', '"', '\'', '(', ')', '[', ']', '{', '}',
        ]) {
            out.push('"');
            out.push_str(&arg.replace('"', "\\\""));
            out.push('"');
        } else {
            out.push_str(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Option<Vec<String>> {
        split(s)
    }

    fn vec(words: Vec<&str>) -> Vec<String> {
        words.into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn split_like_go_shellquote() {
        assert_eq!(words("d e f"), Some(vec(vec!["d", "e", "f"])));
        assert_eq!(
            words("  a\t'b c'  \"d \\\"e\\\" \\x\"\n"),
            Some(vec(vec!["a", "b c", "d \"e\" \\x"]))
        );
        assert_eq!(words("a\\ b c\\\nd"), Some(vec(vec!["a b", "cd"])));
        assert_eq!(words(""), Some(vec(vec![])));
        assert_eq!(words("'open"), None);
        assert_eq!(words("\"open"), None);
        assert_eq!(words("end\\"), None);
    }

    #[test]
    fn join_like_skaffold_sh_join() {
        // Skaffold's TestShJoin.
        let cases: &[(&[&str], &str)] = &[
            (&[], ""),
            (&["a"], "a"),
            (&["a b"], r#""a b""#),
            (&[r#"a"b"#], r#""a\"b""#),
            (&["a", r#"a"b"#, "b c"], r#"a "a\"b" "b c""#),
            (&["a", "b'c'd"], r#"a "b'c'd""#),
            (&["a", "b()"], r#"a "b()""#),
            (&["a", "b[]"], r#"a "b[]""#),
            (&["a", "b{}"], r#"a "b{}""#),
            (
                &["a", "$PORT", "${PORT}", "a ${PORT} and $PORT"],
                r#"a $PORT "${PORT}" "a ${PORT} and $PORT""#,
            ),
        ];
        for (args, expected) in cases {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            assert_eq!(join(&args), *expected);
        }
    }
}
