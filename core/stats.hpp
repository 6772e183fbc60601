// Per-thread server counters. Each thread owns one ThreadStats and is the only
// writer; the main thread reads them after join (or after the owning loop has
// stopped), so no atomics are needed on the hot path.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace pb {

enum class ErrorKind : uint8_t {
    kProtocol,        // bad frame header or body, malformed HTTP (400/501/505)
    kTooLarge,        // frame or HTTP body/line/headers above a limit (413/414/431)
    kHeaderTimeout,   // request not complete within --header-timeout of its first byte
    kIdleTimeout,     // keep-alive connection idle past --idle-timeout
    kWriteTimeout,    // peer did not read for --write-timeout
    kRead,            // read() failed: ECONNRESET and friends
    kWrite,           // write() failed: EPIPE, ECONNRESET
    kAcceptAborted,   // accept() skipped a connection that died first
    kAcceptFdLimit,   // accept() hit EMFILE/ENFILE: connection shed
    kConnectionCap,   // over --max-connections: accepted and closed
    kThreadCap,       // over --max-threads (thread-per-conn)
    kThreadCreate,    // pthread_create failed (thread-per-conn)
    kCount
};
inline constexpr size_t kErrorKinds = static_cast<size_t>(ErrorKind::kCount);
const char* to_string(ErrorKind kind);

struct ThreadStats {
    std::string role = "loop";  // "loop", "acceptor", "worker", "connection", ...
    uint64_t accepted = 0;
    uint64_t requests = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t futile_wakeups = 0;  // listener readable, but accept() found nothing
    uint64_t connections_closed = 0;
    uint64_t peak_connections = 0;
    uint64_t output_high_water = 0;  // most bytes buffered for one connection
    uint64_t queue_high_water = 0;   // worker-queue depth, where there is one
    std::array<uint64_t, kErrorKinds> errors{};

    void count(ErrorKind kind) { ++errors[static_cast<size_t>(kind)]; }
    uint64_t error_count(ErrorKind kind) const { return errors[static_cast<size_t>(kind)]; }
    void add(const ThreadStats& other);
};

// Process-wide figures that are not per thread.
struct ProcessStats {
    std::string pattern;
    std::string protocol;
    uint64_t peak_threads = 0;
    double wall_seconds = 0;
};

// Renders the stats file: {"pattern", "protocol", "peak_threads", "threads": [...],
// "total": {...}}. Every per-thread object has the same keys as "total".
std::string stats_json(const ProcessStats& process, const std::vector<ThreadStats>& threads);
// Writes stats_json() to `path` via a temporary file and rename, so a reader
// never sees half a file. Throws std::system_error on failure.
void write_stats_file(const std::string& path, const ProcessStats& process,
                      const std::vector<ThreadStats>& threads);

// Threads in this process right now (from /proc/self/status; 0 if unknown).
uint64_t current_thread_count();

}  // namespace pb
