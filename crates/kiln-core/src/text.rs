//! Bounds on text users feed in: over-long lines found in one linear pass, and short
//! excerpts so an error never echoes a whole value.

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

#[cfg(test)]
mod tests {
    use super::*;

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
