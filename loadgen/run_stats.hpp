// What one load generator thread counts. Each thread owns one RunStats and touches
// nothing shared while it runs; run() adds them together after join.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "error_counts.hpp"
#include "histogram.hpp"

namespace pb::loadgen {

enum class ErrorClass : uint8_t {
    kConnect,   // socket/connect failed or was refused
    kRead,      // read failed, or the peer closed with requests in flight
    kWrite,     // write failed
    kTimeout,   // no reply (or no connect) within --timeout
    kProtocol,  // the reply was not well-formed
    kVerify,    // the reply was well-formed but wrong: id, length or payload bytes
    kStatus,    // http: a status other than 200
    kCount
};
const char* to_string(ErrorClass e);  // the JSON key: "connect", "read", ...

using ErrorCounts = pb::ErrorCounts<ErrorClass>;

// Segment counts from TCP_INFO, summed over connections (Linux; zero elsewhere).
struct TcpCounters {
    uint64_t segs_out = 0;
    uint64_t segs_in = 0;
    uint64_t retransmits = 0;
    uint64_t connections = 0;  // connections that contributed
    void add(const TcpCounters& other);
};

struct RunStats {
    // Every histogram holds nanoseconds. Latency of each measured request: in a
    // closed loop the two are the same, with no plan there is no intended send
    // time to correct to.
    Histogram latency;              // from the intended send time; open loop: + unsent
    Histogram uncorrected_latency;  // from the moment the request was written
    Histogram fast_latency;         // corrected, only the non-slow requests (--slow-fraction)
    Histogram lateness;             // open loop: how late the generator sent
    Histogram connect_latency;      // --connect-per-request: connect() to established
    Histogram first_byte_latency;   // --connect-per-request: connect() to the first reply byte
    // Per measured reply: user-space read time minus the kernel receive timestamp
    // of the read that completed it (SO_TIMESTAMPNS): how long the generator took
    // to pick up a reply that had already arrived.
    Histogram recv_delay;

    uint64_t requests = 0;        // measured replies, all verified
    uint64_t window_replies = 0;  // verified replies that arrived inside the window
    uint64_t slow_requests = 0;   // of which asked for --slow-sleep-us
    uint64_t sent = 0;            // measured requests written
    uint64_t unsent = 0;          // open loop: due in the window but never sent (in `latency`)
    uint64_t dropped = 0;         // measured requests lost with a failed connection
    // When each dropped request was written (CLOCK_MONOTONIC ns), the first
    // kMaxDroppedTimes: a harness that stopped the server at a known moment
    // tells requests in flight then from requests sent to a server already gone.
    std::vector<int64_t> dropped_sent_ns;
    // Replies with a well-formed id that is not the oldest in flight on their
    // connection (each also a verify error, which ends the connection): one
    // still in flight further back came early (reordered), or one answered
    // before came again (duplicate).
    uint64_t reorders = 0;
    uint64_t duplicates = 0;
    uint64_t bytes_read = 0;  // during the measured window
    uint64_t bytes_written = 0;
    uint64_t connects = 0;                   // connections established, whole run
    ErrorCounts errors;                      // whole run, warm-up included: errors are never hidden
    std::vector<std::string> error_samples;  // the first few messages
    TcpCounters tcp;
    // The generator's own CPU during the window: summed, and the busiest thread's
    // share of the window (merged as the maximum).
    double generator_cpu_seconds = 0.0;
    double max_thread_busy = 0.0;

    static constexpr size_t kMaxErrorSamples = 8;
    static constexpr size_t kMaxDroppedTimes = 1 << 16;
    void add(const RunStats& other);
};

}  // namespace pb::loadgen
