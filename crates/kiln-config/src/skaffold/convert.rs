//! Raw (as written) → typed model: defaults, Skaffold's validations, and kiln's ko-only rule.

use std::path::PathBuf;

use indexmap::IndexMap;

use super::raw::{
    RawArtifact, RawBuild, RawConfig, RawConfigDependency, RawDeploy, RawHelm, RawHelmRelease,
    RawKo, RawKubectlFlags, RawManifests, RawSync, RawTagPolicy,
};
use super::version::Version;
use super::{
    Artifact, ArtifactDependency, Build, Builder, Config, ConfigDependency, CustomArtifact,
    Dependencies, Deploy, GitCommit, GitDependency, GitVariant, Helm, HelmFlags, HelmPackaged,
    HelmRelease, IgnoredField, KoArtifact, KubectlDeploy, KubectlFlags, Kustomize, LocalBuild,
    Manifests, Metadata, ProfileDependency, Sync, SyncRule, TagComponent, TagPolicy,
};
use crate::error::{FileCtx, Seg, path_string};
use crate::yaml::Node;
use crate::{ConfigError, Location, suggest};

const BUILDERS: [&str; 7] = [
    "docker",
    "bazel",
    "ko",
    "jib",
    "kaniko",
    "buildpacks",
    "custom",
];

/// Skaffold's default when nothing renders or deploys manifests.
const DEFAULT_RAW_YAML: &str = "k8s/*.yaml";

/// Fields kiln accepts but does not act on, reported in [`Config::ignored`].
const IGNORED: &[&[&str]] = &[
    &["test"],
    &["portForward"],
    &["resourceSelector"],
    &["verify"],
    &["customActions"],
    &["build", "hooks"],
    &["build", "googleCloudBuild"],
    &["build", "cluster"],
    &["build", "artifacts", "*", "hooks"],
    &["build", "artifacts", "*", "sync", "hooks"],
    &["manifests", "remoteManifests"],
    &["manifests", "kpt"],
    &["manifests", "hooks"],
    &["manifests", "transform"],
    &["manifests", "validate"],
    &["manifests", "output"],
    &["deploy", "docker"],
    &["deploy", "helm", "hooks"],
    &["deploy", "kpt"],
    &["deploy", "kustomize", "hooks"],
    &["deploy", "cloudrun"],
    &["deploy", "logs"],
    &["deploy", "kubectl", "hooks"],
    &["deploy", "kubectl", "remoteManifests"],
    &["requires", "*", "googleCloudStorage"],
    &["requires", "*", "googleCloudBuildRepoV2"],
];

fn node_at<'a>(root: &'a Node, segs: &[Seg]) -> Option<&'a Node> {
    segs.iter().try_fold(root, |node, seg| match seg {
        Seg::Key(k) => node.get(k),
        Seg::Index(i) => node.index(*i),
    })
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_owned())
}

/// Context for one config's conversion: where things are, for messages.
struct Cx<'a> {
    ctx: &'a FileCtx,
    tree: &'a Node,
}

impl Cx<'_> {
    fn loc(&self, segs: &[Seg]) -> Option<Location> {
        // The nearest existing ancestor is better than no position.
        (0..=segs.len())
            .rev()
            .find_map(|n| node_at(self.tree, &segs[..n]).map(|node| node.loc))
    }

    fn invalid(
        &self,
        segs: &[Seg],
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        self.ctx
            .invalid(self.loc(segs), path_string(segs), message, hint)
    }
}

pub(super) fn config(
    ctx: &FileCtx,
    raw: RawConfig,
    tree: &Node,
    version: Version,
    active_profiles: Vec<String>,
    location: Location,
) -> Result<Config, ConfigError> {
    let cx = Cx { ctx, tree };
    let metadata = raw.metadata.map_or_else(Metadata::default, |m| Metadata {
        name: m.name.filter(|n| !n.is_empty()),
        labels: m.labels.unwrap_or_default(),
        annotations: m.annotations.unwrap_or_default(),
    });
    let requires = raw
        .requires
        .unwrap_or_default()
        .into_iter()
        .map(config_dependency)
        .collect();
    let build = build(&cx, raw.build)?;
    let (manifests, deploy) = manifests_and_deploy(&cx, raw.manifests, raw.deploy, version)?;
    Ok(Config {
        api_version: version.name().to_owned(),
        metadata,
        requires,
        build,
        manifests,
        deploy,
        active_profiles,
        ignored: ignored(tree),
        location,
        source: PathBuf::new(),
    })
}

