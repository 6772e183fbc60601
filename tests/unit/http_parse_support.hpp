// Shared by the HTTP parser tests (test_http_*.cpp): what a RequestParser
// reported for some bytes, recorded so that runs can be compared, and the
// helpers that parse the bytes every way (every_split.hpp) and require every
// way to agree on every request, every error status and the byte at which
// each was reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "http.hpp"

namespace pbtest::http_test {

using pb::http::Limits;
using pb::http::Method;

// What one feed() sequence produced: a request or an error, and where.
struct Event {
    bool error = false;
    int error_status = 0;
    Method method = Method::kGet;
    std::string target;
    int version_minor = 0;
    bool keep_alive = false;
    uint64_t content_length = 0;
    bool has_size = false;
    uint32_t size = 0;
    uint32_t spin_us = 0;
    uint32_t sleep_us = 0;
    size_t offset = 0;  // total bytes consumed when it was reported
    bool operator==(const Event&) const = default;
};

struct Run {
    std::vector<Event> events;
    size_t consumed = 0;
    bool in_progress = false;
    bool operator==(const Run&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Event& e);
std::ostream& operator<<(std::ostream& os, const Run& r);

// Feeds `input` to a fresh parser in chunks ending at each of `cuts`
// (ascending) and then at the end.
Run feed_chunks(std::string_view input, const std::vector<size_t>& cuts, const Limits& limits);

// Parses `input` every way and requires each way to match the whole-buffer run.
Run parse_every_way(std::string_view input, const Limits& limits = {});

// The error status `input` ends in, parsed every way; 0 when it ends in none.
int error_of(std::string_view input, const Limits& limits = {});

// The error event, with the offset at which it was reported.
Event error_event(std::string_view input, const Limits& limits = {});

// The one request `input` holds, all of it consumed and nothing left in progress.
Event only_request(std::string_view input, const Limits& limits = {});

// Concatenation by append: GCC 12 at -O3 warns falsely (-Wrestrict) on
// "literal" + std::string&&, and the build treats warnings as errors.
std::string cat(std::initializer_list<std::string_view> parts);

}  // namespace pbtest::http_test
