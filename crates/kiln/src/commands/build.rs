//! `kiln build`: Skaffold's build command for ko artifacts.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use kiln_config::ProfileSelection;
use kiln_core::naming::tag_with_digest;
use kiln_gobuild::Toolchain;
use kiln_pipeline::output::{BuildOutput, file_output_json, write_tarball, write_to_layout};
use kiln_pipeline::planner::{PlanOptions, plan_artifacts};
use kiln_pipeline::{ArtifactPlan, Context, Event, build_artifact};
use tokio::task::JoinSet;

use super::{cache_dir, process_env};
use crate::cli::BuildArgs;
use crate::printer;

pub async fn run(args: BuildArgs) -> anyhow::Result<()> {
    let env = process_env();
    let skaffold_yaml = &args.config.filename;
    let config_dir = skaffold_yaml
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let selection = ProfileSelection {
        profiles: args.config.profiles.clone(),
        kube_context: args.config.kube_context.clone(),
        command: Some("build".to_owned()),
        ..ProfileSelection::default()
    };
    let configs =
        kiln_config::load_skaffold(skaffold_yaml, &selection, &|k| env.get(k).cloned())?.configs;

    let writes_files = args.oci_layout_path.is_some() || args.tarball.is_some();
    let configured_push = configs.iter().find_map(|c| c.build.local.push);
    let push = args
        .push
        .or(if writes_files { Some(false) } else { None })
        .or(configured_push)
        .unwrap_or(true);
    if push {
        bail!(
            "pushing to a registry is not available in this build of kiln yet; pass --push=false with --oci-layout-path DIR or --tarball FILE"
        );
    }
    if !writes_files {
        bail!(
            "with --push=false kiln needs somewhere to write the images (it needs no Docker daemon): pass --oci-layout-path DIR or --tarball FILE"
        );
    }

    let go_path = env.get("KO_GO_PATH").map(Into::into);
    let toolchain = Toolchain::discover(go_path).await?;
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let options = PlanOptions {
        default_repo: args.config.default_repo.clone().filter(|r| !r.is_empty()),
        multi_level_repo: false,
        platforms: args.platforms.clone(),
        tag: args.tag.clone(),
        env: env.clone(),
        debug: false,
        now_unix,
        push,
        only: args.build_images.clone(),
    };
    let plans = plan_artifacts(&toolchain, &configs, &config_dir, &options).await?;

    let jobs = std::thread::available_parallelism().map_or(2, usize::from);
    let ctx = Arc::new(Context::new(
        toolchain,
        &cache_dir(&env),
        jobs,
        printer::event_sink(args.quiet),
    )?);
    let outputs = build_all(&ctx, &plans, &args).await?;

    let json = file_output_json(&outputs);
    if let Some(path) = &args.file_output {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.quiet {
        printer::stdout_line(&json);
    } else {
        for out in &outputs {
            printer::stdout_line(&out.tag);
        }
    }
    Ok(())
}

/// Builds every artifact concurrently (go builds are bounded by the context), then writes
/// the outputs in artifact order.
async fn build_all(
    ctx: &Arc<Context>,
    plans: &[ArtifactPlan],
    args: &BuildArgs,
) -> anyhow::Result<Vec<BuildOutput>> {
    let mut tasks = JoinSet::new();
    for (position, plan) in plans.iter().cloned().enumerate() {
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let built = build_artifact(&ctx, &plan)
                .await
                .with_context(|| format!("building {}", plan.image))?;
            anyhow::Ok((position, built))
        });
    }
    let mut built = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        built.push(joined??);
    }
    built.sort_by_key(|(position, _)| *position);
    if args.tarball.is_some() && built.len() > 1 {
        bail!(
            "--tarball holds one image, but {} artifacts were built; select one with -b/--build-image",
            built.len()
        );
    }
    let mut outputs = Vec::new();
    for (_, artifact) in built {
        if let Some(dir) = &args.oci_layout_path {
            write_to_layout(ctx, dir, &artifact)
                .with_context(|| format!("writing {} to {}", artifact.plan.image, dir.display()))?;
        }
        if let Some(file) = &args.tarball {
            write_tarball(ctx, file, &artifact)?;
        }
        let reference = format!(
            "{}:{}",
            artifact.plan.repository,
            tag_with_digest(&artifact.plan.tag, &artifact.top.digest)
        );
        ctx.events.as_ref()(Event::Published {
            image: artifact.plan.image.clone(),
            reference: reference.clone(),
        });
        outputs.push(BuildOutput {
            image_name: artifact.plan.image.clone(),
            tag: reference,
            runtime_type: None,
        });
    }
    Ok(outputs)
}
