//! `kiln build` end to end: the real Go toolchain builds fixture apps, and the output is
//! checked with tools that share no code with kiln (the layout's JSON read directly,
//! umoci, skopeo, chroot).

mod support;

mod cache;
mod cli;
mod debug;
mod deploy;
mod dev;
mod engine;
mod errors;
mod ko;
mod layout;
mod modules;
mod progress;
mod push;
mod remote_cache;
mod render;
mod services;
