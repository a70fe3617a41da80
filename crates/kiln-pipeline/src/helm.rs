//! Skaffold's `helm` command lines (pkg/skaffold/helm, render/renderer/helm,
//! deploy/helm): the values each built image gives `setValueTemplates`, and the
//! arguments of `helm template`, `dep build`, `install`/`upgrade`, `get` and `delete`, in
//! Skaffold's order. Pure: nothing runs here.

use kiln_core::env::Env;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_config::{HelmFlags, HelmRelease};
use kiln_core::naming::helm_template_suffix;
use kiln_core::template::render_skaffold;

use crate::templates::template_inputs_now;

use crate::Error;
use crate::tool::Invocation;

/// What every helm command of one run shares: where it points and what it was built.
#[derive(Clone, Debug, Default)]
pub struct HelmContext {
    /// `--kube-context`, which Skaffold passes to every helm command (omitted when kiln
    /// knows no context).
    pub kube_context: Option<String>,
    /// `-n/--namespace`: wins over each release's `namespace`.
    pub namespace: Option<String>,
    /// `--kubeconfig`, passed to every helm command but `plugin` (and to kubectl).
    pub kubeconfig: Option<String>,
    /// The environment snapshot: templates read it.
    pub env: Env,
    /// The built images, in build order.
    pub builds: Vec<kiln_render::Build>,
    /// The labels rendered manifests get and helm's post-renderer puts on what it
    /// installs (Skaffold's labeller: the run ID, except for `kiln render`, and `-l`).
    pub labels: BTreeMap<String, String>,
    /// Where relative chart and values paths are resolved from.
    pub config_dir: PathBuf,
}

/// A release with its templated fields expanded.
#[derive(Clone, Debug)]
pub struct Release<'a> {
    pub config: &'a HelmRelease,
    pub name: String,
    pub chart: String,
    pub namespace: Option<String>,
}

