//! Profile selection, activation and application (Skaffold's pkg/skaffold/schema/profiles.go).
//!
//! Order and semantics follow Skaffold:
//! * auto-activated profiles first, in file order, then `-p` names in command-line order;
//!   `-p -name` removes an activated profile; a profile is applied once.
//! * each profile is applied as: overlay of its `build`/`manifests`/`deploy`/… sections onto
//!   the config, field by field, then its `patches` in order.
//! * overlay: a list replaces when non-empty, an optional section (`deploy.kubectl`,
//!   `build.local`, …) replaces whole when set, a scalar replaces when non-zero, plain
//!   sections recurse, and one-of groups (`tagPolicy`; `local`/`googleCloudBuild`/`cluster`)
//!   are replaced by the profile's choice.

use regex::Regex;

use super::raw::{RawActivation, RawPatch, RawProfile};
use super::version::Version;
use crate::ConfigError;
use crate::de::node_is_zero;
use crate::error::{FileCtx, Seg, path_string};
use crate::patch::{self, OP_NAMES, Op};
use crate::suggest;
use crate::yaml::{Entry, Node, Value};

/// Which profiles to apply, from the command line and the environment Skaffold would see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSelection {
    /// `-p` values in order. Entries may be comma-separated (`-p a,b`); `-name` deactivates
    /// a profile that auto-activation chose.
    pub profiles: Vec<String>,
    /// The effective kube-context (`--kube-context`, else the kubeconfig's current context).
    /// `None` means unknown: `kubeContext` activations then do not match.
    pub kube_context: Option<String>,
    /// The command being run (`build`, `dev`, `run`, …) for `command` activations.
    pub command: Option<String>,
    /// `--profile-auto-activation` (Skaffold's default: on).
    pub auto_activation: bool,
}

impl Default for ProfileSelection {
    fn default() -> Self {
        ProfileSelection {
            profiles: Vec::new(),
            kube_context: None,
            command: None,
            auto_activation: true,
        }
    }
}

impl ProfileSelection {
    /// The `-p` names, split on commas, blanks dropped.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.profiles
            .iter()
            .flat_map(|p| p.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    }
}

/// Skaffold's `RegexEqual`: exact match, else an unanchored regex match; `!` negates.
/// An invalid regex never matches.
pub(crate) fn regex_equal(expected: &str, actual: &str) -> bool {
    match expected.strip_prefix('!') {
        Some(rest) => !regex_match(rest, actual),
        None => regex_match(expected, actual),
    }
}

fn regex_match(expected: &str, actual: &str) -> bool {
    expected == actual || Regex::new(expected).is_ok_and(|re| re.is_match(actual))
}

