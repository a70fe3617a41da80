//! Skaffold tag policies, the pure parts: every function takes what Skaffold would have
//! computed with git, the clock or the file system as arguments.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::{Digest as _, Sha256};

use crate::gotime::{FixedZone, format_go_time};
use crate::naming::{ImageName, NamingError};
use crate::sprig::TemplateInputs;
use crate::template::{TemplateError, render_skaffold};

/// Skaffold's default `dateTime` layout (Go time layout).
pub const DEFAULT_DATETIME_FORMAT: &str = "2006-01-02_15-04-05.999_MST";

/// Docker's tag length limit, which `sanitize_tag` enforces.
pub const MAX_TAG_LENGTH: usize = 128;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TagError {
    #[error(
        "{0:?} is not a valid git tagger variant (expected Tags, CommitSha, AbbrevCommitSha, TreeSha, AbbrevTreeSha or Branches)"
    )]
    UnknownGitVariant(String),
    #[error("unable to find git commit: the {variant} tagger needs the output of `git {command}`")]
    MissingGitOutput {
        variant: GitCommitVariant,
        command: String,
    },
    #[error(
        "bad timezone provided: {0:?}: not a zone of the system's zoneinfo (/usr/share/zoneinfo), UTC/GMT or `Etc/GMT±N`"
    )]
    UnknownTimezone(String),
    #[error("invalid tag {tag:?}: {why}")]
    InvalidTag { tag: String, why: String },
    #[error("envTemplate tagger: {0}")]
    Template(#[from] TemplateError),
    #[error("envTemplate tagger: template {template:?} rendered `<no value>`: {rendered:?}")]
    NoValue { template: String, rendered: String },
    #[error(transparent)]
    Naming(#[from] NamingError),
}

/// Checks the OCI distribution tag grammar, `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`: a tag
/// given by the user (`-t`, `SKAFFOLD_TAG`) is refused before anything is built, never
/// rewritten.
pub fn validate_tag(tag: &str) -> Result<(), TagError> {
    let invalid = |why: &str| {
        Err(TagError::InvalidTag {
            tag: tag.to_owned(),
            why: why.to_owned(),
        })
    };
    let Some(first) = tag.chars().next() else {
        return invalid("it is empty");
    };
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return invalid("it must start with a letter, a digit or `_`");
    }
    if let Some(bad) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return invalid(&format!(
            "`{bad}` is not allowed (only letters, digits, `.`, `_` and `-`)"
        ));
    }
    if tag.len() > MAX_TAG_LENGTH {
        return invalid(&format!("it is longer than {MAX_TAG_LENGTH} characters"));
    }
    Ok(())
}

/// Skaffold's `sanitizeTag`: characters outside `[A-Za-z0-9._-]` become `_`, leading `-`
/// and `.` become `_`, and the result is cut to 128 characters.
pub fn sanitize_tag(tag: &str) -> String {
    let mut leading = true;
    let mut out: String = tag
        .chars()
        .map(|c| {
            let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            };
            if leading && matches!(c, '-' | '.') {
                return '_';
            }
            leading = false;
            c
        })
        .collect();
    // All characters are ASCII now, so a byte cut is a character cut.
    out.truncate(MAX_TAG_LENGTH);
    out
}

/// The `gitCommit` tagger variants (`tagPolicy.gitCommit.variant`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GitCommitVariant {
    /// `git describe --tags --always` (the default).
    #[default]
    Tags,
    /// `git rev-list -1 HEAD`.
    CommitSha,
    /// `git rev-list -1 HEAD --abbrev-commit`.
    AbbrevCommitSha,
    /// `git rev-parse HEAD:<workspace>/`.
    TreeSha,
    /// `git rev-parse --short HEAD:<workspace>/`.
    AbbrevTreeSha,
    /// `git branch --show-current`, falling back to `AbbrevCommitSha`.
    Branches,
}

impl fmt::Display for GitCommitVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GitCommitVariant::Tags => "Tags",
            GitCommitVariant::CommitSha => "CommitSha",
            GitCommitVariant::AbbrevCommitSha => "AbbrevCommitSha",
            GitCommitVariant::TreeSha => "TreeSha",
            GitCommitVariant::AbbrevTreeSha => "AbbrevTreeSha",
            GitCommitVariant::Branches => "Branches",
        })
    }
}

impl FromStr for GitCommitVariant {
    type Err = TagError;

