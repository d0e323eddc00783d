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
//! and admits on its own counters, which start from the usage it last saw in Redis, each node
//! taking an equal share of what was left then (the nodes alive at the last heartbeat), so that
//! together they still stay within the limit. What it settles meanwhile, and settles it could
//! not send, are kept and written to Redis when it returns; the node's reservations are then
//! rewritten to what it really holds.
//!
//! A settle whose answer was lost may have been applied: each batch carries a sequence number
//! and Redis remembers the last one applied per node, so a batch sent again is applied once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Admitted: each counter's settled usage in its window, and every node's reservations on
    /// it (this request's included).
    Admitted(Vec<(u64, u64)>),
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

/// A settle batch sent (or to be sent) with its sequence number.
type Batch = (u64, Vec<RemoteSettle>);

/// The Redis side of shared counters; owned by [`crate::counters::Limits`].
pub struct RedisCounters {
    client: Client,
    options: RedisOptions,
    node: String,
    conn: Mutex<Option<ConnectionManager>>,
    up: AtomicBool,
    /// Nodes alive at the last admission or heartbeat (this one included): while Redis is away
    /// each node admits only its share of what was left.
    live_nodes: AtomicU64,
    admit: Script,
    settle: Script,
    heartbeat: Script,
    queue: mpsc::Sender<Op>,
    receiver: Mutex<Option<mpsc::Receiver<Op>>>,
    /// Settles the full queue could not take; the writer takes them first. Past [`QUEUE`] of
    /// them Redis is not keeping up: the node counts on its own until it does.
    overflow: Mutex<Vec<Vec<RemoteSettle>>>,
    /// What this node holds reserved in Redis, per held key.
    outstanding: Mutex<HashMap<String, u64>>,
    /// Every held key this node ever sent a reservation for (one per counter): rewritten from
    /// `outstanding` when Redis returns, which also clears a reservation whose answer was lost.
    touched: Mutex<HashSet<String>>,
    /// Usage settled on this node's own counters while Redis was away, per used key (amount,
    /// longest ttl asked for).
    offline: Mutex<HashMap<String, (u64, u64)>>,
    /// Batches not confirmed by Redis, in sequence order: sent again, in order, before anything
    /// new (Redis skips those it had applied).
    unconfirmed: Mutex<VecDeque<Batch>>,
    next_seq: AtomicU64,
    /// Seeds (usage loaded at start) waiting for Redis to answer.
    seeds: Mutex<Vec<(String, u64, u64)>>,
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

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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
            live_nodes: AtomicU64::new(1),
            admit: Script::new(include_str!("admit.lua")),
            settle: Script::new(include_str!("settle.lua")),
            heartbeat: Script::new(include_str!("heartbeat.lua")),
            queue,
            receiver: Mutex::new(Some(receiver)),
            overflow: Mutex::new(Vec::new()),
            outstanding: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashSet::new()),
            offline: Mutex::new(HashMap::new()),
            unconfirmed: Mutex::new(VecDeque::new()),
            next_seq: AtomicU64::new(1),
            seeds: Mutex::new(Vec::new()),
        }))
    }

    /// Whether admissions currently go through Redis.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Nodes sharing the counters when Redis last answered, this one included (at least 1).
    pub fn live_nodes(&self) -> u64 {
        self.live_nodes.load(Ordering::Relaxed).max(1)
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

    fn applied_key(&self) -> String {
        format!("{}:applied", self.options.prefix)
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
        {
            // Before sending: if the answer is lost, the reservation may still have been made.
            let mut touched = lock(&self.touched);
            for c in counters.iter().filter(|c| c.amount > 0) {
                if !touched.contains(&c.held_key) {
                    touched.insert(c.held_key.clone()); // cloned once per counter, not per request
                }
            }
        }
        let mut invocation = self.admit.key(self.nodes_key());
        invocation.arg(&self.node).arg(millis(STALE_AFTER));
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
        let (Some(&decision), Some(&nodes)) = (reply.first(), reply.get(1)) else {
            self.mark_down(&"short reply from the admission script");
            return Err(());
        };
        self.live_nodes
            .store(number(nodes).max(1), Ordering::Relaxed);
        let figures = &reply[2..];
        if decision == 0 {
            let mut outstanding = lock(&self.outstanding);
            for c in counters.iter().filter(|c| c.amount > 0) {
                *outstanding.entry(c.held_key.clone()).or_default() += c.amount;
            }
            Ok(RemoteAdmission::Admitted(
                figures
                    .chunks_exact(2)
                    .map(|pair| (number(pair[0]), number(pair[1])))
                    .collect(),
            ))
        } else {
            Ok(RemoteAdmission::Refused {
                index: usize::try_from(decision - 1).unwrap_or(0),
                used: figures.first().map_or(0, |&v| number(v)),
            })
        }
    }

    /// Every node's settled usage under `keys` (one `MGET`), for reports; `None` when Redis is
    /// away or did not answer in time.
    pub(crate) async fn read_used(&self, keys: &[String]) -> Option<Vec<u64>> {
        if !self.is_up() || keys.is_empty() {
            return None;
        }
        let mut conn = self.connection()?;
        let values = tokio::time::timeout(
            self.options.timeout,
            redis::cmd("MGET")
                .arg(keys)
                .query_async::<Vec<Option<u64>>>(&mut conn),
        )
        .await
        .ok()?
        .ok()?;
        Some(values.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Queues a settle for the writer; this node stops counting the reservation as its own at
    /// once. A full queue keeps it aside for the writer (counted); a second full queue's worth
    /// means Redis is not keeping up, and the node counts on its own until it does.
    pub(crate) fn settle(&self, parts: Vec<RemoteSettle>) {
        self.release_outstanding(&parts);
        let Err(e) = self.queue.try_send(Op::Settle(parts)) else {
            return;
        };
        metrics::counter!("asbru_governance_settles_deferred_total").increment(1);
        let (mpsc::error::TrySendError::Full(op) | mpsc::error::TrySendError::Closed(op)) = e;
        let Op::Settle(parts) = op else { return };
        let mut overflow = lock(&self.overflow);
        if overflow.len() < QUEUE {
            overflow.push(parts);
            return;
        }
        drop(overflow);
        // What Redis never got is added when it is back; the reservation is rewritten then.
        for p in &parts {
            self.settled_offline(p.used_key.clone(), p.add, p.ttl_ms);
        }
        self.mark_down(&"the settle queue is full");
    }

    /// Records usage settled on this node's own counters (Redis was away), for Redis.
    pub(crate) fn settled_offline(&self, used_key: String, add: u64, ttl_ms: u64) {
        if add == 0 {
            return;
        }
        let mut offline = lock(&self.offline);
        let entry = offline.entry(used_key).or_default();
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
                            self.beat().await;
                        }
                        if let Some(conn) = self.connection()
                            && !self.flush(&conn).await
                        {
                            self.mark_down(&"writing settles failed");
                        }
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
        self.write(rest).await;
        self.withdraw().await;
    }

    /// Connects (or reconnects), reconciles, and marks Redis up. `false` when it is still
    /// unreachable. Nothing is admitted through Redis meanwhile, so rewriting this node's
    /// reservations races with no admission.
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
        if !self.write_seeds(&conn).await
            || !self.flush(&conn).await
            || !self.rewrite_reservations(&conn).await
        {
            return false;
        }
        self.up.store(true, Ordering::Release);
        set_up_gauge(true);
        self.beat().await;
        tracing::info!(
            prefix = %self.options.prefix,
            "governance: counters shared through Redis"
        );
        true
    }

    /// Sends, in order, the batches not confirmed yet, then what was settled offline. `false`
    /// on a Redis error (what was not confirmed stays for the next try).
    async fn flush(&self, conn: &ConnectionManager) -> bool {
        let offline: Vec<RemoteSettle> = lock(&self.offline)
            .drain()
            .map(|(used_key, (add, ttl_ms))| RemoteSettle {
                used_key,
                held_key: String::new(),
                release: 0,
                add,
                ttl_ms,
            })
            .collect();
        if !offline.is_empty() {
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            lock(&self.unconfirmed).push_back((seq, offline));
        }
        loop {
            let Some((seq, parts)) = lock(&self.unconfirmed).front().cloned() else {
                return true;
            };
            if !self.send(conn, seq, &parts).await {
                return false;
            }
            lock(&self.unconfirmed).pop_front();
        }
    }

    /// Starts each seeded window's usage unless a node already did (`SET … NX`); seeds that
    /// could not be written wait for the next try.
    async fn write_seeds(&self, conn: &ConnectionManager) -> bool {
        let seeds: Vec<(String, u64, u64)> = std::mem::take(&mut *lock(&self.seeds));
        if seeds.is_empty() {
            return true;
        }
        let mut pipe = redis::pipe();
        for (key, amount, ttl) in &seeds {
            let cmd = pipe.cmd("SET").arg(key).arg(*amount).arg("NX");
            if *ttl > 0 {
                cmd.arg("PX").arg(*ttl);
            }
            cmd.ignore();
        }
        let mut conn = conn.clone();
        let written = matches!(
            tokio::time::timeout(self.options.timeout, pipe.query_async::<()>(&mut conn)).await,
            Ok(Ok(()))
        );
        if !written {
            lock(&self.seeds).extend(seeds);
        }
        written
    }

    /// Sets this node's reservation on every held key it touched to what it really holds.
    async fn rewrite_reservations(&self, conn: &ConnectionManager) -> bool {
        let mut pipe = redis::pipe();
        {
            let touched = lock(&self.touched);
            if touched.is_empty() {
                return true;
            }
            let outstanding = lock(&self.outstanding);
            for key in touched.iter() {
                match outstanding.get(key) {
                    Some(amount) => pipe.cmd("HSET").arg(key).arg(&self.node).arg(*amount),
                    None => pipe.cmd("HDEL").arg(key).arg(&self.node),
                }
                .ignore();
            }
        }
        let mut conn = conn.clone();
        matches!(
            tokio::time::timeout(self.options.timeout, pipe.query_async::<()>(&mut conn)).await,
            Ok(Ok(()))
        )
    }

    /// Applies one settle batch (skipped by Redis if it already applied this sequence number).
    async fn send(&self, conn: &ConnectionManager, seq: u64, parts: &[RemoteSettle]) -> bool {
        let mut invocation = self.settle.key(self.applied_key());
        invocation.arg(&self.node).arg(seq);
        for p in parts {
            invocation
                .key(&p.used_key)
                .key(&p.held_key)
                .arg(p.release)
                .arg(p.add)
                .arg(p.ttl_ms);
        }
        let mut conn = conn.clone();
        let result = tokio::time::timeout(
            self.options.timeout,
            invocation.invoke_async::<i64>(&mut conn),
        )
        .await;
        match result {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                self.mark_down(&e);
                false
            }
            Err(_) => {
                self.mark_down(&"settle timed out");
                false
            }
        }
    }

    async fn beat(&self) {
        let Some(mut conn) = self.connection() else {
            return;
        };
        let result = tokio::time::timeout(
            self.options.timeout,
            self.heartbeat
                .key(self.nodes_key())
                .key(self.applied_key())
                .arg(&self.node)
                .arg(millis(STALE_AFTER))
                .invoke_async::<u64>(&mut conn),
        )
        .await;
        match result {
            Ok(Ok(live)) => self.live_nodes.store(live.max(1), Ordering::Relaxed),
            Ok(Err(e)) => self.mark_down(&e),
            Err(_) => self.mark_down(&"heartbeat timed out"),
        }
    }

    /// Writes queued operations (and the settles the queue could not take). Settles become one
    /// numbered batch, confirmed or kept for [`RedisCounters::flush`].
    async fn write(&self, ops: Vec<Op>) {
        let mut parts: Vec<RemoteSettle> = lock(&self.overflow).drain(..).flatten().collect();
        let mut seeds = Vec::new();
        for op in ops {
            match op {
                Op::Settle(p) => parts.extend(p),
                Op::Seed {
                    key,
                    amount,
                    ttl_ms,
                } => seeds.push((key, amount, ttl_ms)),
            }
        }
        lock(&self.seeds).extend(seeds);
        let conn = if self.is_up() {
            self.connection()
        } else {
            None
        };
        if let Some(conn) = &conn {
            self.write_seeds(conn).await;
        }
        for chunk in parts.chunks(BATCH) {
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            lock(&self.unconfirmed).push_back((seq, chunk.to_vec()));
        }
        if let Some(conn) = conn {
            // In order: batches kept from before go first.
            let _ = self.flush(&conn).await;
        }
    }

    /// Removes this node's reservations at shutdown (its requests are over).
    async fn withdraw(&self) {
        let Some(mut conn) = self.connection() else {
            return;
        };
        let keys: Vec<String> = lock(&self.touched).drain().collect();
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
