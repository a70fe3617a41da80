//! Time zones from the system's zoneinfo, for `dateTime` tags: the TZif file of an IANA
//! name (`Asia/Tokyo`) is read here and only its offset and abbreviation at one instant
//! go into kiln-core, which stays free of I/O. Go's `time.LoadLocation` reads the same
//! files (`$ZONEINFO` first, then /usr/share/zoneinfo); `Local` is `$TZ` or /etc/localtime.

use kiln_core::env::Env;
use std::path::{Component, Path, PathBuf};

use kiln_core::gotime::FixedZone;

/// The zone `name` at `unix_seconds`, or `None` when no zoneinfo file describes it.
pub fn zone_at(name: &str, env: &Env, unix_seconds: i64) -> Option<FixedZone> {
    let bytes = match name {
        "Local" => match env.get("TZ") {
            Some("") => return Some(FixedZone::utc()),
            Some(tz) => read_named(tz.trim_start_matches(':'), env)?,
            None => std::fs::read("/etc/localtime").ok()?,
        },
        _ => read_named(name, env)?,
    };
    let zone = tz::TimeZone::from_tz_data(&bytes).ok()?;
    let local = zone.find_local_time_type(unix_seconds).ok()?;
    Some(FixedZone {
        name: local.time_zone_designation().to_owned(),
        offset_seconds: local.ut_offset(),
    })
}

/// The TZif bytes of an IANA name; names that could leave the zoneinfo directory are
/// refused.
fn read_named(name: &str, env: &Env) -> Option<Vec<u8>> {
    let relative = Path::new(name);
    if relative.is_absolute() {
        return std::fs::read(relative).ok();
    }
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let mut roots: Vec<PathBuf> = env.get("ZONEINFO").map(PathBuf::from).into_iter().collect();
    roots.push(PathBuf::from("/usr/share/zoneinfo"));
    roots
        .iter()
        .find_map(|root| std::fs::read(root.join(relative)).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokyo_is_nine_hours_east_named_jst() {
        let zone = zone_at("Asia/Tokyo", &Env::default(), 1_700_000_000).expect("tzdata installed");
        assert_eq!(
            zone,
            FixedZone {
                name: "JST".into(),
                offset_seconds: 9 * 3600
            }
        );
    }

    #[test]
    fn berlin_follows_daylight_saving() {
        let env = Env::default();
        // 2023-07-01 and 2023-01-01, 12:00 UTC.
        assert_eq!(
            zone_at("Europe/Berlin", &env, 1_688_212_800).unwrap().name,
            "CEST"
        );
        assert_eq!(
            zone_at("Europe/Berlin", &env, 1_672_574_400)
                .unwrap()
                .offset_seconds,
            3600
        );
    }

    #[test]
    fn unknown_and_escaping_names_are_none() {
        let env = Env::default();
        assert_eq!(zone_at("Mars/Olympus", &env, 0), None);
        assert_eq!(zone_at("../../etc/passwd", &env, 0), None);
    }
}