fn config_dependency(raw: RawConfigDependency) -> ConfigDependency {
    ConfigDependency {
        configs: raw.configs.unwrap_or_default(),
        path: raw.path.filter(|p| !p.is_empty()).map(PathBuf::from),
        git: raw.git.map(|g| GitDependency {
            repo: g.repo,
            path: g.path,
            git_ref: g.r#ref,
            sync: g.sync,
        }),
        active_profiles: raw
            .active_profiles
            .unwrap_or_default()
            .into_iter()
            .map(|p| ProfileDependency {
                name: p.name,
                activated_by: p.activated_by.unwrap_or_default(),
            })
            .collect(),
    }
}

fn build(cx: &Cx<'_>, raw: Option<RawBuild>) -> Result<Build, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Build::default());
    };
    let base = [key("build")];
    let tag_policy = tag_policy(cx, raw.tag_policy, &[key("build"), key("tagPolicy")], false)?;
    let local = raw.local.map_or_else(LocalBuild::default, |l| LocalBuild {
        push: l.push,
        concurrency: l.concurrency,
        try_import_missing: l.try_import_missing.unwrap_or(false),
        use_buildkit: l.use_buildkit,
        use_docker_cli: l.use_docker_cli.unwrap_or(false),
    });
    if local.try_import_missing && tag_policy == TagPolicy::Sha256 {
        return Err(cx.invalid(
            &[key("build"), key("tagPolicy"), key("sha256")],
            "tagging policy `sha256` can not be used when `tryImportMissing` is enabled",
            None,
        ));
    }
    let mut artifacts = Vec::new();
    for (i, a) in raw.artifacts.unwrap_or_default().into_iter().enumerate() {
        let segs = [base[0].clone(), key("artifacts"), Seg::Index(i)];
        artifacts.push(artifact(cx, a, &segs)?);
    }
    Ok(Build {
        artifacts,
        platforms: raw.platforms.unwrap_or_default(),
        tag_policy,
        local,
        insecure_registries: raw.insecure_registries.unwrap_or_default(),
    })
}

