// The HTTP request parser at its limits (pb::http::Limits): the request
// line, header bytes, header count and body, each at limit - 1 and at the
// limit (parsed) and at limit + 1 (the right status, reported at the first
// byte past the limit), however the bytes are split.
#include <catch2/catch.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "http.hpp"
#include "http_parse_support.hpp"

using namespace pbtest::http_test;

namespace {

std::string repeat(std::string_view s, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += s;
    return out;
}

std::string request_with_line_length(size_t length) {
    // "GET " + target + " HTTP/1.1" is `length` bytes.
    return cat({"GET /", std::string(length - 4 - 9 - 1, 'a'), " HTTP/1.1\r\nHost: x\r\n\r\n"});
}

std::string request_with_header_bytes(size_t bytes) {
    // One header line "X: aaa...\r\n" of exactly `bytes` bytes.
    return cat({"GET / HTTP/1.1\r\nX: ", std::string(bytes - 5, 'a'), "\r\n\r\n"});
}

std::string request_with_headers(size_t count) {
    std::string s = "GET / HTTP/1.1\r\n";
    for (size_t i = 0; i < count; ++i) s += cat({"H", std::to_string(i), ": v\r\n"});
    return s + "\r\n";
}

// `build(n)` makes a request whose limited part is n long: it parses at
// limit - 1 and at the limit; at limit + 1 it fails with `status`, reported
// at byte `offset`.
void check_limit(const Limits& limits, size_t limit,
                 const std::function<std::string(size_t)>& build, int status, size_t offset) {
    CHECK(error_of(build(limit - 1), limits) == 0);
    CHECK(error_of(build(limit), limits) == 0);
    Event e = error_event(build(limit + 1), limits);
    CHECK(e.error_status == status);
    CHECK(e.offset == offset);
}

}  // namespace

TEST_CASE("http: request line limit", "[http]") {
    for (size_t limit : {size_t{32}, size_t{64}, size_t{8192}}) {
        Limits limits;
        limits.max_request_line = limit;
        INFO("limit " << limit);
        // Reported at the first byte past the limit.
        check_limit(limits, limit, request_with_line_length, 414, limit + 1);
        // The limit holds wherever the line is long: the limit + 1 line above went
        // over in its version; these go over in the method and the target, before
        // any line ending has arrived.
        Event e = error_event(std::string(limit + 1, 'G'), limits);
        CHECK(e.error_status == 414);
        CHECK(e.offset == limit + 1);
        e = error_event(cat({"GET /", std::string(limit, 'a')}), limits);
        CHECK(e.error_status == 414);
        CHECK(e.offset == limit + 1);
    }
    // Empty lines before the request are bounded by the same limit.
    Limits small;
    small.max_request_line = 16;
    CHECK(error_of(std::string(16, '\n') + "GET / HTTP/1.1\r\n\r\n", small) == 0);
    CHECK(error_of(std::string(17, '\n') + "GET / HTTP/1.1\r\n\r\n", small) == 400);
    CHECK(error_of(repeat("\r\n", 8) + "GET / HTTP/1.1\r\n\r\n", small) == 0);
    CHECK(error_of(repeat("\r\n", 8) + "\nGET / HTTP/1.1\r\n\r\n", small) == 400);
    // ... and counted afresh for each pipelined request.
    Run run = parse_every_way("GET / HTTP/1.1\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", small);
    CHECK(run.events.size() == 2);
    CHECK_FALSE(run.events.back().error);
}

TEST_CASE("http: header bytes limit", "[http]") {
    for (size_t limit : {size_t{40}, size_t{100}, size_t{8192}}) {
        Limits limits;
        limits.max_header_bytes = limit;
        INFO("limit " << limit);
        // After "GET / HTTP/1.1\r\n".
        check_limit(limits, limit, request_with_header_bytes, 431, 16 + limit + 1);
    }
    // Several lines add up; CRLF counts two bytes, a bare LF one.
    Limits limits;
    limits.max_header_bytes = 16;
    CHECK(error_of("GET / HTTP/1.1\r\nA: 123\r\nB: 123\r\n\r\n", limits) == 0);  // 8 + 8
    CHECK(error_of("GET / HTTP/1.1\r\nA: 123\r\nB: 1234\r\n\r\n", limits) == 431);
    CHECK(error_of("GET / HTTP/1.1\nA: 123\nB: 12345\n\n", limits) == 0);  // 7 + 9
    CHECK(error_of("GET / HTTP/1.1\nA: 123\nB: 123456\n\n", limits) == 431);
    // A long value is caught at the byte that crosses the limit, mid-value.
    Event mid = error_event(cat({"GET / HTTP/1.1\r\nX: ", std::string(40, 'v')}), limits);
    CHECK(mid.error_status == 431);
    CHECK(mid.offset == 16 + 17);
    // A long header name is caught too, before its colon.
    Event e = error_event(cat({"GET / HTTP/1.1\r\n", std::string(40, 'N')}), limits);
    CHECK(e.error_status == 431);
    CHECK(e.offset == 16 + 17);
}

TEST_CASE("http: header count limit", "[http]") {
    for (size_t limit : {size_t{1}, size_t{4}, size_t{100}}) {
        Limits limits;
        limits.max_headers = limit;
        limits.max_header_bytes = 1 << 20;
        INFO("limit " << limit);
        // Reported at the first byte of the header past the limit.
        check_limit(limits, limit, request_with_headers, 431,
                    request_with_headers(limit).size() - 2 + 1);
    }
}

TEST_CASE("http: body limit and discarded bodies", "[http]") {
    Limits limits;
    limits.max_body = 10;
    auto post = [](size_t n) {
        return cat({"POST / HTTP/1.1\r\nContent-Length: ", std::to_string(n), "\r\n\r\n",
                    std::string(n, 'b')});
    };
    CHECK(only_request(post(9), limits).content_length == 9);
    CHECK(only_request(post(10), limits).content_length == 10);
    CHECK(error_of(post(11), limits) == 413);
    CHECK(only_request("GET /?size=10 HTTP/1.1\r\n\r\n", limits).size == 10);
    CHECK(error_of("GET /?size=11 HTTP/1.1\r\n\r\n", limits) == 413);

    // A body that has not fully arrived keeps the request in progress.
    Run run = parse_every_way("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", limits);
    CHECK(run.events.empty());
    CHECK(run.in_progress);
}
