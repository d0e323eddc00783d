//! The JSON record `asbru-loadgen` prints for one run (one line), read back by the report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Result of one load-generator run against one target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunRecord {
    /// Label of the target (`direct`, `nginx`, `asbru`).
    pub target: String,
    /// `rate` (open loop, fixed rate) or `max` (closed loop, as fast as possible).
    pub mode: String,
    /// Latency the mock was started with (a label passed through by the runner).
    pub mock_latency_ms: Option<u64>,
    /// Requested rate in requests/s (open loop); 0 in `max` mode.
    pub rate: f64,
    /// Concurrent connections (`max` mode).
    pub concurrency: Option<usize>,
    /// Length of the measured window in seconds (the warm-up before it is not counted).
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Requests in the measured window: sent (scheduled, in open loop), answered 200 with a
    /// fully read body, failed (connection error, timeout, non-200 status, empty body).
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    /// Open loop: requests that went out more than `late_ms` after their scheduled time
    /// (the load generator could not hold the rate, or had to wait for a connection).
    pub late: u64,
    pub late_ms: f64,
    /// OK responses per second over the measured window.
    pub achieved_rps: f64,
    /// Latency of OK requests; open loop: from the *scheduled* send time to the last body byte.
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Open loop: delay between scheduled and actual send (load-generator lag).
    pub send_delay_p99_ms: f64,
    pub send_delay_max_ms: f64,
    /// Connections the load generator opened in total, and the most open at once.
    pub conns_opened: u64,
    pub conns_peak: usize,
    /// CPU time of the load generator itself per measured request, in microseconds.
    pub loadgen_cpu_us_per_req: f64,
    /// Processes of the proxy under test whose CPU and memory were watched.
    pub proxy_pids: Vec<u32>,
    /// CPU time (user + system) of the watched processes during the measured window.
    pub proxy_cpu_ms: Option<f64>,
    pub proxy_cpu_us_per_req: Option<f64>,
    /// Watched CPU time divided by the window's wall time (1.0 = one core busy).
    pub proxy_cpu_util: Option<f64>,
    /// `schedstat` (exact ns) or `stat-ticks` (10 ms resolution).
    pub proxy_cpu_source: Option<String>,
    /// Times the proxy's threads were scheduled in, per request (≈ wake-ups per request).
    pub proxy_switches_per_req: Option<f64>,
    /// TCP connections opened on the machine during the window other than by the load
    /// generator: for a proxy, normally its new connections to the upstream (0 once warm).
    pub other_tcp_opens: Option<u64>,
    /// CPU time of the mock per request (`--mock-pid`), in microseconds.
    pub mock_cpu_us_per_req: Option<f64>,
    /// CPU used on the machine during the window by anything but the load generator, the
    /// proxy and the mock, in cores (from `/proc/stat`; 10 ms ticks). Noise indicator.
    pub background_cpu_util: Option<f64>,
    /// Sum over watched processes of VmHWM (lifetime peak RSS) after the run, KiB.
    pub proxy_peak_rss_kb: Option<u64>,
    /// Sum of VmRSS after the run, KiB.
    pub proxy_rss_kb: Option<u64>,
    /// Sum of Pss after the run (shared pages split between processes), KiB.
    pub proxy_pss_kb: Option<u64>,
    /// Count of failures by kind (first few kinds only).
    pub error_kinds: BTreeMap<String, u64>,
}
