//! Rendering every config's manifests as Skaffold's renderers do, in Skaffold's order per
//! config: `rawYaml` files, `kustomize build` of each kustomize path, `helm template` of
//! each helm release; each tool's output then gets Skaffold's image replacement
//! (kiln-render, the same as for `rawYaml`). With `-n/--namespace`, the kubectl-style
//! output (`rawYaml` and kustomize: Skaffold's kubectl and kustomize renderers, which
//! `injectNs`) also gets the namespace in `metadata.namespace`, unless `kiln render
//! --offline`; helm's output does not (Skaffold's helm renderer passes the namespace to
//! `helm template` instead).

use kiln_core::env::Env;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_config::{Config, HelmFlags, HelmRelease};
use kiln_core::template::render_skaffold;

use crate::templates::template_inputs_now;

use crate::Error;
use crate::helm::HelmContext;
use crate::manifests::{join_documents, split_documents};
use crate::tool::{Invocation, run_ok};

/// Which command a render serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// `kiln render`: the `deploy.helm` releases are rendered too; with `--offline`
    /// (Skaffold's `render --offline`) no namespace goes into the manifests.
    Render { offline: bool },
    /// What `run`, `deploy`, `dev`, `delete` and `debug` deploy: Skaffold renders these
    /// with `offline` false.
    Deploy,
}

impl Purpose {
    fn render_command(self) -> bool {
        matches!(self, Purpose::Render { .. })
    }

    fn offline(self) -> bool {
        matches!(self, Purpose::Render { offline: true })
    }
}

/// Skaffold's labeller (pkg/skaffold/deploy/label/labeller.go `Labels`): `run_id` as
/// `skaffold.dev/run-id` (every command but `kiln render` has one), then each `-l`
/// `KEY=VALUE` in order (a later one wins; `KEY` alone means an empty value; a
/// `skaffold.dev/run-id=…` of its own replaces the run's).
pub fn labels(run_id: Option<&str>, custom: &[String]) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    if let Some(id) = run_id {
        labels.insert(kiln_render::RUN_ID_LABEL.to_owned(), id.to_owned());
    }
    for label in custom {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        labels.insert(key.to_owned(), value.to_owned());
    }
    labels
}

/// Skaffold's `filter` (helm's post-renderer during deploys): the `--label KEY=VALUE`
/// labels (a label without `=` is dropped, as `skaffold filter` drops it), then the
/// images of `builds`.
pub fn filter(
    text: &str,
    builds: &[kiln_render::Build],
    custom: &[String],
) -> Result<String, Error> {
    let labels: BTreeMap<String, String> = custom
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let what = "the manifests on stdin";
    let text = with_labels(&labels, what, text.to_owned())?;
    with_images(what, &text, builds)
}

/// One config's rendered manifests.
#[derive(Clone, Debug, Default)]
pub struct RenderedConfig {
    /// The documents, trimmed, in order.
    pub documents: Vec<String>,
    /// `rawYaml` patterns that matched no file (Skaffold warns of them).
    pub unmatched: Vec<String>,
    /// Manifests that keep a namespace of their own against `-n` (Skaffold warns of them).
    pub conflicts: Vec<kiln_render::NamespaceConflict>,
}

impl RenderedConfig {
    /// The documents as one YAML stream.
    pub fn text(&self) -> String {
        join_documents(&self.documents)
    }
}

/// Every config's manifests, one entry per config.
pub async fn render_configs(
    configs: &[Config],
    helm: &HelmContext,
    purpose: Purpose,
) -> Result<Vec<RenderedConfig>, Error> {
    let mut out = Vec::new();
    for config in configs {
        out.push(render_config(config, helm, purpose).await?);
    }
    Ok(out)
}

/// All configs' documents as one stream, as `skaffold render` prints them.
pub fn joined(rendered: &[RenderedConfig]) -> String {
    let docs: Vec<&str> = rendered
        .iter()
        .flat_map(|r| r.documents.iter().map(String::as_str))
        .collect();
    join_documents(&docs)
}

