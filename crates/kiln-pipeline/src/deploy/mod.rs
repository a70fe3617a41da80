//! Deploying rendered manifests as Skaffold's deployers do: `kubectl` (which also deploys
//! what kustomize and `manifests.helm` render; skaffold/v2's kustomize deployer became
//! this one) and `helm` (releases installed by helm itself); then Skaffold's status check
//! of what they deployed (`status`).

pub mod helm;
pub mod kubectl;
pub mod status;

pub use kubectl::Kubectl;
