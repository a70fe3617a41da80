//! Git facts about a source tree, from `git` itself (exact parity with ko and Skaffold:
//! the same dirty semantics, `.gitignore`, worktrees and `safe.directory`).

use std::path::Path;

use tokio::process::Command;

/// What ko's `.Git` template variables and Skaffold's gitCommit tagger need.
/// Outside a repository every field is empty and the tree counts as clean.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitInfo {
    pub branch: String,
    /// `git describe --tags --abbrev=0`, or `v0.0.0` in a repository without tags.
    pub tag: String,
    /// `git describe --tags --always`: Skaffold's default tag.
    pub describe: String,
    pub short_commit: String,
    pub full_commit: String,
    pub commit_timestamp: i64,
    pub dirty: bool,
}

async fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl GitInfo {
    /// Reads the repository containing `dir`; `None` when `dir` is in no repository (or
    /// git is not installed), which callers treat as "no git information".
    pub async fn read(dir: &Path) -> Option<GitInfo> {
        if git(dir, &["rev-parse", "--is-inside-work-tree"]).await.as_deref() != Some("true") {
            return None;
        }
        let (branch, show, status, tag, describe) = tokio::join!(
            git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]),
            git(dir, &["show", "-s", "--format=%h%n%H%n%ct", "HEAD"]),
            git(dir, &["status", "--porcelain", "."]),
            git(dir, &["describe", "--tags", "--abbrev=0"]),
            git(dir, &["describe", "--tags", "--always"]),
        );
        let show = show.unwrap_or_default();
        let mut lines = show.lines();
        Some(GitInfo {
            branch: branch.unwrap_or_default(),
            tag: tag.unwrap_or_else(|| "v0.0.0".to_owned()),
            describe: describe.unwrap_or_default(),
            short_commit: lines.next().unwrap_or_default().to_owned(),
            full_commit: lines.next().unwrap_or_default().to_owned(),
            commit_timestamp: lines.next().and_then(|t| t.parse().ok()).unwrap_or_default(),
            dirty: status.is_some_and(|s| !s.is_empty()),
        })
    }
}
