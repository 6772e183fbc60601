// Fault tests, bad bytes: frame lengths at and around the
// limits, every header field out of range, and garbage that never ends; HTTP
// request line, header bytes, header count and body at limit-1, limit and
// limit+1, control bytes, chunked, garbage. Valid input at a limit is served
// on a connection that stays open; invalid input gets the right answer (no
// reply for frames, the right status for HTTP), then a close, and is counted.
#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "client.hpp"
#include "server_process.hpp"
#include "servers.hpp"
#include "test_faults_support.hpp"

using namespace pbtest;
using namespace pbtest::faults;

namespace {

constexpr uint32_t kMaxFrame = 65536;

// Overwrites the big-endian u32 at `at` (frame header fields the builder
// cannot express, such as a body_len the body does not match).
std::string with_u32(std::string s, size_t at, uint32_t v) {
    for (size_t i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
    return s;
}

struct Flood {
    bool closed = false;  // the server closed while we were still sending
    size_t sent = 0;
    Clock::duration took{};
};

// Sends `prefix`, then `filler` over and over, never reading, until the
// server closes the connection (a send fails) or `limit` passes.
Flood flood(int fd, const std::string& prefix, const std::string& filler,
            std::chrono::milliseconds limit = 3s) {
    Flood f;
    auto start = Clock::now();
    std::string next = prefix;
    size_t off = 0;
    while (Clock::now() - start < limit) {
        if (off == next.size()) {
            next = filler;
            off = 0;
        }
        ssize_t n = ::send(fd, next.data() + off, next.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += size_t(n);
            f.sent += size_t(n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, 20);
            continue;
        }
        f.closed = true;
        break;
    }
    f.took = Clock::now() - start;
    return f;
}

// Concatenation by append: GCC 12 -O3 raises a false -Wrestrict on
// "literal" + std::string&&.
std::string cat(std::initializer_list<std::string_view> parts) {
    std::string s;
    for (auto p : parts) s.append(p);
    return s;
}

std::string request_line_of(size_t length) {
    // "GET " + target + " HTTP/1.1": 4 + target + 9 bytes.
    return cat({"GET /", std::string(length - 14, 'a'), " HTTP/1.1"});
}

// One header line of exactly `length` bytes with its CRLF.
std::string header_of(size_t length) {
    return cat({"X: ", std::string(length - 5, 'v'), "\r\n"});
}

}  // namespace

TEST_CASE("frames at and past every limit: served, or closed without a reply and counted",
          "[faults]") {
    auto binary = GENERATE(from_range(all_servers()));
    INFO(binary);
    TempPath stats_path;
    ServerProcess server(binary, {"--threads", "2", "--max-frame", std::to_string(kMaxFrame),
                                  "--stats-file", stats_path.str()});
    FaultRun run("frame_limits", server);

    // At the limits: one connection, every reply verified, still open after.
    auto good = connect_local(server.port());
    struct Sizes {
        uint32_t body, reply;
    };
    uint64_t id = 0;
    for (Sizes s : {Sizes{0, 0}, Sizes{1, 1}, Sizes{kMaxFrame - 1, kMaxFrame - 1},
                    Sizes{kMaxFrame, kMaxFrame}, Sizes{0, kMaxFrame}, Sizes{kMaxFrame, 0}}) {
        INFO("body " << s.body << " reply " << s.reply);
        send_all(good.get(), frame_request({.id = ++id, .body_len = s.body, .reply_len = s.reply}));
        auto problem = read_verified_reply(good.get(), id, s.reply);
        INFO(problem.value_or(""));
        CHECK_FALSE(problem.has_value());
        run.tried();
    }

    // Past them: each on its own connection, no reply byte, closed, counted.
    std::string ok = frame_request({.id = 7, .body_len = 8, .reply_len = 8});
    struct Bad {
        const char* name;
        std::string bytes;
    };
    std::vector<Bad> bad = {
        {"body max+1", frame_request({.id = 1, .body_len = kMaxFrame + 1})},
        {"reply max+1", frame_request({.id = 1, .reply_len = kMaxFrame + 1})},
        {"body 0xFFFFFFFF", with_u32(ok, 4, 0xFFFFFFFF)},
        {"reply 0xFFFFFFFF", with_u32(ok, 8, 0xFFFFFFFF)},
        {"bad magic (a reply's)", with_u32(ok, 0, 0x50424E32)},
        {"bad magic (zero)", with_u32(ok, 0, 0)},
        {"flags 1", frame_request({.id = 1, .flags = 1})},
        {"flags high bit", frame_request({.id = 1, .flags = 0x80000000})},
        {"spin_us 1,000,001", frame_request({.id = 1, .spin_us = 1'000'001})},
        {"sleep_us 1,000,001", frame_request({.id = 1, .sleep_us = 1'000'001})},
        {"body byte off the rule", with_u32(ok, 32, 0xEEEEEEEE)},
    };
    auto bystander = connect_local(server.port());
    for (const auto& b : bad) {
        INFO(b.name);
        auto fd = connect_local(server.port());
        send_all(fd.get(), b.bytes);
        auto t0 = Clock::now();
        std::string got = recv_until_close(fd.get(), 3s);
        CHECK(got.empty());
        CHECK(Clock::now() - t0 < kSlow * 1s);  // closed, not left to a timeout
        CHECK(round_trip(bystander.get(), ++id));
        run.tried();
    }

    // Garbage that never ends, alone and after a valid frame; and a valid
    // header whose body never stops breaking the rule.
    struct Endless {
        const char* name;
        std::string prefix;
        std::string filler;
        bool answered_first;
    };
    std::vector<Endless> endless = {
        {"endless garbage", "", std::string(4096, '\x5a'), false},
        {"valid frame, then endless garbage", frame_request({.id = 70, .reply_len = 3}),
         std::string(4096, '\x00'), true},
        {"endless body off the rule",
         with_u32(frame_request({.id = 71}), 4, kMaxFrame).substr(0, 32), std::string(4096, 'q'),
         false},
    };
    for (const auto& e : endless) {
        INFO(e.name);
        auto fd = connect_local(server.port());
        Flood f = flood(fd.get(), e.prefix, e.filler);
        INFO("sent " << f.sent << " bytes in "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(f.took).count()
                     << " ms");
        CHECK(f.closed);
        if (e.answered_first) CHECK_FALSE(read_verified_reply(fd.get(), 70, 3, 2s).has_value());
        CHECK(recv_until_close(fd.get(), 2s).empty());
        run.tried();
    }

    // Truncated, then EOF: nothing owed, nothing sent, a clean FIN.
    for (size_t cut : {size_t{20}, size_t{32 + 50}}) {
        INFO("cut at " << cut);
        auto fd = connect_local(server.port());
        send_all(fd.get(),
                 frame_request({.id = 80, .body_len = 100, .reply_len = 5}).substr(0, cut));
        ::shutdown(fd.get(), SHUT_WR);
        size_t extra = 0;
        CHECK(wait_eof(fd.get(), 3s, extra));
        CHECK(extra == 0);
        run.tried();
    }

    // The connection at the limits is still open and serving.
    CHECK(round_trip(good.get(), ++id));
    good.reset();
    bystander.reset();
    run.stop(server);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    INFO(stats.text);
    CHECK(stats.total("too_large") == 4);
    CHECK(stats.total("protocol") == int64_t(bad.size() - 4 + endless.size()));
}

TEST_CASE("HTTP limits at -1, 0 and +1, control bytes, chunked, garbage: right status, then close",
          "[faults]") {
    auto binary = GENERATE(from_range(all_servers()));
    INFO(binary);
    constexpr size_t kLine = 64, kHeaderBytes = 256, kHeaders = 8;
    TempPath stats_path;
    ServerProcess server(
        binary, {"--threads", "2", "--protocol", "http", "--max-frame", std::to_string(kMaxFrame),
                 "--max-request-line", std::to_string(kLine), "--max-header-bytes",
                 std::to_string(kHeaderBytes), "--max-headers", std::to_string(kHeaders),
                 "--stats-file", stats_path.str()});
    FaultRun run("http_limits", server);

    auto headers = [](size_t n) {
        std::string s;
        for (size_t i = 0; i < n; ++i) s += cat({"H", std::to_string(i), ": v\r\n"});
        return s;
    };
    auto post = [](size_t length) {
        return cat({"POST / HTTP/1.1\r\nContent-Length: ", std::to_string(length), "\r\n\r\n",
                    std::string(length, 'b')});
    };

    // At the limits: served on one keep-alive connection.
    std::vector<std::pair<const char*, std::string>> good = {
        {"request line limit-1", cat({request_line_of(kLine - 1), "\r\n\r\n"})},
        {"request line at limit", cat({request_line_of(kLine), "\r\n\r\n"})},
        {"header bytes limit-1", cat({"GET / HTTP/1.1\r\n", header_of(kHeaderBytes - 1), "\r\n"})},
        {"header bytes at limit", cat({"GET / HTTP/1.1\r\n", header_of(kHeaderBytes), "\r\n"})},
        {"header count at limit", cat({"GET / HTTP/1.1\r\n", headers(kHeaders), "\r\n"})},
        {"body limit-1", post(kMaxFrame - 1)},
        {"body at limit", post(kMaxFrame)},
        {"tab in a header value", "GET / HTTP/1.1\r\nX: a\tb\r\n\r\n"},
    };
    auto conn = connect_local(server.port());
    for (const auto& [name, bytes] : good) {
        INFO(name);
        send_all(conn.get(), bytes);
        auto resp = read_http_response(conn.get());
        CHECK(resp.status == 200);
        CHECK(resp.body == "Hello, World!");
        run.tried();
    }
    send_all(conn.get(), http_get(cat({"/?size=", std::to_string(kMaxFrame)})));
    CHECK(read_http_response(conn.get()).body.size() == kMaxFrame);

    // Past them, or malformed: one status, Connection: close, then the close.
    struct Bad {
        const char* name;
        std::string bytes;
        int status;
    };
    std::string nul(1, '\0');
    std::vector<Bad> bad = {
        {"request line limit+1", cat({request_line_of(kLine + 1), "\r\n\r\n"}), 414},
        {"header bytes limit+1", cat({"GET / HTTP/1.1\r\n", header_of(kHeaderBytes + 1), "\r\n"}),
         431},
        {"header count limit+1", cat({"GET / HTTP/1.1\r\n", headers(kHeaders + 1), "\r\n"}), 431},
        {"body limit+1", post(kMaxFrame + 1), 413},
        {"size limit+1", http_get(cat({"/?size=", std::to_string(kMaxFrame + 1)})), 413},
        {"NUL in the target", cat({"GET /a", nul, "b HTTP/1.1\r\n\r\n"}), 400},
        {"NUL in a header value", cat({"GET / HTTP/1.1\r\nX: a", nul, "b\r\n\r\n"}), 400},
        {"CTL in a header name", "GET / HTTP/1.1\r\nX\x01Y: a\r\n\r\n", 400},
        {"DEL in a header value", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400},
        {"bare CR in a header", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
        {"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         501},
        {"other Transfer-Encoding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"unknown method", "BREW /pot HTTP/1.1\r\n\r\n", 501},
        {"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505},
        {"conflicting Content-Length",
         "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
        {"binary garbage", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 400},
    };
    for (const auto& b : bad) {
        INFO(b.name);
        auto fd = connect_local(server.port());
        send_all(fd.get(), b.bytes);
        auto resp = read_http_response(fd.get());
        CHECK(resp.status == b.status);
        CHECK(resp.headers["connection"] == "close");
        CHECK(wait_closed(fd.get(), 2s));
        run.tried();
    }

    // Endless: the status comes at the byte that passes the limit, and the
    // server stops reading there instead of buffering what follows.
    struct Endless {
        const char* name;
        std::string prefix;
        std::string filler;
        int status;
    };
    std::vector<Endless> endless = {
        {"endless request line", "GET /", std::string(4096, 'a'), 414},
        {"endless header value", "GET / HTTP/1.1\r\nX: ", std::string(4096, 'v'), 431},
        {"endless headers", "GET / HTTP/1.1\r\n", "A: b\r\n", 431},
        {"endless empty lines", "", "\r\n", 400},
    };
    for (const auto& e : endless) {
        INFO(e.name);
        auto fd = connect_local(server.port());
        Flood f = flood(fd.get(), e.prefix, e.filler);
        INFO("sent " << f.sent << " bytes");
        CHECK(f.closed);
        auto resp = read_http_response(fd.get(), 2s);
        CHECK(resp.status == e.status);
        run.tried();
    }

    // The keep-alive connection at the limits never noticed.
    send_all(conn.get(), http_get("/"));
    CHECK(read_http_response(conn.get()).status == 200);
    conn.reset();
    run.stop(server);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    INFO(stats.text);
    CHECK(stats.total("too_large") == 5 + 3);
    CHECK(stats.total("protocol") == int64_t(bad.size() - 5 + endless.size() - 3));
}