fn tag_policy(
    cx: &Cx<'_>,
    raw: Option<RawTagPolicy>,
    segs: &[Seg],
    in_component: bool,
) -> Result<TagPolicy, ConfigError> {
    let raw = raw.unwrap_or_default();
    let set: Vec<&str> = [
        ("gitCommit", raw.git_commit.is_some()),
        ("sha256", raw.sha256.is_some()),
        ("envTemplate", raw.env_template.is_some()),
        ("dateTime", raw.date_time.is_some()),
        ("customTemplate", raw.custom_template.is_some()),
        ("inputDigest", raw.input_digest.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    if set.len() > 1 {
        return Err(cx.invalid(
            segs,
            format!(
                "only one tagger may be set, found {}",
                suggest::one_of(&set)
            ),
            None,
        ));
    }
    if let Some(git) = raw.git_commit {
        let variant_text = git.variant.unwrap_or_default();
        let Some(variant) = (variant_text.is_empty()
            || super::GIT_VARIANT_NAMES.contains(&variant_text.as_str()))
        .then(|| variant_text.parse::<GitVariant>().ok())
        .flatten() else {
            let mut at = segs.to_vec();
            at.extend([key("gitCommit"), key("variant")]);
            return Err(cx.invalid(
                &at,
                format!(
                    "`{variant_text}` is not a valid git tagger variant, expected one of {}",
                    suggest::one_of(&super::GIT_VARIANT_NAMES)
                ),
                suggest::did_you_mean(&variant_text, super::GIT_VARIANT_NAMES),
            ));
        };
        return Ok(TagPolicy::GitCommit(GitCommit {
            variant,
            prefix: git.prefix.unwrap_or_default(),
            ignore_changes: git.ignore_changes.unwrap_or(false),
        }));
    }
    if raw.sha256.is_some() {
        return Ok(TagPolicy::Sha256);
    }
    if let Some(t) = raw.env_template {
        return Ok(TagPolicy::EnvTemplate {
            template: t.template.unwrap_or_default(),
        });
    }
    if let Some(t) = raw.date_time {
        return Ok(TagPolicy::DateTime {
            format: t.format.filter(|f| !f.is_empty()),
            timezone: t.timezone.filter(|z| !z.is_empty()),
        });
    }
    if raw.input_digest.is_some() {
        return Ok(TagPolicy::InputDigest);
    }
    if let Some(t) = raw.custom_template {
        let mut at = segs.to_vec();
        at.push(key("customTemplate"));
        if in_component {
            return Err(cx.invalid(
                &at,
                "a customTemplate component cannot itself be a customTemplate",
                None,
            ));
        }
        let mut components = Vec::new();
        for (i, c) in t.components.unwrap_or_default().into_iter().enumerate() {
            let mut c_at = at.clone();
            c_at.extend([key("components"), Seg::Index(i)]);
            let (name, policy) = c.into_policy();
            let name = name.filter(|n| !n.is_empty()).ok_or_else(|| {
                cx.invalid(&c_at, "customTemplate components need a `name`", None)
            })?;
            if policy.git_commit.is_none()
                && policy.sha256.is_none()
                && policy.env_template.is_none()
                && policy.date_time.is_none()
                && policy.custom_template.is_none()
                && policy.input_digest.is_none()
            {
                return Err(cx.invalid(&c_at, format!("component `{name}` sets no tagger"), None));
            }
            let policy = tag_policy(cx, Some(policy), &c_at, true)?;
            components.push(TagComponent { name, policy });
        }
        return Ok(TagPolicy::CustomTemplate {
            template: t.template.unwrap_or_default(),
            components,
        });
    }
    Ok(TagPolicy::default())
}

fn artifact(cx: &Cx<'_>, raw: RawArtifact, segs: &[Seg]) -> Result<Artifact, ConfigError> {
    let node = node_at(cx.tree, segs);
    let location = node.map_or_else(Location::default, |n| n.loc);
    let image = raw.image;
    let mut at = segs.to_vec();
    at.push(key("image"));
    check_image_name(cx, &image, &at)?;

    let builders: Vec<&str> = BUILDERS
        .into_iter()
        .filter(|b| node.and_then(|n| n.get(b)).is_some_and(|v| !v.is_null()))
        .collect();
    if let [_, _, ..] = builders.as_slice() {
        return Err(cx.invalid(
            segs,
            format!(
                "artifact `{image}` sets more than one builder: {}",
                suggest::one_of(&builders)
            ),
            Some("keep only one of them".to_owned()),
        ));
    }
    // No builder (an empty `ko:` counts as none) means docker, as in Skaffold.
    let builder = builders
        .first()
        .and_then(|b| Builder::from_key(b))
        .unwrap_or(Builder::Docker { by_default: true });
    let ko = match raw.ko {
        Some(ko) if builder == Builder::Ko => ko,
        _ => RawKo::default(),
    };
    let custom = match raw.custom {
        Some(c) if builder == Builder::Custom => {
            let build_command = c.build_command.unwrap_or_default();
            let deps = c.dependencies;
            Some(CustomArtifact {
                build_command,
                dependencies: Dependencies {
                    paths: deps
                        .as_ref()
                        .and_then(|d| d.paths.clone())
                        .unwrap_or_default(),
                    ignore: deps
                        .as_ref()
                        .and_then(|d| d.ignore.clone())
                        .unwrap_or_default(),
                },
                dependencies_command: deps
                    .as_ref()
                    .and_then(|d| d.command.clone())
                    .filter(|c| !c.trim().is_empty()),
                dependencies_dockerfile: deps.is_some_and(|d| d.dockerfile.is_some()),
            })
        }
        _ => None,
    };

    let mut platforms = raw.platforms.unwrap_or_default();
    let (ko, ko_platforms) = ko_artifact(ko);
    // skaffold/v2beta26-27 had `ko.platforms` (the version gate rejects it elsewhere);
    // Skaffold's upgrade moves it to the artifact.
    if !ko_platforms.is_empty() {
        platforms = ko_platforms;
    }

    let mut requires = Vec::new();
    for (i, d) in raw.requires.unwrap_or_default().into_iter().enumerate() {
        let alias = d
            .alias
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| d.image.clone());
        if requires
            .iter()
            .any(|r: &ArtifactDependency| r.alias == alias)
        {
            let mut at = segs.to_vec();
            at.extend([key("requires"), Seg::Index(i), key("alias")]);
            return Err(cx.invalid(
                &at,
                format!(
                    "invalid build dependency for artifact `{image}`: alias `{alias}` repeated"
                ),
                None,
            ));
        }
        requires.push(ArtifactDependency {
            image: d.image,
            alias,
        });
    }

    let mut sync_segs = segs.to_vec();
    sync_segs.push(key("sync"));
    let sync = raw
        .sync
        .map(|s| {
            sync(
                cx,
                s,
                &image,
                (builder == Builder::Ko).then_some(&ko),
                &sync_segs,
            )
        })
        .transpose()?;

    Ok(Artifact {
        image,
        builder,
        custom,
        context: PathBuf::from(
            raw.context
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| ".".to_owned()),
        ),
        platforms,
        requires,
        ko,
        runtime_type: raw.runtime_type.filter(|r| !r.is_empty()),
        sync,
        location,
        main_location: node
            .and_then(|n| n.get("ko"))
            .and_then(|k| k.get("main"))
            .map(|m| m.loc),
    })
}

