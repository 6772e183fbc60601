// The load generator's reply parsers (pure, no sockets): an HTTP reply stream
// gives the same replies however its bytes are split, and bad replies, HTTP
// and frame, are classified (status, verify, protocol).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

#include "frame.hpp"
#include "loadgen.hpp"
#include "reply_parser.hpp"

namespace lg = pb::loadgen;

TEST_CASE("http reply parser gives the same result however the bytes are split", "[loadgen]") {
    std::string hello = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 13\r\n\r\nHello, World!";
    std::string sized = "HTTP/1.1 200 OK\r\ncontent-length: 300\r\nConnection: close\r\n\r\n";
    for (uint32_t i = 0; i < 300; ++i) sized += static_cast<char>(pb::frame::payload_byte(0, i));
    lg::ExpectedReply hello_expect{0, 13, true};
    lg::ExpectedReply sized_expect{0, 300, false};

    for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, size_t{64}, size_t{100000}}) {
        INFO("chunk " << chunk);
        lg::HttpResponseParser p;
        std::string stream = hello + hello + sized;
        int replies = 0;
        for (size_t off = 0; off < stream.size();) {
            size_t len = std::min(chunk, stream.size() - off);
            size_t pos = 0;
            while (pos < len) {
                size_t used = 0;
                auto expect = replies < 2 ? hello_expect : sized_expect;
                auto st = p.feed(stream.data() + off + pos, len - pos, expect, true, used);
                REQUIRE(st != lg::ParseStatus::kError);
                pos += used;
                if (st == lg::ParseStatus::kReply) {
                    ++replies;
                    CHECK(p.keep_alive() == (replies < 3));
                }
                if (st == lg::ParseStatus::kNeedMore) REQUIRE(pos == len);
            }
            off += len;
        }
        CHECK(replies == 3);
    }
}

TEST_CASE("reply parsers classify bad replies", "[loadgen]") {
    size_t used = 0;
    {
        lg::HttpResponseParser p;
        std::string r = "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n";
        CHECK(p.feed(r.data(), r.size(), {0, 13, true}, true, used) == lg::ParseStatus::kError);
        CHECK(p.error() == lg::ReplyError::kStatus);
    }
    {
        lg::HttpResponseParser p;
        std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World?";
        CHECK(p.feed(r.data(), r.size(), {0, 13, true}, true, used) == lg::ParseStatus::kError);
        CHECK(p.error() == lg::ReplyError::kVerify);
        lg::HttpResponseParser q;  // the same reply passes when payload checks are off
        CHECK(q.feed(r.data(), r.size(), {0, 13, true}, false, used) == lg::ParseStatus::kReply);
    }
    {
        lg::HttpResponseParser p;
        std::string r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        CHECK(p.feed(r.data(), r.size(), {0, 13, true}, true, used) == lg::ParseStatus::kError);
        CHECK(p.error() == lg::ReplyError::kProtocol);
    }
    {
        uint8_t reply[pb::frame::kReplyHeaderSize + 8];
        pb::frame::encode_reply_header({8, 42}, reply);
        pb::frame::fill_payload(42, 0, reply + pb::frame::kReplyHeaderSize, 8);
        lg::FrameReplyParser ok;
        CHECK(ok.feed(reply, sizeof reply, {42, 8, false}, true, used) == lg::ParseStatus::kReply);
        lg::FrameReplyParser wrong_id;
        CHECK(wrong_id.feed(reply, sizeof reply, {41, 8, false}, true, used) ==
              lg::ParseStatus::kError);
        CHECK(wrong_id.error() == lg::ReplyError::kVerify);
        lg::FrameReplyParser wrong_len;
        CHECK(wrong_len.feed(reply, sizeof reply, {42, 9, false}, true, used) ==
              lg::ParseStatus::kError);
        reply[pb::frame::kReplyHeaderSize + 3] ^= 1;
        lg::FrameReplyParser wrong_byte;
        CHECK(wrong_byte.feed(reply, sizeof reply, {42, 8, false}, true, used) ==
              lg::ParseStatus::kError);
        CHECK(wrong_byte.error() == lg::ReplyError::kVerify);
        reply[0] = 0;
        lg::FrameReplyParser bad_magic;
        CHECK(bad_magic.feed(reply, sizeof reply, {42, 8, false}, true, used) ==
              lg::ParseStatus::kError);
        CHECK(bad_magic.error() == lg::ReplyError::kProtocol);
    }
}
