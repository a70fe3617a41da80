//! Image naming: ko's namers (`ko build`), Skaffold's image-name rules (`ko://` prefix,
//! default-repo substitution) and the references both tools print after a push.
//!
//! Skaffold's names are *not* normalised the way [`crate::Reference`] is: `img:tag` stays
//! `img:tag` (no `index.docker.io/library/`), because Skaffold works on the strings the
//! user wrote and only the registry client qualifies them. This module therefore has its
//! own parser, [`ImageName::parse`], which follows the CNCF distribution `reference.Parse`
//! grammar exactly, after Skaffold's `SanitizeImageName`.

use std::sync::LazyLock;

use md5::{Digest as _, Md5};
use regex::Regex;

use crate::Digest;
use crate::grammar::{DIGEST, DOMAIN_AND_PORT, PATH_COMPONENT, TAG};

/// The scheme ko and Skaffold use to mark a Go import path in an image field.
pub const KO_SCHEME: &str = "ko://";

/// Skaffold's maximum length for a name produced by default-repo substitution (tag and
/// digest excluded), and distribution's maximum repository path length.
pub const MAX_NAME_LENGTH: usize = 255;

/// The tag ko pushes when none is given, and the one that never shows in its output.
pub const LATEST: &str = "latest";

/// The binary name ko falls back to when the import path has no usable last element.
pub const DEFAULT_APP_FILENAME: &str = "ko-app";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NamingError {
    /// The string is not an image reference in distribution's grammar. `reason` is the
    /// message distribution itself would give.
    #[error("invalid image name `{image}`: {reason}")]
    InvalidReference { image: String, reason: &'static str },
    /// `--tag-only` needs exactly one tag.
    #[error(
        "must specify exactly one tag to resolve images into tag-only references (got {count})"
    )]
    TagOnlyNeedsOneTag { count: usize },
    /// `--tag-only` cannot use `latest`.
    #[error("latest tag cannot be used in tag-only references")]
    TagOnlyLatest,
    /// A side-loaded image has no image ID to tag it with.
    #[error("cannot tag `{reference}` with an image ID: the image ID is empty")]
    EmptyImageId { reference: String },
}

fn reference_pattern() -> String {
    let domain = &*DOMAIN_AND_PORT;
    format!(
        r"^((?:{domain}/)?{PATH_COMPONENT}(?:/{PATH_COMPONENT})*)(?::({TAG}))?(?:@({DIGEST}))?$"
    )
}

static REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&reference_pattern()).expect("valid regex"));
static REFERENCE_CASE_INSENSITIVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("(?i){}", reference_pattern())).expect("valid regex"));
static ANCHORED_NAME: LazyLock<Regex> = LazyLock::new(|| {
    let domain = &*DOMAIN_AND_PORT;
    Regex::new(&format!(
        r"^(?:({domain})/)?({PATH_COMPONENT}(?:/{PATH_COMPONENT})*)$"
    ))
    .expect("valid regex")
});
/// Skaffold's `prefixRegex`: a registry followed by a GCP project id (6–30 characters).
static GCP_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    let domain = &*DOMAIN_AND_PORT;
    Regex::new(&format!(r"^{domain}/[a-z][a-z0-9-]{{4,28}}[a-z0-9]/?")).expect("valid regex")
});

/// Removes the `ko://` scheme, if present.
pub fn strip_ko_scheme(s: &str) -> &str {
    s.strip_prefix(KO_SCHEME).unwrap_or(s)
}

/// Skaffold's `SanitizeImageName`: strips `ko://` and lowercases the *name* part of a
/// reference, leaving the tag's case alone (`gcr.io/k8s-skaffold/Example:Tag` →
/// `gcr.io/k8s-skaffold/example:Tag`). A string that is not a reference even ignoring case
/// is returned with only the scheme removed.
pub fn sanitize_image_name(image: &str) -> String {
    let image = strip_ko_scheme(image);
    match REFERENCE_CASE_INSENSITIVE
        .captures(image)
        .and_then(|c| c.get(1))
    {
        // Group 1 always starts at 0 (the pattern is anchored).
        Some(name) => format!("{}{}", name.as_str().to_lowercase(), &image[name.end()..]),
        None => image.to_owned(),
    }
}

