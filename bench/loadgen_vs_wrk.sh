#!/bin/sh
# How cheap and how precise is the load generator? Two ratios, each measured
# alternately ROUNDS times in one run, reported as the median:
#
#   1. throughput: loadgen -t1 -c64 / wrk -t1 -c64 against server-single in HTTP
#      mode (goal: >= 1.0), with each tool's CPU per request beside it (both
#      tools usually saturate the one-threaded server, so the CPU ratio is the
#      steadier measure of which generator is cheaper);
#   2. latency floor: loadgen's p50 at -c1 on the frame protocol / the p50 of a
#      blocking ping-pong client, both against the same blocking ping-pong
#      server (goal: <= 1.15, the event loop adds little to a loopback round trip).
#
# usage: bench/loadgen_vs_wrk.sh [BUILD_DIR]      (default: build)
# env:   DURATION (default 3s; whole seconds, which wrk needs) ROUNDS (default 3) CONNS (default 64)
#        SERVER_CPU / CLIENT_CPU (default 0 / 1; pinning is skipped without taskset)
set -eu

BUILD=${1:-build}
DURATION=${DURATION:-3s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

SERVER=$BUILD/servers/server-single
LOADGEN=$BUILD/loadgen/loadgen
PINGPONG=$BUILD/loadgen/pingpong
for bin in "$SERVER" "$LOADGEN" "$PINGPONG"; do
    [ -x "$bin" ] || { echo "missing $bin: build first (cmake --build $BUILD)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "wrk is not installed (tools/install-deps)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed to read the JSON" >&2; exit 2; }

if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    ON_SERVER="taskset -c $SERVER_CPU"
    ON_CLIENT="taskset -c $CLIENT_CPU"
else
    ON_SERVER=""
    ON_CLIENT=""
fi

TMP=$(mktemp -d)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# start NAME CMD...: runs a server in the background; its port goes to $TMP/NAME.port.
# (Not called in $(...): the pid must reach PIDS in this shell for the cleanup.)
start() {
    name=$1
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PIDS="$PIDS $!"
    for _ in $(seq 1 100); do
        if grep -q '^listening ' "$TMP/$name.out" 2>/dev/null; then
            sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$TMP/$name.out" >"$TMP/$name.port"
            return
        fi
        sleep 0.05
    done
    echo "$name did not start" >&2
    exit 1
}

json_field() {  # json_field FILE EXPR
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

median() {  # median of the arguments
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}

start http $ON_SERVER "$SERVER" --protocol http
start pingpong $ON_SERVER "$PINGPONG" server
HTTP_PORT=$(cat "$TMP/http.port")
PP_PORT=$(cat "$TMP/pingpong.port")

# cpu_of OUT CMD...: runs CMD with stdout to OUT and prints the CPU seconds (user +
# system) it used, from the children's rusage.
cpu_of() {
    out=$1
    shift
    python3 -c '
import resource, subprocess, sys
with open(sys.argv[1], "w") as out:
    subprocess.run(sys.argv[2:], stdout=out, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime)' "$out" "$@"
}

echo "== throughput: server-single (http) on cpu $SERVER_CPU, clients on cpu $CLIENT_CPU, -t1 -c$CONNS -d$DURATION"
RATIOS=""
CPU_RATIOS=""
for i in $(seq 1 "$ROUNDS"); do
    WRK_CPU=$(cpu_of "$TMP/wrk.out" $ON_CLIENT wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$HTTP_PORT/")
    WRK=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$TMP/wrk.out")
    WRK_N=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$TMP/wrk.out")
    LG_CPU=$(cpu_of "$TMP/lg.out" $ON_CLIENT "$LOADGEN" "127.0.0.1:$HTTP_PORT" -t1 -c"$CONNS" -d"$DURATION" \
        --protocol http -q --json "$TMP/lg.json")
    LG=$(json_field "$TMP/lg.json" "round(d['throughput_rps'], 1)")
    LG_N=$(json_field "$TMP/lg.json" "d['requests']")
    R=$(awk -v a="$LG" -v b="$WRK" 'BEGIN {printf "%.3f", a / b}')
    # Client CPU per request, whole process (start-up and connects included).
    WRK_US=$(awk -v c="$WRK_CPU" -v n="$WRK_N" 'BEGIN {printf "%.2f", c * 1e6 / n}')
    LG_US=$(awk -v c="$LG_CPU" -v n="$LG_N" 'BEGIN {printf "%.2f", c * 1e6 / n}')
    CR=$(awk -v a="$LG_US" -v b="$WRK_US" 'BEGIN {printf "%.3f", a / b}')
    RATIOS="$RATIOS $R"
    CPU_RATIOS="$CPU_RATIOS $CR"
    echo "  round $i: wrk $WRK req/s ${WRK_US} us CPU/req, loadgen $LG req/s ${LG_US} us CPU/req;" \
         "throughput ratio $R, CPU ratio $CR"
done
# shellcheck disable=SC2086
THROUGHPUT_RATIO=$(median $RATIOS)
# shellcheck disable=SC2086
CPU_RATIO=$(median $CPU_RATIOS)

echo "== latency floor: -c1 frame, 13-byte replies, against the blocking ping-pong server, -d$DURATION"
RATIOS=""
for i in $(seq 1 "$ROUNDS"); do
    PP=$($ON_CLIENT "$PINGPONG" client "127.0.0.1:$PP_PORT" -d "$DURATION" | sed -n 's/.*p50_us \([0-9.]*\).*/\1/p')
    $ON_CLIENT "$LOADGEN" "127.0.0.1:$PP_PORT" -c1 -d"$DURATION" --warmup 500ms -q --json "$TMP/lg1.json"
    LG=$(json_field "$TMP/lg1.json" "d['latency_us']['p50']")
    R=$(awk -v a="$LG" -v b="$PP" 'BEGIN {printf "%.3f", a / b}')
    RATIOS="$RATIOS $R"
    echo "  round $i: pingpong p50 ${PP}us, loadgen p50 ${LG}us, ratio $R"
done
# shellcheck disable=SC2086
LATENCY_RATIO=$(median $RATIOS)

echo "== summary ($(uname -sr), $(nproc) CPUs)"
echo "  throughput loadgen/wrk (median of $ROUNDS): $THROUGHPUT_RATIO   (goal >= 1.0)"
echo "  client CPU per request loadgen/wrk (median of $ROUNDS): $CPU_RATIO   (lower is cheaper)"
echo "  p50 loadgen/pingpong  (median of $ROUNDS): $LATENCY_RATIO   (goal <= 1.15)"
OK=$(awk -v t="$THROUGHPUT_RATIO" -v l="$LATENCY_RATIO" 'BEGIN {print (t >= 1.0 && l <= 1.15) ? "yes" : "no"}')
echo "  both goals met: $OK"
