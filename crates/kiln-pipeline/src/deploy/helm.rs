//! Skaffold's helm deployer (pkg/skaffold/deploy/helm): per release, in `dependsOn`
//! order, `helm get all` to learn whether it is installed, `helm dep build`, then
//! `helm install` or `helm upgrade` with Skaffold's arguments and kiln as the
//! `--post-renderer` that puts the built images into the chart's output; `helm delete`
//! to clean up.

use std::path::{Path, PathBuf};

use kiln_config::Helm;

use std::time::Duration;

use crate::Error;
use crate::deploy::status::{Workload, workloads};
use crate::helm::{HelmContext, Install, Release};
use crate::render::OverridesFile;
use futures_util::StreamExt as _;

use crate::tool::{run, run_ok};

/// How the releases are installed.
#[derive(Clone, Debug, Default)]
pub struct HelmDeploy {
    /// Skaffold's `--force`: `helm upgrade --force`.
    pub force: bool,
    /// The kiln executable, run by helm as `kiln filter --build-artifacts FILE` over the
    /// chart's output (Skaffold's post-renderer is `skaffold filter`).
    pub post_renderer: Option<PathBuf>,
    /// helm's major version, asked once per deploy (Skaffold asks once per deployer), for
    /// every config the deploy installs.
    pub helm_major: tokio::sync::OnceCell<u64>,
}

/// What a helm deploy did.
#[derive(Clone, Debug, Default)]
pub struct Deployed {
    /// What to report: helm's output, and why a release was left alone.
    pub reports: Vec<String>,
    /// The Deployments and StatefulSets the installed releases hold (for the status check).
    pub workloads: Vec<Workload>,
}

/// Installs or upgrades every release of `helm`.
pub async fn deploy(ctx: &HelmContext, helm: &Helm, how: &HelmDeploy) -> Result<Deployed, Error> {
    let builds_file = match (&how.post_renderer, ctx.builds.is_empty()) {
        (Some(_), false) => Some(BuildsFile::write(&ctx.builds)?),
        _ => None,
    };
    let mut post_renderer =
        post_renderer_args(how, ctx, builds_file.as_ref().map(BuildsFile::path));
    // helm 4 runs post-renderers as plugins only: kiln is installed as one for this deploy
    // and removed after it, whatever the outcome (Skaffold's `PreparePostRenderer`).
    let plugin = match (&how.post_renderer, post_renderer.is_empty()) {
        (Some(exe), false)
            if !helm.releases.is_empty() && helm_major(ctx, &how.helm_major).await? >= 4 =>
        {
            let plugin = PostRendererPlugin::install(ctx, exe).await?;
            post_renderer[1] = plugin.name.clone();
            Some(plugin)
        }
        _ => None,
    };
    let deployed = deploy_levels(ctx, helm, how, &post_renderer).await;
    if let Some(plugin) = plugin {
        plugin.remove(ctx).await;
    }
    deployed
}

/// The releases of `helm`, one `dependsOn` level after the other.
async fn deploy_levels(
    ctx: &HelmContext,
    helm: &Helm,
    how: &HelmDeploy,
    post_renderer: &[String],
) -> Result<Deployed, Error> {
    // Skaffold's `concurrency`: releases of one `dependsOn` level at once, 1 by default,
    // 0 for no limit.
    let mut deployed = Deployed::default();
    for level in dependency_levels(helm)? {
        let limit = match helm.concurrency {
            None => 1,
            Some(n) if n <= 0 => level.len().max(1),
            Some(n) => usize::try_from(n).unwrap_or(1),
        };
        let results: Vec<Result<Deployed, Error>> = futures_util::stream::iter(
            level
                .into_iter()
                .map(|r| deploy_release(ctx, helm, how, r, post_renderer)),
        )
        .buffered(limit)
        .collect()
        .await;
        for result in results {
            let release = result?;
            deployed.reports.extend(release.reports);
            deployed.workloads.extend(release.workloads);
        }
    }
    Ok(deployed)
}

