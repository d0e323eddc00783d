//! Markdown report built from the JSON lines of a benchmark session.

use std::fmt::Write as _;

use crate::record::RunRecord;

/// Facts about the session that the records do not carry.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub date: String,
    pub git: String,
    pub nginx: String,
    pub placement: String,
    pub nproc: String,
    pub cpu_model: String,
    pub kernel: String,
    pub mem_total: String,
    pub notes: Vec<String>,
}

impl Meta {
    /// Fills the machine facts that are empty from `/proc`.
    pub fn fill_from_proc(&mut self) {
        if self.cpu_model.is_empty() {
            self.cpu_model = std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find(|l| l.starts_with("model name"))
                        .and_then(|l| l.split_once(':'))
                        .map(|(_, v)| v.trim().to_owned())
                })
                .unwrap_or_else(|| "unknown".to_owned());
        }
        if self.kernel.is_empty() {
            self.kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned());
        }
        if self.mem_total.is_empty() {
            self.mem_total = std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|t| crate::procfs::parse_kb_field(&t, "MemTotal"))
                .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
                .unwrap_or_else(|| "unknown".to_owned());
        }
        if self.nproc.is_empty() {
            self.nproc = std::thread::available_parallelism()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string());
        }
    }
}

/// Parses JSON lines; blank lines and lines that are not run records are skipped.
#[must_use]
pub fn parse_records(text: &str) -> Vec<RunRecord> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str::<RunRecord>(l).ok())
        .filter(|r| !r.target.is_empty())
        .collect()
}

/// Key of the runs that repeat one another: same mode, target, mock latency, rate, concurrency.
type RunKey = (String, String, Option<u64>, u64, Option<usize>);

fn run_key(r: &RunRecord) -> RunKey {
    (
        r.mode.clone(),
        r.target.clone(),
        r.mock_latency_ms,
        r.rate.to_bits(),
        r.concurrency,
    )
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    })
}

/// Merges repeated runs into one record: medians of rates, latencies and CPU figures, sums of
/// counts (so one error in any repeat shows), maxima of peaks.
fn merge(group: &[&RunRecord]) -> Option<RunRecord> {
    let last = (*group.last()?).clone();
    let med =
        |f: fn(&RunRecord) -> f64| median(group.iter().map(|r| f(r)).collect()).unwrap_or(0.0);
    let med_opt =
        |f: fn(&RunRecord) -> Option<f64>| median(group.iter().filter_map(|r| f(r)).collect());
    let max = |f: fn(&RunRecord) -> f64| group.iter().map(|r| f(r)).fold(0.0, f64::max);
    let sum = |f: fn(&RunRecord) -> u64| group.iter().map(|r| f(r)).sum::<u64>();
    let mut error_kinds = std::collections::BTreeMap::new();
    for r in group {
        for (k, n) in &r.error_kinds {
            *error_kinds.entry(k.clone()).or_insert(0) += n;
        }
    }
    Some(RunRecord {
        sent: sum(|r| r.sent),
        ok: sum(|r| r.ok),
        errors: sum(|r| r.errors),
        late: sum(|r| r.late),
        achieved_rps: med(|r| r.achieved_rps),
        mean_ms: med(|r| r.mean_ms),
        p50_ms: med(|r| r.p50_ms),
        p90_ms: med(|r| r.p90_ms),
        p99_ms: med(|r| r.p99_ms),
        p999_ms: med(|r| r.p999_ms),
        max_ms: max(|r| r.max_ms),
        send_delay_p99_ms: med(|r| r.send_delay_p99_ms),
        send_delay_max_ms: max(|r| r.send_delay_max_ms),
        conns_opened: sum(|r| r.conns_opened),
        conns_peak: group.iter().map(|r| r.conns_peak).max().unwrap_or(0),
        loadgen_cpu_us_per_req: med(|r| r.loadgen_cpu_us_per_req),
        proxy_cpu_ms: med_opt(|r| r.proxy_cpu_ms),
        proxy_cpu_us_per_req: med_opt(|r| r.proxy_cpu_us_per_req),
        proxy_cpu_util: med_opt(|r| r.proxy_cpu_util),
        proxy_switches_per_req: med_opt(|r| r.proxy_switches_per_req),
        mock_cpu_us_per_req: med_opt(|r| r.mock_cpu_us_per_req),
        background_cpu_util: med_opt(|r| r.background_cpu_util),
        other_tcp_opens: group.iter().filter_map(|r| r.other_tcp_opens).max(),
        proxy_peak_rss_kb: group.iter().filter_map(|r| r.proxy_peak_rss_kb).max(),
        error_kinds,
        ..last
    })
}

