// What the server cost over the measured window, from readings that cost the
// load generator nothing (bench/README.md, "How the server is accounted").
//
// While a case runs, a sampler thread takes a Tick every few tens of
// milliseconds: it sends the server SIGUSR1 and reads two small files
// (/proc/stat, /proc/<pid>/stat). On SIGUSR1 each server appends a
// ServerSnapshot line of its own to <stats-file>.snapshots: getrusage(RUSAGE_SELF)
// (every thread, exited ones included, in microseconds), its per-thread
// request and accept counters and its system calls by kind. After the run,
// account_window() picks the first and last snapshot inside the load
// generator's window and takes differences. A server that writes no snapshots
// (the baseline's ping-pong server) is accounted from /proc/<pid>/stat ticks
// instead (10 ms resolution).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proc_stats.hpp"
#include "sock_diag.hpp"

namespace pb::bench {

struct ServerSnapshot {
    struct Thread {
        int64_t id = 0;
        std::string role;
        double requests = 0;
        double accepted = 0;
    };
    int64_t seq = 0;
    int64_t t_ns = 0;  // steady clock (CLOCK_MONOTONIC), when the server took it
    double cpu_us = 0;
    double vcsw = 0;
    double ivcsw = 0;
    double maxrss_kb = 0;
    double threads_now = 0;
    double requests = 0;
    double accepted = 0;
    std::map<std::string, double> syscalls;  // by kind ("read", ...); empty: not counted
    std::vector<Thread> per_thread;
};

// One line per snapshot; a malformed line (cut short by a kill) is skipped.
std::vector<ServerSnapshot> parse_snapshots(const std::string& text);

// One sampler reading, on the harness side.
struct Tick {
    int64_t sent_ns = 0;  // steady clock: SIGUSR1 sent (or, without one, the reading taken)
    int64_t cost_ns = 0;  // what the whole reading took the harness
    CpuTimes cpu;         // machine-wide
    double self_cpu_us = 0;
    double self_wait_us = 0;  // run-queue wait of this process's threads so far
    ProcReading proc;         // the server, through /proc (the fallback and the thread count)
    std::map<uint64_t, SocketSegments> segments;  // the server's sockets (Nagle cases only)
    std::vector<ListenQueue> listen;              // the server's listeners
    TcpExt tcp_ext;          // machine-wide TCP counters; not ok: not read (only at the edges)
    double kthread_us = -1;  // every kernel thread's CPU so far; < 0: not read (only at the edges)
    double server_cgroup_us = -1;  // the server's cpuacct cgroup so far; < 0: no such cgroup
};

struct ThreadDelta {
    int64_t id = 0;
    std::string role;
    double requests = 0;        // over the window
    double accepted = 0;        // over the window
    double accepted_total = 0;  // since the start, at the window's last snapshot
};

struct Foreign {
    bool ok = false;
    double cpu_s = 0;  // CPU time neither the server nor this process used, every CPU
    double cpus = 0;   // cpu_s over the window: 0.05 is 5% of one CPU
    double steal_s = 0;
    double irq_s = 0;
    const char* busy_source = "none";  // how machine-wide busy time was read (CpuTimes)
    // How long this process's threads (the load generator among them) sat on a
    // run queue, runnable but not running: the stalls other work imposed on
    // the generator, however short (a 4 ms preemption is 0.4% of a CPU over a
    // second, far under the flag, and still a 4 ms send-lateness spike).
    double generator_wait_s = 0;
    // Kernel threads (kworker, ksoftirqd, rcu): on a quiet machine their work
    // is this case's own (connection teardown, deferred softirqs, freeing
    // thread stacks after an RCU grace period), so it is counted here and not
    // in cpu_s. < 0: not read at both edges, and then it stays inside cpu_s.
    double kernel_threads_s = -1;
    // The server's CPU from its own cpuacct cgroup, when it has one: then that,
    // not its getrusage() snapshots, is what the foreign figure subtracts. It
    // includes the tail of every thread's exit, which getrusage() stops
    // counting when the thread is released: thread-per-conn under churn ends
    // thousands of threads a second. < 0: no cgroup.
    double server_cgroup_s = -1;
    bool flag = false;  // cpus (or steal) above kForeignFlagCpus
    // The machine read busier than all its CPUs could be over the window: a
    // broken reading, discarded (ok stays false) rather than called load.
    bool implausible = false;
};
inline constexpr double kForeignFlagCpus = 0.05;

// Where connections and bytes waited in the kernel over the window.
struct KernelQueues {
    // Deltas of kTcpExtNames between the window's edges (machine-wide).
    bool tcp_ext_ok = false;
    std::array<int64_t, kTcpExtNames.size()> tcp_ext{};
    // The listeners' accept queues, sampled at every tick inside the window.
    int samples = 0;
    double depth_max = 0;   // the deepest single accept queue seen
    double depth_mean = 0;  // mean over samples of the sum over listeners
    uint32_t backlog = 0;
    std::vector<double> listener_max;  // per listener, in cookie order
    // The server's connections (Nagle cases): bytes not yet read by the server
    // and bytes it wrote that the kernel has not sent, summed over its sockets,
    // the most seen at one tick. < 0: not sampled.
    double unread_max = -1;
    double unsent_max = -1;
};

struct WindowAccount {
    bool ok = false;
    std::string source = "none";  // "server-snapshot" | "proc-stat" | "none"
    double seconds = 0;
    double cpu_us = 0;
    double vcsw = -1, ivcsw = -1;         // < 0: not known (proc-stat source)
    double requests = -1, accepted = -1;  // < 0: not known: estimate from the client
    // The server's system calls by kind over the window; empty when its
    // snapshots carry none (proc-stat source, or a server that counts none).
    std::map<std::string, double> syscalls;
    std::vector<ThreadDelta> per_thread;
    double snapshot_delay_us[2] = {-1, -1};  // signal sent -> snapshot taken, each edge
    double harness_cost_us[2] = {-1, -1};    // the reading's cost to the harness, each edge
    uint64_t threads_max = 0;
    Foreign foreign;
    SocketSegments segments;
    KernelQueues kernel;
};

// The window [begin_ns, end_ns] is the load generator's measured window.
WindowAccount account_window(int64_t begin_ns, int64_t end_ns, const std::vector<Tick>& ticks,
                             const std::vector<ServerSnapshot>& snapshots);

// The per-thread values over the roles that do that work (reactor-pool's
// acceptor counts for accepts, not requests; its loops the other way round).
// Requests are the window's; accepts are the totals at its end, because
// keep-alive connections are all accepted during bring-up, before the window,
// and how they ended up spread over the threads is the finding.
// Fewer than two values: no fairness figure exists, and the result is empty.
std::vector<double> fairness_values(const std::vector<ThreadDelta>& threads, bool accepts);

}  // namespace pb::bench
