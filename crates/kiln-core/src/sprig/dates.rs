//! sprig's date functions (date.go) over the clock the caller gives. A time value is
//! Go's default text of a `time.Time` in UTC (`2023-11-14 22:13:20 +0000 UTC`, what
//! `{{ now }}` prints in Skaffold on a UTC machine); the functions also take Unix seconds.
//! kiln formats `Local` as UTC: a pure crate has no zone database (fixed-offset zones such
//! as `UTC` or `Etc/GMT+5` work; other zone names are an error naming them).

use gotmpl::{Template, Value};

use super::{Func, Result, arity, fail, string, text};
use crate::gotime::{FixedZone, RFC3339, format_go_time, parse_go_duration, parse_rfc3339};

/// Go's `time.Time.String` layout.
const TIME_STRING: &str = "2006-01-02 15:04:05.999999999 -0700 MST";

/// The functions that need no clock when they are given a time.
pub(super) const PURE_FUNCS: &[(&str, Func)] = &[
    ("htmlDate", |a| {
        arity("htmlDate", a, 1)?;
        format(
            "htmlDate",
            "2006-01-02",
            instant("htmlDate", &a[0], None)?,
            "Local",
        )
    }),
    ("htmlDateInZone", |a| {
        arity("htmlDateInZone", a, 2)?;
        format(
            "htmlDateInZone",
            "2006-01-02",
            instant("htmlDateInZone", &a[0], None)?,
            &text(&a[1]),
        )
    }),
    ("dateModify", |a| modify("dateModify", a)),
    ("date_modify", |a| modify("date_modify", a)),
    ("unixEpoch", |a| {
        arity("unixEpoch", a, 1)?;
        Ok(string(instant("unixEpoch", &a[0], None)?.to_string()))
    }),
    ("toDate", |a| {
        arity("toDate", a, 2)?;
        let (layout, value) = (text(&a[0]), text(&a[1]));
        let parsed = match layout.as_str() {
            "2006-01-02" => parse_rfc3339(&format!("{value}T00:00:00Z")),
            "2006-01-02 15:04:05" => parse_rfc3339(&format!("{}Z", value.replacen(' ', "T", 1))),
            RFC3339 => parse_rfc3339(&value),
            _ => {
                return Err(fail(format!(
                    "toDate: kiln reads only the layouts \"2006-01-02\", \"2006-01-02 15:04:05\" and RFC 3339, not {layout:?}"
                )));
            }
        };
        // sprig gives Go's zero time for a value that does not parse.
        Ok(time_value(
            parsed.unwrap_or(crate::template::GO_ZERO_TIME_UNIX),
        ))
    }),
];

/// `now`, `ago`, `date`, `dateInZone` and `date_in_zone`, which read `now_unix` (sprig's
/// `date` formats the current time when not given one).
pub(super) fn register_clock(t: Template, now_unix: Option<i64>) -> Template {
    let t = t.func("now", move |a| {
        arity("now", a, 0)?;
        Ok(time_value(clock("now", now_unix)?))
    });
    let t = t.func("ago", move |a| {
        arity("ago", a, 1)?;
        let then = instant("ago", &a[0], now_unix)?;
        Ok(string(go_duration(clock("ago", now_unix)? - then)))
    });
    let t = t.func("date", move |a| {
        arity("date", a, 2)?;
        format(
            "date",
            &text(&a[0]),
            instant("date", &a[1], now_unix)?,
            "Local",
        )
    });
    let in_zone = move |name: &'static str| {
        move |a: &[Value]| {
            arity(name, a, 3)?;
            format(
                name,
                &text(&a[0]),
                instant(name, &a[1], now_unix)?,
                &text(&a[2]),
            )
        }
    };
    t.func("dateInZone", in_zone("dateInZone"))
        .func("date_in_zone", in_zone("date_in_zone"))
}

fn clock(name: &str, now_unix: Option<i64>) -> Result<i64> {
    now_unix.ok_or_else(|| {
        fail(format!(
            "{name}: this template has no clock to read the time from"
        ))
    })
}

/// A time argument as Unix seconds: a time value, or Unix seconds; anything else means
/// "now" as in sprig, when a clock is given.
fn instant(name: &str, v: &Value, now_unix: Option<i64>) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::String(s) => match s.strip_suffix(" +0000 UTC") {
            Some(utc) => parse_rfc3339(&format!("{}Z", utc.replacen(' ', "T", 1))),
            None => None,
        }
        .map_or_else(
            || clock(name, now_unix).map_err(|_| not_a_time(name, v)),
            Ok,
        ),
        other => clock(name, now_unix).map_err(|_| not_a_time(name, other)),
    }
}

fn not_a_time(name: &str, v: &Value) -> gotmpl::TemplateError {
    fail(format!(
        "{name}: {v} is not a time (use now, toDate or Unix seconds)"
    ))
}

fn time_value(unix: i64) -> Value {
    string(format_go_time(TIME_STRING, unix, 0, &FixedZone::utc()))
}

fn format(name: &str, layout: &str, unix: i64, zone: &str) -> Result<Value> {
    let zone = match zone {
        "Local" | "" => FixedZone::utc(),
        other => FixedZone::resolve(other).ok_or_else(|| {
            fail(format!(
                "{name}: kiln knows only fixed-offset zones (UTC, Etc/GMT+5, ...), not {other:?}"
            ))
        })?,
    };
    Ok(string(format_go_time(layout, unix, 0, &zone)))
}

fn modify(name: &str, a: &[Value]) -> Result<Value> {
    arity(name, a, 2)?;
    let unix = instant(name, &a[1], None)?;
    // sprig returns the time unchanged when the duration does not parse.
    let shift = parse_go_duration(&text(&a[0])).map_or(0, |s| s.trunc() as i64);
    Ok(time_value(unix + shift))
}

/// Go's `time.Duration.String` for whole seconds (`1h2m3s`, `0s`).
fn go_duration(seconds: i64) -> String {
    if seconds == 0 {
        return "0s".to_owned();
    }
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{sign}{s}s"),
        (0, _) => format!("{sign}{m}m{s}s"),
        _ => format!("{sign}{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::TemplateInputs;
    use super::super::tests::{check, render_with};

    #[test]
    fn date_functions_read_the_given_clock() {
        // The clock is 1700000000 = 2023-11-14T22:13:20Z. Layouts as in sprig's docs.
        check(&[
            (r#"{{now}}"#, "2023-11-14 22:13:20 +0000 UTC"),
            (
                r#"{{now | date "2006-01-02"}} {{date "15:04" 0}} {{now | unixEpoch}}"#,
                "2023-11-14 00:00 1700000000",
            ),
            (
                r#"{{dateInZone "15:04 MST" now "Etc/GMT-2"}} {{now | htmlDate}}"#,
                "00:13 +02 2023-11-14",
            ),
            (
                r#"{{now | dateModify "-1.5h" | date "15:04"}} {{now | date_modify "bad" | unixEpoch}}"#,
                "20:43 1700000000",
            ),
            (
                r#"{{ago 1699996399}} {{toDate "2006-01-02" "2017-12-31" | unixEpoch}}"#,
                "1h0m1s 1514678400",
            ),
        ]);
        assert!(render_with("{{now}}", &TemplateInputs::default()).contains("no clock"));
        assert!(
            super::super::tests::render(r#"{{dateInZone "15:04" now "Mars/Olympus"}}"#)
                .contains("Mars/Olympus")
        );
    }
}
