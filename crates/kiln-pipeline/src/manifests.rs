//! The Kubernetes manifests of a config (`manifests.rawYaml`, or v2's
//! `deploy.kubectl.manifests`), found and split into documents the way Skaffold's kubectl
//! renderer does (pkg/skaffold/util ExpandPathsGlob, kubernetes/manifest ManifestList).

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use crate::Error;

/// The files `patterns` name, relative to `config_dir`: an existing path is taken as is
/// (a directory gives every file under it); anything else is a glob in the syntax of Go's
/// `filepath.Glob` (`*` stays within one path element). Order: the patterns' order, each
/// glob's matches sorted, duplicates dropped. A glob matching nothing is not an error
/// (Skaffold only warns); it is returned in the second list so the caller can say so.
pub fn manifest_files(
    config_dir: &Path,
    patterns: &[String],
) -> Result<(Vec<PathBuf>, Vec<String>), Error> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut unmatched = Vec::new();
    for pattern in patterns {
        if pattern.contains("://") {
            return Err(Error::planning(
                format!("manifest `{pattern}`"),
                "a remote file, and kiln reads local files only: download it into the repository and list its path in manifests.rawYaml",
            ));
        }
        let path = config_dir.join(pattern);
        let matched = if path.exists() {
            vec![path]
        } else {
            glob(&path)?
        };
        if matched.is_empty() {
            unmatched.push(pattern.clone());
        }
        for found in matched {
            for file in files_under(&found)? {
                if !files.contains(&file) {
                    files.push(file);
                }
            }
        }
    }
    Ok((files, unmatched))
}

/// Matches `pattern` (an absolute glob) element by element from its longest literal
/// prefix, as Go's `filepath.Glob` does.
fn glob(pattern: &Path) -> Result<Vec<PathBuf>, Error> {
    let text = pattern.to_string_lossy();
    let is_magic = |s: &str| s.contains(['*', '?', '[']);
    let root: PathBuf = pattern
        .components()
        .take_while(|c| !is_magic(&c.as_os_str().to_string_lossy()))
        .collect();
    let matcher: GlobMatcher = GlobBuilder::new(&text)
        .literal_separator(true)
        .build()
        .map_err(|e| Error::invalid(format!("manifest pattern `{text}`"), e))?
        .compile_matcher();
    let depth = pattern.components().count();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(dir) = frontier.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let count = path.components().count();
            if count == depth && matcher.is_match(&path) {
                out.push(path);
            } else if count < depth && path.is_dir() {
                frontier.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `path` itself, or every file under the directory `path`, depth first in name order
/// (links followed; a link loop is an error).
fn files_under(path: &Path) -> Result<Vec<PathBuf>, Error> {
    walk_sorted(path, usize::MAX)
}

/// ko's `-f DIR`: the directory's `.yaml`, `.yml` and `.json` files in name order,
/// subdirectories' too when `recursive` (`-R`).
pub fn ko_yaml_files(dir: &Path, recursive: bool) -> Result<Vec<PathBuf>, Error> {
    let depth = if recursive { usize::MAX } else { 1 };
    let mut files = walk_sorted(dir, depth)?;
    files.retain(|f| {
        f.extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
    });
    Ok(files)
}

/// The files (not directories) under `root` to `max_depth`, in name order, links followed.
fn walk_sorted(root: &Path, max_depth: usize) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(true)
        .max_depth(max_depth)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|source| Error::Walk {
            path: root.to_owned(),
            source,
        })?;
        if !entry.file_type().is_dir() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// The manifests of `configs` (every config's `manifests.rawYaml`, relative to
/// `config_dir`) with each built image's `image` fields pointing at its new reference,
/// as one YAML stream in Skaffold's format. Also returns the patterns that matched
/// nothing.
pub fn render(
    config_dir: &Path,
    configs: &[kiln_config::Config],
    builds: &[kiln_render::Build],
) -> Result<(String, Vec<String>), Error> {
    let patterns: Vec<String> = configs
        .iter()
        .flat_map(|c| c.manifests.raw_yaml.iter().cloned())
        .collect();
    let (files, unmatched) = manifest_files(config_dir, &patterns)?;
    let mut rendered = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).map_err(|e| Error::io("reading manifest", file, e))?;
        let replaced = kiln_render::replace_images(&text, builds)
            .map_err(|e| Error::invalid(file.display().to_string(), e))?;
        rendered.extend(split_documents(&replaced).into_iter().map(str::to_owned));
    }
    Ok((join_documents(&rendered), unmatched))
}

