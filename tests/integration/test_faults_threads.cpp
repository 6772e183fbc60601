// Fault tests for the two patterns with a thread resource to exhaust:
// thread-per-conn when pthread_create fails and at its
// --max-threads cap; worker-queue with slow workers, more clients than
// workers plus queue slots, a connection cap, and SIGTERM with the queue full.
#include <signal.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "client.hpp"
#include "server_process.hpp"
#include "test_faults_support.hpp"

using namespace pbtest;
using namespace pbtest::faults;

namespace {

// Threads of a server at rest: after one connection came and went, so a
// runtime thread started lazily (TSan has one) is already counted.
size_t resting_threads(const ServerProcess& server) {
    CHECK(serves_frame(server.port(), 1));
    return settled([&] { return server.threads(); });
}

}  // namespace

TEST_CASE("thread-per-conn: injected pthread_create failures close only their connections",
          "[faults][threaded]") {
    TempPath stats_path;
    ServerProcess server("server-thread-per-conn",
                         {"--fail-thread-create-every", "3", "--stats-file", stats_path.str()});
    FaultRun run("thread_create_failure", server);
    size_t base = resting_threads(server);  // used creation 1

    // Connections 1..12 are thread creations 2..13: every third one fails.
    std::vector<pb::UniqueFd> served;
    int failed = 0;
    for (uint64_t k = 1; k <= 12; ++k) {
        auto fd = connect_local(server.port());
        bool should_fail = (k + 1) % 3 == 0;
        INFO("connection " << k);
        Outcome o = ask(fd.get(), 100 + k, 64, 0, 2s);
        CHECK(o == (should_fail ? Outcome::kRefused : Outcome::kAnswered));
        if (o == Outcome::kAnswered) served.push_back(std::move(fd));
        failed += o == Outcome::kRefused;
        run.tried();
    }
    CHECK(failed == 4);
    CHECK(eventually([&] { return server.threads() == base + served.size(); }, 2s));
    // The failures cost the others nothing: every thread still serves.
    for (size_t i = 0; i < served.size(); ++i) CHECK(round_trip(served[i].get(), 200 + i));
    served.clear();
    CHECK(eventually([&] { return server.threads() == base; }, 3s));
    run.stop(server);

    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    CHECK(stats.total("thread_create") == 4);
    CHECK(stats.total("requests") == 1 + 8 + 8);
}

TEST_CASE("thread-per-conn: --max-threads holds under a burst, the rest are closed cleanly",
          "[faults][threaded]") {
    constexpr size_t kCap = 16;
    constexpr int kClients = 64;
    TempPath stats_path;
    ServerProcess server("server-thread-per-conn",
                         {"--max-threads", std::to_string(kCap), "--stats-file", stats_path.str()});
    size_t base = resting_threads(server);
    FaultRun run("thread_cap", server);

    // Everyone at once, each request busy for 300 ms so the cap stays full.
    std::vector<Outcome> outcomes(kClients);
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
        clients.emplace_back([&, c] {
            auto fd = connect_local(server.port());
            outcomes[size_t(c)] = ask(fd.get(), uint64_t(c), 100, 300'000);
        });
    }
    for (auto& t : clients) t.join();
    run.tried(kClients);
    int answered = 0, refused = 0, broken = 0;
    for (Outcome o : outcomes) {
        answered += o == Outcome::kAnswered;
        refused += o == Outcome::kRefused;
        broken += o == Outcome::kBroken;
    }
    INFO(answered << " answered, " << refused << " refused, " << broken << " broken; peak "
                  << run.peaks().threads() << " threads over " << base << " at rest");
    CHECK(broken == 0);
    CHECK(answered >= int(kCap));
    CHECK(answered + refused == kClients);
    CHECK(run.peaks().threads() <= base + kCap);
    CHECK(serves_frame(server.port(), 999));
    run.stop(server);

    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    CHECK(stats.total("thread_cap") == refused);
    CHECK(stats.peak_threads() <= int64_t(base + kCap));
}