impl HelmContext {
    /// Expands the release's name, chart path and namespace templates (Skaffold's
    /// `ExpandEnvTemplateOrFail`).
    pub fn release<'a>(&self, release: &'a HelmRelease) -> Result<Release<'a>, Error> {
        let expand = |what: &str, text: &str| self.expand(release, what, text);
        let chart = match (&release.chart_path, &release.remote_chart) {
            (Some(path), _) => self.path(&expand("chartPath", path)?),
            (None, Some(remote)) => remote.clone(),
            (None, None) => {
                return Err(Error::planning(
                    format!("helm release `{}`", release.name),
                    "it has neither `chartPath` nor `remoteChart`: set one of them",
                ));
            }
        };
        let namespace = match (&self.namespace, &release.namespace) {
            (Some(ns), _) => Some(ns.clone()),
            (None, Some(ns)) => Some(expand("namespace", ns)?),
            (None, None) => None,
        };
        Ok(Release {
            config: release,
            name: expand("name", &release.name)?,
            chart,
            namespace: namespace.filter(|n| !n.is_empty()),
        })
    }

    /// A path from the config, as Skaffold passes it: relative to the working directory
    /// for the root config (kiln's `config_dir` is then `.`), absolute for required ones.
    fn path(&self, path: &str) -> String {
        if self.config_dir == Path::new(".") || Path::new(path).is_absolute() {
            path.to_owned()
        } else {
            self.config_dir.join(path).display().to_string()
        }
    }

    /// `helm [secrets] [--kube-context C] ARGS… GLOBAL… [--kubeconfig K]`: Skaffold's
    /// `generateHelmCommand`.
    fn command(&self, args: Vec<String>, flags: &HelmFlags, secrets: bool) -> Invocation {
        let mut full = Vec::new();
        if secrets {
            full.push("secrets".to_owned());
        }
        if let Some(context) = &self.kube_context {
            full.extend(["--kube-context".to_owned(), context.clone()]);
        }
        full.extend(args);
        full.extend(flags.global.iter().cloned());
        if let Some(kubeconfig) = &self.kubeconfig {
            full.extend(["--kubeconfig".to_owned(), kubeconfig.clone()]);
        }
        Invocation::new("helm", full)
    }

    /// `helm dep build CHART DEPBUILD…`, unless the release skips it or has no local chart.
    pub fn dep_build(&self, release: &Release<'_>, flags: &HelmFlags) -> Option<Invocation> {
        if release.config.skip_build_dependencies || release.config.chart_path.is_none() {
            return None;
        }
        let mut args = vec!["dep".to_owned(), "build".to_owned(), release.chart.clone()];
        args.extend(flags.dep_build.iter().cloned());
        Some(self.command(args, flags, false))
    }

    /// `helm template NAME CHART TEMPLATE… OVERRIDES… [-f overrides] [--version V]
    /// [--namespace N] [--repo R] [--skip-tests]`. kiln replaces the images of the output
    /// itself, where Skaffold passes itself as `--post-renderer`.
    pub fn template(
        &self,
        release: &Release<'_>,
        flags: &HelmFlags,
        overrides_file: Option<&Path>,
    ) -> Result<Invocation, Error> {
        let r = release.config;
        let mut args = vec![
            "template".to_owned(),
            release.name.clone(),
            release.chart.clone(),
        ];
        args.extend(flags.template.iter().cloned());
        args.extend(self.override_args(r)?);
        if let Some(file) = overrides_file {
            args.extend(["-f".to_owned(), file.display().to_string()]);
        }
        if let (None, Some(version)) = (&r.packaged, &r.version) {
            args.extend(["--version".to_owned(), self.expand(r, "version", version)?]);
        }
        if let Some(ns) = &release.namespace {
            args.extend(["--namespace".to_owned(), ns.clone()]);
        }
        if let Some(repo) = &r.repo {
            args.extend(["--repo".to_owned(), repo.clone()]);
        }
        if r.skip_tests {
            args.push("--skip-tests".to_owned());
        }
        Ok(self.command(args, flags, r.use_helm_secrets))
    }

    /// `helm package CHART --destination DIR [--version V] [--app-version A]` for a
    /// release with `packaged`.
    pub fn package(
        &self,
        release: &Release<'_>,
        flags: &HelmFlags,
        destination: &Path,
    ) -> Result<Option<Invocation>, Error> {
        let Some(packaged) = &release.config.packaged else {
            return Ok(None);
        };
        let r = release.config;
        let mut args = vec![
            "package".to_owned(),
            release.chart.clone(),
            "--destination".to_owned(),
            destination.display().to_string(),
        ];
        if let Some(version) = packaged.version.as_deref().filter(|v| !v.is_empty()) {
            args.extend([
                "--version".to_owned(),
                self.expand(r, "packaged.version", version)?,
            ]);
        }
        if let Some(app) = packaged.app_version.as_deref().filter(|v| !v.is_empty()) {
            args.extend([
                "--app-version".to_owned(),
                self.expand(r, "packaged.appVersion", app)?,
            ]);
        }
        Ok(Some(self.command(args, flags, false)))
    }

    /// `helm version`: which helm runs (Skaffold's `BinVer`).
    pub fn version(&self) -> Invocation {
        Invocation::new("helm", vec!["version".to_owned()])
    }

    /// `helm plugin ARGS…`: no kube context or kubeconfig, as Skaffold's
    /// `generateHelmCommand` leaves them off for the plugin system.
    pub fn plugin(&self, args: &[&str]) -> Invocation {
        let mut full = vec!["plugin".to_owned()];
        full.extend(args.iter().map(|a| (*a).to_owned()));
        Invocation::new("helm", full)
    }

    /// `helm get all [--namespace N] NAME`: whether the release is installed.
    pub fn get(&self, release: &Release<'_>, flags: &HelmFlags) -> Invocation {
        self.get_all(release, flags, &[])
    }

    /// `helm get all [--namespace N] NAME --template {{.Release.Manifest}}`: what an
    /// install put in the cluster (Skaffold's `getReleaseManifest`).
    pub fn release_manifest(&self, release: &Release<'_>, flags: &HelmFlags) -> Invocation {
        self.get_all(release, flags, &["--template", "{{.Release.Manifest}}"])
    }

    fn get_all(&self, release: &Release<'_>, flags: &HelmFlags, after: &[&str]) -> Invocation {
        let mut args = vec!["get".to_owned(), "all".to_owned()];
        if let Some(ns) = &release.namespace {
            args.extend(["--namespace".to_owned(), ns.clone()]);
        }
        args.push(release.name.clone());
        args.extend(after.iter().map(|a| (*a).to_owned()));
        self.command(args, flags, false)
    }

    /// `helm upgrade NAME UPGRADE… [--force] [--recreate-pods]` or `helm install NAME
    /// INSTALL…`, then `[--version V] CHART [--namespace N] [--repo R]
    /// [--create-namespace] OVERRIDES… [-f overrides] [--wait] POST-RENDERER…`: Skaffold's
    /// `installArgs`.
    pub fn install(
        &self,
        release: &Release<'_>,
        flags: &HelmFlags,
        install: Install<'_>,
    ) -> Result<Invocation, Error> {
        let r = release.config;
        let mut args = if install.upgrade {
            let mut a = vec!["upgrade".to_owned(), release.name.clone()];
            a.extend(flags.upgrade.iter().cloned());
            if install.force {
                a.push("--force".to_owned());
            }
            if r.recreate_pods {
                a.push("--recreate-pods".to_owned());
            }
            a
        } else {
            let mut a = vec!["install".to_owned(), release.name.clone()];
            a.extend(flags.install.iter().cloned());
            a
        };
        if let (None, Some(version)) = (&r.packaged, &r.version) {
            args.extend(["--version".to_owned(), self.expand(r, "version", version)?]);
        }
        args.push(release.chart.clone());
        if let Some(ns) = &release.namespace {
            args.extend(["--namespace".to_owned(), ns.clone()]);
        }
        if let Some(repo) = &r.repo {
            args.extend(["--repo".to_owned(), self.expand(r, "repo", repo)?]);
        }
        if r.create_namespace && !install.upgrade {
            args.push("--create-namespace".to_owned());
        }
        args.extend(self.override_args(r)?);
        if let Some(file) = install.overrides_file {
            args.extend(["-f".to_owned(), file.display().to_string()]);
        }
        if r.wait {
            args.push("--wait".to_owned());
        }
        args.extend(install.post_renderer.iter().cloned());
        Ok(self.command(args, flags, r.use_helm_secrets))
    }

    /// `helm delete NAME [--namespace N]`, or with `dry_run` `helm get manifest NAME
    /// [--namespace N]`: Skaffold's cleanup.
    pub fn delete(&self, release: &Release<'_>, flags: &HelmFlags, dry_run: bool) -> Invocation {
        let mut args = if dry_run {
            vec!["get".to_owned(), "manifest".to_owned()]
        } else {
            vec!["delete".to_owned()]
        };
        args.push(release.name.clone());
        if let Some(ns) = &release.namespace {
            args.extend(["--namespace".to_owned(), ns.clone()]);
        }
        self.command(args, flags, false)
    }

    fn expand(&self, r: &HelmRelease, what: &str, text: &str) -> Result<String, Error> {
        render_skaffold(text, self.env.vars(), None, &template_inputs_now(&self.env)).map_err(|e| {
            Error::planning(format!("helm release `{}`: {what}", r.name), e.to_string())
        })
    }

    /// Skaffold's `ConstructOverrideArgs`: `--set` for `setValues`, `--set-file` for
    /// `setFiles`, `--set` for each expanded `setValueTemplates` entry, `-f` for each
    /// values file; keys sorted, as Skaffold sorts them.
    pub fn override_args(&self, r: &HelmRelease) -> Result<Vec<String>, Error> {
        let mut args = Vec::new();
        for (k, v) in &r.set_values {
            args.extend(["--set".to_owned(), format!("{k}={v}")]);
        }
        for (k, file) in &r.set_files {
            let file = self.path(&expand_home(file, &self.env));
            // helm splits --set-file at spaces unless the value is quoted.
            let file = if file.contains([' ', '\t']) {
                format!("\"{file}\"")
            } else {
                file
            };
            args.extend(["--set-file".to_owned(), format!("{k}={file}")]);
        }
        let mut values = self.env.vars().clone();
        values.extend(image_values(&self.builds));
        let expand = |what: &str, text: &str| {
            render_skaffold(text, &values, None, &template_inputs_now(&self.env)).map_err(|e| {
                Error::planning(
                    format!("helm release `{}`: {what}", r.name),
                    format!("{e} (the built images give IMAGE_REPO_<name>, IMAGE_TAG_<name>, IMAGE_DIGEST_<name>, IMAGE_FULLY_QUALIFIED_<name>, …)"),
                )
            })
        };
        for (k, v) in &r.set_value_templates {
            let key = expand("setValueTemplates key", k)?;
            let value = expand(&format!("setValueTemplates.{k}"), v)?;
            // Skaffold drops one trailing `@`: `{{.IMAGE_TAG_x}}@{{.IMAGE_DIGEST_x}}` of an
            // image that has no digest.
            let value = value.strip_suffix('@').unwrap_or(&value);
            args.extend(["--set".to_owned(), format!("{key}={value}")]);
        }
        for file in &r.values_files {
            let file = expand("valuesFiles", &expand_home(file, &self.env))?;
            args.extend(["-f".to_owned(), self.path(&file)]);
        }
        Ok(args)
    }
}

