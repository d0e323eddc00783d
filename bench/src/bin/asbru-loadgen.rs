//! `asbru-loadgen`: HTTP/1.1 load generator for the asbru benchmark.
//!
//! * Default mode is **open loop at a fixed rate**: request *i* is scheduled at
//!   `start + i / rate`, independent of how fast earlier requests complete, and its latency
//!   is measured from that scheduled time to the last byte of the response body. A slow
//!   server therefore shows up as latency (no coordinated omission). A dedicated pacing
//!   thread sleeps until each scheduled time (the tokio timer has 1 ms granularity; a
//!   thread sleep is precise to tens of µs) and hands the request to a single-threaded
//!   tokio runtime that owns a pool of keep-alive connections. The pool grows on demand up
//!   to `--max-conns`; past that, requests queue for a connection (and count as late).
//! * `--max` is **closed loop**: `--concurrency` connections each send the next request as
//!   soon as the previous answer is read, for the measured duration → max throughput.
//!
//! A warm-up phase (not counted) runs before the measured window, at the same rate. With
//! `--watch-pid`, the CPU time of those processes (the proxy under test) is read from
//! `/proc` at the edges of the measured window, and their memory after it.
//!
//! Prints one JSON line ([`asbru_bench::record::RunRecord`]) on stdout; a human summary and
//! diagnostics on stderr.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use asbru_bench::procfs::{self, CpuDelta, CpuSnapshot, MachineCpu};
use asbru_bench::record::RunRecord;
use asbru_bench::stats;
use bytes::Bytes;
use clap::Parser;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot};
use tokio::task::{LocalSet, spawn_local};

/// At most this many distinct failure kinds are kept in `error_kinds`.
const MAX_ERROR_KINDS: usize = 8;

#[derive(Debug, Parser)]
#[command(
    name = "asbru-loadgen",
    about = "Open-loop HTTP/1.1 load generator for the asbru benchmark"
)]
struct Args {
    /// Base URL of the target, e.g. `http://127.0.0.1:8080` (plain http only).
    #[arg(long)]
    url: String,
    /// Request path appended to the URL.
    #[arg(long, default_value = "/v1/chat/completions")]
    path: String,
    /// Model name put in the request body.
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    /// Bearer token sent in `Authorization`.
    #[arg(long, default_value = "sk-bench")]
    api_key: String,
    /// The client API the request speaks: `openai` (a chat completion) or `anthropic` (a
    /// Messages request, with `x-api-key` and `anthropic-version`).
    #[arg(long, default_value = "openai")]
    dialect: String,
    /// Label of the target in the output (`direct`, `nginx`, `asbru`).
    #[arg(long, default_value = "target")]
    target: String,
    /// Requests per second (open loop).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Closed loop: `--concurrency` connections as fast as possible.
    #[arg(long)]
    max: bool,
    /// Connections in `--max` mode.
    #[arg(long, alias = "connections", default_value_t = 64)]
    concurrency: usize,
    /// Measured duration in seconds.
    #[arg(long, default_value_t = 15.0)]
    duration: f64,
    /// Warm-up before the measured window, in seconds (not counted).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Cap on open connections (open loop); beyond it requests wait for a free one.
    #[arg(long, default_value_t = 2048)]
    max_conns: usize,
    /// Per-request timeout in milliseconds (counted as an error).
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// A request sent more than this many ms after its scheduled time counts as late.
    #[arg(long, default_value_t = 1.0)]
    late_ms: f64,
    /// PIDs of the proxy under test (comma separated or repeated): CPU and memory are read
    /// from /proc for them.
    #[arg(long, value_delimiter = ',')]
    watch_pid: Vec<u32>,
    /// PID of the mock: its CPU per request is reported too (and not counted as background).
    #[arg(long)]
    mock_pid: Option<u32>,
    /// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u64,
    /// Label: latency the mock was started with (copied to the output).
    #[arg(long)]
    mock_latency_ms: Option<u64>,
}

type Sender = SendRequest<Full<Bytes>>;

