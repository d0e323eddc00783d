#!/usr/bin/env bash
# The asbru benchmark: the same fixed-rate (open-loop) load sent to the mock directly,
# through nginx (plain keep-alive reverse proxy) and through asbru, with the mock answering
# after 0 ms and 60 ms, plus a max-throughput run. See docs/benchmarks.md.
#
#   bench/run.sh                       # the full run (~5 minutes plus the build)
#   DURATION=5 RATES=2000 bench/run.sh # a quick one
#
# Knobs (environment):
#   DURATION=15        measured seconds per fixed-rate run      WARMUP=2   warm-up seconds (not counted)
#   RATES="500 2000"   requests/s                               LATENCIES="0 60"  mock latencies (ms)
#   MAX=1              also run the max-throughput session      MAX_DURATION=$DURATION  MAX_CONCURRENCY=64
#   TARGETS="direct nginx asbru"   (also: asbru-translated — an Anthropic client on
#                      /anthropic/v1/messages served by the gemini provider: both directions
#                      translated; not in the default set)
#   REPEAT=1           run each (rate, target) this many times, interleaved; the report shows medians
#   PLACEMENT=split    split: proxy alone on PROXY_CPUS (default 1), load generator + mock on
#                      LOAD_CPUS (default 0); one: everything on LOAD_CPUS (no cross-CPU wake-ups);
#                      none: no pinning, everything shares all CPUs
#   SCHED=fifo         fifo: load generator, mock and proxies run SCHED_FIFO (chrt -f 10) so that
#                      other work on the machine cannot delay them; other: normal scheduling
#   SKIP_BUILD=0       1: use the binaries already in $CARGO_TARGET_DIR/release
#   ASBRU_PLUGINS=     a JSON array for asbru's config `plugins` (default: none, so the built-in
#                      telemetry is on), e.g. '[{"name":"telemetry","enabled":false}]', or a
#                      mocker answering everything: '[{"name":"mocker","config":{"rules":[]}}]'
#   ASBRU_GOVERNANCE=0 1: asbru requires a virtual key on every request (enforce_auth_on_inference)
#                      and the load generator sends one, with a request and a token rate limit
#                      and a budget, none of which is reached; the configuration users run
#   BENCH_REDIS=       with ASBRU_GOVERNANCE=1, a Redis URL (e.g. redis://127.0.0.1:6379/) through
#                      which asbru shares its counters (--redis-url), under a key prefix of its own
#   RESULTS_DIR=bench/results
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2}
RATES=${RATES:-"500 2000"}
LATENCIES=${LATENCIES:-"0 60"}
MAX=${MAX:-1}
MAX_DURATION=${MAX_DURATION:-$DURATION}
MAX_CONCURRENCY=${MAX_CONCURRENCY:-64}
TARGETS=${TARGETS:-"direct nginx asbru"}
REPEAT=${REPEAT:-1}
PLACEMENT=${PLACEMENT:-split}
SCHED=${SCHED:-fifo}
SKIP_BUILD=${SKIP_BUILD:-0}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release