/// The helm releases a config renders: `manifests.helm`'s, and for `kiln render` also
/// those of `deploy.helm` that `manifests.helm` does not name (Skaffold renders a v2
/// config's legacy helm deployer that way, with no flags).
pub fn helm_releases(config: &Config, render_command: bool) -> Vec<(&HelmRelease, HelmFlags)> {
    let mut releases: Vec<(&HelmRelease, HelmFlags)> = config
        .manifests
        .helm
        .iter()
        .flat_map(|h| h.releases.iter().map(|r| (r, h.flags.clone())))
        .collect();
    if render_command && let Some(deploy) = &config.deploy.helm {
        for release in &deploy.releases {
            if !releases.iter().any(|(r, _)| r.name == release.name) {
                releases.push((release, HelmFlags::default()));
            }
        }
    }
    releases
}

async fn render_config(
    config: &Config,
    helm: &HelmContext,
    purpose: Purpose,
) -> Result<RenderedConfig, Error> {
    let builds = &helm.builds;
    // Skaffold's `injectNs`: the `-n` flag given (and the render not offline).
    let namespace = helm.namespace.as_deref().filter(|_| !purpose.offline());
    let mut conflicts = Vec::new();
    let (raw, unmatched) =
        crate::manifests::render(&helm.config_dir, std::slice::from_ref(config), builds)?;
    // Document by document: an error's line is the document's (the files are joined).
    let mut documents = Vec::new();
    for (i, doc) in split_documents(&raw).into_iter().enumerate() {
        let what = format!("manifests.rawYaml document {}", i + 1);
        let doc = with_labels(&helm.labels, &what, doc.to_owned())?;
        let doc = with_namespace(namespace, &what, doc, &mut conflicts)?;
        documents.push(doc.trim().to_owned());
    }
    if let Some(kustomize) = &config.manifests.kustomize {
        for path in &kustomize.paths {
            let run = kustomize_build(helm, path, &kustomize.build_args)?;
            let text = run_ok(&run, &helm.env).await?;
            let what = format!("the output of `{}`", run.display());
            let text = with_images(&what, &text, builds)?;
            let text = with_labels(&helm.labels, &what, text)?;
            let text = with_namespace(namespace, &what, text, &mut conflicts)?;
            documents.extend(split_documents(&text).into_iter().map(str::to_owned));
        }
    }
    for (release, flags) in helm_releases(config, purpose.render_command()) {
        let release = helm.release(release)?;
        if let Some(dep) = helm.dep_build(&release, &flags) {
            run_ok(&dep, &helm.env).await?;
        }
        let overrides = OverridesFile::write(release.config)?;
        let run = helm.template(&release, &flags, overrides.path())?;
        let text = run_ok(&run, &helm.env).await?;
        let what = format!("the output of `{}`", run.display());
        let text = with_images(&what, &text, builds)?;
        let text = with_labels(&helm.labels, &what, text)?;
        documents.extend(split_documents(&text).into_iter().map(str::to_owned));
    }
    Ok(RenderedConfig {
        documents,
        unmatched,
        conflicts,
    })
}

/// A tool's output with Skaffold's image replacement.
fn with_images(what: &str, text: &str, builds: &[kiln_render::Build]) -> Result<String, Error> {
    kiln_render::replace_images(text, builds).map_err(|e| Error::invalid(what, e))
}

/// `text` with `labels` where Skaffold's `SetLabels` puts them (none: as it is).
fn with_labels(
    labels: &BTreeMap<String, String>,
    what: &str,
    text: String,
) -> Result<String, Error> {
    if labels.is_empty() {
        return Ok(text);
    }
    kiln_render::set_labels(&text, labels).map_err(|e| Error::invalid(what, e))
}

/// `text` with `namespace` set where Skaffold's `SetNamespace` sets it (no namespace: as
/// it is); the manifests that keep their own go into `conflicts`.
fn with_namespace(
    namespace: Option<&str>,
    what: &str,
    text: String,
    conflicts: &mut Vec<kiln_render::NamespaceConflict>,
) -> Result<String, Error> {
    let Some(namespace) = namespace else {
        return Ok(text);
    };
    let namespaced =
        kiln_render::set_namespace(&text, namespace).map_err(|e| Error::invalid(what, e))?;
    conflicts.extend(namespaced.conflicts);
    Ok(namespaced.text)
}

