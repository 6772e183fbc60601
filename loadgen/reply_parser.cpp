#include "reply_parser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "frame.hpp"

namespace pb::loadgen {
namespace {

constexpr std::string_view kHelloBody = "Hello, World!";

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool contains_token(std::string_view value, std::string_view token) {
    // "Connection: keep-alive, Upgrade": comma-separated, case-insensitive.
    while (!value.empty()) {
        size_t comma = value.find(',');
        if (iequals(trim(value.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

// ---- frame ------------------------------------------------------------------

ParseStatus FrameReplyParser::fail(ReplyError e, std::string detail) {
    error_ = e;
    detail_ = std::move(detail);
    return ParseStatus::kError;
}

ParseStatus FrameReplyParser::feed(const uint8_t* data, size_t len, const ExpectedReply& expect,
                                   bool verify, size_t& consumed) {
    consumed = 0;
    if (error_ != ReplyError::kNone) return ParseStatus::kError;
    if (!in_body_) {
        size_t take = std::min(frame::kReplyHeaderSize - have_, len);
        std::memcpy(header_ + have_, data, take);
        have_ += take;
        consumed = take;
        if (have_ < frame::kReplyHeaderSize) return ParseStatus::kNeedMore;
        frame::ReplyHeader h;
        if (!frame::decode_reply_header(header_, h))
            return fail(ReplyError::kProtocol, "bad reply magic");
        if (h.id != expect.id) {
            unexpected_id_ = h.id;
            return fail(ReplyError::kVerify,
                        fmt::format("reply id {} where {} was due", h.id, expect.id));
        }
        if (h.reply_len != expect.body_bytes)
            return fail(ReplyError::kVerify, fmt::format("reply_len {} where {} was asked",
                                                         h.reply_len, expect.body_bytes));
        in_body_ = true;
        body_len_ = h.reply_len;
        body_seen_ = 0;
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(body_len_ - body_seen_, len - consumed));
    if (verify) {
        size_t bad = frame::verify_payload(expect.id, body_seen_, data + consumed, take);
        if (bad != take)
            return fail(ReplyError::kVerify, fmt::format("payload byte {} of reply {} is wrong",
                                                         body_seen_ + bad, expect.id));
    }
    body_seen_ += take;
    consumed += take;
    if (body_seen_ < body_len_) return ParseStatus::kNeedMore;
    in_body_ = false;
    have_ = 0;
    return ParseStatus::kReply;
}

// ---- http -------------------------------------------------------------------

ParseStatus HttpResponseParser::fail(ReplyError e, std::string detail) {
    error_ = e;
    detail_ = std::move(detail);
    return ParseStatus::kError;
}

bool HttpResponseParser::parse_header(std::string_view block, const ExpectedReply& expect) {
    // Status line: HTTP/1.x SP 3DIGIT SP reason CRLF
    size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ' || !std::isdigit(static_cast<unsigned char>(line[9])) ||
        !std::isdigit(static_cast<unsigned char>(line[10])) ||
        !std::isdigit(static_cast<unsigned char>(line[11]))) {
        fail(ReplyError::kProtocol, fmt::format("bad status line '{}'", line.substr(0, 64)));
        return false;
    }
    bool http11 = line[7] == '1';
    status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    keep_alive_ = http11;
    bool have_length = false;
    uint64_t length = 0;
    size_t pos = eol + 2;
    while (pos < block.size()) {
        size_t end = block.find("\r\n", pos);
        if (end == pos) break;  // the empty line
        std::string_view header = block.substr(pos, end - pos);
        pos = end + 2;
        size_t colon = header.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            fail(ReplyError::kProtocol, "header line without a colon");
            return false;
        }
        std::string_view name = header.substr(0, colon);
        std::string_view value = trim(header.substr(colon + 1));
        if (iequals(name, "content-length")) {
            if (value.empty() || value.size() > 15 ||
                !std::all_of(value.begin(), value.end(),
                             [](char c) { return c >= '0' && c <= '9'; })) {
                fail(ReplyError::kProtocol, "bad Content-Length");
                return false;
            }
            uint64_t v = 0;
            for (char c : value) v = v * 10 + static_cast<uint64_t>(c - '0');
            if (have_length && v != length) {
                fail(ReplyError::kProtocol, "conflicting Content-Length headers");
                return false;
            }
            have_length = true;
            length = v;
        } else if (iequals(name, "connection")) {
            if (contains_token(value, "close")) keep_alive_ = false;
            if (contains_token(value, "keep-alive")) keep_alive_ = true;
        } else if (iequals(name, "transfer-encoding")) {
            fail(ReplyError::kProtocol, "Transfer-Encoding replies are not supported");
            return false;
        }
    }
    if (status_ != 200) {
        fail(ReplyError::kStatus, fmt::format("HTTP status {}", status_));
        return false;
    }
    if (!have_length) {
        fail(ReplyError::kProtocol, "reply without Content-Length");
        return false;
    }
    if (length != expect.body_bytes) {
        fail(ReplyError::kVerify,
             fmt::format("Content-Length {} where {} was asked", length, expect.body_bytes));
        return false;
    }
    body_len_ = length;
    body_seen_ = 0;
    in_body_ = true;
    return true;
}

ParseStatus HttpResponseParser::feed_body(const char* data, size_t len, const ExpectedReply& expect,
                                          bool verify, size_t& consumed) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(body_len_ - body_seen_, len - consumed));
    if (verify) {
        const char* p = data + consumed;
        if (expect.hello_body) {
            if (std::memcmp(p, kHelloBody.data() + body_seen_, take) != 0)
                return fail(ReplyError::kVerify, "body is not \"Hello, World!\"");
        } else {
            // Sized bodies follow the frame payload rule with id 0.
            auto* bytes = reinterpret_cast<const uint8_t*>(p);
            size_t bad = frame::verify_payload(0, body_seen_, bytes, take);
            if (bad != take)
                return fail(ReplyError::kVerify,
                            fmt::format("body byte {} is wrong", body_seen_ + bad));
        }
    }
    body_seen_ += take;
    consumed += take;
    if (body_seen_ < body_len_) return ParseStatus::kNeedMore;
    in_body_ = false;
    return ParseStatus::kReply;
}

ParseStatus HttpResponseParser::feed(const char* data, size_t len, const ExpectedReply& expect,
                                     bool verify, size_t& consumed) {
    consumed = 0;
    if (error_ != ReplyError::kNone) return ParseStatus::kError;
    if (in_body_) return feed_body(data, len, expect, verify, consumed);

    if (header_.empty()) {
        // Fast path: the whole header block is in this read; parse it in place.
        std::string_view view(data, len);
        size_t end = view.find("\r\n\r\n");
        if (end != std::string_view::npos) {
            if (end + 4 > kMaxHeaderBytes)
                return fail(ReplyError::kProtocol, "reply header too large");
            if (!parse_header(view.substr(0, end + 4), expect)) return ParseStatus::kError;
            consumed = end + 4;
            return feed_body(data, len, expect, verify, consumed);
        }
    }
    // Slow path: collect the header across reads, searching only the new bytes
    // (plus the 3 before them, where a CRLF CRLF may have started).
    size_t before = header_.size();
    size_t room = kMaxHeaderBytes - before;
    size_t take = std::min(len, room);
    header_.append(data, take);
    size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
    size_t end = header_.find("\r\n\r\n", from);
    if (end == std::string::npos) {
        scanned_ = header_.size();
        consumed = take;
        if (header_.size() >= kMaxHeaderBytes)
            return fail(ReplyError::kProtocol, "reply header too large");
        return ParseStatus::kNeedMore;
    }
    consumed = end + 4 - before;
    bool ok = parse_header(std::string_view(header_).substr(0, end + 4), expect);
    header_.clear();
    scanned_ = 0;
    if (!ok) return ParseStatus::kError;
    return feed_body(data, len, expect, verify, consumed);
}

}  // namespace pb::loadgen
