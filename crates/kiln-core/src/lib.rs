//! The pure core of kiln: value types and rules that every other crate shares.
//!
//! Architecture invariant: nothing in this crate does I/O (no files, no network, no
//! processes, no clock, no environment). Everything here is a function of its arguments,
//! which is what makes naming and digests testable against the published vectors.

pub mod caps;
pub mod command;
pub mod digest;
pub mod env;
pub mod gotime;
pub mod grammar;
pub mod media_type;
pub mod naming;
pub mod platform;
pub mod reference;
pub mod sbom;
pub mod sprig;
pub mod tag;
pub mod template;
pub mod text;

pub use digest::Digest;
pub use platform::Platform;
pub use reference::Reference;