/// An image name parsed as Skaffold's `ParseReference` does: sanitized, then split by
/// distribution's grammar without any Docker Hub normalisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageName {
    /// Everything before `:tag` / `@digest`, e.g. `gcr.io/project/app` or `app`.
    pub base_name: String,
    /// The registry part, if the first component is one (`gcr.io`, `localhost:5000`).
    /// Distribution's `Parse` treats any leading hostname-shaped component followed by
    /// `/` as a domain, so this is `myrepo` for `myrepo/app`.
    pub domain: Option<String>,
    /// `base_name` without the domain.
    pub path: String,
    pub tag: Option<String>,
    /// The digest exactly as written (`sha256:…`, also `sha384`/`sha512`).
    pub digest: Option<String>,
}

impl ImageName {
    /// Sanitizes `image` (see [`sanitize_image_name`]) and parses it with distribution's
    /// `reference.Parse` rules, including its error cases.
    pub fn parse(image: &str) -> Result<ImageName, NamingError> {
        let sanitized = sanitize_image_name(image);
        let err = |reason| NamingError::InvalidReference {
            image: image.to_owned(),
            reason,
        };
        let Some(caps) = REFERENCE.captures(&sanitized) else {
            return Err(err(if sanitized.is_empty() {
                "repository name must have at least one component"
            } else if REFERENCE.is_match(&sanitized.to_lowercase()) {
                "repository name must be lowercase"
            } else {
                "invalid reference format"
            }));
        };
        let base_name = caps.get(1).map_or("", |m| m.as_str()).to_owned();
        let (domain, path) = match ANCHORED_NAME.captures(&base_name) {
            Some(n) => (
                n.get(1).map(|m| m.as_str().to_owned()),
                n.get(2).map_or("", |m| m.as_str()).to_owned(),
            ),
            None => (None, base_name.clone()),
        };
        if path.len() > MAX_NAME_LENGTH {
            return Err(err("repository name must not be more than 255 characters"));
        }
        let digest = match caps.get(3) {
            Some(d) => {
                validate_digest(d.as_str()).map_err(err)?;
                Some(d.as_str().to_owned())
            }
            None => None,
        };
        Ok(ImageName {
            base_name,
            domain,
            path,
            tag: caps.get(2).map(|m| m.as_str().to_owned()),
            digest,
        })
    }
}

impl std::fmt::Display for ImageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base_name)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// go-digest's `Digest.Validate` for the algorithms Skaffold links in.
fn validate_digest(d: &str) -> Result<(), &'static str> {
    let (algorithm, encoded) = d.split_once(':').ok_or("invalid checksum digest format")?;
    let size = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err("unsupported digest algorithm"),
    };
    if encoded.len() != size {
        return Err("invalid checksum digest length");
    }
    if !encoded
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err("invalid checksum digest format");
    }
    Ok(())
}

/// Cuts `s` to at most `max` bytes (on a character boundary; names are ASCII in practice).
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Skaffold's `SubstituteDefaultRepoIntoImage`: rewrites `image` under `default_repo`.
///
/// * No (or an empty) default repo returns `image` **unchanged**, `ko://` included.
/// * Otherwise the name is rewritten by Skaffold's `replace` rules, then `:tag` and
///   `@digest` are re-attached:
///   1. A name that starts with `default_repo` (a plain string prefix, as in Skaffold) is
///      kept as is.
///   2. GCR (`gcr.io`) and Artifact Registry (`-docker.pkg.dev`) default repos whose
///      project id is 6–30 characters are always multi-level; otherwise `multi_level`
///      (Skaffold's global `multi-level-repo`) decides.
///   3. Multi-level: `default_repo/<name>`, dropping the image's own registry/project when
///      it is the same as the default repo's (`gcr.io/default/example/registry` under
///      `gcr.io/default/repository` → `gcr.io/default/repository/example/registry`).
///   4. Single-level: `default_repo/<name with every [/._:@] replaced by _>`.
///   5. The result is cut to 255 characters, except in the same-prefix case of rule 3
///      (Skaffold does not truncate that one either).
pub fn substitute_default_repo(
    default_repo: Option<&str>,
    multi_level: bool,
    image: &str,
) -> Result<String, NamingError> {
    let Some(default_repo) = default_repo.filter(|r| !r.is_empty()) else {
        return Ok(image.to_owned());
    };
    let parsed = ImageName::parse(image)?;
    let mut out = replace(default_repo, multi_level, &parsed.base_name);
    if let Some(t) = &parsed.tag {
        out.push(':');
        out.push_str(t);
    }
    if let Some(d) = &parsed.digest {
        out.push('@');
        out.push_str(d);
    }
    Ok(out)
}

