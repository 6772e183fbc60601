// The record of a run: what was asked (Config), what happened (RunStats), and the
// verdicts derived from them. It round-trips through the versioned JSON schema of
// loadgen/README.md, and records from several processes or hosts merge exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "json.hpp"
#include "run_stats.hpp"

namespace pb::loadgen {

inline constexpr const char* kSchemaName = "patternbench-loadgen";
// Version 3: histogram buckets in nanoseconds ("unit": "ns"); the *_us values
// are fractional microseconds. Versions 1 and 2 have whole-microsecond buckets.
inline constexpr int kSchemaVersion = 3;
inline constexpr int kOldestSchemaVersion = 1;  // from_json reads 1, 2 and 3

struct HostInfo {
    std::string hostname;
    std::string kernel;  // uname -sr
    std::string cpu_model;
    int cpus = 0;  // online
    static HostInfo current();
};

// The run's timeline in std::chrono::steady_clock nanoseconds (since its epoch),
// fixed when the start barrier releases and shared read-only by all threads.
struct Timeline {
    int64_t start = 0;          // load begins (warm-up, if any)
    int64_t measure_start = 0;  // recording begins
    int64_t measure_end = 0;    // no request is sent from here on
    int64_t drain_end = 0;      // requests still in flight now have timed out
};

// The start barrier (keep-alive modes): one verified round trip per connection
// before the timeline starts.
struct Bringup {
    int connections = 0;   // that were to come up (summed on merge)
    int up = 0;            // that did; the run used only these
    double seconds = 0.0;  // first connect to the barrier's release (the longest, merged)
    bool complete() const { return up == connections; }
};

enum class VerdictKind {
    // Numbered as the bench's verdict_code.
    kOk = 0,
    kServerSaturated = 1,  // open loop: achieved < 99% of the plan, sends on time
    kGeneratorLate = 2,    // open loop: p99 send lateness over --max-lateness
    kGeneratorBusy = 3,    // a generator thread busy over 90% of the window
};
const char* to_string(VerdictKind k);  // "ok", "server-saturated", ...

struct Verdict {
    VerdictKind kind = VerdictKind::kOk;
    std::string reason;  // empty when ok; else the finding, then any others after "; "
    bool ok() const { return kind == VerdictKind::kOk; }
};

// A generator thread busier than this share of the window may have set the pace.
inline constexpr double kGeneratorBoundBusy = 0.90;

struct Result {
    Config config;
    int threads = 0;              // threads actually used (threads clamped to connections)
    double duration_s = 0.0;      // the measured window
    double target_rps = 0.0;      // open loop: the plan's rate (summed on merge); 0: closed
    std::string started_at;       // UTC, ISO 8601
    std::vector<HostInfo> hosts;  // one per merged run
    int runs = 1;                 // how many runs this record merges
    RunStats stats;
    std::optional<Bringup> bringup;  // none with --connect-per-request (no barrier)
    Timeline timeline;               // as planned (not in the JSON; zero after from_json)
    // CLOCK_REALTIME seconds since the epoch at which the first thread opened its
    // measured window (the earliest one, merged); unset in records older than it.
    std::optional<double> window_start;

    bool open_loop() const { return target_rps > 0.0; }
    // Verified replies that arrived inside the window, per second (wrk's figure).
    double throughput_rps() const;
    // Open loop: the plan's requests of the window that were sent and answered,
    // per second; what the keep-up verdict compares with target_rps.
    double achieved_rps() const;
    bool has_errors() const { return stats.errors.total() > 0; }
    // Whose numbers these are. Precedence: generator-busy (any loop), then
    // generator-late, then server-saturated (open loop only); else ok.
    Verdict verdict() const;
    // The busiest generator thread was busy over kGeneratorBoundBusy of the window.
    bool generator_bound() const { return stats.max_thread_busy > kGeneratorBoundBusy; }
    // Open loop: the verdict is not ok (closed loop: always false). `reason` is
    // the verdict's.
    bool could_not_keep_up(std::string* reason = nullptr) const;
};

Json to_json_value(const Result& result);
std::string to_json(const Result& result);
// Reads schema versions 1, 2 and 3 (a version-1 record has no bringup and no
// receive delay; versions 1 and 2 hold microsecond buckets, read into the
// nanosecond histograms as value * 1000). Throws std::runtime_error on malformed
// input or another version.
Result from_json(const std::string& text);

// Runs that ran at the same time (several generator processes or hosts against
// one server): histograms and counts add exactly, the window is the longest one,
// throughput is the total over that window. Config comes from the first.
Result merge(const std::vector<Result>& results);

// The wrk-like human summary.
std::string format_summary(const Result& result);

// Latency object {count, min, p50 ... p99.999, max, mean, stdev, histogram}: the
// summary values in (fractional) microseconds, the histogram object's buckets in
// its "unit" ("ns" when written; "us" in records of schema 1 and 2, which reads
// as value * 1000 ns).
Json histogram_json(const Histogram& h);
Histogram histogram_from_json(const Json& j);

}  // namespace pb::loadgen
