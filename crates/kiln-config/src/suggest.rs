//! "Did you mean …?" suggestions.

/// Edit distance with adjacent transpositions (optimal string alignment), compared
/// case-insensitively: a wrong case (`fromimage`) and swapped letters (`mian`) are the
/// commonest typos in keys.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
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
