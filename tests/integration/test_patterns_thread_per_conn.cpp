// server-thread-per-conn as its pattern claims, seen in /proc/<pid> and in
// --stats-file: threads follow connections up to --max-threads, a failed
// thread creation closes that connection only, and each connection thread
// keeps its own deadlines (header, idle, write) and half-close.
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "patterns_support.hpp"
#include "server_process.hpp"
#include "temp_path.hpp"

using namespace pbtest;
using namespace pbtest::patterns;

namespace {

// Polls until the server runs exactly `n` threads; returns the last count seen.
size_t wait_for_threads(const ServerProcess& server, size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t now = server.threads();
    while (now != n && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
        now = server.threads();
    }
    return now;
}

}  // namespace

TEST_CASE("server-thread-per-conn: threads follow connections up to --max-threads",
          "[patterns][threaded]") {
    TempPath stats_path;
    ServerProcess server("server-thread-per-conn",
                         {"--max-threads", "4", "--stats-file", stats_path.str()});
    // Let one connection come and go first, so any lazily started runtime
    // thread (TSan has one) is already counted in the baseline.
    {
        auto fd = connect_local(server.port());
        REQUIRE(round_trip(fd.get(), 1));
    }
    std::this_thread::sleep_for(100ms);
    size_t base = server.threads();
    REQUIRE(base >= 1);  // main (acceptor, also takes the signals); TSan adds its own

    std::vector<pb::UniqueFd> conns;
    for (uint64_t i = 0; i < 3; ++i) {
        conns.push_back(connect_local(server.port()));
        REQUIRE(round_trip(conns.back().get(), 10 + i));
    }
    CHECK(wait_for_threads(server, base + 3, 2s) == base + 3);

    // Three more: one fits under the cap, two are closed at once.
    int served = 0;
    int refused = 0;
    for (uint64_t i = 0; i < 3; ++i) {
        auto fd = connect_local(server.port());
        send_all(fd.get(), frame_request({.id = 20 + i, .body_len = 8, .reply_len = 8}));
        if (!read_verified_reply(fd.get(), 20 + i, 8, 2s)) {
            ++served;
            conns.push_back(std::move(fd));
        } else {
            CHECK(wait_closed(fd.get()));
            ++refused;
        }
    }
    CHECK(served == 1);
    CHECK(refused == 2);
    CHECK(wait_for_threads(server, base + 4, 2s) == base + 4);

    // The capped ones were not a crash: the four still work.
    for (size_t i = 0; i < conns.size(); ++i) CHECK(round_trip(conns[i].get(), 30 + i));

    // Connections close, their threads end.
    conns.clear();
    CHECK(wait_for_threads(server, base, 3s) == base);
    stop_cleanly(server);

    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    REQUIRE(stats.threads.size() == 2);
    CHECK(stats.threads[0].role == "acceptor");
    CHECK(stats.threads[1].role == "connection");
    CHECK(stats.total.n["thread_cap"] == 2);
    CHECK(stats.threads[0].n["peak_connections"] == 4);
    CHECK(stats.peak_threads >= 5);  // the acceptor + 4 connection threads
    CHECK(stats.total.n["requests"] == 1 + 3 + 1 + 4);
    CHECK(stats.total.n["accepted"] == 1 + 3 + 3);
}

TEST_CASE("server-thread-per-conn: a failed thread creation closes that connection only",
          "[patterns][threaded]") {
    TempPath stats_path;
    // A 1 TiB stack cannot be mapped: every pthread_create fails.
    ServerProcess server("server-thread-per-conn",
                         {"--stack-size", "1T", "--stats-file", stats_path.str()});
    for (uint64_t i = 0; i < 3; ++i) {
        auto fd = connect_local(server.port());
        send_all(fd.get(), frame_request({.id = i, .body_len = 8, .reply_len = 8}));
        CHECK(wait_closed(fd.get()));
    }
    stop_cleanly(server);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    CHECK(stats.total.n["thread_create"] == 3);
    CHECK(stats.total.n["requests"] == 0);
}

TEST_CASE("server-thread-per-conn: deadlines, half-close and a client that never reads",
          "[patterns][threaded]") {
    TempPath stats_path;
    ServerProcess server(
        "server-thread-per-conn",
        {"--header-timeout", "600ms", "--idle-timeout", "500ms", "--write-timeout", "500ms",
         "--output-high-water", "65536", "--stats-file", stats_path.str()});
    using Clock = std::chrono::steady_clock;

    // Slowloris: a byte every 100 ms never completes a 32-byte header before
    // the deadline, which counts from the first byte and is not pushed back.
    auto slow = connect_local(server.port());
    std::string request = frame_request({.id = 1, .reply_len = 1});
    auto started = Clock::now();
    bool closed = false;
    for (size_t i = 0; i < request.size() && !closed; ++i) {
        try {
            send_all(slow.get(), request.substr(i, 1));
        } catch (const std::exception&) {
            closed = true;  // the server already closed: EPIPE/ECONNRESET
        }
        closed = closed || wait_closed(slow.get(), 100ms);
    }
    auto slow_elapsed = Clock::now() - started;
    CHECK(closed);
    CHECK(slow_elapsed >= 500ms);
    CHECK(slow_elapsed < 2s);

    // Idle keep-alive: closed after --idle-timeout with nothing in progress.
    auto idle = connect_local(server.port());
    REQUIRE(round_trip(idle.get(), 2));
    started = Clock::now();
    CHECK(wait_closed(idle.get(), 3s));
    CHECK(Clock::now() - started >= 400ms);

    // Half-close: what was asked is answered, then EOF.
    auto half = connect_local(server.port());
    send_all(half.get(), frame_request({.id = 3, .body_len = 10, .reply_len = 5000}) +
                             frame_request({.id = 4, .reply_len = 7}));
    ::shutdown(half.get(), SHUT_WR);
    CHECK_FALSE(read_verified_reply(half.get(), 3, 5000).has_value());
    CHECK_FALSE(read_verified_reply(half.get(), 4, 7).has_value());
    CHECK(wait_closed(half.get()));

    // Never reads: 64 pipelined 1 MiB replies fill both socket buffers; the
    // server gives up after --write-timeout instead of blocking forever.
    auto deaf = connect_local(server.port());
    std::string flood;
    for (uint64_t i = 0; i < 64; ++i)
        flood += frame_request({.id = 100 + i, .reply_len = 1u << 20});
    send_all(deaf.get(), flood);
    std::this_thread::sleep_for(1500ms);
    CHECK(wait_closed(deaf.get(), 5s));

    // None of it touched anyone else.
    auto fresh = connect_local(server.port());
    CHECK(round_trip(fresh.get(), 5));
    stop_cleanly(server);

    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    CHECK(stats.total.n["header_timeout"] == 1);
    CHECK(stats.total.n["idle_timeout"] >= 1);
    CHECK(stats.total.n["write_timeout"] == 1);
}
