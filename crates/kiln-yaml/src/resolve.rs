//! What a scalar means, as go-yaml v3 (`resolve.go` and the scalar cases of `decode.go`)
//! reads it. Skaffold and ko both use go-yaml v3, so this is the one reading kiln has.
//!
//! An untagged plain scalar is resolved by its text: `~`/`null`/empty are null,
//! `true`/`false` (three spellings each) booleans, `2001-12-14` timestamps, anything Go's
//! `strconv.ParseInt(s, 0, 64)` or `ParseUint` accepts after dropping `_` an integer (so
//! `0x1F`, `0o17`, `0b101` and the YAML 1.1 octal `017` = 15), then YAML-style decimals
//! (`1.5`, `.5`, `1e3`, and `08`, which is no octal) floats, `<<` the merge key, and
//! everything else a string (`yes`, `1.2.3`, `ko://x`). Quoted and block scalars are strings.

/// What go-yaml v3 resolves a scalar to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    Null,
    Bool,
    Int,
    Float,
    Timestamp,
    Merge,
    Str,
    /// Explicitly tagged with something else (`!!int`, `!custom`, ...).
    Other,
}

/// go-yaml v3's resolution of an untagged plain scalar.
pub fn resolve_plain(s: &str) -> Resolved {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return Resolved::Bool,
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float,
        "<<" => return Resolved::Merge,
        _ => {}
    }
    match s.as_bytes()[0] {
        b'.' if is_go_decimal_float(s) => Resolved::Float,
        b'0'..=b'9' | b'+' | b'-' => {
            if is_timestamp(s) {
                Resolved::Timestamp
            } else if parse_int(s).is_some() {
                Resolved::Int
            } else if is_yaml_style_float(&without_underscores(s)) {
                Resolved::Float
            } else {
                Resolved::Str
            }
        }
        _ => Resolved::Str,
    }
}

fn without_underscores(s: &str) -> String {
    s.chars().filter(|&c| c != '_').collect()
}

/// The integer go-yaml v3 reads from `s`: underscores dropped, then Go's
/// `strconv.ParseInt(s, 0, 64)` or, for values above `i64::MAX`, `ParseUint`: an optional
/// sign, `0x`/`0o`/`0b` prefixes (either case) and a leading `0` for octal (`010` is 8).
/// `None` if `s` is no integer or does not fit 64 bits.
pub fn parse_int(s: &str) -> Option<i128> {
    let plain = without_underscores(s);
    let (negative, body) = match plain.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, plain.strip_prefix('+').unwrap_or(&plain)),
    };
    let (digits, radix) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (d, 16)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (d, 8)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (d, 2)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    // `from_str_radix` would accept a second sign; Go does not.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from(u64::from_str_radix(digits, radix).ok()?);
    if negative {
        // ParseInt's lower bound; ParseUint takes no sign.
        (magnitude <= i128::from(i64::MAX) + 1).then_some(-magnitude)
    } else {
        Some(magnitude)
    }
}

/// The number go-yaml v3 reads from a scalar resolved as a float or an integer
/// (`.inf`, `-.Inf`, `.nan`, `1e3`, `0x10` = 16.0), `None` otherwise.
pub fn parse_float(s: &str) -> Option<f64> {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(s) {
        // Integers beyond 2^53 round, as Go's float64(int) does.
        return Some(i as f64);
    }
    let plain = if s.starts_with('.') {
        // Go's ParseFloat takes `_` only after a base prefix, and go-yaml keeps them here.
        if s.contains('_') {
            return None;
        }
        s.to_owned()
    } else {
        without_underscores(s)
    };
    if is_yaml_style_float(&plain) {
        plain.parse().ok()
    } else {
        None
    }
}

