// Time, read one way everywhere: the steady clock for intervals, the wall clock
// only to say when a record was made.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace pb {

using Clock = std::chrono::steady_clock;

// Nanoseconds on the steady clock (CLOCK_MONOTONIC on Linux): for intervals
// and schedules within one machine, never for dates.
inline int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

// The wall-clock time now in UTC, as "2026-12-02T00:38:54Z".
inline std::string utc_now() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace pb
