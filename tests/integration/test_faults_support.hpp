// Helpers shared by the fault tests (test_faults*.cpp): the servers and
// protocols a case runs on, a stats-file reader, polling waits, socket tricks
// (tiny buffers, RST on close, non-blocking connect, a peek at the peer),
// requests and verified replies in either protocol, a sampler for a server's
// peak descriptors, threads and RSS, and the figures log that tests/README.md
// is written from.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "server_process.hpp"
#include "temp_path.hpp"
#include "unique_fd.hpp"

namespace pbtest::faults {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Sanitizer builds run the servers several times slower; tests that bound a
// latency scale the bound by this, never the property they check.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(PB_TSAN_BUILD)
inline constexpr int kSlow = 3;
#else
inline constexpr int kSlow = 1;
#endif

// One server binary in one protocol: the cases whose fault depends on the
// protocol run on every such pair.
struct ServerInProtocol {
    std::string binary;
    std::string protocol;  // "frame" or "http"
    bool http() const { return protocol == "http"; }
    // "--threads 2 --protocol <protocol>", then `more`.
    std::vector<std::string> args(std::vector<std::string> more = {}) const;
};
std::ostream& operator<<(std::ostream& os, const ServerInProtocol& s);

// Every server of all_servers(), each in frame and then in HTTP: for
// GENERATE(from_range(...)).
const std::vector<ServerInProtocol>& every_server_in_both_protocols();

// Raises this process's soft RLIMIT_NOFILE to its hard limit (once), so a test
// can hold thousands of client sockets. Returns the soft limit now in force.
long raise_own_fd_limit();

// A scratch file path for --stats-file (temp_path.hpp).
using pbtest::TempPath;

// The stats file a server writes on exit. Only the "total" object is read:
// a counter, a high-water mark or an error count by its key.
struct Stats {
    std::string text;
    bool ok() const { return text.find("\"total\": ") != std::string::npos; }
    // "requests", "output_high_water", "write_timeout", ... in "total"; -1 if absent.
    int64_t total(const std::string& key) const;
    int64_t peak_threads() const;
};
Stats read_stats(const std::string& path);

// Polls `done` every `step` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = 10ms);

// Reads `count` every `step` until two readings in a row agree or `timeout`
// passes, and returns the last reading: a figure at rest.
size_t settled(const std::function<size_t()>& count, std::chrono::milliseconds timeout = 2s,
               std::chrono::milliseconds step = 50ms);

// Waits for the server's open descriptors to come down to `n`; returns the
// last count seen.
size_t wait_for_fds(const ServerProcess& server, size_t n, std::chrono::milliseconds timeout);

// Serves one request first (so anything opened lazily is counted), waits for
// the count to hold still, and returns the server's descriptors at rest.
size_t settled_fds(const ServerProcess& server, bool http);

// Opens a connection, optionally with SO_RCVBUF / SO_SNDBUF set before connect
// (so the window is small from the handshake on). 0 keeps the default.
pb::UniqueFd connect_with_buffers(uint16_t port, int rcvbuf, int sndbuf);

// Starts a non-blocking connect; the fd may still be connecting.
pb::UniqueFd connect_nonblocking(uint16_t port);

// Closes with SO_LINGER {1, 0}: the peer gets an RST, not a FIN.
void close_with_rst(pb::UniqueFd& fd);

// What the peer did on a socket we have not read from: sent bytes, closed (EOF
// or RST), or nothing yet. Reads nothing.
enum class Peer { kData, kClosed, kQuiet };
Peer peek_peer(int fd);

// True if the peer sent a clean FIN: recv() returns 0 before any more bytes,
// an RST or `timeout`. Bytes that do arrive are counted into `extra`.
bool wait_eof(int fd, std::chrono::milliseconds timeout, size_t& extra);

// One frame round trip on `fd`, body and reply of `size` bytes, verified.
bool round_trip(int fd, uint64_t id, uint32_t size = 64, std::chrono::milliseconds timeout = 5s);
// A fresh connection, one round trip in the given protocol.
bool serves_frame(uint16_t port, uint64_t id);
bool serves_http(uint16_t port);

// A fresh connection, one round trip in either protocol.
bool round_trip_any(bool http, uint16_t port);

std::string http_get(const std::string& target, const std::string& extra = "");

// A request for a `reply`-byte reply in either protocol (GET /r?size=... or a
// frame with that id), optionally sleeping `sleep_us` in the server.
std::string request_for(bool http, uint64_t id, uint32_t reply, uint32_t sleep_us = 0);
// Reads the reply to request_for() and verifies every byte; the reply's bytes
// are added to `lost` when it did not arrive intact.
bool read_reply(bool http, int fd, uint64_t id, uint32_t reply, uint64_t& lost,
                std::chrono::milliseconds timeout = 10s);

// How a connection's one frame request ended.
enum class Outcome { kAnswered, kRefused, kBroken };
// Sends one frame request (a 16-byte body, `reply` bytes back) and reads its
// reply. A connection closed (EOF or RST) before any reply byte was refused;
// anything else short of the verified reply is broken.
Outcome ask(int fd, uint64_t id, uint32_t reply = 64, uint32_t sleep_us = 0,
            std::chrono::milliseconds timeout = 5s);

// Samples a running server's descriptors, threads and RSS every 20 ms on a
// background thread and keeps the peaks, from construction to stop().
class PeakSampler {
public:
    explicit PeakSampler(const ServerProcess& server);
    ~PeakSampler();
    PeakSampler(const PeakSampler&) = delete;
    PeakSampler& operator=(const PeakSampler&) = delete;
    void stop();

    size_t fds() const { return fds_.load(); }
    size_t threads() const { return threads_.load(); }
    long rss_kb() const { return rss_kb_.load(); }

private:
    const ServerProcess& server_;
    std::atomic<bool> stop_{false};
    std::atomic<size_t> fds_{0};
    std::atomic<size_t> threads_{0};
    std::atomic<long> rss_kb_{0};
    std::thread thread_;
};

// One test case against one server: samples its peaks from the start, counts
// the faults tried and the reply bytes lost, and at the end checks the exit
// (0, no sanitizer report) and records every figure.
class FaultRun {
public:
    FaultRun(std::string test_case, const ServerProcess& server);
    void tried(uint64_t n = 1) { tried_ += n; }
    void lost(uint64_t bytes) { lost_ += bytes; }
    const PeakSampler& peaks() const { return sampler_; }

    // SIGTERM, then the checks every fault test ends with.
    void stop(ServerProcess& server);
    // For a server the test already signalled: `exit_code` as wait() gave it.
    void finish(ServerProcess& server, int exit_code);

private:
    std::string test_case_;
    uint64_t tried_ = 0;
    uint64_t lost_ = 0;
    PeakSampler sampler_;
};

// Appends one measured figure to the file named by $PB_FAULT_FIGURES (if set):
// "case<TAB>server<TAB>what<TAB>value". tests/README.md tabulates a run of it.
void record_figure(const std::string& test_case, const std::string& server, const std::string& what,
                   double value);

}  // namespace pbtest::faults
