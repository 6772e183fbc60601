"""Load from several client hosts: tools/run-bench --server-host H --client-hosts A,B,...

One pattern server on H, one loadgen on every client host, all reached through a
remote-command template (default `ssh {host}`; `ip netns exec {host}` runs the same
thing in network namespaces). The loadgens share a wall-clock start (`loadgen
--start-at`), so their measured windows coincide; their records are merged exactly
by `loadgen merge`; the server's accounting (its stats file, its CPU from /proc) comes
from H. bench/README.md, "Load from several hosts", is the user's side of this.

The steps:
1. start `sh -c 'echo pb-pid $$; exec SERVER ...'` on H and read its PID and its
   "listening HOST:PORT" line;
2. pick the start instant (now + --start-delay) and start every loadgen with
   `--start-at T --json - -q` (the record comes back on the remote command's stdout),
   and a sampler on H that, when the window opens and when it closes, asks the server
   for a snapshot of its counters (SIGUSR1) and reads /proc/PID/stat;
3. when the loadgens are done, SIGTERM the server (through the template), fetch its
   stats file and remove it;
4. `loadgen merge` (locally) the hosts' records, and write the run directory:
   loadgen-<i>-<host>.json and .log per host, merged.json, server-stats.json,
   server-snapshots.jsonl, server.log, run.json, REPORT.md (tools/pbtools/report_multihost.py).

Every binary is at the same path on every host (the --build directory's); the
control machine, which runs this, needs loadgen too (for the merge).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import subprocess
import threading
import time

from . import report_multihost

# The server's first lines: its PID (from the wrapper) and "listening HOST:PORT".
_PID_LINE = re.compile(r"^pb-pid (\d+)$")
_LISTENING = re.compile(r"^listening (\S+):(\d+)$")

# At two wall-clock instants on the server host's clock, the window's edges: asks the
# server for a snapshot (SIGUSR1: a line in <stats-file>.snapshots, servers/README.md)
# and reads /proc/PID/stat. Arguments: PID T1 T2 (seconds since the epoch). Prints
# "sample TIME CLK_TCK UTIME STIME" per instant. sh, awk and date are all it needs.
_SAMPLER = r"""
pid=$1
tck=$(getconf CLK_TCK)
for at in "$2" "$3"; do
  d=$(awk -v t="$at" -v n="$(date +%s.%N)" 'BEGIN { d = t - n; if (d < 0) d = 0; printf "%.3f", d }')
  sleep "$d"
  kill -USR1 "$pid" || exit 1
  now=$(date +%s.%N)
  stat=$(cat "/proc/$pid/stat") || exit 1
  echo "sample $now $tck $(echo "${stat##*) }" | awk '{ print $12, $13 }')"
done
"""


class MultihostError(RuntimeError):
    """A step failed; the message says which and why."""


def remote_argv(template: str, host: str, argv: list[str]) -> list[str]:
    """The local argv that runs `argv` on `host` through `template`.

    The template's words get {host} replaced. With a {cmd} word, that word becomes the
    whole command as one shell-quoted string (for tools that hand it to a shell);
    without one the command's words are appended, shell-quoted when the template's
    program is ssh (which joins its arguments into a line for the remote shell)."""
    words = [w.replace("{host}", host) for w in shlex.split(template)]
    if not words:
        raise MultihostError("the remote command template is empty")
    if "{cmd}" in words:
        line = shlex.join(argv)
        return [line if w == "{cmd}" else w for w in words]
    if os.path.basename(words[0]) == "ssh":
        return words + [shlex.quote(a) for a in argv]
    return words + list(argv)


def parse_duration(text: str) -> float:
    """loadgen's durations ('250us', '500ms', '2s', '1m', '1h', '3') in seconds."""
    m = re.fullmatch(r"([0-9]*\.?[0-9]+)(us|ms|s|m|h)?", text.strip())
    if not m:
        raise MultihostError(f"cannot read the duration '{text}'")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[m.group(2)]
    return float(m.group(1)) * scale


def loadgen_option(args: list[str], names: tuple[str, ...], default=None):
    """The value of a loadgen option in `args` ('-d 2s', '--duration=2s'), the last one
    given, else `default`."""
    value = default
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                value = args[i + 1]
            elif a.startswith(n + "=") and n.startswith("--"):
                value = a[len(n) + 1 :]
    return value


# Options run-bench sets on every loadgen itself.
_RESERVED = ("--start-at", "--json", "-q", "--quiet", "--help", "-h", "--version")


def check_loadgen_args(args: list[str]) -> None:
    for a in args:
        if a.split("=", 1)[0] in _RESERVED:
            raise MultihostError(f"{a}: run-bench sets --start-at, --json and -q on every loadgen")
        if re.fullmatch(r"\S+:\d+", a) or a.startswith("http://"):
            raise MultihostError(f"{a}: the target is the server host's; give no target")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Lines:
    """Reads a pipe's lines in a thread (the server's stdout) into a list, and copies
    them to a log file."""

    def __init__(self, pipe, log_path: str):
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(pipe, log_path), daemon=True)
        self._thread.start()

    def _run(self, pipe, log_path):
        with open(log_path, "a", encoding="utf-8") as log:
            for raw in pipe:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def wait_for(self, pattern: re.Pattern, deadline: float):
        """The first match of `pattern` among the lines, waiting until `deadline`
        (time.monotonic()); None at the deadline or the end of the output."""
        with self._cond:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    m = pattern.match(line)
                    if m:
                        return m
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if self._done or left <= 0:
                    return None
                self._cond.wait(left)


