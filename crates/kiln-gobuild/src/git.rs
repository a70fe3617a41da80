//! Git facts about a source tree, from `git` itself (exact parity with ko and Skaffold:
//! the same dirty semantics, `.gitignore`, worktrees and `safe.directory`). The rules that
//! turn these facts into tags and template values live in kiln-core.

use std::path::Path;

use kiln_core::env::Env;
use kiln_core::tag::{GitCommitVariant, GitOutputs};
use kiln_core::template::GitInfo;
use tokio::process::Command;

/// `git`, started from the environment snapshot (`GIT_DIR`, `HOME` for the global config,
/// `safe.directory` all come from it), in `dir`, found on the snapshot's PATH
/// ([`crate::find_program`]: git runs twice in every unchanged build).
fn command(dir: &Path, env: &Env) -> Command {
    let git = crate::find_program(env, "git").unwrap_or_else(|| "git".into());
    let mut command = Command::new(git);
    env.apply(command.as_std_mut());
    command.current_dir(dir);
    command
}

async fn git<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S], env: &Env) -> Option<String> {
    let out = crate::output(command(dir, env).args(args), env)
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn inside_work_tree(dir: &Path, env: &Env) -> bool {
    git(dir, &["rev-parse", "--is-inside-work-tree"], env)
        .await
        .as_deref()
        == Some("true")
}

/// Paths under the work tree `root` that git ignores (`.gitignore`, `info/exclude`, the
/// global excludes), absolute; an ignored directory stands for everything in it. An error
/// says why git could not answer (not installed, a repository it refuses, no repository):
/// the caller must never read that as "nothing is ignored".
pub async fn ignored_paths(root: &Path, env: &Env) -> Result<Vec<std::path::PathBuf>, String> {
    let args = [
        "ls-files",
        "-z",
        "--others",
        "--ignored",
        "--exclude-standard",
        "--directory",
    ];
    let out = crate::output(command(root, env).args(args), env)
        .await
        .map_err(|e| format!("git could not be run ({e}); install git"))?;
    if !out.status.success() {
        if let Some(problem) = repository_problem(root, env).await {
            return Err(problem);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or_default().trim();
        return Err(format!(
            "`git ls-files` failed in {}: {first}",
            root.display()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(|p| root.join(p.trim_end_matches('/')))
        .collect())
}

/// Why git will not work in `dir`, when the reason is not simply "no repository here": git
/// missing, or a repository it refuses ("dubious ownership": owned by another user, as in
/// containers and CI checkouts), with the fix.
pub async fn repository_problem(dir: &Path, env: &Env) -> Option<String> {
    let out = match crate::output(
        command(dir, env).args(["rev-parse", "--is-inside-work-tree"]),
        env,
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
pub async fn template_info(dir: &Path, env: &Env) -> GitInfo {
    if !inside_work_tree(dir, env).await {
        return GitInfo::default();
    }
    let (branch, show, status, tag) = tokio::join!(
        git(dir, &["rev-parse", "--abbrev-ref", "HEAD"], env),
        git(dir, &["show", "-s", "--format=%h%n%H%n%ct", "HEAD"], env),
        git(dir, &["status", "--porcelain"], env),
        git(dir, &["describe", "--tags", "--abbrev=0"], env),
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
pub async fn tag_outputs(dir: &Path, variant: GitCommitVariant, env: &Env) -> Option<GitOutputs> {
    if !inside_work_tree(dir, env).await {
        return None;
    }
    let prefix = git(dir, &["rev-parse", "--show-prefix"], env)
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
                git(dir, &["rev-parse", "--show-toplevel"], env).await
            } else {
                None
            };
            git(top.as_deref().map_or(dir, Path::new), &args, env)
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
        git(dir, &["status", ".", "--porcelain"], env),
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
pub async fn vcs_state(dir: &Path, env: &Env) -> Option<(String, bool)> {
    let (head, status) = tokio::join!(
        git(dir, &["rev-parse", "HEAD"], env),
        git(dir, &["status", "--porcelain"], env),
    );
    Some((head?, status.is_some_and(|s| !s.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ignored_paths_come_from_git() {
        let env = &Env::from_vars(std::env::vars_os());
        let dir = std::env::temp_dir().join(format!("kiln-git-ignored-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("build/out")).unwrap();
        std::fs::write(dir.join(".gitignore"), ".env\nbuild/\n").unwrap();
        std::fs::write(dir.join(".env"), "TOKEN=x\n").unwrap();
        std::fs::write(dir.join("build/out/a"), "a\n").unwrap();
        std::fs::write(dir.join("kept"), "k\n").unwrap();
        let refused = ignored_paths(&dir, env).await.unwrap_err();
        assert!(refused.contains("not a git repository"), "{refused}");
        git(&dir, &["init", "-q"], env).await.expect("git init");
        let mut ignored = ignored_paths(&dir, env).await.unwrap();
        ignored.sort();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(ignored, [dir.join(".env"), dir.join("build")]);
    }

    #[tokio::test]
    #[ignore = "needs root, to give the repository another owner (run with --ignored as root)"]
    async fn a_repository_owned_by_someone_else_is_reported_as_such() {
        let env = &Env::from_vars(std::env::vars_os());
        let dir = std::env::temp_dir().join(format!("kiln-git-owner-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q"], env).await.expect("git init");
        assert_eq!(repository_problem(&dir, env).await, None);
        for entry in [dir.clone(), dir.join(".git")] {
            std::os::unix::fs::chown(&entry, Some(65534), Some(65534)).expect("chown (root)");
        }
        let problem = repository_problem(&dir, env).await;
        std::fs::remove_dir_all(&dir).unwrap();
        let problem = problem.expect("git refuses the repository");
        assert!(
            problem.contains("dubious ownership") && problem.contains("safe.directory"),
            "{problem}"
        );
    }
}
