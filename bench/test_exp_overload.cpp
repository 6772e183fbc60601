// The "overload" experiment at small scale: a thread per connection follows the
// clients while the worker pool does not, --max-threads bounds the threads and
// refuses the rest, and the probe times newcomers.
#include <chrono>

#include "exp_test_support.hpp"

namespace pb::bench {
namespace {

using std::chrono::milliseconds;
using namespace exptest;

constexpr int kConnections = 512;
constexpr unsigned kPool = 8;  // the placement's worker_threads
// The main thread, the snapshot signal's and the like: a server's own threads
// beyond its connection threads or its pool.
constexpr double kOwnThreads = 4;

CaseSpec small(const std::string& pattern, const std::string& variant_prefix, int connections) {
    CaseSpec c = claims_case([&](const CaseSpec& s) {
        return s.experiment == "overload" && s.pattern == pattern &&
               s.variant.rfind(variant_prefix, 0) == 0;
    });
    c.connections = connections;
    c.warmup = milliseconds(100);
    c.duration = milliseconds(300);
    return c;
}

Outcome run(const CaseSpec& spec) {
    RunnerOptions o = runner_options();
    o.placement.worker_threads = kPool;
    Outcome out = run_case(spec, o);
    INFO(spec.name() << ": " << out.error << out.warning);
    REQUIRE(out.ok);
    return out;
}

TEST_CASE("overload: a thread per idle connection, a fixed pool for worker-queue",
          "[experiments]") {
    Outcome tpc = run(small("thread-per-conn", "idle", kConnections));
    CHECK(counter(tpc, "connections_up") == kConnections);
    CHECK(counter(tpc, "peak_threads") >= kConnections);
    Outcome wq = run(small("worker-queue", "idle", kConnections));
    CHECK(counter(wq, "connections_up") == kConnections);
    CHECK(counter(wq, "peak_threads") <= kPool + kOwnThreads);
    // The thread stacks the connections cost show in the server's memory.
    CHECK(counter(tpc, "peak_rss_kb") > counter(wq, "peak_rss_kb"));
}

TEST_CASE("overload: --max-threads bounds the threads and refuses the rest", "[experiments]") {
    constexpr int kBound = 128;
    CaseSpec spec = small("thread-per-conn", "idle-max", kConnections);
    spec.server_args = {"--max-threads", std::to_string(kBound)};
    Outcome out = run(spec);
    CHECK(counter(out, "peak_threads") <= kBound + kOwnThreads);
    CHECK(counter(out, "connections_up") <= kBound);
    CHECK(counter(out, "refused") >= kConnections - kBound);
    CHECK(counter(out, "thread_cap_closes") >= kConnections - kBound);
    // A newcomer at the bound is closed, never served.
    CHECK(counter(out, "probe_refused") >= 3);
    CHECK(counter(out, "probes") == 0);
}

TEST_CASE("overload: the probe times newcomers while the server is busy", "[experiments]") {
    CaseSpec spec = small("thread-per-conn", "busy", 64);
    Outcome out = run(spec);
    CHECK(counter(out, "probes") >= 5);
    CHECK(counter(out, "probe_p50_us") > 0);
    CHECK(counter(out, "probe_max_us") >= counter(out, "probe_p99_us"));
    CHECK(counter(out, "probe_p99_us") >= counter(out, "probe_p50_us"));
    CHECK(counter(out, "peak_threads") >= 64);
}

}  // namespace
}  // namespace pb::bench
