//! `kiln cache prune`.

use std::path::Path;

use anyhow::Context as _;

use crate::printer;

/// What kiln creates in its cache directory; nothing else there is touched, so a
/// mistyped KILN_CACHE cannot empty an unrelated directory.
const CACHE_ENTRIES: &[&str] = &["blobs", "layers", "artifacts", "memo", "bin"];

pub fn prune(cache: &Path) -> anyhow::Result<()> {
    let mut freed = 0u64;
    for entry in CACHE_ENTRIES {
        let path = cache.join(entry);
        if path.exists() {
            freed += size(&path);
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("removing {}", path.display()))?;
        }
    }
    printer::info(&format!(
        "removed {} MB from {}",
        freed / 1_000_000,
        cache.display()
    ));
    Ok(())
}

fn size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| size(&e.path())).sum())
        .unwrap_or(0)
}