TEST_CASE("worker-queue: slow workers, more clients than workers + queue, a connection cap",
          "[faults][threaded]") {
    constexpr int kClients = 40;
    constexpr int kCap = 30;
    constexpr int kDepth = 4;
    constexpr int kPipelined = 3;
    TempPath stats_path;
    ServerProcess server(
        "server-worker-queue",
        {"--threads", "2", "--queue-depth", std::to_string(kDepth), "--max-connections",
         std::to_string(kCap), "--stats-file", stats_path.str()});
    FaultRun run("worker_queue_full", server);

    // Connected one after another, so the server accepts them in order and
    // the ten past --max-connections are the last ten: closed at once.
    std::vector<pb::UniqueFd> conns;
    for (int c = 0; c < kClients; ++c) conns.push_back(connect_local(server.port()));
    std::this_thread::sleep_for(200ms);
    int refused = 0;
    for (int c = 0; c < kClients; ++c) {
        bool closed = wait_closed(conns[size_t(c)].get(), 1ms);
        CHECK(closed == (c >= kCap));
        refused += closed;
    }
    // Everyone else pipelines three slow requests: 90 requests, 2 workers, 4 slots.
    for (int c = 0; c < kCap; ++c) {
        std::string batch;
        for (int i = 0; i < kPipelined; ++i)
            batch += frame_request({.id = uint64_t(c * 10 + i),
                                    .body_len = uint32_t(c),
                                    .reply_len = uint32_t(100 + c + i),
                                    .sleep_us = 10'000});
        send_all(conns[size_t(c)].get(), batch);
    }
    int answered = 0;
    for (int c = 0; c < kCap; ++c) {
        for (int i = 0; i < kPipelined; ++i) {
            auto problem = read_verified_reply(conns[size_t(c)].get(), uint64_t(c * 10 + i),
                                               uint32_t(100 + c + i));
            INFO("client " << c << " request " << i << ": " << problem.value_or(""));
            CHECK_FALSE(problem.has_value());
            answered += !problem;
        }
    }
    run.tried(kClients);
    CHECK(answered == kCap * kPipelined);
    CHECK(refused == kClients - kCap);
    conns.clear();
    run.stop(server);

    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    CHECK(stats.total("queue_high_water") <= kDepth);
    CHECK(stats.total("queue_high_water") == kDepth);  // it did fill
    CHECK(stats.total("requests") == kCap * kPipelined);
    CHECK(stats.total("connection_cap") == kClients - kCap);
    record_figure("worker_queue_full", "server-worker-queue", "queue_high_water",
                  double(stats.total("queue_high_water")));
}

TEST_CASE("worker-queue: SIGTERM with the queue full answers everyone, exits 0 without deadlock",
          "[faults][threaded]") {
    constexpr int kClients = 40;
    TempPath stats_path;
    ServerProcess server("server-worker-queue", {"--threads", "2", "--queue-depth", "4",
                                                 "--stats-file", stats_path.str()});
    FaultRun run("worker_queue_sigterm", server);
    std::vector<pb::UniqueFd> conns;
    for (int c = 0; c < kClients; ++c) conns.push_back(connect_local(server.port()));
    for (int c = 0; c < kClients; ++c)
        send_all(conns[size_t(c)].get(),
                 frame_request({.id = uint64_t(c), .reply_len = 1000, .sleep_us = 30'000}));
    // 40 x 30 ms on 2 workers is 600 ms of work: the queue is full and most
    // requests are parsed and waiting for room when the signal comes.
    std::this_thread::sleep_for(60ms);
    auto signalled = Clock::now();
    ::kill(server.pid(), SIGTERM);
    uint64_t lost = 0;
    for (int c = 0; c < kClients; ++c) {
        auto problem = read_verified_reply(conns[size_t(c)].get(), uint64_t(c), 1000, 5s);
        INFO("client " << c << ": " << problem.value_or(""));
        CHECK_FALSE(problem.has_value());
        if (problem) lost += 1000;
        CHECK(wait_closed(conns[size_t(c)].get(), 2s));
    }
    int code = server.wait(kSlow * 3s);
    auto took = Clock::now() - signalled;
    INFO("exit " << code << " after "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    record_figure("worker_queue_sigterm", "server-worker-queue", "exit_ms",
                  double(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    run.tried(kClients);
    run.lost(lost);
    run.finish(server, code);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    CHECK(stats.total("requests") == kClients);
    CHECK(stats.total("queue_high_water") == 4);
}
