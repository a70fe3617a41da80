//! SPDX 2.3 software bills of materials: `go version -m` parsed into [`GoBuildInfo`], and
//! the SPDX JSON documents ko attaches to an image ([`ImageSbom`]) and to an index
//! ([`IndexSbom`]).
//!
//! The documents follow ko's shape (internal/sbom/spdx.go): the same packages, relationships,
//! purls and identifiers, so tools that read ko's SBOMs read kiln's. They differ where ko's
//! output is not valid SPDX or not reproducible:
//!
//! * SPDX identifiers only keep `[A-Za-z0-9.-]` (ko's `SPDXRef-Package-example.com.app-(devel)`
//!   fails validation) and are made unique;
//! * `created` is the image config's `created` converted to UTC (ko formats the local time
//!   with a literal `Z`), so the same image always gets the same bytes;
//! * a dependency replaced by another module is listed as the module that was compiled in;
//! * proxy download locations use the module proxy's case encoding (`!burnt!sushi`);
//! * the image's purl carries its platform, and the main module its version when Go stamped one.

use std::collections::HashSet;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::gotime::{parse_rfc3339, rfc3339_utc};
use crate::{Digest, Platform, Reference};

pub const SPDX_VERSION: &str = "SPDX-2.3";
const NOASSERTION: &str = "NOASSERTION";
/// Go's zero `time.Time`, what a config without `created` means.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SbomError {
    #[error("cannot parse `go version -m` output: line {line}: {reason}")]
    BuildInfo { line: usize, reason: String },
    #[error("the image config's `created` is `{0}`, which is not an RFC 3339 time")]
    Created(String),
    #[error("the base image annotation `{name}` is not an image reference: {reason}")]
    BaseName { name: String, reason: &'static str },
}

/// A module as `go version -m` lists it (`mod`, `dep` or `=>` line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoModule {
    pub path: String,
    /// `(devel)` for a main module Go could not stamp, empty for some directory replacements.
    pub version: String,
    /// The `h1:` go.sum hash; absent for vendored builds and directory replacements.
    pub sum: Option<String>,
    /// The `=>` line that follows, when go.mod replaces this module.
    pub replace: Option<Box<GoModule>>,
}

/// The build information Go embeds in a binary, as `go version -m` prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoBuildInfo {
    /// The binary as named on the first line (callers put its path in the image here).
    pub binary: String,
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    /// Absent for binaries built outside module mode.
    pub main: Option<GoModule>,
    pub deps: Vec<GoModule>,
    /// `build` lines (`-trimpath=true`, `GOARCH=amd64`, `vcs.revision=…`), in order.
    pub settings: Vec<(String, String)>,
}

impl GoBuildInfo {
    /// Parses `go version -m <binary>` output with the rules of Go's
    /// `debug.ParseBuildInfo`: lines it does not know are skipped, malformed known lines are
    /// errors.
    pub fn parse(text: &str) -> Result<GoBuildInfo, SbomError> {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        let Some((binary, go_version)) = header.rsplit_once(": ") else {
            return Err(SbomError::BuildInfo {
                line: 1,
                reason: format!("expected `<binary>: <go version>`, got `{header}`"),
            });
        };
        let mut info = GoBuildInfo {
            binary: binary.to_owned(),
            go_version: go_version.trim().to_owned(),
            ..GoBuildInfo::default()
        };
        // Where a `=>` line attaches: the module on the line before, if any.
        let mut last: Option<&mut GoModule> = None;
        for (number, line) in lines.enumerate() {
            let fail = |reason: String| SbomError::BuildInfo {
                line: number + 2,
                reason,
            };
            // `go version -m` indents every line after the first with a tab.
            let line = line.trim_start();
            let Some((word, rest)) = line.split_once('\t') else {
                last = None;
                continue;
            };
            match word {
                "path" => {
                    info.path = rest.to_owned();
                    last = None;
                }
                "mod" => last = Some(info.main.insert(module_line(rest).map_err(fail)?)),
                "dep" => {
                    info.deps.push(module_line(rest).map_err(fail)?);
                    last = info.deps.last_mut();
                }
                "=>" => {
                    let replacement = replacement_line(rest).map_err(fail)?;
                    let Some(module) = last.take() else {
                        return Err(fail("replacement with no module on the line before".into()));
                    };
                    module.replace = Some(Box::new(replacement));
                }
                "build" => {
                    info.settings.push(setting_line(rest).map_err(fail)?);
                    last = None;
                }
                _ => last = None,
            }
        }
        Ok(info)
    }
}

/// `path \t version [\t sum]`.
fn module_line(rest: &str) -> Result<GoModule, String> {
    let fields: Vec<&str> = rest.split('\t').collect();
    match fields[..] {
        [path, version] | [path, version, _] => Ok(GoModule {
            path: path.to_owned(),
            version: version.to_owned(),
            sum: fields
                .get(2)
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string()),
            replace: None,
        }),
        _ => Err(format!("expected 2 or 3 columns, got {}", fields.len())),
    }
}

/// `path \t version \t sum` (Go always prints the three columns after `=>`).
fn replacement_line(rest: &str) -> Result<GoModule, String> {
    let fields: Vec<&str> = rest.split('\t').collect();
    match fields[..] {
        [path, version, sum] => Ok(GoModule {
            path: path.to_owned(),
            version: version.to_owned(),
            sum: Some(sum.to_owned()).filter(|s| !s.is_empty()),
            replace: None,
        }),
        _ => Err(format!(
            "expected 3 columns for a replacement, got {}",
            fields.len()
        )),
    }
}

