// One event loop per thread: fd callbacks, timers, and post() for other threads.
//
// Thread rules: an EventLoop is owned by the thread that calls run(). Every
// method must be called in that thread, except post() and stop(), which any
// thread may call; they wake the loop through an eventfd (a pipe on kqueue
// systems).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <vector>

#include "clock.hpp"
#include "poller.hpp"
#include "stats.hpp"
#include "wake_fd.hpp"

namespace pb {

class EventLoop {
public:
    using IoHandler = std::function<void(uint32_t mask)>;
    using Task = std::function<void()>;
    using TimerId = uint64_t;

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Registers `fd` for `mask` (kReadable/kWritable/kExclusive); the handler runs
    // in the loop with the ready mask. One handler per fd.
    void watch(int fd, uint32_t mask, IoHandler handler);
    // Changes the interest set of a watched fd (no-op when unchanged).
    void update(int fd, uint32_t mask);
    // Stops watching; call before closing the fd.
    void unwatch(int fd);
    uint32_t interest(int fd) const;

    TimerId run_after(Clock::duration delay, Task task);
    TimerId run_every(Clock::duration period, Task task);
    void cancel(TimerId id);

    // Runs until stop(). Returns after the current iteration finishes.
    void run();
    // Any thread. Makes run() return.
    void stop();
    // Any thread. Runs `task` in the loop thread on its next iteration. True
    // when this call wrote the wake fd (a system call, for the caller to count
    // as Syscall::kWakeup); false when a wake-up was already pending.
    bool post(Task task);

    // The loop's own system calls (epoll_wait, draining its wake fd) are
    // counted in `stats`, which must belong to the thread that runs the loop
    // and outlive it. Until then they go to a ThreadStats nobody reads.
    void count_syscalls_in(ThreadStats& stats) { stats_ = &stats; }

    // The time of the current iteration, read once per wake-up.
    Clock::time_point now() const { return now_; }
    uint64_t wakeups() const { return wakeups_; }

private:
    struct Timer {
        Clock::time_point when;
        TimerId id;
        Clock::duration period;  // zero: one-shot
        bool operator>(const Timer& o) const { return when > o.when; }
    };

    bool wake();
    void drain_wakeup();
    void run_posted();
    void run_timers();
    int next_timeout_ms() const;

    Poller poller_;
    std::vector<IoHandler> handlers_;  // indexed by fd, like redis ae's events[]
    std::vector<uint32_t> masks_;
    std::vector<IoHandler> retired_;  // unwatched this iteration; freed after it
    WakeFd wake_fd_;

    std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
    std::vector<std::pair<TimerId, Task>> timer_tasks_;  // small; linear lookup
    TimerId next_timer_id_ = 1;

    std::mutex posted_mutex_;
    std::vector<Task> posted_;
    std::atomic<bool> wake_pending_{false};
    std::atomic<bool> stopping_{false};

    Clock::time_point now_ = Clock::now();
    uint64_t wakeups_ = 0;
    ThreadStats unread_stats_;
    ThreadStats* stats_ = &unread_stats_;
};

}  // namespace pb
