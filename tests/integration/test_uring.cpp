// server-uring's own options, which the suites run against every pattern do
// not reach: --sqpoll (the kernel polls the submission queue) and
// --fixed-files (connections live in the ring's file table), alone and
// together, beside the default. Each variant must serve the frame protocol
// (replies up to 1 MiB, which take several sends and many receive buffers),
// pipelining, HTTP and many connections, hold a client that stops reading at
// the output high-water mark and serve it in order once it reads again, and
// make no read, write, poll or accept system call of its own.
//
// Skipped, with the reason printed, where server-uring cannot run.
#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "server_process.hpp"
#include "temp_path.hpp"
#include "test_faults_support.hpp"

using namespace pbtest;
using namespace pbtest::faults;

namespace {

const std::vector<std::vector<std::string>>& variants() {
    static const std::vector<std::vector<std::string>> all = {
        {}, {"--sqpoll"}, {"--fixed-files"}, {"--sqpoll", "--fixed-files"}};
    return all;
}

std::string joined(const std::vector<std::string>& args) {
    std::string s = "server-uring";
    for (const auto& a : args) s += " " + a;
    return s;
}

}  // namespace

TEST_CASE("server-uring serves in every ring mode", "[uring][threaded]") {
    if (skip_unavailable("server-uring")) return;
    auto index = GENERATE(range(size_t{0}, variants().size()));
    INFO(joined(variants()[index]));
    TempPath stats_path;
    std::vector<std::string> args = variants()[index];
    args.insert(args.end(), {"--threads", "2", "--stats-file", stats_path.str()});
    ServerProcess server("server-uring", args);

    // Frames from 0 B to 1 MiB each way on one connection.
    uint64_t sent = 0;
    {
        auto fd = connect_local(server.port());
        uint64_t id = 1;
        for (uint32_t size : {0u, 1u, 4095u, 4096u, 4097u, 65536u, 1u << 20}) {
            INFO("size " << size);
            send_all(fd.get(), frame_request({.id = ++id, .body_len = size, .reply_len = size}));
            ++sent;
            auto problem = read_verified_reply(fd.get(), id, size);
            INFO(problem.value_or(""));
            REQUIRE_FALSE(problem.has_value());
        }
    }
    // 100 connections at once, each with 8 pipelined requests.
    {
        std::vector<pb::UniqueFd> conns;
        for (int i = 0; i < 100; ++i) conns.push_back(connect_local(server.port()));
        for (size_t i = 0; i < conns.size(); ++i) {
            std::string batch;
            for (uint64_t k = 0; k < 8; ++k)
                batch += frame_request({.id = i * 8 + k, .body_len = 50, .reply_len = 70});
            send_all(conns[i].get(), batch, 13);
            sent += 8;
        }
        int verified = 0;
        for (size_t i = 0; i < conns.size(); ++i)
            for (uint64_t k = 0; k < 8; ++k)
                if (!read_verified_reply(conns[i].get(), i * 8 + k, 70)) ++verified;
        CHECK(verified == 800);
    }
    stop_cleanly(server);

    // Every request counted; no I/O system call but io_uring_enter().
    Stats stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    CHECK(stats.total("requests") == static_cast<int64_t>(sent));
    for (const char* kind : {"\"read\"", "\"write\"", "\"poll\"", "\"accept\""}) {
        INFO(kind);
        auto at = stats.text.rfind(kind);  // the last: "total"'s syscalls
        REQUIRE(at != std::string::npos);
        CHECK(stats.text.compare(at + std::string(kind).size(), 3, ": 0") == 0);
    }
}

TEST_CASE("server-uring holds a client that stops reading, then serves it in order",
          "[uring][threaded]") {
    if (skip_unavailable("server-uring")) return;
    auto index = GENERATE(range(size_t{0}, variants().size()));
    INFO(joined(variants()[index]));
    TempPath stats_path;
    std::vector<std::string> args = variants()[index];
    // 64 KiB of unsent output stops reading that connection.
    args.insert(args.end(), {"--threads", "1", "--output-high-water", "65536", "--stats-file",
                             stats_path.str()});
    ServerProcess server("server-uring", args);
    auto fd = connect_local(server.port());
    // 64 requests for 64 KiB each (4 MiB) sent without reading a byte.
    std::string batch;
    for (uint64_t i = 0; i < 64; ++i)
        batch += frame_request({.id = 1000 + i, .body_len = 10, .reply_len = 65536});
    send_all(fd.get(), batch);
    std::this_thread::sleep_for(300ms);
    // Meanwhile another client is served.
    CHECK(serves_frame(server.port(), 7));
    for (uint64_t i = 0; i < 64; ++i) {
        auto problem = read_verified_reply(fd.get(), 1000 + i, 65536);
        INFO("reply " << i << ": " << problem.value_or(""));
        REQUIRE_FALSE(problem.has_value());
    }
    stop_cleanly(server);
    Stats stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    CHECK(stats.total("requests") == 65);
    // The mark held: the output grew past it by at most one reply (the request
    // that crossed it), never to the 4 MiB asked for.
    CHECK(stats.total("output_high_water") < 65536 + 2 * 65536);
}