/// `key=value`, where Go quotes (`strconv.Quote`) a key or value that holds spaces, quotes
/// or `=` (in keys): `-ldflags="-s -w"`.
fn setting_line(kv: &str) -> Result<(String, String), String> {
    let (key, raw_value) = match kv.chars().next() {
        None => return Err("build line missing '='".into()),
        Some('=') => return Err("build line with missing key".into()),
        Some('"' | '`') => {
            let end = quoted_prefix_len(kv).ok_or("invalid quoted key in build line")?;
            let key = go_unquote(&kv[..end]).ok_or("invalid quoted key in build line")?;
            let value = kv[end..]
                .strip_prefix('=')
                .ok_or("build line missing '=' after quoted key")?;
            (key, value)
        }
        Some(_) => {
            let (key, value) = kv
                .split_once('=')
                .ok_or("build line missing '=' after key")?;
            (key.to_owned(), value)
        }
    };
    let value = match raw_value.chars().next() {
        Some('"' | '`') => go_unquote(raw_value).ok_or("invalid quoted value in build line")?,
        _ => raw_value.to_owned(),
    };
    Ok((key, value))
}

/// The length of the Go string literal at the start of `s` (Go's `strconv.QuotedPrefix`).
fn quoted_prefix_len(s: &str) -> Option<usize> {
    let quote = s.chars().next()?;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' if quote == '"' => escaped = true,
            '\n' => return None,
            c if c == quote => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Go's `strconv.Unquote` for the literals `strconv.Quote` writes (and raw backquoted ones).
fn go_unquote(literal: &str) -> Option<String> {
    if let Some(raw) = literal.strip_prefix('`') {
        return raw
            .strip_suffix('`')
            .filter(|r| !r.contains('`'))
            .map(str::to_owned);
    }
    let body = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    let digits = |chars: &mut std::str::Chars, n: usize, radix: u32| -> Option<u32> {
        let text: String = chars.by_ref().take(n).collect();
        let valid = text.len() == n && text.chars().all(|c| c.is_digit(radix));
        valid.then(|| u32::from_str_radix(&text, radix).ok())?
    };
    while let Some(c) = chars.next() {
        let decoded = match c {
            '"' | '\n' => return None,
            '\\' => match chars.next()? {
                'a' => '\x07',
                'b' => '\x08',
                'f' => '\x0c',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'v' => '\x0b',
                '\\' => '\\',
                '"' => '"',
                // `\xHH` is a byte: invalid UTF-8 stays bytes until the end.
                'x' => {
                    out.push(u8::try_from(digits(&mut chars, 2, 16)?).ok()?);
                    continue;
                }
                'u' => char::from_u32(digits(&mut chars, 4, 16)?)?,
                'U' => char::from_u32(digits(&mut chars, 8, 16)?)?,
                d @ '0'..='7' => {
                    let low = digits(&mut chars, 2, 8)?;
                    let value = d.to_digit(8)? * 64 + low;
                    out.push(u8::try_from(value).ok()?);
                    continue;
                }
                _ => return None,
            },
            c => c,
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(decoded.encode_utf8(&mut buf).as_bytes());
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The image a build started from, as the `org.opencontainers.image.base.*` annotations name
/// it.
#[derive(Clone, Copy, Debug)]
pub struct BaseImage<'a> {
    /// `org.opencontainers.image.base.name`, e.g. `cgr.dev/chainguard/static:latest`.
    pub name: &'a str,
    /// `org.opencontainers.image.base.digest`.
    pub digest: &'a Digest,
}

/// What the SPDX document of one platform image is made from.
#[derive(Clone, Copy, Debug)]
pub struct ImageSbom<'a> {
    /// kiln's version, for the creator (`Tool: kiln-<version>`).
    pub kiln_version: &'a str,
    /// The image manifest's digest and media type.
    pub digest: &'a Digest,
    pub media_type: &'a str,
    pub platform: &'a Platform,
    /// The image config's `created` (RFC 3339), or empty when the config has none.
    pub created: &'a str,
    pub base: Option<BaseImage<'a>>,
    pub build_info: &'a GoBuildInfo,
}

/// One platform image listed by an index.
#[derive(Clone, Debug)]
pub struct IndexEntry {
    pub digest: Digest,
    pub media_type: String,
    pub platform: Option<Platform>,
}

/// What the SPDX document of an index is made from.
#[derive(Clone, Copy, Debug)]
pub struct IndexSbom<'a> {
    pub kiln_version: &'a str,
    pub digest: &'a Digest,
    pub media_type: &'a str,
    /// The first image's config `created` (ko's choice: an index has no date of its own).
    pub created: &'a str,
    pub base: Option<BaseImage<'a>>,
    pub manifests: &'a [IndexEntry],
}

impl ImageSbom<'_> {
    /// The SPDX 2.3 JSON document: image → base image (`DESCENDANT_OF`), image → main module
    /// (`CONTAINS`), main module → each dependency (`DEPENDS_ON`).
    pub fn to_json(&self) -> Result<Vec<u8>, SbomError> {
        let mut doc = Document::new(self.kiln_version, self.created, self.digest)?;
        let image_id = doc.describes.clone();
        doc.relate("SPDXRef-DOCUMENT", "DESCRIBES", &image_id);
        let mut qualifiers = vec![("mediaType", self.media_type.to_owned())];
        qualifiers.extend(platform_qualifiers(self.platform));
        doc.packages.push(json!({
            "SPDXID": image_id,
            "name": self.digest.to_string(),
            "filesAnalyzed": false,
            "licenseDeclared": NOASSERTION,
            "licenseConcluded": NOASSERTION,
            "downloadLocation": NOASSERTION,
            "copyrightText": NOASSERTION,
            "primaryPackagePurpose": "CONTAINER",
            "externalRefs": [purl(oci_purl("image", self.digest, qualifiers))],
        }));
        if let Some(base) = self.base {
            doc.add_base(&image_id, base)?;
        }
        if let Some(main) = &self.build_info.main {
            let main_id = doc.add_main_module(main);
            doc.relate(&image_id, "CONTAINS", &main_id);
            for dep in &self.build_info.deps {
                let dep_id = doc.add_dependency(dep);
                doc.relate(&main_id, "DEPENDS_ON", &dep_id);
            }
        }
        Ok(doc.to_json())
    }
}