/// How one release is installed.
#[derive(Clone, Debug, Default)]
pub struct Install<'a> {
    /// The release exists: `upgrade` rather than `install`.
    pub upgrade: bool,
    /// `--force` (Skaffold's `--force`).
    pub force: bool,
    pub overrides_file: Option<&'a Path>,
    /// `--post-renderer …`: kiln's image replacement.
    pub post_renderer: Vec<String>,
}

/// `~/x` → `$HOME/x`, as Skaffold's `homedir.Expand`.
fn expand_home(path: &str, env: &Env) -> String {
    match (path.strip_prefix("~/"), env.get("HOME")) {
        (Some(rest), Some(home)) => format!("{home}/{rest}"),
        _ => path.to_owned(),
    }
}

/// The template values Skaffold derives from the built images (`envVarForImage`):
/// `IMAGE_REPO`, `IMAGE_TAG`, `IMAGE_DIGEST`, `IMAGE_FULLY_QUALIFIED`, `IMAGE_DOMAIN`,
/// `IMAGE_REPO_NO_DOMAIN`, `IMAGE_NAME`, `DIGEST` (and the deprecated `DIGEST_ALGO`,
/// `DIGEST_HEX`), each as `KEY_<name>` (the image name with `.`, `-`, `/`, `:` as `_`),
/// and as `KEY` for the first image, `KEY2`, `KEY3`, … for the next ones.
pub fn image_values(builds: &[kiln_render::Build]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (i, build) in builds.iter().enumerate() {
        let position = if i == 0 {
            String::new()
        } else {
            (i + 1).to_string()
        };
        let name = helm_template_suffix(&build.image_name);
        for (key, value) in values_for_image(&build.image_name, &build.tag) {
            out.insert(format!("{key}{position}"), value.clone());
            out.insert(format!("{key}_{name}"), value);
        }
    }
    out
}