    /// Case-insensitive, as Skaffold's; the empty string means `Tags`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "" | "tags" => GitCommitVariant::Tags,
            "commitsha" => GitCommitVariant::CommitSha,
            "abbrevcommitsha" => GitCommitVariant::AbbrevCommitSha,
            "treesha" => GitCommitVariant::TreeSha,
            "abbrevtreesha" => GitCommitVariant::AbbrevTreeSha,
            "branches" => GitCommitVariant::Branches,
            _ => return Err(TagError::UnknownGitVariant(s.to_owned())),
        })
    }
}

impl GitCommitVariant {
    /// The git arguments whose (trimmed) output this variant tags with. `workspace` is the
    /// artifact directory relative to the repository root (`.` at the root), used by the
    /// tree variants. For `Branches`, also run [`GitCommitVariant::AbbrevCommitSha`]'s
    /// command when this one fails or prints nothing.
    pub fn git_args(self, workspace: &str) -> Vec<String> {
        let args: &[&str] = match self {
            GitCommitVariant::Tags => &["describe", "--tags", "--always"],
            GitCommitVariant::CommitSha => &["rev-list", "-1", "HEAD"],
            GitCommitVariant::AbbrevCommitSha => &["rev-list", "-1", "HEAD", "--abbrev-commit"],
            GitCommitVariant::TreeSha => &["rev-parse"],
            GitCommitVariant::AbbrevTreeSha => &["rev-parse", "--short"],
            GitCommitVariant::Branches => &["branch", "--show-current"],
        };
        let mut out: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        if matches!(
            self,
            GitCommitVariant::TreeSha | GitCommitVariant::AbbrevTreeSha
        ) {
            out.push(format!("HEAD:{workspace}/"));
        }
        out
    }
}

/// The git arguments that decide `-dirty`: `git status . --porcelain` in the workspace;
/// any output means dirty.
pub const GIT_STATUS_ARGS: [&str; 3] = ["status", ".", "--porcelain"];

/// Outputs of the git commands a `gitCommit` tagger needs. `None` means the command was
/// not run or failed; only the field of the chosen variant (plus `abbrev_commit_sha` for
/// the `Branches` fallback) has to be filled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitOutputs {
    /// `git describe --tags --always`.
    pub describe: Option<String>,
    /// `git rev-list -1 HEAD`.
    pub commit_sha: Option<String>,
    /// `git rev-list -1 HEAD --abbrev-commit`.
    pub abbrev_commit_sha: Option<String>,
    /// `git rev-parse HEAD:<workspace>/`.
    pub tree_sha: Option<String>,
    /// `git rev-parse --short HEAD:<workspace>/`.
    pub abbrev_tree_sha: Option<String>,
    /// `git branch --show-current`.
    pub branch: Option<String>,
    /// Whether `git status . --porcelain` printed anything.
    pub dirty: bool,
}

/// The `gitCommit` tag: `<prefix><sanitized ref>[-dirty]`. `-dirty` is appended when the
/// workspace has changes, unless `ignore_changes`. The prefix is not sanitized (as in
/// Skaffold).
///
/// Difference from Skaffold: on a detached HEAD `git branch --show-current` succeeds with
/// empty output, which gives Skaffold an empty tag (an untagged image); kiln falls back to
/// the abbreviated commit then too, as it does when the command fails.
pub fn git_commit_tag(
    variant: GitCommitVariant,
    prefix: &str,
    ignore_changes: bool,
    outputs: &GitOutputs,
) -> Result<String, TagError> {
    fn pick(
        variant: GitCommitVariant,
        source: GitCommitVariant,
        out: &Option<String>,
    ) -> Result<&str, TagError> {
        out.as_deref()
            .map(str::trim)
            .ok_or_else(|| TagError::MissingGitOutput {
                variant,
                command: source.git_args("<workspace>").join(" "),
            })
    }
    let raw = match variant {
        GitCommitVariant::Tags => pick(variant, variant, &outputs.describe)?,
        GitCommitVariant::CommitSha => pick(variant, variant, &outputs.commit_sha)?,
        GitCommitVariant::AbbrevCommitSha => pick(variant, variant, &outputs.abbrev_commit_sha)?,
        GitCommitVariant::TreeSha => pick(variant, variant, &outputs.tree_sha)?,
        GitCommitVariant::AbbrevTreeSha => pick(variant, variant, &outputs.abbrev_tree_sha)?,
        GitCommitVariant::Branches => match outputs.branch.as_deref().map(str::trim) {
            Some(b) if !b.is_empty() => b,
            _ => pick(
                variant,
                GitCommitVariant::AbbrevCommitSha,
                &outputs.abbrev_commit_sha,
            )?,
        },
    };
    let tag = sanitize_tag(raw);
    Ok(if !ignore_changes && outputs.dirty {
        format!("{prefix}{tag}-dirty")
    } else {
        format!("{prefix}{tag}")
    })
}

