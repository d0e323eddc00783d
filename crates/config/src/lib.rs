//! asbru's configuration: a Bifrost `config.json` read unchanged, validated with errors that name
//! the exact field, and resolved into the typed [`Config`] the engine runs on.
//!
//! Owns: the raw file shape, `env.VAR` resolution, defaults, validation, the JSON Schema of the
//! file, and the provider list taken from environment variables when there is no file.
//! Must not: open network connections or know how providers are called.

pub mod model;
pub mod notice;

pub use model::*;
pub use notice::{Notice, NoticeKind};
