//! Benchmark harness for asbru.
//!
//! * `asbru-loadgen` (src/bin/asbru-loadgen.rs): an open-loop, fixed-rate HTTP/1.1 load
//!   generator (plus a closed-loop `--max` mode) that prints one JSON line per run.
//! * `asbru-bench` (src/main.rs): helpers for `bench/run.sh` (a free port, the markdown report).
//!
//! This library holds what both share: the result record, percentile maths and the
//! `/proc` readers used to measure the CPU time and memory of the proxy under test.

pub mod procfs;
pub mod record;
pub mod report;
pub mod stats;
