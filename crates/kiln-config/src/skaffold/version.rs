//! Supported apiVersions and the fields that exist only in some of them.

use crate::error::{FileCtx, Seg, path_string};
use crate::yaml::{Entry, Node, Value};
use crate::{ConfigError, Location};

/// Every skaffold.yaml apiVersion that has the `ko` builder, oldest first (Skaffold's
/// pkg/skaffold/schema/versions.go from `v2beta26` on; there is no v3alpha2…, v3beta…).
pub const SUPPORTED_API_VERSIONS: &[&str] = &[
    "skaffold/v2beta26",
    "skaffold/v2beta27",
    "skaffold/v2beta28",
    "skaffold/v2beta29",
    "skaffold/v3alpha1",
    "skaffold/v3",
    "skaffold/v4beta1",
    "skaffold/v4beta2",
    "skaffold/v4beta3",
    "skaffold/v4beta4",
    "skaffold/v4beta5",
    "skaffold/v4beta6",
    "skaffold/v4beta7",
    "skaffold/v4beta8",
    "skaffold/v4beta9",
    "skaffold/v4beta10",
    "skaffold/v4beta11",
    "skaffold/v4beta12",
    "skaffold/v4beta13",
    "skaffold/v4beta14",
];

/// Index into [`SUPPORTED_API_VERSIONS`]; ordering is schema age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Version(usize);

impl Version {
    pub(crate) fn name(self) -> &'static str {
        SUPPORTED_API_VERSIONS
            .get(self.0)
            .copied()
            .unwrap_or("skaffold/v4beta14")
    }

    /// skaffold/v2beta26 … v2beta29: the Skaffold v1 line, before `manifests` existed.
    pub(crate) fn is_v2_schema(self) -> bool {
        self.name().starts_with("skaffold/v2")
    }

    fn of(name: &str) -> Version {
        Version(
            SUPPORTED_API_VERSIONS
                .iter()
                .position(|v| *v == name)
                .unwrap_or(0),
        )
    }
}

/// Looks up `apiVersion`, explaining why unsupported ones are refused.
pub(crate) fn parse(ctx: &FileCtx, text: &str, loc: Location) -> Result<Version, ConfigError> {
    if let Some(i) = SUPPORTED_API_VERSIONS.iter().position(|v| *v == text) {
        return Ok(Version(i));
    }
    let supported = format!(
        "kiln supports {} … {}",
        SUPPORTED_API_VERSIONS[0],
        SUPPORTED_API_VERSIONS[SUPPORTED_API_VERSIONS.len() - 1]
    );
    let older = is_older(text);
    let (message, hint) = if older {
        (
            format!("`{text}` is too old: the ko builder requires skaffold/v2beta26 or newer"),
            Some(format!(
                "run `skaffold fix` to upgrade the config; {supported}"
            )),
        )
    } else if is_newer(text) {
        (
            format!("`{text}` is newer than kiln knows"),
            Some(supported),
        )
    } else {
        (
            format!("unknown apiVersion `{text}`"),
            Some(
                crate::suggest::did_you_mean(text, SUPPORTED_API_VERSIONS.iter().copied())
                    .map_or(supported.clone(), |d| format!("{d} ({supported})")),
            ),
        )
    };
    Err(ctx.unsupported(Some(loc), "apiVersion", message, hint))
}

/// `skaffold/v4beta15` and later, `skaffold/v5…`: probably a newer Skaffold's schema.
fn is_newer(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("skaffold/v") else {
        return false;
    };
    if let Some(n) = rest.strip_prefix("4beta") {
        return n.parse::<u32>().is_ok_and(|n| n > 14);
    }
    let major: String = rest.chars().take_while(char::is_ascii_digit).collect();
    major.parse::<u32>().is_ok_and(|m| m > 4)
}

/// `skaffold/v1…`, `skaffold/v2alpha…` and `skaffold/v2beta1…25`.
fn is_older(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("skaffold/v") else {
        return false;
    };
    let digits_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if let Some(r) = rest.strip_prefix('1') {
        return r.is_empty()
            || r.strip_prefix("alpha").is_some_and(digits_ok)
            || r.strip_prefix("beta").is_some_and(digits_ok);
    }
    if let Some(r) = rest.strip_prefix('2') {
        if r.strip_prefix("alpha").is_some_and(digits_ok) {
            return true;
        }
        if let Some(n) = r.strip_prefix("beta").filter(|n| digits_ok(n)) {
            return n.parse::<u32>().is_ok_and(|n| n < 26);
        }
    }
    false
}

/// A field that exists only in a range of versions.
struct Gate {
    path: &'static [&'static str],
    since: Option<&'static str>,
    until: Option<&'static str>,
    hint: Option<&'static str>,
}

const fn since(path: &'static [&'static str], v: &'static str) -> Gate {
    Gate {
        path,
        since: Some(v),
        until: None,
        hint: None,
    }
}