fn values_for_image(image: &str, reference: &str) -> Vec<(&'static str, String)> {
    let mut values = vec![
        ("IMAGE_NAME", image.to_owned()),
        ("DIGEST", reference.to_owned()),
    ];
    let (rest, digest) = reference
        .split_once('@')
        .map_or((reference, ""), |(r, d)| (r, d));
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], &rest[last_slash + i + 1..]),
        None => (rest, ""),
    };
    values.extend([
        ("IMAGE_REPO", repo.to_owned()),
        ("IMAGE_TAG", tag.to_owned()),
        ("IMAGE_DIGEST", digest.to_owned()),
    ]);
    if reference.is_empty() {
        return values;
    }
    // Deprecated in Skaffold, which documents that they hold nonsense: kept as it gives them.
    match reference.split_once(':') {
        Some((algo, hex)) => values.extend([
            ("DIGEST_ALGO", algo.to_owned()),
            ("DIGEST_HEX", hex.to_owned()),
        ]),
        None => values.push(("DIGEST_HEX", reference.to_owned())),
    }
    // distribution's `reference.Parse` (not normalised): the first of several path
    // components is the domain when it can be a host name.
    let domain = repo
        .split_once('/')
        .map(|(first, _)| first)
        .filter(|first| {
            first
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        })
        .unwrap_or("");
    let no_domain = repo
        .strip_prefix(&format!("{domain}/"))
        .unwrap_or(repo)
        .to_owned();
    values.extend([
        ("IMAGE_DOMAIN", domain.to_owned()),
        ("IMAGE_REPO_NO_DOMAIN", no_domain),
        ("IMAGE_FULLY_QUALIFIED", reference.to_owned()),
    ]);
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(image: &str, tag: &str) -> kiln_render::Build {
        kiln_render::Build {
            image_name: image.to_owned(),
            tag: tag.to_owned(),
        }
    }

    #[test]
    fn image_values_follow_skaffolds_names() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let values = image_values(&[
            build(
                "gcr.io/p/web-app",
                &format!("localhost:5000/web-app:v1@{digest}"),
            ),
            build("worker", "worker:dirty"),
        ]);
        let get = |k: &str| values.get(k).map(String::as_str);
        assert_eq!(
            get("IMAGE_REPO_gcr_io_p_web_app"),
            Some("localhost:5000/web-app")
        );
        assert_eq!(get("IMAGE_REPO"), Some("localhost:5000/web-app"));
        assert_eq!(get("IMAGE_TAG_gcr_io_p_web_app"), Some("v1"));
        assert_eq!(get("IMAGE_DIGEST_gcr_io_p_web_app"), Some(digest.as_str()));
        assert_eq!(get("IMAGE_DOMAIN_gcr_io_p_web_app"), Some("localhost:5000"));
        assert_eq!(
            get("IMAGE_REPO_NO_DOMAIN_gcr_io_p_web_app"),
            Some("web-app")
        );
        assert_eq!(
            get("IMAGE_FULLY_QUALIFIED_gcr_io_p_web_app"),
            Some(format!("localhost:5000/web-app:v1@{digest}").as_str())
        );
        // The second image: `_worker` and the position suffix `2`.
        assert_eq!(get("IMAGE_TAG_worker"), Some("dirty"));
        assert_eq!(get("IMAGE_TAG2"), Some("dirty"));
        assert_eq!(get("IMAGE_DIGEST_worker"), Some(""));
        assert_eq!(get("IMAGE_DOMAIN_worker"), Some(""));
        assert_eq!(get("IMAGE_NAME2"), Some("worker"));
    }

    #[test]
    fn template_arguments_are_in_skaffolds_order() {
        let release = HelmRelease {
            name: "web-{{.STAGE}}".to_owned(),
            chart_path: Some("charts/web".to_owned()),
            values_files: vec!["values/{{.STAGE}}.yaml".to_owned()],
            namespace: Some("apps".to_owned()),
            version: Some("1.2.3".to_owned()),
            set_values: vec![("replicas".to_owned(), "2".to_owned())],
            set_value_templates: vec![
                (
                    "image.repository".to_owned(),
                    "{{.IMAGE_REPO_app}}".to_owned(),
                ),
                (
                    "image.tag".to_owned(),
                    "{{.IMAGE_TAG_app}}@{{.IMAGE_DIGEST_app}}".to_owned(),
                ),
            ],
            skip_tests: true,
            ..HelmRelease::default()
        };
        let ctx = HelmContext {
            kube_context: Some("kind-dev".to_owned()),
            namespace: None,
            kubeconfig: None,
            env: Env::from_vars([("STAGE", "dev")]),
            builds: vec![build("app", "reg/app:v1")],
            labels: BTreeMap::new(),
            config_dir: PathBuf::from("."),
        };
        let flags = HelmFlags {
            global: vec!["--debug".to_owned()],
            template: vec!["--skip-crds".to_owned()],
            ..HelmFlags::default()
        };
        let r = ctx.release(&release).unwrap();
        let run = ctx.template(&r, &flags, None).unwrap();
        assert_eq!(
            run.display(),
            "helm --kube-context kind-dev template web-dev charts/web --skip-crds --set replicas=2 \
             --set image.repository=reg/app --set image.tag=v1 -f values/dev.yaml --version 1.2.3 \
             --namespace apps --skip-tests --debug"
        );
        let install = ctx
            .install(
                &r,
                &flags,
                Install {
                    upgrade: false,
                    post_renderer: vec!["--post-renderer".to_owned(), "/bin/kiln".to_owned()],
                    ..Install::default()
                },
            )
            .unwrap();
        assert_eq!(
            install.display(),
            "helm --kube-context kind-dev install web-dev --version 1.2.3 charts/web --namespace apps \
             --set replicas=2 --set image.repository=reg/app --set image.tag=v1 -f values/dev.yaml \
             --post-renderer /bin/kiln --debug"
        );
        // `-n` wins over the release's namespace; an unset variable is an error naming it.
        let ctx = HelmContext {
            namespace: Some("override".to_owned()),
            ..ctx
        };
        assert_eq!(
            ctx.release(&release).unwrap().namespace.as_deref(),
            Some("override")
        );
        let bad = HelmRelease {
            set_value_templates: vec![("x".to_owned(), "{{.IMAGE_TAG_nope}}".to_owned())],
            ..release
        };
        let err = ctx.override_args(&bad).unwrap_err().to_string();
        assert!(err.contains("IMAGE_TAG_nope"), "{err}");
    }
}
