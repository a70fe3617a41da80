//! The SPDX 2.3 JSON documents ko attaches to an image ([`ImageSbom`]) and to an index
//! ([`IndexSbom`]), fields in ko's order so the bytes are stable.

use std::collections::HashSet;

use base64::Engine as _;
use serde_json::{Value, json};

use super::purl::{go_purl, oci_purl, platform_qualifiers, proxy_zip_url, purl};
use super::{GoBuildInfo, GoModule, SbomError};
use crate::gotime::{parse_rfc3339, rfc3339_utc};
use crate::{Digest, Platform, Reference};

pub const SPDX_VERSION: &str = "SPDX-2.3";
const NOASSERTION: &str = "NOASSERTION";
/// Go's zero `time.Time`, what a config without `created` means.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The image a build started from, as the `org.opencontainers.image.base.*` annotations name
/// it.
#[derive(Clone, Copy, Debug)]
pub struct SbomBase<'a> {
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
    pub base: Option<SbomBase<'a>>,
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
    pub base: Option<SbomBase<'a>>,
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

    /// ko's `addSbomBase`: the base as a package `element` descends from.
    fn add_base(&mut self, element: &str, base: SbomBase) -> Result<(), SbomError> {
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
    use crate::sbom::fixtures::*;

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
    fn h1_sums_become_sha256_hex() {
        assert_eq!(
            h1_to_sha256_hex("h1:1WJsvkhs8gQ7X2tjufKeatcKEL+OUJjJw3trnWG/lXM=").as_deref(),
            Some("d5626cbe486cf2043b5f6b63b9f29e6ad70a10bf8e5098c9c37b6b9d61bf9573")
        );
        assert_eq!(h1_to_sha256_hex("h2:AAAA"), None);
        assert_eq!(h1_to_sha256_hex("h1:not base64!"), None);
    }

    use crate::media_type;

    fn image_json(info: &GoBuildInfo, base: Option<SbomBase>) -> Value {
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
            Some(SbomBase {
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
                Some(SbomBase {
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
            base: Some(SbomBase {
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
            base: Some(SbomBase {
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
