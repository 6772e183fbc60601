// Client-side reply decoders, one per protocol. Each is incremental: feed() takes
// any split of the byte stream, keeps only what it has not finished (the partial
// header) plus its position in the body, and checks every body byte as it passes,
// so a reply is verified without ever being copied whole.
//
// A connection owns one parser; replies come back in request order, so the caller
// passes what the oldest request in flight expects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pb::loadgen {

enum class ParseStatus { kNeedMore, kReply, kError };

// Why a reply was rejected; maps onto the run's error classes.
enum class ReplyError {
    kNone,
    kProtocol,  // not a well-formed reply: bad magic, malformed HTTP, unsupported framing
    kVerify,    // well-formed but not what was asked: id, length or a payload byte
    kStatus,    // http: a status other than 200
};

// What the reply to the oldest request in flight must look like.
struct ExpectedReply {
    uint64_t id = 0;          // frame: echoed id, also the payload seed
    uint32_t body_bytes = 0;  // reply_len / Content-Length
    bool hello_body = false;  // http without ?size: the body is "Hello, World!"
};

class FrameReplyParser {
public:
    // Consumes from [data, data+len) and sets `consumed`. On kReply the reply is
    // complete and verified; the next call starts the next one. kError is final
    // for the connection; error() and detail() say why.
    ParseStatus feed(const uint8_t* data, size_t len, const ExpectedReply& expect, bool verify,
                     size_t& consumed);
    bool in_progress() const { return have_ > 0 || in_body_; }
    ReplyError error() const { return error_; }
    const std::string& detail() const { return detail_; }
    // After kError: the id of a well-formed reply that was not the one due.
    std::optional<uint64_t> unexpected_id() const { return unexpected_id_; }
    void reset() { *this = FrameReplyParser(); }

private:
    ParseStatus fail(ReplyError e, std::string detail);

    uint8_t header_[16] = {};
    size_t have_ = 0;
    bool in_body_ = false;
    uint64_t body_seen_ = 0;
    uint32_t body_len_ = 0;
    std::optional<uint64_t> unexpected_id_;
    ReplyError error_ = ReplyError::kNone;
    std::string detail_;
};

class HttpResponseParser {
public:
    static constexpr size_t kMaxHeaderBytes = 16384;

    ParseStatus feed(const char* data, size_t len, const ExpectedReply& expect, bool verify,
                     size_t& consumed);
    bool in_progress() const { return !header_.empty() || in_body_; }
    // After kReply: whether the server keeps the connection open.
    bool keep_alive() const { return keep_alive_; }
    int status() const { return status_; }
    ReplyError error() const { return error_; }
    const std::string& detail() const { return detail_; }
    void reset() { *this = HttpResponseParser(); }

private:
    ParseStatus fail(ReplyError e, std::string detail);
    // Parses a complete header block (ending in CRLF CRLF); false on error.
    bool parse_header(std::string_view block, const ExpectedReply& expect);
    ParseStatus feed_body(const char* data, size_t len, const ExpectedReply& expect, bool verify,
                          size_t& consumed);

    std::string header_;  // header bytes of a reply whose header came in pieces
    size_t scanned_ = 0;  // header_ bytes already searched for CRLF CRLF
    bool in_body_ = false;
    uint64_t body_len_ = 0;
    uint64_t body_seen_ = 0;
    bool keep_alive_ = true;
    int status_ = 0;
    ReplyError error_ = ReplyError::kNone;
    std::string detail_;
};

}  // namespace pb::loadgen
