// libFuzzer target for the HTTP request parser and response writer.
//
// Each input is parsed as one client byte stream: whole, split at a position
// derived from the input, split in four, and (for short inputs) byte at a time,
// under the default limits and under small ones that make 413/414/431 reachable.
// Every way must produce the same trace: the same requests with the same fields,
// the same error status, at the same consumed totals. Any difference, or a broken
// feed() contract, traps.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "buffer.hpp"
#include "http.hpp"

namespace {

using pb::http::Limits;
using pb::http::RequestParser;
using Status = RequestParser::Status;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

struct Event {
    int error_status = 0;  // 0 for a request
    int method = 0;
    std::string target;
    int version_minor = 0;
    bool keep_alive = false;
    uint64_t content_length = 0;
    bool has_size = false;
    uint32_t size = 0;
    uint32_t spin_us = 0;
    uint32_t sleep_us = 0;
    size_t offset = 0;  // total consumed when reported
    bool operator==(const Event&) const = default;
};

struct Trace {
    std::vector<Event> events;
    size_t consumed = 0;
    bool in_progress = false;
    bool operator==(const Trace&) const = default;
};

void check_request(const pb::http::Request& r, const Limits& limits) {
    check(!r.target.empty());
    check(r.version_minor == 0 || r.version_minor == 1);
    check(r.content_length <= limits.max_body);
    check(!r.has_size ? r.size == 0 : r.size <= limits.max_body);
    check(r.spin_us <= 1'000'000 && r.sleep_us <= 1'000'000);
}

void check_writer(const pb::http::Request& r) {
    // The reply a server would send must be well-formed and carry the body it says.
    pb::Buffer out;
    bool head = r.method == pb::http::Method::kHead;
    if (r.has_size && r.size <= 4096) {
        pb::http::write_sized_response(out, r.size, r.keep_alive, r.version_minor, head);
    } else {
        pb::http::write_response(out, 200, pb::http::kDefaultBody, r.keep_alive, r.version_minor,
                                 head);
    }
    std::string_view s = out.view();
    check(s.substr(0, 13) == "HTTP/1.1 200 ");
    size_t end = s.find("\r\n\r\n");
    check(end != std::string_view::npos);
    size_t body = s.size() - end - 4;
    size_t expected = head ? 0 : (r.has_size && r.size <= 4096 ? r.size : 13);
    check(body == expected);
    check((s.find("Connection: close\r\n") != std::string_view::npos) == !r.keep_alive);
}

// Feeds `data` in chunks that end at each of `cuts` (ascending), then at the end.
Trace run(const uint8_t* data, size_t size, const std::vector<size_t>& cuts, const Limits& limits,
          bool check_replies) {
    RequestParser parser(limits);
    Trace trace;
    const char* bytes = reinterpret_cast<const char*>(data);
    size_t start = 0;
    auto feed_chunk = [&](size_t stop) {
        size_t off = start;
        while (off < stop) {
            size_t consumed = 0;
            Status s = parser.feed(bytes + off, stop - off, consumed);
            check(consumed <= stop - off);
            off += consumed;
            trace.consumed += consumed;
            if (s == Status::kNeedMore) {
                check(off == stop);
            } else if (s == Status::kRequest) {
                check(consumed > 0);
                check(!parser.in_progress());
                const auto& r = parser.request();
                check_request(r, limits);
                if (check_replies) check_writer(r);
                trace.events.push_back({0, static_cast<int>(r.method), r.target, r.version_minor,
                                        r.keep_alive, r.content_length, r.has_size, r.size,
                                        r.spin_us, r.sleep_us, trace.consumed});
            } else {
                int st = parser.error_status();
                check(st == 400 || st == 413 || st == 414 || st == 431 || st == 501 || st == 505);
                check(parser.error_reason() != nullptr && parser.error_reason()[0] != '\0');
                // Sticky: nothing more is taken.
                size_t again = 1;
                check(parser.feed(bytes, size, again) == Status::kError && again == 0);
                Event e;
                e.error_status = st;
                e.offset = trace.consumed;
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
    if (trace.events.empty() || trace.events.back().error_status == 0) feed_chunk(size);
    trace.in_progress = parser.in_progress();
    return trace;
}

uint64_t mix(const uint8_t* data, size_t size) {
    // FNV-1a over a bounded prefix and the size: cheap, and any mutation moves it.
    uint64_t h = 1469598103934665603ull ^ size;
    for (size_t i = 0; i < size && i < 64; ++i) h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

void check_all_splits(const uint8_t* data, size_t size, const Limits& limits) {
    Trace whole = run(data, size, {}, limits, true);
    uint64_t h = mix(data, size);
    size_t cut = static_cast<size_t>(h % (size + 1));
    check(run(data, size, {cut}, limits, false) == whole);

    size_t a = static_cast<size_t>((h >> 16) % (size + 1));
    size_t b = static_cast<size_t>((h >> 32) % (size + 1));
    size_t c = static_cast<size_t>((h >> 48) % (size + 1));
    std::vector<size_t> cuts = {a, b, c};
    std::sort(cuts.begin(), cuts.end());
    check(run(data, size, cuts, limits, false) == whole);

    if (size <= 512) {
        std::vector<size_t> every;
        for (size_t i = 1; i < size; ++i) every.push_back(i);
        check(run(data, size, every, limits, false) == whole);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    check_all_splits(data, size, Limits{});
    Limits small;
    small.max_request_line = 48;
    small.max_header_bytes = 96;
    small.max_headers = 4;
    small.max_body = 64;
    check_all_splits(data, size, small);
    return 0;
}