/// Gates relative to a pipeline (the document root, or a profile).
const PIPELINE_GATES: &[Gate] = &[
    since(&["build", "platforms"], "skaffold/v2beta27"),
    since(
        &["build", "artifacts", "*", "platforms"],
        "skaffold/v2beta27",
    ),
    Gate {
        path: &["build", "artifacts", "*", "ko", "platforms"],
        since: None,
        until: Some("skaffold/v2beta27"),
        hint: Some("`platforms` moved to `build.artifacts[].platforms` in skaffold/v2beta28"),
    },
    since(
        &["build", "artifacts", "*", "runtimeType"],
        "skaffold/v4beta2",
    ),
    since(&["build", "hooks"], "skaffold/v4beta7"),
    Gate {
        path: &["manifests"],
        since: Some("skaffold/v3alpha1"),
        until: None,
        hint: Some("skaffold/v2 configs list manifests under `deploy.kubectl.manifests`"),
    },
    since(&["manifests", "remoteManifests"], "skaffold/v4beta1"),
    since(&["verify"], "skaffold/v3alpha1"),
    since(&["customActions"], "skaffold/v4beta5"),
    since(&["resourceSelector"], "skaffold/v2beta28"),
    Gate {
        path: &["deploy", "kubectl", "manifests"],
        since: None,
        until: Some("skaffold/v2beta29"),
        hint: Some("since skaffold/v3alpha1 manifests are listed under `manifests.rawYaml`"),
    },
    Gate {
        path: &["deploy", "kustomize"],
        since: None,
        until: Some("skaffold/v2beta29"),
        hint: Some("since skaffold/v3alpha1 kustomize is configured under `manifests.kustomize`"),
    },
    Gate {
        path: &["deploy", "helm", "releases", "*", "artifactOverrides"],
        since: None,
        until: Some("skaffold/v2beta29"),
        hint: Some(
            "since skaffold/v3alpha1 images are set with `setValueTemplates` (`{{.IMAGE_FULLY_QUALIFIED_<name>}}`)",
        ),
    },
    Gate {
        path: &["deploy", "helm", "releases", "*", "imageStrategy"],
        since: None,
        until: Some("skaffold/v2beta29"),
        hint: Some(
            "since skaffold/v3alpha1 images are set with `setValueTemplates` (`{{.IMAGE_REPO_<name>}}`, `{{.IMAGE_TAG_<name>}}`)",
        ),
    },
    since(&["deploy", "cloudrun"], "skaffold/v3alpha1"),
    since(
        &["deploy", "tolerateFailuresUntilDeadline"],
        "skaffold/v4beta1",
    ),
];

/// Gates relative to the document root only.
const ROOT_GATES: &[Gate] = &[
    since(&["metadata", "labels"], "skaffold/v3alpha1"),
    since(&["metadata", "annotations"], "skaffold/v3alpha1"),
    since(&["requires", "*", "googleCloudStorage"], "skaffold/v4beta7"),
    since(
        &["requires", "*", "googleCloudBuildRepoV2"],
        "skaffold/v4beta10",
    ),
    since(
        &["profiles", "*", "requiresAllActivations"],
        "skaffold/v3alpha1",
    ),
];

/// Rejects fields the document's apiVersion does not have (in the base and every profile).
pub(crate) fn check_gates(ctx: &FileCtx, doc: &Node, version: Version) -> Result<(), ConfigError> {
    check(ctx, doc, &[], ROOT_GATES, version)?;
    check(ctx, doc, &[], PIPELINE_GATES, version)?;
    for (i, profile) in doc
        .get("profiles")
        .map(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let base = [Seg::Key("profiles".into()), Seg::Index(i)];
        check(ctx, profile, &base, PIPELINE_GATES, version)?;
    }
    Ok(())
}

fn check(
    ctx: &FileCtx,
    root: &Node,
    base: &[Seg],
    gates: &[Gate],
    version: Version,
) -> Result<(), ConfigError> {
    for gate in gates {
        let too_old = gate.since.is_some_and(|v| version < Version::of(v));
        let too_new = gate.until.is_some_and(|v| version > Version::of(v));
        if !(too_old || too_new) {
            continue;
        }
        let mut found = Vec::new();
        find(root, gate.path, base.to_vec(), &mut found);
        if let Some((parent, entry)) = found.into_iter().next() {
            let when = match (too_old, gate.since, gate.until) {
                (true, Some(v), _) => format!("added in {v}"),
                (_, _, Some(v)) => format!("last available in {v}"),
                _ => String::new(),
            };
            return Err(ctx.unknown_field(
                Some(entry.key_loc),
                path_string(&parent),
                entry.key.clone(),
                format!(
                    "unknown field `{}` in {} ({when})",
                    entry.key,
                    version.name()
                ),
                gate.hint.map(str::to_owned),
            ));
        }
    }
    Ok(())
}

/// Collects the entries at `path` (`*` = every sequence element) with their parent paths.
fn find<'a>(node: &'a Node, path: &[&str], parent: Vec<Seg>, out: &mut Vec<(Vec<Seg>, &'a Entry)>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if *first == "*" {
        if let Value::Seq(items) = &node.value {
            for (i, item) in items.iter().enumerate() {
                let mut p = parent.clone();
                p.push(Seg::Index(i));
                find(item, rest, p, out);
            }
        }
        return;
    }
    let Some(entry) = node.entry(first) else {
        return;
    };
    if rest.is_empty() {
        if !entry.value.is_null() {
            out.push((parent, entry));
        }
        return;
    }
    let mut p = parent;
    p.push(Seg::Key(entry.key.clone()));
    find(&entry.value, rest, p, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_versions() {
        assert!(is_older("skaffold/v2beta25"));
        assert!(is_older("skaffold/v1"));
        assert!(is_older("skaffold/v1beta13"));
        assert!(is_older("skaffold/v2alpha4"));
        assert!(!is_older("skaffold/v2beta26"));
        assert!(!is_older("skaffold/v4beta15"));
        assert!(is_newer("skaffold/v4beta15"));
        assert!(is_newer("skaffold/v5"));
        assert!(!is_newer("skaffold/v4beta1x"));
        assert!(!is_newer("skaffold/v4beta9"));
        assert!(Version::of("skaffold/v2beta29").is_v2_schema());
        assert!(!Version::of("skaffold/v3").is_v2_schema());
        assert!(Version::of("skaffold/v3") < Version::of("skaffold/v4beta1"));
    }
}
