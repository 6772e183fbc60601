#include "request_builder.hpp"

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "frame.hpp"

namespace pb::loadgen {

RequestBuilder::RequestBuilder(const Config& config) : config_(config) {
    if (config.protocol != Protocol::kHttp) return;
    for (int slow = 0; slow < 2; ++slow) {
        std::string query;
        auto param = [&](const char* name, uint32_t value) {
            query += query.empty() ? '?' : '&';
            query += fmt::format("{}={}", name, value);
        };
        if (config.response_size) param("size", *config.response_size);
        if (config.spin_us) param("spin_us", config.spin_us);
        uint32_t sleep = slow ? config.slow_sleep_us : config.sleep_us;
        if (sleep) param("sleep_us", sleep);
        const char* method = config.request_size ? "POST" : "GET";
        std::string head = fmt::format("{} {}{} HTTP/1.1\r\nHost: {}:{}\r\n", method, config.path,
                                       query, config.host, config.port);
        for (const auto& h : config.headers) head += h + "\r\n";
        if (config.request_size) head += fmt::format("Content-Length: {}\r\n", config.request_size);
        head += "\r\n";
        std::vector<uint8_t> body(config.request_size);
        // Request bodies follow the payload rule with id 0, like sized replies.
        frame::fill_payload(0, 0, body.data(), body.size());
        http_header_[slow] = head.size();
        http_[slow] = head + std::string(body.begin(), body.end());
    }
}

size_t RequestBuilder::size(bool slow) const {
    if (config_.protocol == Protocol::kHttp) return http_[slow].size();
    return frame::kRequestHeaderSize + config_.request_size;
}

void RequestBuilder::write(uint64_t id, bool slow, uint8_t* out) const {
    if (config_.protocol == Protocol::kHttp) {
        std::memcpy(out, http_[slow].data(), http_[slow].size());
        return;
    }
    frame::RequestHeader h;
    h.body_len = config_.request_size;
    h.reply_len = config_.reply_bytes();
    h.spin_us = config_.spin_us;
    h.sleep_us = slow ? config_.slow_sleep_us : config_.sleep_us;
    h.id = id;
    frame::encode_request_header(h, out);
    frame::fill_payload(id, 0, out + frame::kRequestHeaderSize, config_.request_size);
}

size_t RequestBuilder::split_point(bool slow) const {
    size_t total = size(slow);
    if (total < 2) return total;
    size_t at = config_.split_at;
    if (at == 0) {
        // The natural boundary: header | body. With no body, split the header
        // itself (the HTTP request line from its headers; a frame header in half).
        if (config_.protocol == Protocol::kHttp) {
            at = config_.request_size ? http_header_[slow] : http_[slow].find("\r\n") + 2;
        } else {
            at = config_.request_size ? frame::kRequestHeaderSize : frame::kRequestHeaderSize / 2;
        }
    }
    return at >= total ? total - 1 : at;
}

ExpectedReply RequestBuilder::expected(uint64_t id) const {
    ExpectedReply e;
    e.id = id;
    e.body_bytes = config_.reply_bytes();
    e.hello_body = config_.protocol == Protocol::kHttp && !config_.response_size;
    return e;
}

}  // namespace pb::loadgen
