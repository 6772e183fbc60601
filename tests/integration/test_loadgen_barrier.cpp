// The load generator's start barrier (every connection makes one verified round
// trip before the window opens), the planned requests an open loop never sent,
// the generator receive delay, and --busy-poll. Every run is short and bounded.
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

TEST_CASE("start barrier: thread-per-conn at 256 connections runs with all of them",
          "[integration][loadgen][threaded]") {
    // The kernel completes every handshake before accept(); the single acceptor
    // competes with the busy connection threads and reaches the last connections
    // late. Without the barrier the window ran with fewer connections (and their
    // first requests timed out).
    pbtest::ServerProcess server("server-thread-per-conn", {"--protocol", "frame"},
                                 {.rlimit_nofile = 4096});
    auto r = run_loadgen(server.port(), {"-c", "256", "-t", "2", "-d", "500ms", "--warmup", "100ms",
                                         "--bringup-timeout", "20s"});
    INFO(describe(r));
    REQUIRE(r.bringup.has_value());
    CHECK(r.bringup->connections == 256);
    CHECK(r.bringup->up == 256);
    CHECK(r.bringup->complete());
    CHECK(r.stats.errors.total() == 0);
    CHECK(r.stats.connects == 256);
    CHECK(r.stats.tcp.connections == 256);
    auto j = lg::to_json_value(r);
    CHECK(j.at("bringup").at("up").as_int() == 256);
    CHECK(j.at("bringup").at("complete").as_bool());
    CHECK(lg::format_summary(r).find("256 of 256 connections up") != std::string::npos);
    pbtest::stop_cleanly(server);
}

TEST_CASE("start barrier: the window starts after the acceptor reached every connection",
          "[loadgen]") {
    // The acceptor takes 2 connections, then stalls for 600 ms before the other 2.
    // Without the barrier the window opened at once and the stalled connections'
    // first measured requests waited the 600 ms (or the window ran without them).
    FaultyFrameServer server(FaultyFrameServer::Fault::kNone, 10,
                             {.pause_after = 2, .pause = 600ms});
    auto r = run_loadgen(server.port(), {"-c", "4", "-t", "2", "-d", "300ms"});
    INFO(describe(r));
    REQUIRE(r.bringup.has_value());
    CHECK(r.bringup->up == 4);
    CHECK(r.bringup->seconds >= 0.55);
    CHECK(r.stats.errors.total() == 0);
    CHECK(r.stats.latency.max() < 300'000 * lg::kNsPerUs);
    CHECK(r.stats.tcp.connections == 4);
}

TEST_CASE("start barrier: connections that never come up are left out, not errors", "[loadgen]") {
    for (bool open : {false, true}) {
        // Accepts 2 of 4 connections: the other 2 complete their handshake in the
        // backlog and are never answered.
        FaultyFrameServer server(FaultyFrameServer::Fault::kNone, 10, {.limit = 2});
        std::vector<std::string> args{"-c",   "4", "-t", "2", "-d", "400ms", "--bringup-timeout",
                                      "300ms"};
        if (open) args.insert(args.end(), {"-R", "400"});
        auto r = run_loadgen(server.port(), args);
        INFO(describe(r));
        REQUIRE(r.bringup.has_value());
        CHECK(r.bringup->connections == 4);
        CHECK(r.bringup->up == 2);
        CHECK_FALSE(r.bringup->complete());
        CHECK(r.bringup->seconds >= 0.29);
        CHECK(r.stats.errors.total() == 0);  // not reply timeouts
        CHECK(r.stats.requests > 0);
        if (open) {
            // The plan is spread over the connections that came up.
            CHECK(r.achieved_rps() == Approx(400).epsilon(0.1));
            CHECK(r.stats.unsent == 0);
        }
        CHECK_FALSE(lg::to_json_value(r).at("bringup").at("complete").as_bool());
        CHECK(lg::format_summary(r).find("2 of 4 connections up") != std::string::npos);
    }
    // Connect-per-request has no barrier.
    FaultyFrameServer server(FaultyFrameServer::Fault::kNone);
    auto churn = run_loadgen(server.port(), {"-c", "1", "-d", "100ms", "--connect-per-request"});
    CHECK_FALSE(churn.bringup.has_value());
    CHECK(lg::to_json_value(churn).at("bringup").is_null());
}

TEST_CASE("open loop: planned requests never sent are in the corrected histogram",
          "[integration][loadgen]") {
    pbtest::ServerProcess server("server-single", {"--protocol", "frame"});
    // The server freezes for the last third of the 1.5 s window and 0.5 s past
    // it: the plan wants 1000 req/s, 4 connections at --pipeline 1 can have 4
    // in flight, so most of what is due during the freeze is never sent.
    auto pending = std::async(std::launch::async, [&] {
        return run_loadgen(server.port(),
                           {"-c", "4", "-R", "1000", "-d", "1500ms", "--timeout", "5s"});
    });
    std::this_thread::sleep_for(1s);
    ::kill(server.pid(), SIGSTOP);
    std::this_thread::sleep_for(1s);
    ::kill(server.pid(), SIGCONT);
    lg::Result r = pending.get();
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
    pbtest::stop_cleanly(server);
}

TEST_CASE("generator receive delay: kernel stamp to read, below the round trip",
          "[integration][loadgen]") {
    pbtest::ServerProcess server("server-single", {"--protocol", "frame"});
    auto r = run_loadgen(server.port(), {"-c", "4", "-d", "500ms", "--sleep-us", "200"});
    INFO(describe(r));
    CHECK(r.stats.errors.total() == 0);
    REQUIRE_FALSE(r.stats.recv_delay.empty());
    CHECK(r.stats.recv_delay.count() == r.stats.latency.count());
    CHECK(r.stats.recv_delay.value_at_percentile(50) < r.stats.latency.value_at_percentile(50));
    CHECK(lg::to_json_value(r).at("generator").at("recv_delay_us").at("count").as_int() ==
          r.stats.recv_delay.count());
    CHECK(lg::format_summary(r).find("Generator receive delay") != std::string::npos);

    auto off = run_loadgen(server.port(), {"-c", "1", "-d", "200ms", "--no-recv-timestamps"});
    CHECK(off.stats.errors.total() == 0);
    CHECK(off.stats.recv_delay.empty());
    CHECK(lg::to_json_value(off).at("generator").at("recv_delay_us").is_null());
    pbtest::stop_cleanly(server);
}

TEST_CASE("busy polling (--busy-poll) runs clean and its spinning is not counted as busy",
          "[integration][loadgen]") {
    pbtest::ServerProcess server("server-single", {"--protocol", "frame"});
    auto closed = run_loadgen(server.port(), {"-c", "1", "-d", "400ms", "--busy-poll"});
    INFO(describe(closed));
    CHECK(closed.config.busy_poll);
    CHECK(closed.stats.errors.total() == 0);
    CHECK(closed.stats.requests > 100);
    auto open = run_loadgen(server.port(), {"-c", "2", "-d", "400ms", "-R", "1000", "--busy-poll"});
    INFO(describe(open));
    CHECK(open.stats.errors.total() == 0);
    CHECK(open.achieved_rps() == Approx(1000).epsilon(0.05));
    // It spins: 400 requests cost a sleeping generator about 4 ms of CPU, a
    // spinning one most of the window (at least a third of it even when two other
    // processes share its CPU)...
    CHECK(open.stats.generator_cpu_seconds > 0.05);
    // ...and the spinning is not counted as busy.
    CHECK_FALSE(open.generator_bound());
    CHECK(lg::to_json_value(open).at("config").at("busy_poll").as_bool());
    pbtest::stop_cleanly(server);
}