impl IndexSbom<'_> {
    /// The SPDX 2.3 JSON document: the index, its base (`DESCENDANT_OF`) and each platform
    /// image (ko's `index VARIANT_OF image`).
    pub fn to_json(&self) -> Result<Vec<u8>, SbomError> {
        let mut doc = Document::new(self.kiln_version, self.created, self.digest)?;
        let index_id = doc.describes.clone();
        let qualifiers = vec![("mediaType", self.media_type.to_owned())];
        doc.packages.push(json!({
            "SPDXID": index_id,
            "name": self.digest.to_string(),
            "filesAnalyzed": false,
            "licenseDeclared": NOASSERTION,
            "licenseConcluded": NOASSERTION,
            "downloadLocation": NOASSERTION,
            "copyrightText": NOASSERTION,
            "primaryPackagePurpose": "CONTAINER",
            "checksums": [sha256_checksum(self.digest.hex())],
            "externalRefs": [purl(oci_purl("index", self.digest, qualifiers))],
        }));
        if let Some(base) = self.base {
            doc.add_base(&index_id, base)?;
        }
        for entry in self.manifests {
            let id = oci_package_id(&entry.digest);
            doc.relate(&index_id, "VARIANT_OF", &id);
            let mut qualifiers = vec![("mediaType", entry.media_type.clone())];
            qualifiers.extend(entry.platform.iter().flat_map(platform_qualifiers));
            let mut package = json!({
                "SPDXID": id,
                "name": entry.digest.to_string(),
            });
            if let Some(p) = &entry.platform {
                package["versionInfo"] = Value::String(p.to_string());
            }
            extend(
                &mut package,
                json!({
                    "filesAnalyzed": false,
                    "licenseDeclared": NOASSERTION,
                    "licenseConcluded": NOASSERTION,
                    "downloadLocation": NOASSERTION,
                    "copyrightText": NOASSERTION,
                    "primaryPackagePurpose": "CONTAINER",
                    "checksums": [sha256_checksum(entry.digest.hex())],
                    "externalRefs": [purl(oci_purl("image", &entry.digest, qualifiers))],
                }),
            );
            doc.packages.push(package);
        }
        Ok(doc.to_json())
    }
}

/// A document being built: fields are emitted in ko's order.
struct Document {
    name: String,
    namespace: String,
    created: String,
    creator: String,
    /// The identifier of the image or index the document describes.
    describes: String,
    packages: Vec<Value>,
    relationships: Vec<Value>,
    ids: HashSet<String>,
}

impl Document {
    fn new(kiln_version: &str, created: &str, digest: &Digest) -> Result<Document, SbomError> {
        let describes = oci_package_id(digest);
        Ok(Document {
            name: format!("sbom-{digest}"),
            namespace: format!("http://spdx.org/spdxdocs/kiln/{digest}"),
            created: spdx_date(created)?,
            creator: format!("Tool: kiln-{kiln_version}"),
            ids: HashSet::from([describes.clone()]),
            describes,
            packages: Vec::new(),
            relationships: Vec::new(),
        })
    }

    fn relate(&mut self, element: &str, kind: &str, related: &str) {
        self.relationships.push(json!({
            "spdxElementId": element,
            "relationshipType": kind,
            "relatedSpdxElement": related,
        }));
    }

    /// `raw` made a valid SPDX identifier (`SPDXRef-` then `[A-Za-z0-9.-]`) that no other
    /// package of this document has.
    fn unique_id(&mut self, raw: &str) -> String {
        let clean: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let mut id = format!("SPDXRef-Package-{clean}");
        let mut n = 2;
        while self.ids.contains(&id) {
            id = format!("SPDXRef-Package-{clean}-{n}");
            n += 1;
        }
        self.ids.insert(id.clone());
        id
    }

    /// ko's `addBaseImage`: the base as a package `element` descends from.
    fn add_base(&mut self, element: &str, base: BaseImage) -> Result<(), SbomError> {
        let reference: Reference =
            base.name
                .parse()
                .map_err(|e: crate::reference::ReferenceError| SbomError::BaseName {
                    name: base.name.to_owned(),
                    reason: e.reason,
                })?;
        let id = oci_package_id(base.digest);
        self.ids.insert(id.clone());
        self.relate(element, "DESCENDANT_OF", &id);
        let mut qualifiers = vec![("repository_url", reference.name())];
        // ggcr parses a name without tag or digest as `:latest`; a digest wins over a tag.
        if reference.digest.is_none() {
            let tag = reference.tag.clone().unwrap_or_else(|| "latest".to_owned());
            qualifiers.push(("tag", tag));
        }
        self.packages.push(json!({
            "SPDXID": id,
            "name": format!("{}@{}", reference.name(), base.digest),
            "versionInfo": base.name,
            "filesAnalyzed": false,
            "licenseDeclared": NOASSERTION,
            "licenseConcluded": NOASSERTION,
            "downloadLocation": NOASSERTION,
            "copyrightText": NOASSERTION,
            "checksums": [sha256_checksum(base.digest.hex())],
            "externalRefs": [purl(oci_purl("image", base.digest, qualifiers))],
        }));
        Ok(())
    }