/// Indices of the profiles to apply, in application order.
pub(crate) fn activated(
    ctx: &FileCtx,
    profiles: &[RawProfile],
    profile_nodes: &[Node],
    selection: &ProfileSelection,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<usize>, ConfigError> {
    let mut active: Vec<usize> = Vec::new();
    if selection.auto_activation {
        for (i, profile) in profiles.iter().enumerate() {
            let node = profile_nodes.get(i);
            if is_activated(ctx, profile, i, node, selection, env)? {
                active.push(i);
            }
        }
    }
    for name in selection.names() {
        if let Some(name) = name.strip_prefix('-') {
            active.retain(|&i| profiles[i].name != name);
        } else if let Some(i) = profiles.iter().position(|p| p.name == name)
            && !active.contains(&i)
        {
            active.push(i);
        }
    }
    Ok(active)
}

fn is_activated(
    ctx: &FileCtx,
    profile: &RawProfile,
    index: usize,
    node: Option<&Node>,
    selection: &ProfileSelection,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<bool, ConfigError> {
    let activations = profile.activation.as_deref().unwrap_or_default();
    let all = profile.requires_all_activations.unwrap_or(false);
    if all && activations.is_empty() {
        return Ok(false);
    }
    for (j, activation) in activations.iter().enumerate() {
        let loc_node = node
            .and_then(|n| n.get("activation"))
            .and_then(|a| a.index(j))
            .map(|a| a.get("env").unwrap_or(a));
        let triggered = is_triggered(activation, selection, env).map_err(|message| {
            let field = path_string(&[
                Seg::Key("profiles".into()),
                Seg::Index(index),
                Seg::Key("activation".into()),
                Seg::Index(j),
                Seg::Key("env".into()),
            ]);
            ctx.profile(
                loc_node.map(|n| n.loc),
                field,
                profile.name.clone(),
                format!("profile `{}`: {message}", profile.name),
                Some("write the condition as `KEY=regex`".to_owned()),
            )
        })?;
        match (all, triggered) {
            (false, true) => return Ok(true),
            (true, false) => return Ok(false),
            _ => {}
        }
    }
    Ok(all)
}

fn is_triggered(
    activation: &RawActivation,
    selection: &ProfileSelection,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<bool, String> {
    let command = match activation.command.as_deref() {
        None | Some("") => true,
        Some(c) => regex_equal(c, selection.command.as_deref().unwrap_or_default()),
    };
    let env_ok = match activation.env.as_deref() {
        None | Some("") => true,
        Some(cond) => {
            let Some((key, value)) = cond.split_once('=') else {
                return Err(format!(
                    "invalid env variable format `{cond}`, should be KEY=VALUE"
                ));
            };
            let actual = env(key).unwrap_or_default();
            if value.is_empty() {
                // An empty pattern would match everything; Skaffold means "unset or empty".
                actual.is_empty()
            } else {
                regex_equal(value, &actual)
            }
        }
    };
    let kube = match activation.kube_context.as_deref() {
        None | Some("") => true,
        Some(pattern) => selection
            .kube_context
            .as_deref()
            .is_some_and(|current| regex_equal(pattern, current)),
    };
    Ok(command && env_ok && kube)
}

/// How a pipeline field is overlaid by a profile.
enum Kind {
    /// A list: replaced when the profile's is non-empty.
    List,
    /// An optional section or pointer: replaced whole when the profile sets it (non-null).
    Whole,
    /// A plain scalar: replaced when the profile's is non-zero.
    Scalar,
    /// A plain section: overlaid field by field; `one_of` keys form an inline one-of group.
    Section {
        fields: &'static [Field],
        one_of: &'static [&'static str],
    },
    /// A one-of section (`tagPolicy`): replaced by the profile's first set member, if any.
    OneOf(&'static [&'static str]),
}

struct Field {
    name: &'static str,
    kind: Kind,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

const HOOKS: Kind = Kind::Section {
    fields: &[f("before", Kind::List), f("after", Kind::List)],
    one_of: &[],
};

const PIPELINE: &[Field] = &[
    f(
        "build",
        Kind::Section {
            fields: &[
                f("hooks", HOOKS),
                f("artifacts", Kind::List),
                f("insecureRegistries", Kind::List),
                f(
                    "tagPolicy",
                    Kind::OneOf(&[
                        "gitCommit",
                        "sha256",
                        "envTemplate",
                        "dateTime",
                        "customTemplate",
                        "inputDigest",
                    ]),
                ),
                f("platforms", Kind::List),
            ],
            one_of: &["local", "googleCloudBuild", "cluster"],
        },
    ),
    f("test", Kind::List),
    f(
        "manifests",
        Kind::Section {
            fields: &[
                f("rawYaml", Kind::List),
                f("remoteManifests", Kind::List),
                f("kustomize", Kind::Whole),
                f("helm", Kind::Whole),
                f("kpt", Kind::List),
                f("hooks", HOOKS),
                f("transform", Kind::Whole),
                f("validate", Kind::Whole),
                f("output", Kind::Scalar),
            ],
            one_of: &[],
        },
    ),
    f(
        "deploy",
        Kind::Section {
            fields: &[
                f("docker", Kind::Whole),
                f("helm", Kind::Whole),
                f("kpt", Kind::Whole),
                f("kubectl", Kind::Whole),
                f("kustomize", Kind::Whole),
                f("cloudrun", Kind::Whole),
                f("statusCheck", Kind::Whole),
                f("statusCheckDeadlineSeconds", Kind::Scalar),
                f("tolerateFailuresUntilDeadline", Kind::Scalar),
                f("kubeContext", Kind::Scalar),
                f(
                    "logs",
                    Kind::Section {
                        fields: &[
                            f("prefix", Kind::Scalar),
                            f(
                                "jsonParse",
                                Kind::Section {
                                    fields: &[f("fields", Kind::List)],
                                    one_of: &[],
                                },
                            ),
                        ],
                        one_of: &[],
                    },
                ),
            ],
            one_of: &[],
        },
    ),
    f("portForward", Kind::List),
    f(
        "resourceSelector",
        Kind::Section {
            fields: &[f("allow", Kind::List), f("deny", Kind::List)],
            one_of: &[],
        },
    ),
    f("verify", Kind::List),
    f("customActions", Kind::List),
];

/// Overlays a profile's pipeline sections onto the config tree.
pub(crate) fn overlay(base: &mut Node, profile: &Node) {
    overlay_section(base, profile, PIPELINE, &[]);
}

fn overlay_section(base: &mut Node, profile: &Node, fields: &[Field], one_of: &[&str]) {
    if !matches!(base.value, Value::Map(_)) {
        base.value = Value::Map(Vec::new());
    }
    for field in fields {
        let Some(entry) = profile.entry(field.name) else {
            continue;
        };
        let p = &entry.value;
        match &field.kind {
            Kind::List => {
                if !p.as_seq().is_empty() {
                    base.set(field.name, entry.key_loc, p.clone());
                }
            }
            Kind::Whole => {
                if !p.is_null() {
                    base.set(field.name, entry.key_loc, p.clone());
                }
            }
            Kind::Scalar => {
                if !node_is_zero(p) {
                    base.set(field.name, entry.key_loc, p.clone());
                }
            }
            Kind::Section { fields, one_of } => {
                if let Value::Map(_) = p.value {
                    if base.get(field.name).is_none() {
                        base.set(
                            field.name,
                            entry.key_loc,
                            Node::new(Value::Map(Vec::new()), p.loc),
                        );
                    }
                    if let Some(target) = base.get_mut(field.name) {
                        overlay_section(target, p, fields, one_of);
                    }
                }
            }
            Kind::OneOf(members) => {
                if let Some(chosen) = first_set(p, members) {
                    let section = Node::new(Value::Map(vec![chosen.clone()]), p.loc);
                    base.set(field.name, entry.key_loc, section);
                }
            }
        }
    }
    if let Some(chosen) = first_set(profile, one_of) {
        for key in one_of {
            base.remove(key);
        }
        base.set(&chosen.key, chosen.key_loc, chosen.value.clone());
    }
}

fn first_set<'a>(node: &'a Node, members: &[&str]) -> Option<&'a Entry> {
    members
        .iter()
        .filter_map(|m| node.entry(m))
        .find(|e| !e.value.is_null())
}

