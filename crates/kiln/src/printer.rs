//! The only place kiln writes to the terminal. stdout carries machine output (image
//! references, build JSON) and nothing else, so `$(kiln build -q)` is safe to capture;
//! progress and errors go to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use kiln_pipeline::{Event, EventSink, Stage};
use kiln_registry::RegistryEvent;

/// Prints one line of machine output. A closed pipe (`kiln build | head -1`) is not an
/// error worth reporting.
pub fn stdout_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// Machine output that is a whole text (rendered YAML), written as is.
pub fn stdout_text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
}

/// A message for the person at the terminal (stderr: stdout stays machine output).
pub fn info(line: &str) {
    eprintln!("{line}");
}

pub fn error(err: &anyhow::Error) {
    eprintln!("{}", error_text(err));
}

/// `error: …` then each cause on its own line; a cause whose text an earlier line already
/// says (errors that embed their source) is left out, so no sentence is repeated.
fn error_text(err: &anyhow::Error) -> String {
    let mut said: Vec<String> = vec![err.to_string()];
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !said.iter().any(|s| s.contains(&cause)) {
            said.push(cause);
        }
    }
    let mut text = format!("error: {}", said[0]);
    for cause in &said[1..] {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    text
}

/// A byte count for people: `532 B`, `14.2 MB`, `10.7 GB` (powers of 1000).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Where progress goes: on a terminal, a live line per artifact and per artifact platform
/// showing its current stage and how long it has run, with a permanent line as each stage
/// ends; otherwise a plain line as each stage starts and ends. Shared by the pipeline's and
/// the registry client's event sinks so that lines never tear the live ones.
pub struct Progress {
    quiet: bool,
    bars: Option<MultiProgress>,
    /// The live lines, by image and platform (`None`: the artifact's own stages).
    live: Mutex<HashMap<(String, Option<String>), LiveLine>>,
    /// Bytes handed to the registry per repository and blob, for "pushing 12.3 MB".
    pushed: Mutex<HashMap<String, HashMap<kiln_core::Digest, u64>>>,
    /// Warnings already printed: each is said once per run (a `.ko.yaml` shared by several
    /// artifacts, or re-read by every `kiln dev` round, warns once).
    warned: Mutex<std::collections::HashSet<String>>,
}

struct LiveLine {
    bar: ProgressBar,
    stage: Stage,
}

/// What a stage is doing, for its start line and live line.
fn stage_doing(stage: &Stage, platform: Option<&str>) -> String {
    match (stage, platform) {
        (Stage::ResolvingBase, _) => "resolving base".to_owned(),
        (Stage::DownloadingModules { module }, Some(p)) => {
            format!("downloading modules for {p} ({module})")
        }
        (Stage::DownloadingModules { module }, None) => format!("downloading modules ({module})"),
        (Stage::Building, p) => format!("building for {}", p.unwrap_or_default()),
        (Stage::Compressing, Some(p)) => format!("compressing the {p} binary layer"),
        (Stage::Compressing, None) => "compressing the kodata layer".to_owned(),
        (Stage::Pushing { repository }, _) => format!("pushing to {repository}"),
        (Stage::Loading { target }, _) => format!("loading into {target}"),
    }
}

/// What a stage did, for its end line.
fn stage_done(stage: &Stage, platform: Option<&str>, pushed: u64) -> String {
    match (stage, platform) {
        (Stage::ResolvingBase, _) => "resolved base".to_owned(),
        (Stage::DownloadingModules { .. }, Some(p)) => format!("downloaded modules for {p}"),
        (Stage::DownloadingModules { .. }, None) => "downloaded modules".to_owned(),
        (Stage::Building, p) => format!("built {}", p.unwrap_or_default()),
        (Stage::Compressing, Some(p)) => format!("compressed the {p} binary layer"),
        (Stage::Compressing, None) => "compressed the kodata layer".to_owned(),
        (Stage::Pushing { repository }, _) => format!("pushed {} to {repository}", size(pushed)),
        (Stage::Loading { target }, _) => format!("finished loading into {target}"),
    }
}