/// The major version of the helm on PATH (`helm version`: `version.BuildInfo{Version:"v3.21.4", …}`),
/// asked the first time `known` is empty.
async fn helm_major(ctx: &HelmContext, known: &tokio::sync::OnceCell<u64>) -> Result<u64, Error> {
    let ask = || async {
        let run = ctx.version();
        let out = run_ok(&run, &ctx.env).await?;
        major_version(&out).ok_or_else(|| Error::Tool {
            command: run.display(),
            detail: format!("its output names no version: {}", out.trim()),
        })
    };
    known.get_or_try_init(ask).await.copied()
}

/// The first `vN` (or `N.`) number of a `helm version` answer.
fn major_version(answer: &str) -> Option<u64> {
    let at = answer.find("Version:")?;
    let rest = answer[at + "Version:".len()..].trim_start_matches(['"', 'v', ' ']);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// kiln installed as a helm 4 post-renderer plugin (`type: postrenderer/v1`, a subprocess
/// running the kiln executable; helm adds the `--post-renderer-args` to its command line),
/// from a temporary directory whose name is the plugin's.
struct PostRendererPlugin {
    name: String,
    dir: tempfile::TempDir,
}

impl PostRendererPlugin {
    async fn install(ctx: &HelmContext, exe: &Path) -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("kiln-filter-")
            .tempdir()
            .map_err(|e| Error::io("creating a directory in", std::env::temp_dir(), e))?;
        let name = dir
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("kiln-filter")
            .to_owned();
        let manifest = dir.path().join("plugin.yaml");
        std::fs::write(&manifest, plugin_manifest(&name, exe))
            .map_err(|e| Error::io("writing", &manifest, e))?;
        let path = dir.path().display().to_string();
        run_ok(&ctx.plugin(&["install", &path]), &ctx.env).await?;
        Ok(PostRendererPlugin { name, dir })
    }

    /// Uninstalls the plugin (best effort: a leftover only lists in `helm plugin list`)
    /// and removes its directory.
    async fn remove(self, ctx: &HelmContext) {
        let uninstall = ctx.plugin(&["uninstall", &self.name]);
        if let Err(e) = run_ok(&uninstall, &ctx.env).await {
            tracing::warn!("removing kiln's post-renderer plugin: {e}");
        }
        drop(self.dir);
    }
}

/// Skaffold's `PostRendererTemplate`, with kiln as the command (a JSON string is a YAML
/// double-quoted scalar, so any path is quoted right).
fn plugin_manifest(name: &str, exe: &Path) -> String {
    let command = serde_json::to_string(&exe.display().to_string()).unwrap_or_default();
    format!(
        "name: \"{name}\"\nversion: \"0.1.0\"\ntype: postrenderer/v1\napiVersion: v1\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: {command}\n"
    )
}

/// `--post-renderer KILN --post-renderer-args filter`, then, as Skaffold's
/// `generateSkaffoldFilter` orders them, `--label=KEY=VALUE` for each label and
/// `--build-artifacts=FILE`; nothing when there is neither a label nor an image to put in.
fn post_renderer_args(how: &HelmDeploy, ctx: &HelmContext, builds: Option<&Path>) -> Vec<String> {
    let Some(exe) = &how.post_renderer else {
        return Vec::new();
    };
    if builds.is_none() && ctx.labels.is_empty() {
        return Vec::new();
    }
    let mut filter = vec!["filter".to_owned()];
    filter.extend(ctx.labels.iter().map(|(k, v)| format!("--label={k}={v}")));
    if let Some(file) = builds {
        filter.push(format!("--build-artifacts={}", file.display()));
    }
    let mut args = vec!["--post-renderer".to_owned(), exe.display().to_string()];
    for arg in filter {
        args.extend(["--post-renderer-args".to_owned(), arg]);
    }
    args
}

