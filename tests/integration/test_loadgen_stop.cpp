// The load generator's stop flag (what SIGINT sets in the command): it ends
// the measuring window early, with a record of what ran, and it ends a start
// barrier that would otherwise wait for connections that never answer.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "loadgen.hpp"
#include "loadgen_test_support.hpp"
#include "socket.hpp"

using namespace std::chrono_literals;
namespace lg = pb::loadgen;
using namespace pbtest::loadgen_test;

namespace {

// Runs the generator against 127.0.0.1:`port` with `args` on another thread,
// raises its stop flag after `stop_after`, and requires it to return within
// `returns_within` of that.
lg::Result run_stopped(uint16_t port, std::vector<std::string> args,
                       std::chrono::milliseconds stop_after,
                       std::chrono::milliseconds returns_within) {
    std::atomic<bool> stop{false};
    args.insert(args.begin(), "127.0.0.1:" + std::to_string(port));
    auto pending =
        std::async(std::launch::async, [&] { return lg::run(lg::parse_args(args), &stop); });
    std::this_thread::sleep_for(stop_after);
    stop = true;
    REQUIRE(pending.wait_for(returns_within) == std::future_status::ready);
    return pending.get();
}

}  // namespace

TEST_CASE("a stop flag ends the window early and the record covers what ran", "[loadgen]") {
    FaultyFrameServer server(FaultyFrameServer::Fault::kNone);
    auto r = run_stopped(server.port(), {"-c", "2", "-d", "10s", "-R", "500"}, 400ms, 5s);
    INFO(describe(r));
    CHECK(r.duration_s > 0.2);
    CHECK(r.duration_s < 1.0);
    CHECK(r.stats.errors.total() == 0);
    CHECK(r.achieved_rps() == Approx(500).epsilon(0.1));
    CHECK(lg::format_summary(r).find("stopped after") != std::string::npos);
}

TEST_CASE("a stop flag also ends the start barrier", "[loadgen]") {
    // A listener that never accepts: handshakes complete, no reply ever comes.
    pb::UniqueFd listener = pb::listen_tcp({"127.0.0.1", 0, 16, false, false});
    uint16_t port = pb::local_port(listener.get());
    auto r = run_stopped(port, {"-c", "2", "-d", "10s", "--bringup-timeout", "20s"}, 200ms, 2s);
    INFO(describe(r));
    REQUIRE(r.bringup.has_value());
    CHECK(r.bringup->up == 0);
    CHECK(r.bringup->seconds < 1.0);
    CHECK(r.stats.errors.total() == 0);
    CHECK(r.stats.requests == 0);
}
