#include "run_stats.hpp"

#include <algorithm>
#include <array>

namespace pb::loadgen {

namespace {

constexpr auto kErrorClassNames =
    std::to_array({"connect", "read", "write", "timeout", "protocol", "verify", "status"});

}  // namespace

const char* to_string(ErrorClass e) {
    return error_name(e, kErrorClassNames);
}

void TcpCounters::add(const TcpCounters& other) {
    segs_out += other.segs_out;
    segs_in += other.segs_in;
    retransmits += other.retransmits;
    connections += other.connections;
}

void RunStats::add(const RunStats& other) {
    latency.add(other.latency);
    uncorrected_latency.add(other.uncorrected_latency);
    fast_latency.add(other.fast_latency);
    lateness.add(other.lateness);
    connect_latency.add(other.connect_latency);
    first_byte_latency.add(other.first_byte_latency);
    recv_delay.add(other.recv_delay);
    requests += other.requests;
    window_replies += other.window_replies;
    slow_requests += other.slow_requests;
    sent += other.sent;
    unsent += other.unsent;
    dropped += other.dropped;
    for (int64_t t : other.dropped_sent_ns) {
        if (dropped_sent_ns.size() >= kMaxDroppedTimes) break;
        dropped_sent_ns.push_back(t);
    }
    reorders += other.reorders;
    duplicates += other.duplicates;
    bytes_read += other.bytes_read;
    bytes_written += other.bytes_written;
    connects += other.connects;
    errors.add(other.errors);
    for (const auto& s : other.error_samples) {
        if (error_samples.size() >= kMaxErrorSamples) break;
        error_samples.push_back(s);
    }
    tcp.add(other.tcp);
    generator_cpu_seconds += other.generator_cpu_seconds;
    max_thread_busy = std::max(max_thread_busy, other.max_thread_busy);
}

}  // namespace pb::loadgen