/// What `skaffold debug` reads from a built image to rewrite its containers: the
/// config's entrypoint, arguments, environment and working directory. `reference` is the
/// image's reference in the rendered manifests.
pub fn debug_image_info(
    artifact: &crate::BuiltArtifact,
    reference: &str,
) -> Result<kiln_render::ImageInfo, Error> {
    let image = artifact
        .images
        .first()
        .ok_or_else(|| Error::planning(&artifact.plan.image, "the build produced no image"))?;
    let config: serde_json::Value = serde_json::from_slice(&image.config.bytes).map_err(|e| {
        Error::invalid(
            format!("{}: reading the image config", artifact.plan.image),
            e,
        )
    })?;
    let strings = |key: &str| -> Vec<String> {
        config["config"][key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    Ok(kiln_render::ImageInfo {
        artifact: artifact.plan.image.clone(),
        reference: reference.to_owned(),
        entrypoint: strings("Entrypoint"),
        cmd: strings("Cmd"),
        env: strings("Env"),
        runtime_type: artifact.plan.runtime_type.clone(),
        working_dir: config["config"]["WorkingDir"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    })
}

/// The documents of a YAML stream, split where a line is `---` (followed by nothing but
/// spaces), as Kubernetes' YAML reader splits them; each trimmed, empty ones dropped.
pub fn split_documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line
            .strip_prefix("---")
            .is_some_and(|rest| rest.trim().is_empty())
        {
            docs.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    docs.push(&text[start..]);
    docs.into_iter()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect()
}

/// Documents joined as Skaffold prints a manifest list: `\n---\n` between them, and a
/// final newline.
pub fn join_documents<S: AsRef<str>>(docs: &[S]) -> String {
    let mut out = docs
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join("\n---\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_on_bare_separators_only() {
        let text =
            "a: 1\n---\n\n--- \nb: |\n  ---x\n--- # not a separator for Kubernetes\nc: 3\n---\n";
        assert_eq!(
            split_documents(text),
            [
                "a: 1",
                "b: |\n  ---x\n--- # not a separator for Kubernetes\nc: 3"
            ]
        );
        assert_eq!(
            join_documents(&split_documents(text))
                .matches("\n---\n")
                .count(),
            1
        );
        assert_eq!(join_documents::<&str>(&[]), "");
    }

    #[test]
    fn files_follow_skaffolds_glob_rules() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "k8s/b.yaml",
            "k8s/a.yaml",
            "k8s/deep/c.yaml",
            "k8s/x.txt",
            "extra/d.yaml",
        ] {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "kind: X\n").unwrap();
        }
        let names = |patterns: &[&str]| {
            let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
            let (files, unmatched) = manifest_files(root, &patterns).unwrap();
            let files: Vec<String> = files
                .iter()
                .map(|f| f.strip_prefix(root).unwrap().display().to_string())
                .collect();
            (files, unmatched)
        };
        // `*` does not cross directories; a matched or named directory gives its files.
        assert_eq!(names(&["k8s/*.yaml"]).0, ["k8s/a.yaml", "k8s/b.yaml"]);
        assert_eq!(
            names(&["extra", "k8s/*.yaml", "k8s/a.yaml"]).0,
            ["extra/d.yaml", "k8s/a.yaml", "k8s/b.yaml"]
        );
        assert_eq!(names(&["k8s/de*"]).0, ["k8s/deep/c.yaml"]);
        assert_eq!(
            names(&["nothing/*.yaml"]),
            (vec![], vec!["nothing/*.yaml".to_owned()])
        );
        let remote = manifest_files(root, &["https://example.com/x.yaml".to_owned()]);
        assert!(remote.unwrap_err().to_string().contains("remote"));
    }
}
