// Per-thread server counters. Each thread owns one ThreadStats and is the only
// writer; the main thread reads them after join (or after the owning loop has
// stopped). The counters a SIGUSR1 snapshot reads while the owner runs,
// requests, accepted and the system calls by kind, are Counters; the rest are
// plain integers.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "error_counts.hpp"

namespace pb {

enum class ErrorKind : uint8_t {
    kProtocol,       // bad frame header or body, malformed HTTP (400/501/505)
    kTooLarge,       // frame or HTTP body/line/headers above a limit (413/414/431)
    kHeaderTimeout,  // request not complete within --header-timeout of its first byte
    kIdleTimeout,    // keep-alive connection idle past --idle-timeout
    kWriteTimeout,   // peer did not read for --write-timeout
    kRead,           // read() failed: ECONNRESET and friends
    kWrite,          // write() failed: EPIPE, ECONNRESET
    kAcceptAborted,  // accept() skipped a connection that died first
    kAcceptFdLimit,  // accept() hit EMFILE/ENFILE: connection shed
    kConnectionCap,  // over --max-connections: accepted and closed
    kThreadCap,      // over --max-threads (thread-per-conn)
    kThreadCreate,   // pthread_create failed (thread-per-conn)
    kSocketOption,   // setsockopt on an accepted connection failed: closed unserved
    kCount
};
const char* to_string(ErrorKind kind);  // the stats file's key: "protocol", "too_large", ...

// A counter with one writing thread that other threads may read at any time.
// With a single writer a relaxed load and store is enough: no locked
// read-modify-write, so `++counter` costs what it costs on a plain uint64_t.
class Counter {
public:
    Counter() = default;
    Counter(const Counter& other) : value_(other.load()) {}
    Counter& operator=(const Counter& other) {
        value_.store(other.load(), std::memory_order_relaxed);
        return *this;
    }

    uint64_t load() const { return value_.load(std::memory_order_relaxed); }
    operator uint64_t() const { return load(); }
    // Owner thread only.
    Counter& operator+=(uint64_t n) {
        value_.store(load() + n, std::memory_order_relaxed);
        return *this;
    }
    Counter& operator++() { return *this += 1; }

private:
    std::atomic<uint64_t> value_{0};
};

// The system calls a server makes per request, by kind (servers/README.md,
// "System calls"), counted by the calling thread at each call site, failed
// calls (EAGAIN) included: they cost a trip into the kernel all the same.
enum class Syscall : uint8_t {
    kRead,    // recv()/read() on a connection
    kWrite,   // send()/write()/writev() on a connection
    kPoll,    // epoll_wait()/kevent(), or poll() in a blocking server: waiting for readiness
    kAccept,  // accept()/accept4(), whatever it returned
    // A hand-off between threads: an eventfd (pipe) write that wakes a loop and
    // the read that drains it; a condition variable's notify and wait (either
    // may or may not reach futex()).
    kWakeup,
    // io_uring_enter(): submitting and waiting in one call, for a server that
    // does its I/O through io_uring (server-uring), whose reads, writes and
    // accepts are then not system calls of their own.
    kUringEnter,
    kCount
};
const char* to_string(Syscall kind);  // the stats file's key: "read", "write", ...

// One Counter per Syscall kind: a snapshot reads them while the owner counts.
class SyscallCounts {
public:
    Counter& operator[](Syscall k) { return counts_[static_cast<size_t>(k)]; }
    uint64_t operator[](Syscall k) const { return counts_[static_cast<size_t>(k)].load(); }
    uint64_t total() const;
    void add(const SyscallCounts& other);
    // Calls f(kind, count) for every kind, in the enum's order.
    template <typename F>
    void for_each(F&& f) const {
        for (size_t i = 0; i < counts_.size(); ++i) f(static_cast<Syscall>(i), counts_[i].load());
    }

private:
    std::array<Counter, static_cast<size_t>(Syscall::kCount)> counts_{};
};

struct ThreadStats {
    std::string role = "loop";  // "loop", "acceptor", "worker", "connection", ...
    Counter accepted;
    Counter requests;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t futile_wakeups = 0;  // listener readable, but accept() found nothing
    uint64_t connections_closed = 0;
    uint64_t peak_connections = 0;
    uint64_t output_high_water = 0;  // most bytes buffered for one connection
    uint64_t queue_high_water = 0;   // worker-queue depth, where there is one
    ErrorCounts<ErrorKind> errors;
    SyscallCounts syscalls;

    void count(ErrorKind kind) { ++errors[kind]; }
    // Owner thread only: one system call of `kind` made.
    void count(Syscall kind) { ++syscalls[kind]; }
    uint64_t error_count(ErrorKind kind) const { return errors[kind]; }
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
// Writes stats_json() to `path` with write_file_atomic() (files.hpp): a reader
// never sees half a file. Throws std::system_error on failure.
void write_stats_file(const std::string& path, const ProcessStats& process,
                      const std::vector<ThreadStats>& threads);

// Threads in this process right now (from /proc/self/status; 0 if unknown).
uint64_t current_thread_count();

// SIGUSR1 snapshots (servers/README.md): the process-wide list of the threads
// whose requests, accepted and syscalls counters a snapshot reads. Every registration
// is listed under an id, in registration order, and stays listed after it
// ends, its final counts kept, so a snapshot's totals include exited threads.
// Registering and unregistering take a mutex: once per thread, never per request.
//
// Any thread may register; `stats` must outlive the registration, its role is
// read when registering, and only its requests, accepted and syscalls are read
// after that.
class StatsRegistration {
public:
    // A thread of its own: a new entry with the next id.
    explicit StatsRegistration(const ThreadStats& stats);
    // One of many short-lived threads summed into the entry `group`.
    StatsRegistration(const ThreadStats& stats, size_t group);
    StatsRegistration(StatsRegistration&& other) noexcept;
    ~StatsRegistration();  // folds the counts into the entry
    StatsRegistration(const StatsRegistration&) = delete;
    StatsRegistration& operator=(const StatsRegistration&) = delete;
    StatsRegistration& operator=(StatsRegistration&&) = delete;

private:
    const ThreadStats* stats_;
    size_t entry_;
};

// A new entry, listed with `role`, that sums every thread registered into it,
// live and finished (thread-per-conn's connection threads). Returns its id.
size_t add_stats_group(const std::string& role);

// Creates (or truncates) `path` and appends a snapshot to it on every
// write_snapshot() from then on. Throws std::system_error on failure.
void open_snapshot_file(const std::string& path);

// Any thread (the one taking signals, on SIGUSR1). Appends one line to the
// snapshot file with a single write(2) on an O_APPEND descriptor; does nothing
// before open_snapshot_file(). The line:
//   {"seq", "t_ns" (CLOCK_MONOTONIC), "utime_us", "stime_us", "nvcsw",
//    "nivcsw", "maxrss_kb" (getrusage RUSAGE_SELF), "threads_now",
//    "requests", "accepted", "syscalls": {"read", "write", ...} (process totals),
//    "per_thread": [{"id", "role", "requests", "accepted"}, ...]}
void write_snapshot();

}  // namespace pb