impl Progress {
    pub fn new(quiet: bool) -> Arc<Progress> {
        // indicatif draws nothing on a terminal it cannot drive (TERM unset or `dumb`):
        // plain lines then, or they would be lost.
        let bars = (!quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
            .filter(|bars| !bars.is_hidden());
        Arc::new(Progress {
            quiet,
            bars,
            live: Mutex::new(HashMap::new()),
            pushed: Mutex::new(HashMap::new()),
            warned: Mutex::default(),
        })
    }

    fn line(&self, line: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// A stage began: the live line shows it (on a terminal), or a line says so.
    fn stage_started(&self, image: String, platform: Option<String>, stage: Stage) {
        let doing = stage_doing(&stage, platform.as_deref());
        if let Stage::Pushing { repository } = &stage {
            self.take_pushed(repository);
        }
        let Some(bars) = &self.bars else {
            self.line(&format!("{image}: {doing}..."));
            return;
        };
        let mut live = lock(&self.live);
        match live.entry((image.clone(), platform)) {
            Entry::Occupied(mut entry) => {
                let line = entry.get_mut();
                line.bar.reset_elapsed();
                line.bar.set_message(doing);
                line.stage = stage;
            }
            Entry::Vacant(entry) => {
                let style = ProgressStyle::with_template("{spinner} {prefix}: {msg} {elapsed}")
                    .expect("valid template");
                let bar = ProgressBar::new_spinner()
                    .with_style(style)
                    .with_prefix(image)
                    .with_message(doing);
                let bar = bars.add(bar);
                bar.enable_steady_tick(std::time::Duration::from_millis(100));
                entry.insert(LiveLine { bar, stage });
            }
        }
    }

    /// A stage ended: its live line goes and a line says what it did and how long it took.
    fn stage_finished(
        &self,
        image: String,
        platform: Option<String>,
        stage: Stage,
        elapsed: std::time::Duration,
    ) {
        let pushed = match &stage {
            Stage::Pushing { repository } => self.take_pushed(repository),
            _ => 0,
        };
        let done = stage_done(&stage, platform.as_deref(), pushed);
        let key = (image.clone(), platform);
        let mut live = lock(&self.live);
        if live.get(&key).is_some_and(|line| line.stage == stage)
            && let Some(line) = live.remove(&key)
        {
            line.bar.finish_and_clear();
        }
        drop(live);
        self.line(&format!("{image}: {done} in {:.2}s", elapsed.as_secs_f64()));
    }

    /// The bytes counted for the pushing stage of `repository`, forgotten.
    fn take_pushed(&self, repository: &str) -> u64 {
        lock(&self.pushed)
            .remove(repository)
            .map_or(0, |blobs| blobs.values().sum())
    }

    /// Bytes of a blob handed to `repository`: the pushing line shows the running total.
    fn blob_progress(&self, repository: &str, digest: kiln_core::Digest, sent: u64) {
        let total: u64 = {
            let mut pushed = lock(&self.pushed);
            let blobs = pushed.entry(repository.to_owned()).or_default();
            blobs.insert(digest, sent);
            blobs.values().sum()
        };
        let live = lock(&self.live);
        let pushing = live.values().filter(
            |line| matches!(&line.stage, Stage::Pushing { repository: r } if r == repository),
        );
        for line in pushing {
            line.bar
                .set_message(format!("pushing {} to {repository}", size(total)));
        }
    }

    /// Renders pipeline events (quiet mode drops all but warnings).
    pub fn event_sink(self: &Arc<Self>) -> EventSink {
        let this = self.clone();
        Arc::new(move |event| {
            let line = match event {
                Event::Warning(w) => {
                    let mut warned = this.warned.lock().unwrap_or_else(|p| p.into_inner());
                    if !warned.insert(w.clone()) {
                        return;
                    }
                    format!("warning: {w}")
                }
                Event::Notice(text) => text,
                Event::CacheOverBound { bytes, max_size } => format!(
                    "warning: the cache holds {}, over its {} bound ({}), but this build used all of it",
                    size(bytes),
                    size(max_size),
                    kiln_image::cache::gc::MAX_SIZE_VAR
                ),
                _ if this.quiet => return,
                Event::BaseResolved {
                    image,
                    base,
                    platforms,
                } => {
                    format!("{image}: base {base} for {}", platforms.join(", "))
                }
                Event::CommandOutput { image, line } => format!("{image}: {line}"),
                Event::ArtifactSkipped { image, builder } => format!(
                    "{image}: skipped (a {builder} artifact, which kiln does not build here, not selected with -b)"
                ),
                Event::ArtifactCacheHit { image, digest } => {
                    format!("{image}: unchanged, using cached image {digest}")
                }
                Event::RegistryCacheHit {
                    image,
                    digest,
                    record,
                } => format!(
                    "{image}: built before from the same inputs, reusing {digest} from the registry (record {record}); no build, no upload"
                ),
                Event::RegistryCacheRecorded { image, record } => {
                    format!("{image}: recorded in the registry cache as {record}")
                }
                Event::StageStarted {
                    image,
                    platform,
                    stage,
                } => return this.stage_started(image, platform, stage),
                Event::StageFinished {
                    image,
                    platform,
                    stage,
                    elapsed,
                } => return this.stage_finished(image, platform, stage, elapsed),
                Event::BinaryLayerReused { image, platform } => {
                    format!("{image}: {platform} binary unchanged, cached layer reused")
                }
                Event::ImageAssembled { image, digest } => format!("{image}: image {digest}"),
                // The status check, in Skaffold's words.
                Event::StatusCheckStarted { .. } => {
                    "Waiting for deployments to stabilize...".to_owned()
                }
                Event::RolloutPending { resource, status } => format!(" - {resource}: {status}"),
                Event::RolloutReady {
                    resource,
                    pending,
                    total,
                } => {
                    if pending > 0 {
                        format!(
                            " - {resource} is ready. [{pending}/{total} deployment(s) still pending]"
                        )
                    } else {
                        format!(" - {resource} is ready.")
                    }
                }
                Event::RolloutFailed { resource, reason } => {
                    format!(" - {resource} failed. Error: {reason}.")
                }
                Event::StatusCheckFinished { elapsed } => format!(
                    "Deployments stabilized in {:.2} seconds",
                    elapsed.as_secs_f64()
                ),
                Event::Delivered { image, report } => format!("{image}: {report}"),
                Event::CacheTrimmed {
                    removed,
                    freed,
                    bytes,
                    max_size,
                } => format!(
                    "cache: removed {removed} least recently used files ({}); it holds {} of its {} bound",
                    size(freed),
                    size(bytes),
                    size(max_size)
                ),
            };
            this.line(&line);
        })
    }

    /// Renders registry activity: bytes per upload, what was mounted or already there,
    /// and retries.
    pub fn registry_sink(self: &Arc<Self>) -> kiln_registry::RegistryEventSink {
        let this = self.clone();
        Arc::new(move |event| {
            let short = |d: &kiln_core::Digest| d.hex()[..12].to_owned();
            let line = match event {
                RegistryEvent::Retrying {
                    what,
                    attempt,
                    max_attempts,
                    delay,
                    reason,
                } => format!(
                    "warning: {what}: attempt {attempt}/{max_attempts} failed ({reason}); retrying in {:.1}s",
                    delay.as_secs_f64()
                ),
                _ if this.quiet => return,
                RegistryEvent::BlobProgress {
                    repository,
                    digest,
                    bytes_sent,
                    ..
                } => return this.blob_progress(&repository, digest, bytes_sent),
                RegistryEvent::BlobUploaded {
                    repository,
                    digest,
                    size,
                } => {
                    this.blob_progress(&repository, digest.clone(), size);
                    format!("{repository}: pushed {} ({size} bytes)", short(&digest))
                }
                RegistryEvent::BlobMounted {
                    repository,
                    digest,
                    from,
                } => {
                    format!("{repository}: mounted {} from {from}", short(&digest))
                }
                RegistryEvent::BlobSkipped {
                    repository, digest, ..
                } => {
                    format!("{repository}: {} already present", short(&digest))
                }
                RegistryEvent::PlainHttp { registry } => format!("{registry}: using plain HTTP"),
                _ => return,
            };
            this.line(&line);
        })
    }
}

/// A lock that a panicked holder does not poison: progress lines are never worth a crash.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_said_is_not_repeated() {
        let root = std::io::Error::other("connection refused");
        let err = anyhow::Error::new(root)
            .context("pushing app: connection refused")
            .context("build failed");
        assert_eq!(
            error_text(&err),
            "error: build failed\n  caused by: pushing app: connection refused"
        );
    }
}
