// What the kernel knows about a running server process, read from /proc, and the
// cost of a measured window as the difference of two readings.
//
// Per-thread figures (CPU time in ns, context switches) exist only for threads
// alive at the moment of reading: /proc/<pid>/status counts the main thread
// alone, and a thread that exits takes its counts with it (into the process's
// rusage, which only wait4() reveals). So a window is exact when the same
// threads are alive at both ends; when threads came and went (thread-per-conn
// under connection churn) the process-wide CPU ticks of /proc/<pid>/stat still
// cover the window, and context switches have to come from the lifetime rusage.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>

namespace pb::bench {

struct TaskCounters {
    uint64_t cpu_ns = 0;  // /proc/<pid>/task/<tid>/schedstat: time on a CPU
    uint64_t vcsw = 0;    // voluntary_ctxt_switches
    uint64_t ivcsw = 0;   // nonvoluntary_ctxt_switches
};

struct ProcSnapshot {
    bool ok = false;         // false: the process was gone
    int64_t at_ns = 0;       // steady clock
    uint64_t cpu_ticks = 0;  // utime + stime, whole process, exited threads included
    uint64_t threads = 0;    // Threads:
    uint64_t hwm_kb = 0;     // VmHWM: peak resident set so far
    std::map<pid_t, TaskCounters> tasks;
};

// Reads /proc/<pid>; `per_task` adds the per-thread counters (one file pair per thread).
ProcSnapshot read_proc(pid_t pid, bool per_task = true);

struct WindowCost {
    double seconds = 0;
    double cpu_us = 0;
    double vcsw = 0;
    double ivcsw = 0;
    // True when the same threads were alive at both ends, so every figure is a
    // window delta; false: cpu_us from process ticks, switches not known.
    bool same_threads = false;
};

WindowCost window_cost(const ProcSnapshot& begin, const ProcSnapshot& end);

}  // namespace pb::bench
