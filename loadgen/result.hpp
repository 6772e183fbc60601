// The record of a run: what was asked (Config), what happened (RunStats), and the
// verdicts derived from them. It round-trips through the versioned JSON schema of
// loadgen/README.md, and records from several processes or hosts merge exactly.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"
#include "json.hpp"
#include "run_stats.hpp"

namespace pb::loadgen {

inline constexpr const char* kSchemaName = "patternbench-loadgen";
inline constexpr int kSchemaVersion = 1;

struct HostInfo {
    std::string hostname;
    std::string kernel;  // uname -sr
    std::string cpu_model;
    int cpus = 0;  // online
    static HostInfo current();
};

struct Result {
    Config config;
    int threads = 0;              // threads actually used (threads clamped to connections)
    double duration_s = 0.0;      // the measured window
    double target_rps = 0.0;      // open loop: the plan's rate (summed on merge); 0: closed
    std::string started_at;       // UTC, ISO 8601
    std::vector<HostInfo> hosts;  // one per merged run
    int runs = 1;                 // how many runs this record merges
    RunStats stats;

    bool open_loop() const { return target_rps > 0.0; }
    // Verified replies that arrived inside the window, per second (wrk's figure).
    double throughput_rps() const;
    // Open loop: the plan's requests of the window that were sent and answered,
    // per second; what the keep-up verdict compares with target_rps.
    double achieved_rps() const;
    bool has_errors() const { return stats.errors.total() > 0; }
    // Open loop: true when the achieved rate was under 99% of the plan or the
    // p99 send lateness exceeded config.max_lateness. `reason` says which.
    bool could_not_keep_up(std::string* reason = nullptr) const;
};

Json to_json_value(const Result& result);
std::string to_json(const Result& result);
// Throws std::runtime_error on malformed input or another schema version.
Result from_json(const std::string& text);

// Runs that ran at the same time (several generator processes or hosts against
// one server): histograms and counts add exactly, the window is the longest one,
// throughput is the total over that window. Config comes from the first.
Result merge(const std::vector<Result>& results);

// The wrk-like human summary.
std::string format_summary(const Result& result);

// Latency object {count, min, p50 ... p99.999, max, mean, stdev, histogram}.
Json histogram_json(const Histogram& h);
Histogram histogram_from_json(const Json& j);

}  // namespace pb::loadgen
