// A Reactor serves connections on one EventLoop: accept (optionally), read,
// parse, run or hand off each request, write, and enforce every limit and
// deadline. The event-loop patterns differ only in how many Reactors they run,
// on which threads, and who accepts; that is what their server files show.
//
// Per connection, in order:
//   read → RequestReader → execute() inline, or dispatch to a worker → reply
//   appended to the output buffer → write; replies stay in request order.
//
// Limits: reading stops while a connection's unsent output exceeds
// --output-high-water (a client that never reads cannot grow our memory), a
// request must complete within --header-timeout of its first byte, an idle
// connection closes after --idle-timeout, and one whose peer stops reading
// closes after --write-timeout.
//
// Thread rules: a Reactor belongs to its loop's thread. Every method must be
// called in that thread; other threads reach it through EventLoop::post().
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "event_loop.hpp"
#include "options.hpp"
#include "request.hpp"
#include "stats.hpp"
#include "unique_fd.hpp"

namespace pb {

class Reactor {
public:
    // Names one connection across threads: the fd plus a serial number, so a
    // reply that arrives after its connection closed (and the fd was reused)
    // is recognised and dropped.
    struct ConnRef {
        int fd = -1;
        uint64_t serial = 0;
    };

    // Hands a parsed request to other threads. Returns false when it cannot
    // take it now (a full queue): the Reactor then stops reading that
    // connection and offers the request again on retry_dispatch().
    using Dispatcher = std::function<bool(ConnRef, const Request&)>;

    // What to do when accept() fails for lack of descriptors.
    enum class FdLimitPolicy {
        // Close a spare descriptor, accept and close the connection, reopen the
        // spare (the libev trick). The client sees a prompt close, not a hang,
        // and the listener stops being readable, so the loop cannot spin. Only
        // safe when this thread is the only one opening descriptors.
        kReserveFd,
        // Stop watching the listener for 100 ms; pending clients wait in the
        // backlog. Safe with any number of threads.
        kPause,
    };

    Reactor(EventLoop& loop, const ServerOptions& options, ThreadStats& stats);
    ~Reactor();
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    // Accepts connections from `listen_fd` on this loop. `flags` may hold
    // kExclusive for a listener shared by several loops. The caller keeps
    // ownership of listen_fd and must keep it open while this Reactor runs.
    void listen_on(int listen_fd, uint32_t flags, FdLimitPolicy policy);

    // Takes over a connection accepted elsewhere (already non-blocking), or
    // one accepted here. Closes it unserved and counts kConnectionCap when
    // this loop already holds --max-connections or is shutting down, or counts
    // kSocketOption when its socket options cannot be set (prepare_accepted()).
    void adopt(UniqueFd fd);

    // Passes every connection accepted here to `hand_off` instead of serving
    // it on this loop: an accept-only Reactor. --max-connections is then the
    // receiving loop's to enforce.
    using HandOff = std::function<void(UniqueFd)>;
    void set_hand_off(HandOff hand_off);

    // Sends requests to `dispatcher` instead of running them on the loop. At
    // most one request per connection is out at a time, which keeps replies
    // in order without a reorder buffer. The thread that runs a dispatched
    // request counts it in its own stats; this loop counts only bytes.
    void set_dispatcher(Dispatcher dispatcher);
    // The reply to a dispatched request (bytes built by write_reply()).
    void complete(ConnRef ref, Buffer reply);
    // The dispatcher has room again: offer the requests it refused.
    void retry_dispatch();

    // Stops accepting, lets requests in flight finish (a request whose bytes
    // are still arriving, or already wait unread in its socket, gets to
    // complete; connections still in the listen backlog are not accepted),
    // closes every connection once its output is sent, then calls
    // `on_drained` (also after --shutdown-timeout, closing whatever is left).
    void begin_shutdown(std::function<void()> on_drained);

    size_t connection_count() const { return open_; }

private:
    struct Connection;
    enum class Stop { kNeedMore, kBusy, kHighWater, kClosing };

    void on_acceptable();
    bool refuse_connection();
    void pause_listener();
    void on_event(int fd, uint32_t mask);
    void on_readable(Connection& c);
    Stop process(Connection& c, const char* data, size_t len, size_t& consumed);
    bool offer(Connection& c, const Request& r);
    void drive(Connection& c, const char* fresh, size_t fresh_len);
    bool flush(Connection& c);
    void update_interest(Connection& c);
    bool done(const Connection& c) const;
    void close(Connection& c);
    void sweep();
    void finish_drain();
    Connection* find(ConnRef ref);

    EventLoop& loop_;
    const ServerOptions& options_;
    ThreadStats& stats_;
    Dispatcher dispatcher_;
    HandOff hand_off_;

    int listen_fd_ = -1;
    uint32_t listen_flags_ = 0;
    FdLimitPolicy fd_policy_ = FdLimitPolicy::kPause;
    UniqueFd reserve_fd_;
    bool listener_paused_ = false;

    std::vector<std::unique_ptr<Connection>> conns_;  // indexed by fd
    std::vector<int> refused_;                        // fds whose request the dispatcher refused
    size_t open_ = 0;
    uint64_t next_serial_ = 1;
    std::vector<char> scratch_;  // one read buffer per loop, not per connection

    bool shutting_down_ = false;
    std::function<void()> on_drained_;
    EventLoop::TimerId sweep_timer_ = 0;
};

}  // namespace pb