/// What the load generator sends: pre-built so that each request is a few cheap clones.
struct Template {
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Template {
    fn new(args: &Args, authority: &str, base_path: &str) -> Result<Self> {
        // Written out by hand to keep the field order of the issue's example.
        let model = serde_json::to_string(&args.model)?;
        let body = Bytes::from(match args.dialect.as_str() {
            "openai" => format!(
                r#"{{"model":{model},"messages":[{{"role":"user","content":"Hello, how are you?"}}]}}"#
            ),
            "anthropic" => format!(
                r#"{{"model":{model},"max_tokens":64,"messages":[{{"role":"user","content":"Hello, how are you?"}}]}}"#
            ),
            other => anyhow::bail!("--dialect: {other:?} is not openai or anthropic"),
        });
        let uri: Uri = format!("{base_path}{}", args.path)
            .parse()
            .context("bad --path")?;
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(authority)?);
        if args.dialect == "anthropic" {
            headers.insert("x-api-key", HeaderValue::from_str(&args.api_key)?);
            headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        } else {
            headers.insert(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {}", args.api_key))?,
            );
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        Ok(Self { uri, headers, body })
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// Splits `http://host:port/prefix` into (host:port, prefix).
fn split_url(url: &str) -> Result<(String, String)> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("only http:// URLs are supported: {url}");
    };
    let (authority, prefix) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let prefix = prefix.trim_end_matches('/');
    if authority.is_empty() {
        bail!("no host in {url}");
    }
    let authority = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, prefix.to_owned()))
}

/// What a request waiting for a connection is handed.
enum Grant {
    /// An idle keep-alive connection.
    Conn(Conn),
    /// A connection slot was freed: open a new connection in it.
    Create(Slot),
}

/// One counted connection slot of the pool, not yet holding a connection. Dropping it (the
/// connect failed or was cancelled, or the grant was never received) frees the slot.
struct Slot {
    pool: Rc<Pool>,
    armed: bool,
}

impl Slot {
    fn into_conn(mut self, sender: Sender) -> Conn {
        self.armed = false;
        Conn {
            sender: Some(sender),
            pool: Rc::clone(&self.pool),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.armed {
            self.pool.release_slot();
        }
    }
}

/// Keep-alive connection pool (single-threaded: lives on the `LocalSet`).
struct Pool {
    addr: SocketAddr,
    /// Idle connections, used LIFO (most recently used first: warm in caches).
    idle: RefCell<Vec<Sender>>,
    /// Requests waiting for a connection because `max` are open, oldest first.
    waiters: RefCell<VecDeque<oneshot::Sender<Grant>>>,
    /// Counted slots: open connections plus connections being opened.
    open: Cell<usize>,
    peak: Cell<usize>,
    opened_total: Cell<u64>,
    max: usize,
}

/// A checked-out connection. Dropping it (error, timeout) closes it and frees its slot.
struct Conn {
    sender: Option<Sender>,
    pool: Rc<Pool>,
}

impl Conn {
    fn checkin(mut self) {
        if let Some(sender) = self.sender.take() {
            self.pool.checkin(sender);
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.sender.take().is_some() {
            self.pool.release_slot();
        }
    }
}

impl Pool {
    fn new(addr: SocketAddr, max: usize) -> Rc<Self> {
        Rc::new(Self {
            addr,
            idle: RefCell::new(Vec::new()),
            waiters: RefCell::new(VecDeque::new()),
            open: Cell::new(0),
            peak: Cell::new(0),
            opened_total: Cell::new(0),
            max: max.max(1),
        })
    }

    async fn checkout(self: &Rc<Self>) -> Result<Conn> {
        loop {
            let popped = self.idle.borrow_mut().pop();
            let grant = match popped {
                Some(sender) => Grant::Conn(Conn {
                    sender: Some(sender),
                    pool: Rc::clone(self),
                }),
                None if self.open.get() < self.max => {
                    self.open.set(self.open.get() + 1);
                    Grant::Create(Slot {
                        pool: Rc::clone(self),
                        armed: true,
                    })
                }
                None => {
                    let (tx, rx) = oneshot::channel();
                    self.waiters.borrow_mut().push_back(tx);
                    rx.await.context("connection pool closed")?
                }
            };
            match grant {
                Grant::Conn(mut conn) => {
                    // After a response was read the connection may need one turn of its
                    // driver task before it accepts the next request; a closed one errors.
                    let ready = match conn.sender.as_mut() {
                        Some(s) if !s.is_closed() => s.ready().await.is_ok(),
                        _ => false,
                    };
                    if ready {
                        return Ok(conn);
                    }
                    // `conn` dropped here: slot released, try the next one.
                }
                Grant::Create(slot) => {
                    self.peak.set(self.peak.get().max(self.open.get()));
                    self.opened_total.set(self.opened_total.get() + 1);
                    // On error (or cancellation) `slot` is dropped, which frees it.
                    let sender = self.connect().await?;
                    return Ok(slot.into_conn(sender));
                }
            }
        }
    }