/// One record per distinct run (repeats merged), in order of first appearance, and the
/// largest number of repeats of any run.
#[must_use]
pub fn merge_repeats(records: &[RunRecord]) -> (Vec<RunRecord>, usize) {
    let mut keys: Vec<RunKey> = Vec::new();
    for r in records {
        let k = run_key(r);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut most = 0;
    let merged = keys
        .iter()
        .filter_map(|k| {
            let group: Vec<&RunRecord> = records.iter().filter(|r| run_key(r) == *k).collect();
            most = most.max(group.len());
            merge(&group)
        })
        .collect();
    (merged, most)
}

/// The bar the issue sets, at 2,000 req/s with the 60 ms mock.
pub mod bar {
    pub const RATE: f64 = 2000.0;
    pub const MOCK_MS: u64 = 60;
    pub const CPU_RATIO_MAX: f64 = 1.5;
    pub const ADDED_P50_SLACK_MS: f64 = 0.15;
    pub const ADDED_P99_MAX_MS: f64 = 2.0;
    /// 40 MB, read strictly as 40 × 10^6 bytes.
    pub const PEAK_RSS_MAX_KB: f64 = 40e6 / 1024.0;
    pub const MAX_RPS_RATIO_MIN: f64 = 0.7;
}

const TARGET_ORDER: [&str; 4] = ["direct", "nginx", "asbru", "asbru-translated"];

fn target_rank(t: &str) -> usize {
    TARGET_ORDER
        .iter()
        .position(|x| *x == t)
        .unwrap_or(TARGET_ORDER.len())
}

fn same_rate(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// Last rate-mode record for (target, mock latency, rate).
fn find_rate<'a>(
    records: &'a [RunRecord],
    target: &str,
    mock: Option<u64>,
    rate: f64,
) -> Option<&'a RunRecord> {
    records.iter().rev().find(|r| {
        r.mode == "rate"
            && r.target == target
            && r.mock_latency_ms == mock
            && same_rate(r.rate, rate)
    })
}

fn find_max<'a>(records: &'a [RunRecord], target: &str) -> Option<&'a RunRecord> {
    records
        .iter()
        .rev()
        .find(|r| r.mode == "max" && r.target == target)
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |x| format!("{x:.decimals$}"))
}

fn mib(kb: Option<u64>) -> String {
    opt(kb.map(|k| k as f64 / 1024.0), 1)
}

fn errors_cell(r: &RunRecord) -> String {
    if r.late > 0 {
        format!("{} (late {})", r.errors, r.late)
    } else {
        r.errors.to_string()
    }
}

