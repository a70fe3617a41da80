//! Platforms (`os/arch[/variant][:osversion]`), ko's matching rules, and the Go environment
//! a platform implies.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An OCI platform, serialised with the OCI field names so that it can be copied verbatim
/// into (and out of) index descriptors.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlatformError {
    #[error(
        "invalid platform `{0}`: expected `os[/arch[/variant]][:osversion]`, e.g. `linux/arm64` or `linux/arm/v7`"
    )]
    Syntax(String),
    #[error(
        "platform `{platform}`: arm variant `{variant}` must look like `v7`; see https://go.dev/wiki/GoArm"
    )]
    ArmVariant { platform: String, variant: String },
}

/// What the user asked for: either every platform of the base (`all`) or a list of specs
/// in which an empty field is a wildcard (`linux` matches every linux entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformRequest {
    All,
    Specs(Vec<Platform>),
}

impl PlatformRequest {
    /// Parses a list such as `["linux/amd64,linux/arm64"]` or `["all"]`. Each element may
    /// itself be comma-separated, as ko's `--platform` flag allows. `all` cannot be mixed
    /// with explicit platforms (ko rejects that too).
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, PlatformError> {
        let parts: Vec<&str> = items
            .iter()
            .flat_map(|s| s.as_ref().split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.contains(&"all") {
            if parts.len() > 1 {
                return Err(PlatformError::Syntax(parts.join(",")));
            }
            return Ok(PlatformRequest::All);
        }
        let mut specs: Vec<Platform> = Vec::new();
        for part in parts {
            let p: Platform = part.parse()?;
            if !specs.contains(&p) {
                specs.push(p);
            }
        }
        Ok(PlatformRequest::Specs(specs))
    }

    /// ko's matcher: does this request select `candidate`? Descriptors whose OS or
    /// architecture is `unknown` (attestation manifests) never match, not even `all`.
    pub fn matches(&self, candidate: &Platform) -> bool {
        if candidate.os == "unknown" || candidate.architecture == "unknown" {
            return false;
        }
        match self {
            PlatformRequest::All => true,
            PlatformRequest::Specs(specs) => specs.iter().any(|s| s.matches(candidate)),
        }
    }
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
            os_version: None,
        }
    }

    /// Treating `self` as a spec, does it select `candidate`? Empty fields are wildcards;
    /// `osversion` must be equal, except that a Windows `X.Y.Z` spec matches `X.Y.Z.N`.
    pub fn matches(&self, candidate: &Platform) -> bool {
        let field = |spec: &str, have: &str| spec.is_empty() || spec == have;
        let variant = match (&self.variant, &candidate.variant) {
            (None, _) => true,
            (Some(want), Some(have)) => want == have,
            (Some(_), None) => false,
        };
        let os_version = match (&self.os_version, &candidate.os_version) {
            (None, _) => true,
            (Some(want), Some(have)) if candidate.os == "windows" => {
                have == want || have.starts_with(&format!("{want}."))
            }
            (Some(want), Some(have)) => want == have,
            (Some(_), None) => false,
        };
        field(&self.os, &candidate.os)
            && field(&self.architecture, &candidate.architecture)
            && variant
            && os_version
    }

    /// The `GOOS`/`GOARCH`/`GOARM`/`GOAMD64` settings for a build targeting this platform
    /// (ko's `buildEnv` and `getGoarm`: arm v8+ maps to GOARM=7, arm64 variants are ignored).
    pub fn go_env(&self) -> Result<Vec<(&'static str, String)>, PlatformError> {
        let mut env = vec![
            ("GOOS", self.os.clone()),
            ("GOARCH", self.architecture.clone()),
        ];
        let Some(variant) = self.variant.as_deref() else {
            return Ok(env);
        };
        match self.architecture.as_str() {
            "arm" => {
                let level = variant
                    .strip_prefix('v')
                    .and_then(|n| n.parse::<u32>().ok())
                    .ok_or_else(|| PlatformError::ArmVariant {
                        platform: self.to_string(),
                        variant: variant.to_owned(),
                    })?;
                if level >= 5 {
                    env.push(("GOARM", level.min(7).to_string()));
                }
            }
            "amd64" => env.push(("GOAMD64", variant.to_owned())),
            _ => {}
        }
        Ok(env)
    }

    /// A file-name-safe form, as ko names SBOM files (`linux-arm-v7`).
    pub fn slug(&self) -> String {
        self.to_string().replace(['/', ':'], "-")
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PlatformError::Syntax(s.to_owned());
        let (path, os_version) = match s.split_once(':') {
            Some((path, version)) if !version.is_empty() => (path, Some(version.to_owned())),
            Some(_) => return Err(err()),
            None => (s, None),
        };
        let parts: Vec<&str> = path.split('/').collect();
        let valid_part = |p: &&str| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if parts.len() > 3 || parts[0].is_empty() || !parts.iter().all(valid_part) {
            return Err(err());
        }
        Ok(Platform {
            os: parts[0].to_owned(),
            architecture: parts.get(1).map(|a| a.to_string()).unwrap_or_default(),
            variant: parts
                .get(2)
                .filter(|v| !v.is_empty())
                .map(|v| v.to_string()),
            os_version,
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.os)?;
        if !self.architecture.is_empty() {
            write!(f, "/{}", self.architecture)?;
        }
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        if let Some(v) = &self.os_version {
            write!(f, ":{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_every_form() {
        for s in [
            "linux",
            "linux/amd64",
            "linux/arm/v7",
            "windows/amd64:10.0.20348",
        ] {
            assert_eq!(p(s).to_string(), s);
        }
        for bad in ["", "a/b/c/d", "linux/amd64:", "linux/am d64"] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_follows_ko_rules() {
        // (spec, candidate, expected) — the cases of ko's TestMatchesPlatformSpec that apply.
        let cases = [
            ("linux", "linux/amd64", true),
            ("linux/arm64", "linux/arm64/v8", true),
            ("linux/arm64/v8", "linux/arm64", false),
            ("linux/arm/v7", "linux/arm/v6", false),
            ("linux/amd64", "linux/arm64", false),
            (
                "windows/amd64:10.0.17763",
                "windows/amd64:10.0.17763.1234",
                true,
            ),
            (
                "windows/amd64:10.0.17763",
                "windows/amd64:10.0.20348.1",
                false,
            ),
            ("linux/amd64:1.0", "linux/amd64:1.0.1", false),
        ];
        for (spec, candidate, want) in cases {
            assert_eq!(
                p(spec).matches(&p(candidate)),
                want,
                "{spec} vs {candidate}"
            );
        }
    }

    #[test]
    fn unknown_platforms_never_match_even_all() {
        let attestation = Platform::new("unknown", "unknown", None);
        assert!(!PlatformRequest::All.matches(&attestation));
        assert!(PlatformRequest::All.matches(&p("linux/s390x")));
    }

    #[test]
    fn request_splits_commas_dedupes_and_rejects_all_mixed() {
        let r = PlatformRequest::parse(&["linux/amd64,linux/arm64", "linux/amd64"]).unwrap();
        assert_eq!(
            r,
            PlatformRequest::Specs(vec![p("linux/amd64"), p("linux/arm64")])
        );
        assert_eq!(
            PlatformRequest::parse(&["all"]).unwrap(),
            PlatformRequest::All
        );
        assert!(PlatformRequest::parse(&["all,linux/amd64"]).is_err());
    }

    #[test]
    fn go_env_follows_ko_goarm_table() {
        let env = |s: &str| p(s).go_env().unwrap();
        assert!(env("linux/arm/v7").contains(&("GOARM", "7".into())));
        assert!(env("linux/arm/v6").contains(&("GOARM", "6".into())));
        assert!(env("linux/arm/v8").contains(&("GOARM", "7".into())));
        assert!(!env("linux/arm/v4").iter().any(|(k, _)| *k == "GOARM"));
        assert!(!env("linux/arm64/v8").iter().any(|(k, _)| *k == "GOARM"));
        assert!(env("linux/amd64/v3").contains(&("GOAMD64", "v3".into())));
        assert!(p("linux/arm/7").go_env().is_err());
    }
}
