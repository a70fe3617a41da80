//! "Did you mean …?" suggestions.

/// Edit distance with adjacent transpositions (optimal string alignment), compared
/// case-insensitively: a wrong case (`fromimage`) and swapped letters (`mian`) are the
/// commonest typos in keys.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(&a.to_lowercase(), &b.to_lowercase())
}

/// The closest candidate, if it is close enough to be a plausible typo.
pub(crate) fn closest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let budget = (input.chars().count().max(3) / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != input)
        .map(|c| (distance(input, c), c))
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `did you mean `x`?` for the closest candidate.
pub(crate) fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(input, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// "`a`, `b`, `c`" for messages.
pub(crate) fn one_of<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let fields = [
            "fromImage",
            "dependencies",
            "dir",
            "env",
            "flags",
            "labels",
            "ldflags",
            "main",
        ];
        assert_eq!(closest("ldflagz", fields), Some("ldflags"));
        assert_eq!(closest("fromimage", fields), Some("fromImage"));
        assert_eq!(closest("mian", fields), Some("main"));
        assert_eq!(closest("completelydifferent", fields), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