/// One release: installed or upgraded (or left alone, said why), then what it holds, read
/// back as Skaffold's helm deployer reads it.
async fn deploy_release(
    ctx: &HelmContext,
    helm: &Helm,
    how: &HelmDeploy,
    release: &kiln_config::HelmRelease,
    post_renderer: &[String],
) -> Result<Deployed, Error> {
    let release = ctx.release(release)?;
    let installed = run(&ctx.get(&release, &helm.flags), &ctx.env)
        .await?
        .status
        .success();
    let r = release.config;
    if installed
        && (r.upgrade_on_change == Some(false)
            || (r.upgrade_on_change.is_none() && r.remote_chart.is_some()))
    {
        return Ok(Deployed {
            reports: vec![format!(
                "helm release {} is installed and not upgraded ({})",
                release.name,
                if r.remote_chart.is_some() {
                    "a remote chart"
                } else {
                    "upgradeOnChange: false"
                }
            )],
            workloads: Vec::new(),
        });
    }
    if let Some(dep) = ctx.dep_build(&release, &helm.flags) {
        run_ok(&dep, &ctx.env).await?;
    }
    // `packaged`: install the archive `helm package` makes, as Skaffold does.
    let package_dir = tempfile::Builder::new()
        .prefix("kiln-helm-")
        .tempdir()
        .map_err(|e| Error::io("creating a directory in", std::env::temp_dir(), e))?;
    let mut release = release;
    if let Some(package) = ctx.package(&release, &helm.flags, package_dir.path())? {
        let out = run_ok(&package, &ctx.env).await?;
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
            post_renderer: post_renderer.to_vec(),
        },
    )?;
    let out = run_ok(&install, &ctx.env).await?;
    let manifest = release_manifest(ctx, &release, &helm.flags).await?;
    Ok(Deployed {
        reports: out.lines().map(str::to_owned).collect(),
        workloads: workloads(&manifest, release.namespace.as_deref()),
    })
}

/// The installed release's manifest (`helm get all … --template {{.Release.Manifest}}`),
/// tried again for a few seconds, as Skaffold's `getReleaseManifest` does while a new
/// release becomes visible; each try has a deadline.
async fn release_manifest(
    ctx: &HelmContext,
    release: &Release<'_>,
    flags: &kiln_config::HelmFlags,
) -> Result<String, Error> {
    const RETRIES: [Duration; 3] = [
        Duration::from_millis(500),
        Duration::from_secs(1),
        Duration::from_secs(2),
    ];
    const TRY_TIMEOUT: Duration = Duration::from_secs(60);
    let get = ctx.release_manifest(release, flags);
    let mut waits = RETRIES.iter();
    loop {
        let answer = match tokio::time::timeout(TRY_TIMEOUT, run_ok(&get, &ctx.env)).await {
            Ok(answer) => answer,
            Err(_) => Err(Error::TimedOut {
                command: get.display(),
                limit: TRY_TIMEOUT,
            }),
        };
        match (answer, waits.next()) {
            (Ok(manifest), _) => return Ok(manifest),
            (Err(_), Some(wait)) => tokio::time::sleep(*wait).await,
            (Err(e), None) => return Err(e),
        }
    }
}