fn replace(default_repo: &str, multi_level: bool, base: &str) -> String {
    if base.starts_with(default_repo) {
        return base.to_owned();
    }
    let find = |s: &str| GCP_PREFIX.find(s).map_or("", |m| m.as_str()).to_owned();
    let original_prefix = find(base);
    let default_prefix = find(default_repo);
    let forced = default_prefix.contains("gcr.io") || default_prefix.contains("-docker.pkg.dev");
    if forced || multi_level {
        if original_prefix == default_prefix {
            return format!("{default_repo}/{}", &base[original_prefix.len()..]);
        }
        return truncate(format!("{default_repo}/{base}"), MAX_NAME_LENGTH);
    }
    let escaped: String = base
        .chars()
        .map(|c| {
            if matches!(c, '/' | '.' | '_' | ':' | '@') {
                '_'
            } else {
                c
            }
        })
        .collect();
    truncate(format!("{default_repo}/{escaped}"), MAX_NAME_LENGTH)
}

/// An image name as the suffix of Skaffold's helm template values (`IMAGE_REPO_<suffix>`):
/// `.`, `-`, `/` and `:` become `_`, which Go templates accept in a field name
/// (Skaffold's `SanitizeHelmTemplateValue`).
pub fn helm_template_suffix(image: &str) -> String {
    image.replace(['.', '-', '/', ':'], "_")
}

/// Skaffold's `TagWithDigest`: `tag@digest`, unless `tag` already ends with `@digest`.
pub fn tag_with_digest(tag: &str, digest: &Digest) -> String {
    let suffix = format!("@{digest}");
    if tag.ends_with(&suffix) {
        tag.to_owned()
    } else {
        format!("{tag}{suffix}")
    }
}

/// How `ko build` turns an import path into a repository name under `KO_DOCKER_REPO`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KoNaming {
    /// `<repo>/<last element>-<md5 of the import path>` (ko's default).
    #[default]
    Default,
    /// `-B` / `--base-import-paths`: `<repo>/<last element>`.
    BaseImportPaths,
    /// `-P` / `--preserve-import-paths`: `<repo>/<import path>`.
    PreserveImportPaths,
    /// `--bare`: `<repo>`.
    Bare,
}

impl KoNaming {
    /// ko's `MakeNamer` precedence: `-P`, then `-B`, then `--bare`, then the default.
    /// (`--bare` with `-B` is only a warning in ko; `-B` wins.)
    pub fn from_flags(preserve_import_paths: bool, base_import_paths: bool, bare: bool) -> Self {
        if preserve_import_paths {
            KoNaming::PreserveImportPaths
        } else if base_import_paths {
            KoNaming::BaseImportPaths
        } else if bare {
            KoNaming::Bare
        } else {
            KoNaming::Default
        }
    }
}

/// The repository name ko publishes `import_path` to under `repo`, as ko's real publishers
/// compute it: `ko://` stripped, the import path lowercased, then the namer applied with
/// Go's `path.Join` (which also cleans `repo`, e.g. drops a trailing `/`).
pub fn ko_image_name(repo: &str, import_path: &str, naming: KoNaming) -> String {
    let ip = strip_ko_scheme(import_path).to_lowercase();
    match naming {
        KoNaming::Default => {
            let sum = hex::encode(Md5::digest(ip.as_bytes()));
            go_path_join(repo, &format!("{}-{sum}", go_path_base(&ip)))
        }
        KoNaming::BaseImportPaths => go_path_join(repo, &go_path_base(&ip)),
        KoNaming::PreserveImportPaths => go_path_join(repo, &ip),
        KoNaming::Bare => repo.to_owned(),
    }
}

