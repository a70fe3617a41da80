//! Package URLs (purls) as ko writes them: `pkg:oci/…` for images with Go's
//! `url.Values.Encode` qualifiers, `pkg:golang/…` for modules, and the module proxy's zip
//! URL with its case encoding.

use serde_json::{Value, json};

use super::GoModule;
use crate::{Digest, Platform};

pub(super) fn purl(locator: String) -> Value {
    json!({
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceLocator": locator,
        "referenceType": "purl",
    })
}

/// `arch`, `os`, `variant`, `os-version`, as ko qualifies an index's images.
pub(super) fn platform_qualifiers(p: &Platform) -> Vec<(&'static str, String)> {
    let mut q = vec![("arch", p.architecture.clone()), ("os", p.os.clone())];
    q.extend(p.variant.clone().map(|v| ("variant", v)));
    q.extend(p.os_version.clone().map(|v| ("os-version", v)));
    q
}

/// `pkg:oci/<name>@<digest>?<qualifiers>`, qualifiers encoded as Go's `url.Values.Encode`
/// does (sorted by key, query-escaped), so the string matches ko's.
pub(super) fn oci_purl(name: &str, digest: &Digest, mut qualifiers: Vec<(&str, String)>) -> String {
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
pub(super) fn go_purl(module: &GoModule) -> String {
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
pub(super) fn proxy_zip_url(module: &GoModule) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media_type;
    use crate::sbom::fixtures::module;

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
    }
}
