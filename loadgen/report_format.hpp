// How the record and the summary report numbers: the percentiles both list, and
// a time in microseconds as text. Internal to loadgen (result_json.cpp, summary.cpp,
// result.cpp).
#pragma once

#include <fmt/format.h>

#include <string>

namespace pb::loadgen {

struct Percentile {
    const char* key;
    double value;
};
inline constexpr Percentile kPercentiles[] = {
    {"p50", 50.0},   {"p75", 75.0},     {"p90", 90.0},      {"p99", 99.0},
    {"p99.9", 99.9}, {"p99.99", 99.99}, {"p99.999", 99.999}};

// Every reported time is in microseconds; nanosecond values give them 3 decimals.
inline std::string format_us(double us) {
    if (us < 1000.0) return fmt::format("{:.2f}us", us);
    if (us < 1'000'000.0) return fmt::format("{:.2f}ms", us / 1e3);
    return fmt::format("{:.2f}s", us / 1e6);
}

}  // namespace pb::loadgen
