// The conformance suite, written once and run against every pattern server in
// both protocols. Any server that passes it speaks the frame protocol and
// HTTP/1.1 correctly, keeps replies in order, isolates bad clients and shuts
// down gracefully.
#include <signal.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <memory>
#include <thread>

#include "client.hpp"
#include "server_process.hpp"
#include "servers.hpp"

using namespace pbtest;

namespace {

std::string http_get(const std::string& target, const std::string& extra = "",
                     const std::string& version = "HTTP/1.1") {
    return "GET " + target + " " + version + "\r\nHost: test\r\n" + extra + "\r\n";
}

// Sends one frame on a fresh connection and checks the verified reply: proof
// that the server still serves others after a bad client.
void check_still_serving(uint16_t port) {
    auto fd = connect_local(port);
    send_all(fd.get(), frame_request({.id = 77, .body_len = 10, .reply_len = 20}));
    auto problem = read_verified_reply(fd.get(), 77, 20);
    INFO(problem.value_or(""));
    CHECK_FALSE(problem.has_value());
}

void check_http_still_serving(uint16_t port) {
    auto fd = connect_local(port);
    send_all(fd.get(), http_get("/"));
    auto resp = read_http_response(fd.get());
    CHECK(resp.status == 200);
    CHECK(resp.body == "Hello, World!");
}

// Overwrites bytes of `s` at `at` (std::string::replace trips a GCC 12 false
// positive, -Wrestrict, at these call sites).
std::string patched(std::string s, size_t at, std::string_view bytes) {
    for (size_t i = 0; i < bytes.size(); ++i) s[at + i] = bytes[i];
    return s;
}

}  // namespace

TEST_CASE("frame round trips from 0 B to 1 MiB are verified", "[conformance][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    ServerProcess server(binary, {"--protocol", "frame"});
    auto fd = connect_local(server.port());
    uint64_t id = 1000;
    for (uint32_t size : {0u, 1u, 31u, 32u, 250u, 251u, 4096u, 65536u, 300000u, 1u << 20}) {
        INFO(binary << " size " << size);
        send_all(fd.get(), frame_request({.id = ++id, .body_len = size, .reply_len = size}));
        auto problem = read_verified_reply(fd.get(), id, size);
        INFO(problem.value_or(""));
        REQUIRE_FALSE(problem.has_value());
    }
    // Asymmetric: tiny request, large reply, and the reverse.
    send_all(fd.get(), frame_request({.id = ++id, .body_len = 0, .reply_len = 1u << 20}));
    CHECK_FALSE(read_verified_reply(fd.get(), id, 1u << 20).has_value());
    send_all(fd.get(), frame_request({.id = ++id, .body_len = 1u << 20, .reply_len = 0}));
    CHECK_FALSE(read_verified_reply(fd.get(), id, 0).has_value());
    stop_cleanly(server);
}

TEST_CASE("16-deep pipelined frames split across writes come back in order",
          "[conformance][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    ServerProcess server(binary, {"--protocol", "frame"});
    for (size_t chunk : {size_t{1}, size_t{7}, size_t{33}, size_t{1000}}) {
        INFO(binary << " chunk " << chunk);
        auto fd = connect_local(server.port());
        std::string batch;
        for (uint64_t i = 0; i < 16; ++i) {
            uint32_t size = static_cast<uint32_t>(i * 37);
            batch += frame_request({.id = 500 + i, .body_len = size, .reply_len = size + 3});
        }
        send_all(fd.get(), batch, chunk);
        for (uint64_t i = 0; i < 16; ++i) {
            auto problem =
                read_verified_reply(fd.get(), 500 + i, static_cast<uint32_t>(i * 37 + 3));
            INFO("reply " << i << ": " << problem.value_or(""));
            REQUIRE_FALSE(problem.has_value());
        }
    }
    stop_cleanly(server);
}

TEST_CASE("200 concurrent connections are all served", "[conformance][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    ServerProcess server(binary, {"--protocol", "frame"});
    std::vector<pb::UniqueFd> conns;
    for (int i = 0; i < 200; ++i) conns.push_back(connect_local(server.port()));
    for (size_t i = 0; i < conns.size(); ++i)
        send_all(conns[i].get(), frame_request({.id = i, .body_len = 100, .reply_len = 100}));
    int verified = 0;
    for (size_t i = 0; i < conns.size(); ++i) {
        if (!read_verified_reply(conns[i].get(), i, 100)) ++verified;
    }
    CHECK(verified == 200);
    stop_cleanly(server);
}

