// The HTTP request parser on bad input: every malformed request gets its
// status (400, 413, 501, 505), reported at the byte that proves it, however
// the bytes are split; and an error is sticky.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "http.hpp"
#include "http_parse_support.hpp"

using namespace pbtest::http_test;
using namespace std::string_view_literals;
using pb::http::RequestParser;
using Status = RequestParser::Status;

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
