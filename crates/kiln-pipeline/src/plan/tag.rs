//! Skaffold's tag policies (`gitCommit`, `sha256`, `envTemplate`, `dateTime`,
//! `inputDigest`, `customTemplate`) for one artifact, with `-t/--tag` over all of them.
//! Evaluating a policy may run git, read the artifact's input files or run a custom
//! artifact's `dependencies.command`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::templates::{CMD_TIMEOUT, template_inputs};
use kiln_config::{Artifact, Config, TagPolicy};
use kiln_core::tag::{
    datetime_tag_with, env_template_tag, git_commit_tag, input_digest_file_hash, input_digest_tag,
    sanitize_tag,
};
use kiln_core::template::render_skaffold;

use super::PlanOptions;
use crate::Error;

/// `-t/--tag`, else the config's tag policy for `artifact` (whose context is `workspace`).
pub(super) async fn artifact_tag(
    config: &Config,
    artifact: &Artifact,
    workspace: &Path,
    graph: &Graph<'_>,
    options: &PlanOptions,
) -> Result<String, Error> {
    match &options.tag {
        Some(t) => Ok(t.clone()),
        None => {
            compute_tag(
                &config.build.tag_policy,
                artifact,
                workspace,
                graph,
                options,
            )
            .await
        }
    }
}

/// Every artifact of the run's configs, for following `requires`.
pub(super) struct Graph<'a> {
    pub artifacts: Vec<&'a Artifact>,
    /// Artifact contexts are relative to it.
    pub config_dir: &'a Path,
    /// What a `dependencies.command` starts from.
    pub env: &'a kiln_core::env::Env,
}

impl Graph<'_> {
    /// Skaffold's `TransitiveArtifactDependencies`: the artifact's own input files, then
    /// those of each artifact it requires, recursively (kiln-config rejects cycles), as
    /// absolute paths, unsorted and with repeats, as Skaffold hashes them.
    fn transitive_inputs(
        &self,
        artifact: &Artifact,
        workspace: &Path,
    ) -> Result<Vec<PathBuf>, Error> {
        let mut files: Vec<PathBuf> = input_files(artifact, workspace, self.env)?
            .iter()
            .map(|f| workspace.join(f))
            .collect();
        for dep in &artifact.requires {
            let Some(required) = self.artifacts.iter().find(|a| a.image == dep.image) else {
                return Err(Error::planning(
                    &artifact.image,
                    format!("requires `{}`, which no config defines", dep.image),
                ));
            };
            let context = self.config_dir.join(&required.context);
            let dep_workspace = std::fs::canonicalize(&context).map_err(|e| {
                Error::planning(
                    &artifact.image,
                    format!(
                        "the context {} of the required `{}` cannot be used: {e}",
                        context.display(),
                        dep.image
                    ),
                )
            })?;
            files.extend(self.transitive_inputs(required, &dep_workspace)?);
        }
        Ok(files)
    }
}

/// `path` relative to `base`, as Go's `filepath.Rel` gives it for two clean absolute paths
/// (`../x` when `path` is outside `base`), with `/` separators.
fn relative_to(path: &Path, base: &Path) -> String {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let ups = std::iter::repeat_n("..".to_owned(), base.len() - common);
    let rest = path[common..]
        .iter()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    ups.chain(rest).collect::<Vec<_>>().join("/")
}

/// The files an `inputDigest` tag hashes: the artifact's `dependencies` (for a custom
/// artifact, the list its `dependencies.command` prints, as Skaffold runs it).
fn input_files(
    artifact: &Artifact,
    workspace: &Path,
    env: &kiln_core::env::Env,
) -> Result<Vec<String>, Error> {
    let image = &artifact.image;
    let Some(custom) = &artifact.custom else {
        return crate::deps::dependency_files(workspace, &artifact.ko.dependencies);
    };
    if custom.dependencies_dockerfile {
        return Err(Error::planning(
            image,
            "an inputDigest tag of a custom artifact whose `dependencies.dockerfile` is set needs Dockerfile parsing, which kiln does not do; list `dependencies.paths` instead",
        ));
    }
    let Some(command) = &custom.dependencies_command else {
        return crate::deps::dependency_files(workspace, &custom.dependencies);
    };
    dependency_command_files(command, workspace, env, CMD_TIMEOUT)
        .map_err(|why| Error::planning(image, format!("dependencies.command `{command}` {why}")))
}

/// The paths a `dependencies.command` prints as a JSON array, sorted and unique. Skaffold
/// splits the command on spaces and runs it without a shell; kiln also stops it after
/// `timeout`, as it stops a template's `cmd`, so planning never hangs on it. The error
/// says what went wrong after the command's name.
fn dependency_command_files(
    command: &str,
    workspace: &Path,
    env: &kiln_core::env::Env,
    timeout: std::time::Duration,
) -> Result<Vec<String>, String> {
    let mut words = command.split(' ');
    let program = words.next().unwrap_or_default();
    let mut process = std::process::Command::new(program);
    env.apply(&mut process)
        .args(words)
        .current_dir(workspace)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let (status, stdout, stderr) = crate::templates::run_with_deadline(&mut process, timeout)
        .map_err(|e| format!("could not start: {e}"))?
        .ok_or_else(|| {
            format!(
                "did not finish within {} s and was killed",
                timeout.as_secs_f64()
            )
        })?;
    if !status.success() {
        return Err(format!(
            "failed ({status}): {}",
            String::from_utf8_lossy(&stderr).trim()
        ));
    }
    let mut files: Vec<String> = serde_json::from_slice(&stdout)
        .map_err(|e| format!("must print a JSON array of paths: {e}"))?;
    files.sort();
    files.dedup();
    Ok(files)
}

