//! Integration tests of the config loader, against the crate's own fixtures (`tests/fixtures/`).
//!
//! The modules are marked `cfg(test)` so that clippy treats their helpers as test code.

#[cfg(test)]
mod common;
#[cfg(test)]
mod env;
#[cfg(test)]
mod errors;
#[cfg(test)]
mod full;
#[cfg(test)]
mod mocker;
#[cfg(test)]
mod schema;
#[cfg(test)]
mod unknown;