/// Moves skaffold/v2 `deploy.kubectl.manifests` to `manifests.rawYaml`, as Skaffold's
/// v2beta29 → v3alpha1 upgrade does, so overlays and defaults work on one shape.
pub(crate) fn normalize_v2(pipeline: &mut Node) {
    let Some(kubectl) = pipeline
        .get_mut("deploy")
        .and_then(|d| d.get_mut("kubectl"))
    else {
        return;
    };
    let Some(manifests) = kubectl.remove("manifests") else {
        return;
    };
    if manifests.value.is_null() {
        return;
    }
    if !matches!(
        pipeline.get("manifests").map(|m| &m.value),
        Some(Value::Map(_))
    ) {
        pipeline.set(
            "manifests",
            manifests.key_loc,
            Node::new(Value::Map(Vec::new()), manifests.key_loc),
        );
    }
    if let Some(target) = pipeline.get_mut("manifests") {
        target.set("rawYaml", manifests.key_loc, manifests.value);
    }
}

/// Checks every patch's `op` and `path` up front, so a typo in a profile that is not selected
/// today is still reported.
pub(crate) fn check_patches(
    ctx: &FileCtx,
    profile: &RawProfile,
    node: Option<&Node>,
    index: usize,
) -> Result<(), ConfigError> {
    let patch_nodes = node
        .and_then(|n| n.get("patches"))
        .map(Node::as_seq)
        .unwrap_or_default();
    for (j, raw) in profile
        .patches
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        patch_op(ctx, profile, raw, patch_nodes.get(j), index, j)?;
    }
    Ok(())
}

fn patch_field(index: usize, j: usize, leaf: Option<&str>) -> String {
    let mut segs = vec![
        Seg::Key("profiles".into()),
        Seg::Index(index),
        Seg::Key("patches".into()),
        Seg::Index(j),
    ];
    segs.extend(leaf.map(|l| Seg::Key(l.into())));
    path_string(&segs)
}

