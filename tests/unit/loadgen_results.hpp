// Constructed loadgen Results for the unit tests of the record
// (test_loadgen_verdict.cpp, test_loadgen_json.cpp): a closed loop and an open
// loop that kept up, and the changes that make one busy, late or short.
#pragma once

#include "result.hpp"

namespace pbtest::loadgen_results {

// A closed-loop result of 1 s: 10,000 requests, generator 50% busy.
inline pb::loadgen::Result closed_loop() {
    pb::loadgen::Result r;
    r.config.port = 9000;
    r.config.connections = 4;
    r.threads = 1;
    r.duration_s = 1.0;
    r.hosts.push_back({"h", "Linux 6", "cpu", 2});
    r.started_at = "2026-01-01T00:00:00Z";
    r.stats.requests = 10'000;
    r.stats.window_replies = 10'000;
    r.stats.latency.record(100'000, 10'000);  // 100 us, in ns
    r.stats.uncorrected_latency.record(100'000, 10'000);
    r.stats.max_thread_busy = 0.5;
    return r;
}

// An open-loop result that kept up: 1000 req/s planned and achieved, sends
// 10 us late at p99 (bound 1 ms).
inline pb::loadgen::Result open_loop() {
    pb::loadgen::Result r = closed_loop();
    r.config.rate = 1000.0;
    r.target_rps = 1000.0;
    r.stats.requests = 1000;
    r.stats.window_replies = 1000;
    r.stats.lateness.record(10'000, 1000);
    return r;
}

inline void make_busy(pb::loadgen::Result& r) {
    r.stats.max_thread_busy = 0.93;  // over 0.90, under the old 0.95
}
inline void make_late(pb::loadgen::Result& r) {
    r.stats.lateness.reset();
    r.stats.lateness.record(5'000'000, 1000);  // 5 ms, over --max-lateness 1ms
}
inline void make_short(pb::loadgen::Result& r) {
    r.stats.requests = 900;  // 90% of the plan
}

}  // namespace pbtest::loadgen_results