    fn add_main_module(&mut self, main: &GoModule) -> String {
        let id = self.unique_id(&format!("{}-{}", main.path.replace('/', "."), main.version));
        let mut package = json!({"SPDXID": id, "name": main.path});
        // ko never records the main module's version; Go stamps a real one from VCS tags.
        if !main.version.is_empty() && main.version != "(devel)" {
            package["versionInfo"] = Value::String(main.version.clone());
        }
        extend(
            &mut package,
            json!({
                "filesAnalyzed": false,
                "licenseDeclared": NOASSERTION,
                "licenseConcluded": NOASSERTION,
                "downloadLocation": format!("https://{}", main.path),
                "copyrightText": NOASSERTION,
                "externalRefs": [purl(go_purl(main))],
            }),
        );
        self.packages.push(package);
        id
    }

    /// A dependency: the module whose code was compiled in. A replacement by another module
    /// is that module (noting what it replaces); a replacement by a local directory keeps
    /// the required module's name, as there is nothing else to call it by.
    fn add_dependency(&mut self, dep: &GoModule) -> String {
        let (module, download, source_info) = match dep.replace.as_deref() {
            Some(local) if is_directory_replacement(local) => (
                dep,
                NOASSERTION.to_owned(),
                Some(format!("replaced by the local directory {}", local.path)),
            ),
            Some(module) => (
                module,
                proxy_zip_url(module),
                Some(format!("replaces {} {}", dep.path, dep.version)),
            ),
            None => (dep, proxy_zip_url(dep), None),
        };
        let id = self.unique_id(&format!(
            "{}-{}",
            module.path.replace('/', "."),
            module.version
        ));
        let mut package = json!({
            "SPDXID": id,
            "name": module.path,
            "versionInfo": module.version,
            "filesAnalyzed": false,
            "licenseDeclared": NOASSERTION,
            "licenseConcluded": NOASSERTION,
            "downloadLocation": download,
        });
        if let Some(info) = source_info {
            package["sourceInfo"] = Value::String(info);
        }
        package["copyrightText"] = Value::String(NOASSERTION.to_owned());
        if let Some(hex) = module.sum.as_deref().and_then(h1_to_sha256_hex) {
            package["checksums"] = json!([sha256_checksum(&hex)]);
        }
        package["externalRefs"] = json!([purl(go_purl(module))]);
        self.packages.push(package);
        id
    }

    /// Pretty-printed (as ko's encoder does) with a final newline.
    fn to_json(&self) -> Vec<u8> {
        let doc = json!({
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": self.name,
            "spdxVersion": SPDX_VERSION,
            "creationInfo": {
                "created": self.created,
                "creators": [self.creator],
            },
            "dataLicense": "CC0-1.0",
            "documentNamespace": self.namespace,
            "documentDescribes": [self.describes],
            "packages": self.packages,
            "relationships": self.relationships,
        });
        let mut bytes =
            serde_json::to_vec_pretty(&doc).expect("in-memory JSON serialisation cannot fail");
        bytes.push(b'\n');
        bytes
    }
}

/// Appends `more`'s fields to the object `target`, in order.
fn extend(target: &mut Value, more: Value) {
    if let (Value::Object(target), Value::Object(more)) = (target, more) {
        target.extend(more);
    }
}

/// Go reports a directory replacement with version `(devel)` (older releases: empty).
fn is_directory_replacement(module: &GoModule) -> bool {
    module.version.is_empty() || module.version == "(devel)"
}

fn oci_package_id(digest: &Digest) -> String {
    format!("SPDXRef-Package-sha256-{}", digest.hex())
}

fn sha256_checksum(hex: &str) -> Value {
    json!({"algorithm": "SHA256", "checksumValue": hex})
}

fn purl(locator: String) -> Value {
    json!({
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceLocator": locator,
        "referenceType": "purl",
    })
}

/// `arch`, `os`, `variant`, `os-version`, as ko qualifies an index's images.
fn platform_qualifiers(p: &Platform) -> Vec<(&'static str, String)> {
    let mut q = vec![("arch", p.architecture.clone()), ("os", p.os.clone())];
    q.extend(p.variant.clone().map(|v| ("variant", v)));
    q.extend(p.os_version.clone().map(|v| ("os-version", v)));
    q
}

/// `pkg:oci/<name>@<digest>?<qualifiers>`, qualifiers encoded as Go's `url.Values.Encode`
/// does (sorted by key, query-escaped), so the string matches ko's.
fn oci_purl(name: &str, digest: &Digest, mut qualifiers: Vec<(&str, String)>) -> String {
    let mut purl = format!("pkg:oci/{name}@{digest}");
    qualifiers.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (key, value)) in qualifiers.iter().enumerate() {
        purl.push(if i == 0 { '?' } else { '&' });
        purl.push_str(&query_escape(key));
        purl.push('=');
        purl.push_str(&query_escape(value));
    }
    purl
}

/// `pkg:golang/<path>@<version>?type=module`, with the first two path elements lower-cased
/// as the purl spec asks (ko's `goRef`).
fn go_purl(module: &GoModule) -> String {
    let parts: Vec<&str> = module.path.split('/').collect();
    let path = if parts.len() > 2 {
        let mut lowered = vec![parts[0].to_lowercase(), parts[1].to_lowercase()];
        lowered.extend(parts[2..].iter().map(|p| p.to_string()));
        lowered.join("/")
    } else {
        module.path.clone()
    };
    format!("pkg:golang/{path}@{}?type=module", module.version)
}

/// The module proxy's zip URL, with its case encoding (`A` → `!a`) so that it resolves.
fn proxy_zip_url(module: &GoModule) -> String {
    format!(
        "https://proxy.golang.org/{}/@v/{}.zip",
        proxy_escape(&module.path),
        proxy_escape(&module.version)
    )
}

fn proxy_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The hex of an `h1:` go.sum hash (base64 of a SHA-256), as ko records it; `None` for
/// anything else.
fn h1_to_sha256_hex(sum: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(sum.strip_prefix("h1:")?)
        .ok()?;
    (raw.len() == 32).then(|| hex::encode(raw))
}

