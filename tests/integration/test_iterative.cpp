// server-iterative, the pattern that serves one connection at a time. The
// shared conformance and fault suites hold several connections open at once
// (a slow client beside a fast one, floods, idle herds), which this server
// cannot answer by design, so it runs these cases instead: the protocol cases
// that need one connection, its one-at-a-time contract, the limits that keep
// one client from holding it forever (idle and header timeouts), and signals
// taken while a client is connected (snapshots, graceful SIGTERM), and the
// per-connection setsockopt fault.
#include <signal.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <thread>

#include "client.hpp"
#include "server_process.hpp"
#include "test_faults_support.hpp"

using namespace pbtest;
using pbtest::faults::eventually;
using pbtest::faults::TempPath;
using namespace std::chrono_literals;

namespace {

const char* const kIterative = "server-iterative";

std::optional<std::string> frame_round_trip(int fd, uint64_t id, uint32_t body, uint32_t reply) {
    send_all(fd, frame_request({.id = id, .body_len = body, .reply_len = reply}));
    return read_verified_reply(fd, id, reply, 3s);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("iterative: frame round trips and pipelined requests on one connection", "[iterative]") {
    ServerProcess server(kIterative, {"--protocol", "frame"});
    auto fd = connect_local(server.port());
    uint64_t id = 1;
    for (uint32_t size : {0u, 1u, 250u, 4096u, 65536u, 1u << 20}) {
        INFO("size " << size);
        auto problem = frame_round_trip(fd.get(), id++, size, size);
        CHECK_FALSE(problem.has_value());
    }
    // Eight requests in one write come back in order.
    std::string batch;
    for (uint64_t i = 100; i < 108; ++i) batch += frame_request({.id = i, .reply_len = 40});
    send_all(fd.get(), batch);
    for (uint64_t i = 100; i < 108; ++i) CHECK_FALSE(read_verified_reply(fd.get(), i, 40));
    fd.reset();
    stop_cleanly(server);
}

TEST_CASE("iterative: HTTP keep-alive, then Connection: close", "[iterative]") {
    ServerProcess server(kIterative, {"--protocol", "http"});
    auto fd = connect_local(server.port());
    for (int i = 0; i < 3; ++i) {
        send_all(fd.get(), "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        auto r = read_http_response(fd.get());
        CHECK(r.status == 200);
        CHECK(r.body == "Hello, World!");
    }
    send_all(fd.get(), "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    CHECK(read_http_response(fd.get()).status == 200);
    CHECK(wait_closed(fd.get(), 2s));
    stop_cleanly(server);
}

TEST_CASE("iterative: a second client waits until the first leaves", "[iterative]") {
    ServerProcess server(kIterative, {"--protocol", "frame"});
    auto first = connect_local(server.port());
    CHECK_FALSE(frame_round_trip(first.get(), 1, 10, 10));
    // The kernel completes the second handshake (connect returns) but nobody
    // reads its request while the first client stays.
    auto second = connect_local(server.port());
    send_all(second.get(), frame_request({.id = 2, .body_len = 10, .reply_len = 10}));
    CHECK(recv_exact(second.get(), 1, 400ms).empty());
    CHECK_FALSE(frame_round_trip(first.get(), 3, 10, 10));  // the first is still served
    first.reset();
    CHECK_FALSE(read_verified_reply(second.get(), 2, 10, 3s));
    second.reset();
    stop_cleanly(server);
}

TEST_CASE("iterative: idle and header timeouts free the server for the next client",
          "[iterative]") {
    ServerProcess server(kIterative, {"--protocol", "frame", "--idle-timeout", "300ms",
                                      "--header-timeout", "300ms"});
    // An idle keep-alive client is closed after --idle-timeout...
    auto idle = connect_local(server.port());
    CHECK_FALSE(frame_round_trip(idle.get(), 1, 10, 10));
    auto next = connect_local(server.port());
    CHECK_FALSE(frame_round_trip(next.get(), 2, 10, 10));  // waits out the idle client
    CHECK(wait_closed(idle.get(), 1s));
    next.reset();
    // ...and one that stops mid-request after --header-timeout.
    auto slow = connect_local(server.port());
    send_all(slow.get(), frame_request({.id = 3, .body_len = 100, .reply_len = 10}).substr(0, 20));
    auto after = connect_local(server.port());
    CHECK_FALSE(frame_round_trip(after.get(), 4, 10, 10));
    CHECK(wait_closed(slow.get(), 1s));
    after.reset();
    stop_cleanly(server);
}

TEST_CASE("iterative: signals are taken while a client is connected", "[iterative]") {
    TempPath stats;
    ServerProcess server(kIterative, {"--protocol", "frame", "--stats-file", stats.str()});
    auto fd = connect_local(server.port());
    CHECK_FALSE(frame_round_trip(fd.get(), 1, 10, 10));
    // SIGUSR1: a snapshot line, while the thread waits on the idle connection.
    const std::string snapshots = stats.str() + ".snapshots";
    ::kill(server.pid(), SIGUSR1);
    CHECK(eventually([&] { return read_file(snapshots).find("\"requests\"") != std::string::npos; },
                     2s));
    // SIGTERM: the idle connection is closed and the server exits at once,
    // not after the client leaves or --idle-timeout (60 s by default).
    auto started = std::chrono::steady_clock::now();
    CHECK(server.stop(SIGTERM, 5s) == 0);
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    CHECK(wait_closed(fd.get(), 1s));
    CHECK(read_file(stats.str()).find("\"iterative\"") != std::string::npos);
}

TEST_CASE("iterative: a failed per-connection setsockopt closes that connection only",
          "[iterative][faults]") {
    ServerProcess server(
        kIterative, {"--protocol", "frame", "--nodelay", "on", "--fail-setsockopt-every", "2"});
    int served = 0;
    for (uint64_t i = 1; i <= 6; ++i) {
        auto fd = connect_local(server.port());
        send_all(fd.get(), frame_request({.id = i, .body_len = 10, .reply_len = 10}));
        if (!read_verified_reply(fd.get(), i, 10, 2s)) ++served;
    }
    CHECK(served == 3);  // every other connection fails its setsockopt and is closed
    CHECK(server.running());
    stop_cleanly(server);
}
