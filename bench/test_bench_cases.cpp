// Integration tests of the harness: real server children, real load, run_case()
// end to end. Each checks that a number describes the server, not the harness.
#define CATCH_CONFIG_MAIN
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "case_runner.hpp"
#include "cases.hpp"
#include "json.hpp"
#include "window.hpp"

namespace pbb = pb::bench;
using pb::loadgen::Json;
using namespace std::chrono_literals;

namespace {

// Server on the last CPU, harness and generator on the first, as make bench does.
pbb::RunnerOptions runner_options() {
    pbb::RunnerOptions o;
    o.server_dir = PB_SERVER_DIR;
    o.pingpong_bin = PB_PINGPONG_BIN;
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    o.placement.client_cpus = {0};
    o.placement.server_cpus = {n > 1 ? static_cast<int>(n - 1) : 0};
    return o;
}

double counter(const pbb::Outcome& o, const std::string& name) {
    for (const auto& [k, v] : o.counters)
        if (k == name) return v;
    return NAN;
}

pbb::CaseSpec matrix_case(const std::string& pattern, const std::string& workload, int conns) {
    for (const auto& c : pbb::profile_cases("default", {}))
        if (c.kind == pbb::Kind::kMatrix && c.pattern == pattern && c.workload == workload &&
            c.protocol == "frame" && c.connections == conns)
            return c;
    FAIL("no such case in the default profile: " << pattern << " " << workload << " " << conns);
    return {};
}

void raise_fd_limit() {
    rlimit r{};
    ::getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
}

}  // namespace

// The old sampler walked /proc/<pid>/task/* for all 1025 threads of
// thread-per-conn at SCHED_FIFO on the generator's CPU, twice per window:
// 50-60 ms during which no request went out (send lateness max ~60 ms).
TEST_CASE("sampling a 1000-thread server does not stall the generator", "[bench_cases]") {
    raise_fd_limit();
    auto opts = runner_options();
    pbb::CaseSpec spec;
    for (const auto& c : pbb::profile_cases("default", {}))
        if (c.workload == "idle-heavy" && c.pattern == "thread-per-conn") spec = c;
    REQUIRE(spec.connections >= 1000);
    spec.warmup = 300ms;
    spec.duration = 1s;
    // A machine shared with other work can still preempt the generator for a
    // scheduler slice or two. A stall is explained when the generator's threads
    // waited on a run queue at least that long in the window (they were
    // runnable, and something else had the CPU): then the attempt is retried,
    // up to 3 times, and tolerated up to 20 ms. The old sampler's stall
    // (50-60 ms) is never tolerated.
    double lateness_max = 0, wait_ms = 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
        pbb::Outcome o = pbb::run_case(spec, opts);
        REQUIRE(o.ok);
        const Json& doc = o.document;
        lateness_max = doc.at("loadgen").at("open_loop").at("lateness_us").at("max").as_double();
        const Json& foreign = doc.at("measurement").at("foreign");
        wait_ms = foreign.at("generator_wait_s").as_double() * 1e3;
        CHECK(doc.at("server").at("window").at("source").as_string() == "server-snapshot");
        CHECK(doc.at("server").at("peak_threads").as_double() >= 1000);
        WARN("attempt " << attempt << ": lateness max " << lateness_max / 1e3
                        << " ms, generator run-queue wait " << wait_ms << " ms, foreign load "
                        << foreign.at("cpus").as_double() << " CPUs");
        if (lateness_max < 2000) break;
    }
    const bool explained = wait_ms >= lateness_max / 1e3 - 1.0;
    INFO("generator run-queue wait " << wait_ms << " ms");
    CHECK(lateness_max < (explained ? 20000 : 2000));
}

// The kernel completes a handshake before accept(): without a start barrier the
// window opened while thread-per-conn's acceptor was still reaching the last
// connections behind ~235 busy connection threads.
TEST_CASE("thread-per-conn at 256 connections has all 256 in the window", "[bench_cases]") {
    raise_fd_limit();
    auto opts = runner_options();
    auto spec = matrix_case("thread-per-conn", "tiny", 256);
    spec.warmup = 200ms;
    spec.duration = 1s;
    pbb::Outcome o = pbb::run_case(spec, opts);
    REQUIRE(o.ok);
    CHECK(counter(o, "errors") == 0);
    const Json& doc = o.document;
    CHECK(doc.at("measurement").at("connections_up").as_int() == 256);
    // peak_connections of the acceptor: connection threads alive at once.
    int64_t peak = 0;
    for (const auto& t : doc.at("server").at("stats").at("threads").as_array())
        peak = std::max(peak, t.at("peak_connections").as_int());
    CHECK(peak == 256);
}

TEST_CASE("thread-per-conn churn accounts threads that exit in the window", "[bench_cases]") {
    auto opts = runner_options();
    auto spec = matrix_case("thread-per-conn", "churn", 16);
    spec.warmup = 200ms;
    spec.duration = 1s;
    pbb::Outcome o = pbb::run_case(spec, opts);
    REQUIRE(o.ok);
    const Json& doc = o.document;
    const Json& win = doc.at("server").at("window");
    CHECK(win.at("source").as_string() == "server-snapshot");
    // Every request ran on a thread that no longer exists at the second snapshot;
    // their CPU and context switches are still there (getrusage, not /proc/task).
    CHECK(win.at("requests").as_double() > 100);
    CHECK(counter(o, "cpu_us_per_req") > 1);
    CHECK(counter(o, "vcsw_per_req") > 0);
    // One summed connection entry and one acceptor: no fairness figure.
    CHECK(std::isnan(counter(o, "jain_requests")));
    CHECK(std::isnan(counter(o, "jain_accepts")));
}

TEST_CASE("Nagle's upside reports its throughput and CPU per request", "[bench_cases]") {
    auto opts = runner_options();
    for (const auto& spec0 : pbb::profile_cases("nagle", {})) {
        if (spec0.kind != pbb::Kind::kNagleUpside) continue;
        auto spec = spec0;
        spec.warmup = 200ms;
        spec.duration = 500ms;
        pbb::Outcome o = pbb::run_case(spec, opts);
        REQUIRE(o.ok);
        INFO(spec.name());
        CHECK(counter(o, "rps") > 100);
        CHECK(counter(o, "cpu_us_per_req") > 0);
    }
}

TEST_CASE("the baseline is accounted from /proc and never signalled", "[bench_cases]") {
    auto opts = runner_options();
    for (const auto& spec0 : pbb::profile_cases("quick", {})) {
        if (spec0.kind != pbb::Kind::kBaseline) continue;
        auto spec = spec0;
        spec.duration = 500ms;
        pbb::Outcome o = pbb::run_case(spec, opts);
        REQUIRE(o.ok);
        const Json& doc = o.document;
        CHECK(doc.at("server").at("window").at("source").as_string() == "proc-stat");
        CHECK(doc.at("server").at("exit_status").as_int() == 128 + 15);  // SIGTERM, not SIGUSR1
        CHECK(counter(o, "rps") > 100);
    }
}
