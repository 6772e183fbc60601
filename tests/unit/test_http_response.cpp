// The HTTP response writer: reason phrases, write_response and
// write_sized_response byte for byte, and the reply a server builds from a
// parsed request.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "buffer.hpp"
#include "http.hpp"
#include "http_parse_support.hpp"

using pb::http::Method;
using pb::http::RequestParser;
using pbtest::http_test::cat;
using Status = RequestParser::Status;

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
    struct Case {
        int status;
        std::string_view body;
        bool keep_alive;
        int version_minor;
        bool head;
        std::string_view expected;
    };
    const Case cases[] = {
        {200, pb::http::kDefaultBody, true, 1, false,
         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
         "Hello, World!"},
        {200, "hi", false, 1, false,
         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
         "Connection: close\r\n\r\nhi"},
        {200, "hi", true, 0, false,
         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
         "Connection: keep-alive\r\n\r\nhi"},
        {200, "hi", false, 0, false,
         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
         "Connection: close\r\n\r\nhi"},
        {200, pb::http::kDefaultBody, true, 1, true,
         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"},
        {431, "", false, 1, false,
         "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
         "Content-Length: 0\r\nConnection: close\r\n\r\n"},
    };
    pb::Buffer out;
    for (const auto& c : cases) {
        INFO(c.status << " " << c.body << " keep_alive=" << c.keep_alive << " 1." << c.version_minor
                      << " head=" << c.head);
        out.clear();
        pb::http::write_response(out, c.status, c.body, c.keep_alive, c.version_minor, c.head);
        CHECK(written(out) == c.expected);
    }

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
