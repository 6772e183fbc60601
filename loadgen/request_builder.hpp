// Builds the bytes of one request for the configured workload, and says what its
// reply must look like. HTTP requests do not depend on the id, so both variants
// (fast and slow) are rendered once; frame requests carry the id, so their header
// and body are encoded per request straight into the output buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "config.hpp"
#include "reply_parser.hpp"

namespace pb::loadgen {

class RequestBuilder {
public:
    explicit RequestBuilder(const Config& config);

    size_t size(bool slow) const;
    // Writes size(slow) bytes at `out`.
    void write(uint64_t id, bool slow, uint8_t* out) const;
    // Bytes in the first piece of a split write (always inside (0, size)), or
    // size(slow) when the request is too short to split.
    size_t split_point(bool slow) const;
    ExpectedReply expected(uint64_t id) const;

private:
    const Config& config_;
    std::string http_[2];         // [slow]
    size_t http_header_[2] = {};  // bytes before the body
};

}  // namespace pb::loadgen
