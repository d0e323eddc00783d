//! Counters shared by every node through Redis, so budgets and rate limits hold across replicas.
//!
//! Each counter lives in Redis as two keys: its settled usage in the current window
//! (`<prefix>:used:<kind>:<id>:<window start>`, expiring after the window) and the hash of
//! reservations in flight (`<prefix>:held:<kind>:<id>`, one field per node). Admission is one
//! Lua script ([`admit.lua`](admit.lua)) that checks every counter of a request and reserves on
//! all of them or none, so N nodes admitting at once see each other's requests in flight — the
//! same bound as one node: the settled total passes a limit by at most one request. Settling
//! ([`settle.lua`](settle.lua)) releases the reservation and adds the real usage; it goes
//! through a bounded queue to one writer task, so the request path waits on Redis only to be
//! admitted.
//!
//! Nodes are told apart by a random id and prove they are alive with a heartbeat: reservations
//! of a node silent for [`STALE_AFTER`] are dropped by the next admission, so a crashed node
//! cannot hold headroom forever.
//!
//! When Redis cannot be reached, the node says so (`asbru_governance_redis_up` 0, `/health`)
//! and admits on its own counters, which start from the usage it last saw in Redis. What it
//! settles meanwhile, and settles it could not send, are kept and written to Redis when it
//! returns (the node's outstanding reservations are rewritten to what it really holds).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use tokio::sync::mpsc;

/// How long a node may miss heartbeats before other nodes drop its reservations.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// How often a node proves it is alive, and how often it retries an unreachable Redis.
const HEARTBEAT: Duration = Duration::from_secs(5);
const RETRY: Duration = Duration::from_secs(1);

/// Settles waiting for the writer. A full queue defers the settle (it is written when the queue
/// has room again) and counts it, so nothing is lost and nothing blocks a request.
const QUEUE: usize = 65_536;

/// Settles written per script call.
const BATCH: usize = 64;

/// How to reach Redis: an asbru extension (Bifrost keeps counters per node).
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://host:port/db` (or `rediss://`).
    pub url: String,
    /// Prepended to every key, so several deployments (or tests) can share one server.
    pub prefix: String,
    /// The longest a request waits for Redis before this node falls back to its own counters.
    pub timeout: Duration,
}

impl RedisOptions {
    /// Options for `url` with the default prefix (`asbru`) and timeout (1 s).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "asbru".into(),
            timeout: Duration::from_secs(1),
        }
    }
}

/// One counter of a request, as Redis sees it.
#[derive(Debug, Clone)]
pub(crate) struct RemoteCounter {
    pub used_key: String,
    pub held_key: String,
    pub limit: u64,
    pub amount: u64,
}

/// What Redis answered to an admission.
#[derive(Debug)]
pub(crate) enum RemoteAdmission {
    /// Admitted: each counter's settled usage in its window.
    Admitted(Vec<u64>),
    /// Refused by the counter at this index, with its usage plus reservations.
    Refused { index: usize, used: u64 },
}

/// One counter's part of a settle.
#[derive(Debug, Clone)]
pub(crate) struct RemoteSettle {
    pub used_key: String,
    pub held_key: String,
    pub release: u64,
    pub add: u64,
    pub ttl_ms: u64,
}

enum Op {
    Settle(Vec<RemoteSettle>),
    /// Starts a window's usage at this amount unless some node already did.
    Seed {
        key: String,
        amount: u64,
        ttl_ms: u64,
    },
}

/// The Redis side of shared counters; owned by [`crate::counters::Limits`].
pub struct RedisCounters {
    client: Client,
    options: RedisOptions,
    node: String,
    conn: Mutex<Option<ConnectionManager>>,
    up: AtomicBool,
    admit: Script,
    settle: Script,
    queue: mpsc::Sender<Op>,
    receiver: Mutex<Option<mpsc::Receiver<Op>>>,
    /// What this node holds reserved in Redis, per held key.
    outstanding: Mutex<HashMap<String, u64>>,
    /// Usage to add to Redis once it can be written (settled offline or not sent), per used key,
    /// with the longest ttl asked for.
    deferred_used: Mutex<HashMap<String, (u64, u64)>>,
    /// Held keys whose reservation in Redis must be rewritten to `outstanding`.
    deferred_held: Mutex<Vec<String>>,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters")
            .field("prefix", &self.options.prefix)
            .field("node", &self.node)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RedisCounters {
    /// Prepares the connection; nothing is sent until [`RedisCounters::run`] starts (a Redis
    /// that is down at start only means this node starts on its own counters).
    ///
    /// # Errors
    /// An invalid URL.
    pub fn new(options: RedisOptions) -> Result<Arc<Self>, redis::RedisError> {
        let client = Client::open(options.url.as_str())?;
        let (queue, receiver) = mpsc::channel(QUEUE);
        let node = uuid::Uuid::new_v4().simple().to_string();
        set_up_gauge(false);
        Ok(Arc::new(Self {
            client,
            options,
            node,
            conn: Mutex::new(None),
            up: AtomicBool::new(false),
            admit: Script::new(include_str!("admit.lua")),
            settle: Script::new(include_str!("settle.lua")),
            queue,
            receiver: Mutex::new(Some(receiver)),
            outstanding: Mutex::new(HashMap::new()),
            deferred_used: Mutex::new(HashMap::new()),
            deferred_held: Mutex::new(Vec::new()),
        }))
    }

    /// Whether admissions currently go through Redis.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.options.prefix
    }