    async fn connect(&self) -> Result<Sender> {
        let stream = TcpStream::connect(self.addr).await.context("connect")?;
        stream.set_nodelay(true)?;
        let (sender, driver) = http1::handshake(TokioIo::new(stream)).await?;
        spawn_local(async move {
            // Ends when the server closes the connection or the `Sender` is dropped.
            let _ = driver.await;
        });
        Ok(sender)
    }

    /// Returns a healthy connection: to the oldest waiter, or to the idle stack.
    fn checkin(self: &Rc<Self>, mut sender: Sender) {
        loop {
            let waiter = self.waiters.borrow_mut().pop_front();
            let Some(waiter) = waiter else {
                self.idle.borrow_mut().push(sender);
                return;
            };
            let conn = Conn {
                sender: Some(sender),
                pool: Rc::clone(self),
            };
            match waiter.send(Grant::Conn(conn)) {
                Ok(()) => return,
                // That waiter gave up (timed out): take the connection back, try the next.
                Err(Grant::Conn(mut back)) => match back.sender.take() {
                    Some(s) => sender = s,
                    None => return,
                },
                Err(Grant::Create(_)) => return,
            }
        }
    }

    /// A counted slot was freed: hand it to the oldest waiter, or uncount it.
    fn release_slot(self: &Rc<Self>) {
        loop {
            let waiter = self.waiters.borrow_mut().pop_front();
            let Some(waiter) = waiter else {
                self.open.set(self.open.get().saturating_sub(1));
                return;
            };
            let slot = Slot {
                pool: Rc::clone(self),
                armed: true,
            };
            match waiter.send(Grant::Create(slot)) {
                Ok(()) => return,
                // That waiter gave up: disarm the returned slot and try the next.
                Err(Grant::Create(mut back)) => back.armed = false,
                Err(Grant::Conn(_)) => return,
            }
        }
    }
}

/// What came back for one request.
struct Exchange {
    send_at: Instant,
    status: StatusCode,
    body_len: usize,
}

async fn exchange(pool: &Rc<Pool>, template: &Template) -> Result<Exchange> {
    let mut conn = pool.checkout().await?;
    let send_at = Instant::now();
    let Some(sender) = conn.sender.as_mut() else {
        bail!("connection lost");
    };
    let resp = sender.send_request(template.request()).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut body_len = 0;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame?.data_ref() {
            body_len += data.len();
        }
    }
    conn.checkin();
    Ok(Exchange {
        send_at,
        status,
        body_len,
    })
}

/// Outcome of one request, as counted.
enum Outcome {
    Ok,
    Failed(String),
}

fn classify(
    result: Result<Result<Exchange>, tokio::time::error::Elapsed>,
) -> (Outcome, Option<Instant>) {
    match result {
        Err(_) => (Outcome::Failed("timeout".to_owned()), None),
        Ok(Err(e)) => {
            let mut kind = format!("{e:#}");
            kind.truncate(100);
            (Outcome::Failed(kind), None)
        }
        Ok(Ok(x)) if x.status != StatusCode::OK => (
            Outcome::Failed(format!("status {}", x.status.as_u16())),
            Some(x.send_at),
        ),
        Ok(Ok(x)) if x.body_len == 0 => (Outcome::Failed("empty body".to_owned()), Some(x.send_at)),
        Ok(Ok(x)) => (Outcome::Ok, Some(x.send_at)),
    }
}

/// Counters and samples of the measured window.
#[derive(Default)]
struct Recorder {
    latencies_ns: Vec<u64>,
    send_delays_ns: Vec<u64>,
    ok: u64,
    errors: u64,
    late: u64,
    error_kinds: BTreeMap<String, u64>,
    first_done: Option<Instant>,
    last_done: Option<Instant>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Recorder {
    fn record(&mut self, outcome: Outcome, start: Instant, done: Instant) {
        match outcome {
            Outcome::Ok => {
                self.ok += 1;
                self.latencies_ns
                    .push(nanos(done.saturating_duration_since(start)));
                self.first_done = Some(self.first_done.map_or(done, |t| t.min(done)));
                self.last_done = Some(self.last_done.map_or(done, |t| t.max(done)));
            }
            Outcome::Failed(kind) => {
                self.errors += 1;
                if let Some(n) = self.error_kinds.get_mut(&kind) {
                    *n += 1;
                } else if self.error_kinds.len() < MAX_ERROR_KINDS {
                    self.error_kinds.insert(kind, 1);
                }
            }
        }
    }
}

/// Shared state of a run (single-threaded).
struct Ctx {
    pool: Rc<Pool>,
    template: Template,
    timeout: Duration,
    late_ns: u64,
    rec: RefCell<Recorder>,
    outstanding: Cell<u64>,
    idle: Notify,
    /// Connections the pool had opened when the measured window began and ended.
    opened_window: Cell<(u64, u64)>,
}

/// One open-loop request scheduled at `sched`.
async fn scheduled_request(ctx: Rc<Ctx>, sched: Instant, measured: bool) {
    let result = tokio::time::timeout(ctx.timeout, exchange(&ctx.pool, &ctx.template)).await;
    let done = Instant::now();
    if measured {
        let (outcome, send_at) = classify(result);
        let mut rec = ctx.rec.borrow_mut();
        if let Some(send_at) = send_at {
            let delay = nanos(send_at.saturating_duration_since(sched));
            rec.send_delays_ns.push(delay);
            if delay > ctx.late_ns {
                rec.late += 1;
            }
        }
        rec.record(outcome, sched, done);
    }
    let left = ctx.outstanding.get().saturating_sub(1);
    ctx.outstanding.set(left);
    if left == 0 {
        ctx.idle.notify_one();
    }
}

/// Pacing thread: sends `(index, scheduled time)` for each request at its scheduled time.
fn pace(
    start: Instant,
    rate: f64,
    total: u64,
    tx: &tokio::sync::mpsc::UnboundedSender<(u64, Instant)>,
) {
    for i in 0..total {
        let sched = start + Duration::from_secs_f64(i as f64 / rate);
        let now = Instant::now();
        if sched > now {
            std::thread::sleep(sched - now);
        }
        if tx.send((i, sched)).is_err() {
            return;
        }
    }
}

/// CPU and memory probes at the edges of the measured window.
struct Probes {
    watch: Vec<u32>,
    mock: Vec<u32>,
    own: u32,
    clk_tck: u64,
    start: Option<Snapshots>,
}

struct Snapshots {
    watch: CpuSnapshot,
    mock: CpuSnapshot,
    own: CpuSnapshot,
    machine: Option<MachineCpu>,
    tcp_opens: Option<u64>,
    at: Instant,
}

#[derive(Default)]
struct ProbeResult {
    proxy: Option<CpuDelta>,
    mock_ns: Option<u64>,
    own_ns: u64,
    /// Busy CPU time of the whole machine, in ns.
    machine_busy_ns: Option<u64>,
    /// TCP connections opened on the machine during the window.
    tcp_opens: Option<u64>,
    wall: Duration,
}

impl Probes {
    fn new(args: &Args) -> Self {
        Self {
            watch: args.watch_pid.clone(),
            mock: args.mock_pid.into_iter().collect(),
            own: std::process::id(),
            clk_tck: args.clk_tck,
            start: None,
        }
    }

