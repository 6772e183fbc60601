// The benchmark matrix: what each case is, what it is called, and which cases
// each profile runs. Names and ids are part of the results contract
// (results/README.md): tools/compare matches cases across runs by name, so a
// case must keep its name from one run to the next.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"

namespace pb::bench {

enum class Kind { kMatrix, kSweep, kBaseline, kNagle, kNagleUpside, kClaims, kScaling };
const char* to_string(Kind kind);

using Duration = std::chrono::nanoseconds;

struct CaseSpec {
    Kind kind = Kind::kMatrix;
    std::string pattern;   // "single", ..., "reactor-pool", or "pingpong" for the baseline
    std::string protocol;  // "frame" | "http"
    std::string workload;  // "tiny", "cpu", "blocking-tail", "churn", "idle-heavy", "nagle", ...
    int connections = 1;
    double offered_rps = 0;  // sweep and idle-heavy: the open-loop rate; 0: closed loop

    // TCP knobs (the Nagle matrix varies them; every other case uses the defaults).
    bool client_nodelay = true;
    bool server_nodelay = true;
    loadgen::WriteMode write_mode = loadgen::WriteMode::kSingle;
    bool quickack = false;

    Duration warmup{};
    Duration duration{};

    // Claims experiments (Kind::kClaims, bench/experiments.hpp): which one, the
    // point of it this case measures (part of the name: "exclusive-t8"), flags
    // appended to the server's command line, and a --threads that replaces the
    // placement's (0: the placement's).
    std::string experiment;
    std::string variant;
    std::vector<std::string> server_args;
    unsigned threads = 0;

    // The scaling profile (Kind::kScaling): the server runs on the first this
    // many of the placement's server CPUs, with one loop per CPU (0: all of them,
    // the placement's threads).
    unsigned server_cpus = 0;

    // An external server (--external NAME=COMMAND, bench/README.md "External
    // servers"): `pattern` is its NAME, this its COMMAND with the {port}, {cpus} and
    // {threads} placeholders still in. Empty: one of the project's servers.
    std::string external_command;
    // The profile's workloads it does not run, each with the reason (external_cases()).
    std::vector<std::pair<std::string, std::string>> external_skipped;
    bool external() const { return !external_command.empty(); }

    std::string name() const;  // Google Benchmark name, e.g. "matrix/single/frame/tiny/c64"
    std::string id() const;    // file-system safe, e.g. "matrix-single-frame-tiny-c64"
    // The load generator's settings for this case, target port not yet known.
    loadgen::Config loadgen_config() const;
    // What the case should take, server start and stop included, for the ETA.
    double planned_seconds() const;
};

// Profiles: "quick" (CI smoke test, about a minute), "default" (under 10 minutes
// on 2 CPUs), "full" (longer runs, both protocols, more points), "nagle"
// (make bench-nagle), "claims" (the experiments of bench/experiments.hpp),
// "scaling" (scaling_cases() for this machine's default placement). `duration_override` > 0
// replaces every case's duration. Throws std::invalid_argument for an unknown profile.
std::vector<CaseSpec> profile_cases(const std::string& profile, Duration duration_override);
const std::vector<std::string>& profile_names();

// The scaling profile on a server of up to `max_server_cpus` CPUs: every pattern
// that serves connections concurrently at 1, 2, 4, ... server CPUs (and at
// max_server_cpus itself), under tiny and churn at 256 connections and cpu at 64.
std::vector<CaseSpec> scaling_cases(size_t max_server_cpus);
inline constexpr int kScalingConnections = 256;
inline constexpr int kScalingCpuConnections = 64;

// One --external NAME=COMMAND. Throws std::invalid_argument when NAME is not a
// plain name ([a-z0-9._-]), is a pattern's, or COMMAND has no {port}.
struct ExternalServer {
    std::string name;
    std::string command;
};
ExternalServer parse_external(const std::string& text);

// What an external server can serve: HTTP GET / answered with 200. It runs the
// profile's matrix cases of the workloads that need nothing else (kExternalWorkloads),
// once per workload and connection count, in HTTP; `skipped` receives every other
// workload the profile runs, each with the reason.
inline constexpr const char* kExternalWorkloads[] = {"tiny", "churn", "idle-heavy"};
std::vector<CaseSpec> external_cases(const std::vector<CaseSpec>& profile,
                                     const ExternalServer& server,
                                     std::vector<std::pair<std::string, std::string>>* skipped);
// Repetitions of every case when --repetitions is not given: quick 1, default 4
// (with 3, two runs of one identical machine give ranges that do not overlap
// for 2 / C(6,3) = 10% of cases by chance alone; with 4, 2 / C(8,4) = 2.9%),
// full and nagle 3.
int default_repetitions(const std::string& profile);

// Workload parameters, named once so the README and the code agree.
inline constexpr uint32_t kTinyBytes = 64;  // request and reply body
inline constexpr uint32_t kCpuSpinUs = 50;
inline constexpr double kSlowFraction = 0.005;    // blocking-tail: share of sleepers...
inline constexpr uint32_t kSlowSleepUs = 10'000;  // ...and how long each sleeps
inline constexpr int kIdleHeavyConnections = 1024;
inline constexpr double kIdleHeavyRps = 2000;
// The start barrier's bound for a pattern that serves one connection at a
// time (servers/patterns.txt "serial"): the keep-alive clients it never gets
// to are the finding, not a failure to wait 10 s for.
inline constexpr Duration kSerialBringup = std::chrono::milliseconds(1000);
// Nagle: a 10-byte write then a 100-byte write (32-byte frame header + 78-byte
// body, split after 10 bytes) and a 50-byte reply (16-byte header + 34 bytes).
inline constexpr uint32_t kNagleBody = 78;
inline constexpr uint32_t kNagleSplitAt = 10;
inline constexpr uint32_t kNagleReplyBody = 34;
inline constexpr int kNagleConnections = 8;
inline constexpr uint32_t kStallUs = 30'000;
// Nagle's upside: one request of 50 writes of 20 bytes (32-byte header + 968-byte
// body), streamed with up to 256 requests unanswered. Measured here: with one
// request at a time every request under Nagle waits for the server's delayed ACK
// (that is the split-write stall of the main matrix, not an upside), and with 16
// the whole batch still does; a stream that keeps the server replying keeps the
// ACKs coming, and then Nagle's coalescing shows: 50x fewer segments.
inline constexpr int kUpsideWrites = 50;
inline constexpr int kUpsideWriteBytes = 20;
inline constexpr int kUpsidePipeline = 256;

}  // namespace pb::bench
