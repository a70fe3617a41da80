//! Retrying and deadlines: whole attempts retried with backoff (or the registry's
//! `Retry-After`, capped) within the operation's budget, and the idle deadline on every
//! request and body read, which a streamed body's progress pushes back.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Response;

use super::{Inner, lock, transport_error};
use crate::RegistryEvent;
use crate::error::{Ctx, Error, redact_url};

/// The longest `Retry-After` honoured; a registry asking for more is waited for this long.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// When a request body started and last made progress (a chunk handed to the connection),
/// for the idle watchdog of [`Inner::send_watched`].
#[derive(Clone)]
pub(crate) struct Progress(Arc<Mutex<Option<(Instant, Instant)>>>);

/// How many idle periods a long upload may wait for its answer at most (see [`Progress`]).
const MAX_GRACE_IDLES: u32 = 6;

impl Progress {
    pub fn new() -> Progress {
        Progress(Arc::new(Mutex::new(None)))
    }

    pub fn touch(&self) {
        let now = Instant::now();
        let mut p = lock(&self.0);
        *p = Some((p.map_or(now, |(first, _)| first), now));
    }

    /// The latest instant the request may stay silent until. The last chunks of a body sit in
    /// socket buffers (megabytes of them) and drain at the link's pace, which we cannot see,
    /// and a registry may work in proportion to the body once it has it (hashing, copying):
    /// a body that took `T` to send gets `idle + T` (`T` at most [`MAX_GRACE_IDLES`] idle
    /// periods) after its last chunk. A registry that stops reading stops the chunks, so a
    /// stall is still caught `idle` after the last one moved, plus that grace.
    fn silent_until(&self, started: Instant, idle: Duration) -> Instant {
        match *lock(&self.0) {
            None => started + idle,
            Some((first, last)) => {
                last.max(started) + idle + (last - first).min(idle * MAX_GRACE_IDLES)
            }
        }
    }
}

impl Inner {
    /// Runs `fut` (a request or a body read) until it finishes or makes no progress for the
    /// idle timeout: counted from the start, or as `progress` says.
    pub async fn within_idle<T>(
        &self,
        ctx: &Ctx,
        what: &str,
        progress: Option<&Progress>,
        fut: impl Future<Output = T>,
    ) -> Result<T, Error> {
        let idle = self.opts.timeouts.idle;
        let started = Instant::now();
        let until = || progress.map_or(started + idle, |p| p.silent_until(started, idle));
        tokio::pin!(fut);
        loop {
            if let Ok(v) = tokio::time::timeout_at(until().into(), &mut fut).await {
                return Ok(v);
            }
            if until() <= Instant::now() {
                tracing::debug!(what, ?idle, "registry request stalled");
                return Err(Error::Timeout {
                    ctx: Box::new(ctx.clone()),
                    request: what.to_owned(),
                    phase: "waiting for the answer to",
                    idle,
                    elapsed: started.elapsed(),
                });
            }
        }
    }

    /// The next chunk of a response body, failing after the idle timeout without one.
    pub async fn chunk(
        &self,
        resp: &mut Response,
        ctx: &Ctx,
    ) -> Result<Option<bytes::Bytes>, Error> {
        let what = format!("GET {}", redact_url(resp.url()));
        match self.within_idle(ctx, &what, None, resp.chunk()).await {
            Ok(r) => r.map_err(|e| transport_error(ctx, e)),
            Err(Error::Timeout {
                ctx,
                request,
                idle,
                elapsed,
                ..
            }) => Err(Error::Timeout {
                ctx,
                request,
                phase: "reading the body of",
                idle,
                elapsed,
            }),
            Err(e) => Err(e),
        }
    }

    /// Runs `attempt` up to `max_attempts` times while it fails with a retryable error,
    /// sleeping the policy's backoff (or the registry's `Retry-After`, capped) in between. No
    /// retry starts past the operation deadline ([`crate::Timeouts::operation`]).
    pub async fn retrying<T, F, Fut>(&self, ctx: &Ctx, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let policy = &self.opts.retry;
        let max = policy.max_attempts.max(1);
        let deadline = Instant::now() + self.opts.timeouts.operation;
        let mut n = 1;
        loop {
            match attempt(n).await {
                Ok(v) => return Ok(v),
                Err(mut e) => {
                    let mut delay = policy.delay(n);
                    if let Some(asked) = e.retry_after() {
                        delay = delay.max(asked.min(RETRY_AFTER_CAP));
                    }
                    if n >= max || !e.is_retryable() || Instant::now() + delay > deadline {
                        if n > 1 {
                            e.set_attempts(n);
                        }
                        return Err(e);
                    }
                    tracing::info!(what = %ctx, attempt = n, error = %e, ?delay, "retrying");
                    self.emit(RegistryEvent::Retrying {
                        what: ctx.to_string(),
                        attempt: n,
                        max_attempts: max,
                        delay,
                        reason: e.to_string(),
                    });
                    tokio::time::sleep(delay).await;
                    n += 1;
                }
            }
        }
    }
}