/// Skaffold's `validateImageNames`: a name, no tag, no digest.
fn check_image_name(cx: &Cx<'_>, image: &str, segs: &[Seg]) -> Result<(), ConfigError> {
    if image.trim().is_empty() {
        return Err(cx.invalid(segs, "artifact image name must not be empty", None));
    }
    let name = image.strip_prefix("ko://").unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    let taggers = Some("tags come from `build.tagPolicy`".to_owned());
    if name.contains('@') {
        return Err(cx.invalid(
            segs,
            format!("invalid image `{image}`: no digest should be specified"),
            taggers,
        ));
    }
    if last.contains(':') {
        return Err(cx.invalid(
            segs,
            format!("invalid image `{image}`: no tag should be specified"),
            taggers,
        ));
    }
    Ok(())
}

fn ko_artifact(raw: RawKo) -> (KoArtifact, Vec<String>) {
    let dependencies = match raw.dependencies {
        Some(d) if d.paths.is_some() || d.ignore.is_some() => Dependencies {
            paths: d.paths.unwrap_or_default(),
            ignore: d.ignore.unwrap_or_default(),
        },
        _ => Dependencies {
            paths: vec!["**/*.go".to_owned()],
            ignore: Vec::new(),
        },
    };
    let or_dot = |s: Option<String>| {
        s.filter(|s| !s.is_empty())
            .unwrap_or_else(|| ".".to_owned())
    };
    (
        KoArtifact {
            from_image: raw.from_image.filter(|s| !s.is_empty()),
            dependencies,
            dir: PathBuf::from(or_dot(raw.dir)),
            env: raw.env.unwrap_or_default(),
            flags: raw.flags.unwrap_or_default(),
            ldflags: raw.ldflags.unwrap_or_default(),
            labels: raw.labels.unwrap_or_default(),
            main: or_dot(raw.main),
        },
        raw.platforms.unwrap_or_default(),
    )
}

