//! Applying rendered manifests from `kiln dev` and `kiln debug`, as Skaffold's kubectl
//! deployer does. No cluster is not an error: the loop then only builds.

use kiln_pipeline::deploy::Kubectl;

use super::build::Session;
use crate::printer;

/// The config's kubectl deployer, if it has one, manifests to apply, and a cluster that
/// answers; otherwise says why nothing will be deployed and returns `None`.
pub async fn deployer(session: &Session) -> Option<Kubectl> {
    let config = session.configs.first()?;
    let kubectl =
        Kubectl::from_config(&config.deploy, session.args.config.kube_context.as_deref())?;
    let has_manifests = kiln_pipeline::manifests::manifest_files(
        &session.config_dir,
        &session
            .configs
            .iter()
            .flat_map(|c| c.manifests.raw_yaml.iter().cloned())
            .collect::<Vec<_>>(),
    )
    .is_ok_and(|(files, _)| !files.is_empty());
    if !has_manifests {
        return None;
    }
    match kubectl.reachable().await {
        Ok(()) => Some(kubectl),
        Err(why) => {
            printer::info(&format!(
                "no Kubernetes cluster reachable ({why}): building only, nothing is deployed"
            ));
            None
        }
    }
}

/// Applies `manifests` and shows kubectl's report.
pub async fn apply(kubectl: &Kubectl, manifests: &str) -> anyhow::Result<()> {
    let report = kubectl.apply(manifests).await?;
    for line in report.lines() {
        printer::info(line);
    }
    Ok(())
}
