// The load generator's start barrier: every connection makes one verified
// round trip before the window opens, so a slow acceptor cannot shrink the
// window's connections or stretch its first latencies, and connections that
// never come up are left out, not counted as errors. Every run is short and
// bounded.
#include <catch2/catch.hpp>

#include <string>
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