/// `kustomize build BUILDARGS… PATH` (each build arg split at spaces, as Skaffold does),
/// or `kubectl [--context C] kustomize …` when kustomize is not installed, as Skaffold
/// falls back.
fn kustomize_build(
    helm: &HelmContext,
    path: &str,
    build_args: &[String],
) -> Result<Invocation, Error> {
    let path = render_skaffold(path, helm.env.vars(), None, &template_inputs_now(&helm.env))
        .map_err(|e| {
            Error::planning(format!("manifests.kustomize.paths `{path}`"), e.to_string())
        })?;
    // Skaffold joins a relative path to its working directory: kustomize gets it absolute.
    let path = if path.contains("://") || Path::new(&path).is_absolute() {
        path
    } else {
        let joined = helm.config_dir.join(&path);
        std::path::absolute(&joined)
            .unwrap_or(joined)
            .display()
            .to_string()
    };
    let mut args: Vec<String> = build_args
        .iter()
        .flat_map(|a| a.split(' ').map(str::to_owned))
        .collect();
    args.push(path);
    if on_path("kustomize", &helm.env) || !on_path("kubectl", &helm.env) {
        return Ok(Invocation::new(
            "kustomize",
            std::iter::once("build".to_owned()).chain(args).collect(),
        ));
    }
    let mut full = Vec::new();
    if let Some(context) = &helm.kube_context {
        full.extend(["--context".to_owned(), context.clone()]);
    }
    if let Some(ns) = &helm.namespace {
        full.extend(["--namespace".to_owned(), ns.clone()]);
    }
    full.push("kustomize".to_owned());
    full.extend(args);
    Ok(Invocation::new("kubectl", full))
}

fn on_path(program: &str, env: &Env) -> bool {
    env.get("PATH")
        .is_some_and(|path| std::env::split_paths(path).any(|dir| dir.join(program).is_file()))
}

/// A release's `overrides`, written as a values file for the command's lifetime
/// (Skaffold writes `skaffold-overrides.yaml` into the working directory; kiln keeps the
/// name but not the place, so the source tree stays untouched).
pub struct OverridesFile {
    /// The directory (removed on drop) and the file in it.
    file: Option<(tempfile::TempDir, PathBuf)>,
}

impl OverridesFile {
    pub fn write(release: &HelmRelease) -> Result<OverridesFile, Error> {
        let Some(json) = &release.overrides else {
            return Ok(OverridesFile { file: None });
        };
        // JSON is YAML: helm reads it as a values file.
        let file = crate::tool::temp_file("skaffold-overrides.yaml", json.as_bytes())?;
        Ok(OverridesFile { file: Some(file) })
    }

    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(_, file)| file.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_skaffolds_labellers() {
        let custom = [
            "team=web".to_owned(),
            "solo".to_owned(),
            "team=api".to_owned(),
        ];
        assert_eq!(
            labels(Some("id-1"), &custom)
                .into_iter()
                .collect::<Vec<_>>(),
            [
                ("skaffold.dev/run-id".to_owned(), "id-1".to_owned()),
                ("solo".to_owned(), String::new()),
                ("team".to_owned(), "api".to_owned()),
            ]
        );
        // `kiln render` has no run ID; a `-l` of the run ID's own key replaces it.
        assert!(labels(None, &[]).is_empty());
        let mine = ["skaffold.dev/run-id=mine".to_owned()];
        assert_eq!(labels(Some("id-1"), &mine)["skaffold.dev/run-id"], "mine");
    }

    #[test]
    fn filter_labels_then_replaces_images() {
        let builds = [kiln_render::Build {
            image_name: "app".to_owned(),
            tag: "reg/app:v1".to_owned(),
        }];
        let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - image: app\n";
        let out = filter(pod, &builds, &["a=b".to_owned(), "no-value".to_owned()]).unwrap();
        assert_eq!(
            out,
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    a: b\nspec:\n  containers:\n  - image: reg/app:v1\n"
        );
    }
}
