//! Exact latency percentiles over a sorted list of samples (nanoseconds).

/// Latency summary in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// Nearest-rank percentile of an ascending slice (`q` in 0..=100); 0 when empty.
#[must_use]
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len();
    let rank = ((q / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Sorts `samples` in place and summarises them.
#[must_use]
pub fn summarize(samples: &mut [u64]) -> Summary {
    samples.sort_unstable();
    if samples.is_empty() {
        return Summary::default();
    }
    let total: u128 = samples.iter().map(|&s| u128::from(s)).sum();
    let mean_ms = total as f64 / samples.len() as f64 / 1e6;
    Summary {
        count: samples.len(),
        mean_ms,
        p50_ms: ms(percentile(samples, 50.0)),
        p90_ms: ms(percentile(samples, 90.0)),
        p99_ms: ms(percentile(samples, 99.0)),
        p999_ms: ms(percentile(samples, 99.9)),
        max_ms: ms(samples[samples.len() - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[7], 99.9), 7);
    }

    #[test]
    fn summary() {
        let mut v: Vec<u64> = (1..=1000).rev().map(|x| x * 1_000_000).collect();
        let s = summarize(&mut v);
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 500.0).abs() < 1e-9);
        assert!((s.p99_ms - 990.0).abs() < 1e-9);
        assert!((s.max_ms - 1000.0).abs() < 1e-9);
        assert!((s.mean_ms - 500.5).abs() < 1e-9);
    }
}
