#!/bin/sh
# server-single (HTTP mode) against nginx with one worker returning the same
# 13 bytes, both driven by the same wrk command, alternately, ROUNDS times.
# Prints every run and the median req/s of each. nginx is not a dependency of
# the project: install nginx-light (or nginx) to run this.
#
#   bench/compare_nginx.sh [BUILD_DIR] [ROUNDS] [DURATION]
set -eu
BUILD=${1:-build}
ROUNDS=${2:-3}
DURATION=${3:-3s}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx not found: apt-get install nginx-light" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

work=$(mktemp -d)
server_pid=""
nginx_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# nginx: one worker, keep-alive without a request cap, the same body.
NGINX_PORT=18080
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { default_type text/plain; return 200 "Hello, World!"; }
    }
}
CONF
"$NGINX" -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!

"$BUILD/servers/server-single" --protocol http > "$work/single.out" &
server_pid=$!
sleep 0.5
SINGLE_PORT=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/single.out")
curl -sf "http://127.0.0.1:$NGINX_PORT/" | grep -q "Hello, World!" || { echo "nginx not answering" >&2; exit 1; }
curl -sf "http://127.0.0.1:$SINGLE_PORT/" | grep -q "Hello, World!" || { echo "server-single not answering" >&2; exit 1; }

run_wrk() {
    wrk -t1 -c64 -d"$DURATION" "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: > "$work/single.rps"
: > "$work/nginx.rps"
i=1
while [ "$i" -le "$ROUNDS" ]; do
    s=$(run_wrk "$SINGLE_PORT"); echo "$s" >> "$work/single.rps"
    n=$(run_wrk "$NGINX_PORT"); echo "$n" >> "$work/nginx.rps"
    echo "round $i: server-single $s req/s, nginx $n req/s"
    i=$((i + 1))
done
s=$(median < "$work/single.rps")
n=$(median < "$work/nginx.rps")
echo "median: server-single $s req/s, nginx (1 worker) $n req/s, ratio $(echo "$s $n" | awk '{printf "%.2f", $1/$2}')"
echo "command: wrk -t1 -c64 -d$DURATION http://127.0.0.1:PORT/"
