//! Watching artifacts' inputs for `kiln dev`: file events, debounced (editors that save by
//! writing a temporary file and renaming arrive as one change), mapped to the artifacts
//! whose dependencies they touch.

use std::path::PathBuf;
use std::time::Duration;

use notify::event::ModifyKind;
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

use crate::Error;
use crate::inputs::BuildInputs;
use crate::plan::ArtifactPlan;

/// Quiet time after the last event before a batch of changes is reported.
const DEBOUNCE: Duration = Duration::from_millis(150);

pub struct Watcher {
    changes: mpsc::UnboundedReceiver<Vec<PathBuf>>,
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl Watcher {
    /// Watches `dirs`, each recursively or not (see [`watch_dirs`]).
    pub fn new(dirs: &[(PathBuf, bool)]) -> Result<Watcher, Error> {
        let (tx, changes) = mpsc::unbounded_channel();
        let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
            if let Ok(events) = result {
                let paths: Vec<PathBuf> = events
                    .into_iter()
                    .filter(|e| changes_content(&e.event.kind))
                    .flat_map(|e| e.event.paths)
                    .collect();
                if !paths.is_empty() {
                    let _ = tx.send(paths);
                }
            }
        })
        .map_err(|source| Error::Watch { path: None, source })?;
        for (dir, recursive) in dirs {
            let mode = if *recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            debouncer.watch(dir, mode).map_err(|source| Error::Watch {
                path: Some(dir.clone()),
                source,
            })?;
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

/// Whether an event can change a file's content: a create, a write, a rename or a removal.
/// Opening, reading and closing a file (kiln's own hashing and `go build` do it every round)
/// and metadata changes (`touch`) never do; an event of unknown kind is counted, to be safe.
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Any | EventKind::Other => true,
    }
}

/// What to watch for `plans` and `extra` files (the skaffold.yaml): every input of every
/// artifact ([`BuildInputs::watch_dirs`]), the extra files' directories, and no directory
/// already inside a recursively watched one.
pub fn watch_dirs(
    plans: &[ArtifactPlan],
    extra: &[PathBuf],
) -> Result<Vec<(PathBuf, bool)>, Error> {
    let mut dirs = Vec::new();
    for plan in plans {
        dirs.extend(BuildInputs::of(plan)?.watch_dirs());
    }
    dirs.extend(
        extra
            .iter()
            .filter_map(|f| Some((f.parent()?.to_owned(), false))),
    );
    Ok(without_overlaps(dirs))
}

/// Each directory once (recursively if any asked so), and none inside a recursive one.
fn without_overlaps(mut dirs: Vec<(PathBuf, bool)>) -> Vec<(PathBuf, bool)> {
    // Recursive first, so that a directory watched both ways keeps the recursive watch.
    dirs.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    dirs.dedup_by(|later, earlier| later.0 == earlier.0);
    let recursive: Vec<PathBuf> = dirs.iter().filter(|d| d.1).map(|d| d.0.clone()).collect();
    dirs.retain(|(dir, _)| !recursive.iter().any(|r| r != dir && dir.starts_with(r)));
    dirs
}

/// The images among `plans` whose [`BuildInputs`] cover a path in `changed`. Paths under
/// `ignored` (outputs, the cache) or in `.git` never count.
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
        let inputs = BuildInputs::of(plan)?;
        if relevant.iter().any(|path| inputs.covers(path)) {
            images.push(plan.image.clone());
        }
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, MetadataKind, RenameMode};

    #[test]
    fn only_content_changes_count() {
        assert!(!changes_content(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(!changes_content(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::Any
        ))));
        assert!(changes_content(&EventKind::Create(CreateKind::File)));
        assert!(changes_content(&EventKind::Modify(ModifyKind::Data(
            DataChange::Any
        ))));
        assert!(changes_content(&EventKind::Modify(ModifyKind::Name(
            RenameMode::To
        ))));
        assert!(changes_content(&EventKind::Remove(
            notify::event::RemoveKind::File
        )));
    }

    #[test]
    fn nested_and_duplicate_directories_are_watched_once() {
        let dirs = |d: &[(&str, bool)]| -> Vec<(PathBuf, bool)> {
            d.iter().map(|(p, r)| (PathBuf::from(p), *r)).collect()
        };
        let all = without_overlaps(dirs(&[
            ("/w/app", true),
            ("/w", false),
            ("/w/app/k", true),
            ("/w/app", false),
        ]));
        assert_eq!(all, dirs(&[("/w", false), ("/w/app", true)]));
    }
}
