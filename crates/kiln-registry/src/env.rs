//! The environment the client reads (`HOME`, `DOCKER_CONFIG`, `PATH`, …), injectable so
//! tests and embedders never have to mutate the process environment.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where environment variables come from.
///
/// * [`Env::process`] reads the real process environment when a value is needed.
/// * [`Env::from_vars`] sees only the given variables. Child processes the client starts
///   (credential helpers) inherit the process environment with these variables laid over it,
///   so a test can put a helper on `PATH` without touching the process.
#[derive(Clone, Default)]
pub struct Env {
    vars: Option<Arc<BTreeMap<OsString, OsString>>>,
}

impl Env {
    pub fn process() -> Env {
        Env { vars: None }
    }

    pub fn from_vars<I, K, V>(vars: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        Env {
            vars: Some(Arc::new(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            )),
        }
    }

    /// The raw value of `key`.
    pub fn var_os(&self, key: &str) -> Option<OsString> {
        match &self.vars {
            None => std::env::var_os(key),
            Some(vars) => vars.get(OsStr::new(key)).cloned(),
        }
    }

    /// `key` as a path, treating unset and empty alike.
    pub fn path(&self, key: &str) -> Option<PathBuf> {
        self.var_os(key)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    /// The variables to lay over the process environment for child processes.
    pub(crate) fn overrides(&self) -> impl Iterator<Item = (&OsString, &OsString)> {
        self.vars.iter().flat_map(|v| v.iter())
    }
}

impl fmt::Debug for Env {
    // Values can be anything (tokens in CI variables), so only names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.vars {
            None => f.write_str("Env::process"),
            Some(vars) => f.debug_set().entries(vars.keys()).finish(),
        }
    }
}

/// A credential or token. Its `Debug` and `Display` print `<redacted>`; the value is only
/// reachable through [`Secret::expose`], which the client calls when building a header.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_env_sees_only_its_vars_and_debug_hides_values() {
        let env = Env::from_vars([("HOME", "/h"), ("TOKEN", "hunter2")]);
        assert_eq!(env.path("HOME"), Some(PathBuf::from("/h")));
        assert_eq!(env.var_os("PATH"), None);
        let dbg = format!("{env:?}");
        assert!(dbg.contains("TOKEN") && !dbg.contains("hunter2"), "{dbg}");
        assert_eq!(
            format!("{:?} {}", Secret::new("hunter2"), Secret::new("hunter2")),
            "<redacted> <redacted>"
        );
    }
}
