//! How kiln describes a command it runs, for `-v debug`: the program and its arguments, its
//! working directory and the environment it adds, with secrets redacted. kiln-core runs
//! nothing: the caller spawns the process and hands over its description as plain data
//! ([`CommandLine`]) and how it ended.

use std::ffi::OsStr;
use std::fmt::Display;
use std::path::Path;
use std::time::Duration;

const REDACTED: &str = "<redacted>";

/// Environment names whose values are secrets (matched case-insensitively, anywhere in the
/// name): `GITHUB_TOKEN`, `REGISTRY_PASSWORD`, `AWS_SECRET_ACCESS_KEY`, `GOAUTH`, ….
const SECRET_NAMES: [&str; 7] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "KEY",
    "AUTH",
    "CREDENTIAL",
];

/// Flags whose value is a secret, as `--flag=value` (`kubectl --token=…`).
const SECRET_FLAGS: [&str; 4] = ["--token=", "--password=", "--client-key=", "--auth="];

/// A command as plain data: the program, its arguments, its working directory and the
/// environment it changes on top of what it inherits (`None`: the variable is removed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine<'a> {
    pub program: &'a OsStr,
    pub args: Vec<&'a OsStr>,
    pub dir: Option<&'a Path>,
    pub env: Vec<(&'a OsStr, Option<&'a OsStr>)>,
}

impl<'a> CommandLine<'a> {
    /// Collects the parts, in the shapes `std::process::Command`'s getters give them.
    pub fn new(
        program: &'a OsStr,
        args: impl IntoIterator<Item = &'a OsStr>,
        dir: Option<&'a Path>,
        env: impl IntoIterator<Item = (&'a OsStr, Option<&'a OsStr>)>,
    ) -> Self {
        CommandLine {
            program,
            args: args.into_iter().collect(),
            dir,
            env: env.into_iter().collect(),
        }
    }

    /// `` `program args…` in DIR with NAME=value … ``, secrets redacted.
    pub fn describe(&self) -> String {
        let words: Vec<String> = std::iter::once(self.program)
            .chain(self.args.iter().copied())
            .map(|word| quote(&redact_arg(&word.to_string_lossy())))
            .collect();
        let mut text = format!("`{}`", words.join(" "));
        if let Some(dir) = self.dir {
            text.push_str(&format!(" in {}", dir.display()));
        }
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(name, value)| env_entry(name, *value))
            .collect();
        if !env.is_empty() {
            text.push_str(&format!(" with {}", env.join(" ")));
        }
        text
    }

    /// `` `go build -o /out ./cmd/app` in /src with GOOS=linux GOARCH=arm64, exit status 0 after 1.23s ``:
    /// what ran, where, with which added environment, how it ended and how long it took.
    pub fn describe_run(&self, outcome: &str, elapsed: Duration) -> String {
        format!(
            "{}, {outcome} after {:.2}s",
            self.describe(),
            elapsed.as_secs_f64()
        )
    }
}

/// How a run ended, for [`CommandLine::describe_run`]: the exit status (`exit status: 1`),
/// `could not start: …`, or `timed out` (`None`: it did not finish within its deadline).
pub fn outcome<S: Display, E: Display>(out: Option<Result<S, E>>) -> String {
    match out {
        Some(Ok(status)) => status.to_string(),
        Some(Err(e)) => format!("could not start: {e}"),
        None => "timed out".to_owned(),
    }
}

fn env_entry(name: &OsStr, value: Option<&OsStr>) -> String {
    let name = name.to_string_lossy();
    let Some(value) = value else {
        return format!("-{name}");
    };
    let upper = name.to_ascii_uppercase();
    let value = if SECRET_NAMES.iter().any(|s| upper.contains(s)) {
        REDACTED.to_owned()
    } else {
        redact_url_credentials(&value.to_string_lossy())
    };
    format!("{name}={}", quote(&value))
}

/// One argument with its secret, if any, redacted: the value of a `--token=`-style flag,
/// of a `NAME=value` whose name reads like a secret (helm's `--set db.password=…`), and
/// credentials in URLs.
pub fn redact_arg(arg: &str) -> String {
    let lower = arg.to_ascii_lowercase();
    if let Some(flag) = SECRET_FLAGS.iter().find(|flag| lower.starts_with(*flag)) {
        return format!("{}{REDACTED}", &arg[..flag.len()]);
    }
    if let Some((name, _)) = arg.split_once('=')
        && !name.starts_with('-')
        && SECRET_NAMES
            .iter()
            .any(|s| name.to_ascii_uppercase().contains(s))
    {
        return format!("{name}={REDACTED}");
    }
    redact_url_credentials(arg)
}

/// `https://user:pass@host/…` → `https://<redacted>@host/…`, wherever it occurs (GOPROXY
/// lists several URLs).
fn redact_url_credentials(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', ',', '|', ' ']).unwrap_or(tail.len());
        match tail[..authority_end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str(REDACTED);
                rest = &tail[userinfo_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Single quotes around a word a shell would split, so the line can be pasted.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%<>".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn describes_program_directory_and_added_environment() {
        let cmd = CommandLine::new(
            os("go"),
            ["build", "-ldflags=-s -w", "./cmd/app"].map(os),
            Some(Path::new("/src")),
            [(os("GOARCH"), Some(os("arm64"))), (os("GOFLAGS"), None)],
        );
        assert_eq!(
            cmd.describe_run("exit status 0", Duration::from_millis(1234)),
            "`go build '-ldflags=-s -w' ./cmd/app` in /src with GOARCH=arm64 -GOFLAGS, exit status 0 after 1.23s"
        );
    }

    #[test]
    fn outcomes_name_how_the_run_ended() {
        assert_eq!(
            outcome::<_, String>(Some(Ok("exit status: 1"))),
            "exit status: 1"
        );
        assert_eq!(
            outcome::<&str, _>(Some(Err("No such file or directory"))),
            "could not start: No such file or directory"
        );
        assert_eq!(outcome::<&str, &str>(None), "timed out");
    }

    #[test]
    fn secrets_are_redacted() {
        let cmd = CommandLine::new(
            os("kubectl"),
            [
                "--token=abc123",
                "apply",
                "https://u:p4ss@example.com/x",
                "--set",
                "db.password=hunter2",
                "--set",
                "replicas=2",
            ]
            .map(os),
            None,
            [
                (os("GITHUB_TOKEN"), Some(os("ghp_secret"))),
                (os("aws_secret_access_key"), Some(os("s3cr3t"))),
                (
                    os("GOPROXY"),
                    Some(os("https://me:tok@proxy.example,direct")),
                ),
            ],
        );
        let text = cmd.describe();
        for secret in [
            "abc123",
            "p4ss",
            "ghp_secret",
            "s3cr3t",
            "tok@",
            "me:",
            "hunter2",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(
            text.contains("GOPROXY=https://<redacted>@proxy.example,direct"),
            "{text}"
        );
        assert!(text.contains("--token=<redacted>"), "{text}");
        assert!(text.contains("db.password=<redacted>"), "{text}");
        assert!(text.contains("replicas=2"), "{text}");
    }
}
