// Cheap readings of the kernel's view, for the sampler: one small file each, so
// that taking them on the load generator's CPU inside the window costs it
// microseconds. Nothing here walks /proc/<pid>/task: with a thousand server
// threads that walk took 50-60 ms, and the generator could not run meanwhile.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace pb::bench {

// /proc/<pid>/stat and /proc/<pid>/status of a whole process.
struct ProcReading {
    bool ok = false;         // false: the process was gone
    uint64_t cpu_ticks = 0;  // utime + stime in clock ticks, exited threads included
    uint64_t threads = 0;    // Threads:
    uint64_t hwm_kb = 0;     // VmHWM: peak resident set so far
    // An external server's process group (read_group) only: the summed context
    // switches of its live threads (< 0: not read) and how many processes it has.
    double vcsw = -1, ivcsw = -1;
    uint64_t processes = 0;
};
ProcReading read_proc(pid_t pid);

// Every process of an external server, summed: CPU ticks, threads, VmHWM (each
// process's own peak: pages they share count once per process, so this bounds
// the group's resident set from above). The members come from its cgroup's
// `cgroup_procs` file (one small file; a process that left the group stays in
// it), else from a walk of /proc for process group `pgid` (about a millisecond).
// With `switches`, also the context switches of every live thread (a small
// file per thread, at most kGroupSwitchThreads; beyond that they stay unknown):
// the sampler asks for them only at the window's edges.
ProcReading read_group(pid_t pgid, const std::string& cgroup_procs, bool switches);
inline constexpr size_t kGroupSwitchThreads = 64;

// Machine-wide CPU time, in microseconds. `busy_us` is every task's CPU time
// from the root cpuacct cgroup (cgroup v1 `cpuacct.usage`: nanoseconds, charged
// as tasks run, the same clock as getrusage) where it exists. Otherwise it is
// user + nice + system + irq + softirq from the first line of /proc/stat, which
// is sampled at the scheduler tick: a CPU that wakes in short bursts is counted
// busy or idle for whole ticks, and the bias reached 0.4 CPU over a 1 s window
// here. Steal and irq always come from /proc/stat (10 ms ticks).
struct CpuTimes {
    bool ok = false;
    double busy_us = 0;
    const char* busy_source = "none";  // "cpuacct" | "proc-stat"
    double steal_us = 0;               // time the hypervisor ran someone else while we wanted a CPU
    double irq_us = 0;                 // irq + softirq
    double stat_busy_us = 0;           // /proc/stat's busy time, whatever busy_source is
    unsigned cpus = 0;                 // CPUs online: the most busy time a second can hold
};
CpuTimes read_cpu_times();

// CPU time of the calling process (every thread: the harness and the load
// generator it links), microseconds.
double self_cpu_us();

// How long the threads of the calling process have waited on a run queue,
// runnable but not running (/proc/self/task/*/schedstat, second field), in
// microseconds: the time this process (the load generator) was preempted.
// A handful of small files: the harness has three or four threads.
double self_runqueue_wait_us();

// The kernel threads (kworker, ksoftirqd, rcu_*: the tasks with PF_KTHREAD in
// /proc/<pid>/stat): a walk of /proc, about a millisecond here, so the sampler
// takes it once, before the window.
std::vector<pid_t> kernel_thread_pids();

// Their CPU time so far, from each one's schedstat (nanoseconds), in
// microseconds: one small file per thread (~60 here), a few hundred
// microseconds, so the sampler reads it only at the window's edges. A thread
// that has exited since is skipped. Negative: none could be read.
double kernel_threads_cpu_us(const std::vector<pid_t>& pids);

// TCP counters of this network namespace (/proc/net/netstat, "TcpExt:"), the
// ones that explain where bytes and connections wait in the kernel. They are
// machine-wide (every socket of the namespace), not the server's own.
inline constexpr std::array<const char*, 6> kTcpExtNames{"ListenOverflows", "ListenDrops",
                                                         "TCPBacklogDrop",  "DelayedACKs",
                                                         "TCPAutoCorking",  "SyncookiesSent"};
struct TcpExt {
    bool ok = false;
    std::array<int64_t, kTcpExtNames.size()> values{};
};
TcpExt read_tcp_ext();

// Microseconds per clock tick of /proc/*/stat.
double tick_us();

}  // namespace pb::bench
