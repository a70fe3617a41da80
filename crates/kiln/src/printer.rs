//! The only place kiln writes to the terminal. stdout carries machine output (image
//! references, build JSON) and nothing else, so `$(kiln build -q)` is safe to capture;
//! progress and errors go to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use kiln_pipeline::{Event, EventSink};
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
    let mut text = format!("error: {err}");
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    eprintln!("{text}");
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

/// Where progress goes: bars on a terminal, plain lines otherwise. Shared by the
/// pipeline's and the registry client's event sinks so that lines never tear the bars.
pub struct Progress {
    quiet: bool,
    bars: Option<MultiProgress>,
    uploads: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    pub fn new(quiet: bool) -> Arc<Progress> {
        let bars = (!quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Arc::new(Progress {
            quiet,
            bars,
            uploads: Mutex::new(HashMap::new()),
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

    /// A byte counter per blob upload, on a terminal only.
    fn upload_progress(&self, key: String, sent: u64, total: u64) {
        let Some(bars) = &self.bars else { return };
        let mut uploads = self.uploads.lock().unwrap_or_else(|p| p.into_inner());
        let bar = uploads.entry(key.clone()).or_insert_with(|| {
            let bar = bars.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .expect("valid template"),
            );
            bar.set_message(key);
            bar
        });
        bar.set_position(sent);
    }

    fn upload_done(&self, key: &str) {
        let bar = self
            .uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    }

    /// Renders pipeline events (quiet mode drops all but warnings).
    pub fn event_sink(self: &Arc<Self>) -> EventSink {
        let this = self.clone();
        Arc::new(move |event| {
            let line = match event {
                Event::Warning(w) => format!("warning: {w}"),
                _ if this.quiet => return,
                Event::BaseResolved {
                    image,
                    base,
                    platforms,
                } => {
                    format!("{image}: base {base} for {}", platforms.join(", "))
                }
                Event::ArtifactCacheHit { image, digest } => {
                    format!("{image}: unchanged, using cached image {digest}")
                }
                Event::GoBuildStarted { .. } => return,
                Event::GoBuildFinished {
                    image,
                    platform,
                    elapsed,
                } => {
                    format!("{image}: built {platform} in {:.2}s", elapsed.as_secs_f64())
                }
                Event::BinaryLayerReused { image, platform } => {
                    format!("{image}: {platform} binary unchanged, cached layer reused")
                }
                Event::ImageAssembled { image, digest } => format!("{image}: image {digest}"),
                Event::Published { image, reference } => format!("{image}: published {reference}"),
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
    pub fn registry_sink(self: &Arc<Self>) -> kiln_registry::EventSink {
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
                    total,
                } => {
                    this.upload_progress(
                        format!("{repository} {}", short(&digest)),
                        bytes_sent,
                        total,
                    );
                    return;
                }
                RegistryEvent::BlobUploaded {
                    repository,
                    digest,
                    size,
                } => {
                    this.upload_done(&format!("{repository} {}", short(&digest)));
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
