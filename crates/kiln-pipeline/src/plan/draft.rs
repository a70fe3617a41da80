//! The one step both faces end in: a [`PlanDraft`] (what the Skaffold or ko adapter chose
//! from its sources) becomes an [`ArtifactPlan`]. Template data is probed here, flags are
//! rendered for the first platform, and the rules both faces share (Go settings, base,
//! capabilities, epochs, compression) are applied once.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_config::{KoBuild, KoConfig};
use kiln_core::platform::PlatformRequest;
use kiln_gobuild::{Package, Toolchain};

use super::choose::{self, Templates};
use super::{ArtifactPlan, PlanOptions, probe};
use crate::Error;
use crate::templates::{GoTemplates, template_inputs};

/// An artifact's plan before its Go settings are rendered: names, tags and the sources
/// each face chose.
pub(crate) struct PlanDraft<'k> {
    pub image: String,
    pub runtime_type: Option<String>,
    pub requires: Vec<String>,
    pub repository: String,
    pub tag: String,
    pub extra_tags: Vec<String>,
    pub workspace: PathBuf,
    pub dependencies: kiln_config::Dependencies,
    /// The `.ko.yaml` that applies (defaults when there is none).
    pub ko: &'k KoConfig,
    /// Its `builds[]` entry for this package, if one applies.
    pub ko_build: Option<&'k KoBuild>,
    /// The artifact's own base (`ko.fromImage`) and the field it came from.
    pub from_image: Option<(String, String)>,
    /// Where a relative `oci:` base path is resolved from.
    pub base_dir: PathBuf,
    pub go_dir: PathBuf,
    pub package: Package,
    pub platforms: PlatformRequest,
    pub build_env: Vec<(String, String)>,
    pub flags: Templates,
    pub ldflags: Templates,
    /// The environment of Skaffold's template pass over the artifact's own values.
    pub skaffold_env: BTreeMap<String, String>,
    /// How messages about this artifact's templates start (`image: `).
    pub origin: String,
    /// Names the flags in a refused `-toolexec`.
    pub flags_origin: String,
    /// ko seeds `LDFLAGS` so that `{{.Env.LDFLAGS}}` is never a missing key.
    pub seed_ldflags: bool,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub user: Option<String>,
    pub trimpath: bool,
    pub disable_optimizations: bool,
    pub sbom: bool,
}

impl PlanDraft<'_> {
    /// The finished plan: template data probed (git, `go env`) only when a template
    /// mentions it, flags rendered for the first platform (again per platform when they
    /// read `.Env`/`.GoEnv`), and the shared rules applied.
    pub(crate) async fn finish(
        self,
        toolchain: &Toolchain,
        options: &PlanOptions,
    ) -> Result<ArtifactPlan, Error> {
        let linux_capabilities = choose::capabilities(self.ko, self.ko_build)?;
        let mut final_env = choose::final_env(&options.env, &self.build_env);
        if self.seed_ldflags {
            final_env.entry("LDFLAGS".to_owned()).or_default();
        }
        let source_date_epoch = choose::epoch(&options.env, "SOURCE_DATE_EPOCH")?;
        let kodata_date_epoch = choose::epoch(&options.env, "KO_DATA_DATE_EPOCH")?;
        let data = probe::template_data(
            toolchain,
            &self.go_dir,
            &final_env,
            source_date_epoch.unwrap_or(options.now_unix),
            &[&self.flags.list, &self.ldflags.list],
        )
        .await?;
        // The artifact's own values get Skaffold's template pass (with ko's variables as
        // kiln's extension); .ko.yaml values get ko's. They are rendered per platform, as
        // ko does.
        let templates = GoTemplates {
            origin: self.origin,
            flags: self.flags.list,
            flags_from_artifact: self.flags.from_artifact,
            ldflags: self.ldflags.list,
            ldflags_from_artifact: self.ldflags.from_artifact,
            data,
            skaffold_env: self.skaffold_env,
            inputs: template_inputs(&options.env, options.now_unix),
        };
        let (flags, ldflags) = templates.render(&choose::first_platform(&self.platforms))?;
        let mut go = choose::go_settings(
            flags,
            ldflags,
            self.build_env,
            &final_env,
            &self.flags_origin,
        )?;
        go.templates = templates.per_platform().then_some(templates);
        let from_image = self
            .from_image
            .as_ref()
            .map(|(value, field)| (value.as_str(), field.clone()));
        let base = choose::base_spec(
            self.ko,
            from_image,
            &self.package.import_path,
            &self.base_dir,
        )?;
        Ok(ArtifactPlan {
            config_warnings: self.ko.warnings.clone(),
            image: self.image,
            runtime_type: self.runtime_type,
            requires: self.requires,
            repository: self.repository,
            tag: self.tag,
            extra_tags: self.extra_tags,
            workspace: self.workspace,
            dependencies: self.dependencies,
            ko_config_path: self.ko.path.clone(),
            go_dir: self.go_dir,
            base,
            platforms: self.platforms,
            package: self.package,
            go,
            labels: self.labels,
            annotations: self.annotations,
            user: self.user,
            trimpath: self.trimpath,
            disable_optimizations: self.disable_optimizations,
            source_date_epoch,
            kodata_date_epoch,
            kodata_allowed_root: choose::kodata_allowed_root(&options.env),
            sbom: self.sbom,
            linux_capabilities,
            compression: choose::compression(options.compression, &options.env)?,
        })
    }
}
