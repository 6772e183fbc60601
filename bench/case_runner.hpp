// Runs one case end to end: a fresh server child on the server CPUs, the load
// (loadgen library, or the small-writes client) on the client CPUs, /proc and
// sock_diag readings at both ends of the measured window, SIGTERM, the server's
// stats file. Returns the counters for Google Benchmark and writes
// cases/<id>.json (schema patternbench.case/1, results/README.md).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cases.hpp"

namespace pb::bench {

struct Placement {
    std::vector<int> server_cpus;
    std::vector<int> client_cpus;
    std::string reason;
    // --threads for the event-loop patterns (multi-accept, reuseport,
    // reactor-pool) and for worker-queue's pool.
    unsigned loop_threads = 2;
    unsigned worker_threads = 8;
};

struct RunnerOptions {
    std::string server_dir;    // holds server-<pattern>
    std::string pingpong_bin;  // the baseline's blocking server
    std::string out_dir;       // cases/ goes here; empty: no case files
    Placement placement;
};

struct Outcome {
    bool ok = false;  // false: the case could not run; `error` says why
    std::string error;
    std::string warning;  // ran, but something is off (errors, server exit status)
    double measured_seconds = 0;
    std::vector<std::pair<std::string, double>> counters;
};

Outcome run_case(const CaseSpec& spec, const RunnerOptions& options);

// Jain's fairness index (sum x)^2 / (n sum x^2) and max/min (infinite when an
// idle thread is among them); both over the threads whose role does that work.
double jain_index(const std::vector<double>& xs);
double max_min_ratio(const std::vector<double>& xs);

}  // namespace pb::bench
