// Runs one case end to end: a fresh server child on the server CPUs, the load
// (loadgen library, or the small-writes client) on the client CPUs, a sampler
// asking the server for snapshots of its own accounting throughout (window.hpp),
// SIGTERM, the server's stats file. Returns the counters for Google Benchmark
// and the case document (schema patternbench.case/2, results/README.md); the
// caller writes cases/<id>.json from its repetitions (case_file.hpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cases.hpp"
#include "json.hpp"
#include "result.hpp"

namespace pb::bench {

struct Placement {
    std::vector<int> server_cpus;
    std::vector<int> client_cpus;
    std::string reason;
    // --threads for the patterns whose threads are "loops" and for those
    // whose threads are "workers" (servers/patterns.txt).
    unsigned loop_threads = 2;
    unsigned worker_threads = 8;
};

struct RunnerOptions {
    std::string server_dir;    // holds server-<pattern>
    std::string pingpong_bin;  // the baseline's blocking server
    Placement placement;
    // An external server (CaseSpec::external()): how long its port may take to
    // accept a connection, and how long it may take to exit after SIGTERM.
    std::chrono::milliseconds external_start_timeout{std::chrono::seconds(10)};
    std::chrono::milliseconds external_stop_grace{std::chrono::seconds(5)};
};

struct Outcome {
    bool ok = false;      // false: the case could not run; `error` says why
    std::string error;    // with ok: it ran and was measured, but is an error all the same
    std::string warning;  // ran, but something is off (errors, server exit status)
    // Not ok because the server cannot run on this machine at all (it exited 69,
    // pb::kExitUnavailable, before listening): its reason. `error` says the same.
    std::string unavailable;
    double measured_seconds = 0;
    std::vector<std::pair<std::string, double>> counters;
    pb::loadgen::Json document;  // this repetition's cases/<id>.json content
};

class ServerChild;
struct Measured;
struct Accounted;

// The loadgen's timeline as soon as it is fixed (the start barrier released),
// for a hook that acts at a moment of the window: kill the server half-way.
class LoadWindow {
public:
    // Blocks until the timeline is known (true) or the load ended without one
    // (false). Times are CLOCK_MONOTONIC nanoseconds (pb::mono_ns()).
    bool wait(pb::loadgen::Timeline& out) const;
    void set(const pb::loadgen::Timeline& t);
    void end();  // the load is over: wake every waiter

private:
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::optional<pb::loadgen::Timeline> timeline_;
    bool ended_ = false;
};

// What a claims experiment (bench/experiments.hpp) adds to an ordinary load case.
// Every member may be empty.
struct CaseHooks {
    // Adjusts the loadgen's settings after the case's own (port and CPUs set).
    std::function<void(pb::loadgen::Config&)> loadgen;
    // Runs on a thread of its own from just before the load starts until the
    // load ends (it is joined then): signal the server, probe it, time it.
    std::function<void(ServerChild&, const LoadWindow&)> during;
    // After the counters: add counters and fill the case document's
    // "experiment" object (an empty JSON object on entry).
    std::function<void(const Measured&, const Accounted&,
                       std::vector<std::pair<std::string, double>>& counters,
                       pb::loadgen::Json& experiment)>
        finish;
};

// A claims case runs its experiment's way (experiments.hpp); every other case
// runs the steps above with no hooks.
Outcome run_case(const CaseSpec& spec, const RunnerOptions& options);
Outcome run_case(const CaseSpec& spec, const RunnerOptions& options, const CaseHooks& hooks);

// The server's command line for `spec`: the common flags, the placement's or
// the case's --threads, then the case's server_args.
std::vector<std::string> server_argv(const CaseSpec& spec, const RunnerOptions& options,
                                     const std::string& stats_path);

// An external server's shell line: COMMAND with {port}, {cpus} (the server CPUs,
// "1" or "0-3") and {threads} (the placement's loop_threads) filled in.
std::string external_command_line(const CaseSpec& spec, const RunnerOptions& options,
                                  uint16_t port);

// The --threads the harness gives `pattern`'s server: loop_threads or
// worker_threads by its threads in servers/patterns.txt; none for a single
// thread, a thread per connection, or a pattern not listed.
std::optional<unsigned> server_threads(const std::string& pattern, const Placement& placement);

// Jain's fairness index (sum x)^2 / (n sum x^2) and max/min (infinite when an
// idle thread is among them); both over the threads whose role does that work.
double jain_index(const std::vector<double>& xs);
double max_min_ratio(const std::vector<double>& xs);

// The loadgen verdict as a number for Google Benchmark's counters: 0 ok,
// 1 server-saturated, 2 generator-late, 3 generator-busy.
int verdict_code(const std::string& kind);

}  // namespace pb::bench
