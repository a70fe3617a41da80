//! Image references (`[registry/]repository[:tag][@digest]`), parsed by the grammar of the
//! CNCF distribution `reference` package, with Docker Hub short names made explicit.

use crate::Digest;
use crate::grammar::{ANCHORED_DOMAIN_AND_PORT, ANCHORED_PATH_COMPONENT, ANCHORED_TAG};
use std::fmt;
use std::str::FromStr;

/// The registry that short names such as `golang:1.22` live on. ggcr names it
/// `index.docker.io`; that is also the name that shows in ko's base-name annotation.
pub const DOCKER_HUB: &str = "index.docker.io";

/// A fully qualified image reference. `registry` and `repository` are always present
/// (Docker Hub short names are expanded); at least one of `tag`/`digest` is usually set,
/// but a bare repository is valid too (it means `:latest` when pulled).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid image reference `{input}`: {reason}")]
pub struct ReferenceError {
    pub input: String,
    pub reason: &'static str,
}

impl Reference {
    /// `registry/repository`, the name without tag or digest (ggcr's `Context().Name()`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// go-containerregistry's `Reference.Name()`, which ko records as
    /// `org.opencontainers.image.base.name`: `name@digest` when pinned (a tag beside the
    /// digest is dropped), else `name:tag` with `latest` by default.
    pub fn ggcr_name(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@{d}", self.name()),
            (None, tag) => format!("{}:{}", self.name(), tag.as_deref().unwrap_or("latest")),
        }
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository pinned to `digest`, keeping the tag for readability.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// What to ask the registry for: the digest when pinned, else the tag, else `latest`.
    pub fn identifier(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }
}

/// Splits `name` into (domain, rest) with Docker's rule: the first component is a registry
/// if it has a `.` or `:`, is `localhost`, or has an upper-case letter (repositories cannot).
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| ReferenceError {
            input: input.to_owned(),
            reason,
        };
        if input.is_empty() {
            return Err(err("it is empty"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, d)) => (
                rest,
                Some(
                    d.parse::<Digest>()
                        .map_err(|_| err("the digest is not sha256:<64 hex>"))?,
                ),
            ),
            None => (input, None),
        };
        // A tag is the text after the last ':' that has no '/' after it (so a registry
        // port such as `localhost:5000/app` is not mistaken for a tag).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag
            && !ANCHORED_TAG.is_match(t)
        {
            return Err(err("the tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"));
        }
        let (domain, path) = split_domain(name);
        let registry = match domain {
            None | Some("docker.io") | Some("index.docker.io") => DOCKER_HUB.to_owned(),
            Some(d) if ANCHORED_DOMAIN_AND_PORT.is_match(d) => d.to_owned(),
            Some(_) => return Err(err("the registry host is not a valid hostname[:port]")),
        };
        if path.is_empty() || !path.split('/').all(|c| ANCHORED_PATH_COMPONENT.is_match(c)) {
            return Err(err(
                "the repository must be lowercase path components of [a-z0-9] separated by '.', '_', '__' or '-'",
            ));
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        if repository.len() + registry.len() + 1 > 255 {
            return Err(err("the name is longer than 255 characters"));
        }
        Ok(Reference {
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ggcr_names_add_latest_and_drop_a_tag_beside_a_digest() {
        let name = |s: &str| s.parse::<super::Reference>().unwrap().ggcr_name();
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            name("cgr.dev/chainguard/static"),
            "cgr.dev/chainguard/static:latest"
        );
        assert_eq!(name("golang:1.20"), "index.docker.io/library/golang:1.20");
        assert_eq!(
            name(&format!("reg.example:5000/base:v1@{digest}")),
            format!("reg.example:5000/base@{digest}")
        );
    }

    use super::*;

    fn parse(s: &str) -> Reference {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_hub_short_names_are_qualified_like_ggcr() {
        assert_eq!(
            parse("golang:1.20").to_string(),
            "index.docker.io/library/golang:1.20"
        );
        assert_eq!(parse("docker.io/foo/bar").name(), "index.docker.io/foo/bar");
        assert_eq!(
            parse("cgr.dev/chainguard/static:latest").name(),
            "cgr.dev/chainguard/static"
        );
    }

    #[test]
    fn ports_tags_and_digests_are_told_apart() {
        let d = Digest::of(b"x");
        let r = parse(&format!("localhost:5000/a/b:v1@{d}"));
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "a/b");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.digest, Some(d.clone()));
        assert_eq!(r.identifier(), d.to_string());
        let r = parse("localhost:5000/app");
        assert_eq!(
            (r.registry.as_str(), r.tag.as_deref()),
            ("localhost:5000", None)
        );
        assert_eq!(r.identifier(), "latest");
        assert_eq!(parse("127.0.0.1:39999/x:Tag").tag.as_deref(), Some("Tag"));
        assert_eq!(parse("[::1]:5000/app").registry, "[::1]:5000");
    }

    #[test]
    fn malformed_references_are_rejected_with_a_reason() {
        for bad in [
            "",
            "library/UPPER",
            "a//b",
            "host/a:bad tag",
            "a@sha256:00",
            "-x/y",
            "a:",
            // distribution's grammar has no `.` in a bracketed IPv6 host.
            "[::ffff:127.0.0.1]:5000/app",
        ] {
            assert!(
                bad.parse::<Reference>().is_err(),
                "{bad} should be rejected"
            );
        }
    }
}
