// server-worker-queue as its pattern claims: its queue fills to
// --queue-depth and never past it, the loop and the workers count their own
// work in --stats-file, and SIGTERM with a full queue answers every request.
#include <signal.h>

#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "patterns_support.hpp"
#include "server_process.hpp"
#include "temp_path.hpp"

using namespace pbtest;
using namespace pbtest::patterns;

TEST_CASE("server-worker-queue: the queue never passes --queue-depth", "[patterns][threaded]") {
    TempPath stats_path;
    ServerProcess server("server-worker-queue", {"--threads", "2", "--queue-depth", "3",
                                                 "--stats-file", stats_path.str()});
    // Twelve clients, two slow workers: most requests must wait for room.
    std::vector<pb::UniqueFd> conns;
    for (int i = 0; i < 12; ++i) conns.push_back(connect_local(server.port()));
    for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < conns.size(); ++i) {
            uint64_t id = round * 100 + i;
            auto request = frame_request({.id = id, .reply_len = 50, .sleep_us = 20'000});
            send_all(conns[i].get(), request);
        }
        for (size_t i = 0; i < conns.size(); ++i) {
            auto problem = read_verified_reply(conns[i].get(), round * 100 + i, 50);
            INFO(problem.value_or(""));
            CHECK_FALSE(problem.has_value());
        }
    }
    stop_cleanly(server);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    CHECK(stats.total.n["queue_high_water"] == 3);  // filled, never passed
    CHECK(stats.sum("requests") == 36);
    CHECK(stats.threads[0].role == "loop");
    for (size_t i = 1; i < stats.threads.size(); ++i) CHECK(stats.threads[i].role == "worker");
}

TEST_CASE("server-worker-queue: SIGTERM with a full queue answers every request",
          "[patterns][threaded]") {
    ServerProcess server("server-worker-queue", {"--threads", "1", "--queue-depth", "2"});
    std::vector<pb::UniqueFd> conns;
    for (int i = 0; i < 10; ++i) conns.push_back(connect_local(server.port()));
    for (size_t i = 0; i < conns.size(); ++i)
        send_all(conns[i].get(), frame_request({.id = i, .reply_len = 10, .sleep_us = 50'000}));
    std::this_thread::sleep_for(100ms);  // one running, two queued, the rest refused
    ::kill(server.pid(), SIGTERM);
    for (size_t i = 0; i < conns.size(); ++i) {
        auto problem = read_verified_reply(conns[i].get(), i, 10);
        INFO("client " << i << ": " << problem.value_or(""));
        CHECK_FALSE(problem.has_value());
        CHECK(wait_closed(conns[i].get()));
    }
    CHECK(server.wait(10s) == 0);
    CHECK_FALSE(server.sanitizer_report());
}
