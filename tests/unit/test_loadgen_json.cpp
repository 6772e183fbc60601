// The loadgen record's JSON schema: a version-3 round trip (nanosecond
// histograms, bring-up, receive delay, the verdict), from_json reading
// hand-written version-1 and version-2 records (microsecond histograms), and
// merging an old record with a new one.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "loadgen_results.hpp"
#include "result.hpp"

namespace lg = pb::loadgen;
using namespace pbtest::loadgen_results;

TEST_CASE("schema 3 round-trips bring-up, receive delay and the verdict", "[loadgen][json]") {
    lg::Result r = open_loop();
    make_short(r);
    r.bringup = lg::Bringup{256, 250, 1.25};
    r.stats.recv_delay.record(7'000, 900);
    r.stats.recv_delay.record(40'000, 100);
    r.stats.unsent = 100;
    r.stats.latency.record(500'000'000, 100);
    r.config.busy_poll = true;
    r.config.bringup_timeout = std::chrono::seconds(3);

    std::string text = lg::to_json(r);
    lg::Result back = lg::from_json(text);
    CHECK(lg::to_json(back) == text);
    REQUIRE(back.bringup.has_value());
    CHECK(back.bringup->up == 250);
    CHECK_FALSE(back.bringup->complete());
    CHECK(back.stats.recv_delay.count() == 1000);
    CHECK(back.stats.recv_delay.value_at_percentile(99) == 40'000);
    CHECK(back.config.busy_poll);
    CHECK(back.config.bringup_timeout == std::chrono::seconds(3));
    CHECK(back.verdict().kind == lg::VerdictKind::kServerSaturated);

    auto j = lg::to_json_value(r);
    CHECK(j.at("schema_version").as_int() == 3);
    CHECK(j.at("bringup").at("connections").as_int() == 256);
    CHECK(j.at("bringup").at("seconds").as_double() == 1.25);
    CHECK_FALSE(j.at("bringup").at("complete").as_bool());
    CHECK(j.at("open_loop").at("unsent_recorded").as_bool());
    // Percentiles stay in microseconds, now with the nanoseconds as decimals: the
    // top of 7,000 ns's step (7,000-7,003).
    CHECK(j.at("generator").at("recv_delay_us").at("p50").as_double() == 7.003);
    CHECK(j.at("generator").at("recv_delay_us").at("histogram").at("unit").as_string() == "ns");

    // Merged records add their bring-ups.
    auto m = lg::merge({r, back});
    REQUIRE(m.bringup.has_value());
    CHECK(m.bringup->connections == 512);
    CHECK(m.bringup->up == 500);
    CHECK(m.bringup->seconds == 1.25);
    CHECK(m.stats.recv_delay.count() == 2000);

    // Versions this loadgen does not know are refused.
    std::string v4 = text;
    v4.replace(v4.find("\"schema_version\": 3"), 19, "\"schema_version\": 4");
    CHECK_THROWS(lg::from_json(v4));
}

TEST_CASE("from_json reads a version-1 record", "[loadgen][json]") {
    // Written by loadgen before schema 2: no bringup, no verdict, no receive
    // delay, no busy_poll/recv_timestamps/bringup_timeout in config.
    const std::string v1 = R"({
  "schema": "patternbench-loadgen", "schema_version": 1, "tool": "loadgen",
  "started_at": "2026-11-28T23:04:26Z", "runs": 1,
  "host": {"hostname": "vm", "kernel": "Linux 6.18", "cpu_model": "AMD EPYC", "cpus": 2},
  "hosts": [{"hostname": "vm", "kernel": "Linux 6.18", "cpu_model": "AMD EPYC", "cpus": 2}],
  "config": {"target": "127.0.0.1:9000", "connections": 4, "threads": 1, "duration": "2s",
    "warmup": "0s", "timeout": "2s", "rate": 1000.0, "arrival": "uniform", "pipeline": 1,
    "connect_per_request": false, "close": "fin", "protocol": "frame", "request_size": 0,
    "response_size": 13, "response_size_given": false, "spin_us": 0, "sleep_us": 0,
    "slow_fraction": 0.0, "slow_sleep_us": 0, "path": "/", "headers": [], "nodelay": true,
    "write_mode": "single", "split_at": 0, "write_chunk": 0, "quickack": false,
    "spectrum": false, "verify": true, "allow_errors": false, "max_lateness": "1ms",
    "seed": 1, "cpus": []},
  "threads": 1, "mode": "open", "duration_s": 2.0,
  "requests": 1900, "window_replies": 1900, "throughput_rps": 950.0,
  "bytes_read": 85500, "bytes_written": 121600, "sent": 1900, "dropped": 0,
  "slow_requests": 0, "connects": 4,
  "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0, "protocol": 0, "verify": 0,
             "status": 0, "total": 0},
  "error_samples": [], "ok": true,
  "open_loop": {"target_rps": 1000.0, "achieved_rps": 950.0, "arrival": "uniform",
    "unsent": 100, "could_not_keep_up": true,
    "reason": "achieved 950 req/s, under 99% of the planned 1000", "max_lateness_us": 1000,
    "lateness_us": {"count": 1900, "min": 3, "p50": 3, "p75": 3, "p90": 3, "p99": 3,
      "p99.9": 3, "p99.99": 3, "p99.999": 3, "max": 3, "mean": 3.0, "stdev": 0.0,
      "histogram": {"unit": "us", "lowest": 1, "highest": 3600000000,
        "significant_digits": 3, "saturated": 0, "buckets": [[3, 1900]]}}},
  "stalls": {"threshold_us": 30000, "count": 0},
  "latency_us": {"count": 1900, "min": 40, "p50": 40, "p75": 40, "p90": 40, "p99": 40,
    "p99.9": 40, "p99.99": 40, "p99.999": 40, "max": 40, "mean": 40.0, "stdev": 0.0,
    "histogram": {"unit": "us", "lowest": 1, "highest": 3600000000, "significant_digits": 3,
      "saturated": 0, "buckets": [[40, 1900]]}},
  "uncorrected_latency_us": {"count": 1900, "min": 35, "p50": 35, "p75": 35, "p90": 35,
    "p99": 35, "p99.9": 35, "p99.99": 35, "p99.999": 35, "max": 35, "mean": 35.0,
    "stdev": 0.0, "histogram": {"unit": "us", "lowest": 1, "highest": 3600000000,
      "significant_digits": 3, "saturated": 0, "buckets": [[35, 1900]]}},
  "fast_latency_us": null, "connect_latency_us": null, "first_byte_latency_us": null,
  "generator": {"cpu_seconds": 0.3, "max_thread_busy": 0.15, "saturated": false},
  "tcp_info": {"segs_out": 1904, "segs_in": 1904, "retransmits": 0, "connections": 4,
               "segs_out_per_request": 1.002, "segs_in_per_request": 1.002}
})";
    lg::Result r = lg::from_json(v1);
    CHECK(r.config.connections == 4);
    CHECK(r.target_rps == 1000.0);
    CHECK(r.stats.requests == 1900);
    CHECK(r.stats.unsent == 100);
    CHECK(r.stats.latency.count() == 1900);  // version 1 left the unsent out
    CHECK(r.stats.lateness.count() == 1900);
    CHECK(r.stats.max_thread_busy == 0.15);
    CHECK_FALSE(r.bringup.has_value());
    CHECK(r.stats.recv_delay.empty());
    CHECK_FALSE(r.config.recv_timestamps);  // it did not measure them
    CHECK_FALSE(r.config.busy_poll);
    CHECK(r.config.bringup_timeout == std::chrono::seconds(10));
    // The verdict is derived, so a version-1 record gets one too.
    CHECK(r.verdict().kind == lg::VerdictKind::kServerSaturated);

    // Its microseconds are read as nanoseconds.
    CHECK(r.stats.latency.value_at_percentile(50) == 40'000);
    CHECK(r.stats.uncorrected_latency.max() == 35'000);
    CHECK(r.stats.lateness.value_at_percentile(99) == 3'000);

    // Written back, it is a version-3 record.
    auto j = lg::to_json_value(r);
    CHECK(j.at("schema_version").as_int() == 3);
    CHECK(j.at("latency_us").at("p50").as_double() == 40.0);
    CHECK(j.at("latency_us").at("histogram").at("unit").as_string() == "ns");
    CHECK(j.at("latency_us").at("histogram").at("buckets").dump(-1) == "[[40000,1900]]");
    CHECK(j.at("bringup").is_null());
    CHECK(j.at("verdict").at("kind").as_string() == "server-saturated");
    CHECK(j.at("generator").at("recv_delay_us").is_null());
    // And it merges with version-2 records.
    auto m = lg::merge({r, lg::from_json(lg::to_json(r))});
    CHECK(m.stats.requests == 3800);
}

TEST_CASE("from_json reads a version-2 record and merges it with a version-3 one",
          "[loadgen][json]") {
    // Written by loadgen schema 2: whole-microsecond histograms ("unit": "us").
    const std::string v2 = R"({
  "schema": "patternbench-loadgen", "schema_version": 2, "tool": "loadgen",
  "started_at": "2026-12-01T10:00:00Z", "runs": 1,
  "host": {"hostname": "vm", "kernel": "Linux 6.18", "cpu_model": "AMD EPYC", "cpus": 2},
  "hosts": [{"hostname": "vm", "kernel": "Linux 6.18", "cpu_model": "AMD EPYC", "cpus": 2}],
  "config": {"target": "127.0.0.1:9000", "connections": 1, "threads": 1, "duration": "2s",
    "warmup": "0s", "timeout": "2s", "rate": 0.0, "arrival": "uniform", "pipeline": 1,
    "connect_per_request": false, "close": "fin", "protocol": "frame", "request_size": 0,
    "response_size": 13, "response_size_given": false, "spin_us": 0, "sleep_us": 0,
    "slow_fraction": 0.0, "slow_sleep_us": 0, "path": "/", "headers": [], "nodelay": true,
    "write_mode": "single", "split_at": 0, "write_chunk": 0, "quickack": false,
    "busy_poll": false, "recv_timestamps": true, "bringup_timeout": "10s",
    "spectrum": false, "verify": true, "allow_errors": false, "max_lateness": "1ms",
    "seed": 1, "cpus": []},
  "threads": 1, "mode": "closed", "duration_s": 2.0,
  "requests": 2000, "window_replies": 2000, "throughput_rps": 1000.0,
  "bytes_read": 90000, "bytes_written": 128000, "sent": 2000, "dropped": 0,
  "slow_requests": 0, "connects": 1,
  "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0, "protocol": 0, "verify": 0,
             "status": 0, "total": 0},
  "error_samples": [], "ok": true, "verdict": {"kind": "ok", "reason": ""},
  "bringup": {"connections": 1, "up": 1, "seconds": 0.001, "complete": true},
  "open_loop": null,
  "stalls": {"threshold_us": 30000, "count": 0},
  "latency_us": {"count": 2000, "min": 20, "p50": 21, "p75": 21, "p90": 21, "p99": 21,
    "p99.9": 45000, "p99.99": 45000, "p99.999": 45000, "max": 45010, "mean": 43.5,
    "stdev": 1000.0,
    "histogram": {"unit": "us", "lowest": 1, "highest": 3600000000, "significant_digits": 3,
      "saturated": 0, "buckets": [[20, 999], [21, 999], [44992, 2]]}},
  "uncorrected_latency_us": {"count": 2000, "min": 20, "p50": 21, "p75": 21, "p90": 21,
    "p99": 21, "p99.9": 45000, "p99.99": 45000, "p99.999": 45000, "max": 45010,
    "mean": 43.5, "stdev": 1000.0,
    "histogram": {"unit": "us", "lowest": 1, "highest": 3600000000, "significant_digits": 3,
      "saturated": 0, "buckets": [[20, 999], [21, 999], [44992, 2]]}},
  "fast_latency_us": null, "connect_latency_us": null, "first_byte_latency_us": null,
  "generator": {"cpu_seconds": 0.3, "max_thread_busy": 0.15, "saturated": false,
    "bound": false,
    "recv_delay_us": {"count": 2000, "min": 8, "p50": 8, "p75": 8, "p90": 8, "p99": 9,
      "p99.9": 9, "p99.99": 9, "p99.999": 9, "max": 9, "mean": 8.5, "stdev": 0.5,
      "histogram": {"unit": "us", "lowest": 1, "highest": 3600000000,
        "significant_digits": 3, "saturated": 0, "buckets": [[8, 1900], [9, 100]]}}},
  "tcp_info": {"segs_out": 2000, "segs_in": 2000, "retransmits": 0, "connections": 1,
               "segs_out_per_request": 1.0, "segs_in_per_request": 1.0}
})";
    lg::Result old = lg::from_json(v2);
    REQUIRE(old.bringup.has_value());
    CHECK(old.bringup->complete());
    const lg::Histogram& lat = old.stats.latency;
    CHECK(lat.count() == 2000);
    CHECK(lat.min() == 20'000);
    CHECK(lat.max() == 45'010'000);  // exact, though 44,992 us's step holds it
    CHECK(lat.value_at_percentile(50) == lg::Histogram::highest_equivalent(21'000));
    CHECK(lat.value_at_percentile(100) == 45'010'000);
    CHECK(old.stats.recv_delay.value_at_percentile(99) == 9'000);
    CHECK(lg::to_json_value(old).at("stalls").at("count").as_int() == 2);

    // A version-3 record of the same length: 1,000 round trips of 21.437 us.
    lg::Result now = closed_loop();
    now.duration_s = 2.0;
    now.stats.requests = now.stats.window_replies = 1000;
    now.stats.latency.reset();
    now.stats.uncorrected_latency.reset();
    now.stats.latency.record(21'437, 1000);
    now.stats.uncorrected_latency.record(21'437, 1000);
    now.stats.recv_delay.record(3'250, 1000);
    lg::Result now_back = lg::from_json(lg::to_json(now));

    lg::Result m = lg::merge({old, now_back});
    CHECK(m.runs == 2);
    CHECK(m.stats.requests == 3000);
    // Exact: the same counts as one histogram recording both in nanoseconds.
    lg::Histogram want;
    want.record(20'000, 999);
    want.record(21'000, 999);
    want.record(44'992'000);
    want.record(45'010'000);
    want.record(21'437, 1000);
    CHECK(m.stats.latency.count() == want.count());
    CHECK(m.stats.latency.min() == want.min());
    CHECK(m.stats.latency.max() == want.max());
    std::vector<std::pair<int64_t, int64_t>> got_b, want_b;
    m.stats.latency.for_each_bucket([&](int64_t v, int64_t c) { got_b.emplace_back(v, c); });
    want.for_each_bucket([&](int64_t v, int64_t c) { want_b.emplace_back(v, c); });
    CHECK(got_b == want_b);
    for (double p : {1.0, 33.3, 50.0, 66.6, 67.0, 90.0, 99.9, 99.99, 100.0})
        CHECK(m.stats.latency.value_at_percentile(p) == want.value_at_percentile(p));
    // Ranks 1-999: 20 us, 1000-1998: 21 us, 1999-2998: 21.437 us.
    CHECK(m.stats.latency.value_at_percentile(50) == lg::Histogram::highest_equivalent(21'000));
    CHECK(m.stats.latency.value_at_percentile(90) == lg::Histogram::highest_equivalent(21'437));
    CHECK(m.stats.recv_delay.count() == 3000);

    // Written out the merge is version 3, and reads back to the same numbers.
    auto j = lg::to_json_value(m);
    CHECK(j.at("schema_version").as_int() == 3);
    CHECK(j.at("latency_us").at("p90").as_double() ==
          lg::ns_to_us(lg::Histogram::highest_equivalent(21'437)));
    CHECK(j.at("latency_us").at("max").as_double() == 45'010.0);
    lg::Result m_back = lg::from_json(j.dump(2));
    CHECK(lg::to_json(m_back) == j.dump(2));
}