    fn take(&self) -> Snapshots {
        Snapshots {
            machine: procfs::machine_cpu(),
            tcp_opens: procfs::tcp_active_opens(),
            watch: procfs::snapshot(&self.watch),
            mock: procfs::snapshot(&self.mock),
            own: procfs::snapshot(&[self.own]),
            at: Instant::now(),
        }
    }

    fn begin(&mut self) {
        self.start = Some(self.take());
    }

    fn end(&self) -> ProbeResult {
        let Some(s0) = &self.start else {
            return ProbeResult::default();
        };
        let s1 = self.take();
        let tck = self.clk_tck;
        let machine_busy_ns = match (s0.machine, s1.machine) {
            (Some(a), Some(b)) => {
                Some(b.busy.saturating_sub(a.busy) * (1_000_000_000 / tck.max(1)))
            }
            _ => None,
        };
        ProbeResult {
            proxy: (!self.watch.is_empty()).then(|| procfs::cpu_delta(&s0.watch, &s1.watch, tck)),
            mock_ns: (!self.mock.is_empty()).then(|| procfs::cpu_delta(&s0.mock, &s1.mock, tck).ns),
            own_ns: procfs::cpu_delta(&s0.own, &s1.own, tck).ns,
            machine_busy_ns,
            tcp_opens: s0
                .tcp_opens
                .zip(s1.tcp_opens)
                .map(|(a, b)| b.saturating_sub(a)),
            wall: s1.at.saturating_duration_since(s0.at),
        }
    }
}

async fn run_rate(args: &Args, ctx: &Rc<Ctx>, probes: &mut Probes) -> Result<ProbeResult> {
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        bail!("--rate must be > 0 (or use --max)");
    }
    let warm_n = (args.rate * args.warmup).round() as u64;
    let meas_n = (args.rate * args.duration).round() as u64;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now() + Duration::from_millis(20);
    let rate = args.rate;
    let pacer = std::thread::Builder::new()
        .name("pacer".to_owned())
        .spawn(move || pace(start, rate, warm_n + meas_n, &tx))?;
    while let Some((i, sched)) = rx.recv().await {
        let measured = i >= warm_n;
        if i == warm_n {
            probes.begin();
            ctx.opened_window.set((ctx.pool.opened_total.get(), 0));
        }
        ctx.outstanding.set(ctx.outstanding.get() + 1);
        spawn_local(scheduled_request(Rc::clone(ctx), sched, measured));
    }
    if pacer.join().is_err() {
        bail!("pacing thread failed");
    }
    while ctx.outstanding.get() > 0 {
        ctx.idle.notified().await;
    }
    let (first, _) = ctx.opened_window.get();
    ctx.opened_window.set((first, ctx.pool.opened_total.get()));
    Ok(probes.end())
}

async fn max_worker(ctx: Rc<Ctx>, warm_end: Instant, end: Instant) {
    loop {
        let t0 = Instant::now();
        if t0 >= end {
            break;
        }
        let result = tokio::time::timeout(ctx.timeout, exchange(&ctx.pool, &ctx.template)).await;
        let done = Instant::now();
        let (outcome, _) = classify(result);
        let failed = matches!(outcome, Outcome::Failed(_));
        if t0 >= warm_end && done <= end {
            ctx.rec.borrow_mut().record(outcome, t0, done);
        }
        if failed {
            // Do not spin on a dead target.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let left = ctx.outstanding.get().saturating_sub(1);
    ctx.outstanding.set(left);
    if left == 0 {
        ctx.idle.notify_one();
    }
}

async fn run_max(args: &Args, ctx: &Rc<Ctx>, probes: &mut Probes) -> ProbeResult {
    let start = Instant::now();
    let warm_end = start + Duration::from_secs_f64(args.warmup);
    let end = warm_end + Duration::from_secs_f64(args.duration);
    for _ in 0..args.concurrency.max(1) {
        ctx.outstanding.set(ctx.outstanding.get() + 1);
        spawn_local(max_worker(Rc::clone(ctx), warm_end, end));
    }
    tokio::time::sleep_until(warm_end.into()).await;
    probes.begin();
    let first = ctx.pool.opened_total.get();
    tokio::time::sleep_until(end.into()).await;
    ctx.opened_window.set((first, ctx.pool.opened_total.get()));
    let result = probes.end();
    while ctx.outstanding.get() > 0 {
        ctx.idle.notified().await;
    }
    result
}

fn build_record(args: &Args, ctx: &Ctx, probe: &ProbeResult) -> RunRecord {
    let mut rec = ctx.rec.borrow_mut();
    let lat = stats::summarize(&mut rec.latencies_ns);
    let delays = stats::summarize(&mut rec.send_delays_ns);
    let done = rec.ok + rec.errors;
    let sent = if args.max {
        done
    } else {
        (args.rate * args.duration).round() as u64
    };
    let achieved_rps = if args.max {
        rec.ok as f64 / args.duration
    } else {
        match (rec.first_done, rec.last_done) {
            (Some(a), Some(b)) if rec.ok > 1 && b > a => {
                (rec.ok - 1) as f64 / (b - a).as_secs_f64()
            }
            _ => 0.0,
        }
    };
    let per_req_us = |ns: u64| {
        if done == 0 {
            0.0
        } else {
            ns as f64 / 1e3 / done as f64
        }
    };
    let wall_ns = nanos(probe.wall).max(1);
    let mem = (!args.watch_pid.is_empty()).then(|| procfs::mem_info(&args.watch_pid));
    RunRecord {
        target: args.target.clone(),
        mode: if args.max { "max" } else { "rate" }.to_owned(),
        mock_latency_ms: args.mock_latency_ms,
        rate: if args.max { 0.0 } else { args.rate },
        concurrency: args.max.then_some(args.concurrency),
        duration_s: args.duration,
        warmup_s: args.warmup,
        sent,
        ok: rec.ok,
        errors: rec.errors + sent.saturating_sub(done),
        late: rec.late,
        late_ms: args.late_ms,
        achieved_rps,
        mean_ms: lat.mean_ms,
        p50_ms: lat.p50_ms,
        p90_ms: lat.p90_ms,
        p99_ms: lat.p99_ms,
        p999_ms: lat.p999_ms,
        max_ms: lat.max_ms,
        send_delay_p99_ms: delays.p99_ms,
        send_delay_max_ms: delays.max_ms,
        conns_opened: ctx.pool.opened_total.get(),
        conns_peak: ctx.pool.peak.get(),
        loadgen_cpu_us_per_req: per_req_us(probe.own_ns),
        proxy_pids: args.watch_pid.clone(),
        proxy_cpu_ms: probe.proxy.map(|d| d.ns as f64 / 1e6),
        proxy_cpu_us_per_req: probe.proxy.map(|d| per_req_us(d.ns)),
        proxy_cpu_util: probe.proxy.map(|d| d.ns as f64 / wall_ns as f64),
        proxy_cpu_source: probe.proxy.map(|d| d.source.as_str().to_owned()),
        proxy_switches_per_req: probe
            .proxy
            .and_then(|d| d.switches)
            .filter(|_| done > 0)
            .map(|n| n as f64 / done as f64),
        mock_cpu_us_per_req: probe.mock_ns.map(per_req_us),
        other_tcp_opens: probe.tcp_opens.map(|n| {
            let (first, last) = ctx.opened_window.get();
            n.saturating_sub(last.saturating_sub(first))
        }),
        background_cpu_util: probe.machine_busy_ns.map(|busy| {
            let ours = probe.own_ns + probe.proxy.map_or(0, |d| d.ns) + probe.mock_ns.unwrap_or(0);
            (busy as f64 - ours as f64).max(0.0) / wall_ns as f64
        }),
        proxy_peak_rss_kb: mem.map(|m| m.peak_rss_kb),
        proxy_rss_kb: mem.map(|m| m.rss_kb),
        proxy_pss_kb: mem.and_then(|m| m.pss_kb),
        error_kinds: std::mem::take(&mut rec.error_kinds),
    }
}

async fn run(args: Args) -> Result<RunRecord> {
    let (authority, prefix) = split_url(&args.url)?;
    let addr = authority
        .to_socket_addrs()
        .with_context(|| format!("resolve {authority}"))?
        .next()
        .with_context(|| format!("no address for {authority}"))?;
    let template = Template::new(&args, &authority, &prefix)?;
    let max_conns = if args.max {
        args.concurrency
    } else {
        args.max_conns
    };
    let late_ns = (args.late_ms.max(0.0) * 1e6) as u64;
    let ctx = Rc::new(Ctx {
        pool: Pool::new(addr, max_conns),
        template,
        timeout: Duration::from_millis(args.timeout_ms),
        late_ns,
        rec: RefCell::new(Recorder::default()),
        outstanding: Cell::new(0),
        idle: Notify::new(),
        opened_window: Cell::new((0, 0)),
    });
    let mut probes = Probes::new(&args);
    let probe = if args.max {
        run_max(&args, &ctx, &mut probes).await
    } else {
        run_rate(&args, &ctx, &mut probes).await?
    };
    Ok(build_record(&args, &ctx, &probe))
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !(args.duration > 0.0 && args.warmup >= 0.0) {
        bail!("--duration must be > 0 and --warmup >= 0");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let record = LocalSet::new().block_on(&runtime, run(args))?;
    eprintln!(
        "{:>7} {:>5} rate={:<6} ok={} err={} late={} rps={:.0} p50={:.3}ms p99={:.3}ms max={:.3}ms conns={} lg_cpu={:.1}us/req{}{}",
        record.target,
        record.mode,
        record.rate,
        record.ok,
        record.errors,
        record.late,
        record.achieved_rps,
        record.p50_ms,
        record.p99_ms,
        record.max_ms,
        record.conns_peak,
        record.loadgen_cpu_us_per_req,
        record
            .proxy_cpu_us_per_req
            .map(|c| format!(" proxy_cpu={c:.1}us/req"))
            .unwrap_or_default(),
        record
            .proxy_peak_rss_kb
            .map(|kb| format!(" proxy_peak_rss={:.1}MiB", kb as f64 / 1024.0))
            .unwrap_or_default(),
    );
    for (kind, n) in &record.error_kinds {
        eprintln!("    error x{n}: {kind}");
    }
    let line = serde_json::to_string(&record)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A tiny HTTP/1.1 server: answers every request with 200 `{}` after `delay`, or never
    /// when `delay` is `None`.
    async fn serve(delay: Option<Duration>) -> Result<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        spawn_local(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                spawn_local(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = sock.read(&mut chunk).await {
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        // Our requests end with the JSON body's closing `}`.
                        while let Some(end) = buf.windows(3).position(|w| w == b"}]}") {
                            let rest = buf.split_off(end + 3);
                            buf = rest;
                            let Some(d) = delay else { continue };
                            tokio::time::sleep(d).await;
                            let resp = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                            if sock.write_all(resp).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Ok(addr)
    }

    fn template() -> Result<Template> {
        let args = Args::parse_from(["asbru-loadgen", "--url", "http://127.0.0.1:1"]);
        Template::new(&args, "127.0.0.1:1", "")
    }

    fn local<F: std::future::Future<Output = Result<()>>>(f: F) -> Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // A regression must fail the test, not hang the test run.
        LocalSet::new().block_on(&rt, async {
            tokio::time::timeout(Duration::from_secs(10), f)
                .await
                .context("test timed out")?
        })
    }

    #[test]
    fn pool_caps_connections_and_reuses_them() -> Result<()> {
        local(async {
            let addr = serve(Some(Duration::from_millis(20))).await?;
            let pool = Pool::new(addr, 3);
            let template = Rc::new(template()?);
            let mut tasks = Vec::new();
            for _ in 0..12 {
                let (pool, template) = (Rc::clone(&pool), Rc::clone(&template));
                tasks.push(spawn_local(async move { exchange(&pool, &template).await }));
            }
            for t in tasks {
                let x = t.await??;
                assert_eq!(x.status, StatusCode::OK);
                assert_eq!(x.body_len, 2);
            }
            assert_eq!(pool.opened_total.get(), 3);
            assert_eq!(pool.peak.get(), 3);
            assert_eq!(pool.open.get(), 3);
            assert_eq!(pool.idle.borrow().len(), 3);
            Ok(())
        })
    }

    #[test]
    fn timeouts_free_their_slots() -> Result<()> {
        local(async {
            let addr = serve(None).await?;
            let pool = Pool::new(addr, 2);
            let template = Rc::new(template()?);
            let mut tasks = Vec::new();
            for _ in 0..6 {
                let (pool, template) = (Rc::clone(&pool), Rc::clone(&template));
                tasks.push(spawn_local(async move {
                    tokio::time::timeout(Duration::from_millis(50), exchange(&pool, &template))
                        .await
                }));
            }
            for t in tasks {
                assert!(
                    t.await?.is_err(),
                    "a request to a silent server must time out"
                );
            }
            assert_eq!(pool.open.get(), 0);
            assert!(pool.waiters.borrow().is_empty() || pool.open.get() == 0);
            Ok(())
        })
    }

    #[test]
    fn urls() -> Result<()> {
        assert_eq!(
            split_url("http://127.0.0.1:8080")?,
            ("127.0.0.1:8080".to_owned(), String::new())
        );
        assert_eq!(
            split_url("http://localhost:1/x/")?,
            ("localhost:1".to_owned(), "/x".to_owned())
        );
        assert_eq!(
            split_url("http://example")?,
            ("example:80".to_owned(), String::new())
        );
        assert!(split_url("https://a:1").is_err());
        Ok(())
    }
}
