// Blocking I/O for the patterns that give a thread to a connection or to an
// accept() call: serve one connection straight through on the calling thread,
// block in accept(), and wake every such thread at shutdown. The limits match
// the Reactor's, so every pattern answers the same client the same way:
// --header-timeout counted from a request's first byte, --idle-timeout between
// requests, --write-timeout while the peer does not read, a bounded output
// buffer, half-close answered, MSG_NOSIGNAL.
//
// Thread rules: every function may run on any thread; a ThreadStats passed in
// must belong to the calling thread.
#pragma once

#include <atomic>

#include "options.hpp"
#include "stats.hpp"
#include "unique_fd.hpp"
#include "wake_fd.hpp"

namespace pb {

class ShutdownSignal;

// Raised once, at shutdown, from any thread. Its descriptor then stays readable
// for good (it is never drained), so every thread blocked in poll() on it
// wakes at once, and so does every thread that polls it later.
class DrainSignal {
public:
    DrainSignal() = default;
    DrainSignal(const DrainSignal&) = delete;
    DrainSignal& operator=(const DrainSignal&) = delete;

    void raise();
    bool raised() const { return raised_.load(std::memory_order_acquire); }
    int fd() const { return wake_fd_.fd(); }

private:
    WakeFd wake_fd_;
    std::atomic<bool> raised_{false};
};

// Serves the connection `fd` (blocking or not; each call passes MSG_DONTWAIT)
// on the calling thread until the peer is done, a limit or an error closes it,
// or `drain` is raised while no request is in progress. A request that is
// arriving when `drain` is raised gets to complete and is answered, with
// keep-alive off. The caller keeps ownership of `fd` and closes it afterwards.
// Counts bytes, requests, closes and errors in `stats`. If the connection's
// socket options cannot be set (prepare_accepted()), returns at once, having
// counted kSocketOption: the caller's close is then the only answer.
// A thread that also takes the process's signals (server-iterative's only
// thread) passes `signals`: they are handled (signals->dispatch()) while it
// waits on the connection, so a snapshot or SIGTERM does not wait for the
// client to leave.
void serve_blocking(int fd, const ServerOptions& options, const DrainSignal& drain,
                    ThreadStats& stats, ShutdownSignal* signals = nullptr);

// Blocks in accept() on a blocking `listen_fd` until a connection arrives, and
// returns it (non-blocking if asked), or returns an invalid fd once
// stop_accepting() shut the listener. Counts accepted connections and accept
// errors in `stats`; out of descriptors, it sleeps 100 ms and tries again
// (pause-and-retry: the reserve-fd trick is unsafe when other threads open
// descriptors too).
UniqueFd accept_blocking(int listen_fd, bool nonblocking, ThreadStats& stats);

// For an acceptor that also takes the process's signals (thread-per-conn's
// main thread), so they cost no thread of their own: like accept_blocking(),
// but `listen_fd` is non-blocking and the thread sleeps in poll() on it and on
// `signals` together. A signal is handled here, on this thread
// (signals.dispatch()), before the next connection is taken, even under a
// stream of connections; one whose on_signal calls stop_accepting() makes
// this return an invalid fd.
UniqueFd accept_or_signal(int listen_fd, ShutdownSignal& signals, ThreadStats& stats);

// Any thread. Wakes every thread blocked in accept() on `listen_fd`, now and
// later, with EINVAL; connections still in the backlog are reset. Linux only:
// elsewhere shutdown() on a listener fails with ENOTCONN and wakes nobody.
void stop_accepting(int listen_fd);

}  // namespace pb
