#include "frame.hpp"

#include <algorithm>
#include <cstring>

namespace pb::frame {
namespace {

void put32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}
void put64(uint8_t* p, uint64_t v) {
    put32(p, static_cast<uint32_t>(v >> 32));
    put32(p + 4, static_cast<uint32_t>(v));
}
uint32_t get32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint64_t get64(const uint8_t* p) {
    return (uint64_t{get32(p)} << 32) | get32(p + 4);
}

}  // namespace

const char* to_string(HeaderError e) {
    switch (e) {
        case HeaderError::kNone:
            return "none";
        case HeaderError::kBadMagic:
            return "bad magic";
        case HeaderError::kBodyTooLarge:
            return "body_len above max-frame";
        case HeaderError::kReplyTooLarge:
            return "reply_len above max-frame";
        case HeaderError::kWorkTooLarge:
            return "spin_us/sleep_us above 1 s";
        case HeaderError::kBadFlags:
            return "non-zero flags";
    }
    return "?";
}

void fill_payload(uint64_t id, uint64_t offset, uint8_t* out, size_t n) {
    // Walk the 251-cycle with a counter instead of a modulo per byte.
    uint32_t v = payload_byte(id, offset);
    for (size_t i = 0; i < n; ++i) {
        out[i] = static_cast<uint8_t>(v);
        if (++v == 251) v = 0;
    }
}

size_t verify_payload(uint64_t id, uint64_t offset, const uint8_t* data, size_t n) {
    uint32_t v = payload_byte(id, offset);
    for (size_t i = 0; i < n; ++i) {
        if (data[i] != v) return i;
        if (++v == 251) v = 0;
    }
    return n;
}

void encode_request_header(const RequestHeader& h, uint8_t out[kRequestHeaderSize]) {
    put32(out, kRequestMagic);
    put32(out + 4, h.body_len);
    put32(out + 8, h.reply_len);
    put32(out + 12, h.spin_us);
    put32(out + 16, h.sleep_us);
    put32(out + 20, h.flags);
    put64(out + 24, h.id);
}

HeaderError decode_request_header(const uint8_t in[kRequestHeaderSize], uint32_t max_frame,
                                  RequestHeader& out) {
    if (get32(in) != kRequestMagic) return HeaderError::kBadMagic;
    out.body_len = get32(in + 4);
    out.reply_len = get32(in + 8);
    out.spin_us = get32(in + 12);
    out.sleep_us = get32(in + 16);
    out.flags = get32(in + 20);
    out.id = get64(in + 24);
    if (out.body_len > max_frame) return HeaderError::kBodyTooLarge;
    if (out.reply_len > max_frame) return HeaderError::kReplyTooLarge;
    if (out.spin_us > kMaxWorkUs || out.sleep_us > kMaxWorkUs) return HeaderError::kWorkTooLarge;
    if (out.flags != 0) return HeaderError::kBadFlags;
    return HeaderError::kNone;
}

void encode_reply_header(const ReplyHeader& h, uint8_t out[kReplyHeaderSize]) {
    put32(out, kReplyMagic);
    put32(out + 4, h.reply_len);
    put64(out + 8, h.id);
}

bool decode_reply_header(const uint8_t in[kReplyHeaderSize], ReplyHeader& out) {
    if (get32(in) != kReplyMagic) return false;
    out.reply_len = get32(in + 4);
    out.id = get64(in + 8);
    return true;
}

RequestDecoder::Status RequestDecoder::feed(const uint8_t* data, size_t len, size_t& consumed) {
    consumed = 0;
    if (error_ != Error::kNone) return Status::kError;
    if (!in_body_) {
        size_t take = std::min(kRequestHeaderSize - have_, len);
        if (take > 0) std::memcpy(raw_ + have_, data, take);
        have_ += take;
        consumed += take;
        if (have_ < kRequestHeaderSize) return Status::kNeedMore;
        header_error_ = decode_request_header(raw_, max_frame_, header_);
        if (header_error_ != HeaderError::kNone) {
            error_ = Error::kHeader;
            return Status::kError;
        }
        in_body_ = true;
        body_seen_ = 0;
    }
    size_t take =
        static_cast<size_t>(std::min<uint64_t>(header_.body_len - body_seen_, len - consumed));
    if (verify_payload(header_.id, body_seen_, data + consumed, take) != take) {
        error_ = Error::kBadBody;
        return Status::kError;
    }
    body_seen_ += take;
    consumed += take;
    if (body_seen_ < header_.body_len) return Status::kNeedMore;
    in_body_ = false;
    have_ = 0;
    return Status::kRequest;
}

}  // namespace pb::frame