fn proxy_cpu(r: &RunRecord) -> Option<f64> {
    if r.target == "direct" {
        None
    } else {
        r.proxy_cpu_us_per_req
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn rate_table(out: &mut String, records: &[RunRecord], mock: Option<u64>) -> std::fmt::Result {
    let mut rates: Vec<f64> = records
        .iter()
        .filter(|r| r.mode == "rate" && r.mock_latency_ms == mock)
        .map(|r| r.rate)
        .collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup_by(|a, b| same_rate(*a, *b));
    let mut targets: Vec<&str> = records
        .iter()
        .filter(|r| r.mode == "rate" && r.mock_latency_ms == mock)
        .map(|r| r.target.as_str())
        .collect();
    targets.sort_by_key(|t| (target_rank(t), (*t).to_owned()));
    targets.dedup();

    writeln!(
        out,
        "| target | rate | achieved rps | errors | p50 ms | p99 ms | added p50 ms | added p99 ms | CPU µs/req | CPU ÷ nginx | proxy CPU util | peak RSS MiB |"
    )?;
    writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")?;
    for &rate in &rates {
        let direct = find_rate(records, "direct", mock, rate);
        let nginx_cpu = find_rate(records, "nginx", mock, rate).and_then(proxy_cpu);
        for &target in &targets {
            let Some(r) = find_rate(records, target, mock, rate) else {
                continue;
            };
            let is_proxy = target != "direct";
            let added = |f: fn(&RunRecord) -> f64| {
                direct.filter(|_| is_proxy && r.ok > 0).map(|d| f(r) - f(d))
            };
            let cpu = proxy_cpu(r);
            let cpu_ratio = if target == "nginx" || !is_proxy {
                None
            } else {
                ratio(cpu, nginx_cpu)
            };
            writeln!(
                out,
                "| {target} | {rate:.0} | {:.0} | {} | {:.3} | {:.3} | {} | {} | {} | {} | {} | {} |",
                r.achieved_rps,
                errors_cell(r),
                r.p50_ms,
                r.p99_ms,
                opt(added(|x| x.p50_ms), 3),
                opt(added(|x| x.p99_ms), 3),
                opt(cpu, 1),
                opt(cpu_ratio, 2),
                opt(if is_proxy { r.proxy_cpu_util } else { None }, 2),
                mib(if is_proxy { r.proxy_peak_rss_kb } else { None }),
            )?;
        }
    }
    Ok(())
}

/// Requests per second one fully busy CPU could serve, from the CPU time per request.
fn per_core_rps(r: &RunRecord) -> Option<f64> {
    proxy_cpu(r).filter(|c| *c > 0.0).map(|c| 1e6 / c)
}

fn max_records(records: &[RunRecord]) -> Vec<&RunRecord> {
    let mut out: Vec<&RunRecord> = TARGET_ORDER
        .iter()
        .filter_map(|t| find_max(records, t))
        .collect();
    out.extend(
        records
            .iter()
            .filter(|r| r.mode == "max" && target_rank(&r.target) == TARGET_ORDER.len()),
    );
    out
}

fn max_table(out: &mut String, records: &[RunRecord]) -> std::fmt::Result {
    let nginx = find_max(records, "nginx");
    let nginx_rps = nginx.map(|r| r.achieved_rps);
    let nginx_core = nginx.and_then(per_core_rps);
    writeln!(
        out,
        "| target | connections | throughput rps | errors | p50 ms | p99 ms | CPU µs/req | proxy CPU util | rps per proxy core | peak RSS MiB | rps ÷ nginx | per core ÷ nginx |"
    )?;
    writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")?;
    for r in max_records(records) {
        let is_proxy = r.target != "direct";
        let vs_nginx = |v: Option<f64>, n: Option<f64>| {
            if is_proxy && r.target != "nginx" {
                ratio(v, n)
            } else {
                None
            }
        };
        writeln!(
            out,
            "| {} | {} | {:.0} | {} | {:.3} | {:.3} | {} | {} | {} | {} | {} | {} |",
            r.target,
            r.concurrency
                .map_or_else(|| "–".to_owned(), |c| c.to_string()),
            r.achieved_rps,
            r.errors,
            r.p50_ms,
            r.p99_ms,
            opt(proxy_cpu(r), 1),
            opt(if is_proxy { r.proxy_cpu_util } else { None }, 2),
            opt(per_core_rps(r), 0),
            mib(if is_proxy { r.proxy_peak_rss_kb } else { None }),
            opt(vs_nginx(Some(r.achieved_rps), nginx_rps), 2),
            opt(vs_nginx(per_core_rps(r), nginx_core), 2),
        )?;
    }
    if let Some(d) = find_max(records, "direct") {
        writeln!(out)?;
        writeln!(
            out,
            "The load generator and the mock alone (direct) reach {:.0} rps: a proxy whose CPU utilisation stays below ~0.95 was limited by that, not by itself; \"rps per proxy core\" (10⁶ ÷ CPU µs per request) is then the fairer capacity figure.",
            d.achieved_rps
        )?;
    }
    Ok(())
}

/// Per-run figures that show how trustworthy the run was.
fn diagnostics_table(out: &mut String, records: &[RunRecord]) -> std::fmt::Result {
    writeln!(
        out,
        "| target | mock ms | rate | late | send delay p99 ms | loadgen CPU µs/req | mock CPU µs/req | proxy wake-ups/req | proxy CPU source | background CPU (cores) | conns | other TCP opens |"
    )?;
    writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|")?;
    for r in records {
        let is_proxy = r.target != "direct";
        writeln!(
            out,
            "| {} | {} | {} | {} | {:.3} | {:.1} | {} | {} | {} | {} | {} | {} |",
            r.target,
            r.mock_latency_ms
                .map_or_else(|| "–".to_owned(), |m| m.to_string()),
            if r.mode == "max" {
                "max".to_owned()
            } else {
                format!("{:.0}", r.rate)
            },
            r.late,
            r.send_delay_p99_ms,
            r.loadgen_cpu_us_per_req,
            opt(r.mock_cpu_us_per_req, 1),
            opt(
                if is_proxy {
                    r.proxy_switches_per_req
                } else {
                    None
                },
                2
            ),
            if is_proxy {
                r.proxy_cpu_source.as_deref().unwrap_or("–")
            } else {
                "–"
            },
            opt(r.background_cpu_util, 2),
            r.conns_peak,
            r.other_tcp_opens
                .map_or_else(|| "–".to_owned(), |n| n.to_string()),
        )?;
    }
    Ok(())
}

/// Peak and final memory of each proxy per session (a session = one start of the proxies).
fn memory_table(out: &mut String, records: &[RunRecord]) -> std::fmt::Result {
    let mut sessions: Vec<(String, Option<u64>)> = Vec::new();
    for r in records {
        let key = (
            r.mode.clone(),
            if r.mode == "max" {
                None
            } else {
                r.mock_latency_ms
            },
        );
        if !sessions.contains(&key) {
            sessions.push(key);
        }
    }
    writeln!(
        out,
        "| session | proxy | peak RSS MiB (VmHWM) | RSS after MiB | PSS after MiB |"
    )?;
    writeln!(out, "|---|---|--:|--:|--:|")?;
    for (mode, mock) in &sessions {
        let label = if mode == "max" {
            "max throughput".to_owned()
        } else {
            format!(
                "mock {} ms",
                mock.map_or_else(|| "?".to_owned(), |m| m.to_string())
            )
        };
        for target in ["nginx", "asbru"] {
            let runs: Vec<&RunRecord> = records
                .iter()
                .filter(|r| {
                    r.target == target
                        && &r.mode == mode
                        && (mode == "max" || r.mock_latency_ms == *mock)
                })
                .collect();
            let Some(last) = runs.last() else { continue };
            let peak = runs.iter().filter_map(|r| r.proxy_peak_rss_kb).max();
            writeln!(
                out,
                "| {label} | {target} | {} | {} | {} |",
                mib(peak),
                mib(last.proxy_rss_kb),
                mib(last.proxy_pss_kb)
            )?;
        }
    }
    Ok(())
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn bar_checks(out: &mut String, records: &[RunRecord]) -> std::fmt::Result {
    use bar::*;
    let mock = Some(MOCK_MS);
    let (Some(direct), Some(nginx), Some(asbru)) = (
        find_rate(records, "direct", mock, RATE),
        find_rate(records, "nginx", mock, RATE),
        find_rate(records, "asbru", mock, RATE),
    ) else {
        writeln!(
            out,
            "Not evaluated: needs direct, nginx and asbru runs at {RATE:.0} req/s with the {MOCK_MS} ms mock."
        )?;
        return Ok(());
    };
    if let Some(r) = ratio(asbru.proxy_cpu_us_per_req, nginx.proxy_cpu_us_per_req) {
        writeln!(
            out,
            "- CPU per request: asbru {:.1} µs vs nginx {:.1} µs = {r:.2}× (≤ {CPU_RATIO_MAX}×): **{}**",
            asbru.proxy_cpu_us_per_req.unwrap_or(0.0),
            nginx.proxy_cpu_us_per_req.unwrap_or(0.0),
            verdict(r <= CPU_RATIO_MAX)
        )?;
    }
    let a50 = asbru.p50_ms - direct.p50_ms;
    let n50 = nginx.p50_ms - direct.p50_ms;
    writeln!(
        out,
        "- added p50: asbru {a50:.3} ms vs nginx {n50:.3} ms (≤ nginx + {ADDED_P50_SLACK_MS} ms): **{}**",
        verdict(a50 <= n50 + ADDED_P50_SLACK_MS)
    )?;
    let a99 = asbru.p99_ms - direct.p99_ms;
    writeln!(
        out,
        "- added p99: asbru {a99:.3} ms (≤ {ADDED_P99_MAX_MS} ms): **{}**",
        verdict(a99 <= ADDED_P99_MAX_MS)
    )?;
    writeln!(
        out,
        "- errors: asbru {} (late {}) (= 0): **{}**",
        asbru.errors,
        asbru.late,
        verdict(asbru.errors == 0)
    )?;
    let peak = records
        .iter()
        .filter(|r| r.target == "asbru" && r.mode == "rate" && r.mock_latency_ms == mock)
        .filter_map(|r| r.proxy_peak_rss_kb)
        .max();
    if let Some(kb) = peak {
        writeln!(
            out,
            "- peak RSS: asbru {:.1} MiB = {:.1} MB (≤ 40 MB): **{}**",
            kb as f64 / 1024.0,
            kb as f64 * 1024.0 / 1e6,
            verdict(kb as f64 <= PEAK_RSS_MAX_KB)
        )?;
    }
    if let (Some(a), Some(n)) = (find_max(records, "asbru"), find_max(records, "nginx"))
        && let Some(raw) = ratio(Some(a.achieved_rps), Some(n.achieved_rps))
    {
        // When a proxy did not saturate its CPU, the raw ratio flatters the slower one: judge
        // on the lower of the raw ratio and the per-core capacity ratio.
        let per_core = ratio(per_core_rps(a), per_core_rps(n));
        let judged = per_core.map_or(raw, |p| p.min(raw));
        writeln!(
            out,
            "- max throughput (0 ms mock): asbru {:.0} rps vs nginx {:.0} rps = {raw:.2}×; per proxy core {} vs {} = {}× (≥ {MAX_RPS_RATIO_MIN}× on the lower): **{}**",
            a.achieved_rps,
            n.achieved_rps,
            opt(per_core_rps(a), 0),
            opt(per_core_rps(n), 0),
            opt(per_core, 2),
            verdict(judged >= MAX_RPS_RATIO_MIN)
        )?;
    }
    Ok(())
}

/// Renders the whole report.
///
/// # Errors
/// Only if formatting into a `String` fails (it does not).
pub fn render(meta: &Meta, raw: &[RunRecord]) -> Result<String, std::fmt::Error> {
    let (merged, repeats) = merge_repeats(raw);
    let records = merged.as_slice();
    let mut out = String::new();
    writeln!(out, "### Run of {}", meta.date)?;
    writeln!(out)?;
    writeln!(
        out,
        "- Machine: {}, {} CPUs (nproc), {} RAM, Linux {}",
        meta.cpu_model, meta.nproc, meta.mem_total, meta.kernel
    )?;
    if !meta.git.is_empty() {
        writeln!(out, "- asbru commit: {}", meta.git)?;
    }
    if !meta.nginx.is_empty() {
        writeln!(out, "- nginx: {}", meta.nginx)?;
    }
    if !meta.placement.is_empty() {
        writeln!(out, "- CPU placement: {}", meta.placement)?;
    }
    if let Some(r) = records.iter().find(|r| r.mode == "rate") {
        writeln!(
            out,
            "- Fixed-rate runs: open loop, {:.0} s measured after {:.0} s warm-up; latency from the scheduled send time to the last body byte; late = sent > {} ms after schedule",
            r.duration_s, r.warmup_s, r.late_ms
        )?;
    }
    if repeats > 1 {
        writeln!(
            out,
            "- Each run repeated {repeats} times: medians of rates, latencies and CPU figures; errors and late requests summed; peaks are maxima"
        )?;
    }
    for note in &meta.notes {
        writeln!(out, "- {note}")?;
    }
    let mut mocks: Vec<Option<u64>> = Vec::new();
    for r in records.iter().filter(|r| r.mode == "rate") {
        if !mocks.contains(&r.mock_latency_ms) {
            mocks.push(r.mock_latency_ms);
        }
    }
    mocks.sort();
    for mock in mocks {
        writeln!(out)?;
        match mock {
            Some(ms) => writeln!(out, "#### Fixed rate, mock answers after {ms} ms")?,
            None => writeln!(out, "#### Fixed rate")?,
        }
        writeln!(out)?;
        rate_table(&mut out, records, mock)?;
    }
    if records.iter().any(|r| r.mode == "max") {
        let r = records.iter().find(|r| r.mode == "max");
        writeln!(out)?;
        writeln!(
            out,
            "#### Max throughput, mock {} ms, closed loop, {:.0} s",
            r.and_then(|r| r.mock_latency_ms)
                .map_or_else(|| "?".to_owned(), |m| m.to_string()),
            r.map_or(0.0, |r| r.duration_s)
        )?;
        writeln!(out)?;
        max_table(&mut out, records)?;
    }
    if records.iter().any(|r| r.proxy_peak_rss_kb.is_some()) {
        writeln!(out)?;
        writeln!(
            out,
            "#### Proxy memory per session (proxies restarted for each)"
        )?;
        writeln!(out)?;
        memory_table(&mut out, records)?;
    }
    if !records.is_empty() {
        writeln!(out)?;
        writeln!(out, "#### Diagnostics")?;
        writeln!(out)?;
        diagnostics_table(&mut out, raw)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "#### The bar ({:.0} req/s, {} ms mock)",
        bar::RATE,
        bar::MOCK_MS
    )?;
    writeln!(out)?;
    bar_checks(&mut out, records)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        target: &str,
        mode: &str,
        mock: u64,
        rate: f64,
        p50: f64,
        p99: f64,
        cpu: f64,
    ) -> RunRecord {
        RunRecord {
            target: target.to_owned(),
            mode: mode.to_owned(),
            mock_latency_ms: Some(mock),
            rate,
            duration_s: 15.0,
            warmup_s: 2.0,
            sent: 100,
            ok: 100,
            achieved_rps: if mode == "max" { cpu * 1000.0 } else { rate },
            p50_ms: p50,
            p99_ms: p99,
            proxy_cpu_us_per_req: Some(cpu),
            proxy_peak_rss_kb: Some(10_240),
            ..RunRecord::default()
        }
    }

    #[test]
    fn renders_tables_and_bar() -> Result<(), std::fmt::Error> {
        let records = vec![
            rec("direct", "rate", 60, 2000.0, 60.2, 61.0, 0.0),
            rec("nginx", "rate", 60, 2000.0, 60.4, 61.5, 20.0),
            rec("asbru", "rate", 60, 2000.0, 60.5, 62.0, 25.0),
            rec("nginx", "max", 0, 0.0, 0.5, 1.0, 20.0),
            rec("asbru", "max", 0, 0.0, 0.5, 1.0, 15.0),
        ];
        let text = render(&Meta::default(), &records)?;
        assert!(
            text.contains(
                "| asbru | 2000 | 2000 | 0 | 60.500 | 62.000 | 0.300 | 1.000 | 25.0 | 1.25 |"
            ),
            "{text}"
        );
        assert!(text.contains("= 1.25× (≤ 1.5×): **PASS**"), "{text}");
        assert!(
            text.contains("asbru 0.300 ms vs nginx 0.200 ms (≤ nginx + 0.15 ms): **PASS**"),
            "{text}"
        );
        assert!(
            text.contains("= 0.75×; per proxy core 66667 vs 50000 = 1.33×"),
            "{text}"
        );
        assert!(text.contains("(≥ 0.7× on the lower): **PASS**"), "{text}");
        Ok(())
    }

    #[test]
    fn repeats_are_merged() {
        let mut a = rec("nginx", "rate", 60, 2000.0, 61.0, 62.0, 10.0);
        let b = rec("nginx", "rate", 60, 2000.0, 61.2, 65.0, 30.0);
        let c = rec("nginx", "rate", 60, 2000.0, 61.1, 63.0, 20.0);
        a.errors = 1;
        let other = rec("asbru", "rate", 60, 2000.0, 61.0, 62.0, 10.0);
        let (merged, most) = merge_repeats(&[a, other, b, c]);
        assert_eq!(most, 3);
        assert_eq!(merged.len(), 2);
        let m = &merged[0];
        assert_eq!(m.target, "nginx");
        assert!((m.p50_ms - 61.1).abs() < 1e-9);
        assert!((m.p99_ms - 63.0).abs() < 1e-9);
        assert_eq!(m.proxy_cpu_us_per_req, Some(20.0));
        assert_eq!((m.errors, m.ok), (1, 300));
        assert_eq!(median(vec![1.0, 4.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn parses_lines() {
        let text = "{\"target\":\"nginx\",\"mode\":\"rate\",\"rate\":500.0}\nnot json\n\n{\"kind\":\"other\"}\n";
        let r = parse_records(text);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].target, "nginx");
    }
}
