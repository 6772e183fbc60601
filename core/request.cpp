#include "request.hpp"

#include "http_response.hpp"
#include "work.hpp"

namespace pb {

RequestReader::RequestReader(Protocol protocol, const ServerOptions& options)
    : protocol_(protocol), frame_(options.max_frame), http_(options.http) {}

RequestReader::Status RequestReader::next(const char* data, size_t len, size_t& consumed,
                                          Request& out) {
    if (protocol_ == Protocol::kFrame) {
        auto status = frame_.feed(reinterpret_cast<const uint8_t*>(data), len, consumed);
        if (status == frame::RequestDecoder::Status::kNeedMore) return Status::kNeedMore;
        if (status == frame::RequestDecoder::Status::kError) {
            auto e = frame_.header_error();
            error_kind_ =
                (e == frame::HeaderError::kBodyTooLarge || e == frame::HeaderError::kReplyTooLarge)
                    ? ErrorKind::kTooLarge
                    : ErrorKind::kProtocol;
            return Status::kError;
        }
        const auto& h = frame_.header();
        out = Request{};
        out.id = h.id;
        out.spin_us = h.spin_us;
        out.sleep_us = h.sleep_us;
        out.reply_len = h.reply_len;
        return Status::kRequest;
    }
    auto status = http_.feed(data, len, consumed);
    if (status == http::RequestParser::Status::kNeedMore) return Status::kNeedMore;
    if (status == http::RequestParser::Status::kError) {
        int code = http_.error_status();
        error_kind_ = (code == 413 || code == 414 || code == 431) ? ErrorKind::kTooLarge
                                                                  : ErrorKind::kProtocol;
        return Status::kError;
    }
    const auto& r = http_.request();
    out = Request{};
    out.http = true;
    out.spin_us = r.spin_us;
    out.sleep_us = r.sleep_us;
    out.has_size = r.has_size;
    out.reply_len = r.size;
    out.keep_alive = r.keep_alive;
    out.head = r.method == http::Method::kHead;
    out.version_minor = r.version_minor;
    return Status::kRequest;
}

RequestReader::Status next_request(RequestReader& reader, const char* data, size_t len,
                                   size_t& consumed, Request& out, Buffer& reply,
                                   ThreadStats& stats) {
    size_t used = 0;
    auto status = reader.next(data + consumed, len - consumed, used, out);
    consumed += used;
    if (status == RequestReader::Status::kError) {
        stats.count(reader.error_kind());
        reader.write_error_reply(reply);
    }
    return status;
}

void RequestReader::write_error_reply(Buffer& out) const {
    if (protocol_ != Protocol::kHttp) return;
    int code = http_.error_status();
    http::write_response(out, code, http::reason_phrase(code), false);
}

const char* RequestReader::error_text() const {
    if (protocol_ == Protocol::kHttp) return http_.error_reason();
    if (frame_.error() == frame::RequestDecoder::Error::kBadBody)
        return "body byte breaks the rule";
    return frame::to_string(frame_.header_error());
}

bool RequestReader::in_progress() const {
    return protocol_ == Protocol::kFrame ? frame_.in_progress() : http_.in_progress();
}

void execute(const Request& r) {
    spin_for_us(r.spin_us);
    sleep_for_us(r.sleep_us);
}

size_t write_reply(const Request& r, Buffer& out) {
    size_t before = out.readable();
    if (r.http) {
        if (r.has_size) {
            http::write_sized_response(out, r.reply_len, r.keep_alive, r.version_minor, r.head);
        } else {
            http::write_response(out, 200, http::kDefaultBody, r.keep_alive, r.version_minor,
                                 r.head);
        }
    } else {
        uint8_t header[frame::kReplyHeaderSize];
        frame::encode_reply_header({r.reply_len, r.id}, header);
        out.append(header, sizeof header);
        auto* p = reinterpret_cast<uint8_t*>(out.prepare(r.reply_len));
        frame::fill_payload(r.id, 0, p, r.reply_len);
        out.commit(r.reply_len);
    }
    return out.readable() - before;
}

}  // namespace pb
