// Signal-driven graceful shutdown, and SIGUSR1 snapshots. Construct a
// ShutdownSignal first thing in main(), before any other thread exists: it
// blocks SIGINT, SIGTERM and SIGUSR1 in the calling thread, every thread
// started afterwards inherits that mask, and a dedicated thread waits for the
// signals with sigwait(). No code runs in signal context. On SIGUSR1 that
// thread calls write_snapshot() (stats.hpp) and waits again; on the first
// SIGINT or SIGTERM it runs `on_signal`, which should post the real work to
// the loops that must do it; a second one is ignored.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace pb {

class ShutdownSignal {
public:
    explicit ShutdownSignal(std::function<void()> on_signal);
    ~ShutdownSignal();  // joins the waiting thread; on_signal is not called then
    ShutdownSignal(const ShutdownSignal&) = delete;
    ShutdownSignal& operator=(const ShutdownSignal&) = delete;

    bool fired() const { return fired_.load(); }

private:
    std::function<void()> on_signal_;
    std::atomic<bool> fired_{false};
    std::atomic<bool> closing_{false};
    std::thread waiter_;
};

}  // namespace pb
