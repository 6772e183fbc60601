#!/usr/bin/env bash
# The multi-host path on one machine: three network namespaces stand in for the
# hosts (a server and two clients on a bridge, 10.77.0.0/24 and nothing else), and
# tools/run-bench runs in them with the template `ip netns exec {host}`.
#
#   bench/multihost_netns.sh BUILD_DIR [RESULTS_DIR] [-- loadgen OPTIONS ...]
#
# Needs root and ip(8). The namespaces are PB_NETNS_PREFIX-srv, -a and -b (default
# prefix pbmh<PID>, unique per run) and are removed on every exit. Exit status:
# run-bench's; 77 when the namespaces cannot be created (not root, no ip, no
# namespaces or bridges in this kernel or container).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: bench/multihost_netns.sh BUILD_DIR [RESULTS_DIR] [-- loadgen OPTIONS]}
shift
results="$repo/results"
if [[ $# -gt 0 && $1 != "--" ]]; then
    results=$1
    shift
fi
[[ $# -gt 0 && $1 == "--" ]] && shift
loadgen_args=("$@")
[[ ${#loadgen_args[@]} -gt 0 ]] || loadgen_args=(-c 32 -d 3s --warmup 500ms)

prefix=${PB_NETNS_PREFIX:-pbmh$$}
srv=$prefix-srv
clients=("$prefix-a" "$prefix-b")
subnet=10.77.0
server_ip=$subnet.1

skip() {
    echo "multihost_netns: cannot create the namespaces: $*" >&2
    exit 77
}
[[ $(id -u) -eq 0 ]] || skip "not root"
command -v ip > /dev/null || skip "no ip(8) (Debian: iproute2)"

cleanup() {
    for ns in "$srv" "${clients[@]}"; do
        ip netns del "$ns" 2> /dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$srv" 2> /dev/null || skip "ip netns add failed (no network namespaces here)"
ip -n "$srv" link set lo up
ip -n "$srv" link add br0 type bridge 2> /dev/null || skip "no bridge devices in this kernel"
ip -n "$srv" addr add "$server_ip/24" dev br0
ip -n "$srv" link set br0 up
n=2
for ns in "${clients[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # Both ends are made inside their namespaces: no name is ever taken in the caller's.
    ip link add eth0 netns "$ns" type veth peer name "veth$n" netns "$srv"
    ip -n "$srv" link set "veth$n" master br0 up
    ip -n "$ns" addr add "$subnet.$n/24" dev eth0
    ip -n "$ns" link set eth0 up
    n=$((n + 1))
done

status=0
"$repo/tools/run-bench" --build "$build" --results "$results" \
    --server-host "$srv" --client-hosts "$(IFS=,; echo "${clients[*]}")" \
    --remote-command 'ip netns exec {host}' \
    --server-bind "$server_ip" --server-address "$server_ip" --start-delay 1 \
    -- "${loadgen_args[@]}" || status=$?
exit $status
