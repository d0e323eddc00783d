//! Per-provider admission: `concurrency` requests in flight, at most `buffer_size` waiting.
//!
//! Bifrost's `concurrency_and_buffer_size` is a worker pool behind a bounded channel. Here it is
//! two semaphores: admission (`concurrency + buffer_size` slots) bounds how many requests the
//! provider holds at all, and workers (`concurrency`) bounds how many are in flight upstream.
//! When admission is exhausted the request is refused at once with 429 if
//! `client.drop_excess_requests` is on; otherwise it waits for room, but never longer than the
//! provider's request timeout (then 503) — there is no unbounded wait. Permits are held until the
//! response, or the whole stream, is finished.

use asbru_schema::GatewayError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The admission queue of one provider.
#[derive(Debug)]
pub struct ProviderQueue {
    provider: String,
    admission: Arc<Semaphore>,
    workers: Arc<Semaphore>,
    buffer_size: usize,
    drop_excess: bool,
    max_wait: Duration,
    /// Admission slots in total (`concurrency + buffer_size`).
    capacity: usize,
}

/// Proof that a request was admitted; dropping it frees the slot.
#[derive(Debug)]
pub struct QueuePermit {
    _worker: OwnedSemaphorePermit,
    _admission: OwnedSemaphorePermit,
}

impl ProviderQueue {
    pub fn new(
        provider: &str,
        concurrency: usize,
        buffer_size: usize,
        drop_excess: bool,
        max_wait: Duration,
    ) -> Self {
        let concurrency = concurrency.max(1);
        let capacity = concurrency.saturating_add(buffer_size);
        Self {
            provider: provider.to_owned(),
            admission: Arc::new(Semaphore::new(capacity)),
            capacity,
            workers: Arc::new(Semaphore::new(concurrency)),
            buffer_size,
            drop_excess,
            max_wait,
        }
    }

    /// Whether this queue was built with these settings, so a config reload that leaves them
    /// alone keeps it — and the requests it holds keep counting against `concurrency`.
    pub fn has_settings(
        &self,
        concurrency: usize,
        buffer_size: usize,
        drop_excess: bool,
        max_wait: Duration,
    ) -> bool {
        let concurrency = concurrency.max(1);
        self.capacity == concurrency.saturating_add(buffer_size)
            && self.buffer_size == buffer_size
            && self.drop_excess == drop_excess
            && self.max_wait == max_wait
    }

    /// Waits for a worker slot under the rules in the module doc.
    pub async fn acquire(&self) -> Result<QueuePermit, GatewayError> {
        let deadline = tokio::time::Instant::now() + self.max_wait;
        let admission = match Arc::clone(&self.admission).try_acquire_owned() {
            Ok(p) => p,
            Err(_) if self.drop_excess => {
                metrics::counter!("asbru_queue_rejected_total", "provider" => self.provider.clone(), "reason" => "full").increment(1);
                return Err(GatewayError::queue_full(&self.provider, self.buffer_size));
            }
            Err(_) => {
                metrics::counter!("asbru_queue_full_waits_total", "provider" => self.provider.clone()).increment(1);
                self.wait(deadline, Arc::clone(&self.admission)).await?
            }
        };
        let worker = match Arc::clone(&self.workers).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => self.wait(deadline, Arc::clone(&self.workers)).await?,
        };
        Ok(QueuePermit {
            _worker: worker,
            _admission: admission,
        })
    }

    async fn wait(
        &self,
        deadline: tokio::time::Instant,
        semaphore: Arc<Semaphore>,
    ) -> Result<OwnedSemaphorePermit, GatewayError> {
        match tokio::time::timeout_at(deadline, semaphore.acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(GatewayError::unavailable(format!(
                "provider '{}' is shutting down",
                self.provider
            ))),
            Err(_) => {
                metrics::counter!("asbru_queue_rejected_total", "provider" => self.provider.clone(), "reason" => "wait_timeout").increment(1);
                Err(GatewayError::unavailable(format!(
                    "request waited {}s for room in the queue of provider '{}' and gave up \
                     (concurrency_and_buffer_size; default_request_timeout_in_seconds)",
                    self.max_wait.as_secs(),
                    self.provider
                ))
                .with_code("queue_wait_timeout")
                .with_provider(&self.provider))
            }
        }
    }

    /// Requests currently admitted (in flight or waiting for a worker).
    pub fn admitted(&self) -> usize {
        self.capacity - self.admission.available_permits()
    }
}

#[cfg(test)]
#[expect(clippy::disallowed_methods, reason = "tests spawn freely")]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn drops_at_once_when_full_and_dropping() {
        let q = Arc::new(ProviderQueue::new("p", 1, 1, true, Duration::from_secs(30)));
        let in_flight = q.acquire().await.unwrap();
        let q2 = Arc::clone(&q);
        let buffered = tokio::spawn(async move { q2.acquire().await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(q.admitted(), 2);
        let started = tokio::time::Instant::now();
        let e = q.acquire().await.unwrap_err();
        assert_eq!(e.status(), 429);
        assert_eq!(started.elapsed(), Duration::ZERO);
        drop(in_flight);
        assert!(buffered.await.unwrap().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_room_but_not_forever() {
        let q = ProviderQueue::new("p", 1, 0, false, Duration::from_secs(5));
        let held = q.acquire().await.unwrap();
        let started = tokio::time::Instant::now();
        let e = q.acquire().await.unwrap_err();
        assert_eq!(e.status(), 503);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(q.admitted(), 1);
        drop(held);
        assert_eq!(q.admitted(), 0);
        assert!(q.acquire().await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_request_gets_the_freed_slot() {
        let q = Arc::new(ProviderQueue::new(
            "p",
            1,
            0,
            false,
            Duration::from_secs(30),
        ));
        let held = q.acquire().await.unwrap();
        let q2 = Arc::clone(&q);
        let waiter = tokio::spawn(async move { q2.acquire().await.map(|_| ()) });
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(held);
        assert!(waiter.await.unwrap().is_ok());
    }
}
