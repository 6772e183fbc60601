// The client of the Nagle's-upside experiment: each frame request leaves as many
// small write() calls (50 x 20 bytes by default), the pattern of a program that
// writes a message field by field. loadgen writes a request in at most two
// pieces, so this client is its own: blocking sockets, `pipeline` requests kept
// in flight per connection, every reply verified. It fills a loadgen Result so
// the case file has the same record as every other case.
#pragma once

#include <cstdint>
#include <string>

#include "loadgen.hpp"

namespace pb::bench {

struct SmallWritesConfig {
    std::string host = "127.0.0.1";
    uint16_t port = 0;
    int writes = 50;       // write() calls per request
    int write_bytes = 20;  // bytes per call; the request is writes * write_bytes bytes
    uint32_t reply_len = 34;
    int pipeline = 1;  // requests in flight
    bool nodelay = false;
    loadgen::Duration warmup{};
    loadgen::Duration duration{};
};

// The client socket's data counters over the window (Linux TCP_INFO): data
// bytes and the segments that carried data, which segs_out does not separate
// from the pure ACKs of the replies.
struct SmallWritesSent {
    uint64_t bytes = 0;      // tcpi_bytes_sent, retransmissions included
    uint64_t data_segs = 0;  // tcpi_data_segs_out
    uint32_t mss = 0;        // tcpi_snd_mss at the end
};

struct SmallWritesRun {
    loadgen::Result result;
    SmallWritesSent sent;
};

// Runs one connection for warmup + duration. Throws std::runtime_error when the
// connection fails or a reply is wrong: the experiment has nothing to say then.
SmallWritesRun run_small_writes_counted(const SmallWritesConfig& config);
inline loadgen::Result run_small_writes(const SmallWritesConfig& config) {
    return run_small_writes_counted(config).result;
}

}  // namespace pb::bench
