//! Building one artifact: resolve the main package, resolve the base, write the kodata
//! layer once, then `go build` + binary layer + assembly per platform, in parallel.

use std::path::Path;
use std::time::Instant;

use kiln_core::naming::binary_name;
use kiln_core::{Digest, Reference};
use kiln_gobuild::{BuildRequest, Package};
use kiln_image::assemble::base_annotations;
use kiln_image::ko_layers::{KodataBoundary, binary_layer_teed, kodata_allowed_root, kodata_layer};
use kiln_image::layer_cache::{LayerCache, file_digest};
use kiln_image::{Blob, Descriptor, Image, ImageSpec, Layer, ResolvedBase};
use tokio::task::JoinSet;

use crate::Error;
use crate::artifact_cache;
use crate::context::Context;
use crate::events::{Event, EventSink, Stage};
use crate::plan::{ArtifactPlan, BaseSpec};
use crate::remote::StreamedLayer;
use crate::remote_cache::{self, Lookup};
use crate::sbom::{self, Sboms};

/// A built artifact: its platform images (in base order) and, for several platforms,
/// the index over them. Every blob is in the context's store.
#[derive(Clone, Debug)]
pub struct BuiltArtifact {
    pub plan: ArtifactPlan,
    pub base: ResolvedBase,
    pub images: Vec<Image>,
    pub index: Option<Blob>,
    /// The descriptor of what gets tagged: the index, or the single manifest.
    pub top: Descriptor,
    /// The SPDX documents, when the plan asked for them.
    pub sboms: Option<Sboms>,
    /// The key to record in the registry once pushed: set when this run built the
    /// artifact with a cache on (a cache hit was recorded by whoever built it, and
    /// re-recording would cost an unchanged push its one-HEAD fast path).
    pub record_key: Option<Digest>,
    /// The repository where a registry-cache record found this artifact complete: its
    /// layers are there, not in the store, and publishing only tags it.
    pub reused_from: Option<Reference>,
    /// A record named this image but the registry lacks part of it: the push checks every
    /// blob and manifest, even where the tag already points at the image.
    pub repush: bool,
}

