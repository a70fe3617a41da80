//! Git facts about a source tree, from `git` itself (exact parity with ko and Skaffold:
//! the same dirty semantics, `.gitignore`, worktrees and `safe.directory`). The rules that
//! turn these facts into tags and template values live in kiln-core.

use std::path::Path;

use kiln_core::tag::{GitCommitVariant, GitOutputs};
use kiln_core::template::GitInfo;
use tokio::process::Command;

async fn git<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Option<String> {
    let out = crate::output(Command::new("git").args(args).current_dir(dir))
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn inside_work_tree(dir: &Path) -> bool {
    git(dir, &["rev-parse", "--is-inside-work-tree"])
        .await
        .as_deref()
        == Some("true")
}

/// Paths under the work tree `root` that git ignores (`.gitignore`, `info/exclude`, the
/// global excludes), absolute; an ignored directory stands for everything in it. Empty
/// outside a repository or without git.
pub async fn ignored_paths(root: &Path) -> Vec<std::path::PathBuf> {
    let args = [
        "ls-files",
        "-z",
        "--others",
        "--ignored",
        "--exclude-standard",
        "--directory",
    ];
    let Some(out) = git(root, &args).await else {
        return Vec::new();
    };
    out.split('\0')
        .filter(|p| !p.is_empty())
        .map(|p| root.join(p.trim_end_matches('/')))
        .collect()
}

/// Why git will not work in `dir`, when the reason is not simply "no repository here": git
/// missing, or a repository it refuses ("dubious ownership": owned by another user, as in
/// containers and CI checkouts), with the fix.
pub async fn repository_problem(dir: &Path) -> Option<String> {
    let out = match crate::output(
        Command::new("git")
            .args(["rev-parse", "--is-inside-work-tree"])
            .current_dir(dir),
    )
    .await
    {
        Ok(out) => out,
        Err(e) => return Some(format!("git could not be run ({e}); install git")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr.contains("dubious ownership").then(|| {
        format!(
            "git refuses the repository at {} because another user owns it (\"dubious ownership\"); trust it with `git config --global --add safe.directory {}`",
            dir.display(),
            dir.display()
        )
    })
}

/// ko's `.Git` template values for the repository containing `dir` (ko's
/// `pkg/internal/git/info.go` commands). Outside a repository, or without git, the
/// defaults: empty strings and a clean tree, as ko renders them.
pub async fn template_info(dir: &Path) -> GitInfo {
    if !inside_work_tree(dir).await {
        return GitInfo::default();
    }
    let (branch, show, status, tag) = tokio::join!(
        git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]),
        git(dir, &["show", "-s", "--format=%h%n%H%n%ct", "HEAD"]),
        git(dir, &["status", "--porcelain"]),
        git(dir, &["describe", "--tags", "--abbrev=0"]),
    );
    let show = show.unwrap_or_default();
    let mut lines = show.lines();
    GitInfo {
        branch: branch.unwrap_or_default(),
        tag: tag.unwrap_or_else(|| "v0.0.0".to_owned()),
        short_commit: lines.next().unwrap_or_default().to_owned(),
        full_commit: lines.next().unwrap_or_default().to_owned(),
        commit_unix: lines.next().and_then(|t| t.parse().ok()),
        dirty: status.is_some_and(|s| !s.is_empty()),
    }
}

/// What Skaffold's gitCommit tagger reads for `variant`, run in the artifact's workspace
/// `dir` (dirtiness is `git status . --porcelain` there, as Skaffold checks it). `None`
/// when `dir` is not in a repository.
pub async fn tag_outputs(dir: &Path, variant: GitCommitVariant) -> Option<GitOutputs> {
    if !inside_work_tree(dir).await {
        return None;
    }
    let prefix = git(dir, &["rev-parse", "--show-prefix"])
        .await
        .unwrap_or_default();
    let workspace = match prefix.trim_end_matches('/') {
        "" => ".".to_owned(),
        p => p.to_owned(),
    };
    let run = |v: GitCommitVariant| {
        let args = v.git_args(&workspace);
        let root_relative = matches!(
            v,
            GitCommitVariant::TreeSha | GitCommitVariant::AbbrevTreeSha
        );
        async move {
            // Tree variants name the workspace relative to the repository root.
            let top = if root_relative {
                git(dir, &["rev-parse", "--show-toplevel"]).await
            } else {
                None
            };
            git(top.as_deref().map_or(dir, Path::new), &args)
                .await
                .filter(|s| !s.is_empty())
        }
    };
    // Only `Branches` falls back (to the abbreviated commit, on a detached HEAD).
    let fallback = async {
        match variant {
            GitCommitVariant::Branches => run(GitCommitVariant::AbbrevCommitSha).await,
            _ => None,
        }
    };
    let (primary, fallback, status) = tokio::join!(
        run(variant),
        fallback,
        git(dir, &["status", ".", "--porcelain"]),
    );
    let mut outputs = GitOutputs {
        dirty: status.is_some_and(|s| !s.is_empty()),
        ..GitOutputs::default()
    };
    match variant {
        GitCommitVariant::Tags => outputs.describe = primary,
        GitCommitVariant::CommitSha => outputs.commit_sha = primary,
        GitCommitVariant::AbbrevCommitSha => outputs.abbrev_commit_sha = primary,
        GitCommitVariant::TreeSha => outputs.tree_sha = primary,
        GitCommitVariant::AbbrevTreeSha => outputs.abbrev_tree_sha = primary,
        GitCommitVariant::Branches => {
            outputs.branch = primary;
            outputs.abbrev_commit_sha = fallback;
        }
    }
    Some(outputs)
}

/// What Go stamps into a binary about the repository around `dir` (`vcs.revision` and
/// `vcs.modified`): the HEAD commit and whether anything in the work tree differs. `None`
/// outside a repository.
pub async fn vcs_state(dir: &Path) -> Option<(String, bool)> {
    let (head, status) = tokio::join!(
        git(dir, &["rev-parse", "HEAD"]),
        git(dir, &["status", "--porcelain"]),
    );
    Some((head?, status.is_some_and(|s| !s.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ignored_paths_come_from_git() {
        let dir = std::env::temp_dir().join(format!("kiln-git-ignored-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("build/out")).unwrap();
        std::fs::write(dir.join(".gitignore"), ".env\nbuild/\n").unwrap();
        std::fs::write(dir.join(".env"), "TOKEN=x\n").unwrap();
        std::fs::write(dir.join("build/out/a"), "a\n").unwrap();
        std::fs::write(dir.join("kept"), "k\n").unwrap();
        assert!(ignored_paths(&dir).await.is_empty(), "not a repository yet");
        git(&dir, &["init", "-q"]).await.expect("git init");
        let mut ignored = ignored_paths(&dir).await;
        ignored.sort();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(ignored, [dir.join(".env"), dir.join("build")]);
    }

    #[tokio::test]
    #[ignore = "needs root, to give the repository another owner (run with --ignored as root)"]
    async fn a_repository_owned_by_someone_else_is_reported_as_such() {
        let dir = std::env::temp_dir().join(format!("kiln-git-owner-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q"]).await.expect("git init");
        assert_eq!(repository_problem(&dir).await, None);
        for entry in [dir.clone(), dir.join(".git")] {
            std::os::unix::fs::chown(&entry, Some(65534), Some(65534)).expect("chown (root)");
        }
        let problem = repository_problem(&dir).await;
        std::fs::remove_dir_all(&dir).unwrap();
        let problem = problem.expect("git refuses the repository");
        assert!(
            problem.contains("dubious ownership") && problem.contains("safe.directory"),
            "{problem}"
        );
    }
}