/// The `dateTime` tag for the instant `unix_seconds` + `nanos`, formatted with the Go
/// layout `format` (default `2006-01-02_15-04-05.999_MST`) in `timezone`.
///
/// Limitation: without tz data only fixed zones are known (see
/// [`FixedZone::resolve`]); `Local` (the default, also for an empty name) is taken as UTC
/// here. Use [`datetime_tag_in`] to supply the real local zone. Other names are an error,
/// as an unknown zone is in Skaffold.
pub fn datetime_tag(
    format: Option<&str>,
    timezone: Option<&str>,
    unix_seconds: i64,
    nanos: u32,
) -> Result<String, TagError> {
    datetime_tag_in(format, timezone, unix_seconds, nanos, &FixedZone::utc())
}

/// [`datetime_tag`] with `local` as the zone that `Local` (and no zone) stands for.
pub fn datetime_tag_in(
    format: Option<&str>,
    timezone: Option<&str>,
    unix_seconds: i64,
    nanos: u32,
    local: &FixedZone,
) -> Result<String, TagError> {
    let format = format
        .filter(|f| !f.is_empty())
        .unwrap_or(DEFAULT_DATETIME_FORMAT);
    let zone = match timezone.filter(|t| !t.is_empty()) {
        None | Some("Local") => local.clone(),
        Some(name) => {
            FixedZone::resolve(name).ok_or_else(|| TagError::UnknownTimezone(name.to_owned()))?
        }
    };
    Ok(format_go_time(format, unix_seconds, nanos, &zone))
}

/// [`datetime_tag_in`] where `zone` resolves the names that are not fixed offsets (the
/// caller reads them from the system's zoneinfo; `Local` included).
pub fn datetime_tag_with(
    format: Option<&str>,
    timezone: Option<&str>,
    unix_seconds: i64,
    nanos: u32,
    zone: &dyn Fn(&str) -> Option<FixedZone>,
) -> Result<String, TagError> {
    let name = timezone.filter(|t| !t.is_empty()).unwrap_or("Local");
    let resolved = match name {
        "Local" => zone("Local").unwrap_or_else(FixedZone::utc),
        _ => FixedZone::resolve(name)
            .or_else(|| zone(name))
            .ok_or_else(|| TagError::UnknownTimezone(name.to_owned()))?,
    };
    datetime_tag_in(format, Some("Local"), unix_seconds, nanos, &resolved)
}

/// The `envTemplate` tag: `template` rendered over `env` (the caller passes the OS
/// environment) plus `IMAGE_NAME` = the artifact's image name. A variable that is not set
/// is an error naming it (Skaffold renders `<no value>` and then rejects the tag).
pub fn env_template_tag(
    template: &str,
    env: &BTreeMap<String, String>,
    image_name: &str,
    inputs: &TemplateInputs,
) -> Result<String, TagError> {
    let mut env = env.clone();
    env.insert("IMAGE_NAME".to_owned(), image_name.to_owned());
    let rendered = render_skaffold(template, &env, None, inputs)?;
    if rendered.contains("<no value>") {
        return Err(TagError::NoValue {
            template: template.to_owned(),
            rendered,
        });
    }
    Ok(rendered)
}

/// The `sha256` tagger: `latest` for an untagged image, `None` when the image name already
/// carries a tag (the digest is appended after the push either way).
pub fn sha256_tag(image: &str) -> Result<Option<String>, TagError> {
    let parsed = ImageName::parse(image)?;
    Ok(parsed.tag.is_none().then(|| "latest".to_owned()))
}

/// One file's contribution to the `inputDigest` tag: hex md5 of its path relative to the
/// workspace, followed by its contents (`contents` is empty for non-regular files).
pub fn input_digest_file_hash(relative_path: &str, contents: &[u8]) -> String {
    let mut h = Md5::new();
    h.update(relative_path.as_bytes());
    h.update(contents);
    hex::encode(h.finalize())
}

