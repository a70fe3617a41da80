//! The only place kiln writes to the terminal. stdout carries machine output (image
//! references, build JSON) and nothing else, so `$(kiln build -q)` is safe to capture;
//! progress and errors go to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use kiln_pipeline::{Event, EventSink};
use kiln_registry::RegistryEvent;

/// Prints one line of machine output. A closed pipe (`kiln build | head -1`) is not an
/// error worth reporting.
pub fn stdout_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

pub fn error(err: &anyhow::Error) {
    let mut text = format!("error: {err}");
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    eprintln!("{text}");
}

/// Renders pipeline events as log lines on stderr (quiet mode drops all but warnings).
pub fn event_sink(quiet: bool) -> EventSink {
    let tty = std::io::stderr().is_terminal();
    Arc::new(move |event| {
        let line = match event {
            Event::Warning(w) => format!("warning: {w}"),
            _ if quiet => return,
            Event::BaseResolved {
                image,
                base,
                platforms,
            } => {
                format!("{image}: base {base} for {}", platforms.join(", "))
            }
            Event::GoBuildStarted { image, platform } => {
                if !tty {
                    return;
                }
                format!("{image}: go build for {platform}")
            }
            Event::GoBuildFinished {
                image,
                platform,
                elapsed,
            } => {
                format!("{image}: built {platform} in {:.2}s", elapsed.as_secs_f64())
            }
            Event::ImageAssembled { image, digest } => format!("{image}: image {digest}"),
            Event::Published { image, reference } => format!("{image}: published {reference}"),
        };
        eprintln!("{line}");
    })
}

/// Renders registry activity: what was uploaded, mounted or already there, and retries.
pub fn registry_sink(quiet: bool) -> kiln_registry::EventSink {
    Arc::new(move |event| {
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
            _ if quiet => return,
            RegistryEvent::BlobUploaded {
                repository,
                digest,
                size,
            } => {
                format!("{repository}: pushed {digest} ({size} bytes)")
            }
            RegistryEvent::BlobMounted {
                repository,
                digest,
                from,
            } => {
                format!("{repository}: mounted {digest} from {from}")
            }
            RegistryEvent::BlobSkipped {
                repository, digest, ..
            } => {
                format!("{repository}: {digest} already present")
            }
            RegistryEvent::PlainHttp { registry } => format!("{registry}: using plain HTTP"),
            _ => return,
        };
        eprintln!("{line}");
    })
}