    /// The key of a counter's usage in the window starting at `window_start` (Unix seconds).
    pub(crate) fn used_key(&self, kind: &str, id: &str, window_start: i64) -> String {
        format!("{}:used:{kind}:{id}:{window_start}", self.options.prefix)
    }

    /// The key of a counter's reservations in flight.
    pub(crate) fn held_key(&self, kind: &str, id: &str) -> String {
        format!("{}:held:{kind}:{id}", self.options.prefix)
    }

    fn nodes_key(&self) -> String {
        format!("{}:nodes", self.options.prefix)
    }

    fn connection(&self) -> Option<ConnectionManager> {
        lock(&self.conn).clone()
    }

    fn mark_down(&self, error: &dyn std::fmt::Display) {
        if self.up.swap(false, Ordering::AcqRel) {
            set_up_gauge(false);
            tracing::warn!(
                error = %error,
                "governance: Redis unreachable; this node counts on its own until it returns"
            );
        }
        metrics::counter!("asbru_governance_redis_errors_total").increment(1);
    }

    /// Admits against Redis. `Err` when Redis is down or did not answer in time (the caller
    /// then admits on its own counters).
    pub(crate) async fn admit(&self, counters: &[RemoteCounter]) -> Result<RemoteAdmission, ()> {
        if !self.is_up() {
            return Err(());
        }
        let Some(mut conn) = self.connection() else {
            return Err(());
        };
        let mut invocation = self.admit.key(self.nodes_key());
        invocation
            .arg(&self.node)
            .arg(u64::try_from(STALE_AFTER.as_millis()).unwrap_or(u64::MAX));
        for c in counters {
            invocation
                .key(&c.used_key)
                .key(&c.held_key)
                .arg(c.limit)
                .arg(c.amount);
        }
        let reply = tokio::time::timeout(
            self.options.timeout,
            invocation.invoke_async::<Vec<i64>>(&mut conn),
        )
        .await;
        let reply = match reply {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                self.mark_down(&e);
                return Err(());
            }
            Err(_) => {
                self.mark_down(&"timed out");
                return Err(());
            }
        };
        let number = |v: i64| u64::try_from(v).unwrap_or(0);
        match reply.split_first() {
            Some((0, used)) => {
                let mut outstanding = lock(&self.outstanding);
                for c in counters.iter().filter(|c| c.amount > 0) {
                    *outstanding.entry(c.held_key.clone()).or_default() += c.amount;
                }
                Ok(RemoteAdmission::Admitted(
                    used.iter().map(|&v| number(v)).collect(),
                ))
            }
            Some((&index, rest)) => Ok(RemoteAdmission::Refused {
                index: usize::try_from(index - 1).unwrap_or(0),
                used: rest.first().map_or(0, |&v| number(v)),
            }),
            None => {
                self.mark_down(&"empty reply from the admission script");
                Err(())
            }
        }
    }

    /// Queues a settle for the writer; this node stops counting the reservation as its own at
    /// once. A full queue defers it (written later, counted).
    pub(crate) fn settle(&self, parts: Vec<RemoteSettle>) {
        self.release_outstanding(&parts);
        if let Err(e) = self.queue.try_send(Op::Settle(parts)) {
            metrics::counter!("asbru_governance_settles_deferred_total").increment(1);
            let Op::Settle(parts) = (match e {
                mpsc::error::TrySendError::Full(op) | mpsc::error::TrySendError::Closed(op) => op,
            }) else {
                return;
            };
            self.defer(&parts);
        }
    }

    /// Records usage settled on this node's own counters (Redis was down) for Redis.
    pub(crate) fn settled_offline(&self, used_key: String, add: u64, ttl_ms: u64) {
        if add == 0 {
            return;
        }
        let mut deferred = lock(&self.deferred_used);
        let entry = deferred.entry(used_key).or_default();
        entry.0 = entry.0.saturating_add(add);
        entry.1 = entry.1.max(ttl_ms);
    }

    /// Starts `key` at `amount` unless a node already did (usage loaded from a config or a
    /// store, written once so that restarting one node does not count it twice).
    pub(crate) fn seed(&self, key: String, amount: u64, ttl_ms: u64) {
        if amount > 0 {
            let _ = self.queue.try_send(Op::Seed {
                key,
                amount,
                ttl_ms,
            });
        }
    }

    fn release_outstanding(&self, parts: &[RemoteSettle]) {
        let mut outstanding = lock(&self.outstanding);
        for p in parts.iter().filter(|p| p.release > 0) {
            if let Some(held) = outstanding.get_mut(&p.held_key) {
                *held = held.saturating_sub(p.release);
                if *held == 0 {
                    outstanding.remove(&p.held_key);
                }
            }
        }
    }

    fn defer(&self, parts: &[RemoteSettle]) {
        for p in parts {
            self.settled_offline(p.used_key.clone(), p.add, p.ttl_ms);
        }
        let mut held = lock(&self.deferred_held);
        for p in parts.iter().filter(|p| p.release > 0) {
            if !held.contains(&p.held_key) {
                held.push(p.held_key.clone());
            }
        }
    }

    /// The writer and caretaker: writes queued settles, beats the heartbeat, notices Redis
    /// coming back and reconciles. Runs until `shutdown` resolves, then writes what is queued
    /// (if Redis answers) and withdraws this node's reservations. Call once.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let Some(mut receiver) = lock(&self.receiver).take() else {
            return;
        };
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(RETRY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut since_heartbeat = HEARTBEAT;
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                op = receiver.recv() => {
                    let Some(op) = op else { break };
                    let mut batch = vec![op];
                    while batch.len() < BATCH {
                        match receiver.try_recv() {
                            Ok(op) => batch.push(op),
                            Err(_) => break,
                        }
                    }
                    self.write(batch).await;
                }
                _ = tick.tick() => {
                    if self.is_up() {
                        since_heartbeat += RETRY;
                        if since_heartbeat >= HEARTBEAT {
                            since_heartbeat = Duration::ZERO;
                            self.heartbeat().await;
                        }
                        self.reconcile().await;
                    } else if self.connect().await {
                        since_heartbeat = Duration::ZERO;
                    }
                }
            }
        }
        let mut rest = Vec::new();
        while let Ok(op) = receiver.try_recv() {
            rest.push(op);
        }
        while !rest.is_empty() {
            let batch: Vec<Op> = rest.drain(..rest.len().min(BATCH)).collect();
            self.write(batch).await;
        }
        self.withdraw().await;
    }

    /// Connects (or reconnects), reconciles, and marks Redis up. `false` when it is still
    /// unreachable.
    async fn connect(&self) -> bool {
        let conn = match self.connection() {
            Some(conn) => conn,
            None => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.options.timeout))
                    .set_response_timeout(Some(self.options.timeout))
                    .set_number_of_retries(1);
                match tokio::time::timeout(
                    self.options.timeout * 2,
                    ConnectionManager::new_with_config(self.client.clone(), config),
                )
                .await
                {
                    Ok(Ok(conn)) => {
                        *lock(&self.conn) = Some(conn.clone());
                        conn
                    }
                    _ => return false,
                }
            }
        };
        let mut ping = conn.clone();
        let pong = tokio::time::timeout(
            self.options.timeout,
            redis::cmd("PING").query_async::<String>(&mut ping),
        )
        .await;
        if !matches!(pong, Ok(Ok(_))) {
            return false;
        }
        // Rewrite every reservation this node holds, then add what was settled meanwhile.
        {
            let outstanding = lock(&self.outstanding);
            let mut held = lock(&self.deferred_held);
            for key in outstanding.keys() {
                if !held.contains(key) {
                    held.push(key.clone());
                }
            }
        }
        if !self.reconcile_with(&conn).await {
            return false;
        }
        self.up.store(true, Ordering::Release);
        set_up_gauge(true);
        self.heartbeat().await;
        tracing::info!(
            prefix = %self.options.prefix,
            "governance: counters shared through Redis"
        );
        true
    }

    async fn reconcile(&self) {
        if let Some(conn) = self.connection()
            && !self.reconcile_with(&conn).await
        {
            self.mark_down(&"reconciling failed");
        }
    }

    /// Writes deferred usage and rewrites deferred reservations. `false` on a Redis error (what
    /// was not written stays deferred).
    async fn reconcile_with(&self, conn: &ConnectionManager) -> bool {
        let used: Vec<(String, (u64, u64))> = lock(&self.deferred_used).drain().collect();
        let held: Vec<String> = std::mem::take(&mut *lock(&self.deferred_held));
        if used.is_empty() && held.is_empty() {
            return true;
        }
        let mut pipe = redis::pipe();
        for (key, (add, ttl)) in &used {
            pipe.cmd("INCRBY").arg(key).arg(*add).ignore();
            pipe.cmd("PEXPIRE").arg(key).arg(*ttl).ignore();
        }
        {
            let outstanding = lock(&self.outstanding);
            for key in &held {
                match outstanding.get(key) {
                    Some(amount) => pipe.cmd("HSET").arg(key).arg(&self.node).arg(*amount),
                    None => pipe.cmd("HDEL").arg(key).arg(&self.node),
                }
                .ignore();
            }
        }
        let mut conn = conn.clone();
        let result =
            tokio::time::timeout(self.options.timeout, pipe.query_async::<()>(&mut conn)).await;
        if matches!(result, Ok(Ok(()))) {
            return true;
        }
        let mut deferred = lock(&self.deferred_used);
        for (key, (add, ttl)) in used {
            let entry = deferred.entry(key).or_default();
            entry.0 = entry.0.saturating_add(add);
            entry.1 = entry.1.max(ttl);
        }
        drop(deferred);
        let mut deferred = lock(&self.deferred_held);
        for key in held {
            if !deferred.contains(&key) {
                deferred.push(key);
            }
        }
        false
    }

    async fn heartbeat(&self) {
        let Some(mut conn) = self.connection() else {
            return;
        };
        let beat = Script::new(
            "local t = redis.call('TIME') \
             redis.call('HSET', KEYS[1], ARGV[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) \
             return 1",
        );
        let result = tokio::time::timeout(
            self.options.timeout,
            beat.key(self.nodes_key())
                .arg(&self.node)
                .invoke_async::<i64>(&mut conn),
        )
        .await;
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => self.mark_down(&e),
            Err(_) => self.mark_down(&"heartbeat timed out"),
        }
    }

    /// Writes a batch of queued operations; on failure they are deferred.
    async fn write(&self, batch: Vec<Op>) {
        let conn = if self.is_up() {
            self.connection()
        } else {
            None
        };
        let mut parts = Vec::new();
        let mut seeds = Vec::new();
        for op in batch {
            match op {
                Op::Settle(p) => parts.extend(p),
                Op::Seed {
                    key,
                    amount,
                    ttl_ms,
                } => seeds.push((key, amount, ttl_ms)),
            }
        }
        let Some(mut conn) = conn else {
            self.defer(&parts);
            return;
        };
        for (key, amount, ttl) in seeds {
            let mut cmd = redis::cmd("SET");
            cmd.arg(&key).arg(amount).arg("NX");
            if ttl > 0 {
                cmd.arg("PX").arg(ttl);
            }
            let _ = tokio::time::timeout(
                self.options.timeout,
                cmd.query_async::<Option<String>>(&mut conn),
            )
            .await;
        }
        if parts.is_empty() {
            return;
        }
        let mut invocation = self.settle.prepare_invoke();
        invocation.arg(&self.node);
        for p in &parts {
            invocation
                .key(&p.used_key)
                .key(&p.held_key)
                .arg(p.release)
                .arg(p.add)
                .arg(p.ttl_ms);
        }
        let result = tokio::time::timeout(
            self.options.timeout,
            invocation.invoke_async::<i64>(&mut conn),
        )
        .await;
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                self.mark_down(&e);
                self.defer(&parts);
            }
            Err(_) => {
                self.mark_down(&"settle timed out");
                self.defer(&parts);
            }
        }
    }

    /// Removes this node's reservations at shutdown (its requests are over).
    async fn withdraw(&self) {
        let Some(mut conn) = self.connection() else {
            return;
        };
        let keys: Vec<String> = lock(&self.outstanding).drain().map(|(k, _)| k).collect();
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.cmd("HDEL").arg(key).arg(&self.node).ignore();
        }
        pipe.cmd("HDEL")
            .arg(self.nodes_key())
            .arg(&self.node)
            .ignore();
        let _ = tokio::time::timeout(self.options.timeout, pipe.query_async::<()>(&mut conn)).await;
    }
}

fn set_up_gauge(up: bool) {
    metrics::gauge!("asbru_governance_redis_up").set(if up { 1.0 } else { 0.0 });
}
