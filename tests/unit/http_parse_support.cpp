#include "http_parse_support.hpp"

#include <catch2/catch.hpp>

#include "every_split.hpp"

namespace pbtest::http_test {

using pb::http::RequestParser;
using Status = RequestParser::Status;

std::ostream& operator<<(std::ostream& os, const Event& e) {
    if (e.error) return os << "{error " << e.error_status << " @" << e.offset << "}";
    return os << "{" << static_cast<int>(e.method) << " " << e.target << " 1." << e.version_minor
              << " ka=" << e.keep_alive << " cl=" << e.content_length << " size=" << e.has_size
              << "/" << e.size << " spin=" << e.spin_us << " sleep=" << e.sleep_us << " @"
              << e.offset << "}";
}
std::ostream& operator<<(std::ostream& os, const Run& r) {
    os << "[";
    for (const auto& e : r.events) os << e << " ";
    return os << "consumed=" << r.consumed << " in_progress=" << r.in_progress << "]";
}

Run feed_chunks(std::string_view input, const std::vector<size_t>& cuts, const Limits& limits) {
    RequestParser parser(limits);
    Run run;
    run.consumed = pbtest::feed_in_chunks(
        input.size(), cuts,
        [&](size_t off, size_t len, size_t& consumed) {
            return parser.feed(input.data() + off, len, consumed);
        },
        [&](Status status, size_t total) {
            if (status == Status::kRequest) {
                const auto& r = parser.request();
                run.events.push_back({false, 0, r.method, r.target, r.version_minor, r.keep_alive,
                                      r.content_length, r.has_size, r.size, r.spin_us, r.sleep_us,
                                      total});
                return;
            }
            Event e;
            e.error = true;
            e.error_status = parser.error_status();
            e.offset = total;
            run.events.push_back(e);
        });
    run.in_progress = parser.in_progress();
    return run;
}

Run parse_every_way(std::string_view input, const Limits& limits) {
    return pbtest::same_at_every_split(input.size(), 80, [&](const std::vector<size_t>& cuts) {
        return feed_chunks(input, cuts, limits);
    });
}

int error_of(std::string_view input, const Limits& limits) {
    Run run = parse_every_way(input, limits);
    if (run.events.empty() || !run.events.back().error) return 0;
    return run.events.back().error_status;
}

Event error_event(std::string_view input, const Limits& limits) {
    Run run = parse_every_way(input, limits);
    REQUIRE_FALSE(run.events.empty());
    REQUIRE(run.events.back().error);
    return run.events.back();
}

Event only_request(std::string_view input, const Limits& limits) {
    Run run = parse_every_way(input, limits);
    REQUIRE(run.events.size() == 1);
    REQUIRE_FALSE(run.events[0].error);
    CHECK(run.events[0].offset == input.size());
    CHECK(run.consumed == input.size());
    CHECK_FALSE(run.in_progress);
    return run.events[0];
}

std::string cat(std::initializer_list<std::string_view> parts) {
    std::string out;
    for (auto part : parts) out += part;
    return out;
}

}  // namespace pbtest::http_test
