// Signal-driven graceful shutdown. Construct a ShutdownSignal first thing in
// main(), before any other thread exists: it blocks SIGINT and SIGTERM in the
// calling thread, every thread started afterwards inherits that mask, and a
// dedicated thread waits for the signals with sigwait(). No code runs in signal
// context; `on_signal` runs on that thread, once, and should post the real work
// to the loops that must do it.
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