/// The file name of the binary in the image (`/ko-app/<name>`): the last element of the
/// import path, or `ko-app` when that is `.` or `/`. Case is kept; `example.com/foo/v2`
/// gives `v2`.
pub fn binary_name(import_path: &str) -> String {
    match go_path_base(strip_ko_scheme(import_path)).as_str() {
        "." | "/" => DEFAULT_APP_FILENAME.to_owned(),
        base => base.to_owned(),
    }
}

/// ko's `unique`: drops repeated tags, keeping the first occurrence's position.
pub fn unique_tags<S: AsRef<str>>(tags: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        if !out.iter().any(|o| o == t.as_ref()) {
            out.push(t.as_ref().to_owned());
        }
    }
    out
}

/// The reference `ko build` prints for an image published as `name` with `tags` (already
/// de-duplicated; empty means `latest`):
///
/// | condition | printed |
/// |---|---|
/// | `tag_only` (exactly one tag, not `latest`) | `name:tag` |
/// | exactly one tag, not `latest` | `name:tag@digest` |
/// | otherwise | `name@digest` |
pub fn ko_printed_reference<S: AsRef<str>>(
    name: &str,
    tags: &[S],
    digest: &Digest,
    tag_only: bool,
) -> Result<String, NamingError> {
    if tag_only {
        return Ok(format!("{name}:{}", tag_only_tag(tags)?));
    }
    Ok(match single_tag(tags) {
        Some(t) if t != LATEST => format!("{name}:{t}@{digest}"),
        _ => format!("{name}@{digest}"),
    })
}

/// The one tag a `--tag-only` reference carries: there must be exactly one, and not
/// `latest` (ko's rule, checked before anything is built).
pub fn tag_only_tag<S: AsRef<str>>(tags: &[S]) -> Result<&str, NamingError> {
    match single_tag(tags) {
        None => Err(NamingError::TagOnlyNeedsOneTag { count: tags.len() }),
        Some(LATEST) => Err(NamingError::TagOnlyLatest),
        Some(t) => Ok(t),
    }
}

/// The tag of a tag list that has one (no tags means `latest`).
fn single_tag<S: AsRef<str>>(tags: &[S]) -> Option<&str> {
    match tags {
        [] => Some(LATEST),
        [t] => Some(t.as_ref()),
        _ => None,
    }
}

/// Go's `path.Base`.
fn go_path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_owned();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

/// Go's `path.Join` of two elements: empty elements are ignored, the rest is cleaned.
fn go_path_join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (false, true) => go_path_clean(a),
        (true, false) => go_path_clean(b),
        (false, false) => go_path_clean(&format!("{a}/{b}")),
    }
}

