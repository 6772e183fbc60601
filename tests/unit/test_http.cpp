// HTTP parser and response writer. Every vector is fed whole, split at every byte
// boundary, split in three for short inputs, and byte at a time; all must agree on
// every request, every error status and the byte at which each was reported.
#include <catch2/catch.hpp>

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "buffer.hpp"
#include "http.hpp"

using pb::http::Limits;
using pb::http::Method;
using pb::http::RequestParser;
using Status = RequestParser::Status;
using namespace std::string_view_literals;

namespace {

// What one feed() sequence produced: a request or an error, and where.
struct Event {
    bool error = false;
    int error_status = 0;
    Method method = Method::kGet;
    std::string target;
    int version_minor = 0;
    bool keep_alive = false;
    uint64_t content_length = 0;
    bool has_size = false;
    uint32_t size = 0;
    uint32_t spin_us = 0;
    uint32_t sleep_us = 0;
    size_t offset = 0;  // total bytes consumed when it was reported
    bool operator==(const Event&) const = default;
};

struct Run {
    std::vector<Event> events;
    size_t consumed = 0;
    bool in_progress = false;
    bool operator==(const Run&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
    if (e.error) return os << "{error " << e.error_status << " @" << e.offset << "}";
    return os << "{" << static_cast<int>(e.method) << " " << e.target << " 1." << e.version_minor
              << " ka=" << e.keep_alive << " cl=" << e.content_length << " size=" << e.has_size
              << "/" << e.size << " spin=" << e.spin_us << " sleep=" << e.sleep_us << " @"
              << e.offset << "}";
}
std::ostream& operator<<(std::ostream& os, const Run& r) {
    os << "[";
    for (const auto& e : r.events) os << e << " ";
    return os << "consumed=" << r.consumed << " in_progress=" << r.in_progress << "]";
}

// Feeds `input` in chunks ending at each of `cuts` (ascending) and then at the end.
Run feed_chunks(std::string_view input, const std::vector<size_t>& cuts, const Limits& limits) {
    RequestParser parser(limits);
    Run run;
    size_t start = 0;
    auto feed_chunk = [&](size_t stop) {
        size_t off = start;
        while (off < stop) {
            size_t consumed = 99;
            Status s = parser.feed(input.data() + off, stop - off, consumed);
            REQUIRE(consumed <= stop - off);
            off += consumed;
            run.consumed += consumed;
            if (s == Status::kNeedMore) {
                // kNeedMore must have taken every byte it was given.
                REQUIRE(off == stop);
            } else if (s == Status::kRequest) {
                REQUIRE(consumed > 0);
                const auto& r = parser.request();
                run.events.push_back({false, 0, r.method, r.target, r.version_minor, r.keep_alive,
                                      r.content_length, r.has_size, r.size, r.spin_us, r.sleep_us,
                                      run.consumed});
            } else {
                Event e;
                e.error = true;
                e.error_status = parser.error_status();
                e.offset = run.consumed;
                run.events.push_back(e);
                return false;
            }
        }
        start = stop;
        return true;
    };
    for (size_t cut : cuts) {
        if (!feed_chunk(cut)) break;
    }
    if (run.events.empty() || !run.events.back().error) feed_chunk(input.size());
    run.in_progress = parser.in_progress();
    return run;
}

// Parses `input` every way and requires each way to match the whole-buffer run.
Run parse_every_way(std::string_view input, const Limits& limits = {}) {
    Run whole = feed_chunks(input, {}, limits);
    bool all_same = true;
    for (size_t i = 0; i <= input.size(); ++i) {
        Run split = feed_chunks(input, {i}, limits);
        if (!(split == whole)) {
            all_same = false;
            INFO("split at " << i);
            CHECK(split == whole);
        }
    }
    if (input.size() <= 80) {
        for (size_t i = 0; i <= input.size(); ++i) {
            for (size_t j = i; j <= input.size(); ++j) {
                Run split = feed_chunks(input, {i, j}, limits);
                if (!(split == whole)) {
                    all_same = false;
                    INFO("split at " << i << " and " << j);
                    CHECK(split == whole);
                }
            }
        }
    }
    std::vector<size_t> every;
    for (size_t i = 1; i < input.size(); ++i) every.push_back(i);
    Run bytewise = feed_chunks(input, every, limits);
    CHECK(bytewise == whole);
    CHECK(all_same);
    return whole;
}

int error_of(std::string_view input, const Limits& limits = {}) {
    Run run = parse_every_way(input, limits);
    if (run.events.empty() || !run.events.back().error) return 0;
    return run.events.back().error_status;
}

// The error event, with the offset at which it was reported.
Event error_event(std::string_view input, const Limits& limits = {}) {
    Run run = parse_every_way(input, limits);
    REQUIRE_FALSE(run.events.empty());
    REQUIRE(run.events.back().error);
    return run.events.back();
}

Event only_request(std::string_view input, const Limits& limits = {}) {
    Run run = parse_every_way(input, limits);
    REQUIRE(run.events.size() == 1);
    REQUIRE_FALSE(run.events[0].error);
    CHECK(run.events[0].offset == input.size());
    CHECK(run.consumed == input.size());
    CHECK_FALSE(run.in_progress);
    return run.events[0];
}

// Concatenation by append: GCC 12 at -O3 warns falsely (-Wrestrict) on
// "literal" + std::string&&, and the build treats warnings as errors.
std::string cat(std::initializer_list<std::string_view> parts) {
    std::string out;
    for (auto part : parts) out += part;
    return out;
}

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

}  // namespace

TEST_CASE("http: a wrk-style GET parses every way", "[http]") {
    Event e = only_request("GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n");
    CHECK(e.method == Method::kGet);
    CHECK(e.target == "/");
    CHECK(e.version_minor == 1);
    CHECK(e.keep_alive);
    CHECK(e.content_length == 0);
    CHECK_FALSE(e.has_size);
}

TEST_CASE("http: every supported method", "[http]") {
    struct Case {
        std::string_view name;
        Method method;
    };
    const Case cases[] = {
        {"GET", Method::kGet},     {"HEAD", Method::kHead},     {"POST", Method::kPost},
        {"PUT", Method::kPut},     {"DELETE", Method::kDelete}, {"OPTIONS", Method::kOptions},
        {"PATCH", Method::kPatch},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        Event e = only_request(std::string(c.name) + " /m HTTP/1.1\r\n\r\n");
        CHECK(e.method == c.method);
        CHECK(e.target == "/m");
    }
    CHECK(only_request("OPTIONS * HTTP/1.1\r\n\r\n").target == "*");
}

TEST_CASE("http: valid variations", "[http]") {
    SECTION("bare LF line endings") {
        Event e = only_request("GET /lf HTTP/1.1\nHost: x\nConnection: close\n\n");
        CHECK(e.target == "/lf");
        CHECK_FALSE(e.keep_alive);
    }
    SECTION("mixed CRLF and LF") {
        CHECK(only_request("GET / HTTP/1.1\r\nA: b\nC: d\r\n\n").target == "/");
    }
    SECTION("empty lines before the request line are skipped") {
        CHECK(only_request("\r\n\n\r\nGET /x HTTP/1.1\r\n\r\n").target == "/x");
    }
    SECTION("header names are case-insensitive and OWS is trimmed") {
        Event e = only_request("POST /p HTTP/1.1\r\nCONTENT-length: \t 3 \t\r\n\r\nabc");
        CHECK(e.content_length == 3);
    }
    SECTION("empty and odd-but-legal header values") {
        only_request("GET / HTTP/1.1\r\nX-Empty:\r\nX-Sp:   \r\nX-Obs: caf\xc3\xa9\r\n\r\n");
    }
    SECTION("long header names that start like interesting ones are ignored") {
        Event e = only_request(
            "GET / HTTP/1.1\r\nContent-Length-X: zz\r\nConnectionX: close\r\n"
            "Transfer-Encoding-Y: chunked\r\n\r\n");
        CHECK(e.keep_alive);
        CHECK(e.content_length == 0);
    }
    SECTION("repeated equal Content-Length values are accepted") {
        CHECK(only_request("PUT / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 02\r\n\r\nhi")
                  .content_length == 2);
        CHECK(only_request("PUT / HTTP/1.1\r\nContent-Length: 2, 2 ,2\r\n\r\nhi").content_length ==
              2);
    }
    SECTION("Content-Length: 0") {
        CHECK(only_request("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").content_length == 0);
    }
    SECTION("target bytes: absolute form, obs-text, percent signs") {
        CHECK(only_request("GET http://h/x?y=1 HTTP/1.1\r\n\r\n").target == "http://h/x?y=1");
        CHECK(only_request("GET /caf\xc3\xa9%20 HTTP/1.1\r\n\r\n").target == "/caf\xc3\xa9%20");
    }
}

TEST_CASE("http: keep-alive rules", "[http]") {
    CHECK(only_request("GET / HTTP/1.1\r\n\r\n").keep_alive);
    CHECK_FALSE(only_request("GET / HTTP/1.0\r\n\r\n").keep_alive);
    CHECK(only_request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    CHECK(only_request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    CHECK_FALSE(only_request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
    CHECK_FALSE(only_request("GET / HTTP/1.1\r\nConnection: CLOSE\r\n\r\n").keep_alive);
    CHECK_FALSE(only_request("GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n").keep_alive);
    CHECK_FALSE(only_request("GET / HTTP/1.1\r\nConnection:foo,close,bar\r\n\r\n").keep_alive);
    CHECK_FALSE(
        only_request("GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n")
            .keep_alive);
    // close wins over keep-alive, whatever the order.
    CHECK_FALSE(only_request("GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n").keep_alive);
    // Tokens must match whole: these are neither close nor keep-alive.
    CHECK(only_request("GET / HTTP/1.1\r\nConnection: closed, xclose, keep-alive2\r\n\r\n")
              .keep_alive);
    CHECK_FALSE(only_request("GET / HTTP/1.0\r\nConnection: keep-alive2\r\n\r\n").keep_alive);
    CHECK_FALSE(only_request("GET / HTTP/1.0\r\nConnection: keep alive\r\n\r\n").keep_alive);
}

TEST_CASE("http: query parameters", "[http]") {
    Event e = only_request("GET /x?size=100&spin_us=5&sleep_us=7 HTTP/1.1\r\n\r\n");
    CHECK(e.has_size);
    CHECK(e.size == 100);
    CHECK(e.spin_us == 5);
    CHECK(e.sleep_us == 7);

    e = only_request("GET /?foo=bar&size=0&x HTTP/1.1\r\n\r\n");
    CHECK(e.has_size);
    CHECK(e.size == 0);
    CHECK(e.spin_us == 0);

    // The last occurrence wins; a fragment ends the query.
    e = only_request("GET /?spin_us=1&spin_us=2#size=abc HTTP/1.1\r\n\r\n");
    CHECK(e.spin_us == 2);
    CHECK_FALSE(e.has_size);

    e = only_request("GET /?spin_us=1000000&sleep_us=1000000&size=1048576 HTTP/1.1\r\n\r\n");
    CHECK(e.spin_us == 1'000'000);
    CHECK(e.sleep_us == 1'000'000);
    CHECK(e.size == 1u << 20);

    CHECK_FALSE(only_request("GET /size=5 HTTP/1.1\r\n\r\n").has_size);
    CHECK(only_request("GET /?sizes=5&xsize=6 HTTP/1.1\r\n\r\n").size == 0);
}

TEST_CASE("http: pipelined requests in one buffer", "[http]") {
    const std::string a = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string b = "POST /b?size=3 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    const std::string c = "HEAD /c HTTP/1.0\r\n\r\n";
    const std::string d = "\r\nDELETE /d HTTP/1.1\nConnection: close\n\n";
    const std::string partial = "GET /e HTTP/1.1\r\nHo";
    Run run = parse_every_way(a + b + c + d + partial);
    REQUIRE(run.events.size() == 4);
    CHECK(run.events[0].target == "/a");
    CHECK(run.events[0].offset == a.size());
    CHECK(run.events[1].method == Method::kPost);
    CHECK(run.events[1].content_length == 5);
    CHECK(run.events[1].size == 3);
    CHECK(run.events[1].offset == a.size() + b.size());
    CHECK(run.events[2].method == Method::kHead);
    CHECK_FALSE(run.events[2].keep_alive);
    CHECK(run.events[2].offset == a.size() + b.size() + c.size());
    CHECK(run.events[3].method == Method::kDelete);
    CHECK_FALSE(run.events[3].keep_alive);
    CHECK(run.events[3].offset == a.size() + b.size() + c.size() + d.size());
    // The partial request is consumed and pending.
    CHECK(run.consumed == a.size() + b.size() + c.size() + d.size() + partial.size());
    CHECK(run.in_progress);

    // A body that looks like a request is discarded, not parsed.
    const std::string e = "POST / HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET /no HTTP/1.1\r\n";
    Run run2 = parse_every_way(e + a);
    REQUIRE(run2.events.size() == 2);
    CHECK(run2.events[1].target == "/a");

    // A pipelined error after good requests: the good ones are still delivered.
    Run run3 = parse_every_way(a + a + "BREW /pot HTTP/1.1\r\n\r\n" + a);
    REQUIRE(run3.events.size() == 3);
    CHECK(run3.events[2].error);
    CHECK(run3.events[2].error_status == 501);
    CHECK(run3.events[2].offset == 2 * a.size() + 5);
}

TEST_CASE("http: malformed input gets the right status", "[http]") {
    struct Case {
        std::string_view input;
        int status;
    };
    const Case cases[] = {
        // 400: garbage and malformed request lines
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"sv, 400},  // a TLS ClientHello
        {"hello\r\n\r\n", 400},
        {"GET\r\n\r\n", 400},
        {" GET / HTTP/1.1\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1 \r\n\r\n", 400},
        {"GET /\r\n\r\n", 400},
        {"GET / \r\n\r\n", 400},
        {"GET / FOO/1.1\r\n\r\n", 400},
        {"GET / http/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.10\r\n\r\n", 400},
        {"GET / HTTP/11\r\n\r\n", 400},
        {"GET / HTTP/1.x\r\n\r\n", 400},
        {"G(T / HTTP/1.1\r\n\r\n", 400},
        {"GET\t/ HTTP/1.1\r\n\r\n", 400},
        // 400: bare CR anywhere
        {"\rGET / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\rHost: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\n\rX", 400},
        // 400: NUL and other control bytes
        {"GET /\0 HTTP/1.1\r\n\r\n"sv, 400},
        {"GE\0 / HTTP/1.1\r\n\r\n"sv, 400},
        {"GET / HTTP/1.1\0\r\n\r\n"sv, 400},
        {"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"sv, 400},
        {"GET / HTTP/1.1\r\nX\0: ab\r\n\r\n"sv, 400},
        {"\0"sv, 400},
        {"GET /\x7f HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400},
        // 400: malformed header lines
        {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: a\r\n\tfolded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX(y): a\r\n\r\n", 400},
        // 400: bad or conflicting Content-Length
        {"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length:  \r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 5,\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: ,5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
        // 400: bad query numbers
        {"GET /?size=abc HTTP/1.1\r\n\r\n", 400},
        {"GET /?size= HTTP/1.1\r\n\r\n", 400},
        {"GET /?size HTTP/1.1\r\n\r\n", 400},
        {"GET /?size=-1 HTTP/1.1\r\n\r\n", 400},
        {"GET /?size=1e3 HTTP/1.1\r\n\r\n", 400},
        {"GET /?spin_us=1000001 HTTP/1.1\r\n\r\n", 400},
        {"GET /?sleep_us=99999999999999999999999 HTTP/1.1\r\n\r\n", 400},
        {"GET /?spin_us=%31 HTTP/1.1\r\n\r\n", 400},
        // 413: Content-Length or size over max_body
        {"POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413},
        {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
        {"GET /?size=1048577 HTTP/1.1\r\n\r\n", 413},
        {"GET /?size=99999999999999999999999 HTTP/1.1\r\n\r\n", 413},
        // 501: unknown methods and any Transfer-Encoding
        {"BREW /pot HTTP/1.1\r\n\r\n", 501},
        {"get / HTTP/1.1\r\n\r\n", 501},
        {"CONNECT h:443 HTTP/1.1\r\n\r\n", 501},
        {"TRACE / HTTP/1.1\r\n\r\n", 501},
        {"GETGETGETGET / HTTP/1.1\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        // 505: well-formed but unsupported versions
        {"GET / HTTP/2.0\r\n\r\n", 505},
        {"GET / HTTP/1.2\r\n\r\n", 505},
        {"GET / HTTP/0.9\r\n\r\n", 505},
        {"GET / HTTP/3.0\r\n\r\n", 505},
    };
    for (const auto& c : cases) {
        INFO("input: " << std::string(c.input));
        CHECK(error_of(c.input) == c.status);
    }
}

TEST_CASE("http: errors are reported at the byte that proves them", "[http]") {
    // The byte after "BREW" (its SP) is where the method is judged.
    Run run = parse_every_way("BREW /pot HTTP/1.1\r\n\r\n");
    REQUIRE(run.events.size() == 1);
    CHECK(run.events[0].offset == 5);
    CHECK(run.consumed == 5);
    CHECK_FALSE(run.in_progress);
    // A bare CR is proven by the byte after it.
    run = parse_every_way("GET / HTTP/1.1\rX");
    REQUIRE(run.events.size() == 1);
    CHECK(run.events[0].offset == 16);
}

TEST_CASE("http: request line limit", "[http]") {
    for (size_t limit : {size_t{32}, size_t{64}, size_t{8192}}) {
        Limits limits;
        limits.max_request_line = limit;
        INFO("limit " << limit);
        CHECK(error_of(request_with_line_length(limit - 1), limits) == 0);
        CHECK(error_of(request_with_line_length(limit), limits) == 0);
        Event e = error_event(request_with_line_length(limit + 1), limits);
        CHECK(e.error_status == 414);
        CHECK(e.offset == limit + 1);  // reported at the first byte past the limit
        // The limit holds wherever the line is long: the limit + 1 line above went
        // over in its version; these go over in the method and the target, before
        // any line ending has arrived.
        e = error_event(std::string(limit + 1, 'G'), limits);
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
        CHECK(error_of(request_with_header_bytes(limit - 1), limits) == 0);
        CHECK(error_of(request_with_header_bytes(limit), limits) == 0);
        Event e = error_event(request_with_header_bytes(limit + 1), limits);
        CHECK(e.error_status == 431);
        CHECK(e.offset == 16 + limit + 1);  // after "GET / HTTP/1.1\r\n"
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
        CHECK(error_of(request_with_headers(limit - 1), limits) == 0);
        CHECK(error_of(request_with_headers(limit), limits) == 0);
        std::string over = request_with_headers(limit + 1);
        Event e = error_event(over, limits);
        CHECK(e.error_status == 431);
        // Reported at the first byte of the header past the limit.
        CHECK(e.offset == request_with_headers(limit).size() - 2 + 1);
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

TEST_CASE("http: errors are sticky", "[http]") {
    RequestParser parser;
    size_t consumed = 0;
    std::string_view bad = "BREW / HTTP/1.1\r\n\r\n";
    REQUIRE(parser.feed(bad.data(), bad.size(), consumed) == Status::kError);
    CHECK(parser.error_status() == 501);
    CHECK(std::string_view(parser.error_reason()).size() > 0);
    std::string_view good = "GET / HTTP/1.1\r\n\r\n";
    CHECK(parser.feed(good.data(), good.size(), consumed) == Status::kError);
    CHECK(consumed == 0);
    CHECK(parser.error_status() == 501);
}

TEST_CASE("http: in_progress and request() lifetime", "[http]") {
    RequestParser parser;
    size_t consumed = 0;
    CHECK_FALSE(parser.in_progress());
    CHECK(parser.feed("\r\n", 2, consumed) == Status::kNeedMore);
    CHECK_FALSE(parser.in_progress());  // empty lines are not a request
    CHECK(parser.feed("G", 1, consumed) == Status::kNeedMore);
    CHECK(parser.in_progress());
    std::string_view rest = "ET /first HTTP/1.1\r\n\r\nGET /second HTTP/1.1\r\n\r\n";
    REQUIRE(parser.feed(rest.data(), rest.size(), consumed) == Status::kRequest);
    CHECK_FALSE(parser.in_progress());
    CHECK(parser.request().target == "/first");
    // An empty feed does not start another request.
    size_t zero = 7;
    CHECK(parser.feed(rest.data(), 0, zero) == Status::kNeedMore);
    CHECK(zero == 0);
    CHECK(parser.request().target == "/first");
    rest.remove_prefix(consumed);
    REQUIRE(parser.feed(rest.data(), rest.size(), consumed) == Status::kRequest);
    CHECK(consumed == rest.size());
    CHECK(parser.request().target == "/second");
    // A new request starts from defaults, not from the previous one's fields.
    std::string_view third = "GET /?size=5 HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    REQUIRE(parser.feed(third.data(), third.size(), consumed) == Status::kRequest);
    CHECK(parser.request().has_size);
    CHECK_FALSE(parser.request().keep_alive);
    third.remove_prefix(consumed);
    REQUIRE(parser.feed(third.data(), third.size(), consumed) == Status::kRequest);
    CHECK_FALSE(parser.request().has_size);
    CHECK(parser.request().keep_alive);
    CHECK(parser.request().version_minor == 1);
}

// ---- response writer --------------------------------------------------------------

namespace {
std::string written(const pb::Buffer& b) {
    return std::string(b.view());
}
}  // namespace

TEST_CASE("http: reason phrases", "[http]") {
    CHECK(std::string_view(pb::http::reason_phrase(200)) == "OK");
    CHECK(std::string_view(pb::http::reason_phrase(400)) == "Bad Request");
    CHECK(std::string_view(pb::http::reason_phrase(413)) == "Content Too Large");
    CHECK(std::string_view(pb::http::reason_phrase(414)) == "URI Too Long");
    CHECK(std::string_view(pb::http::reason_phrase(431)) == "Request Header Fields Too Large");
    CHECK(std::string_view(pb::http::reason_phrase(501)) == "Not Implemented");
    CHECK(std::string_view(pb::http::reason_phrase(505)) == "HTTP Version Not Supported");
    CHECK(std::string_view(pb::http::reason_phrase(299)) == "Unknown");
}

TEST_CASE("http: write_response", "[http]") {
    pb::Buffer out;
    pb::http::write_response(out, 200, pb::http::kDefaultBody, true);
    CHECK(written(out) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
          "Hello, World!");

    out.clear();
    pb::http::write_response(out, 200, "hi", false);
    CHECK(written(out) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
          "Connection: close\r\n\r\nhi");

    out.clear();
    pb::http::write_response(out, 200, "hi", true, 0);
    CHECK(written(out) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
          "Connection: keep-alive\r\n\r\nhi");

    out.clear();
    pb::http::write_response(out, 200, "hi", false, 0);
    CHECK(written(out) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
          "Connection: close\r\n\r\nhi");

    out.clear();
    pb::http::write_response(out, 200, pb::http::kDefaultBody, true, 1, true);
    CHECK(written(out) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n");

    out.clear();
    pb::http::write_response(out, 431, "", false);
    CHECK(written(out) ==
          "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
          "Content-Length: 0\r\nConnection: close\r\n\r\n");

    // Responses append: two in a row are both there, in order.
    out.clear();
    pb::http::write_response(out, 200, "a", true);
    pb::http::write_response(out, 200, "b", true);
    const std::string one =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\n";
    CHECK(written(out) == one + "a" + one + "b");
}

TEST_CASE("http: write_sized_response", "[http]") {
    for (uint32_t size : {0u, 1u, 250u, 251u, 252u, 5000u, 1u << 20}) {
        INFO("size " << size);
        pb::Buffer out;
        pb::http::write_sized_response(out, size, true);
        std::string head = cat({"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ",
                                std::to_string(size), "\r\n\r\n"});
        std::string s = written(out);
        REQUIRE(s.size() == head.size() + size);
        CHECK(s.substr(0, head.size()) == head);
        bool all_ok = true;
        for (uint32_t i = 0; i < size; ++i) {
            if (static_cast<uint8_t>(s[head.size() + i]) != i % 251) {
                all_ok = false;
                break;
            }
        }
        CHECK(all_ok);

        pb::Buffer head_only;
        pb::http::write_sized_response(head_only, size, false, 1, true);
        CHECK(written(head_only) ==
              cat({"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ",
                   std::to_string(size), "\r\nConnection: close\r\n\r\n"}));
    }
}

TEST_CASE("http: a parsed request round-trips into the reply the servers send", "[http]") {
    // The path a server takes: parse, then answer with the request's own fields.
    RequestParser parser;
    std::string_view in = "HEAD /?size=300 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    size_t consumed = 0;
    REQUIRE(parser.feed(in.data(), in.size(), consumed) == Status::kRequest);
    const auto& r = parser.request();
    pb::Buffer out;
    pb::http::write_sized_response(out, r.size, r.keep_alive, r.version_minor,
                                   r.method == Method::kHead);
    CHECK(written(out) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 300\r\n"
          "Connection: keep-alive\r\n\r\n");
}