/// Skaffold's sync defaults plus `validateSyncRules` and, for a ko artifact, `validateKoSync`.
fn sync(
    cx: &Cx<'_>,
    raw: RawSync,
    image: &str,
    ko: Option<&KoArtifact>,
    segs: &[Seg],
) -> Result<Sync, ConfigError> {
    let mut sync = Sync {
        manual: raw
            .manual
            .unwrap_or_default()
            .into_iter()
            .map(|r| SyncRule {
                src: r.src.unwrap_or_default(),
                dest: r.dest.unwrap_or_default(),
                strip: r.strip.unwrap_or_default(),
            })
            .collect(),
        infer: raw.infer.unwrap_or_default(),
        auto: raw.auto,
    };
    if sync.manual.is_empty() && sync.infer.is_empty() && sync.auto.is_none() {
        sync.infer = vec!["**/*".to_owned()];
    }
    for (i, rule) in sync.manual.iter().enumerate() {
        if !rule.src.starts_with(&rule.strip) {
            let mut at = segs.to_vec();
            at.extend([key("manual"), Seg::Index(i)]);
            return Err(cx.invalid(
                &at,
                format!(
                    "sync rule pattern `{}` does not have prefix `{}`",
                    rule.src, rule.strip
                ),
                None,
            ));
        }
    }
    let Some(ko) = ko else {
        return Ok(sync);
    };
    let mut infer_at = segs.to_vec();
    infer_at.push(key("infer"));
    if !sync.infer.is_empty() && ko.main.contains("...") {
        return Err(cx.invalid(
            &infer_at,
            format!("artifact `{image}` cannot use inferred file sync when `ko.main` contains the `...` wildcard"),
            Some("set `ko.main` to the path of the main package".to_owned()),
        ));
    }
    if let Some(pattern) = sync.infer.iter().find(|p| !p.contains("kodata")) {
        return Err(cx.invalid(
            &infer_at,
            format!(
                "artifact `{image}` has an invalid pattern `{pattern}` for inferred file sync with the ko builder: \
                 the pattern must name the `kodata` directory"
            ),
            Some("e.g. `kodata/**/*`".to_owned()),
        ));
    }
    Ok(sync)
}

/// `manifests` and `deploy`, with Skaffold's `SetDefaultRenderer` / `SetDefaultDeployer`,
/// and for skaffold/v2 the upgrade Skaffold applies: `deploy.kustomize` becomes
/// `manifests.kustomize` plus a kubectl deployer, `deploy.helm` both `manifests.helm` and
/// `deploy.helm`, with `artifactOverrides` as `setValueTemplates`.
fn manifests_and_deploy(
    cx: &Cx<'_>,
    raw_m: Option<RawManifests>,
    raw_d: Option<RawDeploy>,
    version: Version,
) -> Result<(Manifests, Deploy), ConfigError> {
    let tree = cx.tree;
    let (raw_yaml, raw_kustomize, raw_helm) =
        raw_m.map_or((None, None, None), |m| (m.raw_yaml, m.kustomize, m.helm));
    let mut manifests = Manifests {
        raw_yaml: raw_yaml.unwrap_or_default(),
        kustomize: raw_kustomize.map(|k| kustomize(k.paths, k.build_args)),
        helm: None,
    };
    if let Some(raw) = raw_helm {
        manifests.helm = Some(helm(cx, raw, &["manifests", "helm"], false)?);
    }
    let set = |path: &[&str]| {
        path.iter()
            .try_fold(tree, |n, k| n.get(k))
            .is_some_and(|n| !n.is_null())
    };
    let (status_check, status_check_deadline_seconds, tolerate_failures_until_deadline) =
        raw_d.as_ref().map_or((None, None, None), |d| {
            (
                d.status_check,
                d.status_check_deadline_seconds,
                d.tolerate_failures_until_deadline,
            )
        });
    let (kube_context, raw_kubectl, raw_deploy_helm, raw_deploy_kustomize) = raw_d
        .map_or((None, None, None, None), |d| {
            (d.kube_context, d.kubectl, d.helm, d.kustomize)
        });
    let kube_context = kube_context.filter(|k| !k.is_empty());
    let mut kubectl = raw_kubectl.map(|k| KubectlDeploy {
        flags: k.flags.map_or_else(KubectlFlags::default, kubectl_flags),
        default_namespace: k.default_namespace,
        remote_manifests: k.remote_manifests.unwrap_or_default(),
    });
    let mut deploy_helm = match raw_deploy_helm {
        Some(raw) => Some(helm(cx, raw, &["deploy", "helm"], version.is_v2_schema())?),
        None => None,
    };
    if let Some(raw) = raw_deploy_kustomize {
        // skaffold/v2 only (the version gate refuses it later): Skaffold's upgrade.
        manifests.kustomize = Some(kustomize(raw.paths, raw.build_args));
        let flags = raw.flags.map_or_else(KubectlFlags::default, kubectl_flags);
        kubectl = Some(match kubectl {
            None => KubectlDeploy {
                flags,
                default_namespace: raw.default_namespace,
                remote_manifests: Vec::new(),
            },
            Some(mut k) => {
                let segs = [key("deploy"), key("kustomize")];
                if let (Some(a), Some(b)) = (&k.default_namespace, &raw.default_namespace)
                    && a != b
                {
                    return Err(cx.invalid(
                        &segs,
                        "can't merge defaultNamespace property from kustomize into kubectl deployer, property is already set with different value",
                        None,
                    ));
                }
                if k.flags.disable_validation != flags.disable_validation {
                    return Err(cx.invalid(
                        &segs,
                        "can't merge disableValidation property from kustomize into kubectl deployer, property is already set with different value",
                        None,
                    ));
                }
                k.default_namespace = raw.default_namespace.or(k.default_namespace);
                k.flags.global.extend(flags.global);
                k.flags.apply.extend(flags.apply);
                k.flags.delete.extend(flags.delete);
                k
            }
        });
    }
    if version.is_v2_schema() {
        // Skaffold v1's helm deployer rendered too: the releases are both.
        if let Some(h) = &deploy_helm {
            manifests.helm = Some(Helm {
                concurrency: None,
                ..h.clone()
            });
        }
    } else if let (Some(deploy), Some(render)) = (&mut deploy_helm, &manifests.helm) {
        // Skaffold's deployer takes the render config's releases and flags.
        deploy.releases = render.releases.clone();
        deploy.flags = render.flags.clone();
    }
    let other_renderer = set(&["manifests", "kpt"])
        || manifests.kustomize.is_some()
        || manifests.helm.is_some()
        || deploy_helm.is_some()
        || set(&["deploy", "docker"])
        || set(&["deploy", "cloudrun"]);
    if manifests.raw_yaml.is_empty() && !other_renderer {
        manifests.raw_yaml = vec![DEFAULT_RAW_YAML.to_owned()];
    }
    let other_deployer = deploy_helm.is_some()
        || ["docker", "kpt", "cloudrun"]
            .iter()
            .any(|d| set(&["deploy", d]));
    if kubectl.is_none() && !other_deployer {
        kubectl = Some(KubectlDeploy::default());
    }
    Ok((
        manifests,
        Deploy {
            kubectl,
            kube_context,
            helm: deploy_helm,
            status_check,
            status_check_deadline_seconds,
            tolerate_failures_until_deadline: tolerate_failures_until_deadline.unwrap_or(false),
        },
    ))
}

