// The load generator's open loop against a real server: latency is measured
// from each request's intended send time, so a server frozen for a second
// shows in the corrected p99 and not in the uncorrected one; requests the plan
// never got to send are in the corrected histogram; and a plan the server
// cannot serve is flagged, its backlog not counted as throughput.
#include <signal.h>

#include <catch2/catch.hpp>

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "loadgen.hpp"
#include "loadgen_test_support.hpp"
#include "server_process.hpp"

using namespace std::chrono_literals;
namespace lg = pb::loadgen;
using namespace pbtest::loadgen_test;

namespace {

// Runs the generator (as run_loadgen) against a fresh server-single (frame)
// that is frozen with SIGSTOP from 1 s after the start for 1 s, then stops the
// server cleanly.
lg::Result run_across_a_freeze(std::vector<std::string> args) {
    pbtest::ServerProcess server("server-single", {"--protocol", "frame"});
    auto pending = std::async(std::launch::async, [&] { return run_loadgen(server.port(), args); });
    std::this_thread::sleep_for(1s);
    ::kill(server.pid(), SIGSTOP);
    std::this_thread::sleep_for(1s);
    ::kill(server.pid(), SIGCONT);
    lg::Result r = pending.get();
    pbtest::stop_cleanly(server);
    return r;
}

}  // namespace

TEST_CASE("open loop: a server frozen for 1 s shows in the corrected p99",
          "[integration][loadgen]") {
    lg::Result r = run_across_a_freeze({"-c", "4", "-R", "1000", "-d", "3s", "--timeout", "5s"});
    INFO(describe(r));
    CHECK(r.stats.errors.total() == 0);
    CHECK(r.stats.requests >= 2900);
    // Every request the plan wanted sent during the freeze waited for it.
    CHECK(r.stats.latency.value_at_percentile(99) >= 900'000 * lg::kNsPerUs);
    // Measured from the actual write, the freeze is a few slow requests only.
    CHECK(r.stats.uncorrected_latency.value_at_percentile(90) < 100'000 * lg::kNsPerUs);
}

TEST_CASE("open loop: a plan the server cannot serve is flagged, the backlog does not count",
          "[integration][loadgen]") {
    pbtest::ServerProcess server("server-single", {"--protocol", "frame"});
    // server-single sleeping 1 ms per request serves under 1000 req/s in all.
    auto r = run_loadgen(server.port(), {"-c", "4", "-R", "2000", "-d", "1s", "--sleep-us", "1000",
                                         "--timeout", "3s"});
    INFO(describe(r));
    std::string reason;
    CHECK(r.could_not_keep_up(&reason));
    CHECK(reason.find("achieved") != std::string::npos);
    CHECK(r.throughput_rps() < 1100);
    CHECK(lg::to_json_value(r).at("open_loop").at("could_not_keep_up").as_bool());
    CHECK(lg::format_summary(r).find("COULD NOT KEEP UP") != std::string::npos);
    pbtest::stop_cleanly(server);
}

TEST_CASE("open loop: planned requests never sent are in the corrected histogram",
          "[integration][loadgen]") {
    // The server freezes for the last third of the 1.5 s window and 0.5 s past
    // it: the plan wants 1000 req/s, 4 connections at --pipeline 1 can have 4
    // in flight, so most of what is due during the freeze is never sent.
    lg::Result r =
        run_across_a_freeze({"-c", "4", "-R", "1000", "-d", "1500ms", "--timeout", "5s"});
    INFO(describe(r));
    const auto& s = r.stats;
    CHECK(s.errors.total() == 0);
    CHECK(s.dropped == 0);
    CHECK(s.unsent > 100);
    // The identity the record guarantees: every measured request answered, and
    // every planned one never sent, is in the corrected histogram exactly once.
    CHECK(s.latency.count() == static_cast<int64_t>(s.requests + s.unsent));
    CHECK(s.uncorrected_latency.count() == static_cast<int64_t>(s.requests));
    // And the plan is accounted for: 1500 due in the window (to a request per
    // connection at the window's edges).
    CHECK(s.sent + s.unsent >= 1496);
    CHECK(s.sent + s.unsent <= 1504);
    // The unsent waited from their intended time (0.0-0.5 s before the window's
    // end) until the drain ended (after the server resumed, 0.5 s past the end).
    CHECK(s.latency.max() >= 400'000 * lg::kNsPerUs);
    auto j = lg::to_json_value(r);
    CHECK(j.at("open_loop").at("unsent_recorded").as_bool());
    CHECK(j.at("open_loop").at("unsent").as_int() == static_cast<int64_t>(s.unsent));
}
