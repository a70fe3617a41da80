//! The check `kiln build` makes at its end ([`trim_after_build`]) on one cache directory,
//! under a bound it is within: `walk` forgets the state the last walk recorded (what a build
//! that wrote something pays), `check` keeps it (what a build that only hit the cache pays).
//! `scripts/bench.sh` times both against `du -s` on the same directory.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use kiln_image::cache::gc::trim_after_build;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(mode), Some(dir)) = (args.next(), args.next()) else {
        return Err("usage: cache_check walk|check CACHE_DIR".into());
    };
    let dir = PathBuf::from(dir);
    match mode.to_str() {
        Some("walk") => match std::fs::remove_file(dir.join("usage.json")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        },
        Some("check") => {}
        _ => return Err("the mode is walk or check".into()),
    }
    println!("{:?}", trim_after_build(&dir, u64::MAX, UNIX_EPOCH)?);
    Ok(())
}
