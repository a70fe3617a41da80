//! Go flag and ldflag templates rendered per target platform, as ko renders them: its
//! template data sees the build's environment, which starts from ko's defaults for the
//! platform (`CGO_ENABLED=0`, `GOOS`, `GOARCH`, `GOARM`/`GOAMD64`), then the process
//! environment, then the build's `env` (gobuild.go `buildEnv`, `createTemplateData`). So for
//! linux/arm64 `{{.GoEnv.GOARCH}}-{{.GoEnv.CGO_ENABLED}}` is `arm64-0`.

use std::collections::BTreeMap;

use kiln_core::Platform;
use kiln_core::template::{KoTemplateData, render_ko, render_skaffold};
use kiln_gobuild::reject_toolexec;

use crate::Error;

/// Gives Skaffold's `cmd` template function (`{{cmd "git" "describe"}}`) its runner:
/// the program with its arguments, in the working directory, its stdout trimmed, as
/// Skaffold's `runCmdFunc`; a failure is the template's error.
pub fn install_cmd_function() {
    kiln_core::sprig::install_command_runner(std::sync::Arc::new(|name: &str, args: &[String]| {
        let out = std::process::Command::new(name)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cmd {name}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cmd {name} {}: {}: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }));
}

/// The flag and ldflag templates of one artifact and the data they are rendered with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoTemplates {
    /// Names the artifact in errors (`image: ` or `import/path: `).
    pub origin: String,
    pub flags: Vec<String>,
    /// The flags are the skaffold.yaml artifact's own (Skaffold's template pass).
    pub flags_from_artifact: bool,
    pub ldflags: Vec<String>,
    pub ldflags_from_artifact: bool,
    /// ko's data, before any platform is applied.
    pub data: KoTemplateData,
    /// Skaffold's template environment (the OS env with `IMAGE_REPO`/`IMAGE_NAME`/`IMAGE_TAG`).
    pub skaffold_env: BTreeMap<String, String>,
}

impl GoTemplates {
    /// Whether rendering depends on the platform (a template reads `.Env` or `.GoEnv`).
    pub fn per_platform(&self) -> bool {
        self.flags
            .iter()
            .chain(&self.ldflags)
            .any(|t| t.contains("Env"))
    }

    /// `(flags, ldflags)` for a build targeting `platform`; `-toolexec` is refused in them.
    pub fn render(&self, platform: &Platform) -> Result<(Vec<String>, Vec<String>), Error> {
        let data = self.data_for(platform)?;
        let flags = self.render_list(&self.flags, self.flags_from_artifact, "flags", &data)?;
        let ldflags =
            self.render_list(&self.ldflags, self.ldflags_from_artifact, "ldflags", &data)?;
        reject_toolexec(&flags, &format!("{}flags", self.origin))?;
        Ok((flags, ldflags))
    }

    /// ko's data with the platform's defaults under the environment.
    fn data_for(&self, platform: &Platform) -> Result<KoTemplateData, Error> {
        let mut data = self.data.clone();
        let mut defaults = vec![("CGO_ENABLED", "0".to_owned())];
        defaults.extend(
            platform
                .go_env()
                .map_err(|e| Error::Plan(format!("{}{platform}: {e}", self.origin)))?,
        );
        for (key, value) in defaults {
            let value = data.env.entry(key.to_owned()).or_insert(value).clone();
            // `.GoEnv` entries are overridden by the environment's, as in ko.
            if let Some(go_value) = data.go_env.get_mut(key) {
                *go_value = value;
            }
        }
        Ok(data)
    }

    fn render_list(
        &self,
        templates: &[String],
        from_artifact: bool,
        field: &str,
        data: &KoTemplateData,
    ) -> Result<Vec<String>, Error> {
        templates
            .iter()
            .map(|t| {
                let rendered = if from_artifact {
                    render_skaffold(t, &self.skaffold_env, Some(data))
                } else {
                    render_ko(t, data)
                };
                rendered.map_err(|e| {
                    let source = if from_artifact { "ko." } else { ".ko.yaml " };
                    Error::Plan(format!("{}{source}{field}: {e}", self.origin))
                })
            })
            .collect()
    }
}
