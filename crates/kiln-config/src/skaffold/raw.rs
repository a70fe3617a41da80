//! The skaffold.yaml schema as written, for strict typing.
//!
//! These structs are the union of every supported apiVersion (v2beta26 … v4beta14); fields
//! that exist only in some versions are policed by `version::check_gates`. Sections kiln does
//! not use are `IgnoredAny`: known (so they are not "unknown field" typos) but unchecked.

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::IgnoredAny;

type Ignored = Option<IgnoredAny>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawConfig {
    pub(crate) api_version: String,
    #[serde(default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) metadata: Option<RawMetadata>,
    #[serde(default)]
    pub(crate) requires: Option<Vec<RawConfigDependency>>,
    #[serde(default)]
    pub(crate) build: Option<RawBuild>,
    #[serde(default)]
    pub(crate) test: Ignored,
    #[serde(default)]
    pub(crate) manifests: Option<RawManifests>,
    #[serde(default)]
    pub(crate) deploy: Option<RawDeploy>,
    #[serde(default)]
    pub(crate) port_forward: Ignored,
    #[serde(default)]
    pub(crate) resource_selector: Ignored,
    #[serde(default)]
    pub(crate) verify: Ignored,
    #[serde(default)]
    pub(crate) custom_actions: Ignored,
    #[serde(default)]
    pub(crate) profiles: Option<Vec<RawProfile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawMetadata {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) labels: Option<IndexMap<String, String>>,
    #[serde(default)]
    pub(crate) annotations: Option<IndexMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawConfigDependency {
    #[serde(default)]
    pub(crate) configs: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) path: Option<String>,
    #[serde(default)]
    pub(crate) git: Option<RawGitInfo>,
    #[serde(default)]
    pub(crate) google_cloud_storage: Ignored,
    #[serde(default)]
    pub(crate) google_cloud_build_repo_v2: Ignored,
    #[serde(default)]
    pub(crate) active_profiles: Option<Vec<RawProfileDependency>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawGitInfo {
    pub(crate) repo: String,
    #[serde(default)]
    pub(crate) path: Option<String>,
    #[serde(default)]
    pub(crate) r#ref: Option<String>,
    #[serde(default)]
    pub(crate) sync: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawProfileDependency {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) activated_by: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawBuild {
    #[serde(default)]
    pub(crate) artifacts: Option<Vec<RawArtifact>>,
    #[serde(default)]
    pub(crate) insecure_registries: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) tag_policy: Option<RawTagPolicy>,
    #[serde(default)]
    pub(crate) platforms: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) hooks: Ignored,
    #[serde(default)]
    pub(crate) local: Option<RawLocal>,
    #[serde(default)]
    pub(crate) google_cloud_build: Ignored,
    #[serde(default)]
    pub(crate) cluster: Ignored,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawArtifact {
    pub(crate) image: String,
    #[serde(default)]
    pub(crate) context: Option<String>,
    #[serde(default)]
    pub(crate) sync: Option<RawSync>,
    #[serde(default)]
    pub(crate) requires: Option<Vec<RawArtifactDependency>>,
    #[serde(default)]
    pub(crate) hooks: Ignored,
    #[serde(default)]
    pub(crate) platforms: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) runtime_type: Option<String>,
    #[serde(default)]
    pub(crate) ko: Option<RawKo>,
    #[serde(default)]
    pub(crate) docker: Ignored,
    #[serde(default)]
    pub(crate) bazel: Ignored,
    #[serde(default)]
    pub(crate) jib: Ignored,
    #[serde(default)]
    pub(crate) kaniko: Ignored,
    #[serde(default)]
    pub(crate) buildpacks: Ignored,
    #[serde(default)]
    pub(crate) custom: Option<RawCustom>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawCustom {
    #[serde(default)]
    pub(crate) build_command: Option<String>,
    #[serde(default)]
    pub(crate) dependencies: Option<RawCustomDependencies>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawCustomDependencies {
    #[serde(default)]
    pub(crate) dockerfile: Ignored,
    #[serde(default)]
    pub(crate) command: Option<String>,
    #[serde(default)]
    pub(crate) paths: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) ignore: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawArtifactDependency {
    pub(crate) image: String,
    #[serde(default)]
    pub(crate) alias: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawSync {
    #[serde(default)]
    pub(crate) manual: Option<Vec<RawSyncRule>>,
    #[serde(default)]
    pub(crate) infer: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) auto: Option<bool>,
    #[serde(default)]
    pub(crate) hooks: Ignored,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawSyncRule {
    #[serde(default)]
    pub(crate) src: Option<String>,
    #[serde(default)]
    pub(crate) dest: Option<String>,
    #[serde(default)]
    pub(crate) strip: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawKo {
    #[serde(default)]
    pub(crate) from_image: Option<String>,
    #[serde(default)]
    pub(crate) dependencies: Option<RawKoDependencies>,
    #[serde(default)]
    pub(crate) dir: Option<String>,
    #[serde(default)]
    pub(crate) env: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) flags: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) labels: Option<IndexMap<String, String>>,
    #[serde(default)]
    pub(crate) ldflags: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) main: Option<String>,
    /// v2beta26/27 only; later versions moved it to the artifact.
    #[serde(default)]
    pub(crate) platforms: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawKoDependencies {
    #[serde(default)]
    pub(crate) paths: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) ignore: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawTagPolicy {
    #[serde(default)]
    pub(crate) git_commit: Option<RawGitTagger>,
    #[serde(default)]
    pub(crate) sha256: Option<RawEmpty>,
    #[serde(default)]
    pub(crate) env_template: Option<RawEnvTemplate>,
    #[serde(default)]
    pub(crate) date_time: Option<RawDateTime>,
    #[serde(default)]
    pub(crate) custom_template: Option<RawCustomTemplate>,
    #[serde(default)]
    pub(crate) input_digest: Option<RawEmpty>,
}

/// `sha256: {}` and `inputDigest: {}` take no fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmpty {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawGitTagger {
    #[serde(default)]
    pub(crate) variant: Option<String>,
    #[serde(default)]
    pub(crate) prefix: Option<String>,
    #[serde(default)]
    pub(crate) ignore_changes: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawEnvTemplate {
    #[serde(default)]
    pub(crate) template: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawDateTime {
    #[serde(default)]
    pub(crate) format: Option<String>,
    #[serde(default)]
    pub(crate) timezone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawCustomTemplate {
    #[serde(default)]
    pub(crate) template: Option<String>,
    #[serde(default)]
    pub(crate) components: Option<Vec<RawTaggerComponent>>,
}

/// A named tagger: `name` plus the tag-policy fields inline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawTaggerComponent {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) git_commit: Option<RawGitTagger>,
    #[serde(default)]
    pub(crate) sha256: Option<RawEmpty>,
    #[serde(default)]
    pub(crate) env_template: Option<RawEnvTemplate>,
    #[serde(default)]
    pub(crate) date_time: Option<RawDateTime>,
    #[serde(default)]
    pub(crate) custom_template: Option<RawCustomTemplate>,
    #[serde(default)]
    pub(crate) input_digest: Option<RawEmpty>,
}

impl RawTaggerComponent {
    pub(crate) fn into_policy(self) -> (Option<String>, RawTagPolicy) {
        (
            self.name,
            RawTagPolicy {
                git_commit: self.git_commit,
                sha256: self.sha256,
                env_template: self.env_template,
                date_time: self.date_time,
                custom_template: self.custom_template,
                input_digest: self.input_digest,
            },
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawLocal {
    #[serde(default)]
    pub(crate) push: Option<bool>,
    #[serde(default)]
    pub(crate) try_import_missing: Option<bool>,
    #[serde(default, rename = "useDockerCLI")]
    pub(crate) use_docker_cli: Option<bool>,
    #[serde(default)]
    pub(crate) use_buildkit: Option<bool>,
    #[serde(default)]
    pub(crate) concurrency: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawManifests {
    #[serde(default)]
    pub(crate) raw_yaml: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) remote_manifests: Ignored,
    #[serde(default)]
    pub(crate) kustomize: Option<RawKustomize>,
    #[serde(default)]
    pub(crate) helm: Option<RawHelm>,
    #[serde(default)]
    pub(crate) kpt: Ignored,
    #[serde(default)]
    pub(crate) hooks: Ignored,
    #[serde(default)]
    pub(crate) transform: Ignored,
    #[serde(default)]
    pub(crate) validate: Ignored,
    #[serde(default)]
    pub(crate) output: Ignored,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawDeploy {
    #[serde(default)]
    pub(crate) kubectl: Option<RawKubectl>,
    #[serde(default)]
    pub(crate) docker: Ignored,
    #[serde(default)]
    pub(crate) helm: Option<RawHelm>,
    #[serde(default)]
    pub(crate) kpt: Ignored,
    #[serde(default)]
    pub(crate) kustomize: Option<RawKustomizeDeploy>,
    #[serde(default)]
    pub(crate) cloudrun: Ignored,
    #[serde(default)]
    pub(crate) status_check: Option<bool>,
    #[serde(default)]
    pub(crate) status_check_deadline_seconds: Option<i64>,
    #[serde(default)]
    pub(crate) tolerate_failures_until_deadline: Option<bool>,
    #[serde(default)]
    pub(crate) kube_context: Option<String>,
    #[serde(default)]
    pub(crate) logs: Ignored,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawKubectl {
    /// skaffold/v2 only; v3 moved it to `manifests.rawYaml`.
    #[serde(default)]
    pub(crate) manifests: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) remote_manifests: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) flags: Option<RawKubectlFlags>,
    #[serde(default)]
    pub(crate) default_namespace: Option<String>,
    #[serde(default)]
    pub(crate) hooks: Ignored,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawKubectlFlags {
    #[serde(default)]
    pub(crate) global: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) apply: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) delete: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) disable_validation: Option<bool>,
}

/// `manifests.kustomize`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawKustomize {
    #[serde(default)]
    pub(crate) paths: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) build_args: Option<Vec<String>>,
}

/// skaffold/v2's `deploy.kustomize`: a renderer and a kubectl deployer in one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawKustomizeDeploy {
    #[serde(default)]
    pub(crate) paths: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) flags: Option<RawKubectlFlags>,
    #[serde(default)]
    pub(crate) build_args: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) default_namespace: Option<String>,
    #[serde(default)]
    pub(crate) hooks: Ignored,
}