TEST_CASE("HTTP keep-alive, Connection: close, HTTP/1.0 and pipelining",
          "[conformance][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    ServerProcess server(binary, {"--protocol", "http"});
    INFO(binary);

    SECTION("keep-alive serves several requests on one connection") {
        auto fd = connect_local(server.port());
        for (int i = 0; i < 5; ++i) {
            send_all(fd.get(), http_get("/"));
            auto resp = read_http_response(fd.get());
            REQUIRE(resp.status == 200);
            CHECK(resp.body == "Hello, World!");
        }
        send_all(fd.get(), http_get("/x?size=5000"));
        auto resp = read_http_response(fd.get());
        REQUIRE(resp.body.size() == 5000);
        for (size_t i = 0; i < resp.body.size(); ++i) REQUIRE(uint8_t(resp.body[i]) == i % 251);
    }
    SECTION("Connection: close gets its answer, then EOF") {
        auto fd = connect_local(server.port());
        send_all(fd.get(), http_get("/", "Connection: close\r\n"));
        auto resp = read_http_response(fd.get());
        CHECK(resp.status == 200);
        CHECK(resp.headers["connection"] == "close");
        CHECK(wait_closed(fd.get()));
    }
    SECTION("HTTP/1.0 closes unless keep-alive is asked for") {
        auto fd = connect_local(server.port());
        send_all(fd.get(), http_get("/", "", "HTTP/1.0"));
        CHECK(read_http_response(fd.get()).status == 200);
        CHECK(wait_closed(fd.get()));
        auto ka = connect_local(server.port());
        for (int i = 0; i < 3; ++i) {
            send_all(ka.get(), http_get("/", "Connection: keep-alive\r\n", "HTTP/1.0"));
            CHECK(read_http_response(ka.get()).status == 200);
        }
    }
    SECTION("pipelined requests, split at every 5 bytes, answered in order") {
        auto fd = connect_local(server.port());
        std::string batch;
        for (int i = 0; i < 16; ++i) batch += http_get("/p?size=" + std::to_string(i * 10));
        send_all(fd.get(), batch, 5);
        for (int i = 0; i < 16; ++i) {
            auto resp = read_http_response(fd.get());
            REQUIRE(resp.status == 200);
            CHECK(resp.body.size() == size_t(i * 10));
        }
    }
    SECTION("a request body is read and discarded") {
        auto fd = connect_local(server.port());
        send_all(fd.get(),
                 "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789" +
                     http_get("/"));
        CHECK(read_http_response(fd.get()).status == 200);
        CHECK(read_http_response(fd.get()).body == "Hello, World!");
    }
    stop_cleanly(server);
}

TEST_CASE("curl gets Hello, World! in every HTTP flavour", "[conformance][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    ServerProcess server(binary, {"--protocol", "http"});
    std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
    CHECK(capture_output("curl -s --max-time 5 " + url) == "Hello, World!");
    CHECK(capture_output("curl -s --max-time 5 --http1.0 " + url) == "Hello, World!");
    // Two URLs on one command line reuse the keep-alive connection.
    CHECK(capture_output("curl -s --max-time 5 " + url + " " + url) ==
          "Hello, World!Hello, World!");
    CHECK(capture_output("curl -s --max-time 5 -o /dev/null -w '%{http_code} %{size_download}' '" +
                         url + "?size=100000'") == "200 100000");
    stop_cleanly(server);
}

TEST_CASE("bad frames close only the offending connection", "[conformance][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    ServerProcess server(binary, {"--protocol", "frame"});
    INFO(binary);
    auto bystander = connect_local(server.port());
    std::vector<std::pair<const char*, std::string>> cases = {
        {"garbage", std::string(64, 'x')},
        {"absurd body_len",
         patched(frame_request({.id = 1, .reply_len = 1}), 4, "\xff\xff\xff\xff")},
        {"absurd reply_len", patched(frame_request({.id = 1}), 8, "\x7f\xff\xff\xff")},
        {"non-zero flags", frame_request({.id = 1, .flags = 1})},
        {"spin over 1 s", frame_request({.id = 1, .spin_us = 2'000'000})},
        {"body breaking the rule", patched(frame_request({.id = 1, .body_len = 10}), 40, "\xee")},
    };
    uint64_t id = 0;
    for (auto& [name, bytes] : cases) {
        INFO(name);
        auto bad = connect_local(server.port());
        send_all(bad.get(), bytes);
        CHECK(wait_closed(bad.get()));
        // The bystander's connection, opened before, is still served.
        send_all(bystander.get(), frame_request({.id = ++id, .body_len = 5, .reply_len = 5}));
        CHECK_FALSE(read_verified_reply(bystander.get(), id, 5).has_value());
        check_still_serving(server.port());
    }
    stop_cleanly(server);
}

TEST_CASE("bad HTTP gets a status, then a close, and nobody else notices",
          "[conformance][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    ServerProcess server(binary, {"--protocol", "http"});
    INFO(binary);
    struct Case {
        const char* name;
        std::string bytes;
        std::vector<int> statuses;
    };
    std::vector<Case> cases = {
        {"20 KB header",
         "GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n",
         {431, 400}},
        {"garbage", "\x01\x02garbage garbage\r\n\r\n", {400}},
        {"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", {501}},
        {"unknown method", "BREW / HTTP/1.1\r\n\r\n", {501}},
        {"huge body", "POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", {413}},
        {"long request line", "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\n\r\n", {414}},
    };
    for (auto& c : cases) {
        INFO(c.name);
        auto bad = connect_local(server.port());
        send_all(bad.get(), c.bytes);
        auto resp = read_http_response(bad.get());
        CHECK(std::find(c.statuses.begin(), c.statuses.end(), resp.status) != c.statuses.end());
        CHECK(wait_closed(bad.get()));
        check_http_still_serving(server.port());
    }
    stop_cleanly(server);
}

TEST_CASE("SIGTERM lets an in-flight slow request finish, then exits 0",
          "[conformance][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    ServerProcess server(binary, {"--protocol", "frame"});
    INFO(binary);
    auto idle = connect_local(server.port());
    auto fd = connect_local(server.port());
    send_all(fd.get(),
             frame_request({.id = 9, .body_len = 0, .reply_len = 4000, .sleep_us = 400'000}));
    std::this_thread::sleep_for(100ms);
    ::kill(server.pid(), SIGTERM);
    auto problem = read_verified_reply(fd.get(), 9, 4000);
    INFO(problem.value_or(""));
    CHECK_FALSE(problem.has_value());
    CHECK(wait_closed(fd.get()));
    CHECK(wait_closed(idle.get()));
    int code = server.wait(10s);
    INFO(server.stderr_text());
    CHECK(code == 0);
    CHECK_FALSE(server.sanitizer_report());
}
