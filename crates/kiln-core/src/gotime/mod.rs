//! Go's time handling, pure: `time.Time.Format` over a caller-supplied instant, for Skaffold's `dateTime` tagger
//! and the `.Date` / `.Git.CommitDate` template values.
//!
//! Layouts use Go's reference time `Mon Jan 2 15:04:05 MST 2006`; the tokens are recognised
//! exactly as Go's `nextStdChunk` does (same order, same look-ahead rules), so a layout that
//! works in Skaffold formats identically here.
//!
//! Time zones need tz data, which a pure crate cannot read. [`FixedZone::resolve`] knows the
//! zones that are fixed offsets by definition (`UTC`, `GMT`, `Etc/GMT+5`, ...); anything else
//! must be resolved by the caller (which may read the system zone database) and passed in
//! as a [`FixedZone`].
//!
//! The rest of Go's time handling that kiln needs lives beside it: RFC 3339 parsing and
//! the calendar arithmetic both directions share (`civil.rs`), and
//! `time.ParseDuration` ([`parse_go_duration`]).

use std::fmt::Write as _;

mod civil;
mod duration;

pub use civil::parse_rfc3339;
pub use duration::parse_go_duration;

use civil::{civil_from_days, is_leap};

/// A zone with a constant UTC offset and the abbreviation Go prints for `MST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedZone {
    /// What `MST` prints. When empty, Go prints the offset as `-0700` instead.
    pub name: String,
    /// Seconds east of UTC.
    pub offset_seconds: i32,
}

impl FixedZone {
    /// UTC, named `UTC` as Go's `time.UTC` is.
    pub fn utc() -> Self {
        FixedZone {
            name: "UTC".to_owned(),
            offset_seconds: 0,
        }
    }

    /// Resolves the time-zone names that need no tz database: the UTC aliases of the IANA
    /// database (`UTC`, `Etc/UTC`, `Zulu`, `UCT`, `Universal`, ...), the GMT aliases and the
    /// fixed-offset `Etc/GMT±N` zones (POSIX sign: `Etc/GMT+5` is UTC−5 and prints `-05`).
    /// Returns `None` for every other name, `Local` included.
    pub fn resolve(name: &str) -> Option<FixedZone> {
        let utc = |abbrev: &str| {
            Some(FixedZone {
                name: abbrev.to_owned(),
                offset_seconds: 0,
            })
        };
        match name {
            "UTC" | "Etc/UTC" | "UCT" | "Etc/UCT" | "Zulu" | "Etc/Zulu" | "Universal"
            | "Etc/Universal" => utc("UTC"),
            "GMT" | "Etc/GMT" | "GMT0" | "Etc/GMT0" | "GMT+0" | "Etc/GMT+0" | "GMT-0"
            | "Etc/GMT-0" | "Greenwich" | "Etc/Greenwich" => utc("GMT"),
            _ => {
                let rest = name.strip_prefix("Etc/GMT")?;
                let (sign, digits) = match rest.as_bytes().first()? {
                    b'+' => (-1, &rest[1..]),
                    b'-' => (1, &rest[1..]),
                    _ => return None,
                };
                if digits.is_empty()
                    || digits.len() > 2
                    || digits.starts_with('0')
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                let hours: i32 = digits.parse().ok()?;
                // The IANA database has Etc/GMT-14 … Etc/GMT+12.
                if (sign < 0 && hours > 12) || (sign > 0 && hours > 14) {
                    return None;
                }
                let east = sign * hours;
                Some(FixedZone {
                    name: format!("{}{:02}", if east < 0 { '-' } else { '+' }, hours),
                    offset_seconds: east * 3600,
                })
            }
        }
    }
}

/// Go's `time.RFC3339` layout.
pub const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

