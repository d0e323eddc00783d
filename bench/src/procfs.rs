//! Readers for `/proc`: CPU time and memory of a set of processes.
//!
//! CPU time is taken two ways at once:
//! * `utime + stime` from `/proc/PID/stat` (clock ticks, normally 10 ms each; covers every
//!   thread of the process, including threads that have already exited);
//! * the sum over `/proc/PID/task/TID/schedstat` of the on-CPU nanoseconds of every thread.
//!
//! The nanosecond figure is used when the set of threads did not change between the two
//! snapshots (then it is exact); otherwise the tick figure is used, since a thread that
//! exited in between took its nanoseconds with it.
//!
//! `schedstat` also counts how often each thread was scheduled in, which approximates the
//! number of wake-ups: on a virtual machine a wake-up across CPUs is expensive, so this
//! explains much of the CPU time per request at moderate rates.

use std::collections::BTreeMap;
use std::fs;
use std::io;

/// One process's CPU counters at one instant.
#[derive(Debug, Clone, Default)]
pub struct ProcCpu {
    /// `utime + stime` in clock ticks.
    pub ticks: u64,
    /// Per thread id, from `schedstat`: (on-CPU nanoseconds, times scheduled in).
    pub threads: BTreeMap<u32, (u64, u64)>,
}

/// CPU counters of several processes at one instant.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    pub procs: BTreeMap<u32, ProcCpu>,
}

/// How a CPU delta was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuSource {
    /// Exact: per-thread nanoseconds, same threads at both ends.
    Schedstat,
    /// Clock ticks from `/proc/PID/stat` (resolution 1/CLK_TCK s).
    Ticks,
}

impl CpuSource {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedstat => "schedstat",
            Self::Ticks => "stat-ticks",
        }
    }
}

/// Parses `utime + stime` (fields 14 and 15) out of the text of `/proc/PID/stat`.
#[must_use]
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may contain spaces: skip past it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // `rest` starts at field 3 (state); utime is field 14, i.e. the 12th token here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Parses a `schedstat` file: (on-CPU nanoseconds, number of times the task was scheduled in).
#[must_use]
pub fn parse_schedstat(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_ascii_whitespace();
    let ns = fields.next()?.parse().ok()?;
    let slices = fields.nth(1)?.parse().ok()?;
    Some((ns, slices))
}

/// Reads one process's CPU counters.
///
/// # Errors
/// When `/proc/PID/stat` cannot be read or parsed (e.g. the process is gone).
pub fn read_proc_cpu(pid: u32) -> io::Result<ProcCpu> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = parse_stat_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad /proc/PID/stat"))?;
    let mut threads = BTreeMap::new();
    if let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) {
        for entry in dir.flatten() {
            let Some(tid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(v) = fs::read_to_string(entry.path().join("schedstat"))
                .ok()
                .as_deref()
                .and_then(parse_schedstat)
            {
                threads.insert(tid, v);
            }
        }
    }
    Ok(ProcCpu { ticks, threads })
}

/// Reads the CPU counters of all `pids`; processes that cannot be read are left out.
#[must_use]
pub fn snapshot(pids: &[u32]) -> CpuSnapshot {
    let procs = pids
        .iter()
        .filter_map(|&pid| read_proc_cpu(pid).ok().map(|c| (pid, c)))
        .collect();
    CpuSnapshot { procs }
}

/// What changed between two snapshots of the same processes.
#[derive(Debug, Clone, Copy)]
pub struct CpuDelta {
    /// CPU time used, in nanoseconds.
    pub ns: u64,
    pub source: CpuSource,
    /// Times the threads were scheduled in (≈ wake-ups), when the threads did not change.
    pub switches: Option<u64>,
}

fn same_threads(before: &CpuSnapshot, after: &CpuSnapshot) -> bool {
    before.procs.len() == after.procs.len()
        && before.procs.iter().all(|(pid, b)| {
            after
                .procs
                .get(pid)
                .is_some_and(|a| !a.threads.is_empty() && a.threads.keys().eq(b.threads.keys()))
        })
}

/// CPU time used between two snapshots, and how it was measured.
#[must_use]
pub fn cpu_delta(before: &CpuSnapshot, after: &CpuSnapshot, clk_tck: u64) -> CpuDelta {
    if same_threads(before, after) {
        let (mut ns, mut switches) = (0u64, 0u64);
        for (pid, b) in &before.procs {
            let Some(a) = after.procs.get(pid) else {
                continue;
            };
            for ((a_ns, a_n), (b_ns, b_n)) in a.threads.values().zip(b.threads.values()) {
                ns += a_ns.saturating_sub(*b_ns);
                switches += a_n.saturating_sub(*b_n);
            }
        }
        return CpuDelta {
            ns,
            source: CpuSource::Schedstat,
            switches: Some(switches),
        };
    }
    let ticks: u64 = after
        .procs
        .iter()
        .map(|(pid, a)| {
            a.ticks
                .saturating_sub(before.procs.get(pid).map_or(0, |b| b.ticks))
        })
        .sum();
    let ns_per_tick = 1_000_000_000 / clk_tck.max(1);
    CpuDelta {
        ns: ticks * ns_per_tick,
        source: CpuSource::Ticks,
        switches: None,
    }
}

