//! The stage events of one artifact (or one of its platforms): when a stage a person
//! waits on starts and ends, and the module-download stage of a `go` command.

use std::time::Instant;

use crate::events::{Event, EventSink, Stage};

/// Start and finish events of an artifact's stages (of one platform's, with `platform`).
pub(crate) struct StageEvents {
    events: EventSink,
    image: String,
    platform: Option<String>,
}

impl StageEvents {
    pub(crate) fn new(events: &EventSink, image: &str, platform: Option<&str>) -> Self {
        StageEvents {
            events: events.clone(),
            image: image.to_owned(),
            platform: platform.map(str::to_owned),
        }
    }

    pub(crate) fn start(&self, stage: Stage) -> (Stage, Instant) {
        (self.events)(Event::StageStarted {
            image: self.image.clone(),
            platform: self.platform.clone(),
            stage: stage.clone(),
        });
        (stage, Instant::now())
    }

    pub(crate) fn finish(&self, (stage, started): (Stage, Instant)) {
        (self.events)(Event::StageFinished {
            image: self.image.clone(),
            platform: self.platform.clone(),
            stage,
            elapsed: started.elapsed(),
        });
    }
}

/// The downloading-modules stage of one `go` command: it starts when Go names the first
/// module it fetches and ends with the command (Go downloads and compiles in one process).
pub(crate) struct Downloads<'a> {
    stage: &'a StageEvents,
    started: std::sync::Mutex<Option<(Stage, Instant)>>,
}

impl<'a> Downloads<'a> {
    pub(crate) fn new(stage: &'a StageEvents) -> Self {
        Downloads {
            stage,
            started: std::sync::Mutex::new(None),
        }
    }

    pub(crate) fn heard(&self, module: &str) {
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        if started.is_none() {
            let module = module.to_owned();
            *started = Some(self.stage.start(Stage::DownloadingModules { module }));
        }
    }

    pub(crate) fn finish(self) {
        let started = self.started.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(started) = started {
            self.stage.finish(started);
        }
    }
}
