//! Go's `time.ParseDuration`, for Skaffold values such as the debug transform's
//! probe-timeout annotation.

/// Go's `time.ParseDuration`, in seconds.
pub fn parse_go_duration(s: &str) -> Option<f64> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    const LIMIT: u128 = 1 << 63;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(digits);
        let mut frac_part = "";
        let mut after = after;
        if let Some(f) = after.strip_prefix('.') {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &f[..n];
            after = &f[n..];
            if int_part.is_empty() && frac_part.is_empty() {
                return None;
            }
        } else if int_part.is_empty() {
            return None;
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok().filter(|v| *v < LIMIT)?
        };
        let mut value = whole.checked_mul(scale).filter(|v| *v <= LIMIT)?;
        if !frac_part.is_empty() {
            // leadingFraction keeps digits while they fit, then scales by the unit.
            let mut f: u128 = 0;
            let mut div: f64 = 1.0;
            let mut overflow = false;
            for d in frac_part.bytes() {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                f = f * 10 + u128::from(d - b'0');
                div *= 10.0;
            }
            value += (f as f64 * (scale as f64 / div)) as u128;
            if value > LIMIT {
                return None;
            }
        }
        total += value;
        if total > LIMIT {
            return None;
        }
        rest = next;
    }
    if !negative && total > LIMIT - 1 {
        return None;
    }
    let seconds = (total / 1_000_000_000) as f64 + (total % 1_000_000_000) as f64 / 1e9;
    Some(if negative { -seconds } else { seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10m"), Some(600.0));
        assert_eq!(parse_go_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_go_duration("1.5s"), Some(1.5));
        assert_eq!(parse_go_duration("-2s"), Some(-2.0));
        assert_eq!(parse_go_duration("0"), Some(0.0));
        assert_eq!(parse_go_duration("300ms"), Some(0.3));
        assert_eq!(parse_go_duration(".5h"), Some(1800.0));
        for bad in ["", "10", "1x", "s", ".s", "1e3s", "-"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }
}
