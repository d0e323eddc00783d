//! Integration tests: the real gateway (router + accept loop, or the built binary) on an ephemeral
//! port, against the mock upstream. One test binary, one module per area.

mod harness;

mod chat;
mod cli;
mod errors;
mod keys;
mod queue;
mod secrets;
mod streaming;
