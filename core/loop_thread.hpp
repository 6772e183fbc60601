// One event loop, the Reactor that serves on it, and the counters of the
// thread that runs it: what every event-loop pattern runs, once (single,
// worker-queue) or once per loop (multi-accept, reuseport, reactor-pool).
//
// Thread rules: `loop`, `stats` and `reactor` belong to the thread that runs
// the loop (run(), or the thread start() creates). post_adopt() and
// post_shutdown() may be called from any thread: they reach the loop through
// EventLoop::post(). start(), run() and join() are for the thread that owns
// this object (main()).
#pragma once

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "event_loop.hpp"
#include "options.hpp"
#include "reactor.hpp"
#include "stats.hpp"
#include "unique_fd.hpp"

namespace pb {

struct LoopThread {
    explicit LoopThread(const ServerOptions& options) : reactor(loop, options, stats) {}
    LoopThread(const LoopThread&) = delete;
    LoopThread& operator=(const LoopThread&) = delete;

    // Runs the loop on the calling thread until it stops.
    void run() { loop.run(); }
    // Runs the loop on a new thread of its own.
    void start();
    // Waits for the thread start() created, if there is one.
    void join();

    // Any thread. The loop adopts `fd` (Reactor::adopt(), which enforces
    // --max-connections); if the loop never runs the task, `fd` closes with it.
    // True when it woke the loop (EventLoop::post()): the caller's system call.
    bool post_adopt(UniqueFd fd);
    // Any thread. The Reactor drains (Reactor::begin_shutdown()); once it has,
    // `on_drained` runs, on the loop's thread, and the loop stops.
    void post_shutdown(std::function<void()> on_drained = {});

    EventLoop loop;
    ThreadStats stats;
    Reactor reactor;
    std::thread thread;  // empty while the loop runs on the thread that owns it
};

// Joins each loop's thread, where start() made one, and appends the loop's
// stats to `stats`, in order.
void join_loops(const std::vector<std::unique_ptr<LoopThread>>& loops,
                std::vector<ThreadStats>& stats);

}  // namespace pb
