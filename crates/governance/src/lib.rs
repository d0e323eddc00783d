//! Governance foundation for asbru: Bifrost-compatible virtual keys, budgets and rate limits.
//!
//! Five parts, each with one job:
//! - [`model`] and [`parse`]: the typed entities of Bifrost's `governance` config section and a
//!   parser that reports every problem at once, with the JSON path of each;
//! - [`duration`]: reset durations (`1h`, `1M`, `monthly`, ...) and when a window ends, rolling
//!   or aligned to the UTC calendar;
//! - [`pricing`]: the built-in price list and what a request cost from its usage;
//! - [`rules`]: routing rules, their CEL expressions compiled once and evaluated per request;
//! - [`counters`]: exact in-process admission against budgets and rate limits, reserving the
//!   worst case up front so concurrent requests cannot overshoot a limit together;
//! - [`shared`]: the same counters shared by every node through Redis (the only part doing I/O).
//!
//! The gateway wires these together (looking up a virtual key, choosing which counters apply,
//! computing cost); this crate only provides the pieces, so they can be tested without HTTP.

pub mod counters;
pub mod duration;
pub mod model;
pub mod parse;
pub mod pricing;
pub mod rules;
pub mod shared;
