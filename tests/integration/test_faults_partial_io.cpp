// Fault tests of a byte stream in pieces, run against every pattern in both
// protocols: 1 MiB requests and replies through 4 KiB socket buffers (every
// read and write partial), and a client that half-closes after N requests and
// is owed exactly N replies, then a clean FIN.
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include "client.hpp"
#include "server_process.hpp"
#include "test_faults_support.hpp"

using namespace pbtest;
using namespace pbtest::faults;

// 7. Partial writes both ways: 4 KiB socket buffers on the client make every
// read and write of a 1 MiB request and reply come in pieces.
TEST_CASE("partial writes: 1 MiB each way through 4 KiB socket buffers, byte-exact", "[faults]") {
    const auto target = GENERATE(from_range(every_server_in_both_protocols()));
    bool http = target.http();
    INFO(target);
    ServerProcess server(target.binary, target.args());
    FaultRun run("partial_writes", server);

    auto fd = connect_with_buffers(server.port(), 4096, 4096);
    constexpr int kRequests = 4;
    constexpr uint32_t kSize = 1u << 20;
    // Written on another thread: the server answers while we are still
    // sending, and with buffers this small neither side can get ahead.
    std::thread writer([&] {
        try {
            for (int i = 0; i < kRequests; ++i) {
                uint32_t reply = kSize - uint32_t(i);
                if (http) {
                    send_all(fd.get(), "POST /up?size=" + std::to_string(reply) +
                                           " HTTP/1.1\r\nContent-Length: " + std::to_string(kSize) +
                                           "\r\n\r\n" + std::string(kSize, 'x'));
                } else {
                    send_all(
                        fd.get(),
                        frame_request({.id = uint64_t(i), .body_len = kSize, .reply_len = reply}));
                }
            }
        } catch (const std::exception& e) {
            UNSCOPED_INFO("writer: " << e.what());
        }
    });
    uint64_t lost = 0;
    int ok = 0;
    for (int i = 0; i < kRequests; ++i)
        ok += read_reply(http, fd.get(), uint64_t(i), kSize - uint32_t(i), lost, 20s);
    writer.join();
    CHECK(ok == kRequests);
    CHECK(lost == 0);
    run.tried(kRequests);
    run.lost(lost);
    run.stop(server);
}

// 8. Half-close: the client sends N requests (and the first bytes of one
// more), then shuts its write side. It is owed exactly N replies, then a clean
// FIN: no RST, no stray bytes.
TEST_CASE("half-close after N requests: exactly N replies, then EOF", "[faults]") {
    const auto target = GENERATE(from_range(every_server_in_both_protocols()));
    bool http = target.http();
    INFO(target);
    ServerProcess server(target.binary, target.args());
    FaultRun run("half_close", server);
    uint64_t lost = 0;
    for (int n : {0, 1, 5}) {
        INFO("N = " << n);
        auto fd = connect_local(server.port());
        std::string batch;
        for (int i = 0; i < n; ++i)
            batch += request_for(http, uint64_t(i), uint32_t(1000 * i), i % 2 ? 20'000 : 0);
        if (n == 5) batch += request_for(http, 99, 10).substr(0, 9);  // never completed
        send_all(fd.get(), batch);
        ::shutdown(fd.get(), SHUT_WR);
        for (int i = 0; i < n; ++i)
            CHECK(read_reply(http, fd.get(), uint64_t(i), uint32_t(1000 * i), lost));
        size_t extra = 0;
        CHECK(wait_eof(fd.get(), 3s, extra));
        CHECK(extra == 0);
        run.tried();
    }
    run.lost(lost);
    run.stop(server);
}
