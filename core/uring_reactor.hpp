// A UringReactor serves connections on one io_uring: the completion-based
// counterpart of EventLoop + Reactor (reactor.hpp). Where the Reactor asks
// epoll which sockets are *ready* and then reads and writes them itself, a
// UringReactor queues operations and is told when they have *completed*:
//
//   multishot accept ─> new connection ─> multishot recv into a buffer the
//   ring provides ─> RequestReader → execute() → reply appended to the output
//   buffer ─> send (one in flight per connection) ─> completion ─> next send
//
// One io_uring_enter() submits everything queued since the last one and waits
// for the next completions, so a busy ring makes a handful of system calls
// per batch of requests, not two or three per request.
//
// Limits, as the Reactor's: reading stops (the receive is cancelled) while a
// connection's unsent output exceeds --output-high-water, a request must
// complete within --header-timeout of its first byte, an idle connection
// closes after --idle-timeout, one whose send has not completed for
// --write-timeout closes, --max-connections per ring, EMFILE pauses accepting
// for 100 ms. The deadlines are checked by a sweep that an io_uring timeout
// operation wakes, not by a timer thread.
//
// Thread rules: everything but post_shutdown() belongs to the thread that
// calls run() (setup() too, for a ring created with SINGLE_ISSUER belongs to
// the thread that made it). post_shutdown() may be called from any thread.
#pragma once

#include <linux/time_types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clock.hpp"
#include "options.hpp"
#include "stats.hpp"
#include "wake_fd.hpp"

struct io_uring;
struct io_uring_sqe;
struct io_uring_buf_ring;

namespace pb {

struct UringOptions {
    // IORING_SETUP_SQPOLL: a kernel thread polls the submission queue, so
    // submitting needs no system call while it is awake (it spins for up to
    // 50 ms after the last submission, on a CPU of its own choosing).
    bool sqpoll = false;
    // Registered ("fixed") descriptors: connections are accepted straight into
    // the ring's file table and never get a descriptor of the process, which
    // saves the per-operation file lookup. TCP_NODELAY then comes from the
    // listener (accepted sockets inherit it) instead of a setsockopt per
    // connection, so --fail-setsockopt-every has nothing to fail.
    bool fixed_files = false;
};

// Empty when this machine can run a UringReactor; otherwise why not, in one
// line (io_uring missing or forbidden, an operation the kernel lacks, or the
// test switch PB_SIMULATE_NO_URING=1 in the environment).
std::optional<std::string> uring_unavailable_reason();

class UringReactor {
public:
    // Serves connections accepted from `listen_fd`, which the caller keeps
    // open until run() returns.
    UringReactor(const ServerOptions& options, const UringOptions& uring, ThreadStats& stats,
                 int listen_fd);
    ~UringReactor();
    UringReactor(const UringReactor&) = delete;
    UringReactor& operator=(const UringReactor&) = delete;

    // Creates the ring, its buffers and (with fixed files) its file table.
    // Throws std::system_error naming the call that failed. Call on the thread
    // that will call run().
    void setup();
    // Serves until a shutdown has drained every connection.
    void run();

    // Before run(): also take `fd` readable events (the signal descriptor),
    // calling `on_ready` on this ring's thread.
    void watch(int fd, std::function<void()> on_ready);

    // Any thread. Stops accepting, lets requests in flight finish (a request
    // whose bytes already reached the socket gets to complete), closes every
    // connection once its output is sent, then run() returns (also after
    // --shutdown-timeout, closing whatever is left).
    void post_shutdown();

private:
    struct Connection;
    enum class Op : uint8_t;
    enum class Stop { kNeedMore, kHighWater, kClosing };

    io_uring_sqe* sqe(Op op, uint32_t slot = 0);
    void submit_pending();
    // Waits for one completion at least, or `at_most` when given.
    void wait_for_completions(std::optional<Clock::duration> at_most = std::nullopt);
    void reap();
    void after_batch();
    void complete(uint64_t user_data, int res, uint32_t flags);

    void arm_accept();
    void cancel_accept();
    bool accept_room() const;
    bool room_for_backlog() const;
    void on_accept(int res, uint32_t flags);
    void adopt(int fd);
    void close_unserved(int fd);

    void arm_recv(uint32_t slot);
    void on_recv(uint32_t slot, int res, uint32_t flags);
    void give_back(uint16_t buffer_id);
    void on_send(uint32_t slot, int res);
    void start_send(uint32_t slot);

    Stop process(Connection& c, const char* data, size_t len, size_t& consumed);
    void drive(uint32_t slot, const char* fresh, size_t fresh_len);
    bool done(const Connection& c) const;
    void update_io(uint32_t slot);
    void close(uint32_t slot);
    void release_closed();

    void arm_timer(Op op, Clock::duration after);
    void sweep();
    void begin_shutdown();
    void drain_pass();

    const ServerOptions& options_;
    const UringOptions uring_;
    ThreadStats& stats_;
    const int listen_fd_;

    std::unique_ptr<io_uring> ring_;
    bool ring_ready_ = false;
    io_uring_buf_ring* buf_ring_ = nullptr;
    size_t buf_ring_bytes_ = 0;
    std::vector<char> buffers_;  // the provided receive buffers, back to back
    Clock::time_point now_;
    // Timeouts read their timespec when submitted: one per kind of timer until then.
    std::array<__kernel_timespec, 16> timer_specs_{};

    std::vector<std::unique_ptr<Connection>> slots_;  // indexed by the slot in user_data
    std::vector<uint32_t> free_slots_;
    std::vector<uint32_t> closing_;  // closed, waiting for their operations to complete
    std::vector<uint32_t> rearm_;    // receives ended for lack of buffers: re-armed after the batch
    size_t open_ = 0;

    bool accept_armed_ = false;
    bool accept_paused_ = false;
    bool accept_multishot_ = false;  // the armed accept is a multishot one
    bool accept_cancelled_ = false;  // and its cancel is on its way
    unsigned file_slots_ = 0;        // fixed files: the ring's file table
    unsigned files_in_use_ = 0;      // fixed files: accepted and not yet closed
    size_t closes_in_flight_ = 0;

    int watch_fd_ = -1;
    std::function<void()> on_watch_;

    WakeFd wake_;
    uint64_t wake_value_ = 0;  // the eventfd read's target
    std::atomic<bool> shutdown_requested_{false};
    bool shutting_down_ = false;
    bool drain_pending_ = false;
    bool stopped_ = false;
};

}  // namespace pb