/// `manifests.helm` and `deploy.helm` (the latter adds `concurrency` and `hooks`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawHelm {
    #[serde(default)]
    pub(crate) releases: Option<Vec<RawHelmRelease>>,
    #[serde(default)]
    pub(crate) flags: Option<RawHelmFlags>,
    #[serde(default)]
    pub(crate) concurrency: Option<i64>,
    #[serde(default)]
    pub(crate) hooks: Ignored,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawHelmFlags {
    #[serde(default)]
    pub(crate) global: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) install: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) upgrade: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) dep_build: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) template: Option<Vec<String>>,
}

/// `releases[]`. The maps Skaffold flattens (`setValues`, `setValueTemplates`,
/// `artifactOverrides`) and the free-form `overrides` are read from the tree itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawHelmRelease {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) chart_path: Option<String>,
    #[serde(default)]
    pub(crate) remote_chart: Option<String>,
    #[serde(default)]
    pub(crate) values_files: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) namespace: Option<String>,
    #[serde(default)]
    pub(crate) version: Option<String>,
    #[serde(default)]
    pub(crate) set_values: Ignored,
    #[serde(default)]
    pub(crate) set_value_templates: Ignored,
    #[serde(default)]
    pub(crate) set_files: Option<IndexMap<String, String>>,
    #[serde(default)]
    pub(crate) create_namespace: Option<bool>,
    #[serde(default)]
    pub(crate) wait: Option<bool>,
    #[serde(default)]
    pub(crate) recreate_pods: Option<bool>,
    #[serde(default)]
    pub(crate) skip_build_dependencies: Option<bool>,
    #[serde(default)]
    pub(crate) skip_tests: Option<bool>,
    #[serde(default)]
    pub(crate) use_helm_secrets: Option<bool>,
    #[serde(default)]
    pub(crate) repo: Option<String>,
    #[serde(default)]
    pub(crate) upgrade_on_change: Option<bool>,
    #[serde(default)]
    pub(crate) overrides: Ignored,
    #[serde(default)]
    pub(crate) packaged: Option<RawHelmPackaged>,
    #[serde(default)]
    pub(crate) depends_on: Option<Vec<String>>,
    /// skaffold/v2 only (Skaffold's upgrade turns them into `setValueTemplates`).
    #[serde(default)]
    pub(crate) artifact_overrides: Ignored,
    #[serde(default)]
    pub(crate) image_strategy: Option<RawHelmImageStrategy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawHelmPackaged {
    #[serde(default)]
    pub(crate) version: Option<String>,
    #[serde(default)]
    pub(crate) app_version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawHelmImageStrategy {
    #[serde(default)]
    pub(crate) fqn: Ignored,
    #[serde(default)]
    pub(crate) helm: Option<RawHelmConvention>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawHelmConvention {
    #[serde(default)]
    pub(crate) explicit_registry: Option<bool>,
}

/// A profile: activation and patches, plus the pipeline sections it overlays.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawProfile {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) activation: Option<Vec<RawActivation>>,
    #[serde(default)]
    pub(crate) requires_all_activations: Option<bool>,
    #[serde(default)]
    pub(crate) patches: Option<Vec<RawPatch>>,
    #[serde(default)]
    pub(crate) build: Option<RawBuild>,
    #[serde(default)]
    pub(crate) test: Ignored,
    #[serde(default)]
    pub(crate) manifests: Option<RawManifests>,
    #[serde(default)]
    pub(crate) deploy: Option<RawDeploy>,
    #[serde(default)]
    pub(crate) port_forward: Ignored,
    #[serde(default)]
    pub(crate) resource_selector: Ignored,
    #[serde(default)]
    pub(crate) verify: Ignored,
    #[serde(default)]
    pub(crate) custom_actions: Ignored,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawActivation {
    #[serde(default)]
    pub(crate) env: Option<String>,
    #[serde(default)]
    pub(crate) kube_context: Option<String>,
    #[serde(default)]
    pub(crate) command: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawPatch {
    #[serde(default)]
    pub(crate) op: Option<String>,
    #[serde(default)]
    pub(crate) path: Option<String>,
    #[serde(default)]
    pub(crate) from: Option<String>,
    /// Read from the tree itself when the patch is applied.
    #[serde(default)]
    pub(crate) value: Ignored,
}