/// Go's `path.Clean`.
fn go_path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:81daf011d63b68cfa514ddab7741a1adddd59d3264118dfb0fd9266328bb8883";

    fn sub(default_repo: &str, multi_level: bool, image: &str) -> String {
        let repo = (!default_repo.is_empty()).then_some(default_repo);
        substitute_default_repo(repo, multi_level, image)
            .unwrap_or_else(|e| panic!("{image} under {default_repo}: {e}"))
    }

    #[test]
    fn sanitize_strips_the_scheme_and_lowercases_only_the_name() {
        assert_eq!(
            sanitize_image_name("gcr.io/k8s-skaffold/Example:Tag"),
            "gcr.io/k8s-skaffold/example:Tag"
        );
        assert_eq!(
            sanitize_image_name("ko://github.com/GoogleContainerTools/skaffold"),
            "github.com/googlecontainertools/skaffold"
        );
        assert_eq!(
            sanitize_image_name("ko://Example.COM/A:V1@"),
            "Example.COM/A:V1@"
        );
        assert_eq!(sanitize_image_name("!!invalid!!"), "!!invalid!!");
        assert_eq!(
            sanitize_image_name(&format!("Img:TAG@{D}")),
            format!("img:TAG@{D}")
        );
    }

    /// Every case of Skaffold's TestImageReplaceDefaultRepo (pkg/skaffold/docker/default_repo_test.go).
    #[test]
    fn skaffold_default_repo_vectors() {
        let long = "gcr.io/herewehaveanincrediblylongregistryname/herewealsohaveanabnormallylongimagename/doubtyouveseenanimagethislong/butyouneverknowdoyouimeanpeopledosomecrazystuffoutthere/goodluckpushingthistoanyregistrymyfriend";
        let ecr = "aws_account_id.dkr.ecr.region.amazonaws.com";
        let cases: &[(&str, &str, bool, &str)] = &[
            // (image, default repo, multi-level, expected)
            (
                "gcr.io/some/registry",
                "gcr.io/default",
                false,
                "gcr.io/default/gcr.io/some/registry",
            ),
            (
                "gcr.io/some/registry",
                "gcr.io/default",
                true,
                "gcr.io/default/gcr.io/some/registry",
            ),
            (
                "github.com/org/app",
                "us-central1-docker.pkg.dev/default",
                false,
                "us-central1-docker.pkg.dev/default/github.com/org/app",
            ),
            (
                "github.com/org/app",
                "us-central1-docker.pkg.dev/default",
                true,
                "us-central1-docker.pkg.dev/default/github.com/org/app",
            ),
            ("gcr.io/some/registry", "", false, "gcr.io/some/registry"),
            (
                "gcr.io/default/registry",
                "gcr.io/default",
                false,
                "gcr.io/default/registry",
            ),
            (
                "eu.gcr.io/project/registry",
                "eu.gcr.io/project",
                false,
                "eu.gcr.io/project/registry",
            ),
            (
                "gcr.io/default/example/registry",
                "gcr.io/default/repository",
                false,
                "gcr.io/default/repository/example/registry",
            ),
            (
                "gcr.io/some/registry",
                ecr,
                false,
                "aws_account_id.dkr.ecr.region.amazonaws.com/gcr_io_some_registry",
            ),
            (
                "gcr.io/some/registry",
                ecr,
                true,
                "aws_account_id.dkr.ecr.region.amazonaws.com/gcr.io/some/registry",
            ),
            (
                long,
                ecr,
                false,
                "aws_account_id.dkr.ecr.region.amazonaws.com/gcr_io_herewehaveanincrediblylongregistryname_herewealsohaveanabnormallylongimagename_doubtyouveseenanimagethislong_butyouneverknowdoyouimeanpeopledosomecrazystuffoutthere_goodluckpushingthistoanyregistrymyfrien",
            ),
            (
                "gcr.io/k8s-skaffold/skaffold-example",
                "gcr.io/k8s-skaffold",
                false,
                "gcr.io/k8s-skaffold/skaffold-example",
            ),
            (
                "myrepo/skaffold-example",
                "myrepo",
                false,
                "myrepo/skaffold-example",
            ),
            (
                "ko://example.com/cmd/app",
                "gcr.io/default",
                false,
                "gcr.io/default/example.com/cmd/app",
            ),
            (
                "ko://example.com/cmd/app",
                "myrepo",
                false,
                "myrepo/example_com_cmd_app",
            ),
            (
                "ko://example.com/cmd/app",
                "myrepo",
                true,
                "myrepo/example.com/cmd/app",
            ),
            ("img:tag", "gcr.io/default", false, "gcr.io/default/img:tag"),
        ];
        for &(image, repo, multi, want) in cases {
            assert_eq!(
                sub(repo, multi, image),
                want,
                "{image} under {repo:?} (multi-level {multi})"
            );
        }
        assert_eq!(
            sub("gcr.io/default", false, &format!("img@{D}")),
            format!("gcr.io/default/img@{D}")
        );
        assert_eq!(
            sub("gcr.io/default", false, &format!("img:tag@{D}")),
            format!("gcr.io/default/img:tag@{D}")
        );
        assert!(matches!(
            substitute_default_repo(Some("gcr.io/default"), false, "!!invalid!!"),
            Err(NamingError::InvalidReference {
                reason: "invalid reference format",
                ..
            })
        ));
    }

    #[test]
    fn default_repo_edge_cases() {
        // No default repo: unchanged, scheme and case included (the scheduler sanitizes later).
        assert_eq!(
            sub("", false, "ko://Example.com/App"),
            "ko://Example.com/App"
        );
        // A GCR/AR project id shorter than 6 characters is not recognised: escaped, single-level.
        assert_eq!(
            sub("gcr.io/abcd", false, "ko://example.com/cmd/app"),
            "gcr.io/abcd/example_com_cmd_app"
        );
        assert_eq!(
            sub("europe-docker.pkg.dev/proj", false, "example.com/app"),
            "europe-docker.pkg.dev/proj/example_com_app"
        );
        // ... while a 6-character one is multi-level.
        assert_eq!(
            sub("gcr.io/abcdef", false, "example.com/app"),
            "gcr.io/abcdef/example.com/app"
        );
        // Skaffold's prefix test is a plain string prefix, not a path prefix.
        assert_eq!(
            sub("gcr.io/default", false, "gcr.io/default2/app"),
            "gcr.io/default2/app"
        );
        // Mixed case in the image is lowercased first; the tag keeps its case.
        assert_eq!(
            sub("myrepo", false, "ko://Example.com/App:V1"),
            "myrepo/example_com_app:V1"
        );
        // A registry port is escaped like any other `:`.
        assert_eq!(
            sub("myrepo", false, "localhost:5000/app"),
            "myrepo/localhost_5000_app"
        );
        // The 255-character cut excludes the tag and the digest; multi-level cuts too.
        let image = format!("example.com/{}", "a".repeat(240));
        let got = sub("myrepo", true, &format!("{image}:v1@{D}"));
        assert_eq!(got, format!("{}:v1@{D}", &format!("myrepo/{image}")[..255]));
        assert_eq!(sub("myrepo", false, &image).len(), 255);
        // The same-project case is not truncated (as in Skaffold).
        let same = format!("gcr.io/default/{}", "b".repeat(230));
        let deep = format!("gcr.io/default/{}", "d".repeat(40));
        assert_eq!(
            sub(&deep, false, &same),
            format!("{deep}/{}", "b".repeat(230))
        );
        assert_eq!(sub(&deep, false, &same).len(), 286);
    }

    #[test]
    fn image_names_parse_like_distribution() {
        let n = ImageName::parse(&format!("localhost:5000/A/b:V1@{D}")).unwrap();
        assert_eq!(n.base_name, "localhost:5000/a/b");
        assert_eq!(n.domain.as_deref(), Some("localhost:5000"));
        assert_eq!(n.path, "a/b");
        assert_eq!(n.tag.as_deref(), Some("V1"));
        assert_eq!(n.digest.as_deref(), Some(D));
        assert_eq!(n.to_string(), format!("localhost:5000/a/b:V1@{D}"));
        let n = ImageName::parse("img").unwrap();
        assert_eq!((n.domain, n.path.as_str(), n.tag), (None, "img", None));
        assert_eq!(
            ImageName::parse("myrepo/app").unwrap().domain.as_deref(),
            Some("myrepo")
        );
        let reason = |s: &str| match ImageName::parse(s) {
            Err(NamingError::InvalidReference { reason, .. }) => reason,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(
            reason(""),
            "repository name must have at least one component"
        );
        assert_eq!(reason("a:b c"), "invalid reference format");
        assert_eq!(reason("img@sha256:abcd"), "invalid reference format");
        assert_eq!(
            reason(&format!("img@md5:{}", "a".repeat(32))),
            "unsupported digest algorithm"
        );
        assert_eq!(
            reason(&format!("img@sha256:{}", "a".repeat(63) + "ab")),
            "invalid checksum digest length"
        );
        assert_eq!(
            reason(&format!("img@sha256:{}", "A".repeat(64))),
            "invalid checksum digest format"
        );
        assert_eq!(
            reason(&"a".repeat(256)),
            "repository name must not be more than 255 characters"
        );
        assert!(ImageName::parse(&format!("img@sha512:{}", "0".repeat(128))).is_ok());
    }

    #[test]
    fn skaffold_final_references() {
        let d: Digest = D.parse().unwrap();
        assert_eq!(
            tag_with_digest("gcr.io/p/app:v1", &d),
            format!("gcr.io/p/app:v1@{D}")
        );
        assert_eq!(
            tag_with_digest(&format!("gcr.io/p/app:v1@{D}"), &d),
            format!("gcr.io/p/app:v1@{D}")
        );
    }

    #[test]
    fn ko_namers() {
        let repo = "registry.example.org/foo/bar";
        let ip = "example.org/sample/cmd/example";
        assert_eq!(
            ko_image_name(repo, ip, KoNaming::Default),
            "registry.example.org/foo/bar/example-51d74b7127c5f7495a338df33ecdeb19"
        );
        // Scheme stripped and path lowercased before hashing.
        assert_eq!(
            ko_image_name(
                "registry.example.org/foo/bar/",
                "ko://Example.org/Sample/cmd/Example",
                KoNaming::Default
            ),
            "registry.example.org/foo/bar/example-51d74b7127c5f7495a338df33ecdeb19"
        );
        assert_eq!(
            ko_image_name(repo, ip, KoNaming::BaseImportPaths),
            "registry.example.org/foo/bar/example"
        );
        assert_eq!(
            ko_image_name(repo, ip, KoNaming::PreserveImportPaths),
            "registry.example.org/foo/bar/example.org/sample/cmd/example"
        );
        assert_eq!(ko_image_name(repo, ip, KoNaming::Bare), repo);
        assert_eq!(
            ko_image_name("ko.local", "ko://Example.com/x", KoNaming::BaseImportPaths),
            "ko.local/x"
        );
        assert_eq!(
            KoNaming::from_flags(true, true, true),
            KoNaming::PreserveImportPaths
        );
        assert_eq!(
            KoNaming::from_flags(false, true, true),
            KoNaming::BaseImportPaths
        );
        assert_eq!(KoNaming::from_flags(false, false, true), KoNaming::Bare);
        assert_eq!(KoNaming::from_flags(false, false, false), KoNaming::Default);
    }

    #[test]
    fn binary_names() {
        assert_eq!(binary_name("example.com/foo/cmd/app"), "app");
        assert_eq!(binary_name("ko://example.com/foo/v2"), "v2");
        assert_eq!(binary_name("example.com/Foo/CamelApp"), "CamelApp");
        assert_eq!(binary_name("example.com/app/"), "app");
        assert_eq!(binary_name("."), "ko-app");
        assert_eq!(binary_name("/"), "ko-app");
        assert_eq!(binary_name(""), "ko-app");
    }

    #[test]
    fn ko_printed_references() {
        let d: Digest = D.parse().unwrap();
        let name = "r.example/app";
        let none: [&str; 0] = [];
        assert_eq!(
            ko_printed_reference(name, &none, &d, false).unwrap(),
            format!("{name}@{D}")
        );
        assert_eq!(
            ko_printed_reference(name, &["latest"], &d, false).unwrap(),
            format!("{name}@{D}")
        );
        assert_eq!(
            ko_printed_reference(name, &["v1"], &d, false).unwrap(),
            format!("{name}:v1@{D}")
        );
        assert_eq!(
            ko_printed_reference(name, &["v1", "v2"], &d, false).unwrap(),
            format!("{name}@{D}")
        );
        assert_eq!(
            ko_printed_reference(name, &["v1"], &d, true).unwrap(),
            format!("{name}:v1")
        );
        assert_eq!(
            ko_printed_reference(name, &["latest"], &d, true),
            Err(NamingError::TagOnlyLatest)
        );
        assert_eq!(
            ko_printed_reference(name, &none, &d, true),
            Err(NamingError::TagOnlyLatest)
        );
        assert_eq!(
            ko_printed_reference(name, &["a", "b"], &d, true),
            Err(NamingError::TagOnlyNeedsOneTag { count: 2 })
        );
        assert_eq!(unique_tags(&["v1", "latest", "v1"]), ["v1", "latest"]);
    }

    #[test]
    fn go_path_helpers_match_go() {
        assert_eq!(go_path_clean("a//b/./c/.."), "a/b");
        assert_eq!(go_path_clean("/../a"), "/a");
        assert_eq!(go_path_clean("../../a"), "../../a");
        assert_eq!(go_path_clean(""), ".");
        assert_eq!(go_path_join("", ""), "");
        assert_eq!(go_path_join("r/", "x"), "r/x");
        assert_eq!(go_path_base("a/b//"), "b");
        assert_eq!(go_path_base("///"), "/");
    }
}
