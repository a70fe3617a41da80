//! How kiln describes a command it runs, for `-v debug`: the program and its arguments, its
//! working directory and the environment it adds, with secrets redacted. Describing a
//! `std::process::Command` only reads the value; nothing runs here.

use std::ffi::OsStr;
use std::process::Command;
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

/// `` `go build -o /out ./cmd/app` in /src with GOOS=linux GOARCH=arm64, exit status 0 after 1.23s ``:
/// what ran, where, with which added environment, how it ended and how long it took.
pub fn describe_run(command: &Command, outcome: &str, elapsed: Duration) -> String {
    format!(
        "{}, {outcome} after {:.2}s",
        describe(command),
        elapsed.as_secs_f64()
    )
}

/// How a run ended, for [`describe_run`]: `exit status: 1`, `could not start: …`, or
/// `timed out` (`None`: it did not finish within its deadline).
pub fn outcome(out: Option<&std::io::Result<std::process::Output>>) -> String {
    match out {
        Some(Ok(out)) => out.status.to_string(),
        Some(Err(e)) => format!("could not start: {e}"),
        None => "timed out".to_owned(),
    }
}

/// `` `program args…` in DIR with NAME=value … ``, secrets redacted.
pub fn describe(command: &Command) -> String {
    let words: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|word| quote(&redact_arg(&word.to_string_lossy())))
        .collect();
    let mut text = format!("`{}`", words.join(" "));
    if let Some(dir) = command.get_current_dir() {
        text.push_str(&format!(" in {}", dir.display()));
    }
    let env: Vec<String> = command
        .get_envs()
        .map(|(name, value)| env_entry(name, value))
        .collect();
    if !env.is_empty() {
        text.push_str(&format!(" with {}", env.join(" ")));
    }
    text
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

    #[test]
    fn describes_program_directory_and_added_environment() {
        let mut cmd = Command::new("go");
        cmd.args(["build", "-ldflags=-s -w", "./cmd/app"])
            .current_dir("/src")
            .env("GOARCH", "arm64")
            .env_remove("GOFLAGS");
        assert_eq!(
            describe_run(&cmd, "exit status 0", Duration::from_millis(1234)),
            "`go build '-ldflags=-s -w' ./cmd/app` in /src with GOARCH=arm64 -GOFLAGS, exit status 0 after 1.23s"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let mut cmd = Command::new("kubectl");
        cmd.args([
            "--token=abc123",
            "apply",
            "https://u:p4ss@example.com/x",
            "--set",
            "db.password=hunter2",
            "--set",
            "replicas=2",
        ])
        .env("GITHUB_TOKEN", "ghp_secret")
        .env("aws_secret_access_key", "s3cr3t")
        .env("GOPROXY", "https://me:tok@proxy.example,direct");
        let text = describe(&cmd);
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
