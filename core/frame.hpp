// The `frame` wire protocol (all integers in network byte order).
//
//   request: magic "PBN1" | body_len | reply_len | spin_us | sleep_us | flags | id (u64)
//            then body_len bytes
//   reply:   magic "PBN2" | reply_len | id (u64), then reply_len bytes
//
// Byte i of a body or reply payload is (id + i) % 251, so either side can verify
// every byte it receives without keeping a copy of what was sent.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pb::frame {

inline constexpr uint32_t kRequestMagic = 0x50424E31;  // "PBN1"
inline constexpr uint32_t kReplyMagic = 0x50424E32;    // "PBN2"
inline constexpr size_t kRequestHeaderSize = 32;
inline constexpr size_t kReplyHeaderSize = 16;
inline constexpr uint32_t kMaxWorkUs = 1'000'000;
inline constexpr uint32_t kDefaultMaxFrame = 1u << 20;

struct RequestHeader {
    uint32_t body_len = 0;
    uint32_t reply_len = 0;
    uint32_t spin_us = 0;
    uint32_t sleep_us = 0;
    uint32_t flags = 0;
    uint64_t id = 0;
};

struct ReplyHeader {
    uint32_t reply_len = 0;
    uint64_t id = 0;
};

enum class HeaderError {
    kNone,
    kBadMagic,
    kBodyTooLarge,   // body_len > max_frame
    kReplyTooLarge,  // reply_len > max_frame
    kWorkTooLarge,   // spin_us or sleep_us > kMaxWorkUs
    kBadFlags,       // flags != 0
};
const char* to_string(HeaderError e);

// Reduced before adding so that ids near 2^64 do not wrap: the rule is modular
// arithmetic on the true sum, whatever the split of the stream.
inline uint8_t payload_byte(uint64_t id, uint64_t index) {
    return static_cast<uint8_t>((id % 251 + index % 251) % 251);
}

// Writes `n` payload bytes for `id`, starting at payload offset `offset`.
void fill_payload(uint64_t id, uint64_t offset, uint8_t* out, size_t n);
// Index (relative to `data`) of the first byte that breaks the rule, or `n`.
size_t verify_payload(uint64_t id, uint64_t offset, const uint8_t* data, size_t n);

void encode_request_header(const RequestHeader& h, uint8_t out[kRequestHeaderSize]);
HeaderError decode_request_header(const uint8_t in[kRequestHeaderSize], uint32_t max_frame,
                                  RequestHeader& out);

void encode_reply_header(const ReplyHeader& h, uint8_t out[kReplyHeaderSize]);
// False when the magic is wrong.
bool decode_reply_header(const uint8_t in[kReplyHeaderSize], ReplyHeader& out);

// Incremental server-side decoder: feed() any split of the byte stream; it keeps
// only the header bytes it has not finished and its position in the body, so it
// never re-scans. Body bytes are verified against the payload rule as they pass.
class RequestDecoder {
public:
    enum class Status { kNeedMore, kRequest, kError };
    enum class Error { kNone, kHeader, kBadBody };

    explicit RequestDecoder(uint32_t max_frame = kDefaultMaxFrame) : max_frame_(max_frame) {}

    // Consumes bytes from [data, data+len); sets `consumed`. On kRequest,
    // header() is the completed request and the next call starts a new one.
    Status feed(const uint8_t* data, size_t len, size_t& consumed);

    const RequestHeader& header() const { return header_; }
    HeaderError header_error() const { return header_error_; }
    Error error() const { return error_; }
    // True once the first byte of a request has arrived and until it completes.
    bool in_progress() const { return have_ > 0 || in_body_; }

private:
    uint32_t max_frame_;
    uint8_t raw_[kRequestHeaderSize] = {};
    size_t have_ = 0;  // header bytes collected
    bool in_body_ = false;
    uint64_t body_seen_ = 0;
    RequestHeader header_;
    HeaderError header_error_ = HeaderError::kNone;
    Error error_ = Error::kNone;
};

}  // namespace pb::frame
