//! Parsed flags to the pipeline's requests: a one-to-one copy, so every default, rule and
//! check lives in kiln-pipeline (`kiln_pipeline::session`), not here.

use kiln_core::naming::KoNaming;
use kiln_pipeline::artifact::SbomAttach;
use kiln_pipeline::deploy::status::StatusCheckFlags;
use kiln_pipeline::remote_cache::RemoteCacheMode;
use kiln_pipeline::session::deploy::{Cluster, DeployOptions, RenderRequest};
use kiln_pipeline::session::ko::KoRequest;
use kiln_pipeline::session::skaffold::{BuildRequest, ConfigSource};

use crate::cli::{
    BuildArgs, ClusterFlags, ConfigArgs, DebugArgs, DeployFlags, DevArgs, KoBuildOptions,
    KoPublishArgs, LabelFlags, RenderArgs, SbomAttachChoice, SbomFormat, StatusCheckArgs,
};

impl ConfigArgs {
    pub fn source(&self) -> ConfigSource {
        ConfigSource {
            filename: self.filename.clone(),
            profiles: self.profiles.clone(),
            kube_context: self.kube_context.clone(),
            default_repo: self.default_repo.clone(),
            modules: self.modules.clone(),
            profile_auto_activation: self.profile_auto_activation,
            global_config: self.global_config.clone(),
        }
    }
}

impl BuildArgs {
    pub fn request(&self) -> BuildRequest {
        BuildRequest {
            config: self.config.source(),
            push: self.push,
            oci_layout_path: self.oci_layout_path.clone(),
            tarball: self.tarball.clone(),
            file_output: self.file_output.clone(),
            output: self.output.clone(),
            tag: self.tag.clone(),
            platforms: self.platforms.clone(),
            build_images: self.build_images.clone(),
            insecure_registries: self.insecure_registries.clone(),
            sbom_dir: self.sbom_dir.clone(),
            cache_artifacts: self.cache_artifacts,
            remote_cache: self.remote_cache,
            compression: self.compression,
            dry_run: self.skaffold.dry_run,
            build_concurrency: self.skaffold.build_concurrency,
            cache_file: self.skaffold.cache_file.clone(),
            disable_multi_platform_build: self.skaffold.disable_multi_platform_build,
        }
    }
}

impl RenderArgs {
    /// The build that --digest-source=local runs (and the planning the other sources need).
    pub fn request(&self) -> BuildRequest {
        BuildRequest {
            config: self.config.source(),
            push: self.push,
            oci_layout_path: self.oci_layout_path.clone(),
            tag: self.tag.clone(),
            platforms: self.platforms.clone(),
            insecure_registries: self.insecure_registries.clone(),
            cache_artifacts: self.cache_artifacts,
            remote_cache: RemoteCacheMode::ReadWrite,
            ..BuildRequest::default()
        }
    }

    /// What the render adds besides the images: `-n`, `--offline` and `-l`.
    pub fn render_request(&self) -> RenderRequest {
        RenderRequest {
            namespace: self.namespace.clone(),
            offline: self.offline,
            labels: self.labels.labels.clone(),
        }
    }
}

impl ClusterFlags {
    pub fn cluster(&self) -> Cluster {
        Cluster {
            namespace: self.namespace.clone(),
            kubeconfig: self.kubeconfig.clone(),
        }
    }
}

impl DeployFlags {
    /// The deploy options, with this executable as helm's post-renderer (`kiln filter`).
    pub fn options(&self) -> anyhow::Result<DeployOptions> {
        Ok(DeployOptions {
            force: self.force,
            ..deploy_options(&self.cluster, &self.labels, &self.status_check)?
        })
    }
}

impl DevArgs {
    /// How each round deploys: as `kiln run` does, without `--force` (not a flag of
    /// Skaffold's `dev`).
    pub fn deploy_options(&self) -> anyhow::Result<DeployOptions> {
        deploy_options(&self.cluster, &self.labels, &self.status_check)
    }
}

impl DebugArgs {
    /// How the debug manifests are applied.
    pub fn deploy_options(&self) -> anyhow::Result<DeployOptions> {
        deploy_options(&self.cluster, &self.labels, &self.status_check)
    }
}

/// Deploy options from the cluster, label and status check flags, with this executable as
/// helm's post-renderer (`kiln filter`).
fn deploy_options(
    cluster: &ClusterFlags,
    labels: &LabelFlags,
    status_check: &StatusCheckArgs,
) -> anyhow::Result<DeployOptions> {
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("locating kiln for helm's post-renderer: {e}"))?;
    Ok(DeployOptions {
        cluster: cluster.cluster(),
        force: false,
        post_renderer: Some(exe),
        labels: labels.labels.clone(),
        status_check: StatusCheckFlags {
            enabled: status_check.status_check,
            tolerate_failures: status_check.tolerate_failures,
        },
    })
}

/// `kiln ko build`/`resolve`'s flags as one request.
pub fn ko_request(publish: &KoPublishArgs, build: &KoBuildOptions) -> KoRequest {
    KoRequest {
        tags: publish.tags.clone(),
        tag_only: publish.tag_only,
        push: publish.push,
        local: publish.local,
        insecure_registry: publish.insecure_registry,
        oci_layout_path: publish.oci_layout_path.clone(),
        tarball: publish.tarball.clone(),
        image_refs: publish.image_refs.clone(),
        naming: KoNaming::from_flags(
            publish.preserve_import_paths,
            publish.base_import_paths,
            publish.bare,
        ),
        cache_artifacts: publish.cache_artifacts,
        remote_cache: publish.remote_cache,
        jobs: build.jobs,
        disable_optimizations: build.disable_optimizations,
        ldflags: build.ldflags.clone(),
        platforms: build.platform.clone(),
        labels: build.image_label.clone(),
        annotations: build.image_annotation.clone(),
        user: build.image_user.clone(),
        sbom: build.sbom != SbomFormat::None,
        sbom_dir: build.sbom_dir.clone(),
        sbom_attach: match build.sbom_attach {
            SbomAttachChoice::None => None,
            SbomAttachChoice::Auto => Some(SbomAttach::Auto),
            SbomAttachChoice::Tag => Some(SbomAttach::Tag),
            SbomAttachChoice::Referrer => Some(SbomAttach::Referrer),
        },
        compression: build.compression,
    }
}
