//! Watching artifacts' inputs for `kiln dev`: file events, debounced (editors that save by
//! writing a temporary file and renaming arrive as one change), mapped to the artifacts
//! whose dependencies they touch.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

use crate::Error;
use crate::deps::DependencyMatcher;
use crate::plan::ArtifactPlan;

/// Quiet time after the last event before a batch of changes is reported.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// Files whose change affects every artifact built from their module or directory.
const BUILD_FILES: &[&str] = &[
    "go.mod",
    "go.sum",
    "go.work",
    "go.work.sum",
    ".ko.yaml",
    ".ko.yml",
];

pub struct Watcher {
    changes: mpsc::UnboundedReceiver<Vec<PathBuf>>,
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl Watcher {
    /// Watches `roots` recursively.
    pub fn new(roots: &[PathBuf]) -> Result<Watcher, Error> {
        let (tx, changes) = mpsc::unbounded_channel();
        let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
            if let Ok(events) = result {
                let paths: Vec<PathBuf> = events.into_iter().flat_map(|e| e.event.paths).collect();
                if !paths.is_empty() {
                    let _ = tx.send(paths);
                }
            }
        })
        .map_err(|e| Error::Plan(format!("cannot watch for changes: {e}")))?;
        for root in roots {
            debouncer
                .watch(root, RecursiveMode::Recursive)
                .map_err(|e| Error::Plan(format!("cannot watch {}: {e}", root.display())))?;
        }
        Ok(Watcher {
            changes,
            _debouncer: debouncer,
        })
    }

    /// The next batch of changed paths (`None` once the watcher has stopped).
    pub async fn next(&mut self) -> Option<Vec<PathBuf>> {
        let mut batch = self.changes.recv().await?;
        while let Ok(more) = self.changes.try_recv() {
            batch.extend(more);
        }
        Some(batch)
    }
}

/// The images among `plans` that a change to `changed` affects: a dependency file
/// (`ko.dependencies`, default `**/*.go`), a module or .ko.yaml file above the Go
/// directory, or anything under the package's kodata. Paths under `ignored` (outputs, the
/// cache, `.git`) never count.
pub fn affected(
    plans: &[ArtifactPlan],
    changed: &[PathBuf],
    ignored: &[PathBuf],
) -> Result<Vec<String>, Error> {
    let relevant: Vec<&PathBuf> = changed
        .iter()
        .filter(|p| !ignored.iter().any(|i| p.starts_with(i)))
        .filter(|p| !p.components().any(|c| c.as_os_str() == ".git"))
        .collect();
    let mut images = Vec::new();
    for plan in plans {
        let matcher = DependencyMatcher::new(&plan.workspace, &plan.dependencies)?;
        let kodata = plan.package.dir.join("kodata");
        let hit = relevant.iter().any(|path| {
            let build_file = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| BUILD_FILES.contains(&n))
                && path.parent().is_some_and(|dir| {
                    plan.go_dir.starts_with(dir) || dir.starts_with(&plan.go_dir)
                });
            let dependency = relative(path, &plan.workspace).is_some_and(|r| matcher.matches(&r));
            build_file || dependency || path.starts_with(&kodata)
        });
        if hit {
            images.push(plan.image.clone());
        }
    }
    Ok(images)
}

fn relative(path: &Path, root: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    Some(rel.to_str()?.replace(std::path::MAIN_SEPARATOR, "/"))
}