def _run_remote(template, host, argv, timeout=30.0) -> subprocess.CompletedProcess:
    return subprocess.run(
        remote_argv(template, host, argv), capture_output=True, text=True, timeout=timeout
    )


def run(opts, out_dir: str, log=print) -> dict:
    """Runs the multi-host benchmark into `out_dir` (which exists) and returns run.json.

    `opts`: server_host, client_hosts (list), remote_command, pattern, build,
    server_address, server_bind, server_port, server_threads, server_args (list),
    start_delay (s), loadgen_args (list). Raises MultihostError on a failed step,
    after stopping what it started."""
    template = opts.remote_command
    build = os.path.abspath(opts.build)
    server_bin = os.path.join(build, "servers", f"server-{opts.pattern}")
    loadgen_bin = os.path.join(build, "loadgen", "loadgen")
    if not os.access(loadgen_bin, os.X_OK):
        raise MultihostError(f"{loadgen_bin} not found (the merge runs here; build it first)")
    args = list(opts.loadgen_args)
    check_loadgen_args(args)
    protocol = loadgen_option(args, ("--protocol",), "frame")
    duration = parse_duration(loadgen_option(args, ("-d", "--duration"), "10s"))
    warmup = parse_duration(loadgen_option(args, ("--warmup",), "0s"))
    timeout = parse_duration(loadgen_option(args, ("--timeout",), "2s"))
    bringup = parse_duration(loadgen_option(args, ("--bringup-timeout",), "10s"))

    stats_file = f"/tmp/pb-multihost-{os.getpid()}-{int(time.time())}.stats.json"
    server_cmd = [
        server_bin,
        "--host",
        opts.server_bind,
        "--port",
        str(opts.server_port),
        "--protocol",
        protocol,
        "--stats-file",
        stats_file,
    ]
    if opts.server_threads:
        server_cmd += ["--threads", str(opts.server_threads)]
    server_cmd += list(opts.server_args)
    wrapper = ["sh", "-c", 'echo "pb-pid $$"; exec "$0" "$@"', *server_cmd]

    started = _utc_now()
    log(f"multihost: server-{opts.pattern} on {opts.server_host}")
    server = subprocess.Popen(
        remote_argv(template, opts.server_host, wrapper),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines = _Lines(server.stdout, os.path.join(out_dir, "server.log"))
    pid = None
    clients: list[subprocess.Popen] = []
    try:
        deadline = time.monotonic() + 15.0
        m = lines.wait_for(_PID_LINE, deadline)
        pid = int(m.group(1)) if m else None  # from here on it is stopped by its PID
        listening = lines.wait_for(_LISTENING, deadline) if m else None
        if not m or not listening:
            raise MultihostError(
                f"the server on {opts.server_host} did not say 'listening HOST:PORT' within 15 s "
                f"(its output: {' | '.join(lines.lines[-5:]) or 'none'})"
            )
        port = int(listening.group(2))
        address = opts.server_address or listening.group(1)
        if address in ("0.0.0.0", ""):
            address = opts.server_host
        target = f"{address}:{port}"

        start_at = round(time.time() + opts.start_delay, 6)
        window = (start_at + warmup, start_at + warmup + duration)
        loadgen_cmd = [loadgen_bin, target, *args, "--start-at", f"{start_at:.6f}"]
        loadgen_cmd += ["--json", "-", "-q"]
        log(f"multihost: {len(opts.client_hosts)} loadgens against {target}, start at {start_at}")
        outputs = []
        for i, host in enumerate(opts.client_hosts, 1):
            stem = os.path.join(out_dir, f"loadgen-{i}-{_safe(host)}")
            out = open(stem + ".json", "wb")
            err = open(stem + ".log", "wb")
            outputs.append((host, stem, out, err))
            clients.append(
                subprocess.Popen(
                    remote_argv(template, host, loadgen_cmd),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                )
            )
        sampler = subprocess.Popen(
            remote_argv(
                template,
                opts.server_host,
                ["sh", "-c", _SAMPLER, "sampler", str(pid), f"{window[0]:.6f}", f"{window[1]:.6f}"],
            ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        # The loadgens are done by the start, the window and the drain; 30 s on top for
        # the remote commands and the bring-up, and past that they are stuck.
        deadline = time.monotonic() + opts.start_delay + bringup + warmup + duration + timeout + 30
        statuses = []
        for p in clients:
            try:
                statuses.append(p.wait(timeout=max(deadline - time.monotonic(), 0.1)))
            except subprocess.TimeoutExpired:
                p.kill()
                statuses.append(p.wait())
        for _, _, out, err in outputs:
            out.close()
            err.close()
        try:
            sampler_out, _ = sampler.communicate(timeout=10.0)
        except subprocess.TimeoutExpired:
            sampler.kill()
            sampler_out, _ = sampler.communicate()
        samples = []
        for line in sampler_out.splitlines():
            f = line.split()
            if len(f) == 5 and f[0] == "sample":
                samples.append(
                    {"time": float(f[1]), "clk_tck": int(f[2]), "cpu_ticks": int(f[3]) + int(f[4])}
                )
    finally:
        stop_status = _stop_server(template, opts.server_host, pid, server)
        for p in clients:
            if p.poll() is None:
                p.kill()
                p.wait()

    stats = None
    got = _run_remote(template, opts.server_host, ["cat", stats_file])
    if got.returncode == 0 and got.stdout.strip():
        stats = json.loads(got.stdout)
        with open(os.path.join(out_dir, "server-stats.json"), "w", encoding="utf-8") as f:
            f.write(got.stdout)
    snapshots = []
    got = _run_remote(template, opts.server_host, ["cat", stats_file + ".snapshots"])
    if got.returncode == 0:
        with open(os.path.join(out_dir, "server-snapshots.jsonl"), "w", encoding="utf-8") as f:
            f.write(got.stdout)
        snapshots = [json.loads(line) for line in got.stdout.splitlines() if line.strip()]
    _run_remote(template, opts.server_host, ["rm", "-f", stats_file, stats_file + ".snapshots"])

    records = []
    failed = []
    for (host, stem, _, _), status in zip(outputs, statuses):
        try:
            with open(stem + ".json", encoding="utf-8") as f:
                records.append((host, json.load(f)))
        except (OSError, ValueError):
            failed.append(f"{host} (exit {status}, no record; see {os.path.basename(stem)}.log)")
            continue
        if status not in (0, 1):  # 1: the run had errors, and the record says which
            failed.append(f"{host} (exit {status}; see {os.path.basename(stem)}.log)")
    if failed:
        raise MultihostError("loadgen failed on " + ", ".join(failed))

    merged_path = os.path.join(out_dir, "merged.json")
    merge = subprocess.run(
        [loadgen_bin, "merge", *[f"{stem}.json" for _, stem, _, _ in outputs]],
        capture_output=True,
        text=True,
    )
    if merge.returncode != 0:
        raise MultihostError(f"loadgen merge failed: {merge.stderr.strip()}")
    with open(merged_path, "w", encoding="utf-8") as f:
        f.write(merge.stdout)
    merged = json.loads(merge.stdout)

    run_json = {
        "profile": "multihost",
        "started": started,
        "finished": _utc_now(),
        "server_host": opts.server_host,
        "client_hosts": list(opts.client_hosts),
        "remote_command": template,
        "pattern": opts.pattern,
        "server_command": shlex.join(server_cmd),
        "server_pid": pid,
        "server_exit": stop_status,
        "target": target,
        "loadgen_args": shlex.join(args),
        "loadgen_command": shlex.join(loadgen_cmd),
        "start_at": start_at,
        "start_delay": opts.start_delay,
        "window": list(window),
        "loadgen_exit": [[h, s] for h, s in zip(opts.client_hosts, statuses)],
        "server_cpu_samples": samples,
    }
    with open(os.path.join(out_dir, "run.json"), "w", encoding="utf-8") as f:
        json.dump(run_json, f, indent=1)
        f.write("\n")
    report = report_multihost.render(
        run_json, records, merged, {"stats": stats, "samples": samples, "snapshots": snapshots}
    )
    with open(os.path.join(out_dir, "REPORT.md"), "w", encoding="utf-8") as f:
        f.write(report)
    return run_json


def _stop_server(template, host, pid, server: subprocess.Popen):
    """SIGTERM to the server through the template (a local signal would only end the
    remote command's client, e.g. ssh), SIGKILL after 10 s; its exit status or None."""
    if pid is not None and server.poll() is None:
        _run_remote(template, host, ["kill", "-TERM", str(pid)])
        try:
            return server.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            _run_remote(template, host, ["kill", "-KILL", str(pid)])
    if server.poll() is None:
        server.kill()
    return server.wait()