/// The `inputDigest` tag from the per-file hashes (in sorted path order, missing files
/// skipped): hex sha256 of Go's `json.Encoder` output for the list, i.e. `["h1","h2"]\n`,
/// and `null\n` when there are none.
pub fn input_digest_tag<S: AsRef<str>>(file_hashes: &[S]) -> String {
    let json = if file_hashes.is_empty() {
        "null".to_owned()
    } else {
        let items: Vec<&str> = file_hashes.iter().map(AsRef::as_ref).collect();
        // File hashes are hex, so Go's HTML escaping of `<`, `>`, `&` never applies.
        serde_json::to_string(&items).unwrap_or_default()
    };
    hex::encode(Sha256::digest(format!("{json}\n").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_tags_follow_the_oci_grammar() {
        for ok in ["v1.0", "_x", "A-b_c.9", &"a".repeat(128)] {
            assert_eq!(validate_tag(ok), Ok(()), "{ok}");
        }
        for bad in ["", "v1.0/beta", "-x", ".x", "a:b", "é", &"a".repeat(129)] {
            assert!(validate_tag(bad).is_err(), "{bad}");
        }
        let message = validate_tag("v1.0/beta").unwrap_err().to_string();
        assert!(
            message.contains("\"v1.0/beta\"") && message.contains("`/`"),
            "{message}"
        );
    }

    #[test]
    fn default_date_time_keeps_milliseconds_and_zones_come_from_the_caller() {
        // The value recorded side by side with Skaffold: 01:33:25.778 UTC.
        let t = 1_780_000_405; // 2026-05-28T20:33:25Z
        let none = |_: &str| None;
        let tag = datetime_tag_with(None, Some("UTC"), t, 778_000_000, &none).unwrap();
        assert!(tag.ends_with("-33-25.778_UTC"), "{tag}");
        let tokyo = |name: &str| {
            (name == "Asia/Tokyo").then(|| FixedZone {
                name: "JST".into(),
                offset_seconds: 9 * 3600,
            })
        };
        let tag = datetime_tag_with(None, Some("Asia/Tokyo"), t, 5_000_000, &tokyo).unwrap();
        assert_eq!(tag, "2026-05-29_05-33-25.005_JST");
        assert!(datetime_tag_with(None, Some("Asia/Osaka"), t, 0, &tokyo).is_err());
    }

    #[test]
    fn sanitize_tag_matches_skaffold() {
        // TestSanitizeTag (pkg/skaffold/tag/git_commit_test.go).
        for ok in [
            "abcdefghijklmnopqrstuvwxyz",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "0123456789-_.",
            "_v1",
        ] {
            assert_eq!(sanitize_tag(ok), ok);
        }
        assert_eq!(sanitize_tag("v/1"), "v_1");
        assert_eq!(sanitize_tag("v%$@!1"), "v____1");
        assert_eq!(sanitize_tag("--v1"), "__v1");
        assert_eq!(sanitize_tag("..v1"), "__v1");
        assert_eq!(sanitize_tag("-.-v-1."), "___v-1.");
        assert_eq!(sanitize_tag(&"0123456789".repeat(20)).len(), 128);
        // One `_` per character, not per byte.
        assert_eq!(sanitize_tag("v1-é"), "v1-_");
        assert_eq!(sanitize_tag("/-x"), "_-x");
    }

    #[test]
    fn git_variants_parse_case_insensitively() {
        assert_eq!(
            "".parse::<GitCommitVariant>().unwrap(),
            GitCommitVariant::Tags
        );
        assert_eq!(
            "AbbrevTreeSha".parse::<GitCommitVariant>().unwrap(),
            GitCommitVariant::AbbrevTreeSha
        );
        assert_eq!(
            "COMMITSHA".parse::<GitCommitVariant>().unwrap(),
            GitCommitVariant::CommitSha
        );
        let err = "sha".parse::<GitCommitVariant>().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("\"sha\" is not a valid git tagger variant"),
            "{err}"
        );
        assert_eq!(
            GitCommitVariant::TreeSha.git_args("sub/dir"),
            ["rev-parse", "HEAD:sub/dir/"]
        );
        assert_eq!(
            GitCommitVariant::AbbrevTreeSha.git_args("."),
            ["rev-parse", "--short", "HEAD:./"]
        );
    }

    #[test]
    fn git_commit_tags() {
        let outputs = GitOutputs {
            describe: Some("v1.0.0-3-gdeadbee\n".into()),
            commit_sha: Some("eefe1b9c44eb0aa87199c9a079f2d48d8eb8baed".into()),
            abbrev_commit_sha: Some("eefe1b9".into()),
            tree_sha: Some("3b18e512dba79e4c8300dd08aeb37f8e728b8dad".into()),
            abbrev_tree_sha: Some("3b18e51".into()),
            branch: Some("feature/Login".into()),
            dirty: false,
        };
        let tag = |v, prefix, ignore, o: &GitOutputs| git_commit_tag(v, prefix, ignore, o).unwrap();
        assert_eq!(
            tag(GitCommitVariant::Tags, "", false, &outputs),
            "v1.0.0-3-gdeadbee"
        );
        assert_eq!(
            tag(GitCommitVariant::CommitSha, "", false, &outputs),
            "eefe1b9c44eb0aa87199c9a079f2d48d8eb8baed"
        );
        assert_eq!(
            tag(GitCommitVariant::AbbrevCommitSha, "p-", false, &outputs),
            "p-eefe1b9"
        );
        assert_eq!(
            tag(GitCommitVariant::TreeSha, "", false, &outputs),
            "3b18e512dba79e4c8300dd08aeb37f8e728b8dad"
        );
        assert_eq!(
            tag(GitCommitVariant::AbbrevTreeSha, "", false, &outputs),
            "3b18e51"
        );
        assert_eq!(
            tag(GitCommitVariant::Branches, "", false, &outputs),
            "feature_Login"
        );

        let dirty = GitOutputs {
            dirty: true,
            ..outputs.clone()
        };
        assert_eq!(
            tag(GitCommitVariant::AbbrevCommitSha, "v/", false, &dirty),
            "v/eefe1b9-dirty"
        );
        assert_eq!(
            tag(GitCommitVariant::AbbrevCommitSha, "", true, &dirty),
            "eefe1b9"
        );

        // Branches falls back to the abbreviated commit when the branch is unknown or empty.
        for branch in [None, Some(String::new())] {
            let o = GitOutputs {
                branch,
                ..outputs.clone()
            };
            assert_eq!(tag(GitCommitVariant::Branches, "", false, &o), "eefe1b9");
        }
        let err =
            git_commit_tag(GitCommitVariant::Tags, "", false, &GitOutputs::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find git commit: the Tags tagger needs the output of `git describe --tags --always`"
        );
    }

    #[test]
    fn datetime_tags() {
        // TestDateTime_GenerateTag (pkg/skaffold/tag/date_time_test.go).
        assert_eq!(
            datetime_tag(None, Some("UTC"), 1234, 123_456_789).unwrap(),
            "1970-01-01_00-20-34.123_UTC"
        );
        // 2015-03-07 11:06:39.123456789 in a UTC "Local".
        let t = 1_425_726_399;
        assert_eq!(
            datetime_tag(None, None, t, 123_456_789).unwrap(),
            "2015-03-07_11-06-39.123_UTC"
        );
        assert_eq!(
            datetime_tag(Some("2006-01-02"), None, t, 0).unwrap(),
            "2015-03-07"
        );
        assert_eq!(
            datetime_tag(Some("2006-01-02"), Some("foo"), t, 0),
            Err(TagError::UnknownTimezone("foo".into()))
        );
        let cet = FixedZone {
            name: "CET".into(),
            offset_seconds: 3600,
        };
        assert_eq!(
            datetime_tag_in(None, Some("Local"), t, 0, &cet).unwrap(),
            "2015-03-07_12-06-39_CET"
        );
        assert_eq!(
            datetime_tag(Some("15h04 MST"), Some("Etc/GMT-2"), t, 0).unwrap(),
            "13h06 +02"
        );
    }

    #[test]
    fn env_template_tags() {
        let env = BTreeMap::from([("FOO".to_owned(), "BAR".to_owned())]);
        assert_eq!(
            env_template_tag(
                "{{.FOO}}-{{.IMAGE_NAME}}",
                &env,
                "app",
                &TemplateInputs::default()
            )
            .unwrap(),
            "BAR-app"
        );
        assert_eq!(
            env_template_tag("{{.Env.FOO}}", &env, "app", &TemplateInputs::default()).unwrap(),
            "BAR"
        );
        let err =
            env_template_tag("{{.NOPE}}", &env, "app", &TemplateInputs::default()).unwrap_err();
        assert!(err.to_string().contains("\"NOPE\""), "{err}");
    }

    #[test]
    fn sha256_and_input_digest() {
        assert_eq!(
            sha256_tag("gcr.io/p/app").unwrap().as_deref(),
            Some("latest")
        );
        assert_eq!(sha256_tag("gcr.io/p/app:v1").unwrap(), None);
        // md5("main.go" + "package main\n"), sha256("null\n"), sha256("[\"a\",\"b\"]\n").
        assert_eq!(
            input_digest_file_hash("main.go", b"package main\n").len(),
            32
        );
        assert_eq!(
            input_digest_file_hash("", b""),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        let none: [&str; 0] = [];
        assert_eq!(
            input_digest_tag(&none),
            hex::encode(Sha256::digest(b"null\n"))
        );
        assert_eq!(
            input_digest_tag(&["a", "b"]),
            hex::encode(Sha256::digest(b"[\"a\",\"b\"]\n"))
        );
    }
}
