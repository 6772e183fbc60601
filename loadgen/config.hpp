// What one load generator run does: the target, the load model, the workload and
// the TCP knobs. parse_args() builds it from a wrk-style command line; the bench
// harness may fill it directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pb::loadgen {

enum class Protocol { kFrame, kHttp };
enum class Arrival { kUniform, kPoisson };
enum class CloseMode { kFin, kRst };
// How one request reaches the socket: one write(); two write()s (the
// write-write-read pattern that meets Nagle + delayed ACK); one writev() of the
// two pieces; the two writes between TCP_CORK on and off; the first write with
// MSG_MORE; or many write()s of --write-chunk bytes (Nagle's upside).
enum class WriteMode { kSingle, kSplit, kWritev, kCork, kMsgMore, kChunks };

const char* to_string(Protocol p);
const char* to_string(Arrival a);
const char* to_string(CloseMode c);
const char* to_string(WriteMode w);
// "single", "split", "writev", "cork", "msg_more", "chunks". Throws ArgsError.
WriteMode parse_write_mode(const std::string& text);

using Duration = std::chrono::nanoseconds;

struct Config {
    // Target.
    std::string host = "127.0.0.1";
    uint16_t port = 0;

    // Load model.
    int connections = 10;
    int threads = 1;  // clamped to `connections`
    Duration duration = std::chrono::seconds(10);
    Duration warmup = Duration::zero();          // load that is applied but not recorded
    Duration timeout = std::chrono::seconds(2);  // per request, and per connect
    // Keep-alive modes: how long the start barrier waits for every connection's
    // first verified round trip before the run goes on with those that made it.
    Duration bringup_timeout = std::chrono::seconds(10);
    // CLOCK_REALTIME instant (seconds since the epoch) at which the load starts
    // (the warm-up, then the window), so that generators on several hosts measure
    // the same window; the start barrier runs before it. Unset: 2 ms after the
    // barrier releases. An instant already past when the barrier releases also
    // starts then (the record's window_start shows how late).
    std::optional<double> start_at;
    double rate = 0.0;  // requests/s over all connections; 0: closed loop
    Arrival arrival = Arrival::kUniform;
    // Requests in flight per connection: kept full in a closed loop; a cap in an
    // open loop (a send that comes due at the cap waits, its latency still
    // counted from the intended time).
    int pipeline = 1;
    bool connect_per_request = false;
    CloseMode close = CloseMode::kFin;

    // Workload.
    Protocol protocol = Protocol::kFrame;
    uint32_t request_size = 0;              // request body bytes
    std::optional<uint32_t> response_size;  // unset: 13 bytes ("Hello, World!" in http)
    uint32_t spin_us = 0;
    uint32_t sleep_us = 0;
    double slow_fraction = 0.0;  // share of requests that sleep slow_sleep_us instead
    uint32_t slow_sleep_us = 0;
    std::string path = "/";            // http only: the path before the query string
    std::vector<std::string> headers;  // http only: extra "Name: value" lines

    // TCP knobs.
    bool nodelay = true;
    WriteMode write_mode = WriteMode::kSingle;
    uint32_t split_at = 0;  // first piece for split/writev/cork/msg_more; 0: header|body boundary
    uint32_t write_chunk = 0;  // kChunks: bytes per write()
    bool quickack = false;
    // TCP_FASTOPEN_CONNECT: connect() returns at once and the first write goes out
    // in the SYN, when this host holds the server's cookie (one earlier handshake
    // with it fetched one); else the handshake is the usual one and asks for a cookie.
    bool fastopen = false;
    // Spin on epoll_wait(timeout 0) instead of sleeping in it: no wake-up latency,
    // one CPU per thread burnt.
    bool busy_poll = false;
    // SO_TIMESTAMPNS on the client sockets: each reply's generator receive delay
    // (user-space read time minus the kernel's receive timestamp).
    bool recv_timestamps = true;

    // Checks and reporting.
    bool verify = true;  // false: check framing, ids and status only, not payload bytes
    bool allow_errors = false;
    Duration max_lateness = std::chrono::milliseconds(1);  // p99 send lateness bound
    uint64_t seed = 1;
    std::vector<int> cpus;  // pin thread i to cpus[i % size]; empty: no pinning
    std::string json_path;
    bool quiet = false;     // no human summary
    bool spectrum = false;  // the summary adds HdrHistogram's full percentile spectrum

    bool open_loop() const { return rate > 0.0; }
    // The reply body the workload asks for, in bytes.
    uint32_t reply_bytes() const { return response_size.value_or(13); }
};

// Bad command line or config. what() is the message for the user.
class ArgsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// --help or --version: what() is the text to print, and it is not an error.
class HelpRequested : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parses the arguments after the program name ("127.0.0.1:8080", "-c", "64", ...).
// Throws ArgsError or HelpRequested.
Config parse_args(const std::vector<std::string>& args);

// Rejects contradictory or out-of-range settings. Throws ArgsError.
void validate(const Config& config);

// "500ms", "2s", "1m", "1h", "250us", "3" (seconds). Throws ArgsError.
Duration parse_duration(const std::string& text);
std::string format_duration(Duration d);

}  // namespace pb::loadgen
