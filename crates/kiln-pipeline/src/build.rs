//! Building one artifact: resolve the main package, resolve the base, write the kodata
//! layer once, then `go build` + binary layer + assembly per platform, in parallel.

use std::path::Path;
use std::sync::Arc;

use kiln_core::media_type::LayerCompression;
use kiln_core::naming::binary_name;
use kiln_core::{Digest, Reference};
use kiln_gobuild::{BuildRequest, Toolchain};
use kiln_image::assemble::base_annotations;
use kiln_image::cache::layer::{LayerCache, file_digest};
use kiln_image::ko_layers::binary_layer_teed;
use kiln_image::{BaseImage, Blob, BlobStore, Descriptor, Image, ImageSpec, Layer, ResolvedBase};
use kiln_registry::Client;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::Error;
use crate::artifact::{BuiltArtifact, Sboms};
use crate::artifact_cache;
use crate::base::registry_base;
use crate::context::Context;
use crate::events::{Event, EventSink, Stage};
use crate::kodata;
use crate::plan::{ArtifactPlan, BaseSpec};
use crate::push::{StreamedLayer, push_layers_early, repository_of};
use crate::remote_cache::{self, Lookup};
use crate::sbom;
use crate::stages::{Downloads, StageEvents};

/// Builds `plan`: its base, then (unless a cache has it) the kodata layer and every
/// platform image in parallel, then the index and SBOMs, recorded in the artifact cache.
pub async fn build_artifact(ctx: &Context, plan: &ArtifactPlan) -> Result<BuiltArtifact, Error> {
    let package = &plan.package;
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
    let boundary = kodata::boundary(
        &package.dir.join("kodata"),
        plan.kodata_allowed_root.as_deref(),
        ctx.env(),
    )
    .await?;
    // The key needs the package graph (`go_inputs.rs`), which `go list` may download
    // modules for: a graph Go cannot load gives no key, and `go build` reports why. After
    // an edit, the remembered graph's key is looked up and the graph is listed again
    // while `go build` runs; the result is stored under the key of the listed graph.
    let key_of = async |go_inputs: Option<crate::go_inputs::GoInputs>| match go_inputs {
        Some(go_inputs) => {
            let (version, env) = (&ctx.toolchain.version, ctx.env());
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
        match look_up_caches(ctx, plan, &base, key).await {
            Cached::Found(built) => return Ok(*built),
            Cached::Missed { unusable_record } => repush = unusable_record,
        }
    }
    let compressing = package
        .dir
        .join("kodata")
        .is_dir()
        .then(|| artifact_stage.start(Stage::Compressing));
    let kodata = kodata::write_layer(&ctx.store, plan, package, &base, boundary.clone()).await?;
    if let Some(compressing) = compressing {
        artifact_stage.finish(compressing);
    }
    let early_push = push_known_layers_early(ctx, plan, &base, &kodata);

    let mut tasks = JoinSet::new();
    for (position, base_image) in base.images.iter().enumerate() {
        let job = PlatformJob::new(ctx, plan, &base, position, base_image, &kodata)?;
        tasks.spawn(build_platform(job));
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
    built.sort_by_key(|platform| platform.position);
    let (images, image_sboms): (Vec<Image>, Vec<Option<Descriptor>>) =
        built.into_iter().map(|p| (p.image, p.sbom)).unzip();
    let (index, top) = top_of(ctx, plan, &base, &images)?;
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
        artifact_cache::ArtifactCache::of(ctx).put(
            key,
            &top,
            index.as_ref(),
            &images,
            sboms.as_ref(),
        )?;
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

/// What the caches know of an artifact's key.
enum Cached {
    /// Built before: from the local records, or complete in the registry pushed to.
    Found(Box<BuiltArtifact>),
    /// To be built; `unusable_record` when a registry record named an image the registry
    /// no longer holds whole (the push then checks every blob).
    Missed { unusable_record: bool },
}

/// The local artifact records first, then (when reading it) the registry cache.
async fn look_up_caches(
    ctx: &Context,
    plan: &ArtifactPlan,
    base: &ResolvedBase,
    key: &Digest,
) -> Cached {
    let found = |images, index, top, sboms, reused_from| {
        Cached::Found(Box::new(BuiltArtifact {
            plan: plan.clone(),
            base: base.clone(),
            images,
            index,
            top,
            sboms,
            record_key: None,
            reused_from,
            repush: false,
        }))
    };
    if let Some(hit) = artifact_cache::ArtifactCache::of(ctx).get(key) {
        ctx.events.as_ref()(Event::ArtifactCacheHit {
            image: plan.image.clone(),
            digest: hit.top.digest.to_string(),
        });
        return found(hit.images, hit.index, hit.top, hit.sboms, None);
    }
    if !ctx.remote_cache.reads() {
        return Cached::Missed {
            unusable_record: false,
        };
    }
    match look_up_in_registry(ctx, plan, key).await {
        Lookup::Found(hit) => {
            let from = Some(repository_of(&hit.record));
            found(hit.images, hit.index, hit.top, hit.sboms, from)
        }
        Lookup::Unusable(_) => Cached::Missed {
            unusable_record: true,
        },
        Lookup::Absent => Cached::Missed {
            unusable_record: false,
        },
    }
}

/// One platform's share of an artifact's build, owned, so that it runs as its own task.
struct PlatformJob {
    /// The platform's place in the base, which is the order of the built images.
    position: usize,
    /// The artifact's image name, for events.
    image: String,
    base_image: BaseImage,
    base_display: String,
    request: BuildRequest,
    spec: ImageSpec,
    kodata: Layer,
    compression: LayerCompression,
    capabilities: Option<Vec<u8>>,
    sbom: bool,
    /// Where a new binary layer is uploaded while it is compressed, when pushing.
    stream_to: Option<(Client, Reference)>,
    toolchain: Toolchain,
    store: BlobStore,
    events: EventSink,
    go_jobs: Arc<Semaphore>,
}

/// One platform's image and, when the plan asks for one, its SBOM.
struct PlatformBuilt {
    position: usize,
    image: Image,
    sbom: Option<Descriptor>,
}

impl PlatformJob {
    fn new(
        ctx: &Context,
        plan: &ArtifactPlan,
        base: &ResolvedBase,
        position: usize,
        base_image: &BaseImage,
        kodata: &Layer,
    ) -> Result<Self, Error> {
        let import_path = &plan.package.import_path;
        let platform = &base_image.platform;
        let (flags, ldflags) = plan.go.for_platform(platform)?;
        let request = BuildRequest {
            dir: plan.go_dir.clone(),
            import_path: import_path.clone(),
            platform: platform.clone(),
            flags,
            ldflags,
            env: plan.go.env.clone(),
            trimpath: plan.trimpath,
            disable_optimizations: plan.disable_optimizations,
            output: ctx.binary_path(&plan.go_dir, import_path, &platform.slug()),
        };
        // The base manifest's own annotations are kept, as ggcr's `mutate` keeps them for
        // ko; the base name and digest, then the user's, go on top.
        let mut annotations = base_image.manifest.annotations.clone();
        annotations.extend(base_annotations(base.name.as_deref(), &base_image.digest));
        annotations.extend(plan.annotations.clone());
        let spec = ImageSpec {
            app_name: binary_name(import_path),
            import_path: import_path.clone(),
            labels: plan.labels.clone(),
            annotations,
            user: plan.user.clone(),
            created: plan.source_date_epoch,
            kodata_created: plan.kodata_date_epoch,
        };
        let stream_to = ctx
            .registry
            .clone()
            .filter(|_| ctx.stream_pushes)
            .zip(plan.tagged_name().parse::<Reference>().ok());
        Ok(PlatformJob {
            position,
            image: plan.image.clone(),
            base_image: base_image.clone(),
            base_display: base.display.clone(),
            request,
            spec,
            kodata: kodata.clone(),
            compression: plan.compression,
            capabilities: plan.linux_capabilities.clone(),
            sbom: plan.sbom,
            stream_to,
            toolchain: ctx.toolchain.clone(),
            store: ctx.store.clone(),
            events: ctx.events.clone(),
            go_jobs: ctx.go_jobs.clone(),
        })
    }
}

/// `go build` for one platform (within the context's limit on concurrent builds), then its
/// binary layer and image, then its SBOM.
async fn build_platform(job: PlatformJob) -> Result<PlatformBuilt, Error> {
    let _permit = job
        .go_jobs
        .clone()
        .acquire_owned()
        .await
        .expect("semaphore is never closed");
    let platform = job.request.platform.to_string();
    let stage = StageEvents::new(&job.events, &job.image, Some(&platform));
    let building = stage.start(Stage::Building);
    let downloads = Downloads::new(&stage);
    let binary = job
        .toolchain
        .build(&job.request, &|module| downloads.heard(module))
        .await?;
    downloads.finish();
    stage.finish(building);
    let (position, make_sbom) = (job.position, job.sbom);
    let (toolchain, store, app_name) = (
        job.toolchain.clone(),
        job.store.clone(),
        job.spec.app_name.clone(),
    );
    let runtime = tokio::runtime::Handle::current();
    let layer_binary = binary.clone();
    let (image, streamed) = tokio::task::spawn_blocking(move || {
        assemble_platform(job, &layer_binary, &stage, &runtime)
    })
    .await??;
    if let Some((stream, layer)) = streamed {
        // Whether it landed or not, the push that follows checks the registry.
        stream.finish(&layer).await;
    }
    // Run while this platform's binary is still the one just built.
    let sbom = if make_sbom {
        Some(sbom::image_sbom(&toolchain, &store, &binary, &app_name, &image).await?)
    } else {
        None
    };
    Ok(PlatformBuilt {
        position,
        image,
        sbom,
    })
}

/// The blocking half of a platform's build: the binary layer (from the layer cache, or
/// compressed, and streamed to the push target as it is), then the image over the base.
fn assemble_platform(
    job: PlatformJob,
    binary: &Path,
    stage: &StageEvents,
    runtime: &tokio::runtime::Handle,
) -> Result<(Image, Option<(StreamedLayer, Descriptor)>), Error> {
    let media_type = job
        .base_image
        .layer_media_type(job.compression, &job.base_display)?;
    let cache = LayerCache::new(&job.store);
    let key = binary_layer_key(
        binary,
        &job.spec.app_name,
        media_type,
        job.capabilities.as_deref(),
    )?;
    let mut streamed = None;
    let layer = match cache.get(&key) {
        Some(layer) => {
            (job.events)(Event::BinaryLayerReused {
                image: job.image.clone(),
                platform: job.base_image.platform.to_string(),
            });
            layer
        }
        None => {
            let compressing = stage.start(Stage::Compressing);
            let (stream, copy) = match &job.stream_to {
                Some((client, target)) => {
                    let (stream, copy) = StreamedLayer::start(client, target, runtime);
                    (Some(stream), Some(copy))
                }
                None => (None, None),
            };
            let layer = binary_layer_teed(
                &job.store,
                binary,
                &job.spec.app_name,
                media_type,
                job.capabilities.as_deref(),
                copy,
            )?;
            cache.put(&key, &layer)?;
            stage.finish(compressing);
            streamed = stream.map(|s| (s, layer.descriptor.clone()));
            layer
        }
    };
    let image = kiln_image::assemble(&job.base_image, &job.kodata, &layer, &job.spec)?;
    job.store.write_bytes(&image.config.bytes)?;
    job.store.write_bytes(&image.manifest.bytes)?;
    Ok((image, streamed))
}

/// The layer cache's key of a binary layer: the binary, its name, the media type and,
/// only when set (so that layers cached without them keep their keys), the capabilities.
fn binary_layer_key(
    binary: &Path,
    app_name: &str,
    media_type: &str,
    capabilities: Option<&[u8]>,
) -> Result<Digest, Error> {
    let mut parts = vec![
        file_digest(binary)?.to_string(),
        app_name.to_owned(),
        media_type.to_owned(),
    ];
    let caps_hex: String = capabilities
        .iter()
        .copied()
        .flatten()
        .map(|b| format!("{b:02x}"))
        .collect();
    if !caps_hex.is_empty() {
        parts.push(format!("caps:{caps_hex}"));
    }
    Ok(LayerCache::key(
        &parts.iter().map(String::as_str).collect::<Vec<_>>(),
    ))
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
    Some(tokio::spawn(push_layers_early(
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

/// What gets tagged: the index over `images` (written into the store) when the base
/// gives an index, else the one image's manifest.
fn top_of(
    ctx: &Context,
    plan: &ArtifactPlan,
    base: &ResolvedBase,
    images: &[Image],
) -> Result<(Option<Blob>, Descriptor), Error> {
    if !base.output_is_index() {
        return Ok((None, images[0].descriptor()));
    }
    let index = index_over(plan, base, images);
    ctx.store.write_bytes(&index.bytes)?;
    let media_type = base.index_media_type.clone().unwrap_or_default();
    let top = index.descriptor(&media_type);
    Ok((Some(index), top))
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

/// The base `plan` names, as the platform images it selects: the built-in base, an OCI
/// layout's (its layers copied into the store), or a registry's.
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
            registry_base(client, &ctx.store, reference, &platforms).await
        }
    }
}