trap 'printf "\033[31mERROR: bench/run.sh line %s: %s failed\033[0m\n" "$LINENO" "$BASH_COMMAND" >&2' ERR
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
warn() { printf '\033[33mWARNING: %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

# Counts the CPUs in a taskset list such as "0", "1-3" or "0,2".
count_cpus() {
    local n=0 part
    IFS=, read -ra parts <<<"$1"
    for part in "${parts[@]}"; do
        if [[ $part == *-* ]]; then n=$((n + ${part#*-} - ${part%-*} + 1)); else n=$((n + 1)); fi
    done
    echo "$n"
}

# Two runs at once would measure each other: wait for any other run to finish.
LOCK=${TMPDIR:-/tmp}/asbru-bench.lock
exec 9>"$LOCK"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
    say "another bench/run.sh is running: waiting for it to finish"
    flock 9
fi

# ---------------------------------------------------------------- nginx from Debian
if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
    [[ $(id -u) == 0 ]] || die "nginx is not installed; run as root (the script installs Debian's nginx) or install it"
    say "installing nginx from Debian's packages"
    # Keep the package from starting the system service: we run our own instance.
    policy_added=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_added=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends nginx >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y --no-install-recommends nginx >/dev/null; }
    if [[ $policy_added == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# ---------------------------------------------------------------- build
asbru_built=1
if [[ $SKIP_BUILD != 1 ]]; then
    say "building (release): asbru, asbru-mock, asbru-bench"
    if ! (cd "$ROOT" && cargo build --release -p asbru -p asbru-mock -p asbru-bench); then
        warn "building asbru failed: building the mock and the harness only (asbru will be skipped)"
        (cd "$ROOT" && cargo build --release -p asbru-mock -p asbru-bench) || die "build failed"
        asbru_built=0
    fi
fi
for b in asbru-mock asbru-loadgen asbru-bench; do
    [[ -x $BIN/$b ]] || die "$BIN/$b is missing (build failed?)"
done
[[ -x $BIN/asbru ]] || asbru_built=0

# ---------------------------------------------------------------- placement and scheduling
NPROC=$(nproc)
if [[ $PLACEMENT == split && $NPROC -lt 2 ]]; then
    warn "one CPU only: PLACEMENT=none"
    PLACEMENT=none
fi
case $PLACEMENT in
split)
    LOAD_CPUS=${LOAD_CPUS:-0}
    PROXY_CPUS=${PROXY_CPUS:-1}
    LOAD_PIN=(taskset -c "$LOAD_CPUS")
    PROXY_PIN=(taskset -c "$PROXY_CPUS")
    LOAD_THREADS=$(count_cpus "$LOAD_CPUS")
    PROXY_THREADS=$(count_cpus "$PROXY_CPUS")
    placement_desc="proxy (nginx: ${PROXY_THREADS} worker; asbru: ${PROXY_THREADS} runtime worker thread) alone on CPU ${PROXY_CPUS}; load generator and mock (${LOAD_THREADS} worker thread) on CPU ${LOAD_CPUS}"
    ;;
one)
    LOAD_CPUS=${LOAD_CPUS:-0}
    LOAD_PIN=(taskset -c "$LOAD_CPUS")
    PROXY_PIN=(taskset -c "$LOAD_CPUS")
    LOAD_THREADS=$(count_cpus "$LOAD_CPUS")
    PROXY_THREADS=$LOAD_THREADS
    placement_desc="everything (load generator, mock, proxy with ${PROXY_THREADS} worker) on CPU ${LOAD_CPUS}: no cross-CPU wake-ups"
    ;;
none)
    LOAD_PIN=()
    PROXY_PIN=()
    LOAD_THREADS=$NPROC
    PROXY_THREADS=$NPROC
    placement_desc="no pinning: everything shares the ${NPROC} CPUs (nginx: ${NPROC} workers; asbru and mock: ${NPROC} runtime threads)"
    ;;
*) die "PLACEMENT must be split, one or none" ;;
esac
SCHED_CMD=()
if [[ $SCHED == fifo ]]; then
    if command -v chrt >/dev/null 2>&1 && chrt -f 10 true 2>/dev/null; then
        SCHED_CMD=(chrt -f 10)
        placement_desc+="; all of them SCHED_FIFO priority 10"
    else
        warn "cannot use SCHED_FIFO (needs root and chrt): normal scheduling"
        SCHED=other
    fi
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# ---------------------------------------------------------------- output
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$RESULTS_DIR/$STAMP
mkdir -p "$OUT"
JSONL=$OUT/results.jsonl
: >"$JSONL"
TMPD=$(mktemp -d /tmp/asbru-bench.XXXXXX)
chmod 755 "$TMPD"
ln -sfn "$STAMP" "$RESULTS_DIR/latest"

# ---------------------------------------------------------------- processes
MOCK_PID="" NGINX_PID="" ASBRU_PID=""
MOCK_PORT="" NGINX_PORT="" ASBRU_PORT=""

stop_pid() { # pid
    [[ -n ${1:-} ]] || return 0
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}
stop_all() {
    stop_pid "$ASBRU_PID"; ASBRU_PID=""
    stop_pid "$NGINX_PID"; NGINX_PID=""
    stop_pid "$MOCK_PID"; MOCK_PID=""
}
cleanup() {
    stop_all
    rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$BIN/asbru-bench" free-port; }

# Waits until `curl URL` returns one of the codes in $2 (a regex), for $3 seconds.
wait_http() { # url code-regex seconds
    local deadline=$((SECONDS + $3)) code
    while ((SECONDS < deadline)); do
        code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1" 2>/dev/null || true)
        [[ $code =~ ^($2)$ ]] && return 0
        sleep 0.1
    done
    return 1
}

start_mock() { # latency_ms
    local out=$TMPD/mock-$1.out
    "${LOAD_PIN[@]}" "${SCHED_CMD[@]}" "$BIN/asbru-mock" --port 0 --latency-ms "$1" --no-record \
        --threads "$LOAD_THREADS" >"$out" 2>"$OUT/mock-$1.log" 9>&- &
    MOCK_PID=$!
    local deadline=$((SECONDS + 10))
    MOCK_PORT=""
    while ((SECONDS < deadline)); do
        MOCK_PORT=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$out" 2>/dev/null | head -n1 || true)
        [[ -n $MOCK_PORT ]] && break
        kill -0 "$MOCK_PID" 2>/dev/null || break
        sleep 0.05
    done
    [[ -n $MOCK_PORT ]] || die "the mock did not start (see $OUT/mock-$1.log)"
}

start_nginx() {
    local dir=$TMPD/nginx
    rm -rf "$dir"
    mkdir -p "$dir/tmp"
    chmod -R 755 "$dir"
    NGINX_PORT=$(free_port)
    cat >"$dir/nginx.conf" <<EOF
# A plain keep-alive reverse proxy: the floor any proxy pays.
worker_processes $PROXY_THREADS;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile 65536;
events {
    worker_connections 16384;
}
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    # Never recycle connections during a run (asbru does not either).
    keepalive_requests 1000000000;
    keepalive_timeout 75s;
    upstream mock {
        server 127.0.0.1:$MOCK_PORT;
        keepalive 256;
        keepalive_requests 1000000000;
        keepalive_timeout 60s;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
    "${PROXY_PIN[@]}" "${SCHED_CMD[@]}" "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
        >"$OUT/nginx.log" 2>&1 9>&- &
    NGINX_PID=$!
    wait_http "http://127.0.0.1:$NGINX_PORT/health" '[1-5][0-9][0-9]' 10 ||
        die "nginx did not start (see $dir/error.log)"
    cp "$dir/nginx.conf" "$OUT/nginx.conf"
}

nginx_pids() { # master and workers
    local workers
    workers=$(pgrep -P "$NGINX_PID" | paste -sd, - || true)
    echo "$NGINX_PID${workers:+,$workers}"
}

start_asbru() {
    ASBRU_PID=""
    if [[ $asbru_built != 1 ]]; then
        warn "SKIPPING asbru: no asbru binary"
        return
    fi
    ASBRU_PORT=$(free_port)
    local plugins_json=""
    if [[ -n ${ASBRU_PLUGINS:-} ]]; then
        plugins_json=",\"plugins\":$ASBRU_PLUGINS"
    fi
    if [[ ${ASBRU_GOVERNANCE:-0} == 1 ]]; then
        plugins_json+=',"client":{"enforce_auth_on_inference":true},"governance":{'
        plugins_json+='"rate_limits":[{"id":"bench","request_max_limit":1000000000,"request_reset_duration":"1h","token_max_limit":1000000000000,"token_reset_duration":"1h"}],'
        plugins_json+='"budgets":[{"id":"bench","max_limit":1000000000,"reset_duration":"1M"}],'
        plugins_json+='"virtual_keys":[{"id":"bench","name":"bench","value":"sk-bf-bench","rate_limit_id":"bench","budget_id":"bench",'
        plugins_json+='"provider_configs":[{"provider":"openai"},{"provider":"gemini"}]}]}'
    fi
    cat >"$TMPD/asbru.json" <<EOF
{"providers":{"openai":{"keys":[{"name":"bench","value":"sk-bench","weight":1}],"network_config":{"base_url":"http://127.0.0.1:$MOCK_PORT"},"concurrency_and_buffer_size":{"concurrency":5000,"buffer_size":10000}},"gemini":{"keys":[{"name":"bench","value":"g-bench","weight":1}],"network_config":{"base_url":"http://127.0.0.1:$MOCK_PORT"},"concurrency_and_buffer_size":{"concurrency":5000,"buffer_size":10000}}}$plugins_json}
EOF
    cp "$TMPD/asbru.json" "$OUT/asbru-config.json"
    local redis_args=()
    if [[ -n ${BENCH_REDIS:-} ]]; then
        redis_args=(--redis-url "$BENCH_REDIS" --redis-prefix "asbru-bench-$$")
    fi
    TOKIO_WORKER_THREADS=$PROXY_THREADS "${PROXY_PIN[@]}" "${SCHED_CMD[@]}" "$BIN/asbru" serve \
        --config "$TMPD/asbru.json" --host 127.0.0.1 --port "$ASBRU_PORT" --log-level warn "${redis_args[@]}" \
        >>"$OUT/asbru.log" 2>&1 9>&- &
    ASBRU_PID=$!
    if ! wait_http "http://127.0.0.1:$ASBRU_PORT/health" 200 10; then
        warn "SKIPPING asbru: 'asbru serve' did not answer 200 on /health within 10 s (see $OUT/asbru.log)"
        stop_pid "$ASBRU_PID"
        ASBRU_PID=""
    fi
}

# Runs the load generator once and appends its JSON line to $JSONL.
run_load() { # target mode(rate|max) rate mock_latency
    local target=$1 mode=$2 rate=$3 lat=$4 url model watch="" extra=()
    case $target in
    direct) url=http://127.0.0.1:$MOCK_PORT model=gpt-4o-mini ;;
    nginx) url=http://127.0.0.1:$NGINX_PORT model=gpt-4o-mini watch=$(nginx_pids) ;;
    asbru)
        if [[ -z $ASBRU_PID ]]; then return 0; fi
        url=http://127.0.0.1:$ASBRU_PORT model=openai/gpt-4o-mini watch=$ASBRU_PID
        ;;
    asbru-translated)
        if [[ -z $ASBRU_PID ]]; then return 0; fi
        url=http://127.0.0.1:$ASBRU_PORT model=gemini/gemini-2.0-flash watch=$ASBRU_PID
        extra=(--dialect anthropic --path /anthropic/v1/messages)
        ;;
    *) die "unknown target $target" ;;
    esac
    if [[ ${ASBRU_GOVERNANCE:-0} == 1 && $target == asbru* ]]; then
        extra+=(--api-key sk-bf-bench)
    fi
    local args=(--url "$url" --target "$target" --model "$model" --warmup "$WARMUP"
        --mock-latency-ms "$lat" --mock-pid "$MOCK_PID" --clk-tck "$CLK_TCK")
    if [[ -n $watch ]]; then args+=(--watch-pid "$watch"); fi
    args+=("${extra[@]}")
    if [[ $mode == max ]]; then
        args+=(--max --concurrency "$MAX_CONCURRENCY" --duration "$MAX_DURATION")
    else
        args+=(--rate "$rate" --duration "$DURATION")
    fi
    local line
    if line=$("${LOAD_PIN[@]}" "${SCHED_CMD[@]}" "$BIN/asbru-loadgen" "${args[@]}" 2> >(tee -a "$OUT/loadgen.log" >&2)); then
        printf '%s\n' "$line" >>"$JSONL"
    else
        warn "load generator failed for $target $mode $rate (mock ${lat} ms)"
    fi
    sleep 1
}