fn kubectl_flags(f: RawKubectlFlags) -> KubectlFlags {
    KubectlFlags {
        global: f.global.unwrap_or_default(),
        apply: f.apply.unwrap_or_default(),
        delete: f.delete.unwrap_or_default(),
        disable_validation: f.disable_validation.unwrap_or(false),
    }
}

/// `kustomize`, with `paths` defaulting to `["."]` as Skaffold documents (and its
/// skaffold/v2 upgrade does).
fn kustomize(paths: Option<Vec<String>>, build_args: Option<Vec<String>>) -> Kustomize {
    let paths = paths.filter(|p| !p.is_empty());
    Kustomize {
        paths: paths.unwrap_or_else(|| vec![".".to_owned()]),
        build_args: build_args.unwrap_or_default(),
    }
}

/// A `helm` section at `at`; `upgrade_v2` applies skaffold/v2's `artifactOverrides`
/// and `imageStrategy` as Skaffold's upgrade does.
fn helm(cx: &Cx<'_>, raw: RawHelm, at: &[&str], upgrade_v2: bool) -> Result<Helm, ConfigError> {
    let flags = raw.flags.map_or_else(HelmFlags::default, |f| HelmFlags {
        global: f.global.unwrap_or_default(),
        install: f.install.unwrap_or_default(),
        upgrade: f.upgrade.unwrap_or_default(),
        dep_build: f.dep_build.unwrap_or_default(),
        template: f.template.unwrap_or_default(),
    });
    let mut releases = Vec::new();
    for (i, r) in raw.releases.unwrap_or_default().into_iter().enumerate() {
        let mut segs: Vec<Seg> = at.iter().map(|k| key(k)).collect();
        segs.extend([key("releases"), Seg::Index(i)]);
        releases.push(helm_release(cx, r, &segs, upgrade_v2)?);
    }
    Ok(Helm {
        releases,
        flags,
        concurrency: raw.concurrency,
    })
}