/// An RFC 3339 time as SPDX wants it: UTC, whole seconds, `YYYY-MM-DDThh:mm:ssZ`. Empty
/// means Go's zero time (a config without `created`).
fn spdx_date(created: &str) -> Result<String, SbomError> {
    if created.is_empty() {
        return Ok(ZERO_TIME.to_owned());
    }
    parse_rfc3339(created)
        .map(rfc3339_utc)
        .ok_or_else(|| SbomError::Created(created.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `go version -m` of a module-mode `go build -trimpath -tags "netgo osusergo"` (Go
    /// 1.27.3) outside git: the main module is `(devel)`, dependencies carry go.sum hashes, one
    /// is replaced by another module and one by a local directory.
    const MODULE_MODE: &str = concat!(
        "/tmp/kiln/bin/out: go1.27.3\n",
        "\tpath\texample.com/app\n",
        "\tmod\texample.com/app\t(devel)\t\n",
        "\tdep\texample.com/local\tv0.0.0\n",
        "\t=>\t./local\t(devel)\t\n",
        "\t\n",
        "\tdep\tgithub.com/Example/Greet\tv1.2.3\th1:1WJsvkhs8gQ7X2tjufKeatcKEL+OUJjJw3trnWG/lXM=\n",
        "\tdep\tgolang.org/x/fake\tv0.3.0\n",
        "\t=>\texample.net/fork\tv1.0.1\th1:u8BOPdhFTbpx5ZtQVue3K1QIragc88sZusYZk/TMcOI=\n",
        "\t\n",
        "\tbuild\t-buildmode=exe\n",
        "\tbuild\t-compiler=gc\n",
        "\tbuild\t-tags=netgo,osusergo\n",
        "\tbuild\t-trimpath=true\n",
        "\tbuild\tDefaultGODEBUG=containermaxprocs=0,cryptocustomrand=1,decoratemappings=0,gotestjsonbuildtext=1,httpcookiemaxnum=0,httpservecontentkeepheaders=1,httpservecontentmaxranges=1,multipathtcp=0,randseednop=0,rsa1024min=0,tlsmlkem=0,tlssecpmlkem=0,tlssha1=1,tracebacklabels=0,updatemaxprocs=0,urlmaxqueryparams=0,urlstrictcolons=0,winreadlinkvolume=0,winsymlink=0,x509negativeserial=1,x509rsacrt=0,x509sha256skid=0,x509sslcertoverrideplatform=0,x509usepolicies=0\n",
        "\tbuild\tCGO_ENABLED=0\n",
        "\tbuild\tGOARCH=amd64\n",
        "\tbuild\tGOOS=linux\n",
        "\tbuild\tGOAMD64=v1\n",
    );

    /// The same module vendored (`go mod vendor`), built in a git checkout tagged v1.4.0 with
    /// `-ldflags="-s -w -X 'main.v=a b'" -gcflags='all=-N -l'`: no hashes, quoted settings,
    /// VCS stamping.
    const VENDORED_VCS: &str = concat!(
        "/tmp/kiln/bin/out: go1.27.3\n",
        "\tpath\texample.com/app\n",
        "\tmod\texample.com/app\tv1.4.0\t\n",
        "\tdep\texample.com/local\tv0.0.0\n",
        "\t=>\t./local\t(devel)\t\n",
        "\t\n",
        "\tdep\tgithub.com/Example/Greet\tv1.2.3\t\n",
        "\tdep\tgolang.org/x/fake\tv0.3.0\n",
        "\t=>\texample.net/fork\tv1.0.1\t\n",
        "\t\n",
        "\tbuild\t-buildmode=exe\n",
        "\tbuild\t-compiler=gc\n",
        "\tbuild\t-gcflags=\"all=-N -l\"\n",
        "\tbuild\t-ldflags=\"-s -w -X 'main.v=a b'\"\n",
        "\tbuild\tCGO_ENABLED=0\n",
        "\tbuild\tGOARCH=amd64\n",
        "\tbuild\tGOOS=linux\n",
        "\tbuild\tGOAMD64=v1\n",
        "\tbuild\tvcs=git\n",
        "\tbuild\tvcs.revision=e677da9650fb271137fe1fc7e9d95d4f02ca050e\n",
        "\tbuild\tvcs.time=2026-11-24T01:40:09Z\n",
        "\tbuild\tvcs.modified=false\n",
    );

    /// Debian's skopeo, built in GOPATH mode: no main module at all.
    const GOPATH_MODE: &str = concat!(
        "/usr/bin/skopeo: go1.19.8\n",
        "\tpath\tgithub.com/containers/skopeo/cmd/skopeo\n",
        "\tbuild\t-compiler=gc\n",
        "\tbuild\t-trimpath=true\n",
        "\tbuild\tCGO_ENABLED=1\n",
        "\tbuild\tGOARCH=amd64\n",
        "\tbuild\tGOOS=linux\n",
        "\tbuild\tGOAMD64=v1\n",
    );

    fn module(path: &str, version: &str, sum: Option<&str>) -> GoModule {
        GoModule {
            path: path.into(),
            version: version.into(),
            sum: sum.map(str::to_owned),
            replace: None,
        }
    }

    fn replaced(original: GoModule, by: GoModule) -> GoModule {
        GoModule {
            replace: Some(Box::new(by)),
            ..original
        }
    }

    #[test]
    fn module_mode_output_gives_main_deps_sums_and_replacements() {
        let info = GoBuildInfo::parse(MODULE_MODE).unwrap();
        assert_eq!(info.binary, "/tmp/kiln/bin/out");
        assert_eq!(info.go_version, "go1.27.3");
        assert_eq!(info.path, "example.com/app");
        assert_eq!(info.main, Some(module("example.com/app", "(devel)", None)));
        assert_eq!(
            info.deps,
            [
                replaced(
                    module("example.com/local", "v0.0.0", None),
                    module("./local", "(devel)", None)
                ),
                module(
                    "github.com/Example/Greet",
                    "v1.2.3",
                    Some("h1:1WJsvkhs8gQ7X2tjufKeatcKEL+OUJjJw3trnWG/lXM=")
                ),
                replaced(
                    module("golang.org/x/fake", "v0.3.0", None),
                    module(
                        "example.net/fork",
                        "v1.0.1",
                        Some("h1:u8BOPdhFTbpx5ZtQVue3K1QIragc88sZusYZk/TMcOI=")
                    )
                ),
            ]
        );
        assert_eq!(info.settings.len(), 9);
        assert_eq!(info.settings[2], ("-tags".into(), "netgo,osusergo".into()));
        assert_eq!(info.settings[8], ("GOAMD64".into(), "v1".into()));
    }

    #[test]
    fn vendored_output_has_no_sums_and_quoted_settings_are_unquoted() {
        let info = GoBuildInfo::parse(VENDORED_VCS).unwrap();
        assert_eq!(info.main, Some(module("example.com/app", "v1.4.0", None)));
        assert!(info.deps.iter().all(|d| d.sum.is_none()));
        let setting = |key: &str| {
            info.settings
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(setting("-gcflags"), Some("all=-N -l"));
        assert_eq!(setting("-ldflags"), Some("-s -w -X 'main.v=a b'"));
        assert_eq!(setting("vcs.modified"), Some("false"));
    }

    #[test]
    fn gopath_binaries_have_no_main_module() {
        let info = GoBuildInfo::parse(GOPATH_MODE).unwrap();
        assert_eq!(info.path, "github.com/containers/skopeo/cmd/skopeo");
        assert_eq!((info.main, info.deps.len()), (None, 0));
        assert_eq!(info.settings.len(), 6);
    }

    #[test]
    fn malformed_output_names_the_line() {
        for (text, line, reason) in [
            ("", 1, "expected `<binary>: <go version>`"),
            (
                "/b: go1.22\n\t=>\tx\tv1\t\n",
                2,
                "replacement with no module",
            ),
            (
                "/b: go1.22\n\tpath\tp\n\tdep\tonly-path\n",
                3,
                "2 or 3 columns",
            ),
            ("/b: go1.22\n\tmod\tm\tv1\t\n\t=>\tx\tv1\n", 3, "3 columns"),
            ("/b: go1.22\n\tbuild\t=x\n", 2, "missing key"),
            ("/b: go1.22\n\tbuild\tnoequals\n", 2, "missing '='"),
            ("/b: go1.22\n\tbuild\tk=\"open\n", 2, "invalid quoted value"),
            (
                "/b: go1.22\n\tbuild\t\"k\"v\n",
                2,
                "missing '=' after quoted key",
            ),
        ] {
            match GoBuildInfo::parse(text) {
                Err(SbomError::BuildInfo { line: l, reason: r }) => {
                    assert_eq!(l, line, "{text:?}");
                    assert!(r.contains(reason), "{text:?}: {r}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn go_string_literals_unquote_as_strconv_does() {
        assert_eq!(
            go_unquote(r#""a\tb\u00e9\x41\101\"\\""#).as_deref(),
            Some("a\tbéAA\"\\")
        );
        assert_eq!(go_unquote("`raw \\n`").as_deref(), Some("raw \\n"));
        for bad in [
            r#""\q""#,
            r#""\x4""#,
            r#""\400""#,
            r#""a"b""#,
            "\"open",
            "`a`b`",
        ] {
            assert_eq!(go_unquote(bad), None, "{bad}");
        }
        assert_eq!(
            setting_line(r#""a=b"="x y""#),
            Ok(("a=b".to_owned(), "x y".to_owned()))
        );
    }

    #[test]
    fn created_becomes_utc_whole_seconds() {
        for (input, want) in [
            ("", "0001-01-01T00:00:00Z"),
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
            ("2024-02-29T23:30:00.5-05:30", "2024-03-01T05:00:00Z"),
            ("2023-06-13T16:19:18.913371345Z", "2023-06-13T16:19:18Z"),
            ("1970-01-01T01:00:00+01:00", "1970-01-01T00:00:00Z"),
        ] {
            assert_eq!(spdx_date(input).unwrap(), want, "{input}");
        }
        for bad in [
            "yesterday",
            "2023-02-29T00:00:00Z",
            "2023-06-13 16:19:18Z",
            "2023-06-13T16:19:18",
            "2023-06-13T16:19:18.Z",
            "2023-06-13T24:00:00Z",
            "2023-06-13T16:19:18+1:00",
        ] {
            assert_eq!(spdx_date(bad), Err(SbomError::Created(bad.into())), "{bad}");
        }
    }

    #[test]
    fn purls_encode_like_ko() {
        let digest = Digest::of(b"x");
        // Go's url.Values{...}.Encode() for the same qualifiers.
        assert_eq!(
            oci_purl(
                "image",
                &digest,
                vec![
                    ("repository_url", "index.docker.io/library/alpine".into()),
                    ("tag", "3.19".into()),
                    ("mediaType", media_type::OCI_MANIFEST.into()),
                    ("os-version", "10.0.17763.1 x".into()),
                ]
            ),
            format!(
                "pkg:oci/image@{digest}?mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson&os-version=10.0.17763.1+x&repository_url=index.docker.io%2Flibrary%2Falpine&tag=3.19"
            )
        );
        assert_eq!(
            go_purl(&module("GitHub.com/BurntSushi/TOML", "v1.0.0", None)),
            "pkg:golang/github.com/burntsushi/TOML@v1.0.0?type=module"
        );
        assert_eq!(
            proxy_zip_url(&module("github.com/BurntSushi/toml", "v1.0.0-RC1", None)),
            "https://proxy.golang.org/github.com/!burnt!sushi/toml/@v/v1.0.0-!r!c1.zip"
        );
        assert_eq!(
            h1_to_sha256_hex("h1:1WJsvkhs8gQ7X2tjufKeatcKEL+OUJjJw3trnWG/lXM=").as_deref(),
            Some("d5626cbe486cf2043b5f6b63b9f29e6ad70a10bf8e5098c9c37b6b9d61bf9573")
        );
        assert_eq!(h1_to_sha256_hex("h2:AAAA"), None);
        assert_eq!(h1_to_sha256_hex("h1:not base64!"), None);
    }

    use crate::media_type;

    fn image_json(info: &GoBuildInfo, base: Option<BaseImage>) -> Value {
        let digest = Digest::of(b"image");
        let platform: Platform = "linux/arm/v7".parse().unwrap();
        let bytes = ImageSbom {
            kiln_version: "0.1.0",
            digest: &digest,
            media_type: media_type::OCI_MANIFEST,
            platform: &platform,
            created: "2024-01-02T03:04:05Z",
            base,
            build_info: info,
        }
        .to_json()
        .unwrap();
        assert!(bytes.ends_with(b"}\n"));
        serde_json::from_slice(&bytes).unwrap()
    }

    fn by_name<'v>(doc: &'v Value, name: &str) -> &'v Value {
        doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no package {name} in {doc:#}"))
    }

    fn locator(package: &Value) -> &str {
        package["externalRefs"][0]["referenceLocator"]
            .as_str()
            .unwrap()
    }

    #[test]
    fn image_document_has_kos_shape() {
        let info = GoBuildInfo::parse(MODULE_MODE).unwrap();
        let base_digest = Digest::of(b"base");
        let doc = image_json(
            &info,
            Some(BaseImage {
                name: "cgr.dev/chainguard/static:latest",
                digest: &base_digest,
            }),
        );
        let image = Digest::of(b"image");
        let image_id = format!("SPDXRef-Package-sha256-{}", image.hex());
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        assert_eq!(doc["name"], format!("sbom-{image}"));
        assert_eq!(
            doc["documentNamespace"],
            format!("http://spdx.org/spdxdocs/kiln/{image}")
        );
        assert_eq!(
            doc["creationInfo"],
            json!({"created": "2024-01-02T03:04:05Z", "creators": ["Tool: kiln-0.1.0"]})
        );
        assert_eq!(doc["documentDescribes"], json!([image_id]));
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "SPDXID",
                "name",
                "spdxVersion",
                "creationInfo",
                "dataLicense",
                "documentNamespace",
                "documentDescribes",
                "packages",
                "relationships"
            ]
        );

        let image_package = &doc["packages"][0];
        assert_eq!(image_package["SPDXID"], image_id);
        assert_eq!(image_package["primaryPackagePurpose"], "CONTAINER");
        assert_eq!(
            locator(image_package),
            format!(
                "pkg:oci/image@{image}?arch=arm&mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson&os=linux&variant=v7"
            )
        );

        let base = by_name(&doc, &format!("cgr.dev/chainguard/static@{base_digest}"));
        assert_eq!(base["versionInfo"], "cgr.dev/chainguard/static:latest");
        assert_eq!(
            locator(base),
            format!(
                "pkg:oci/image@{base_digest}?repository_url=cgr.dev%2Fchainguard%2Fstatic&tag=latest"
            )
        );
        assert_eq!(base["checksums"][0]["checksumValue"], base_digest.hex());

        let main = by_name(&doc, "example.com/app");
        assert_eq!(main["SPDXID"], "SPDXRef-Package-example.com.app--devel-");
        assert_eq!(main.get("versionInfo"), None);
        assert_eq!(main["downloadLocation"], "https://example.com/app");
        assert_eq!(
            locator(main),
            "pkg:golang/example.com/app@(devel)?type=module"
        );

        let greet = by_name(&doc, "github.com/Example/Greet");
        assert_eq!(greet["versionInfo"], "v1.2.3");
        assert_eq!(
            greet["downloadLocation"],
            "https://proxy.golang.org/github.com/!example/!greet/@v/v1.2.3.zip"
        );
        assert_eq!(
            greet["checksums"],
            json!([{"algorithm": "SHA256", "checksumValue": "d5626cbe486cf2043b5f6b63b9f29e6ad70a10bf8e5098c9c37b6b9d61bf9573"}])
        );
        assert_eq!(
            locator(greet),
            "pkg:golang/github.com/example/Greet@v1.2.3?type=module"
        );

        // Replaced by a module: the fork is what was compiled in.
        let fork = by_name(&doc, "example.net/fork");
        assert_eq!(fork["versionInfo"], "v1.0.1");
        assert_eq!(fork["sourceInfo"], "replaces golang.org/x/fake v0.3.0");
        assert_eq!(
            fork["checksums"][0]["checksumValue"],
            "bbc04e3dd8454dba71e59b5056e7b72b5408ada81cf3cb19bac61993f4cc70e2"
        );
        // Replaced by a directory: still named as required, but not downloadable.
        let local = by_name(&doc, "example.com/local");
        assert_eq!(local["downloadLocation"], NOASSERTION);
        assert_eq!(
            local["sourceInfo"],
            "replaced by the local directory ./local"
        );
        assert_eq!(local.get("checksums"), None);

        let relationships: Vec<(String, String, String)> = doc["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let s = |k: &str| r[k].as_str().unwrap().to_owned();
                (
                    s("spdxElementId"),
                    s("relationshipType"),
                    s("relatedSpdxElement"),
                )
            })
            .collect();
        let id = |name: &str| by_name(&doc, name)["SPDXID"].as_str().unwrap().to_owned();
        let main_id = id("example.com/app");
        let rel = |a: &str, t: &str, b: &str| (a.to_owned(), t.to_owned(), b.to_owned());
        assert_eq!(
            relationships,
            [
                rel("SPDXRef-DOCUMENT", "DESCRIBES", &image_id),
                rel(
                    &image_id,
                    "DESCENDANT_OF",
                    &format!("SPDXRef-Package-sha256-{}", base_digest.hex())
                ),
                rel(&image_id, "CONTAINS", &main_id),
                rel(&main_id, "DEPENDS_ON", &id("example.com/local")),
                rel(&main_id, "DEPENDS_ON", &id("github.com/Example/Greet")),
                rel(&main_id, "DEPENDS_ON", &id("example.net/fork")),
            ]
        );
    }

    #[test]
    fn same_inputs_give_the_same_bytes() {
        let info = GoBuildInfo::parse(VENDORED_VCS).unwrap();
        let render = || serde_json::to_vec(&image_json(&info, None)).unwrap();
        assert_eq!(render(), render());
        let doc = image_json(&info, None);
        let main = by_name(&doc, "example.com/app");
        assert_eq!(main["versionInfo"], "v1.4.0");
        assert_eq!(doc["packages"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn identifiers_are_valid_and_unique() {
        let mut info = GoBuildInfo::parse(GOPATH_MODE).unwrap();
        info.main = Some(module("example.com/app", "v1.0.0+dirty", None));
        // Module paths that differ only in characters SPDX identifiers cannot hold.
        info.deps = vec![
            module("example.com/a_b", "v1.0.0", None),
            module("example.com/a~b", "v1.0.0", None),
        ];
        let doc = image_json(&info, None);
        let ids: Vec<&str> = doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["SPDXID"].as_str().unwrap())
            .collect();
        assert_eq!(ids[1], "SPDXRef-Package-example.com.app-v1.0.0-dirty");
        assert_eq!(ids[2], "SPDXRef-Package-example.com.a-b-v1.0.0");
        assert_eq!(ids[3], "SPDXRef-Package-example.com.a-b-v1.0.0-2");
        let valid = |id: &&str| {
            id.strip_prefix("SPDXRef-").is_some_and(|rest| {
                rest.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            })
        };
        assert!(ids.iter().all(valid), "{ids:?}");
    }

    #[test]
    fn a_gopath_binary_lists_only_the_image() {
        let info = GoBuildInfo::parse(GOPATH_MODE).unwrap();
        let doc = image_json(&info, None);
        assert_eq!(doc["packages"].as_array().unwrap().len(), 1);
        assert_eq!(doc["relationships"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn base_names_without_a_tag_are_latest_and_digests_drop_the_tag() {
        let info = GoBuildInfo::parse(GOPATH_MODE).unwrap();
        let digest = Digest::of(b"base");
        let base_purl = |name: &str| {
            let doc = image_json(
                &info,
                Some(BaseImage {
                    name,
                    digest: &digest,
                }),
            );
            locator(&doc["packages"][1]).to_owned()
        };
        assert!(
            base_purl("alpine")
                .ends_with("?repository_url=index.docker.io%2Flibrary%2Falpine&tag=latest")
        );
        assert!(
            base_purl(&format!("r.example/app:v1@{digest}"))
                .ends_with("?repository_url=r.example%2Fapp")
        );
        let digest = Digest::of(b"image");
        let err = ImageSbom {
            kiln_version: "0",
            digest: &digest,
            media_type: media_type::OCI_MANIFEST,
            platform: &"linux/amd64".parse().unwrap(),
            created: "",
            base: Some(BaseImage {
                name: "Not A Reference",
                digest: &digest,
            }),
            build_info: &info,
        }
        .to_json()
        .unwrap_err();
        assert!(matches!(err, SbomError::BaseName { .. }), "{err}");
    }

    #[test]
    fn index_document_lists_each_platform_image() {
        let index = Digest::of(b"index");
        let base = Digest::of(b"base");
        let entries = [
            IndexEntry {
                digest: Digest::of(b"amd64"),
                media_type: media_type::OCI_MANIFEST.into(),
                platform: Some("linux/amd64".parse().unwrap()),
            },
            IndexEntry {
                digest: Digest::of(b"arm"),
                media_type: media_type::OCI_MANIFEST.into(),
                platform: Some("linux/arm/v7".parse().unwrap()),
            },
        ];
        let bytes = IndexSbom {
            kiln_version: "0.1.0",
            digest: &index,
            media_type: media_type::OCI_INDEX,
            created: "2024-01-02T03:04:05Z",
            base: Some(BaseImage {
                name: "cgr.dev/chainguard/static:latest",
                digest: &base,
            }),
            manifests: &entries,
        }
        .to_json()
        .unwrap();
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        let index_id = format!("SPDXRef-Package-sha256-{}", index.hex());
        assert_eq!(doc["documentDescribes"], json!([index_id]));
        assert_eq!(
            locator(&doc["packages"][0]),
            format!("pkg:oci/index@{index}?mediaType=application%2Fvnd.oci.image.index.v1%2Bjson")
        );
        assert_eq!(
            doc["packages"][0]["checksums"][0]["checksumValue"],
            index.hex()
        );
        let arm = by_name(&doc, &Digest::of(b"arm").to_string());
        assert_eq!(arm["versionInfo"], "linux/arm/v7");
        assert_eq!(
            locator(arm),
            format!(
                "pkg:oci/image@{}?arch=arm&mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson&os=linux&variant=v7",
                Digest::of(b"arm")
            )
        );
        let kinds: Vec<&str> = doc["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["relationshipType"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["DESCENDANT_OF", "VARIANT_OF", "VARIANT_OF"]);
        assert_eq!(doc["relationships"][1]["spdxElementId"], index_id);
    }
}
