//! When and how long to wait before trying a provider again.
//!
//! Bifrost's `network_config`: up to `max_retries` extra attempts on the same key, waiting
//! `min(initial × 2^attempt, max)` with ±20 % jitter between them, and the provider's
//! `Retry-After` instead when it sent one (never longer than `retry_backoff_max_ms`). Only failures
//! that another attempt can mend are retried — rate limits, 5xx, connect errors and resets
//! ([`GatewayError::is_retryable`]), never a client's mistake. Kept free of clocks and IO so the
//! schedule is tested with a seeded generator; the loop that sleeps lives in the gateway, and
//! stops as soon as the client goes away because its future is dropped.

use asbru_config::NetworkConfig;
use asbru_schema::GatewayError;
use rand::Rng;
use std::time::Duration;

/// The retry settings of one provider.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    max_retries: u32,
    initial: Duration,
    max: Duration,
}

impl RetryPolicy {
    pub(crate) fn of(network: &NetworkConfig) -> Self {
        Self {
            max_retries: network.max_retries,
            initial: network.retry_backoff_initial,
            max: network.retry_backoff_max.max(network.retry_backoff_initial),
        }
    }

    /// How long to wait before retry number `retries_done + 1`, or `None` when `error` must be
    /// returned as it is.
    pub(crate) fn next_delay<R: Rng + ?Sized>(
        &self,
        retries_done: u32,
        error: &GatewayError,
        rng: &mut R,
    ) -> Option<Duration> {
        if retries_done >= self.max_retries || !error.is_retryable() {
            return None;
        }
        if let Some(wait) = error.retry_after() {
            return Some(wait.min(self.max));
        }
        let exponential = self
            .initial
            .saturating_mul(1u32.checked_shl(retries_done).unwrap_or(u32::MAX))
            .min(self.max);
        Some(
            exponential
                .mul_f64(rng.random_range(0.8..=1.2))
                .min(self.max),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn policy(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        }
    }

    fn server_error() -> GatewayError {
        GatewayError::upstream(503, "overloaded", None, None, None)
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let mut rng = SmallRng::seed_from_u64(9);
        let p = policy(10);
        for (attempt, base) in [
            (0u32, 100u64),
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1000),
            (9, 1000),
        ] {
            let d = p.next_delay(attempt, &server_error(), &mut rng).unwrap();
            let low = Duration::from_millis(base).mul_f64(0.8);
            assert!(
                d >= low && d <= Duration::from_millis(1000),
                "attempt {attempt}: {d:?}"
            );
            assert!(d <= Duration::from_millis(base).mul_f64(1.2));
        }
    }

    #[test]
    fn stops_after_max_retries_and_on_client_errors() {
        let mut rng = SmallRng::seed_from_u64(1);
        assert!(policy(2).next_delay(2, &server_error(), &mut rng).is_none());
        assert!(policy(0).next_delay(0, &server_error(), &mut rng).is_none());
        let bad_request = GatewayError::upstream(400, "bad", None, None, None);
        assert!(policy(5).next_delay(0, &bad_request, &mut rng).is_none());
        let unreachable = GatewayError::upstream_unreachable("reset");
        assert!(policy(5).next_delay(0, &unreachable, &mut rng).is_some());
    }

    #[test]
    fn answers_refused_for_their_size_are_not_retried() {
        // Trying again would download the same huge answer (and pay for it) again.
        let mut rng = SmallRng::seed_from_u64(1);
        let too_large = GatewayError::upstream_response_too_large("openai", 1024);
        assert!(policy(5).next_delay(0, &too_large, &mut rng).is_none());
        let full = GatewayError::upstream_buffer_full("openai", 1024);
        assert!(policy(5).next_delay(0, &full, &mut rng).is_none());
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let mut rng = SmallRng::seed_from_u64(2);
        let limited = GatewayError::upstream(429, "slow down", None, None, None)
            .with_retry_after(Some(Duration::from_millis(300)));
        assert_eq!(
            policy(3).next_delay(0, &limited, &mut rng),
            Some(Duration::from_millis(300))
        );
        let long = limited.with_retry_after(Some(Duration::from_secs(60)));
        assert_eq!(
            policy(3).next_delay(0, &long, &mut rng),
            Some(Duration::from_millis(1000))
        );
    }
}