fn helm_release(
    cx: &Cx<'_>,
    r: RawHelmRelease,
    segs: &[Seg],
    upgrade_v2: bool,
) -> Result<HelmRelease, ConfigError> {
    let chart_path = r.chart_path.filter(|p| !p.is_empty());
    let remote_chart = r.remote_chart.filter(|p| !p.is_empty());
    if chart_path.is_some() && remote_chart.is_some() {
        return Err(cx.invalid(
            segs,
            format!(
                "helm release `{}` sets both `chartPath` and `remoteChart`: only one chart source may be given",
                r.name
            ),
            None,
        ));
    }
    let node = node_at(cx.tree, segs);
    let field = |name: &str| node.and_then(|n| n.get(name));
    let mut templates: IndexMap<String, String> =
        flat_map(field("setValueTemplates")).into_iter().collect();
    let mut set_values: IndexMap<String, String> =
        flat_map(field("setValues")).into_iter().collect();
    let overrides = flat_map(field("artifactOverrides"));
    if upgrade_v2 && !overrides.is_empty() {
        let convention = r.image_strategy.as_ref().and_then(|s| s.helm.as_ref());
        for (k, image) in overrides {
            let v = kiln_core::naming::helm_template_suffix(&image);
            match convention {
                Some(c) => {
                    templates.insert(
                        format!("{k}.tag"),
                        format!("{{{{.IMAGE_TAG_{v}}}}}@{{{{.IMAGE_DIGEST_{v}}}}}"),
                    );
                    if c.explicit_registry.unwrap_or(false) {
                        templates.insert(
                            format!("{k}.registry"),
                            format!("{{{{.IMAGE_DOMAIN_{v}}}}}"),
                        );
                        templates.insert(
                            format!("{k}.repository"),
                            format!("{{{{.IMAGE_REPO_NO_DOMAIN_{v}}}}}"),
                        );
                    } else {
                        templates.insert(
                            format!("{k}.repository"),
                            format!("{{{{.IMAGE_REPO_{v}}}}}"),
                        );
                    }
                }
                None => {
                    templates.insert(k, format!("{{{{.IMAGE_FULLY_QUALIFIED_{v}}}}}"));
                }
            }
        }
    }
    templates.sort_keys();
    set_values.sort_keys();
    let mut set_files: Vec<(String, String)> =
        r.set_files.unwrap_or_default().into_iter().collect();
    set_files.sort();
    Ok(HelmRelease {
        name: r.name,
        chart_path,
        remote_chart,
        values_files: r.values_files.unwrap_or_default(),
        namespace: r.namespace.filter(|n| !n.is_empty()),
        version: r.version.filter(|v| !v.is_empty()),
        set_values: set_values.into_iter().collect(),
        set_value_templates: templates.into_iter().collect(),
        set_files,
        create_namespace: r.create_namespace.unwrap_or(false),
        wait: r.wait.unwrap_or(false),
        recreate_pods: r.recreate_pods.unwrap_or(false),
        skip_build_dependencies: r.skip_build_dependencies.unwrap_or(false),
        skip_tests: r.skip_tests.unwrap_or(false),
        use_helm_secrets: r.use_helm_secrets.unwrap_or(false),
        repo: r.repo.filter(|v| !v.is_empty()),
        upgrade_on_change: r.upgrade_on_change,
        overrides: field("overrides")
            .filter(|n| matches!(n.value, crate::yaml::Value::Map(ref e) if !e.is_empty()))
            .map(|n| to_json(n).to_string()),
        packaged: r.packaged.map(|p| HelmPackaged {
            version: p.version,
            app_version: p.app_version,
        }),
        depends_on: r.depends_on.unwrap_or_default(),
    })
}

