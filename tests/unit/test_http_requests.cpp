// The HTTP request parser on valid input: methods, targets, headers,
// keep-alive, query parameters, pipelining, and what in_progress() and
// request() say between feeds. Every vector is parsed every way
// (http_parse_support.hpp): whole, split at every byte and byte at a time.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "http.hpp"
#include "http_parse_support.hpp"

using namespace pbtest::http_test;
using pb::http::RequestParser;
using Status = RequestParser::Status;

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
