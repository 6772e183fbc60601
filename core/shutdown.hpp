// Signal-driven graceful shutdown, and SIGUSR1 snapshots, taken inside a loop:
// no thread of their own, and no code in signal context. Construct a
// ShutdownSignal in main() before any other thread exists: SIGINT, SIGTERM
// and SIGUSR1 then reach the process only through its descriptor (SignalFd,
// signal_fd.hpp). On SIGUSR1 it calls write_snapshot() (stats.hpp); on the
// first SIGINT or SIGTERM it runs `on_signal`, which should post the real work
// to the loops that must do it; a later one is ignored. Both run on the thread
// that takes the signals: the loop given to the constructor, or the thread
// that polls fd() and calls dispatch().
//
// Thread rules: dispatch() runs on one thread, the signal-taking one. A
// signal that arrives while that thread is busy (a loop running a slow
// request) waits for it, as every other event of that loop does; once it has
// stopped, signals are no longer taken.
#pragma once

#include <functional>

#include "signal_fd.hpp"

namespace pb {

class EventLoop;

class ShutdownSignal {
public:
    // Takes the signals in `loop`: call in the thread that runs `loop`, or
    // before that thread starts. The loop must not run after this is gone.
    ShutdownSignal(EventLoop& loop, std::function<void()> on_signal);
    // For a thread with no loop (thread-per-conn's acceptor): it waits for
    // fd() to be readable itself and then calls dispatch().
    explicit ShutdownSignal(std::function<void()> on_signal);
    ShutdownSignal(const ShutdownSignal&) = delete;
    ShutdownSignal& operator=(const ShutdownSignal&) = delete;

    int fd() const { return signals_.fd(); }
    // Handles every signal waiting now; never blocks.
    void dispatch();
    bool fired() const { return fired_; }

private:
    SignalFd signals_;
    std::function<void()> on_signal_;
    bool fired_ = false;
};

}  // namespace pb