/// Skaffold's `FlatMap`: nested keys joined with `.`, list items as `key[i]`, scalars as
/// written.
fn flat_map(node: Option<&Node>) -> Vec<(String, String)> {
    fn walk(node: &Node, prefix: String, out: &mut Vec<(String, String)>) {
        use crate::yaml::Value;
        match &node.value {
            Value::Map(entries) => {
                for e in entries {
                    let k = if prefix.is_empty() {
                        e.key.clone()
                    } else {
                        format!("{prefix}.{}", e.key)
                    };
                    walk(&e.value, k, out);
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, format!("{prefix}[{i}]"), out);
                }
            }
            Value::Scalar(s) => out.push((prefix, s.text.clone())),
            Value::Null => out.push((prefix, String::new())),
        }
    }
    let mut out = Vec::new();
    if let Some(node) = node.filter(|n| matches!(n.value, crate::yaml::Value::Map(_))) {
        walk(node, String::new(), &mut out);
    }
    out
}

/// A YAML node as JSON, scalars typed by the core schema (for helm `overrides`).
fn to_json(node: &Node) -> serde_json::Value {
    use crate::yaml::{Typed, Value};
    match &node.value {
        Value::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|e| (e.key.clone(), to_json(&e.value)))
                .collect(),
        ),
        Value::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Null => serde_json::Value::Null,
        Value::Scalar(s) => match s.typed() {
            Typed::Null => serde_json::Value::Null,
            Typed::Bool(b) => b.into(),
            Typed::Int(i) => i64::try_from(i).map_or_else(|_| s.text.clone().into(), Into::into),
            Typed::Float(f) => serde_json::Number::from_f64(f)
                .map_or_else(|| s.text.clone().into(), serde_json::Value::Number),
            Typed::Str(t) => t.into(),
        },
    }
}

fn ignored(tree: &Node) -> Vec<IgnoredField> {
    let mut out = Vec::new();
    for path in IGNORED {
        collect(tree, path, Vec::new(), &mut out);
    }
    out.sort_by_key(|f| (f.location.line, f.location.column));
    out
}

fn collect(node: &Node, path: &[&str], segs: Vec<Seg>, out: &mut Vec<IgnoredField>) {
    let Some((first, rest)) = path.split_first() else {
        if !node.is_null() {
            out.push(IgnoredField {
                field: path_string(&segs),
                location: node.loc,
            });
        }
        return;
    };
    if *first == "*" {
        for (i, item) in node.as_seq().iter().enumerate() {
            let mut s = segs.clone();
            s.push(Seg::Index(i));
            collect(item, rest, s, out);
        }
    } else if let Some(entry) = node.entry(first) {
        let mut s = segs;
        s.push(key(first));
        if rest.is_empty() {
            if !entry.value.is_null() {
                out.push(IgnoredField {
                    field: path_string(&s),
                    location: entry.key_loc,
                });
            }
        } else {
            collect(&entry.value, rest, s, out);
        }
    }
}

/// Checks that need every config of the file: unique image names, acyclic dependencies.
pub(super) fn check_across_configs(ctx: &FileCtx, configs: &[Config]) -> Result<(), ConfigError> {
    let all: Vec<&Artifact> = configs.iter().flat_map(|c| &c.build.artifacts).collect();
    for (i, a) in all.iter().enumerate() {
        if let Some(first) = all[..i].iter().find(|b| b.image == a.image) {
            return Err(ctx.invalid(
                Some(a.location),
                "",
                format!(
                    "duplicate image `{}` (also defined at line {}): artifact image names must be unique across all configurations",
                    a.image, first.location.line
                ),
                None,
            ));
        }
    }
    // Dependencies may point into configs this file `requires`; only known ones are walked.
    fn visit<'a>(
        a: &'a Artifact,
        all: &[&'a Artifact],
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Option<&'a Artifact> {
        if path.contains(&a.image.as_str()) {
            return Some(a);
        }
        if done.contains(&a.image.as_str()) {
            return None;
        }
        path.push(&a.image);
        for dep in &a.requires {
            if let Some(d) = all.iter().find(|b| b.image == dep.image)
                && let Some(cyclic) = visit(d, all, path, done)
            {
                return Some(cyclic);
            }
        }
        path.pop();
        done.push(&a.image);
        None
    }
    let mut done = Vec::new();
    for a in &all {
        if let Some(cyclic) = visit(a, &all, &mut Vec::new(), &mut done) {
            return Err(ctx.invalid(
                Some(cyclic.location),
                "",
                format!(
                    "cycle detected in build dependencies involving `{}`",
                    cyclic.image
                ),
                None,
            ));
        }
    }
    Ok(())
}