async fn compute_tag(
    policy: &TagPolicy,
    artifact: &Artifact,
    workspace: &Path,
    graph: &Graph<'_>,
    options: &PlanOptions,
) -> Result<String, Error> {
    let image = artifact.image.as_str();
    let tag_error = |e: kiln_core::tag::TagError| Error::planning(image, format!("tagPolicy: {e}"));
    let tag = match policy {
        TagPolicy::GitCommit(git) => {
            let variant = git.variant;
            match kiln_gobuild::git::tag_outputs(workspace, variant, &options.env).await {
                Some(outputs) => git_commit_tag(variant, &git.prefix, git.ignore_changes, &outputs)
                    .map_err(tag_error)?,
                None => {
                    return Err(Error::planning(
                        image,
                        match kiln_gobuild::git::repository_problem(workspace, &options.env).await {
                            Some(problem) => {
                                format!("the gitCommit tag policy: {problem}")
                            }
                            None => format!(
                                "the gitCommit tag policy needs a git repository at {}; run `git init`, choose another tagPolicy, or pass --tag",
                                workspace.display()
                            ),
                        },
                    ));
                }
            }
        }
        TagPolicy::Sha256 => "latest".to_owned(),
        TagPolicy::EnvTemplate { template } => env_template_tag(
            template,
            options.env.vars(),
            image,
            &template_inputs(&options.env, options.now_unix),
        )
        .map_err(tag_error)?,
        TagPolicy::DateTime { format, timezone } => {
            let zone = |name: &str| crate::zoneinfo::zone_at(name, &options.env, options.now_unix);
            datetime_tag_with(
                format.as_deref(),
                timezone.as_deref(),
                options.now_unix,
                options.now_nanos,
                &zone,
            )
            .map_err(tag_error)?
        }
        TagPolicy::InputDigest => {
            // Skaffold hashes the artifact's inputs and those of every artifact it requires,
            // transitively, sorted by absolute path, each named relative to this workspace.
            let workspace =
                std::fs::canonicalize(workspace).unwrap_or_else(|_| workspace.to_owned());
            let mut files = graph.transitive_inputs(artifact, &workspace)?;
            files.sort();
            let hashes = files
                .iter()
                .map(|f| {
                    let contents = std::fs::read(f).map_err(|e| {
                        Error::planning(image, format!("reading {}: {e}", f.display()))
                    })?;
                    Ok(input_digest_file_hash(
                        &relative_to(f, &workspace),
                        &contents,
                    ))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            input_digest_tag(&hashes)
        }
        TagPolicy::CustomTemplate {
            template,
            components,
        } => {
            // Skaffold's built-in components, overridable by name; only the components the
            // template mentions are computed (each may run git or hash files).
            let builtins = [
                ("GIT", TagPolicy::GitCommit(Default::default())),
                (
                    "DATE",
                    TagPolicy::DateTime {
                        format: None,
                        timezone: None,
                    },
                ),
                ("SHA", TagPolicy::Sha256),
                ("INPUT_DIGEST", TagPolicy::InputDigest),
            ];
            let named = builtins
                .iter()
                .filter(|(name, _)| !components.iter().any(|c| c.name == *name))
                .map(|(name, policy)| (name.to_string(), policy))
                .chain(components.iter().map(|c| (c.name.clone(), &c.policy)));
            let mut values = BTreeMap::new();
            for (name, policy) in named {
                if template.contains(&name) {
                    let value =
                        Box::pin(compute_tag(policy, artifact, workspace, graph, options)).await?;
                    values.insert(name, value);
                }
            }
            render_skaffold(
                template,
                &values,
                None,
                &template_inputs(&options.env, options.now_unix),
            )
            .map_err(|e| Error::planning(image, format!("tagPolicy.customTemplate: {e}")))?
        }
    };
    Ok(sanitize_tag(&tag))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::dependency_command_files;

    fn run(command: &str, timeout: Duration) -> Result<Vec<String>, String> {
        let env = kiln_core::env::Env::from_vars(std::env::vars_os());
        dependency_command_files(command, std::path::Path::new("."), &env, timeout)
    }

    #[test]
    fn a_dependencies_command_gives_its_json_paths_sorted_and_once() {
        let files = run(r#"echo ["b.go","a.go","b.go"]"#, Duration::from_secs(10)).unwrap();
        assert_eq!(files, ["a.go", "b.go"]);
    }

    #[test]
    fn a_dependencies_command_that_fails_or_prints_no_array_says_so() {
        let err = run("false", Duration::from_secs(10)).unwrap_err();
        assert!(err.starts_with("failed (exit status: 1)"), "{err}");
        let err = run("echo not-json", Duration::from_secs(10)).unwrap_err();
        assert!(err.starts_with("must print a JSON array of paths"), "{err}");
    }

    #[test]
    fn a_dependencies_command_that_hangs_is_killed_at_its_deadline() {
        let started = std::time::Instant::now();
        let err = run("sleep 30", Duration::from_millis(300)).unwrap_err();
        assert!(err.contains("did not finish within 0.3 s"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
