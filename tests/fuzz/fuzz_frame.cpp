// libFuzzer target for the frame codec.
//
// Each input is decoded as one client byte stream by RequestDecoder: whole, split
// at a position derived from the input, split in four, and (for short inputs) byte
// at a time, with a small max_frame and the default one. Every way must produce the
// same trace: the same requests with the same header fields at the same consumed
// totals, then the same error kind. The decoder does not promise how much of a
// chunk it took when it fails, so error events carry no offset. The header and
// payload helpers are checked for round trips on the input's own bytes too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "frame.hpp"

namespace {

using namespace pb::frame;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

struct Event {
    int error = 0;  // RequestDecoder::Error as int; 0 for a request
    int header_error = 0;
    RequestHeader header;
    size_t offset = 0;  // total consumed when a request completed
    bool operator==(const Event& o) const {
        return error == o.error && header_error == o.header_error &&
               header.body_len == o.header.body_len && header.reply_len == o.header.reply_len &&
               header.spin_us == o.header.spin_us && header.sleep_us == o.header.sleep_us &&
               header.flags == o.header.flags && header.id == o.header.id && offset == o.offset;
    }
};

struct Trace {
    std::vector<Event> events;
    bool in_progress = false;
    bool operator==(const Trace&) const = default;
};

Trace run(const uint8_t* data, size_t size, const std::vector<size_t>& cuts, uint32_t max_frame) {
    RequestDecoder decoder(max_frame);
    Trace trace;
    size_t total = 0;
    size_t start = 0;
    auto feed_chunk = [&](size_t stop) {
        size_t off = start;
        while (off < stop) {
            size_t consumed = 0;
            auto s = decoder.feed(data + off, stop - off, consumed);
            check(consumed <= stop - off);
            off += consumed;
            total += consumed;
            if (s == RequestDecoder::Status::kNeedMore) {
                check(off == stop);
            } else if (s == RequestDecoder::Status::kRequest) {
                check(consumed > 0);
                check(!decoder.in_progress());
                const RequestHeader& h = decoder.header();
                check(h.body_len <= max_frame && h.reply_len <= max_frame);
                check(h.spin_us <= kMaxWorkUs && h.sleep_us <= kMaxWorkUs && h.flags == 0);
                Event e;
                e.header = h;
                e.offset = total;
                trace.events.push_back(e);
            } else {
                check(decoder.error() != RequestDecoder::Error::kNone);
                check((decoder.error() == RequestDecoder::Error::kHeader) ==
                      (decoder.header_error() != HeaderError::kNone));
                size_t again = 1;
                check(decoder.feed(data, size, again) == RequestDecoder::Status::kError &&
                      again == 0);
                Event e;
                e.error = static_cast<int>(decoder.error());
                e.header_error = static_cast<int>(decoder.header_error());
                trace.events.push_back(e);
                return false;
            }
        }
        start = stop;
        return true;
    };
    for (size_t cut : cuts) {
        if (!feed_chunk(cut)) break;
    }
    if (trace.events.empty() || trace.events.back().error == 0) feed_chunk(size);
    trace.in_progress = decoder.in_progress();
    return trace;
}

uint64_t mix(const uint8_t* data, size_t size) {
    uint64_t h = 1469598103934665603ull ^ size;
    for (size_t i = 0; i < size && i < 64; ++i) h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

void check_all_splits(const uint8_t* data, size_t size, uint32_t max_frame) {
    Trace whole = run(data, size, {}, max_frame);
    uint64_t h = mix(data, size);
    size_t cut = static_cast<size_t>(h % (size + 1));
    check(run(data, size, {cut}, max_frame) == whole);

    std::vector<size_t> cuts = {static_cast<size_t>((h >> 16) % (size + 1)),
                                static_cast<size_t>((h >> 32) % (size + 1)),
                                static_cast<size_t>((h >> 48) % (size + 1))};
    std::sort(cuts.begin(), cuts.end());
    check(run(data, size, cuts, max_frame) == whole);

    if (size <= 512) {
        std::vector<size_t> every;
        for (size_t i = 1; i < size; ++i) every.push_back(i);
        check(run(data, size, every, max_frame) == whole);
    }
}

void check_codecs(const uint8_t* data, size_t size) {
    if (size >= kRequestHeaderSize) {
        RequestHeader h;
        if (decode_request_header(data, UINT32_MAX, h) == HeaderError::kNone) {
            uint8_t again[kRequestHeaderSize];
            encode_request_header(h, again);
            check(std::memcmp(again, data, kRequestHeaderSize) == 0);
        }
    }
    if (size >= kReplyHeaderSize) {
        ReplyHeader r;
        if (decode_reply_header(data, r)) {
            uint8_t again[kReplyHeaderSize];
            encode_reply_header(r, again);
            check(std::memcmp(again, data, kReplyHeaderSize) == 0);
        }
    }
    if (size >= 16) {
        // An id and offset from the input; the payload written must verify, and a
        // flipped byte must be found at its index.
        uint64_t id = 0;
        uint64_t offset = 0;
        std::memcpy(&id, data, 8);
        std::memcpy(&offset, data + 8, 8);
        uint8_t buf[300];
        size_t n = size % sizeof(buf);
        fill_payload(id, offset, buf, n);
        check(verify_payload(id, offset, buf, n) == n);
        if (n > 0) {
            size_t at = static_cast<size_t>(id % n);
            buf[at] = static_cast<uint8_t>(buf[at] + 1 + data[size - 1] % 250);
            check(verify_payload(id, offset, buf, n) == at);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    check_codecs(data, size);
    check_all_splits(data, size, 64);
    check_all_splits(data, size, kDefaultMaxFrame);
    return 0;
}