# Percentage of one CPU busy on the whole machine over $1 seconds (from /proc/stat).
machine_busy() {
    local a b
    read -ra a < <(head -n1 /proc/stat)
    sleep "$1"
    read -ra b < <(head -n1 /proc/stat)
    local busy=$(((b[1] + b[2] + b[3] + b[6] + b[7] + b[8]) - (a[1] + a[2] + a[3] + a[6] + a[7] + a[8])))
    echo $((busy * 100 / ($1 * CLK_TCK)))
}

start_proxies() {
    if [[ " $TARGETS " == *" nginx "* ]]; then start_nginx; fi
    if [[ " $TARGETS " == *" asbru "* || " $TARGETS " == *" asbru-translated "* ]]; then start_asbru; fi
}

# ---------------------------------------------------------------- run
say "results: $OUT"
say "placement: $placement_desc"
notes=()
idle_pct=$(machine_busy 2)
if ((idle_pct > 10)); then
    warn "the machine is busy before the run (${idle_pct}% of a CPU): numbers will be noisy"
    ps -eo pid,pcpu,comm --sort=-pcpu | head -n 6 >&2
fi
notes+=("Background CPU before the run: ${idle_pct}% of one CPU")

for lat in $LATENCIES; do
    say "session: mock latency ${lat} ms"
    start_mock "$lat"
    start_proxies
    for rate in $RATES; do
        for _ in $(seq "$REPEAT"); do
            for target in $TARGETS; do
                run_load "$target" rate "$rate" "$lat"
            done
        done
    done
    stop_all
done

if [[ $MAX == 1 ]]; then
    say "session: max throughput (mock 0 ms, $MAX_CONCURRENCY connections)"
    start_mock 0
    start_proxies
    for _ in $(seq "$REPEAT"); do
        for target in $TARGETS; do
            run_load "$target" max 0 0
        done
    done
    stop_all
fi

git_rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -n1) ]]; then git_rev+=" (with uncommitted changes)"; fi
[[ $asbru_built == 1 ]] || notes+=("asbru was not measured (no binary)")
note_args=()
for n in "${notes[@]}"; do note_args+=(--note "$n"); done
"$BIN/asbru-bench" report --input "$JSONL" \
    --date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    --git "$git_rev" \
    --nginx "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), worker_processes $PROXY_THREADS, upstream keepalive 256, proxy_buffering on (default)" \
    --placement "$placement_desc" \
    --nproc "$NPROC" \
    "${note_args[@]}" >"$OUT/report.md"
echo
cat "$OUT/report.md"
echo
say "raw JSON lines: $JSONL"
say "report: $OUT/report.md (paste into docs/benchmarks.md)"