impl BuiltArtifact {
    /// The platforms built, for messages: `linux/amd64, linux/arm64`.
    pub fn platform_list(&self) -> String {
        self.images
            .iter()
            .map(|i| i.platform.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub async fn build_artifact(ctx: &Context, plan: &ArtifactPlan) -> Result<BuiltArtifact, Error> {
    let package = plan.package.clone();
    let artifact_stage = StageEvents::new(&ctx.events, &plan.image, None);
    let resolving = artifact_stage.start(Stage::ResolvingBase);
    let base = resolve_base(ctx, plan).await?;
    artifact_stage.finish(resolving);
    ctx.events.as_ref()(Event::BaseResolved {
        image: plan.image.clone(),
        base: base.display.clone(),
        platforms: base.images.iter().map(|i| i.platform.to_string()).collect(),
    });
    // Which kodata links may be followed: asked of git once, for the key and the layer.
    let boundary = kodata_boundary(
        &package.dir.join("kodata"),
        plan.kodata_allowed_root.as_deref(),
    )
    .await;
    // The key needs the package graph (`go_inputs.rs`), which `go list` may download
    // modules for: a graph Go cannot load gives no key, and `go build` reports why. After
    // an edit, the remembered graph's key is looked up and the graph is listed again
    // while `go build` runs; the result is stored under the key of the listed graph.
    let key_of = async |go_inputs: Option<crate::go_inputs::GoInputs>| match go_inputs {
        Some(go_inputs) => {
            let (version, env) = (&ctx.toolchain.version, &ctx.process_env);
            let key = artifact_cache::key(plan, &base, &boundary, &go_inputs, version, env);
            key.await.map(Some)
        }
        None => Ok(None),
    };
    let mut relist = None;
    let mut cache_key = None;
    if ctx.artifact_cache || ctx.remote_cache.reads() {
        use crate::go_inputs::Remembered;
        let (lister, remembered) = crate::go_inputs::remembered(ctx, plan, &base).await?;
        let go_inputs = match remembered {
            Remembered::Current(go_inputs) => Some(go_inputs),
            Remembered::Stale(go_inputs) => {
                relist = Some((lister, go_inputs.clone()));
                Some(go_inputs)
            }
            Remembered::Unknown => lister.list(&artifact_stage).await?,
        };
        cache_key = key_of(go_inputs).await?;
    }
    // `--cache-artifacts=false` forces a build: neither cache is asked.
    let mut repush = false;
    if let Some(key) = cache_key.as_ref().filter(|_| ctx.artifact_cache) {
        if let Some(hit) = ctx.artifact_records().get(key) {
            ctx.events.as_ref()(Event::ArtifactCacheHit {
                image: plan.image.clone(),
                digest: hit.top.digest.to_string(),
            });
            return Ok(BuiltArtifact {
                plan: plan.clone(),
                base,
                images: hit.images,
                index: hit.index,
                top: hit.top,
                sboms: hit.sboms,
                record_key: None,
                reused_from: None,
                repush: false,
            });
        }
        if ctx.remote_cache.reads() {
            match look_up_in_registry(ctx, plan, key).await {
                Lookup::Found(found) => {
                    return Ok(BuiltArtifact {
                        plan: plan.clone(),
                        base,
                        images: found.images,
                        index: found.index,
                        top: found.top,
                        sboms: found.sboms,
                        record_key: None,
                        reused_from: Some(crate::remote::repository_of(&found.record)),
                        repush: false,
                    });
                }
                Lookup::Unusable(_) => repush = true,
                Lookup::Absent => {}
            }
        }
    }
    let compressing = package
        .dir
        .join("kodata")
        .is_dir()
        .then(|| artifact_stage.start(Stage::Compressing));
    let kodata = write_kodata_layer(ctx, plan, &package, &base, boundary.clone()).await?;
    if let Some(compressing) = compressing {
        artifact_stage.finish(compressing);
    }
    let early_push = push_known_layers_early(ctx, plan, &base, &kodata);
    let app_name = binary_name(&package.import_path);

    let mut tasks = JoinSet::new();
    for (position, base_image) in base.images.iter().cloned().enumerate() {
        let ctx_jobs = ctx.go_jobs.clone();
        let (flags, ldflags) = plan.go.for_platform(&base_image.platform)?;
        let request = BuildRequest {
            dir: plan.go_dir.clone(),
            import_path: package.import_path.clone(),
            platform: base_image.platform.clone(),
            flags,
            ldflags,
            env: plan.go.env.clone(),
            trimpath: plan.trimpath,
            disable_optimizations: plan.disable_optimizations,
            output: ctx.binary_path(
                &plan.go_dir,
                &package.import_path,
                &base_image.platform.slug(),
            ),
        };
        let toolchain = ctx.toolchain.clone();
        let store = ctx.store.clone();
        let events = ctx.events.clone();
        let image_name = plan.image.clone();
        let capabilities = plan.linux_capabilities.clone();
        let mut spec = ImageSpec {
            app_name: app_name.clone(),
            import_path: package.import_path.clone(),
            labels: plan.labels.clone(),
            // The base manifest's own annotations are kept, as ggcr's `mutate` keeps them
            // for ko; the base name and digest, then the user's, go on top.
            annotations: base_image
                .manifest
                .annotations
                .clone()
                .into_iter()
                .chain(base_annotations(base.name.as_deref(), &base_image.digest))
                .collect(),
            user: plan.user.clone(),
            created: plan.source_date_epoch,
            kodata_created: plan.kodata_date_epoch,
        };
        spec.annotations.extend(plan.annotations.clone());
        let kodata = kodata.clone();
        let make_sbom = plan.sbom;
        let (compression, base_display) = (plan.compression, base.display.clone());
        // Where a new binary layer is uploaded while it is compressed, when pushing.
        let stream_to = ctx
            .registry
            .clone()
            .filter(|_| ctx.stream_pushes)
            .zip(plan.tagged_name().parse::<kiln_core::Reference>().ok());
        let runtime = tokio::runtime::Handle::current();
        tasks.spawn(async move {
            let _permit = ctx_jobs
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            let platform = request.platform.to_string();
            let stage = StageEvents::new(&events, &image_name, Some(&platform));
            let building = stage.start(Stage::Building);
            let downloads = Downloads::new(&stage);
            let binary = toolchain
                .build(&request, &|module| downloads.heard(module))
                .await?;
            downloads.finish();
            stage.finish(building);
            let layer_binary = binary.clone();
            let (app_name, sbom_store) = (spec.app_name.clone(), store.clone());
            let (image, streamed) = tokio::task::spawn_blocking(move || -> Result<_, Error> {
                let media_type = base_image.layer_media_type(compression, &base_display)?;
                let cache = LayerCache::new(&store);
                let mut streamed = None;
                let caps_hex: String = capabilities
                    .iter()
                    .flatten()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let mut key_parts = vec![
                    file_digest(&layer_binary)?.to_string(),
                    spec.app_name.clone(),
                    media_type.to_owned(),
                ];
                // Capabilities change the layer: part of the key only when set, so that
                // layers cached without them keep their keys.
                if !caps_hex.is_empty() {
                    key_parts.push(format!("caps:{caps_hex}"));
                }
                let key_parts: Vec<&str> = key_parts.iter().map(String::as_str).collect();
                let key = LayerCache::key(&key_parts);
                let layer = match cache.get(&key) {
                    Some(layer) => {
                        events(Event::BinaryLayerReused {
                            image: image_name,
                            platform: base_image.platform.to_string(),
                        });
                        layer
                    }
                    None => {
                        let compressing = stage.start(Stage::Compressing);
                        let (stream, copy) = match &stream_to {
                            Some((client, target)) => {
                                let (stream, copy) = StreamedLayer::start(client, target, &runtime);
                                (Some(stream), Some(copy))
                            }
                            None => (None, None),
                        };
                        let layer = binary_layer_teed(
                            &store,
                            &layer_binary,
                            &spec.app_name,
                            media_type,
                            capabilities.as_deref(),
                            copy,
                        )?;
                        cache.put(&key, &layer)?;
                        stage.finish(compressing);
                        streamed = stream.map(|s| (s, layer.descriptor.clone()));
                        layer
                    }
                };
                let image = kiln_image::assemble(&base_image, &kodata, &layer, &spec)?;
                store.write_bytes(&image.config.bytes)?;
                store.write_bytes(&image.manifest.bytes)?;
                Ok((image, streamed))
            })
            .await??;
            if let Some((stream, layer)) = streamed {
                // Whether it landed or not, the push that follows checks the registry.
                stream.finish(&layer).await;
            }
            // Run while this platform's binary is still the one just built.
            let sbom = if make_sbom {
                let sbom =
                    sbom::image_sbom(&toolchain, &sbom_store, &binary, &app_name, &image).await?;
                Some(sbom)
            } else {
                None
            };
            Ok::<_, Error>((position, image, sbom))
        });
    }
    let mut built = Vec::with_capacity(base.images.len());
    let builds = async {
        while let Some(joined) = tasks.join_next().await {
            // The first failure cancels the other platforms' builds (dropping the JoinSet
            // aborts them, and kill_on_drop stops their `go` processes).
            built.push(joined??);
        }
        Ok::<_, Error>(())
    };
    let relisted = async {
        match &relist {
            Some((lister, _)) => lister.list(&artifact_stage).await.map(Some),
            None => Ok(None),
        }
    };
    let (builds, relisted) = tokio::join!(builds, relisted);
    builds?;
    // An edit that moved no import leaves the graph, and so the key, as looked up.
    if let (Some(listed), Some((_, looked_up))) = (relisted?, &relist)
        && listed.as_ref() != Some(looked_up)
    {
        cache_key = key_of(listed).await?;
    }
    if let Some(early_push) = early_push {
        // Landed or not, the push that follows checks every blob.
        let _ = early_push.await;
    }
    built.sort_by_key(|(position, _, _)| *position);
    let (images, image_sboms): (Vec<Image>, Vec<Option<Descriptor>>) = built
        .into_iter()
        .map(|(_, image, sbom)| (image, sbom))
        .unzip();
    let (index, top) = if base.output_is_index() {
        let index = index_over(plan, &base, &images);
        ctx.store.write_bytes(&index.bytes)?;
        let media_type = base.index_media_type.clone().unwrap_or_default();
        let top = index.descriptor(&media_type);
        (Some(index), top)
    } else {
        (None, images[0].descriptor())
    };
    let sboms = match image_sboms.into_iter().collect::<Option<Vec<_>>>() {
        Some(image_sboms) if plan.sbom => Some(Sboms {
            images: image_sboms,
            index: index
                .as_ref()
                .map(|index| sbom::index_sbom(&ctx.store, index, &top.media_type, &images))
                .transpose()?,
        }),
        _ => None,
    };
    if let Some(key) = cache_key.as_ref().filter(|_| ctx.artifact_cache) {
        ctx.artifact_records()
            .put(key, &top, index.as_ref(), &images, sboms.as_ref())?;
    }
    ctx.events.as_ref()(Event::ImageAssembled {
        image: plan.image.clone(),
        digest: top.digest.to_string(),
    });
    Ok(BuiltArtifact {
        plan: plan.clone(),
        base,
        images,
        index,
        top,
        sboms,
        record_key: cache_key,
        reused_from: None,
        repush,
    })
}

/// When pushing, starts uploading the layers known before `go build` (every base layer and
/// the kodata layer) to the push target, so that they travel while Go compiles.
fn push_known_layers_early(
    ctx: &Context,
    plan: &ArtifactPlan,
    base: &ResolvedBase,
    kodata: &Layer,
) -> Option<tokio::task::JoinHandle<()>> {
    let client = ctx.registry.clone().filter(|_| ctx.stream_pushes)?;
    let target: Reference = plan.tagged_name().parse().ok()?;
    let base_source = match &plan.base {
        BaseSpec::Registry(reference) => Some(reference.clone()),
        _ => None,
    };
    let mut layers: Vec<Descriptor> = base
        .images
        .iter()
        .flat_map(|image| image.manifest.layers.iter().cloned())
        .chain(std::iter::once(kodata.descriptor.clone()))
        .collect();
    layers.sort_by_key(|a| a.digest.to_string());
    layers.dedup_by(|a, b| a.digest == b.digest);
    Some(tokio::spawn(crate::remote::push_layers_early(
        client,
        ctx.store.clone(),
        base_source,
        target,
        layers,
    )))
}

/// The artifact as recorded in the repository it is pushed to, verified. A record that
/// cannot be used is reported (a warning says why) and is a miss like no record at all.
async fn look_up_in_registry(ctx: &Context, plan: &ArtifactPlan, key: &Digest) -> Lookup {
    let target: Option<Reference> = plan.tagged_names().first().and_then(|n| n.parse().ok());
    let (Some(target), Some(client)) = (target, ctx.registry.as_ref()) else {
        return Lookup::Absent;
    };
    let lookup = remote_cache::lookup(client, &ctx.store, &target, key, plan.sbom).await;
    match &lookup {
        Lookup::Absent => {}
        Lookup::Unusable(reason) => ctx.events.as_ref()(Event::Warning(format!(
            "{}: the registry cache record {} cannot be used ({reason}); building",
            plan.image,
            target.with_tag(&remote_cache::record_tag(key))
        ))),
        Lookup::Found(found) => ctx.events.as_ref()(Event::RegistryCacheHit {
            image: plan.image.clone(),
            digest: found.top.digest.to_string(),
            record: found.record.to_string(),
        }),
    }
    lookup
}

fn index_over(plan: &ArtifactPlan, base: &ResolvedBase, images: &[Image]) -> Blob {
    let pairs: Vec<(Image, Option<Descriptor>)> = images
        .iter()
        .cloned()
        .zip(base.images.iter().map(|b| b.index_descriptor.clone()))
        .collect();
    let mut annotations = base_annotations(base.name.as_deref(), &base.top.digest);
    annotations.extend(plan.annotations.clone());
    kiln_image::assemble_index(
        base.index_media_type.as_deref().unwrap_or_default(),
        &pairs,
        annotations,
    )
}

async fn resolve_base(ctx: &Context, plan: &ArtifactPlan) -> Result<ResolvedBase, Error> {
    let platforms = plan.platforms.clone();
    match &plan.base {
        BaseSpec::Builtin => {
            let top = ctx.builtin_base().await?;
            let store = ctx.store.clone();
            tokio::task::spawn_blocking(move || {
                kiln_image::layout::resolve_from_store(
                    &store,
                    kiln_image::builtin::BUILTIN_BASE_NAME,
                    None,
                    top,
                    &platforms,
                )
            })
            .await?
            .map_err(Error::from)
        }
        BaseSpec::OciLayout { path, reference } => {
            let (path, reference, display) = (path.clone(), reference.clone(), plan.base.display());
            let store = ctx.store.clone();
            tokio::task::spawn_blocking(move || -> Result<ResolvedBase, Error> {
                let layout = kiln_image::OciLayout::open(&path)?;
                let base = layout.resolve_base(&display, reference.as_deref(), &platforms)?;
                // Bring the base's blobs into the cache store, so that every output can
                // read all of an image's blobs from one place.
                for image in &base.images {
                    for layer in &image.manifest.layers {
                        store.import_from(layout.store(), &layer.digest)?;
                    }
                }
                Ok(base)
            })
            .await?
        }
        BaseSpec::Registry(reference) => {
            let client = ctx.registry(&format!("base image {reference}"))?;
            crate::remote::registry_base(client, &ctx.store, reference, &platforms).await
        }
    }
}

/// Where `kodata`'s symlinks may point: the allowed root, minus what git ignores in it
/// (asked of git here, so kiln-image spawns nothing). An explicit
/// `KO_DATA_PATH_ALLOWED_ROOT` allows everything under it, as in ko.
pub(crate) async fn kodata_boundary(kodata: &Path, allowed_env: Option<&Path>) -> KodataBoundary {
    let boundary = kodata_allowed_root(kodata, allowed_env);
    if boundary.explicit || !kodata.is_dir() || !boundary.root.join(".git").exists() {
        return boundary;
    }
    let ignored = kiln_gobuild::git::ignored_paths(&boundary.root).await;
    boundary.with_ignored(ignored)
}

async fn write_kodata_layer(
    ctx: &Context,
    plan: &ArtifactPlan,
    package: &Package,
    base: &ResolvedBase,
    boundary: KodataBoundary,
) -> Result<Layer, Error> {
    let kodata = package.dir.join("kodata");
    let mtime = plan.kodata_date_epoch.unwrap_or(0).max(0) as u64;
    let media_type = base.images[0].layer_media_type(plan.compression, &base.display)?;
    let store = ctx.store.clone();
    tokio::task::spawn_blocking(move || {
        kodata_layer(&store, Some(&kodata), &boundary, mtime, media_type)
    })
    .await?
    .map_err(Error::from)
}

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