/// Uninstalls every release of `helm` (`helm delete`; with `dry_run`, returns each
/// release's manifest instead); every release is tried, and the failures are reported
/// together.
pub async fn delete(ctx: &HelmContext, helm: &Helm, dry_run: bool) -> Result<Vec<String>, Error> {
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for release in &helm.releases {
        let release = ctx.release(release)?;
        match run_ok(&ctx.delete(&release, &helm.flags, dry_run), &ctx.env).await {
            Ok(out) => reports.extend(out.lines().map(str::to_owned)),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(reports)
    } else {
        Err(Error::Deploy {
            detail: failures.join("\n"),
        })
    }
}

/// The releases by `dependsOn` level, as Skaffold installs them: each level's releases
/// depend only on earlier levels'; a cycle or an unknown name is an error.
fn dependency_levels(helm: &Helm) -> Result<Vec<Vec<&kiln_config::HelmRelease>>, Error> {
    let releases = &helm.releases;
    for r in releases {
        if let Some(missing) = r
            .depends_on
            .iter()
            .find(|d| !releases.iter().any(|o| &o.name == *d))
        {
            return Err(Error::planning(
                format!("helm release `{}`", r.name),
                format!("depends on `{missing}`, which is not a release of this config"),
            ));
        }
    }
    let mut done: Vec<&str> = Vec::new();
    let mut levels = Vec::new();
    while done.len() < releases.len() {
        let ready: Vec<&kiln_config::HelmRelease> = releases
            .iter()
            .filter(|r| !done.contains(&r.name.as_str()))
            .filter(|r| r.depends_on.iter().all(|d| done.contains(&d.as_str())))
            .collect();
        if ready.is_empty() {
            return Err(Error::planning(
                "deploy.helm.releases",
                "the releases depend on each other in a cycle (`dependsOn`)",
            ));
        }
        done.extend(ready.iter().map(|r| r.name.as_str()));
        levels.push(ready);
    }
    Ok(levels)
}

/// The build JSON the post-renderer reads, for the deploy's lifetime.
struct BuildsFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl BuildsFile {
    fn write(builds: &[kiln_render::Build]) -> Result<BuildsFile, Error> {
        let outputs: Vec<crate::output::BuildOutput> = builds
            .iter()
            .map(|b| crate::output::BuildOutput {
                image_name: b.image_name.clone(),
                tag: b.tag.clone(),
                runtime_type: None,
            })
            .collect();
        let (dir, path) = crate::tool::temp_file(
            "builds.json",
            crate::output::file_output_json(&outputs).as_bytes(),
        )?;
        Ok(BuildsFile { _dir: dir, path })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_versions_are_read_as_skaffold_reads_them() {
        let v3 = r#"version.BuildInfo{Version:"v3.21.4", GitCommit:"", GitTreeState:"", GoVersion:"go1.26.0"}"#;
        let v4 = r#"version.BuildInfo{Version:"v4.0.0-beta.1", GitCommit:"7dd2484", GitTreeState:"clean", GoVersion:"go1.24.7"}"#;
        assert_eq!(major_version(v3), Some(3));
        assert_eq!(major_version(v4), Some(4));
        assert_eq!(major_version("helm: command not understood"), None);
    }

    #[test]
    fn the_plugin_manifest_runs_kiln_as_a_postrenderer_with_its_path_quoted() {
        let manifest = plugin_manifest("kiln-filter-ab12", Path::new("/opt/my tools/kiln\"q"));
        assert_eq!(
            manifest,
            "name: \"kiln-filter-ab12\"\nversion: \"0.1.0\"\ntype: postrenderer/v1\napiVersion: v1\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: \"/opt/my tools/kiln\\\"q\"\n"
        );
    }

    fn release(name: &str, depends_on: &[&str]) -> kiln_config::HelmRelease {
        kiln_config::HelmRelease {
            name: name.to_owned(),
            depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
            ..kiln_config::HelmRelease::default()
        }
    }

    #[test]
    fn releases_install_level_by_level_of_depends_on() {
        let helm = Helm {
            releases: vec![
                release("web", &["api", "db"]),
                release("api", &["db"]),
                release("db", &[]),
                release("cache", &[]),
            ],
            ..Helm::default()
        };
        let names: Vec<Vec<&str>> = dependency_levels(&helm)
            .unwrap()
            .iter()
            .map(|level| level.iter().map(|r| r.name.as_str()).collect())
            .collect();
        assert_eq!(names, [vec!["db", "cache"], vec!["api"], vec!["web"]]);
        let cycle = Helm {
            releases: vec![release("a", &["b"]), release("b", &["a"])],
            ..Helm::default()
        };
        assert!(
            dependency_levels(&cycle)
                .unwrap_err()
                .to_string()
                .contains("cycle")
        );
        let unknown = Helm {
            releases: vec![release("a", &["nope"])],
            ..Helm::default()
        };
        assert!(
            dependency_levels(&unknown)
                .unwrap_err()
                .to_string()
                .contains("`nope`")
        );
    }
}
