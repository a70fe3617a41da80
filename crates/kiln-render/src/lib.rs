//! Rewriting Kubernetes YAML for three commands, with no I/O:
//!
//! - `kiln ko resolve`: [`find_ko_references`] lists the `ko://` strings of a YAML stream,
//!   [`replace_scalars`] (or [`KoManifest`], which parses once) puts the built references
//!   in their place, as ko's `resolve` does.
//! - `kiln render`: [`replace_images`] replaces the `image` fields Skaffold's `render`
//!   replaces.
//! - `kiln render -n`, and the renders `kiln run`/`deploy`/`delete` deploy with `-n`:
//!   [`set_namespace`] puts the namespace into `metadata.namespace` where Skaffold's
//!   renderers do, and says which manifests keep a namespace of their own.
//! - `kiln render -l`, and every render `kiln run`/`deploy`/`dev`/`debug` deploys (with
//!   the run's `skaffold.dev/run-id`): [`set_labels`] adds labels where Skaffold's
//!   renderers add them.
//! - `kiln debug`: [`debug_transform`] configures Go containers for Delve, as
//!   `skaffold debug` does.
//!
//! The first four are span-preserving splices: the output is the input byte for byte except
//! for the replaced scalars (and added `namespace:` and label lines), so comments, key order, quoting, flow style, documents and
//! `---` separators survive (ko and Skaffold re-encode every document instead). A replaced
//! scalar keeps its style: plain stays plain when the new value reads back as the same
//! string (else it is double-quoted), single and double quotes are kept (single quotes give
//! way to double quotes for line breaks and control characters), a `|`/`>` block becomes a
//! `|-`/`>-` block holding the value on one line. Scalars are read as go-yaml v3 reads them
//! (ko and Skaffold both use it): `8080`, `true`, `null` or `2001-01-01` written plain are
//! not strings.
//!
//! The debug transform changes structure, so it writes each transformed document out again
//! (as Skaffold does); every other document stays byte for byte. The namespace and label
//! injections do so too where a splice cannot stay within the mappings they change (an
//! aliased or merged-in one).
//!
//! YAML is read by `kiln-yaml` (the positioned arena, go-yaml v3's scalar resolution, `<<`
//! merges, and the limits); this crate holds the splicing, the Kubernetes rules and the
//! debug emitter. Errors ([`Error`]) name the line and column (1-based) and what is wrong.
//! Nothing panics on any input: nesting, line, value and document sizes and alias expansion
//! are bounded by kiln-yaml's limits, and an alias cannot point into its own anchor.

mod debug;
mod error;
mod images;
mod ko;
mod labels;
mod manifest;
mod mapping;
mod namespace;
mod scalar;
mod splice;
mod tree;
mod yaml;

pub use debug::{
    DEBUG_CONFIG_ANNOTATION, DEFAULT_HELPERS_REGISTRY, DebugOptions, ImageInfo,
    PROBE_TIMEOUTS_ANNOTATION, debug_transform,
};
pub use error::Error;
pub use images::{Build, replace_images};
pub use ko::{KoManifest, find_ko_references, replace_scalars};
pub use labels::{RUN_ID_LABEL, set_labels};
pub use namespace::{NamespaceConflict, Namespaced, set_namespace};
