//! The environment kiln was started with, as one immutable snapshot ([`Env`]). Planning
//! reads it, the artifact key hashes it, and every child process (`go`, `git`, `kubectl`,
//! `helm`, credential helpers, `custom` build commands) starts from it and nothing else,
//! so what a build sees and what its key says it saw cannot drift apart.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A snapshot of environment variables. Cloning is cheap (the map is shared).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: Arc<BTreeMap<String, String>>,
}

impl Env {
    /// A snapshot of the process environment the CLI read (`std::env::vars_os()`: this
    /// crate reads nothing itself), with the names (shown lossily) of the variables left
    /// out for not being UTF-8, for the CLI to say so: no rule of kiln's can read them, a
    /// key must not hash what it cannot name, and a child process then runs without them.
    pub fn from_os_vars(
        vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> (Env, Vec<String>) {
        let (mut kept, mut left_out) = (Vec::new(), Vec::new());
        for (name, value) in vars {
            match (name.to_str(), value.to_str()) {
                (Some(name), Some(value)) => kept.push((name.to_owned(), value.to_owned())),
                _ => left_out.push(name.to_string_lossy().into_owned()),
            }
        }
        (Env::from_vars(kept), left_out)
    }

    /// A snapshot holding exactly `vars` (tests, embedders); names and values that are not
    /// UTF-8 are converted lossily.
    pub fn from_vars<I, K, V>(vars: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        Env::default().with(vars)
    }

    /// This snapshot with `overrides` laid over it.
    pub fn with<I, K, V>(&self, overrides: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let text = |s: &OsStr| s.to_string_lossy().into_owned();
        let mut vars = (*self.vars).clone();
        vars.extend(
            overrides
                .into_iter()
                .map(|(k, v)| (text(k.as_ref()), text(v.as_ref()))),
        );
        Env {
            vars: Arc::new(vars),
        }
    }

    /// The value of `name` (empty when set empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// `name` as a path, treating unset and empty alike.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.get(name).filter(|v| !v.is_empty()).map(PathBuf::from)
    }

    /// Every variable, by name.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// Where `program` would be found: itself when it names a path, else each `PATH`
    /// directory joined with it, in order (the caller checks which exists).
    pub fn path_candidates(&self, program: &str) -> Vec<PathBuf> {
        if program.contains('/') {
            return vec![PathBuf::from(program)];
        }
        self.get("PATH")
            .map(|path| {
                std::env::split_paths(path)
                    .filter(|dir| !dir.as_os_str().is_empty())
                    .map(|dir| dir.join(program))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Starts `command` from this snapshot and nothing else of the process environment.
    /// Variables the caller sets afterwards are changes on top of it.
    pub fn apply<'c>(
        &self,
        command: &'c mut std::process::Command,
    ) -> &'c mut std::process::Command {
        command.env_clear().envs(self.vars.iter())
    }

    /// Of the variables a command sets (`Command::get_envs`), those that differ from this
    /// snapshot: what a log line should show, since the rest is the snapshot itself.
    pub fn changes<'a>(
        &self,
        envs: impl IntoIterator<Item = (&'a OsStr, Option<&'a OsStr>)>,
    ) -> Vec<(&'a OsStr, Option<&'a OsStr>)> {
        envs.into_iter()
            .filter(|(name, value)| {
                let before = name.to_str().and_then(|n| self.get(n)).map(OsStr::new);
                before != *value
            })
            .collect()
    }
}

impl fmt::Debug for Env {
    // Values can be anything (tokens in CI variables), so only names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_sees_the_snapshot_and_the_log_only_what_changed() {
        let env = Env::from_vars([("PATH", "/bin:/usr/bin"), ("GOFLAGS", "-mod=vendor")]);
        let mut command = std::process::Command::new("go");
        env.apply(&mut command).env("GOOS", "linux");
        let set: Vec<_> = command.get_envs().collect();
        assert_eq!(set.len(), 3, "{set:?}");
        assert_eq!(
            env.changes(command.get_envs()),
            [(OsStr::new("GOOS"), Some(OsStr::new("linux")))]
        );
        command.env("GOFLAGS", "-mod=mod");
        assert_eq!(env.changes(command.get_envs()).len(), 2);
    }

    #[test]
    fn variables_that_are_not_utf8_are_named_and_left_out() {
        use std::os::unix::ffi::OsStringExt as _;
        let odd = std::ffi::OsString::from_vec(b"caf\xe9".to_vec());
        let (env, left_out) =
            Env::from_os_vars([("HOME".into(), "/home/k".into()), ("ODD".into(), odd)]);
        assert_eq!(env.get("HOME"), Some("/home/k"));
        assert_eq!(env.get("ODD"), None);
        assert_eq!(left_out, ["ODD"]);
    }

    #[test]
    fn debug_shows_names_never_values() {
        let env = Env::from_vars([("GITHUB_TOKEN", "hunter2")]);
        let shown = format!("{env:?}");
        assert!(shown.contains("GITHUB_TOKEN") && !shown.contains("hunter2"));
    }

    #[test]
    fn path_candidates_follow_path_and_keep_explicit_paths() {
        let env = Env::from_vars([("PATH", "/a::/b")]);
        assert_eq!(
            env.path_candidates("helm"),
            [PathBuf::from("/a/helm"), PathBuf::from("/b/helm")]
        );
        assert_eq!(env.path_candidates("./x/helm"), [PathBuf::from("./x/helm")]);
        assert!(Env::default().path_candidates("helm").is_empty());
    }
}