/// `unix_seconds` as RFC 3339 in UTC (`2006-01-02T15:04:05Z`), Go's
/// `t.UTC().Format(time.RFC3339)`.
pub fn rfc3339_utc(unix_seconds: i64) -> String {
    format_go_time(RFC3339, unix_seconds, 0, &FixedZone::utc())
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The calendar fields of one instant in one zone.
struct Civil {
    year: i64,
    month: u32, // 1..=12
    day: u32,   // 1..=31
    yday: u32,  // 1..=366
    weekday: usize,
    hour: u32,
    minute: u32,
    second: u32,
}

fn civil(unix_seconds: i64, offset_seconds: i32) -> Civil {
    let local = unix_seconds + i64::from(offset_seconds);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    const CUMULATIVE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = CUMULATIVE[month as usize - 1] + day + u32::from(month > 2 && is_leap(year));
    Civil {
        year,
        month,
        day,
        yday,
        // 1970-01-01 was a Thursday; Sunday is 0 as in Go.
        weekday: (days + 4).rem_euclid(7) as usize,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    /// Numeric zone; `iso` prints `Z` for UTC. `colon`, `minutes`, `seconds` pick the form.
    NumTZ {
        iso: bool,
        colon: bool,
        minutes: bool,
        seconds: bool,
    },
    /// `.000` / `,999`: `trim` for the 9 form, `digits` of precision, `sep` `.` or `,`.
    Frac {
        trim: bool,
        digits: usize,
        sep: char,
    },
}

fn starts_with_lower(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
}

fn is_digit_at(s: &str, i: usize) -> bool {
    s.as_bytes().get(i).is_some_and(u8::is_ascii_digit)
}

/// Go's `nextStdChunk`: (literal prefix, token, rest). `None` token means no more tokens.
fn next_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout[i..].starts_with(s);
    for i in 0..b.len() {
        let found = match b[i] {
            b'J' if at(i, "Jan") => {
                if at(i, "January") {
                    Some((Std::LongMonth, 7))
                } else if !starts_with_lower(&layout[i + 3..]) {
                    Some((Std::Month, 3))
                } else {
                    None
                }
            }
            b'M' if at(i, "Mon") => {
                if at(i, "Monday") {
                    Some((Std::LongWeekDay, 6))
                } else if !starts_with_lower(&layout[i + 3..]) {
                    Some((Std::WeekDay, 3))
                } else {
                    None
                }
            }
            b'M' if at(i, "MST") => Some((Std::TZ, 3)),
            b'0' => match b.get(i + 1) {
                Some(c @ b'1'..=b'6') => {
                    let std = [
                        Std::ZeroMonth,
                        Std::ZeroDay,
                        Std::ZeroHour12,
                        Std::ZeroMinute,
                        Std::ZeroSecond,
                        Std::Year,
                    ][usize::from(c - b'1')];
                    Some((std, 2))
                }
                _ if at(i, "002") => Some((Std::ZeroYearDay, 3)),
                _ => None,
            },
            b'1' if at(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if at(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if at(i, "_2") => {
                if at(i, "_2006") {
                    // A literal `_` followed by the long year.
                    return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
                }
                Some((Std::UnderDay, 2))
            }
            b'_' if at(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if at(i, "PM") => Some((Std::PM, 2)),
            b'p' if at(i, "pm") => Some((Std::Pm, 2)),
            c @ (b'-' | b'Z') => {
                let iso = c == b'Z';
                let forms: [(&str, bool, bool, bool); 5] = [
                    // (suffix after the sign char, colon, minutes, seconds)
                    ("070000", false, true, true),
                    ("07:00:00", true, true, true),
                    ("0700", false, true, false),
                    ("07:00", true, true, false),
                    ("07", false, false, false),
                ];
                forms
                    .iter()
                    .find(|(f, ..)| layout[i + 1..].starts_with(f))
                    .map(|&(f, colon, minutes, seconds)| {
                        let std = Std::NumTZ {
                            iso,
                            colon,
                            minutes,
                            seconds,
                        };
                        (std, 1 + f.len())
                    })
            }
            c @ (b'.' | b',') if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while b.get(j) == Some(&ch) {
                    j += 1;
                }
                // Only a fractional second if the run of equal digits ends here.
                if is_digit_at(layout, j) {
                    None
                } else {
                    let std = Std::Frac {
                        trim: ch == b'9',
                        digits: j - (i + 1),
                        sep: char::from(c),
                    };
                    Some((std, j - i))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (&layout[..i], Some(std), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

/// Go's `appendInt(b, x, width)`: zero-padded to `width`, sign first.
fn push_int(out: &mut String, x: i64, width: usize) {
    if x < 0 {
        out.push('-');
    }
    let _ = write!(out, "{:0width$}", x.unsigned_abs());
}

/// Formats the instant `unix_seconds` + `nanos` in `zone` with Go layout `layout`,
/// exactly as Go's `time.Time.Format` would.
pub fn format_go_time(layout: &str, unix_seconds: i64, nanos: u32, zone: &FixedZone) -> String {
    let c = civil(unix_seconds, zone.offset_seconds);
    let nanos = nanos.min(999_999_999);
    let mut out = String::with_capacity(layout.len() + 10);
    let mut rest = layout;
    loop {
        let (prefix, std, suffix) = next_chunk(rest);
        out.push_str(prefix);
        let Some(std) = std else { break };
        rest = suffix;
        match std {
            Std::Year => push_int(&mut out, c.year.abs() % 100, 2),
            Std::LongYear => push_int(&mut out, c.year, 4),
            Std::Month => out.push_str(&MONTHS[c.month as usize - 1][..3]),
            Std::LongMonth => out.push_str(MONTHS[c.month as usize - 1]),
            Std::NumMonth => push_int(&mut out, c.month.into(), 0),
            Std::ZeroMonth => push_int(&mut out, c.month.into(), 2),
            Std::WeekDay => out.push_str(&WEEKDAYS[c.weekday][..3]),
            Std::LongWeekDay => out.push_str(WEEKDAYS[c.weekday]),
            Std::Day => push_int(&mut out, c.day.into(), 0),
            Std::UnderDay => {
                if c.day < 10 {
                    out.push(' ');
                }
                push_int(&mut out, c.day.into(), 0);
            }
            Std::ZeroDay => push_int(&mut out, c.day.into(), 2),
            Std::UnderYearDay => {
                if c.yday < 100 {
                    out.push(' ');
                    if c.yday < 10 {
                        out.push(' ');
                    }
                }
                push_int(&mut out, c.yday.into(), 0);
            }
            Std::ZeroYearDay => push_int(&mut out, c.yday.into(), 3),
            Std::Hour => push_int(&mut out, c.hour.into(), 2),
            Std::Hour12 | Std::ZeroHour12 => {
                let h = match c.hour % 12 {
                    0 => 12,
                    h => h,
                };
                push_int(&mut out, h.into(), if std == Std::Hour12 { 0 } else { 2 });
            }
            Std::Minute => push_int(&mut out, c.minute.into(), 0),
            Std::ZeroMinute => push_int(&mut out, c.minute.into(), 2),
            Std::Second => push_int(&mut out, c.second.into(), 0),
            Std::ZeroSecond => push_int(&mut out, c.second.into(), 2),
            Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
            Std::NumTZ {
                iso,
                colon,
                minutes,
                seconds,
            } => {
                let offset = zone.offset_seconds;
                if iso && offset == 0 {
                    out.push('Z');
                    continue;
                }
                out.push(if offset < 0 { '-' } else { '+' });
                let abs = i64::from(offset.unsigned_abs());
                let zone_minutes = abs / 60;
                push_int(&mut out, zone_minutes / 60, 2);
                if colon {
                    out.push(':');
                }
                if minutes {
                    push_int(&mut out, zone_minutes % 60, 2);
                }
                if seconds {
                    if colon {
                        out.push(':');
                    }
                    push_int(&mut out, abs % 60, 2);
                }
            }
            Std::TZ => {
                if zone.name.is_empty() {
                    let zone_minutes = zone.offset_seconds / 60;
                    out.push(if zone_minutes < 0 { '-' } else { '+' });
                    let m = i64::from(zone_minutes.unsigned_abs());
                    push_int(&mut out, m / 60, 2);
                    push_int(&mut out, m % 60, 2);
                } else {
                    out.push_str(&zone.name);
                }
            }
            Std::Frac { trim, digits, sep } => {
                if trim && (digits == 0 || nanos == 0) {
                    continue;
                }
                let mut frac = format!("{nanos:09}");
                frac.truncate(digits.min(9));
                if trim {
                    let kept = frac.trim_end_matches('0').len();
                    frac.truncate(kept);
                    if frac.is_empty() {
                        continue;
                    }
                }
                out.push(sep);
                out.push_str(&frac);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's reference time, Mon Jan 2 15:04:05 MST 2006, as a Unix instant (MST = UTC−7).
    const REFERENCE: i64 = 1_136_239_445;

    fn mst() -> FixedZone {
        FixedZone {
            name: "MST".to_owned(),
            offset_seconds: -7 * 3600,
        }
    }

    #[test]
    fn the_reference_time_formats_as_its_own_layout() {
        // `_2` is the space-padded day.
        assert_eq!(
            format_go_time("Mon Jan _2 15:04:05 MST 2006", REFERENCE, 0, &mst()),
            "Mon Jan  2 15:04:05 MST 2006"
        );
        for layout in [
            "Monday, 02-Jan-06 15:04:05 MST",
            "2006-01-02T15:04:05-07:00",
            "January 2, 2006 3:04:05 PM",
            "01/02 03:04:05PM '06 -0700",
        ] {
            assert_eq!(
                format_go_time(layout, REFERENCE, 0, &mst()),
                layout,
                "{layout}"
            );
        }
    }

    #[test]
    fn go_format_vectors() {
        // 2009-11-10 23:00:00 UTC, a Tuesday, with 123456789 ns (Go's time package examples).
        let t = 1_257_894_000;
        let utc = FixedZone::utc();
        let cases = [
            ("2006-01-02_15-04-05.999_MST", "2009-11-10_23-00-00.123_UTC"),
            (RFC3339, "2009-11-10T23:00:00Z"),
            (
                "2006-01-02T15:04:05.000000000Z07:00",
                "2009-11-10T23:00:00.123456789Z",
            ),
            (
                "Z0700 Z07 -07 -070000 -07:00:00",
                "Z Z +00 +000000 +00:00:00",
            ),
            ("3:4:5 pm PM", "11:0:0 pm PM"),
            (
                "Mon Monday Jan January 1 01 2 _2 02",
                "Tue Tuesday Nov November 11 11 10 10 10",
            ),
            ("__2 002", "314 314"),
            ("06 _2006", "09 _2009"),
            (".9 .99999 ,000 .0 .", ".1 .12345 ,123 .1 ."),
            ("Janet Monkey .0099 15h", "Janet Monkey .0099 23h"),
        ];
        for (layout, want) in cases {
            assert_eq!(
                format_go_time(layout, t, 123_456_789, &utc),
                want,
                "{layout}"
            );
        }
        // Trailing zeros of the 9 form are trimmed; all-zero vanishes with its dot.
        assert_eq!(format_go_time("05.999", t, 120_000_000, &utc), "00.12");
        assert_eq!(format_go_time("05.999", t, 0, &utc), "00");
        assert_eq!(format_go_time("05.000", t, 0, &utc), "00.000");
        assert_eq!(format_go_time("05.999", t, 999_999, &utc), "00");
    }

    #[test]
    fn offsets_and_unnamed_zones() {
        let ist = FixedZone {
            name: String::new(),
            offset_seconds: 5 * 3600 + 30 * 60,
        };
        assert_eq!(
            format_go_time("2006-01-02 15:04 MST Z07:00 -0700", 0, 0, &ist),
            "1970-01-01 05:30 +0530 +05:30 +0530"
        );
        let minus = FixedZone::resolve("Etc/GMT+5").unwrap();
        assert_eq!(minus.name, "-05");
        assert_eq!(
            format_go_time("2006-01-02 15 MST Z07", 0, 0, &minus),
            "1969-12-31 19 -05 -05"
        );
        assert_eq!(
            FixedZone::resolve("Etc/GMT-14").unwrap().offset_seconds,
            14 * 3600
        );
        for bad in [
            "Local",
            "Europe/Paris",
            "Etc/GMT+13",
            "Etc/GMT-15",
            "Etc/GMT+05",
            "foo",
            "",
        ] {
            assert_eq!(FixedZone::resolve(bad), None, "{bad}");
        }
        assert_eq!(FixedZone::resolve("Etc/UTC").unwrap().name, "UTC");
        assert_eq!(FixedZone::resolve("GMT").unwrap().name, "GMT");
    }

    #[test]
    fn calendar_edges() {
        let utc = FixedZone::utc();
        // Leap day and year day, end of a leap year, and a date before the epoch.
        assert_eq!(
            format_go_time("2006-01-02 002 Mon", 951_782_400, 0, &utc),
            "2000-02-29 060 Tue"
        );
        assert_eq!(
            format_go_time("2006-01-02 002", 978_220_800, 0, &utc),
            "2000-12-31 366"
        );
        assert_eq!(format_go_time(RFC3339, -1, 0, &utc), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_utc(-62_135_596_800), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
