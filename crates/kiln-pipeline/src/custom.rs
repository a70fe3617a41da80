//! `custom` artifacts: the user's `buildCommand` builds and pushes the image under Skaffold's
//! contract (pkg/skaffold/build/custom); kiln then reads the pushed image's digest from the
//! registry, as Skaffold does when it pushes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use kiln_config::ArtifactDependency;
use kiln_core::Reference;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::events::Event;
use crate::output::BuildOutput;
use crate::{Context, Error};

/// One custom artifact, resolved: what to run, where, and the reference it must push.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomPlan {
    /// The image name as written in skaffold.yaml.
    pub image: String,
    pub runtime_type: Option<String>,
    /// `registry/path` after the default repo, as for ko artifacts.
    pub repository: String,
    pub tag: String,
    /// The artifact's context, absolute: the command's working directory and `$BUILD_CONTEXT`.
    pub workspace: PathBuf,
    pub build_command: String,
    /// Required artifacts; each alias becomes an environment variable holding its reference.
    pub requires: Vec<ArtifactDependency>,
    /// `$PLATFORMS`: the platforms asked for, comma-separated (empty when none were).
    pub platforms: Vec<String>,
}

impl CustomPlan {
    /// `$IMAGE`: the reference the command must build (and push) to.
    pub fn target(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// The environment Skaffold gives the command (on top of the process's own):
    /// `IMAGE`, `PUSH_IMAGE`, `BUILD_CONTEXT`, `PLATFORMS`, `SKIP_TEST`, `IMAGE_REPO`,
    /// `IMAGE_TAG`, then one `ALIAS=reference` per required artifact. `built` maps image
    /// names to the references built in this run.
    pub fn env(&self, built: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, Error> {
        let mut env = vec![
            ("IMAGE".to_owned(), self.target()),
            // kiln builds custom artifacts only when pushing (see `build_custom`).
            ("PUSH_IMAGE".to_owned(), "true".to_owned()),
            (
                "BUILD_CONTEXT".to_owned(),
                self.workspace.display().to_string(),
            ),
            ("PLATFORMS".to_owned(), self.platforms.join(",")),
            // kiln runs no `test` section, and Skaffold passes false unless --skip-tests.
            ("SKIP_TEST".to_owned(), "false".to_owned()),
            ("IMAGE_REPO".to_owned(), self.repository.clone()),
            ("IMAGE_TAG".to_owned(), self.tag.clone()),
        ];
        for dep in &self.requires {
            let reference = built
                .get(&dep.image)
                .ok_or_else(|| Error::RequiredNotBuilt {
                    image: self.image.clone(),
                    required: dep.image.clone(),
                })?;
            env.push((dep.alias.clone(), reference.clone()));
        }
        Ok(env)
    }
}

/// Runs every custom artifact's command, each after those it requires, once the ko images
/// in `built` are published; returns their outputs in the order they ran.
pub async fn build_all(
    ctx: &Context,
    plans: &[CustomPlan],
    built: &[BuildOutput],
) -> Result<Vec<BuildOutput>, Error> {
    let mut references: BTreeMap<String, String> = built
        .iter()
        .map(|o| (o.image_name.clone(), o.tag.clone()))
        .collect();
    let mut outputs = Vec::new();
    let mut pending: Vec<&CustomPlan> = plans.iter().collect();
    while !pending.is_empty() {
        // kiln-config rejects cycles, so some plan is always ready.
        let Some(i) = pending.iter().position(|p| {
            p.requires
                .iter()
                .all(|r| !pending.iter().any(|q| q.image == r.image))
        }) else {
            return Err(Error::planning(
                "custom artifacts",
                "they require each other in a cycle",
            ));
        };
        let plan = pending.remove(i);
        let reference =
            build_custom(ctx, plan, &references)
                .await
                .map_err(|e| Error::Artifact {
                    image: plan.image.clone(),
                    source: Box::new(e),
                })?;
        ctx.events.as_ref()(Event::Delivered {
            image: plan.image.clone(),
            report: format!("pushed {reference} (by its buildCommand)"),
        });
        references.insert(plan.image.clone(), reference.clone());
        outputs.push(BuildOutput {
            image_name: plan.image.clone(),
            tag: reference,
            runtime_type: plan.runtime_type.clone(),
        });
    }
    Ok(outputs)
}

/// Runs the artifact's `buildCommand` with `sh -c` in its context, reporting each line it
/// prints, then reads the digest the command pushed. Returns `repository:tag@digest`.
pub async fn build_custom(
    ctx: &Context,
    plan: &CustomPlan,
    built: &BTreeMap<String, String>,
) -> Result<String, Error> {
    let env = plan.env(built)?;
    let mut command = tokio::process::Command::new("sh");
    ctx.env().apply(command.as_std_mut());
    let mut child = command
        .arg("-c")
        .arg(&plan.build_command)
        .current_dir(&plan.workspace)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Error::Spawn {
            command: format!(
                "{}'s buildCommand `sh -c {}` in {}",
                plan.image,
                plan.build_command,
                plan.workspace.display()
            ),
            source,
        })?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (_, _, status) = tokio::join!(
        forward_lines(ctx, &plan.image, stdout),
        forward_lines(ctx, &plan.image, stderr),
        child.wait()
    );
    let status = status.map_err(|source| Error::Spawn {
        command: format!("{}'s buildCommand", plan.image),
        source,
    })?;
    if !status.success() {
        return Err(Error::CustomFailed {
            image: plan.image.clone(),
            command: plan.build_command.clone(),
            status,
        });
    }
    let target = plan.target();
    let reference: Reference = target.parse().map_err(|source| Error::InvalidReference {
        image: plan.image.clone(),
        role: "the custom buildCommand's $IMAGE",
        source,
    })?;
    let client = ctx.registry("reading the digest a custom buildCommand pushed")?;
    let head =
        client
            .head_manifest(&reference)
            .await?
            .ok_or_else(|| Error::CustomPushedNothing {
                image: plan.image.clone(),
                target: target.clone(),
            })?;
    Ok(format!("{target}@{}", head.digest))
}

/// Reports every line `pipe` yields as the command's output.
async fn forward_lines(ctx: &Context, image: &str, pipe: Option<impl AsyncRead + Unpin>) {
    let Some(pipe) = pipe else { return };
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        ctx.events.as_ref()(Event::CommandOutput {
            image: image.to_owned(),
            line,
        });
    }
}
