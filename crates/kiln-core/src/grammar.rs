//! The CNCF distribution reference grammar (github.com/distribution/reference
//! `regexp.go`), written once and used by both image-reference parsers: ggcr-style
//! [`crate::reference`] and Skaffold-style [`crate::naming`].
//!
//! Go's `\w` is ASCII-only, so it is spelled out here (Rust's would be Unicode).

use std::sync::LazyLock;

use regex::Regex;

/// One lowercase path component: alphanumerics separated by `.`, `_`, `__` or dashes.
pub const PATH_COMPONENT: &str = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";

/// One DNS label of a registry host.
const DOMAIN_NAME_COMPONENT: &str = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";

/// A bracketed IPv6 address: hex digits and colons only. Distribution deliberately
/// excludes zone identifiers and IPv4-mapped forms (`[::ffff:1.2.3.4]`).
const IPV6_ADDRESS: &str = r"\[(?:[a-fA-F0-9:]+)\]";

/// A registry host (DNS name, IPv4 or bracketed IPv6) with an optional `:port`.
pub static DOMAIN_AND_PORT: LazyLock<String> = LazyLock::new(|| {
    format!(r"(?:{DOMAIN_NAME_COMPONENT}(?:\.{DOMAIN_NAME_COMPONENT})*|{IPV6_ADDRESS})(?::[0-9]+)?")
});

/// A tag: a word character, then up to 127 word characters, `.` or `-`.
pub const TAG: &str = r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";

/// A digest as distribution accepts it in a reference (`algorithm:hex`, 32+ hex digits).
pub const DIGEST: &str = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}";

/// `^PATTERN$`, compiled. The patterns above are constants, so compiling cannot fail.
fn anchored(pattern: &str) -> Regex {
    Regex::new(&format!("^(?:{pattern})$")).expect("the distribution grammar is a valid regex")
}

/// An anchored [`PATH_COMPONENT`].
pub static ANCHORED_PATH_COMPONENT: LazyLock<Regex> = LazyLock::new(|| anchored(PATH_COMPONENT));
/// An anchored [`DOMAIN_AND_PORT`].
pub static ANCHORED_DOMAIN_AND_PORT: LazyLock<Regex> = LazyLock::new(|| anchored(&DOMAIN_AND_PORT));
/// An anchored [`TAG`].
pub static ANCHORED_TAG: LazyLock<Regex> = LazyLock::new(|| anchored(TAG));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hosts_follow_distribution() {
        for good in [
            "gcr.io",
            "localhost:5000",
            "127.0.0.1:39999",
            "[::1]:5000",
            "[2001:db8::1]",
            "Registry-1.Example.COM",
        ] {
            assert!(ANCHORED_DOMAIN_AND_PORT.is_match(good), "{good}");
        }
        // distribution's ipv6address has no `.`: IPv4-mapped addresses are excluded.
        for bad in [
            "[::ffff:127.0.0.1]:5000",
            "[fe80::1%eth0]",
            "-a.io",
            "a.io:",
        ] {
            assert!(!ANCHORED_DOMAIN_AND_PORT.is_match(bad), "{bad}");
        }
    }

    #[test]
    fn tags_and_components_follow_distribution() {
        assert!(ANCHORED_TAG.is_match("v1.2_3-rc"));
        assert!(!ANCHORED_TAG.is_match(".v1"));
        assert!(!ANCHORED_TAG.is_match(&"a".repeat(129)));
        assert!(ANCHORED_PATH_COMPONENT.is_match("a__b--c.d"));
        assert!(!ANCHORED_PATH_COMPONENT.is_match("a___b"));
        assert!(!ANCHORED_PATH_COMPONENT.is_match("A"));
    }

    #[test]
    fn both_reference_parsers_agree_on_bracketed_hosts() {
        for (input, valid) in [
            ("[::1]:5000/app:v1", true),
            ("[::ffff:127.0.0.1]:5000/app:v1", false),
        ] {
            let ggcr = input.parse::<crate::Reference>().is_ok();
            let skaffold = crate::naming::ImageName::parse(input).is_ok();
            assert_eq!((ggcr, skaffold), (valid, valid), "{input}");
        }
    }
}
