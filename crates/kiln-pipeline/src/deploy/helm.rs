//! Skaffold's helm deployer (pkg/skaffold/deploy/helm): per release, in `dependsOn`
//! order, `helm get all` to learn whether it is installed, `helm dep build`, then
//! `helm install` or `helm upgrade` with Skaffold's arguments and kiln as the
//! `--post-renderer` that puts the built images into the chart's output; `helm delete`
//! to clean up.

use std::path::{Path, PathBuf};

use kiln_config::Helm;

use crate::Error;
use crate::helm::{HelmContext, Install};
use crate::render::OverridesFile;
use crate::tool::{run, run_ok};

/// How the releases are installed.
#[derive(Clone, Debug, Default)]
pub struct HelmDeploy {
    /// Skaffold's `--force`: `helm upgrade --force`.
    pub force: bool,
    /// The kiln executable, run by helm as `kiln filter --build-artifacts FILE` over the
    /// chart's output (Skaffold's post-renderer is `skaffold filter`).
    pub post_renderer: Option<PathBuf>,
}

/// Installs or upgrades every release of `helm`; returns what to report (helm's output
/// and why a release was left alone).
pub async fn deploy(
    ctx: &HelmContext,
    helm: &Helm,
    how: &HelmDeploy,
) -> Result<Vec<String>, Error> {
    let builds_file = match (&how.post_renderer, ctx.builds.is_empty()) {
        (Some(_), false) => Some(BuildsFile::write(&ctx.builds)?),
        _ => None,
    };
    let post_renderer: Vec<String> = match (&how.post_renderer, &builds_file) {
        (Some(exe), Some(file)) => vec![
            "--post-renderer".to_owned(),
            exe.display().to_string(),
            "--post-renderer-args".to_owned(),
            "filter".to_owned(),
            "--post-renderer-args".to_owned(),
            format!("--build-artifacts={}", file.path().display()),
        ],
        _ => Vec::new(),
    };
    let mut reports = Vec::new();
    for release in in_dependency_order(helm)? {
        let release = ctx.release(release)?;
        let installed = run(&ctx.get(&release, &helm.flags)).await?.status.success();
        let r = release.config;
        if installed
            && (r.upgrade_on_change == Some(false)
                || (r.upgrade_on_change.is_none() && r.remote_chart.is_some()))
        {
            reports.push(format!(
                "helm release {} is installed and not upgraded ({})",
                release.name,
                if r.remote_chart.is_some() {
                    "a remote chart"
                } else {
                    "upgradeOnChange: false"
                }
            ));
            continue;
        }
        if let Some(dep) = ctx.dep_build(&release, &helm.flags) {
            run_ok(&dep).await?;
        }
        // `packaged`: install the archive `helm package` makes, as Skaffold does.
        let package_dir = tempfile::Builder::new()
            .prefix("kiln-helm-")
            .tempdir()
            .map_err(|e| Error::Plan(format!("helm release {}: {e}", release.name)))?;
        let mut release = release;
        if let Some(package) = ctx.package(&release, &helm.flags, package_dir.path())? {
            let out = run_ok(&package).await?;
            let dir = package_dir.path().display().to_string();
            let archive = out.find(&dir).map(|i| out[i..].trim().to_owned());
            release.chart = archive.ok_or_else(|| Error::Tool {
                command: package.display(),
                detail: format!("its output does not name the archive in {dir}: {out}"),
            })?;
        }
        let overrides = OverridesFile::write(r)?;
        let install = ctx.install(
            &release,
            &helm.flags,
            Install {
                upgrade: installed,
                force: how.force,
                overrides_file: overrides.path(),
                post_renderer: post_renderer.clone(),
            },
        )?;
        let out = run_ok(&install).await?;
        reports.extend(out.lines().map(str::to_owned));
    }
    Ok(reports)
}

/// Uninstalls every release of `helm` (`helm delete`; with `dry_run`, returns each
/// release's manifest instead); every release is tried, and the failures are reported
/// together.
pub async fn delete(ctx: &HelmContext, helm: &Helm, dry_run: bool) -> Result<Vec<String>, Error> {
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for release in &helm.releases {
        let release = ctx.release(release)?;
        match run_ok(&ctx.delete(&release, &helm.flags, dry_run)).await {
            Ok(out) => reports.extend(out.lines().map(str::to_owned)),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(reports)
    } else {
        Err(Error::Plan(failures.join("\n")))
    }
}

/// The releases, each after those its `dependsOn` names (Skaffold installs them level by
/// level); a cycle or an unknown name is an error.
fn in_dependency_order(helm: &Helm) -> Result<Vec<&kiln_config::HelmRelease>, Error> {
    let releases = &helm.releases;
    for r in releases {
        if let Some(missing) = r
            .depends_on
            .iter()
            .find(|d| !releases.iter().any(|o| &o.name == *d))
        {
            return Err(Error::Plan(format!(
                "helm release `{}` depends on `{missing}`, which is not a release of this config",
                r.name
            )));
        }
    }
    let mut done: Vec<&str> = Vec::new();
    let mut ordered = Vec::new();
    while ordered.len() < releases.len() {
        let ready: Vec<&kiln_config::HelmRelease> = releases
            .iter()
            .filter(|r| !done.contains(&r.name.as_str()))
            .filter(|r| r.depends_on.iter().all(|d| done.contains(&d.as_str())))
            .collect();
        if ready.is_empty() {
            return Err(Error::Plan(
                "helm releases depend on each other in a cycle (`dependsOn`)".to_owned(),
            ));
        }
        done.extend(ready.iter().map(|r| r.name.as_str()));
        ordered.extend(ready);
    }
    Ok(ordered)
}

/// The build JSON the post-renderer reads, for the deploy's lifetime.
struct BuildsFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl BuildsFile {
    fn write(builds: &[kiln_render::Build]) -> Result<BuildsFile, Error> {
        let failed = |e: std::io::Error| {
            Error::Plan(format!(
                "writing the build JSON for helm's post-renderer: {e}"
            ))
        };
        let dir = tempfile::Builder::new()
            .prefix("kiln-helm-")
            .tempdir()
            .map_err(failed)?;
        let path = dir.path().join("builds.json");
        let outputs: Vec<crate::output::BuildOutput> = builds
            .iter()
            .map(|b| crate::output::BuildOutput {
                image_name: b.image_name.clone(),
                tag: b.tag.clone(),
                runtime_type: None,
            })
            .collect();
        std::fs::write(&path, crate::output::file_output_json(&outputs)).map_err(failed)?;
        Ok(BuildsFile { _dir: dir, path })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}
