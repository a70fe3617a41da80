//! Bounds on text users feed in: over-long lines found in one linear pass, and short
//! excerpts so an error never echoes a whole value; an error's causes on one line.

/// At most `max` characters of `s` on one line, with `…` when anything was cut.
pub fn excerpt(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(max).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// The first line longer than `max` bytes: its 1-based number, its length and its start.
pub fn long_line(text: &str, max: usize) -> Option<(usize, usize, &str)> {
    text.split('\n')
        .enumerate()
        .find(|(_, l)| l.len() > max)
        .map(|(i, l)| (i + 1, l.len(), l))
}

/// `1.5 MiB`, `256 KiB`, `12 bytes`, for limits in messages.
pub fn size(bytes: usize) -> String {
    const KIB: usize = 1 << 10;
    const MIB: usize = 1 << 20;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= KIB {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// An error and its `source()` causes joined with `: `, for a one-line message (a library's
/// own message alone often says little: "error sending request"). A cause whose text is
/// empty or already shown is skipped: wrappers often repeat their inner error.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    join_causes(error.to_string(), error.source())
}

/// `head` followed by the causes from `cause` on, joined as [`error_chain`] joins them: for
/// a caller that words the top message itself (to drop a URL from it, say).
pub fn join_causes(
    mut head: String,
    mut cause: Option<&(dyn std::error::Error + 'static)>,
) -> String {
    while let Some(c) = cause {
        let line = c.to_string();
        if !line.is_empty() && !head.contains(&line) {
            if !head.is_empty() {
                head.push_str(": ");
            }
            head.push_str(&line);
        }
        cause = c.source();
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test error with a message and an optional cause.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    fn layers(texts: &[&'static str]) -> Layer {
        texts
            .iter()
            .rev()
            .fold(None, |cause, text| Some(Layer(text, cause.map(Box::new))))
            .unwrap()
    }

    #[test]
    fn error_chains_join_causes_once_each() {
        assert_eq!(error_chain(&layers(&["alone"])), "alone");
        assert_eq!(
            error_chain(&layers(&["error sending request", "connection refused"])),
            "error sending request: connection refused"
        );
        // Repeated and empty causes are skipped; later distinct ones still show.
        assert_eq!(
            error_chain(&layers(&[
                "client error (Connect): tcp connect error",
                "tcp connect error",
                "",
                "Connection refused (os error 111)",
            ])),
            "client error (Connect): tcp connect error: Connection refused (os error 111)"
        );
        let e = layers(&["with url (http://x/)", "inner"]);
        assert_eq!(
            join_causes("without url".into(), std::error::Error::source(&e)),
            "without url: inner"
        );
        assert_eq!(join_causes(String::new(), None), "");
    }

    #[test]
    fn excerpts_are_short_and_marked() {
        assert_eq!(excerpt("abc", 10), "abc");
        assert_eq!(excerpt(&"x".repeat(1000), 5), "xxxxx…");
        assert_eq!(excerpt("one\ntwo", 10), "one…");
        assert_eq!(excerpt("ééé", 2), "éé…");
    }

    #[test]
    fn long_lines_are_found_with_their_number() {
        let text = format!("a: 1\nb: {}\nc: 3", "x".repeat(100));
        let (line, len, start) = long_line(&text, 50).unwrap();
        assert_eq!((line, len), (2, 103));
        assert!(start.starts_with("b: x"));
        assert_eq!(long_line(&text, 200), None);
        assert_eq!(size(256 << 10), "256 KiB");
        assert_eq!(size(4 << 20), "4 MiB");
        assert_eq!(size((8 << 20) + 1), "8.0 MiB");
        assert_eq!(size(12), "12 bytes");
    }
}
