//! What each fuzz target does with its input, shared by the cargo-fuzz binaries in
//! `fuzz_targets/`. The property is always the same: any bytes give an answer (a value or
//! an error), never a panic, a hang or unbounded memory; errors stay short.

use std::collections::HashMap;
use std::path::Path;

/// Errors quote excerpts, never whole inputs: a bound well above any real message.
const MAX_MESSAGE: usize = 4096;

fn short(message: String) {
    assert!(
        message.len() <= MAX_MESSAGE,
        "an error of {} bytes",
        message.len()
    );
}

/// `skaffold.yaml`: load with a profile named and one activated by environment.
pub fn skaffold_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let selection = kiln_config::ProfileSelection {
        profiles: vec!["dev".to_owned()],
        kube_context: Some("kind-kind".to_owned()),
        command: Some("build".to_owned()),
        auto_activation: true,
    };
    let env = |k: &str| (k == "CI").then(|| "true".to_owned());
    if let Err(e) = kiln_config::parse_skaffold(text, Path::new("skaffold.yaml"), &selection, &env)
    {
        short(e.to_string());
    }
}

/// `.ko.yaml`, with no `KO_*` overrides.
pub fn ko_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = kiln_config::parse_ko_config(text, Path::new(".ko.yaml"), &|_| None) {
        short(e.to_string());
    }
}

/// Kubernetes YAML: `ko://` discovery and replacement, and Skaffold's image rewriting.
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match kiln_render::find_ko_references(text) {
        Ok(refs) => {
            let map: HashMap<String, String> = refs
                .iter()
                .map(|r| (r.clone(), "registry.example/app@sha256:00".to_owned()))
                .collect();
            if let Err(e) = kiln_render::replace_scalars(text, &map) {
                short(e.to_string());
            }
        }
        Err(e) => short(e.to_string()),
    }
    if let Err(e) = kiln_render::replace_images(text, &[]) {
        short(e.to_string());
    }
}

/// A `WWW-Authenticate` header value: every challenge's parameters can be read back.
pub fn www_authenticate(data: &[u8]) {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    for challenge in kiln_registry::parse_www_authenticate(header) {
        assert!(!challenge.scheme.is_empty());
        for (name, _) in &challenge.params {
            assert!(challenge.param(name).is_some());
        }
    }
}