/// The operation (and its name) and path of patch `j`, or an error pointing at it.
fn patch_op<'a>(
    ctx: &FileCtx,
    profile: &RawProfile,
    raw: &'a RawPatch,
    node: Option<&Node>,
    index: usize,
    j: usize,
) -> Result<(Op, &'static str, &'a str), ConfigError> {
    let op_text = raw
        .op
        .as_deref()
        .filter(|o| !o.is_empty())
        .unwrap_or("replace");
    let Some((op, name)) = Op::parse(op_text).zip(OP_NAMES.iter().copied().find(|n| *n == op_text))
    else {
        return Err(ctx.profile(
            node.map(|n| n.get("op").unwrap_or(n).loc),
            patch_field(index, j, Some("op")),
            profile.name.clone(),
            format!(
                "profile `{}`: unknown patch op `{op_text}`, expected one of {}",
                profile.name,
                suggest::one_of(&OP_NAMES)
            ),
            suggest::did_you_mean(op_text, OP_NAMES),
        ));
    };
    let Some(path) = raw.path.as_deref().filter(|p| !p.is_empty()) else {
        return Err(ctx.profile(
            node.map(|n| n.loc),
            patch_field(index, j, None),
            profile.name.clone(),
            format!("profile `{}`: patch {j} has no `path`", profile.name),
            None,
        ));
    };
    if matches!(op, Op::Move | Op::Copy) && raw.from.as_deref().is_none_or(str::is_empty) {
        return Err(ctx.profile(
            node.map(|n| n.loc),
            patch_field(index, j, None),
            profile.name.clone(),
            format!(
                "profile `{}`: patch {j} ({name}) needs `from`",
                profile.name
            ),
            None,
        ));
    }
    Ok((op, name, path))
}

/// Applies profile `index`: overlay, then patches.
pub(crate) fn apply(
    ctx: &FileCtx,
    doc: &mut Node,
    profile: &RawProfile,
    node: &Node,
    index: usize,
    version: Version,
) -> Result<(), ConfigError> {
    overlay(doc, node);
    let patch_nodes = node.get("patches").map(Node::as_seq).unwrap_or_default();
    for (j, raw) in profile
        .patches
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let patch_node = patch_nodes.get(j);
        let (op, name, path) = patch_op(ctx, profile, raw, patch_node, index, j)?;
        // Patches in skaffold/v2 configs address the v2 layout; Skaffold's upgrade rewrites
        // them the same way (v2beta29 `upgradePatches`).
        let rewrite = |p: &str| {
            if version.is_v2_schema() {
                p.replace("/deploy/kubectl/manifests", "/manifests/rawYaml")
            } else {
                p.to_owned()
            }
        };
        let path = rewrite(path);
        let from = raw.from.as_deref().map(rewrite);
        let value = patch_node.and_then(|n| n.get("value"));
        let patch = patch::Patch {
            op,
            path: &path,
            from: from.as_deref(),
            value,
        };
        patch::apply(doc, &patch).map_err(|why| {
            ctx.profile(
                patch_node.map(|n| n.get("path").unwrap_or(n).loc),
                patch_field(index, j, None),
                profile.name.clone(),
                format!(
                    "profile `{}`: patch {j} ({name} {path}): {why}",
                    profile.name
                ),
                None,
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn doc(text: &str) -> Node {
        parse_documents(text).expect("yaml").remove(0)
    }

    #[test]
    fn regex_equal_matches_skaffold() {
        assert!(regex_equal("prod", "prod"));
        assert!(regex_equal("pro", "production"), "unanchored");
        assert!(regex_equal("^prod$", "prod"));
        assert!(!regex_equal("^prod$", "production"));
        assert!(regex_equal("!dev", "prod"));
        assert!(!regex_equal("!dev", "dev"));
        assert!(!regex_equal("(", "x"), "invalid regex never matches");
        assert!(regex_equal("(", "("), "but exact text still does");
    }

    #[test]
    fn overlay_follows_skaffold_semantics() {
        let mut base = doc(
            "build:\n  artifacts: [{image: a}]\n  tagPolicy: {gitCommit: {variant: CommitSha}}\n  local: {push: true}\n  insecureRegistries: [r]\ndeploy:\n  kubectl: {flags: {global: [g]}, defaultNamespace: ns}\n  kubeContext: base\n",
        );
        let profile = doc(
            "name: p\nbuild:\n  artifacts: []\n  tagPolicy: {sha256: {}}\n  cluster: {}\ndeploy:\n  kubectl: {defaultNamespace: other}\n  kubeContext: ''\n",
        );
        overlay(&mut base, &profile);
        let expected = doc(
            "build:\n  artifacts: [{image: a}]\n  tagPolicy: {sha256: {}}\n  insecureRegistries: [r]\n  cluster: {}\ndeploy:\n  kubectl: {defaultNamespace: other}\n  kubeContext: base\n",
        );
        assert!(base.semantic_eq(&expected), "{base:#?}");
    }

    #[test]
    fn v2_kubectl_manifests_move_to_raw_yaml() {
        let mut d =
            doc("deploy:\n  kubectl:\n    manifests: [k8s/*.yaml]\n    flags: {global: [x]}\n");
        normalize_v2(&mut d);
        assert!(d.semantic_eq(&doc(
            "deploy:\n  kubectl:\n    flags: {global: [x]}\nmanifests: {rawYaml: [k8s/*.yaml]}\n"
        )));
    }
}