/// A YAML 1.2 core-schema boolean (`true`, `False`, ...).
pub fn parse_core_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A boolean as go-yaml v3 reads it *into a bool field*: the core words plus YAML 1.1's
/// `y`/`yes`/`on` and `n`/`no`/`off` (three spellings each).
pub fn parse_bool(s: &str) -> Option<bool> {
    parse_core_bool(s).or(match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    })
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat` on a string starting with `.` (decimal only; no underscores).
fn is_go_decimal_float(s: &str) -> bool {
    s.len() > 1 && !s.contains('_') && is_yaml_style_float(s)
}

/// go-yaml's `parseTimestamp`: `YYYY-M-D`, optionally followed by `T`/`t`/space and
/// `h:m:s[.frac]`, with `Z`/`±hh:mm` only after `T`/`t`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    // Reads 1 or 2 digits at `*i`.
    let num = |i: &mut usize| -> Option<u32> {
        let start = *i;
        while *i < b.len() && *i - start < 2 && b[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == start {
            None
        } else {
            s[start..*i].parse().ok()
        }
    };
    let expect = |i: &mut usize, c: u8| -> bool {
        let ok = b.get(*i) == Some(&c);
        if ok {
            *i += 1;
        }
        ok
    };
    let year: u32 = s[..4].parse().unwrap_or(0);
    let mut i = 5;
    let Some(month) = num(&mut i) else {
        return false;
    };
    if !expect(&mut i, b'-') {
        return false;
    }
    let Some(day) = num(&mut i) else {
        return false;
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return false;
    }
    if i == b.len() {
        return true;
    }
    let zoned = match b[i] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return false,
    };
    i += 1;
    let Some(hour) = num(&mut i) else {
        return false;
    };
    if !expect(&mut i, b':') {
        return false;
    }
    let Some(minute) = num(&mut i) else {
        return false;
    };
    if !expect(&mut i, b':') {
        return false;
    }
    let Some(second) = num(&mut i) else {
        return false;
    };
    if hour > 23 || minute > 59 || second > 59 {
        return false;
    }
    if expect(&mut i, b'.') {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if !zoned {
        return i == b.len();
    }
    match &s[i..] {
        "Z" => true,
        tz => {
            let t = tz.as_bytes();
            t.len() == 6
                && matches!(t[0], b'+' | b'-')
                && t[1..3].iter().all(u8::is_ascii_digit)
                && t[3] == b':'
                && t[4..6].iter().all(u8::is_ascii_digit)
        }
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_as_go_yaml_v3_does() {
        for s in ["", "~", "null", "NULL"] {
            assert_eq!(resolve_plain(s), Resolved::Null, "{s}");
        }
        for s in ["true", "False", "TRUE"] {
            assert_eq!(resolve_plain(s), Resolved::Bool, "{s}");
        }
        for s in [
            "1", "-12", "0x1F", "0o17", "017", "1_000", "0b101", "+3", "0X1f",
        ] {
            assert_eq!(resolve_plain(s), Resolved::Int, "{s}");
        }
        for s in ["1.5", ".5", "1e3", "08", "-.inf", ".NaN", "1."] {
            assert_eq!(resolve_plain(s), Resolved::Float, "{s}");
        }
        for s in [
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-1-2 3:04:05",
        ] {
            assert_eq!(resolve_plain(s), Resolved::Timestamp, "{s}");
        }
        for s in [
            "yes",
            "on",
            "app",
            "ko://x",
            "1.2.3",
            "2001-13-01",
            "0x",
            "1:20",
            ".",
            "-",
            "gcr.io/a:1",
            "12abc",
            "+-1",
            "._5",
        ] {
            assert_eq!(resolve_plain(s), Resolved::Str, "{s}");
        }
        assert_eq!(resolve_plain("<<"), Resolved::Merge);
    }

    #[test]
    fn integers_read_like_strconv_parse_int_base_0() {
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("-1_000"), Some(-1000));
        assert_eq!(parse_int("017"), Some(15));
        assert_eq!(parse_int("0o17"), Some(15));
        assert_eq!(parse_int("-0b101"), Some(-5));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("18446744073709551615"), Some(u64::MAX.into()));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN.into()));
        for s in [
            "x",
            "08",
            "1.0",
            "18446744073709551616",
            "-9223372036854775809",
            "0x",
        ] {
            assert_eq!(parse_int(s), None, "{s}");
        }
    }

    #[test]
    fn floats_and_bools() {
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("08"), Some(8.0));
        assert_eq!(parse_float("0x10"), Some(16.0));
        assert_eq!(parse_float("-.inf"), Some(f64::NEG_INFINITY));
        assert!(parse_float(".nan").is_some_and(f64::is_nan));
        assert_eq!(parse_float("1_0.5"), Some(10.5));
        for s in ["inf", "nan", "infinity", "1.2.3", "2001-01-01", "._5"] {
            assert_eq!(parse_float(s), None, "{s}");
        }
        assert_eq!(parse_bool("yes"), Some(true));
        assert_eq!(parse_bool("OFF"), Some(false));
        assert_eq!(parse_core_bool("yes"), None);
    }
}