/// Whole-machine CPU counters from the first line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineCpu {
    /// user + nice + system + irq + softirq + steal, summed over CPUs.
    pub busy: u64,
    /// busy + idle + iowait.
    pub total: u64,
}

/// Parses the aggregate `cpu` line of `/proc/stat`.
#[must_use]
pub fn parse_proc_stat(text: &str) -> Option<MachineCpu> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_ascii_whitespace()
        .skip(1)
        .map_while(|x| x.parse().ok())
        .collect();
    if v.len() < 8 {
        return None;
    }
    let busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    Some(MachineCpu {
        busy,
        total: busy + v[3] + v[4],
    })
}

/// Reads `/proc/stat`.
#[must_use]
pub fn machine_cpu() -> Option<MachineCpu> {
    parse_proc_stat(&fs::read_to_string("/proc/stat").ok()?)
}

/// A counter of `/proc/net/snmp`, e.g. (`Tcp`, `ActiveOpens`): connections opened by this
/// network namespace.
#[must_use]
pub fn parse_snmp(text: &str, group: &str, name: &str) -> Option<u64> {
    let prefix = format!("{group}:");
    let mut lines = text.lines().filter(|l| l.starts_with(&prefix));
    let header = lines.next()?;
    let values = lines.next()?;
    let idx = header.split_ascii_whitespace().position(|h| h == name)?;
    values.split_ascii_whitespace().nth(idx)?.parse().ok()
}

/// TCP connections actively opened (`connect`) on the machine so far.
#[must_use]
pub fn tcp_active_opens() -> Option<u64> {
    parse_snmp(
        &fs::read_to_string("/proc/net/snmp").ok()?,
        "Tcp",
        "ActiveOpens",
    )
}

/// Memory figures of a set of processes, summed, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemInfo {
    /// Sum of `VmHWM` (peak resident set over each process's lifetime).
    pub peak_rss_kb: u64,
    /// Sum of `VmRSS` now.
    pub rss_kb: u64,
    /// Sum of `Pss` from `smaps_rollup` (shared pages split between sharers), when readable.
    pub pss_kb: Option<u64>,
}

/// Value in kB of a `Key:   1234 kB` line of a `/proc` status-like file.
#[must_use]
pub fn parse_kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_ascii_whitespace().next()?.parse().ok()
    })
}

/// Sums the memory figures over `pids` (processes that cannot be read are left out).
#[must_use]
pub fn mem_info(pids: &[u32]) -> MemInfo {
    let mut info = MemInfo::default();
    let mut pss_all = true;
    for &pid in pids {
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        info.peak_rss_kb += parse_kb_field(&status, "VmHWM").unwrap_or(0);
        info.rss_kb += parse_kb_field(&status, "VmRSS").unwrap_or(0);
        match fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .ok()
            .and_then(|t| parse_kb_field(&t, "Pss"))
        {
            Some(pss) => *info.pss_kb.get_or_insert(0) += pss,
            None => pss_all = false,
        }
    }
    if !pss_all {
        info.pss_kb = None;
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_with_spaces_in_name() {
        let stat = "1234 (my (odd) proc) S 1 1234 1234 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 3 0 100 1000000 500 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat), Some(325));
    }

    #[test]
    fn schedstat_and_proc_stat() {
        assert_eq!(parse_schedstat("123456 789 42\n"), Some((123_456, 42)));
        let stat = "cpu  100 5 50 1000 20 3 7 2 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        let m = parse_proc_stat(stat);
        assert_eq!(m.map(|m| (m.busy, m.total)), Some((167, 1187)));
    }

    #[test]
    fn snmp() {
        let text = "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm RtoMin ActiveOpens PassiveOpens\nTcp: 1 200 345 67\n";
        assert_eq!(parse_snmp(text, "Tcp", "ActiveOpens"), Some(345));
        assert_eq!(parse_snmp(text, "Tcp", "Nope"), None);
    }

    #[test]
    fn kb_fields() {
        let status = "Name:\tnginx\nVmHWM:\t   10240 kB\nVmRSS:\t    8000 kB\n";
        assert_eq!(parse_kb_field(status, "VmHWM"), Some(10240));
        assert_eq!(parse_kb_field(status, "VmRSS"), Some(8000));
        assert_eq!(parse_kb_field(status, "VmSwap"), None);
    }

    #[test]
    fn own_process_is_readable() {
        let pid = std::process::id();
        let a = snapshot(&[pid]);
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(x, 1);
        let b = snapshot(&[pid]);
        let d = cpu_delta(&a, &b, 100);
        assert!(b.procs.contains_key(&pid));
        assert!(d.ns < 60_000_000_000);
        assert!(machine_cpu().is_some_and(|m| m.total >= m.busy));
        assert!(mem_info(&[pid]).peak_rss_kb > 0);
    }
}
